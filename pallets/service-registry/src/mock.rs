//! A test runtime with a settable chain clock and small, test-adjustable bounds.

use crate as pallet_service_registry;
use frame_support::{
	derive_impl, parameter_types,
	traits::{ConstU32, Hooks, Time},
	weights::Weight,
};
use frame_system::{EnsureRoot, EnsureSigned};
use sp_runtime::BuildStorage;

type Block = frame_system::mocking::MockBlock<Test>;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		ServiceRegistry: pallet_service_registry,
	}
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
}

parameter_types! {
	/// The chain clock, in milliseconds: set by the tests.
	pub static Now: u64 = START_MS;
	pub static MaxInlineDeletes: u32 = 4;
	pub static MaxProbe: u32 = 64;
	pub static MaxTombstones: u32 = 4;
	pub static MaxTombstonesPerAccount: u32 = 4;
	pub static MaxLeaseEndsPerBlock: u32 = 64;
	pub static MaxCleanupPerBlock: u32 = 64;
	pub static HookWeightLimit: Weight = Weight::MAX;
	pub static MaxKeysPerLease: u32 = 64;
	pub static InitialQuota: pallet_service_registry::Quota =
		pallet_service_registry::Quota { leases: 1_000, instances: 1_000, keys: 100_000 };
}

/// Chain time at genesis in the tests.
pub const START_MS: u64 = 1_000_000;

/// The mock's clock: [`Now`].
pub struct MockClock;
impl Time for MockClock {
	type Moment = u64;
	fn now() -> u64 {
		Now::get()
	}
}

impl pallet_service_registry::Config for Test {
	type WriteOrigin = EnsureSigned<u64>;
	type Clock = MockClock;
	type WeightInfo = ();
	type MaxKeyLen = ConstU32<1024>;
	type MaxValueLen = ConstU32<65536>;
	type MaxTxnOps = ConstU32<128>;
	type MaxInlineDeletes = MaxInlineDeletes;
	type MaxProbe = MaxProbe;
	type MaxTombstones = MaxTombstones;
	type MaxTombstonesPerAccount = MaxTombstonesPerAccount;
	type MinLeaseTtl = ConstU32<1>;
	type MaxLeaseTtl = ConstU32<86_400>;
	type MaxKeysPerLease = MaxKeysPerLease;
	type MaxInstancesPerLease = ConstU32<4>;
	type MaxCandidaciesPerLease = ConstU32<4>;
	type MaxLeaseEndsPerBlock = MaxLeaseEndsPerBlock;
	type MaxCleanupPerBlock = MaxCleanupPerBlock;
	type HookWeightLimit = HookWeightLimit;
	type MaxNameLen = ConstU32<32>;
	type MaxEndpointLen = ConstU32<64>;
	type MaxTags = ConstU32<4>;
	type MaxTagLen = ConstU32<16>;
	type MaxMetadataEntries = ConstU32<4>;
	type MaxMetadataKeyLen = ConstU32<16>;
	type MaxMetadataValueLen = ConstU32<32>;
	type MaxCandidates = ConstU32<8>;
	type MaxElectionValueLen = ConstU32<32>;
	type QuotaOrigin = EnsureRoot<u64>;
	type InitialQuota = InitialQuota;
}

/// Fresh state at block 1, clock at [`START_MS`].
pub fn new_test_ext() -> sp_io::TestExternalities {
	let storage = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	let mut ext = sp_io::TestExternalities::new(storage);
	ext.execute_with(|| {
		Now::set(START_MS);
		System::set_block_number(1);
	});
	ext
}

/// Starts the next block `advance_ms` later and runs the pallet's `on_initialize`. Events of
/// earlier blocks are cleared. Returns the hook's weight.
pub fn next_block(advance_ms: u64) -> Weight {
	let n = System::block_number() + 1;
	Now::set(Now::get() + advance_ms);
	System::reset_events();
	System::set_block_number(n);
	ServiceRegistry::on_initialize(n)
}

/// The pallet's events since the block started.
pub fn events() -> Vec<pallet_service_registry::Event<Test>> {
	System::events()
		.into_iter()
		.filter_map(|record| match record.event {
			RuntimeEvent::ServiceRegistry(event) => Some(event),
			_ => None,
		})
		.collect()
}
