//! The registry's types: what is stored, what calls take, and what the runtime API answers.
//!
//! Stored types are bounded (`MaxEncodedLen`) by the pallet's `Config` constants. Call arguments
//! are plain vectors so that a value that is too large fails with a clear error
//! (`KeyTooLong`, `ValueTooLong`, ...) rather than with an undecodable extrinsic. Runtime API types
//! do not depend on the runtime's `Config`, so that the node can decode them.

use crate::pallet::Config;
use alloc::vec::Vec;
use codec::{Decode, DecodeWithMemTracking, Encode, EncodeLike, Input, MaxEncodedLen, Output};
use frame_support::{
	pallet_prelude::{BoundedVec, Get},
	CloneNoBound, DebugNoBound, DefaultNoBound, EqNoBound, PartialEqNoBound,
};
use scale_info::{build::Fields, Path, Type, TypeInfo};

/// A revision of the key space: a global counter that increments once per write, as in etcd.
pub type Revision = u64;

/// A lease identifier: sequential from 1, at most `i64::MAX` (etcd's lease ids are `int64`).
pub type LeaseId = u64;

/// The largest lease id: etcd clients hold lease ids as `int64`.
pub const MAX_LEASE_ID: LeaseId = i64::MAX as u64;

/// The revision of an empty key space. etcd starts at 1; its first write gets revision 2.
pub const INITIAL_REVISION: Revision = 1;

/// Raw bytes of a user key, bounded by `MaxKeyLen`.
pub type KeyBytes<T> = BoundedVec<u8, <T as Config>::MaxKeyLen>;
/// Raw bytes of a value, bounded by `MaxValueLen`.
pub type ValueBytes<T> = BoundedVec<u8, <T as Config>::MaxValueLen>;
/// A service, instance or election name, bounded by `MaxNameLen`.
pub type Name<T> = BoundedVec<u8, <T as Config>::MaxNameLen>;
/// A key in its order-preserving storage form.
pub type OrderedKeyOf<T> = OrderedKey<<T as Config>::MaxKeyLen>;
/// A stored key-value record.
pub type KeyValueOf<T> = KeyValue<
	<T as frame_system::Config>::AccountId,
	<T as Config>::MaxKeyLen,
	<T as Config>::MaxValueLen,
>;
/// A pending range delete.
pub type RangeTombstoneOf<T> =
	RangeTombstone<<T as frame_system::Config>::AccountId, <T as Config>::MaxKeyLen>;
/// A lease, as stored.
pub type LeaseOf<T> = Lease<<T as frame_system::Config>::AccountId>;
/// An instance's tags.
pub type Tags<T> = BoundedVec<BoundedVec<u8, <T as Config>::MaxTagLen>, <T as Config>::MaxTags>;
/// An instance's metadata: key/value pairs.
pub type Metadata<T> = BoundedVec<
	(
		BoundedVec<u8, <T as Config>::MaxMetadataKeyLen>,
		BoundedVec<u8, <T as Config>::MaxMetadataValueLen>,
	),
	<T as Config>::MaxMetadataEntries,
>;

// ---------------------------------------------------------------------------------------------
// Quotas
// ---------------------------------------------------------------------------------------------

/// The most an account may hold in the registry at once. Governance sets a default and
/// per-account overrides.
#[derive(
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Default,
)]
pub struct Quota {
	/// Leases granted by the account and not yet ended.
	pub leases: u32,
	/// Service instances registered by the account and not yet removed.
	pub instances: u32,
	/// Keys created by the account whose storage is not yet reclaimed.
	pub keys: u32,
}

/// What an account holds, counted as its [`Quota`] counts.
pub type Usage = Quota;

/// An account's quota and what it holds, as the runtime API returns it.
#[derive(Encode, Decode, TypeInfo, Clone, PartialEq, Eq, Debug)]
pub struct AccountQuota {
	/// The quota that applies: the account's override, else the default.
	pub quota: Quota,
	/// Whether `quota` is an override set for this account.
	pub overridden: bool,
	/// What the account holds now.
	pub usage: Usage,
}

// ---------------------------------------------------------------------------------------------
// Key space
// ---------------------------------------------------------------------------------------------

/// A user key in an order-preserving encoding, used as the key of the key-space map.
///
/// SCALE puts a length prefix before a byte vector, so a `BoundedVec` map key under the
/// `Identity` hasher iterates by length first. This type instead encodes the raw bytes with every
/// `0x00` escaped as `0x00 0xFF` and a `0x00 0x00` terminator (as FoundationDB's tuple layer
/// does): the encodings compare in the same order as the raw keys, and no encoding is a prefix of
/// another. Under `Identity`, the trie therefore iterates keys in etcd's byte order, and a range
/// `[key, range_end)` is read by seeking to `key` and stopping at `range_end`.
///
/// Generic tools cannot decode this form: read the raw key from the stored record instead.
#[derive(CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound)]
pub struct OrderedKey<S: Get<u32>>(pub BoundedVec<u8, S>);

impl<S: Get<u32>> OrderedKey<S> {
	/// The raw key.
	pub fn raw(&self) -> &[u8] {
		&self.0
	}

	/// The order-preserving form of `raw`, or `None` if it is longer than the bound.
	pub fn from_raw(raw: &[u8]) -> Option<Self> {
		BoundedVec::try_from(raw.to_vec()).ok().map(Self)
	}
}

impl<S: Get<u32>> Encode for OrderedKey<S> {
	fn size_hint(&self) -> usize {
		self.0
			.len()
			.saturating_add(self.0.iter().filter(|b| **b == 0).count())
			.saturating_add(2)
	}

	fn encode_to<O: Output + ?Sized>(&self, dest: &mut O) {
		for byte in self.0.iter() {
			if *byte == 0 {
				dest.push_byte(0x00);
				dest.push_byte(0xFF);
			} else {
				dest.push_byte(*byte);
			}
		}
		dest.push_byte(0x00);
		dest.push_byte(0x00);
	}
}

impl<S: Get<u32>> EncodeLike for OrderedKey<S> {}

impl<S: Get<u32>> Decode for OrderedKey<S> {
	fn decode<I: Input>(input: &mut I) -> Result<Self, codec::Error> {
		let bound = S::get() as usize;
		let mut raw = Vec::new();
		loop {
			let byte = input.read_byte()?;
			if byte == 0x00 {
				match input.read_byte()? {
					0x00 => break,
					0xFF => raw.push(0x00),
					_ => return Err("OrderedKey: invalid escape".into()),
				}
			} else {
				raw.push(byte);
			}
			if raw.len() > bound {
				return Err("OrderedKey: longer than its bound".into());
			}
		}
		BoundedVec::try_from(raw)
			.map(Self)
			.map_err(|_| "OrderedKey: longer than its bound".into())
	}
}

impl<S: Get<u32>> DecodeWithMemTracking for OrderedKey<S> {}

impl<S: Get<u32>> MaxEncodedLen for OrderedKey<S> {
	fn max_encoded_len() -> usize {
		(S::get() as usize).saturating_mul(2).saturating_add(2)
	}
}

impl<S: Get<u32> + 'static> TypeInfo for OrderedKey<S> {
	type Identity = Self;

	fn type_info() -> Type {
		Type::builder()
			.path(Path::new("OrderedKey", module_path!()))
			.docs(&[
				"A raw key in an order-preserving encoding (not SCALE): each 0x00 byte is written",
				"as 0x00 0xFF and the key ends with 0x00 0x00. Read the raw key from the record.",
			])
			.composite(Fields::unnamed().field(|f| f.ty::<Vec<u8>>().type_name("Vec<u8>")))
	}
}

/// One key of the key space, with etcd's metadata.
#[derive(
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
	CloneNoBound,
	PartialEqNoBound,
	EqNoBound,
	DebugNoBound,
)]
#[scale_info(skip_type_params(K, V))]
#[codec(mel_bound(A: MaxEncodedLen))]
pub struct KeyValue<A: Clone + Eq + core::fmt::Debug, K: Get<u32>, V: Get<u32>> {
	/// The account that created the key (put it when it did not exist); the key counts
	/// against this account's key quota until it is deleted and its storage reclaimed.
	pub created_by: A,
	/// The raw key.
	pub key: BoundedVec<u8, K>,
	/// The revision at which the key was last created (after not existing).
	pub create_revision: Revision,
	/// The revision of the key's last change.
	pub mod_revision: Revision,
	/// How many times the key was put since it was created; 1 after creation.
	pub version: u64,
	/// The lease the key is attached to, if any: the key is deleted when the lease ends.
	pub lease: Option<LeaseId>,
	/// The value.
	pub value: BoundedVec<u8, V>,
}

/// A range delete that covers more keys than one call deletes at once.
///
/// Every key in `[start, end)` whose `mod_revision` is below `revision` counts as deleted, in
/// every read and write, from the moment the tombstone is recorded. The hooks reclaim the storage
/// in later blocks and drop the tombstone when its range is clean.
#[derive(
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
	CloneNoBound,
	PartialEqNoBound,
	EqNoBound,
	DebugNoBound,
)]
#[scale_info(skip_type_params(K))]
#[codec(mel_bound(A: MaxEncodedLen))]
pub struct RangeTombstone<A: Clone + Eq + core::fmt::Debug, K: Get<u32>> {
	/// The first key of the range.
	pub start: BoundedVec<u8, K>,
	/// The end of the range (exclusive); `None`: every key from `start` on.
	pub end: Option<BoundedVec<u8, K>>,
	/// The revision of the delete.
	pub revision: Revision,
	/// The last key the hooks have reclaimed up to; `None` before the first.
	pub cursor: Option<BoundedVec<u8, K>>,
	/// The account whose delete recorded it, against whose `MaxTombstonesPerAccount` it counts
	/// until reclaimed; `None` for one recorded before tombstones named it (storage version 0).
	pub by: Option<A>,
}

impl<A: Clone + Eq + core::fmt::Debug, K: Get<u32>> RangeTombstone<A, K> {
	/// Whether `key` lies in the tombstone's range.
	pub fn covers(&self, key: &[u8]) -> bool {
		key >= &self.start[..] && self.end.as_ref().is_none_or(|end| key < &end[..])
	}
}

// ---------------------------------------------------------------------------------------------
// Leases
// ---------------------------------------------------------------------------------------------

/// A lease: a time to live, kept alive by its holders, that takes its attachments with it when
/// it ends.
#[derive(
	Encode, Decode, DecodeWithMemTracking, MaxEncodedLen, TypeInfo, Clone, PartialEq, Eq, Debug,
)]
pub struct Lease<AccountId> {
	/// The account that granted the lease.
	pub granted_by: AccountId,
	/// The time to live granted, in seconds.
	pub ttl_secs: u32,
	/// Chain time of the grant, in milliseconds.
	pub granted_at_ms: u64,
	/// Chain time at which the lease expires, in milliseconds.
	pub expires_at_ms: u64,
	/// The account that last kept the lease alive (the granter until then).
	pub last_kept_alive_by: AccountId,
	/// Number of keys attached.
	pub keys: u32,
	/// Number of service instances attached.
	pub instances: u32,
	/// Number of election candidacies attached.
	pub candidacies: u32,
}

/// Why a lease ended.
#[derive(
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
)]
pub enum LeaseEndReason {
	/// An account revoked it.
	Revoked,
	/// Its time to live ran out.
	Expired,
}

/// A lease that has ended and whose attached keys are still being removed from storage.
#[derive(
	Encode, Decode, DecodeWithMemTracking, MaxEncodedLen, TypeInfo, Clone, PartialEq, Eq, Debug,
)]
pub struct EndedLease {
	/// Why it ended.
	pub reason: LeaseEndReason,
	/// The revision at which its keys were deleted, if any key was.
	pub revision: Option<Revision>,
	/// Chain time of the end, in milliseconds.
	pub ended_at_ms: u64,
}

// ---------------------------------------------------------------------------------------------
// Service instances
// ---------------------------------------------------------------------------------------------

/// The health an instance reports for itself.
#[derive(
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Default,
)]
pub enum Health {
	/// Not reported yet.
	#[default]
	Unknown,
	/// Healthy.
	Passing,
	/// Degraded but serving.
	Warning,
	/// Failing.
	Critical,
}

/// A registered instance of a service.
#[derive(
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
	CloneNoBound,
	PartialEqNoBound,
	EqNoBound,
	DebugNoBound,
)]
#[scale_info(skip_type_params(T))]
#[codec(mel_bound(T: Config))]
pub struct Instance<T: Config> {
	/// The account that registered it; only it may change it.
	pub owner: T::AccountId,
	/// Where the instance is reached, e.g. `10.0.0.7:8080`.
	pub endpoint: BoundedVec<u8, T::MaxEndpointLen>,
	/// Free-form tags; queries can filter on one.
	pub tags: Tags<T>,
	/// Free-form key/value metadata.
	pub metadata: Metadata<T>,
	/// The lease that keeps it registered.
	pub lease: LeaseId,
	/// Its last reported health.
	pub health: Health,
	/// Chain time of registration, in milliseconds.
	pub registered_at_ms: u64,
	/// Chain time of the last update or health report, in milliseconds.
	pub updated_at_ms: u64,
}

// ---------------------------------------------------------------------------------------------
// Elections
// ---------------------------------------------------------------------------------------------

/// A candidate in an election's queue.
#[derive(
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
	CloneNoBound,
	PartialEqNoBound,
	EqNoBound,
	DebugNoBound,
)]
#[scale_info(skip_type_params(T))]
#[codec(mel_bound(T: Config))]
pub struct Candidate<T: Config> {
	/// The campaigning account.
	pub who: T::AccountId,
	/// The value it proclaims (e.g. its address) while it leads.
	pub value: BoundedVec<u8, T::MaxElectionValueLen>,
	/// The lease whose end removes the candidacy.
	pub lease: LeaseId,
	/// Chain time at which it joined the queue, in milliseconds.
	pub joined_at_ms: u64,
}

/// An election: a queue of candidates whose head is the leader, and a term that increments at
/// every change of leader.
#[derive(
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
	CloneNoBound,
	PartialEqNoBound,
	EqNoBound,
	DebugNoBound,
	DefaultNoBound,
)]
#[scale_info(skip_type_params(T))]
#[codec(mel_bound(T: Config))]
pub struct Election<T: Config> {
	/// The fencing token: grows each time the leader changes (also to no leader), by one or to
	/// [`TermFloor`] if that is higher.
	pub term: u64,
	/// Candidates in the order they joined; the first live one is the leader.
	pub candidates: BoundedVec<Candidate<T>, T::MaxCandidates>,
}

// ---------------------------------------------------------------------------------------------
// Txn
// ---------------------------------------------------------------------------------------------

/// How a compare relates the stored value to the given one, as in etcd.
#[derive(Encode, Decode, DecodeWithMemTracking, TypeInfo, Clone, Copy, PartialEq, Eq, Debug)]
pub enum CompareResult {
	/// Stored == given.
	Equal,
	/// Stored > given.
	Greater,
	/// Stored < given.
	Less,
	/// Stored != given.
	NotEqual,
}

impl CompareResult {
	/// Whether `stored` relates to `given` as required.
	pub fn holds<V: Ord + ?Sized>(self, stored: &V, given: &V) -> bool {
		match self {
			Self::Equal => stored == given,
			Self::Greater => stored > given,
			Self::Less => stored < given,
			Self::NotEqual => stored != given,
		}
	}
}

/// What a key compare tests, as in etcd. A missing key has version, revisions and lease 0, and
/// fails every `Value` compare.
#[derive(Encode, Decode, DecodeWithMemTracking, TypeInfo, Clone, PartialEq, Eq, Debug)]
pub enum KeyTarget {
	/// The key's version.
	Version(u64),
	/// The key's create revision.
	CreateRevision(Revision),
	/// The key's mod revision.
	ModRevision(Revision),
	/// The key's value, compared as bytes.
	Value(Vec<u8>),
	/// The key's lease; 0 stands for no lease.
	Lease(LeaseId),
}

/// One condition of a txn.
#[derive(Encode, Decode, DecodeWithMemTracking, TypeInfo, Clone, PartialEq, Eq, Debug)]
pub enum Compare<AccountId> {
	/// Compare a key's metadata or value, as etcd's `Compare`.
	Key {
		/// The key.
		key: Vec<u8>,
		/// The relation.
		result: CompareResult,
		/// The target and its value.
		target: KeyTarget,
	},
	/// Compare an election's current term (0 for an election without candidates).
	ElectionTerm {
		/// The election's name.
		election: Vec<u8>,
		/// The relation.
		result: CompareResult,
		/// The term.
		term: u64,
	},
	/// Compare an election's current leader (`None` when it has none). Only `Equal` and
	/// `NotEqual` apply.
	ElectionLeader {
		/// The election's name.
		election: Vec<u8>,
		/// `Equal` or `NotEqual`.
		result: CompareResult,
		/// The leader.
		leader: Option<AccountId>,
	},
}

/// One operation of a txn branch, as etcd's `RequestOp`.
#[derive(Encode, Decode, DecodeWithMemTracking, TypeInfo, Clone, PartialEq, Eq, Debug)]
pub enum TxnOp {
	/// Put a key, as the `put` call.
	Put {
		/// The key.
		key: Vec<u8>,
		/// The value.
		value: Vec<u8>,
		/// The lease to attach it to.
		lease: Option<LeaseId>,
	},
	/// Delete a range, as the `delete_range` call.
	DeleteRange {
		/// The first key.
		key: Vec<u8>,
		/// The range end with etcd's conventions.
		range_end: Vec<u8>,
	},
	/// A read. It changes nothing on chain; the node answers it from the block's state.
	Range {
		/// The first key.
		key: Vec<u8>,
		/// The range end with etcd's conventions.
		range_end: Vec<u8>,
	},
}

impl TxnOp {
	/// etcd's rule for one txn branch ("duplicate key given in txn request"): whether it puts a
	/// key twice, or puts a key in a range it deletes. The pallet refuses such a branch
	/// (`DuplicateKeyInTxn`); the etcd API refuses it before submitting, as etcd does before
	/// raft.
	pub fn duplicate_key(branch: &[TxnOp]) -> bool {
		let mut puts = alloc::collections::BTreeSet::new();
		for op in branch {
			if let TxnOp::Put { key, .. } = op {
				if !puts.insert(&key[..]) {
					return true;
				}
			}
		}
		branch.iter().any(|op| match op {
			TxnOp::DeleteRange { key, range_end } => {
				let range = crate::keyspace::KeyRange::from_etcd(key, range_end);
				// The first put at or after the range's start is the only one it may contain.
				puts.range(&key[..]..).next().is_some_and(|put| range.contains(put))
			},
			_ => false,
		})
	}
}

// ---------------------------------------------------------------------------------------------
// Runtime API
// ---------------------------------------------------------------------------------------------

/// A range read, as etcd's `RangeRequest` without the fields the node handles itself
/// (`revision`: choose the block; `sort_order`/`sort_target`: sort the answer; `serializable`).
#[derive(Encode, Decode, TypeInfo, Clone, PartialEq, Eq, Debug, Default)]
pub struct RangeRequest {
	/// The first key.
	pub key: Vec<u8>,
	/// The end of the range: empty for the single key `key`, `[0]` for every key from `key`
	/// on, otherwise exclusive. A prefix `p` is read with `range_end` = `p` with its last
	/// byte below 0xFF incremented (and the bytes after it dropped).
	pub range_end: Vec<u8>,
	/// At most this many keys in `kvs`; 0 for no limit.
	pub limit: u64,
	/// Return keys without values.
	pub keys_only: bool,
	/// Return only the count.
	pub count_only: bool,
	/// Only keys with a mod revision at least this (0: no filter).
	pub min_mod_revision: Revision,
	/// Only keys with a mod revision at most this (0: no filter).
	pub max_mod_revision: Revision,
	/// Only keys with a create revision at least this (0: no filter).
	pub min_create_revision: Revision,
	/// Only keys with a create revision at most this (0: no filter).
	pub max_create_revision: Revision,
}

/// A key as the runtime API returns it.
#[derive(Encode, Decode, TypeInfo, Clone, PartialEq, Eq, Debug)]
pub struct KeyValueInfo {
	/// The raw key.
	pub key: Vec<u8>,
	/// Revision of the key's creation.
	pub create_revision: Revision,
	/// Revision of its last change.
	pub mod_revision: Revision,
	/// Puts since creation.
	pub version: u64,
	/// The value (empty with `keys_only`).
	pub value: Vec<u8>,
	/// Its lease, 0 for none (etcd's convention).
	pub lease: LeaseId,
}

/// The answer to a [`RangeRequest`], as etcd's `RangeResponse`.
#[derive(Encode, Decode, TypeInfo, Clone, PartialEq, Eq, Debug, Default)]
pub struct RangeResponse {
	/// The key space's revision at this block.
	pub revision: Revision,
	/// The keys, in byte order, after filters and limit.
	pub kvs: Vec<KeyValueInfo>,
	/// Whether more keys passed the filters than `limit`.
	pub more: bool,
	/// Number of keys in the range, before filters and limit (as etcd).
	pub count: u64,
}

/// A live lease as the runtime API returns it (etcd's `LeaseTimeToLive`).
#[derive(Encode, Decode, TypeInfo, Clone, PartialEq, Eq, Debug)]
pub struct LeaseInfo<AccountId> {
	/// The lease id.
	pub id: LeaseId,
	/// Who granted it.
	pub granted_by: AccountId,
	/// Who last kept it alive.
	pub last_kept_alive_by: AccountId,
	/// The granted time to live, in seconds.
	pub ttl_secs: u32,
	/// Chain time of the grant, in milliseconds.
	pub granted_at_ms: u64,
	/// Chain time of expiry, in milliseconds.
	pub expires_at_ms: u64,
	/// Milliseconds left at this block.
	pub remaining_ms: u64,
	/// Number of attached keys.
	pub key_count: u32,
	/// Number of attached instances.
	pub instance_count: u32,
	/// Number of attached candidacies.
	pub candidacy_count: u32,
	/// The attached keys (only when asked for).
	pub keys: Vec<Vec<u8>>,
	/// The attached instances as `(service, instance_id)` (only when asked for).
	pub instances: Vec<(Vec<u8>, Vec<u8>)>,
	/// The elections it holds candidacies in (only when asked for).
	pub elections: Vec<Vec<u8>>,
}

/// A live instance as the runtime API returns it.
#[derive(Encode, Decode, TypeInfo, Clone, PartialEq, Eq, Debug)]
pub struct InstanceInfo<AccountId> {
	/// The service.
	pub service: Vec<u8>,
	/// The instance id within the service.
	pub instance_id: Vec<u8>,
	/// Who registered it.
	pub owner: AccountId,
	/// Where it is reached.
	pub endpoint: Vec<u8>,
	/// Its tags.
	pub tags: Vec<Vec<u8>>,
	/// Its metadata.
	pub metadata: Vec<(Vec<u8>, Vec<u8>)>,
	/// Its lease.
	pub lease: LeaseId,
	/// Its last reported health.
	pub health: Health,
	/// Chain time of registration, in milliseconds.
	pub registered_at_ms: u64,
	/// Chain time of the last change, in milliseconds.
	pub updated_at_ms: u64,
}

/// A service that has live instances.
#[derive(Encode, Decode, TypeInfo, Clone, PartialEq, Eq, Debug)]
pub struct ServiceInfo {
	/// The service's name.
	pub name: Vec<u8>,
	/// Number of live instances.
	pub instances: u32,
}

/// A live candidate as the runtime API returns it.
#[derive(Encode, Decode, TypeInfo, Clone, PartialEq, Eq, Debug)]
pub struct CandidateInfo<AccountId> {
	/// The candidate.
	pub who: AccountId,
	/// Its value.
	pub value: Vec<u8>,
	/// Its lease.
	pub lease: LeaseId,
	/// Chain time it joined, in milliseconds.
	pub joined_at_ms: u64,
}

/// An election as the runtime API returns it.
#[derive(Encode, Decode, TypeInfo, Clone, PartialEq, Eq, Debug)]
pub struct ElectionInfo<AccountId> {
	/// The election's name.
	pub name: Vec<u8>,
	/// The current term (fencing token).
	pub term: u64,
	/// The leader, if it has one. `None` also while a leader whose lease has just run out
	/// awaits removal: the next leader is named, with the next term, once the chain removes it.
	pub leader: Option<CandidateInfo<AccountId>>,
	/// The live candidates in queue order, the leader first.
	pub candidates: Vec<CandidateInfo<AccountId>>,
}
