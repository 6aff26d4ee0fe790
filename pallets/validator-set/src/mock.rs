//! A test runtime: frame-system and the validator set, governed by root.

use crate as pallet_validator_set;
use frame_support::{derive_impl, traits::ConstU32};
use sp_runtime::BuildStorage;

type Block = frame_system::mocking::MockBlock<Test>;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		ValidatorSet: pallet_validator_set,
	}
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
}

frame_support::parameter_types! {
	/// The validators of the running session, as pallet-session would hold them.
	pub static SessionValidators: Vec<u64> = vec![];
	/// The accounts that have not registered session keys.
	pub static Keyless: Vec<u64> = vec![];
}

/// Every account but those in [`Keyless`] has session keys.
pub struct HasSessionKeys;
impl frame_support::traits::Contains<u64> for HasSessionKeys {
	fn contains(who: &u64) -> bool {
		!Keyless::get().contains(who)
	}
}

impl pallet_validator_set::Config for Test {
	type GovernanceOrigin = frame_system::EnsureRoot<u64>;
	type MaxValidators = ConstU32<4>;
	type SessionValidators = SessionValidators;
	type HasSessionKeys = HasSessionKeys;
}

/// Externalities with validators 1, 2 and 3.
pub fn new_test_ext() -> sp_io::TestExternalities {
	let mut storage = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	pallet_validator_set::GenesisConfig::<Test> { validators: vec![1, 2, 3], min_validators: 2 }
		.assimilate_storage(&mut storage)
		.unwrap();
	let mut ext = sp_io::TestExternalities::new(storage);
	ext.execute_with(|| System::set_block_number(1));
	ext
}
