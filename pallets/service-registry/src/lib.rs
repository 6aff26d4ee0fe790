//! # Service registry pallet
//!
//! regchain's registry: what orchestrators keep in etcd, kept as chain state that every
//! validator re-executes. Every change is signed, attributable and ordered by one global
//! revision.
//!
//! ## Overview
//!
//! Four concepts, one module each:
//!
//! - **Leases** ([`leases`]): `grant_lease(ttl)` creates a lease with a sequential id and a time to
//!   live in whole seconds (raised to `MinLeaseTtl`, at most `MaxLeaseTtl`). `keep_alive` sets its
//!   expiry to now + ttl; `revoke_lease` ends it. As in etcd, any writer may keep a lease alive or
//!   revoke it; events record who did. Time is chain time ([`Config::Clock`], milliseconds of the
//!   current block, e.g. Aura's slot × slot duration), so skipped slots do not stretch a lease.
//!   Expiry is enforced by `on_initialize` from an index ordered by expiry time: a block's cost is
//!   proportional to the leases that end in it, bounded by `MaxLeaseEndsPerBlock` and
//!   `HookWeightLimit`. The rest end in the next blocks (and in `on_idle`), and until then every
//!   read and write already treats them, and everything attached to them, as gone.
//! - **Service instances** ([`instances`]): `register_instance`, `update_instance`,
//!   `deregister_instance` and `report_health`, typed so that polkadot.js shows them decoded. An
//!   instance hangs on a lease, only its registering account changes it, and it disappears with
//!   its lease.
//! - **Leader elections** ([`elections`]): `campaign(election, value, lease)` joins a queue whose
//!   first live candidate leads; `proclaim` changes the leader's value; `resign` leaves. Each change
//!   of leader increments the election's `term`, a fencing token. A leader whose lease ends loses
//!   at once and the next candidate takes over (`LeaderChanged`).
//! - **Key space** ([`keyspace`]): etcd's data model. `put(key, value, lease)`,
//!   `delete_range(key, range_end)` and `txn(compares, success, failure)`. Keys are at most
//!   `MaxKeyLen` (1 KiB), values at most `MaxValueLen` (64 KiB), txns at most `MaxTxnOps` (128)
//!   operations per list. **Objects larger than `MaxValueLen` do not fit** (some Kubernetes
//!   objects reach 1.5 MiB); a value too large is refused with `ValueTooLong`, never truncated.
//!   Each key carries `create_revision`, `mod_revision`, `version` and `lease` with etcd's meaning.
//!   Keys are stored under an order-preserving encoding ([`types::OrderedKey`]), so a prefix or a
//!   `[key, range_end)` range is read by seeking, never by scanning the map. A `delete_range`
//!   larger than `MaxInlineDeletes` keys records a range tombstone at its revision; every read
//!   and write honours it at once and the hooks reclaim the storage in later blocks.
//!
//! Reads go through the runtime API (`pallet-service-registry-runtime-api`), implemented by the
//! `Pallet` functions in the "runtime API" section: a key range with limit, count and revision
//! filters, a lease's remaining time and attachments, a service's live instances, an election's
//! leader and term.
//!
//! ## Who may write
//!
//! Every call is authorised by [`Config::WriteOrigin`], whose success value is the writing
//! account. The regchain runtime admits the members of its `Orchestrators` set only.
//!
//! ## Quotas
//!
//! Each account may hold at most its [`Quota`] of leases, instances and keys ([`quotas`]):
//! [`DefaultQuota`] (from [`Config::InitialQuota`] until [`Config::QuotaOrigin`] sets it with
//! `set_default_quota`) unless `set_account_quota` gave it an override. A call that would exceed
//! it fails with `LeaseQuotaExceeded`, `InstanceQuotaExceeded` or `KeyQuotaExceeded` and
//! changes nothing. Lowering a quota removes nothing: the account only cannot add more.
//!
//! ## Guarantees
//!
//! - Every call checks before it writes: a failed call changes nothing. Each distinct failure has
//!   its own error (`LeaseNotFound`, `LeaseExpired`, `NotOwner`, `InstanceAlreadyRegistered`...).
//! - No panics, no unchecked arithmetic in runtime code. Every stored item is bounded.
//! - Per-block hook work is bounded in count and weight.
//! - A lease, instance, candidacy or key is *live* only while its lease exists and has not
//!   expired by the current block's time; readers never see anything past its lease's expiry.
//!
//! ## The event / revision contract (for the node's watch indexer)
//!
//! The key space has one global revision ([`CurrentRevision`]), 1 on a fresh chain as in etcd.
//! Every write that changes at least one key takes the next revision; several writes in one
//! block each take their own, in event order. Exactly these events carry revisions:
//!
//! - `KeyPut { revision, key, value, lease, who }`: one per put (alone or in a txn). The value is
//!   in the event, so a watcher can rebuild every revision even when a block writes a key twice
//!   (reading the state at the block would only give the last value).
//! - `KeysDeleted { revision, key, range_end, who }`: every key of `[key, range_end)` (etcd's
//!   conventions: empty `range_end` = the single key, `[0]` = every key from `key`) that existed
//!   just before this event was deleted at `revision`. The indexer expands it from the parent
//!   block's state plus the block's earlier events. Keys whose lease has expired but not yet been
//!   swept count as existing here (they are deleted by this event, not by their `LeaseEnded`).
//! - `LeaseEnded { lease, reason, revision: Some(r), who }`: every key attached to the lease just
//!   before this event (and not deleted by a range delete) was deleted at `r`. With
//!   `revision: None`, no key was attached and the revision did not move.
//! - `TxnApplied { revision, succeeded, wrote, who }` ends a txn. The txn's `KeyPut` and
//!   `KeysDeleted` events, all with the same `revision`, come before it. `succeeded` tells which
//!   branch ran (a failed compare runs the failure branch; it is not an error). With
//!   `wrote: false`, no key changed and `revision` is the unchanged current revision.
//!
//! A put, a txn that writes and a delete or lease end that deletes at least one key each move
//! the revision by exactly one. A read-only txn, a txn whose branch writes nothing and a delete
//! matching no key leave it unchanged, as in etcd. Two documented corner cases take a revision
//! whose expansion is empty: a `delete_range` whose first `MaxInlineDeletes + MaxProbe` stored
//! records are all already deleted (not yet reclaimed), and a lease end whose first `MaxProbe`
//! attached keys were all deleted by a range delete not yet reclaimed.
//!
//! A sweep backlog (more leases expiring at one instant than `on_initialize` may end) opens a
//! short window in which a key whose lease has expired is invisible to reads and compares but
//! not yet deleted by a `LeaseEnded`. A put to such a key in that window creates it anew
//! (version 1, no delete event before it) and detaches it, so the later `LeaseEnded` no longer
//! covers it. Without a backlog, expired leases end in `on_initialize`, before any extrinsic.
//!
//! Typed-registry events (`InstanceRegistered`, `LeaderChanged`, ...) carry no revision: the
//! revision counts key-space writes only, as etcd's does.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use keyspace::prefix_end;
pub use pallet::*;
pub use types::*;
pub use weights::WeightInfo;

pub mod elections;
pub mod instances;
pub mod keyspace;
pub mod leases;
pub mod migrations;
pub mod quotas;
pub mod types;
pub mod weights;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;

/// The log target of this pallet.
pub const LOG_TARGET: &str = "runtime::service-registry";

/// The prefix of keys that cannot be written (`Error::ReservedKey`): the etcd API shows the
/// typed registry (services, instances, elections) under it, read-only.
pub const RESERVED_PREFIX: &[u8] = b"/_registry/";

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use alloc::vec::Vec;
	use frame_support::{
		pallet_prelude::*,
		traits::{EnsureOrigin, Time},
	};
	use frame_system::pallet_prelude::*;

	/// The in-code storage version.
	const STORAGE_VERSION: StorageVersion = StorageVersion::new(1);

	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config: frame_system::Config<RuntimeEvent: From<Event<Self>>> {
		/// Who may write, and the account a write is attributed to.
		type WriteOrigin: EnsureOrigin<Self::RuntimeOrigin, Success = Self::AccountId>;

		/// Chain time of the current block, in milliseconds. It must already be the current
		/// block's time during `on_initialize` (Aura's slot × slot duration is; the timestamp
		/// inherent is not).
		type Clock: Time<Moment = u64>;

		/// Weights of the calls and hooks.
		type WeightInfo: WeightInfo;

		/// Longest key, in bytes (etcd: 1.5 MiB request limit; we keep keys to 1 KiB).
		#[pallet::constant]
		type MaxKeyLen: Get<u32>;

		/// Longest value, in bytes. Larger objects do not fit.
		#[pallet::constant]
		type MaxValueLen: Get<u32>;

		/// Most compares, and most operations in each branch, of one txn (etcd: 128).
		#[pallet::constant]
		type MaxTxnOps: Get<u32>;

		/// Most keys one call deletes at once; a range delete with more keys records a range
		/// tombstone instead.
		#[pallet::constant]
		type MaxInlineDeletes: Get<u32>;

		/// Most already-deleted stored records one call or lease end steps over to find out
		/// whether a range or a lease still has a live key.
		#[pallet::constant]
		type MaxProbe: Get<u32>;

		/// Most range tombstones awaiting reclamation at once.
		#[pallet::constant]
		type MaxTombstones: Get<u32>;

		/// Most of them one account's deletes may hold, so that one member cannot keep every
		/// other from deleting large ranges. At most `MaxTombstones`.
		#[pallet::constant]
		type MaxTombstonesPerAccount: Get<u32>;

		/// Shortest lease time to live, in seconds; shorter requests are raised to it (as etcd).
		#[pallet::constant]
		type MinLeaseTtl: Get<u32>;

		/// Longest lease time to live, in seconds.
		#[pallet::constant]
		type MaxLeaseTtl: Get<u32>;

		/// Most keys attached to one lease.
		#[pallet::constant]
		type MaxKeysPerLease: Get<u32>;

		/// Most service instances attached to one lease.
		#[pallet::constant]
		type MaxInstancesPerLease: Get<u32>;

		/// Most election candidacies attached to one lease.
		#[pallet::constant]
		type MaxCandidaciesPerLease: Get<u32>;

		/// Most leases `on_initialize` ends in one block.
		#[pallet::constant]
		type MaxLeaseEndsPerBlock: Get<u32>;

		/// Most stored records (keys of ended leases, keys under range tombstones) the hooks
		/// remove in one block, in `on_initialize` and again in `on_idle`.
		#[pallet::constant]
		type MaxCleanupPerBlock: Get<u32>;

		/// Most weight `on_initialize` spends on this pallet in one block.
		#[pallet::constant]
		type HookWeightLimit: Get<Weight>;

		/// Longest service, instance or election name, in bytes.
		#[pallet::constant]
		type MaxNameLen: Get<u32>;

		/// Longest instance endpoint, in bytes.
		#[pallet::constant]
		type MaxEndpointLen: Get<u32>;

		/// Most tags on one instance.
		#[pallet::constant]
		type MaxTags: Get<u32>;

		/// Longest tag, in bytes.
		#[pallet::constant]
		type MaxTagLen: Get<u32>;

		/// Most metadata entries on one instance.
		#[pallet::constant]
		type MaxMetadataEntries: Get<u32>;

		/// Longest metadata key, in bytes.
		#[pallet::constant]
		type MaxMetadataKeyLen: Get<u32>;

		/// Longest metadata value, in bytes.
		#[pallet::constant]
		type MaxMetadataValueLen: Get<u32>;

		/// Most candidates queued in one election.
		#[pallet::constant]
		type MaxCandidates: Get<u32>;

		/// Longest value a candidate proclaims, in bytes.
		#[pallet::constant]
		type MaxElectionValueLen: Get<u32>;

		/// Who sets quotas: the default and per-account overrides.
		type QuotaOrigin: EnsureOrigin<Self::RuntimeOrigin>;

		/// The default quota until governance sets one.
		#[pallet::constant]
		type InitialQuota: Get<Quota>;
	}

	/// The initial key-space revision.
	#[pallet::type_value]
	pub fn InitialRevision() -> Revision {
		INITIAL_REVISION
	}

	/// The first lease id.
	#[pallet::type_value]
	pub fn FirstLeaseId() -> LeaseId {
		1
	}

	/// A key of the expiry index: (expiry in chain milliseconds, lease id), both big-endian, so
	/// that the index iterates in time order.
	pub type ExpiryKey = ([u8; 8], [u8; 8]);

	/// The key space's current revision: 1 on a fresh chain, +1 per write that changes a key.
	#[pallet::storage]
	pub type CurrentRevision<T> = StorageValue<_, Revision, ValueQuery, InitialRevision>;

	/// The key space: records by key, in byte order of the raw key. Read the raw key from the
	/// record; the map key is its order-preserving encoding.
	#[pallet::storage]
	pub type KeyValues<T: Config> =
		StorageMap<_, Identity, OrderedKeyOf<T>, KeyValueOf<T>, OptionQuery>;

	/// Range deletes whose storage is still being reclaimed. Keys they cover with an older
	/// `mod_revision` are deleted already.
	#[pallet::storage]
	pub type RangeTombstones<T: Config> =
		StorageValue<_, BoundedVec<RangeTombstoneOf<T>, T::MaxTombstones>, ValueQuery>;

	/// The id the next granted lease gets.
	#[pallet::storage]
	pub type NextLeaseId<T> = StorageValue<_, LeaseId, ValueQuery, FirstLeaseId>;

	/// Leases that have not ended, by id. One past its expiry awaits the sweep and is no longer
	/// live.
	#[pallet::storage]
	pub type Leases<T: Config> = StorageMap<_, Twox64Concat, LeaseId, LeaseOf<T>, OptionQuery>;

	/// The expiry index: one entry per lease in `Leases`, in expiry-time order.
	#[pallet::storage]
	pub type LeaseExpiries<T> = StorageMap<_, Identity, ExpiryKey, (), OptionQuery>;

	/// Ended leases whose attached keys are still being removed from storage.
	#[pallet::storage]
	pub type EndedLeases<T> = StorageMap<_, Twox64Concat, LeaseId, EndedLease, OptionQuery>;

	/// Keys attached to each lease, in key order.
	#[pallet::storage]
	pub type LeaseKeys<T: Config> =
		StorageDoubleMap<_, Twox64Concat, LeaseId, Identity, OrderedKeyOf<T>, (), OptionQuery>;

	/// Service instances attached to each lease, as (service, instance id).
	#[pallet::storage]
	pub type LeaseInstances<T: Config> = StorageDoubleMap<
		_,
		Twox64Concat,
		LeaseId,
		Blake2_128Concat,
		(Name<T>, Name<T>),
		(),
		OptionQuery,
	>;

	/// Election candidacies attached to each lease, as (election, candidate).
	#[pallet::storage]
	pub type LeaseCandidacies<T: Config> = StorageDoubleMap<
		_,
		Twox64Concat,
		LeaseId,
		Blake2_128Concat,
		(Name<T>, T::AccountId),
		(),
		OptionQuery,
	>;

	/// Registered service instances, by service then instance id.
	#[pallet::storage]
	pub type Instances<T: Config> = StorageDoubleMap<
		_,
		Blake2_128Concat,
		Name<T>,
		Blake2_128Concat,
		Name<T>,
		Instance<T>,
		OptionQuery,
	>;

	/// Number of stored instances of each service (including ones whose lease has just
	/// expired and awaits the sweep); lists the services.
	#[pallet::storage]
	pub type Services<T: Config> = StorageMap<_, Blake2_128Concat, Name<T>, u32, ValueQuery>;

	/// Elections with candidates, by name: the candidate queue and the term. An election whose
	/// queue empties is removed (see [`TermFloor`]).
	#[pallet::storage]
	pub type Elections<T: Config> =
		StorageMap<_, Blake2_128Concat, Name<T>, Election<T>, OptionQuery>;

	/// The lowest term an election may take at its next change of leader: one above the last
	/// term of every removed election, so that a name used again never repeats a term (a
	/// fencing token) it had before.
	#[pallet::storage]
	pub type TermFloor<T> = StorageValue<_, u64, ValueQuery>;

	/// The quota of every account without an override.
	#[pallet::storage]
	pub type DefaultQuota<T: Config> = StorageValue<_, Quota, ValueQuery, T::InitialQuota>;

	/// Per-account quotas that replace the default.
	#[pallet::storage]
	pub type QuotaOverrides<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, Quota, OptionQuery>;

	/// What each account holds, counted against its quota: leases it granted that have not
	/// ended, instances it registered that are still stored, keys it created whose storage is
	/// not yet reclaimed.
	#[pallet::storage]
	pub type Usages<T: Config> = StorageMap<_, Blake2_128Concat, T::AccountId, Usage, ValueQuery>;

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A lease was granted. `ttl_secs` is the time to live really granted.
		LeaseGranted { lease: LeaseId, ttl_secs: u32, expires_at_ms: u64, who: T::AccountId },
		/// A lease was kept alive until `expires_at_ms`.
		LeaseKeptAlive { lease: LeaseId, expires_at_ms: u64, who: T::AccountId },
		/// A lease ended. With `revision: Some(r)`, every key attached to it was deleted at `r`.
		/// `who` is the revoking account (`None` for an expiry).
		LeaseEnded {
			lease: LeaseId,
			reason: LeaseEndReason,
			revision: Option<Revision>,
			who: Option<T::AccountId>,
		},
		/// A key was put at `revision`.
		KeyPut {
			revision: Revision,
			key: KeyBytes<T>,
			value: ValueBytes<T>,
			lease: Option<LeaseId>,
			who: T::AccountId,
		},
		/// Every key in `[key, range_end)` (etcd's conventions) was deleted at `revision`.
		KeysDeleted {
			revision: Revision,
			key: KeyBytes<T>,
			range_end: KeyBytes<T>,
			who: T::AccountId,
		},
		/// A txn ran its success (`succeeded`) or failure branch. Its key events precede this one
		/// and carry `revision`; with `wrote: false` nothing changed.
		TxnApplied { revision: Revision, succeeded: bool, wrote: bool, who: T::AccountId },
		/// A service instance was registered.
		InstanceRegistered {
			service: Name<T>,
			instance_id: Name<T>,
			owner: T::AccountId,
			lease: LeaseId,
		},
		/// A service instance's endpoint, tags or metadata changed.
		InstanceUpdated { service: Name<T>, instance_id: Name<T>, who: T::AccountId },
		/// A service instance was deregistered by its owner.
		InstanceDeregistered { service: Name<T>, instance_id: Name<T>, who: T::AccountId },
		/// A service instance reported its health.
		HealthReported { service: Name<T>, instance_id: Name<T>, health: Health, who: T::AccountId },
		/// A service instance was removed because its lease ended.
		InstanceRemoved { service: Name<T>, instance_id: Name<T>, lease: LeaseId },
		/// An account joined an election's candidate queue.
		Campaigned { election: Name<T>, who: T::AccountId, lease: LeaseId },
		/// The leader changed its value.
		Proclaimed {
			election: Name<T>,
			who: T::AccountId,
			value: BoundedVec<u8, T::MaxElectionValueLen>,
		},
		/// A candidate left an election's queue.
		Resigned { election: Name<T>, who: T::AccountId },
		/// A candidacy was removed because its lease ended.
		CandidacyEnded { election: Name<T>, who: T::AccountId, lease: LeaseId },
		/// An election's leader changed (`None`: no candidate left); `term` is the new term.
		LeaderChanged { election: Name<T>, leader: Option<T::AccountId>, term: u64 },
		/// Governance set the default quota.
		DefaultQuotaSet { quota: Quota },
		/// Governance set an account's quota override (`None`: removed, the default applies).
		AccountQuotaSet { who: T::AccountId, quota: Option<Quota> },
	}

	#[pallet::error]
	pub enum Error<T> {
		/// The key is empty.
		EmptyKey,
		/// The key or range end is longer than `MaxKeyLen`.
		KeyTooLong,
		/// The value is longer than `MaxValueLen`.
		ValueTooLong,
		/// The txn has more than `MaxTxnOps` compares or operations in a branch.
		TooManyTxnOps,
		/// A txn branch puts the same key twice, or puts a key that it also deletes (etcd's
		/// "duplicate key given in txn request").
		DuplicateKeyInTxn,
		/// An election-leader compare uses `Greater` or `Less`.
		InvalidCompare,
		/// `MaxTombstones` large range deletes, or `MaxTombstonesPerAccount` of this account's,
		/// are still being reclaimed; retry in a few blocks.
		TooManyRangeTombstones,
		/// The revision counter would overflow.
		RevisionOverflow,
		/// The requested time to live exceeds `MaxLeaseTtl`.
		LeaseTtlTooLarge,
		/// No such lease: never granted, revoked, or expired and removed.
		LeaseNotFound,
		/// The lease has passed its expiry time.
		LeaseExpired,
		/// Lease ids are exhausted.
		LeaseIdsExhausted,
		/// The lease already has `MaxKeysPerLease` keys attached.
		TooManyLeaseKeys,
		/// The lease already has `MaxInstancesPerLease` instances attached.
		TooManyLeaseInstances,
		/// The lease already has `MaxCandidaciesPerLease` candidacies attached.
		TooManyLeaseCandidacies,
		/// A service, instance or election name is empty.
		EmptyName,
		/// A service, instance or election name is longer than `MaxNameLen`.
		NameTooLong,
		/// The endpoint is longer than `MaxEndpointLen`.
		EndpointTooLong,
		/// More than `MaxTags` tags.
		TooManyTags,
		/// A tag is longer than `MaxTagLen`.
		TagTooLong,
		/// More than `MaxMetadataEntries` metadata entries.
		TooManyMetadataEntries,
		/// A metadata key is longer than `MaxMetadataKeyLen`.
		MetadataKeyTooLong,
		/// A metadata value is longer than `MaxMetadataValueLen`.
		MetadataValueTooLong,
		/// A live instance with this service and id is already registered.
		InstanceAlreadyRegistered,
		/// No live instance with this service and id.
		InstanceNotFound,
		/// Only the account that registered the instance may change it.
		NotOwner,
		/// The election value is longer than `MaxElectionValueLen`.
		ElectionValueTooLong,
		/// The account is already a candidate in this election.
		AlreadyCandidate,
		/// The account is not a candidate in this election.
		NotCandidate,
		/// The election already has `MaxCandidates` candidates.
		TooManyCandidates,
		/// Only the election's leader may proclaim.
		NotLeader,
		/// The account already holds as many leases as its quota allows.
		LeaseQuotaExceeded,
		/// The account already holds as many service instances as its quota allows.
		InstanceQuotaExceeded,
		/// The account already holds as many keys as its quota allows.
		KeyQuotaExceeded,
		/// Keys under [`RESERVED_PREFIX`] cannot be written: the etcd API shows the typed
		/// registry there.
		ReservedKey,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		/// Ends the leases that expired by this block's time, then removes the storage of ended
		/// leases and range tombstones, within `HookWeightLimit`.
		fn on_initialize(_n: BlockNumberFor<T>) -> Weight {
			Self::on_initialize_work()
		}

		/// Continues the same work with the block's leftover weight.
		fn on_idle(_n: BlockNumberFor<T>, remaining_weight: Weight) -> Weight {
			Self::on_idle_work(remaining_weight)
		}

		fn integrity_test() {
			Self::check_config();
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Grant a lease of `ttl_secs` seconds (raised to `MinLeaseTtl`). The id is in the
		/// `LeaseGranted` event.
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::grant_lease())]
		pub fn grant_lease(origin: OriginFor<T>, ttl_secs: u32) -> DispatchResult {
			let who = T::WriteOrigin::ensure_origin(origin)?;
			Self::do_grant_lease(who, ttl_secs).map(|_| ())
		}

		/// Set a live lease's expiry to now + its time to live. Any writer may.
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::keep_alive())]
		pub fn keep_alive(origin: OriginFor<T>, lease: LeaseId) -> DispatchResult {
			let who = T::WriteOrigin::ensure_origin(origin)?;
			Self::do_keep_alive(who, lease)
		}

		/// End a live lease now, deleting its keys (at one revision), instances and candidacies.
		/// Any writer may.
		#[pallet::call_index(2)]
		#[pallet::weight(T::WeightInfo::revoke_lease(
			T::MaxInstancesPerLease::get(),
			T::MaxCandidaciesPerLease::get(),
		).saturating_add(T::WeightInfo::probe_lease_keys(T::MaxProbe::get().saturating_add(1))))]
		pub fn revoke_lease(origin: OriginFor<T>, lease: LeaseId) -> DispatchResultWithPostInfo {
			let who = T::WriteOrigin::ensure_origin(origin)?;
			let actual = Self::do_revoke_lease(who, lease)?;
			Ok(Some(actual).into())
		}

		/// Put `value` under `key`, attached to `lease` if given, at the next revision.
		#[pallet::call_index(3)]
		#[pallet::weight(T::WeightInfo::put(
			(key.len() as u32).min(T::MaxKeyLen::get()),
			(value.len() as u32).min(T::MaxValueLen::get()),
			1,
		))]
		pub fn put(
			origin: OriginFor<T>,
			key: Vec<u8>,
			value: Vec<u8>,
			lease: Option<LeaseId>,
		) -> DispatchResultWithPostInfo {
			let who = T::WriteOrigin::ensure_origin(origin)?;
			let actual = Self::do_put(who, key, value, lease)?;
			Ok(Some(actual).into())
		}

		/// Delete the keys of `[key, range_end)` with etcd's conventions (empty `range_end`: the
		/// single key; `[0]`: every key from `key`), all at one revision. Matching no key changes
		/// nothing.
		#[pallet::call_index(4)]
		#[pallet::weight(Pallet::<T>::delete_range_weight(range_end))]
		pub fn delete_range(
			origin: OriginFor<T>,
			key: Vec<u8>,
			range_end: Vec<u8>,
		) -> DispatchResultWithPostInfo {
			let who = T::WriteOrigin::ensure_origin(origin)?;
			let actual = Self::do_delete_range(who, key, range_end)?;
			Ok(Some(actual).into())
		}

		/// etcd's Txn: if every compare holds, apply `success`, otherwise `failure`, at one
		/// revision. The `TxnApplied` event tells which branch ran.
		#[pallet::call_index(5)]
		#[pallet::weight(Pallet::<T>::txn_weight(compares, success, failure))]
		pub fn txn(
			origin: OriginFor<T>,
			compares: Vec<Compare<T::AccountId>>,
			success: Vec<TxnOp>,
			failure: Vec<TxnOp>,
		) -> DispatchResult {
			let who = T::WriteOrigin::ensure_origin(origin)?;
			Self::do_txn(who, compares, success, failure)
		}

		/// Register a service instance attached to a live lease. Its health starts `Unknown`.
		#[pallet::call_index(6)]
		#[pallet::weight(T::WeightInfo::register_instance())]
		pub fn register_instance(
			origin: OriginFor<T>,
			service: Vec<u8>,
			instance_id: Vec<u8>,
			endpoint: Vec<u8>,
			tags: Vec<Vec<u8>>,
			metadata: Vec<(Vec<u8>, Vec<u8>)>,
			lease: LeaseId,
		) -> DispatchResult {
			let who = T::WriteOrigin::ensure_origin(origin)?;
			Self::do_register_instance(who, service, instance_id, endpoint, tags, metadata, lease)
		}

		/// Replace a live instance's endpoint, tags and/or metadata (each when given). Owner only.
		#[pallet::call_index(7)]
		#[pallet::weight(T::WeightInfo::update_instance())]
		pub fn update_instance(
			origin: OriginFor<T>,
			service: Vec<u8>,
			instance_id: Vec<u8>,
			endpoint: Option<Vec<u8>>,
			tags: Option<Vec<Vec<u8>>>,
			metadata: Option<Vec<(Vec<u8>, Vec<u8>)>>,
		) -> DispatchResult {
			let who = T::WriteOrigin::ensure_origin(origin)?;
			Self::do_update_instance(who, service, instance_id, endpoint, tags, metadata)
		}

		/// Remove a live instance. Owner only.
		#[pallet::call_index(8)]
		#[pallet::weight(T::WeightInfo::deregister_instance())]
		pub fn deregister_instance(
			origin: OriginFor<T>,
			service: Vec<u8>,
			instance_id: Vec<u8>,
		) -> DispatchResult {
			let who = T::WriteOrigin::ensure_origin(origin)?;
			Self::do_deregister_instance(who, service, instance_id)
		}

		/// Record a live instance's health. Owner only.
		#[pallet::call_index(9)]
		#[pallet::weight(T::WeightInfo::report_health())]
		pub fn report_health(
			origin: OriginFor<T>,
			service: Vec<u8>,
			instance_id: Vec<u8>,
			health: Health,
		) -> DispatchResult {
			let who = T::WriteOrigin::ensure_origin(origin)?;
			Self::do_report_health(who, service, instance_id, health)
		}

		/// Join `election`'s candidate queue with `value`, attached to a live lease. The first
		/// live candidate leads.
		#[pallet::call_index(10)]
		#[pallet::weight(T::WeightInfo::campaign())]
		pub fn campaign(
			origin: OriginFor<T>,
			election: Vec<u8>,
			value: Vec<u8>,
			lease: LeaseId,
		) -> DispatchResult {
			let who = T::WriteOrigin::ensure_origin(origin)?;
			Self::do_campaign(who, election, value, lease)
		}

		/// Change the leader's value. Leader only.
		#[pallet::call_index(11)]
		#[pallet::weight(T::WeightInfo::proclaim())]
		pub fn proclaim(origin: OriginFor<T>, election: Vec<u8>, value: Vec<u8>) -> DispatchResult {
			let who = T::WriteOrigin::ensure_origin(origin)?;
			Self::do_proclaim(who, election, value)
		}

		/// Leave `election`'s candidate queue; a resigning leader hands over to the next
		/// candidate.
		#[pallet::call_index(12)]
		#[pallet::weight(T::WeightInfo::resign())]
		pub fn resign(origin: OriginFor<T>, election: Vec<u8>) -> DispatchResult {
			let who = T::WriteOrigin::ensure_origin(origin)?;
			Self::do_resign(who, election)
		}

		/// Set the quota of every account without an override. Accounts above a lowered quota
		/// keep what they hold but cannot add more. Governance only.
		#[pallet::call_index(13)]
		#[pallet::weight(T::WeightInfo::set_default_quota())]
		pub fn set_default_quota(origin: OriginFor<T>, quota: Quota) -> DispatchResult {
			T::QuotaOrigin::ensure_origin(origin)?;
			DefaultQuota::<T>::put(quota);
			Self::deposit_event(Event::DefaultQuotaSet { quota });
			Ok(())
		}

		/// Set an account's quota override, or remove it with `None`. Governance only.
		#[pallet::call_index(14)]
		#[pallet::weight(T::WeightInfo::set_account_quota())]
		pub fn set_account_quota(
			origin: OriginFor<T>,
			who: T::AccountId,
			quota: Option<Quota>,
		) -> DispatchResult {
			T::QuotaOrigin::ensure_origin(origin)?;
			QuotaOverrides::<T>::set(&who, quota);
			Self::deposit_event(Event::AccountQuotaSet { who, quota });
			Ok(())
		}
	}

	impl<T: Config> Pallet<T> {
		/// Chain time of the current block, in milliseconds.
		pub fn now() -> u64 {
			T::Clock::now()
		}

		/// A non-empty name within `MaxNameLen`.
		pub(crate) fn check_name(name: Vec<u8>) -> Result<Name<T>, Error<T>> {
			ensure!(!name.is_empty(), Error::<T>::EmptyName);
			Name::<T>::try_from(name).map_err(|_| Error::<T>::NameTooLong)
		}

		/// Checks the storage invariants: every index agrees with what it indexes.
		#[cfg(any(feature = "try-runtime", test))]
		pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
			use alloc::collections::BTreeMap;
			let mut expiries = 0usize;
			for (id, lease) in Leases::<T>::iter() {
				ensure!(id < NextLeaseId::<T>::get(), "lease id not below NextLeaseId");
				ensure!(
					LeaseExpiries::<T>::contains_key(Self::expiry_key(lease.expires_at_ms, id)),
					"lease missing from the expiry index"
				);
				ensure!(!EndedLeases::<T>::contains_key(id), "live lease also ended");
				ensure!(
					LeaseKeys::<T>::iter_key_prefix(id).count() as u32 == lease.keys,
					"lease key count disagrees with LeaseKeys"
				);
				ensure!(
					LeaseInstances::<T>::iter_key_prefix(id).count() as u32 == lease.instances,
					"lease instance count disagrees with LeaseInstances"
				);
				ensure!(
					LeaseCandidacies::<T>::iter_key_prefix(id).count() as u32 == lease.candidacies,
					"lease candidacy count disagrees with LeaseCandidacies"
				);
				expiries += 1;
			}
			ensure!(
				LeaseExpiries::<T>::iter_keys().count() == expiries,
				"stale expiry index entry"
			);
			for (lease, key) in LeaseKeys::<T>::iter_keys() {
				let record = KeyValues::<T>::get(&key).ok_or("LeaseKeys entry without a record")?;
				ensure!(
					record.lease == Some(lease),
					"LeaseKeys entry for a record of another lease"
				);
				ensure!(
					Leases::<T>::contains_key(lease) || EndedLeases::<T>::contains_key(lease),
					"keys attached to an unknown lease"
				);
			}
			for (key, record) in KeyValues::<T>::iter() {
				ensure!(key.raw() == &record.key[..], "record stored under another key");
				if let Some(lease) = record.lease {
					ensure!(
						LeaseKeys::<T>::contains_key(lease, &key),
						"leased record missing from LeaseKeys"
					);
				}
			}
			let mut per_service: BTreeMap<Name<T>, u32> = BTreeMap::new();
			for (service, instance_id, instance) in Instances::<T>::iter() {
				ensure!(
					LeaseInstances::<T>::contains_key(instance.lease, (&service, &instance_id)),
					"instance missing from LeaseInstances"
				);
				ensure!(Leases::<T>::contains_key(instance.lease), "instance of an ended lease");
				*per_service.entry(service).or_default() += 1;
			}
			for (service, count) in Services::<T>::iter() {
				ensure!(per_service.remove(&service) == Some(count), "service count is wrong");
			}
			ensure!(per_service.is_empty(), "service without a count");
			for (lease, (service, instance_id)) in LeaseInstances::<T>::iter_keys() {
				let instance = Instances::<T>::get(&service, &instance_id)
					.ok_or("LeaseInstances entry without an instance")?;
				ensure!(instance.lease == lease, "LeaseInstances entry of another lease");
			}
			for (name, election) in Elections::<T>::iter() {
				ensure!(!election.candidates.is_empty(), "empty election kept");
				for (n, candidate) in election.candidates.iter().enumerate() {
					ensure!(
						LeaseCandidacies::<T>::contains_key(
							candidate.lease,
							(&name, &candidate.who)
						),
						"candidate missing from LeaseCandidacies"
					);
					ensure!(
						!election.candidates[..n].iter().any(|c| c.who == candidate.who),
						"account queued twice"
					);
				}
			}
			for (lease, (name, who)) in LeaseCandidacies::<T>::iter_keys() {
				let election = Elections::<T>::get(&name).ok_or("candidacy without election")?;
				ensure!(
					election.candidates.iter().any(|c| c.who == who && c.lease == lease),
					"LeaseCandidacies entry without a candidate"
				);
			}
			let mut usages: BTreeMap<T::AccountId, Usage> = BTreeMap::new();
			for lease in Leases::<T>::iter_values() {
				usages.entry(lease.granted_by).or_default().leases += 1;
			}
			for instance in Instances::<T>::iter_values() {
				usages.entry(instance.owner).or_default().instances += 1;
			}
			for record in KeyValues::<T>::iter_values() {
				usages.entry(record.created_by).or_default().keys += 1;
			}
			for (who, usage) in Usages::<T>::iter() {
				ensure!(usages.remove(&who) == Some(usage), "quota usage disagrees with holdings");
			}
			ensure!(usages.is_empty(), "holdings missing from quota usage");
			Ok(())
		}

		/// Panics if the configuration cannot work (run by `integrity_test`, never on chain).
		fn check_config() {
			assert!(T::MaxKeyLen::get() > 0, "MaxKeyLen must be positive");
			assert!(T::MaxTxnOps::get() > 0, "MaxTxnOps must be positive");
			assert!(T::MaxTombstones::get() > 0, "MaxTombstones must be positive");
			assert!(
				(1..=T::MaxTombstones::get()).contains(&T::MaxTombstonesPerAccount::get()),
				"MaxTombstonesPerAccount must be positive and at most MaxTombstones"
			);
			assert!(T::MaxLeaseEndsPerBlock::get() > 0, "MaxLeaseEndsPerBlock must be positive");
			assert!(T::MaxCleanupPerBlock::get() > 1, "MaxCleanupPerBlock must be at least 2");
			assert!(T::MinLeaseTtl::get() > 0, "MinLeaseTtl must be positive");
			assert!(
				T::MinLeaseTtl::get() <= T::MaxLeaseTtl::get(),
				"MinLeaseTtl must not exceed MaxLeaseTtl"
			);
			let one_of_each = T::WeightInfo::hook_base()
				.saturating_add(T::WeightInfo::expire_lease(
					T::MaxInstancesPerLease::get(),
					T::MaxCandidaciesPerLease::get(),
				))
				.saturating_add(T::WeightInfo::probe_lease_keys(
					T::MaxProbe::get().saturating_add(1),
				))
				.saturating_add(T::WeightInfo::reap_keys(1))
				.saturating_add(T::WeightInfo::reclaim_keys(1));
			assert!(
				one_of_each.all_lte(T::HookWeightLimit::get()),
				"HookWeightLimit must fit at least one lease end and one cleanup step"
			);
		}
	}
}
