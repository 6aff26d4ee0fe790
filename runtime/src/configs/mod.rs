//! The configuration of each pallet, and the limits derived from the block time.

use frame_support::{
	derive_impl, parameter_types,
	traits::{ConstBool, ConstU128, ConstU32, ConstU64, EitherOfDiverse, VariantCountOf},
	weights::{
		constants::{ParityDbWeight, WEIGHT_REF_TIME_PER_MILLIS},
		Weight,
	},
};
use frame_system::{EnsureRoot, EnsureSignedBy};
use sp_core::Void;
use sp_runtime::{traits::OpaqueKeys, Perbill};

use super::{
	permissions::{CallFilter, NodeAuthorizationWeights, OrchestratorsChanged},
	AccountId, Aura, Balance, Balances, Block, BlockNumber, Hash, Nonce, Orchestrators,
	OriginCaller, PalletInfo, Runtime, RuntimeCall, RuntimeEvent, RuntimeFreezeReason,
	RuntimeHoldReason, RuntimeOrigin, RuntimeTask, SessionKeys, System, ValidatorSet,
	MILLISECS_PER_BLOCK, MINUTES, SESSION_PERIOD, SLOT_DURATION, VERSION,
};

/// Share of a block's weight and length that normal (non-operational) extrinsics may use.
const NORMAL_DISPATCH_RATIO: Perbill = Perbill::from_percent(75);

/// The most computation a block may hold: half of the block time.
///
/// The author proposes during the first two thirds of its slot; every other validator must then
/// import the block and vote within the same slot for finality to keep up. Half a slot of
/// reference-hardware execution leaves room for both.
pub const MAXIMUM_BLOCK_WEIGHT: Weight = Weight::from_parts(
	WEIGHT_REF_TIME_PER_MILLIS.saturating_mul(MILLISECS_PER_BLOCK / 2),
	u64::MAX,
);

/// The most computation an operational extrinsic may use: a whole slot.
///
/// A runtime upgrade (`system.applyAuthorizedUpgrade`, `system.setCode`) is charged about
/// 167 ms of reference time by FRAME's benchmarks, more than [`MAXIMUM_BLOCK_WEIGHT`]: with that
/// as the limit of every class, no runtime could ever be upgraded. Operational calls (upgrades
/// and governance's other rare root calls) may fill the slot; the block that holds one is
/// imported late, and finality catches up a slot or two later.
pub const MAXIMUM_OPERATIONAL_WEIGHT: Weight =
	Weight::from_parts(WEIGHT_REF_TIME_PER_MILLIS.saturating_mul(MILLISECS_PER_BLOCK), u64::MAX);

/// The largest block, in bytes.
pub const MAXIMUM_BLOCK_LENGTH: u32 = 5 * 1024 * 1024;

parameter_types! {
	/// Ten minutes of block hashes: the longest mortality a transaction may ask for.
	pub const BlockHashCount: BlockNumber = 10 * MINUTES;
	pub const Version: sp_version::RuntimeVersion = VERSION;
	/// FRAME's sensible defaults, except that operational extrinsics may use a whole slot
	/// ([`MAXIMUM_OPERATIONAL_WEIGHT`]): normal extrinsics get `NORMAL_DISPATCH_RATIO` of
	/// [`MAXIMUM_BLOCK_WEIGHT`], and block initialization is expected to take a tenth of it.
	pub RuntimeBlockWeights: frame_system::limits::BlockWeights =
		frame_system::limits::BlockWeights::builder()
			.for_class(frame_support::dispatch::DispatchClass::Normal, |weights| {
				weights.max_total = Some(NORMAL_DISPATCH_RATIO * MAXIMUM_BLOCK_WEIGHT);
			})
			.for_class(frame_support::dispatch::DispatchClass::Operational, |weights| {
				weights.max_total = Some(MAXIMUM_OPERATIONAL_WEIGHT);
				weights.reserved =
					Some(MAXIMUM_OPERATIONAL_WEIGHT - NORMAL_DISPATCH_RATIO * MAXIMUM_BLOCK_WEIGHT);
			})
			// Of the largest block, the operational one: a tenth of `MAXIMUM_BLOCK_WEIGHT`.
			.avg_block_initialization(Perbill::from_rational(
				MAXIMUM_BLOCK_WEIGHT.ref_time() / 10,
				MAXIMUM_OPERATIONAL_WEIGHT.ref_time(),
			))
			.build()
			.expect("normal and operational limits are consistent; qed");
	pub RuntimeBlockLength: frame_system::limits::BlockLength =
		frame_system::limits::BlockLength::builder()
			.max_length(MAXIMUM_BLOCK_LENGTH)
			.modify_max_length_for_class(frame_support::dispatch::DispatchClass::Normal, |max| {
				*max = NORMAL_DISPATCH_RATIO * *max
			})
			.build();
	/// The generic Substrate address format.
	pub const SS58Prefix: u8 = 42;
}

#[derive_impl(frame_system::config_preludes::SolochainDefaultConfig)]
impl frame_system::Config for Runtime {
	type Block = Block;
	type BlockWeights = RuntimeBlockWeights;
	type BlockLength = RuntimeBlockLength;
	type AccountId = AccountId;
	type Nonce = Nonce;
	type Hash = Hash;
	type BlockHashCount = BlockHashCount;
	/// The node stores state in ParityDb.
	type DbWeight = ParityDbWeight;
	type Version = Version;
	type AccountData = pallet_balances::AccountData<Balance>;
	type SS58Prefix = SS58Prefix;
	type MaxConsumers = ConstU32<16>;
	/// Refuses `changeKey` and `claimNode`, and bounds `addConnections`: see [`CallFilter`].
	type BaseCallFilter = CallFilter;
}

impl pallet_timestamp::Config for Runtime {
	/// Milliseconds since the Unix epoch.
	type Moment = u64;
	type OnTimestampSet = Aura;
	/// Aura's slot duration is twice this value.
	type MinimumPeriod = ConstU64<{ SLOT_DURATION / 2 }>;
	type WeightInfo = ();
}

impl pallet_aura::Config for Runtime {
	type AuthorityId = sp_consensus_aura::sr25519::AuthorityId;
	type DisabledValidators = ();
	type MaxAuthorities = MaxValidators;
	type AllowMultipleBlocksPerSlot = ConstBool<false>;
	type SlotDuration = pallet_aura::MinimumPeriodTimesTwo<Runtime>;
}

impl pallet_grandpa::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type WeightInfo = ();
	type MaxAuthorities = MaxValidators;
	type MaxNominators = ConstU32<0>;
	type MaxSetIdSessionEntries = ConstU64<0>;
	type KeyOwnerProof = Void;
	type EquivocationReportSystem = ();
}

impl pallet_balances::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type RuntimeHoldReason = RuntimeHoldReason;
	type RuntimeFreezeReason = RuntimeFreezeReason;
	type WeightInfo = pallet_balances::weights::SubstrateWeight<Runtime>;
	type Balance = Balance;
	type DustRemoval = ();
	type ExistentialDeposit = ConstU128<1>;
	type AccountStore = System;
	type ReserveIdentifier = [u8; 8];
	type FreezeIdentifier = RuntimeFreezeReason;
	type MaxLocks = ConstU32<50>;
	type MaxReserves = ();
	type MaxFreezes = VariantCountOf<RuntimeFreezeReason>;
	type DoneSlashHandler = ();
}

impl pallet_sudo::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type RuntimeCall = RuntimeCall;
	type WeightInfo = pallet_sudo::weights::SubstrateWeight<Runtime>;
}

/// Batches: the etcd API submits the writes of concurrent clients as one `force_batch`, each
/// write in its own storage transaction with its own events (see `regchain_client::batch`).
/// Every call in a batch is dispatched with the batch's origin, so the registry's membership
/// and quota checks apply to each one as if it had been submitted alone.
impl pallet_utility::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type RuntimeCall = RuntimeCall;
	type PalletsOrigin = OriginCaller;
	type WeightInfo = pallet_utility::weights::SubstrateWeight<Runtime>;
}

/// The most validators (and Aura and GRANDPA authorities) the chain supports.
pub type MaxValidators = ConstU32<32>;

/// The orchestrators' collective, the chain's governance.
pub type CouncilCollective = pallet_collective::Instance1;

/// Governance: more than half of the orchestrators' collective (3 of 4, 3 of 5), or root.
///
/// Root itself exists only where a sudo key does, which is the `development` preset alone;
/// elsewhere a two-thirds motion reaches it through [`SupermajorityGovernance`]. The threshold
/// is a type: `EnsureProportionMoreThan<_, _, 2, 3>` would require more than two thirds.
pub type Governance = EitherOfDiverse<
	EnsureRoot<AccountId>,
	pallet_collective::EnsureProportionMoreThan<AccountId, CouncilCollective, 1, 2>,
>;

/// Root's door (`Supermajority::dispatch_as_root`): at least two thirds of the collective (3 of
/// 4, 4 of 5, 5 of 7), or root itself. Byzantine members (fewer than a third) never reach it
/// alone; runtime upgrades and other root-only calls go through it.
pub type SupermajorityGovernance = EitherOfDiverse<
	EnsureRoot<AccountId>,
	pallet_collective::EnsureProportionAtLeast<AccountId, CouncilCollective, 2, 3>,
>;

impl pallet_supermajority::Config for Runtime {
	type RuntimeCall = RuntimeCall;
	type SupermajorityOrigin = SupermajorityGovernance;
}

impl pallet_membership::Config<pallet_membership::Instance1> for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type AddOrigin = Governance;
	type RemoveOrigin = Governance;
	type SwapOrigin = Governance;
	type ResetOrigin = Governance;
	type PrimeOrigin = Governance;
	type MembershipInitialized = OrchestratorsChanged;
	type MembershipChanged = OrchestratorsChanged;
	type MaxMembers = ConstU32<MAX_COLLECTIVE_MEMBERS>;
	type WeightInfo = pallet_membership::weights::SubstrateWeight<Runtime>;
}

parameter_types! {
	/// A proposal may use at most half of a block.
	pub MaxProposalWeight: Weight = Perbill::from_percent(50) * MAXIMUM_BLOCK_WEIGHT;
}

/// A member who has not voted when a motion is closed counts as a nay, whoever the prime is.
///
/// pallet-collective's `PrimeDefaultVote` counts silent members as the prime voted: a prime and
/// a bare majority of ayes would then reach two thirds (root, `SupermajorityGovernance`) while
/// honest members stay silent. Here a motion passes only on ayes cast.
pub struct AbstentionIsNay;
impl pallet_collective::DefaultVote for AbstentionIsNay {
	fn default_vote(_prime_vote: Option<bool>, _yes: u32, _no: u32, _len: u32) -> bool {
		false
	}
}

/// The collective's bound on motions open at once.
pub const MAX_PROPOSALS: u32 = 100;
/// The collective's bound on members (the orchestrators' too).
pub const MAX_COLLECTIVE_MEMBERS: u32 = 64;
/// Motions one member may hold open at once (`pallet_supermajority::OpenMotion`).
pub const MAX_OPEN_MOTIONS_PER_MEMBER: u32 = 4;
// The largest Byzantine minority (fewer than a third of the members) cannot fill the
// collective: honest members always have room to propose, the removal of the liars included.
const _: () =
	assert!((MAX_COLLECTIVE_MEMBERS - 1) / 3 * MAX_OPEN_MOTIONS_PER_MEMBER < MAX_PROPOSALS);

impl pallet_collective::Config<CouncilCollective> for Runtime {
	type RuntimeOrigin = RuntimeOrigin;
	type Proposal = RuntimeCall;
	type RuntimeEvent = RuntimeEvent;
	/// A motion stays open for five minutes.
	type MotionDuration = ConstU32<{ 5 * MINUTES }>;
	type MaxProposals = ConstU32<MAX_PROPOSALS>;
	type MaxMembers = ConstU32<MAX_COLLECTIVE_MEMBERS>;
	type DefaultVote = AbstentionIsNay;
	type WeightInfo = pallet_collective::weights::SubstrateWeight<Runtime>;
	/// Members come from the `Orchestrators` membership; only root may set them directly.
	type SetMembersOrigin = EnsureRoot<AccountId>;
	type MaxProposalWeight = MaxProposalWeight;
	/// Governance may refuse a motion at once (`disapproveProposal`) or remove it
	/// (`kill`): root alone exists only in `--dev`.
	type DisapproveOrigin = Governance;
	type KillOrigin = Governance;
	/// At most [`MAX_OPEN_MOTIONS_PER_MEMBER`] open motions per member, each released by
	/// `releaseProposalCost` once closed.
	type Consideration =
		pallet_supermajority::OpenMotion<Runtime, ConstU32<MAX_OPEN_MOTIONS_PER_MEMBER>>;
}

/// The validators of the running session, for the validator set to tell whether it changed.
pub struct SessionValidators;
impl frame_support::traits::Get<alloc::vec::Vec<AccountId>> for SessionValidators {
	fn get() -> alloc::vec::Vec<AccountId> {
		pallet_session::Validators::<Runtime>::get()
	}
}

/// The accounts that registered session keys.
pub struct HasSessionKeys;
impl frame_support::traits::Contains<AccountId> for HasSessionKeys {
	fn contains(who: &AccountId) -> bool {
		pallet_session::NextKeys::<Runtime>::contains_key(who)
	}
}

impl pallet_validator_set::Config for Runtime {
	type GovernanceOrigin = Governance;
	type MaxValidators = MaxValidators;
	type SessionValidators = SessionValidators;
	type HasSessionKeys = HasSessionKeys;
}

parameter_types! {
	pub const SessionPeriod: BlockNumber = SESSION_PERIOD;
	pub const SessionOffset: BlockNumber = 0;
}

impl pallet_session::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type ValidatorId = AccountId;
	/// Any account may register session keys; only those in the validator set are used.
	type ValidatorIdOf = sp_runtime::traits::ConvertInto;
	/// A session ends at a period boundary only while a validator or key change is under way:
	/// pallet-session reserves a rotating block's whole weight, so periodic sessions left one
	/// block in every period without transactions.
	type ShouldEndSession =
		pallet_validator_set::RotateOnChange<Runtime, SessionPeriod, SessionOffset>;
	type NextSessionRotation =
		pallet_validator_set::RotateOnChange<Runtime, SessionPeriod, SessionOffset>;
	type SessionManager = ValidatorSet;
	type SessionHandler = <SessionKeys as OpaqueKeys>::KeyTypeIdProviders;
	type Keys = SessionKeys;
	type DisablingStrategy = ();
	type WeightInfo = pallet_session::weights::SubstrateWeight<Runtime>;
	type Currency = Balances;
	/// No deposit: validators do not manage tokens.
	type KeyDeposit = ConstU128<0>;
}

impl pallet_node_authorization::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type MaxWellKnownNodes = ConstU32<64>;
	type MaxPeerIdLength = ConstU32<128>;
	type AddOrigin = Governance;
	type RemoveOrigin = Governance;
	type SwapOrigin = Governance;
	type ResetOrigin = Governance;
	type WeightInfo = NodeAuthorizationWeights;
}

parameter_types! {
	/// The most weight the registry's `on_initialize` spends per block (expiring leases,
	/// reclaiming deleted keys): a fifth of the block. `on_idle` continues with what is left.
	pub ServiceRegistryHookWeight: Weight = Perbill::from_percent(20) * MAXIMUM_BLOCK_WEIGHT;
	/// Each orchestrator's default holdings until governance changes it: plenty for a node's
	/// own instances and elections, far from what it takes to fill the validators' disks
	/// (10,000 keys of at most 64 KiB: 640 MiB). The account behind an etcd gateway needs an
	/// override.
	pub const InitialRegistryQuota: pallet_service_registry::Quota =
		pallet_service_registry::Quota { leases: 1_000, instances: 1_000, keys: 10_000 };
}

/// Chain time for the registry, in milliseconds: Aura's current slot times the slot duration.
///
/// It is the current block's time already in `on_initialize` (pallet-timestamp's `Now` is still
/// the parent's there), and skipped slots advance it, so a validator being down never stretches
/// a lease.
pub struct SlotClock;

impl frame_support::traits::Time for SlotClock {
	type Moment = u64;

	fn now() -> u64 {
		u64::from(pallet_aura::CurrentSlot::<Runtime>::get()).saturating_mul(SLOT_DURATION)
	}
}

impl pallet_service_registry::Config for Runtime {
	/// Only orchestrators (members of `Orchestrators`) write to the registry.
	type WriteOrigin = EnsureSignedBy<Orchestrators, AccountId>;
	type Clock = SlotClock;
	type WeightInfo = pallet_service_registry::weights::SubstrateWeight<Runtime>;
	/// etcd's limits: 1 KiB keys (etcd allows more, Kubernetes uses far less), values up to
	/// 64 KiB, 128 operations per txn. Larger objects (some Kubernetes objects reach 1.5 MiB)
	/// do not fit.
	type MaxKeyLen = ConstU32<1024>;
	type MaxValueLen = ConstU32<{ 64 * 1024 }>;
	type MaxTxnOps = ConstU32<128>;
	type MaxInlineDeletes = ConstU32<64>;
	type MaxProbe = ConstU32<128>;
	type MaxTombstones = ConstU32<16>;
	/// A quarter of them: one member never holds every slot.
	type MaxTombstonesPerAccount = ConstU32<4>;
	/// TTLs in whole seconds, as in etcd: from 2 s to 30 days.
	type MinLeaseTtl = ConstU32<2>;
	type MaxLeaseTtl = ConstU32<{ 30 * 24 * 3600 }>;
	type MaxKeysPerLease = ConstU32<1000>;
	type MaxInstancesPerLease = ConstU32<64>;
	type MaxCandidaciesPerLease = ConstU32<8>;
	type MaxLeaseEndsPerBlock = ConstU32<64>;
	type MaxCleanupPerBlock = ConstU32<256>;
	type HookWeightLimit = ServiceRegistryHookWeight;
	type MaxNameLen = ConstU32<128>;
	type MaxEndpointLen = ConstU32<256>;
	type MaxTags = ConstU32<16>;
	type MaxTagLen = ConstU32<64>;
	type MaxMetadataEntries = ConstU32<16>;
	type MaxMetadataKeyLen = ConstU32<64>;
	type MaxMetadataValueLen = ConstU32<256>;
	type MaxCandidates = ConstU32<32>;
	type MaxElectionValueLen = ConstU32<256>;
	/// Governance (the orchestrators' collective, or root) sets quotas.
	type QuotaOrigin = Governance;
	type InitialQuota = InitialRegistryQuota;
}
