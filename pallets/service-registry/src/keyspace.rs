//! The key space: etcd's data model (`put`, `delete_range`, `txn`, range reads) on chain.
//!
//! Records live in [`KeyValues`] under the order-preserving [`OrderedKey`] encoding, so a range is
//! read by seeking to its first key and stopping at its end. Whether a stored record is *live*
//! is decided by a [`View`]: it is not under a newer range tombstone, and its lease (if any) has
//! not ended nor passed its expiry time.
//!
//! Every write is planned first (reads only, all checks), then applied (writes only), so a
//! failed call writes nothing.

use crate::{
	pallet::*, quotas::Holding, types::*, weights::WeightInfo, LOG_TARGET, RESERVED_PREFIX,
};
use alloc::{
	collections::{BTreeMap, BTreeSet},
	vec,
	vec::Vec,
};
use core::marker::PhantomData;
use frame_support::{
	ensure,
	pallet_prelude::{DispatchError, DispatchResult, Get},
	traits::Time,
	weights::Weight,
};

/// Where a range ends, decoded from etcd's `range_end` conventions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RangeEnd {
	/// Empty `range_end`: the single key `start`.
	Single,
	/// Every key from `start` up to this key, exclusive.
	Before(Vec<u8>),
	/// `range_end == [0]`: every key from `start` on.
	Unbounded,
}

/// A key range with etcd's conventions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRange {
	/// The first key.
	pub start: Vec<u8>,
	/// Where it ends.
	pub end: RangeEnd,
}

impl KeyRange {
	/// The range etcd means by `key` and `range_end`.
	pub fn from_etcd(key: &[u8], range_end: &[u8]) -> Self {
		let end = match range_end {
			[] => RangeEnd::Single,
			[0] => RangeEnd::Unbounded,
			end => RangeEnd::Before(end.to_vec()),
		};
		Self { start: key.to_vec(), end }
	}

	/// Whether `key` is in the range.
	pub fn contains(&self, key: &[u8]) -> bool {
		match &self.end {
			RangeEnd::Single => key == &self.start[..],
			RangeEnd::Before(end) => key >= &self.start[..] && key < &end[..],
			RangeEnd::Unbounded => key >= &self.start[..],
		}
	}

	/// Whether `key`, met while iterating upwards from `start`, lies beyond the range.
	fn past_end(&self, key: &[u8]) -> bool {
		match &self.end {
			RangeEnd::Single => key > &self.start[..],
			RangeEnd::Before(end) => key >= &end[..],
			RangeEnd::Unbounded => false,
		}
	}
}

/// The end of the range etcd calls a prefix: `prefix` with its last byte below 0xFF incremented
/// and the rest dropped; `[0]` (every key) if there is none.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
	let mut end = prefix.to_vec();
	while let Some(last) = end.pop() {
		if last < 0xFF {
			end.push(last.saturating_add(1));
			return end;
		}
	}
	vec![0]
}

/// What a stored record is at the moment of a read.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum KeyState {
	/// Visible to reads.
	Live,
	/// Attached to a lease that has passed its expiry but not yet been swept: invisible to reads,
	/// but deleted by its lease's end (or by a delete that covers it), not already.
	Expired,
	/// Deleted already (by a range tombstone, an ended lease, or earlier in this call).
	Deleted,
}

/// A consistent view of the key space for one call or query: the chain time, the range
/// tombstones (stored and planned by this call), and the keys this call has planned to delete.
pub(crate) struct View<T: Config> {
	/// Chain time, in milliseconds.
	pub(crate) now: u64,
	/// Number of stored range tombstones.
	pub(crate) stored_tombstones: u32,
	/// The accounts whose deletes recorded the stored tombstones.
	tombstone_owners: Vec<Option<T::AccountId>>,
	tombstones: Vec<(Vec<u8>, Option<Vec<u8>>, Revision)>,
	leases: BTreeMap<LeaseId, KeyState>,
	deleted: BTreeSet<Vec<u8>>,
	_marker: PhantomData<T>,
}

impl<T: Config> View<T> {
	/// A view of the current block.
	pub(crate) fn new() -> Self {
		let stored = RangeTombstones::<T>::get();
		Self {
			now: T::Clock::now(),
			stored_tombstones: stored.len() as u32,
			tombstone_owners: stored.iter().map(|t| t.by.clone()).collect(),
			tombstones: stored
				.into_iter()
				.map(|t| (t.start.into_inner(), t.end.map(|e| e.into_inner()), t.revision))
				.collect(),
			leases: BTreeMap::new(),
			deleted: BTreeSet::new(),
			_marker: PhantomData,
		}
	}

	/// How many stored tombstones `who`'s deletes recorded.
	pub(crate) fn tombstones_of(&self, who: &T::AccountId) -> u32 {
		self.tombstone_owners.iter().filter(|by| by.as_ref() == Some(who)).count() as u32
	}

	/// Whether lease `id` is live, expired (awaiting the sweep), or gone.
	pub(crate) fn lease_state(&mut self, id: LeaseId) -> KeyState {
		let now = self.now;
		*self.leases.entry(id).or_insert_with(|| match Leases::<T>::get(id) {
			Some(lease) if lease.expires_at_ms > now => KeyState::Live,
			Some(_) => KeyState::Expired,
			None => KeyState::Deleted,
		})
	}

	/// Whether a record of `key` last changed at `mod_revision` lies under a newer tombstone.
	pub(crate) fn tombstoned(&self, key: &[u8], mod_revision: Revision) -> bool {
		self.tombstones.iter().any(|(start, end, revision)| {
			mod_revision < *revision
				&& key >= &start[..]
				&& end.as_ref().is_none_or(|end| key < &end[..])
		})
	}

	/// The state of a stored record.
	pub(crate) fn key_state(&mut self, record: &KeyValueOf<T>) -> KeyState {
		if self.deleted.contains(&record.key[..])
			|| self.tombstoned(&record.key, record.mod_revision)
		{
			return KeyState::Deleted;
		}
		match record.lease {
			None => KeyState::Live,
			Some(lease) => self.lease_state(lease),
		}
	}

	/// Whether reads see the record.
	pub(crate) fn is_live(&mut self, record: &KeyValueOf<T>) -> bool {
		self.key_state(record) == KeyState::Live
	}

	/// Whether a delete covering the record deletes it now.
	fn is_deletable(&mut self, record: &KeyValueOf<T>) -> bool {
		self.key_state(record) != KeyState::Deleted
	}
}

/// Visits the stored records of `range` in byte order of their keys until `f` returns false.
/// Seeks to the range's start and stops at its end: it never reads outside the range (but one
/// record past its end).
pub(crate) fn for_each_in_range<T: Config>(
	range: &KeyRange,
	mut f: impl FnMut(OrderedKeyOf<T>, KeyValueOf<T>) -> bool,
) {
	let bound = T::MaxKeyLen::get() as usize;
	if range.end == RangeEnd::Single {
		if let Some(key) = OrderedKeyOf::<T>::from_raw(&range.start) {
			if let Some(record) = KeyValues::<T>::get(&key) {
				f(key, record);
			}
		}
		return;
	}
	// A start longer than any key still has keys above it: seek from its longest stored prefix.
	let Some(seek) = OrderedKeyOf::<T>::from_raw(&range.start[..range.start.len().min(bound)])
	else {
		return;
	};
	// Storage iterators start *after* the given key: drop the terminator's last byte so that
	// `seek` itself is visited first.
	let mut from = KeyValues::<T>::hashed_key_for(&seek);
	from.pop();
	for (key, record) in KeyValues::<T>::iter_from(from) {
		if range.past_end(key.raw()) {
			break;
		}
		if !range.contains(key.raw()) {
			continue;
		}
		if !f(key, record) {
			break;
		}
	}
}

/// A put, checked and ready to apply.
pub(crate) struct PutPlan<T: Config> {
	key: OrderedKeyOf<T>,
	value: ValueBytes<T>,
	lease: Option<LeaseId>,
	previous: Option<KeyValueOf<T>>,
	previous_live: bool,
}

/// What a delete does.
pub(crate) enum DeleteOutcome<T: Config> {
	/// The range has no key: nothing changes.
	Nothing,
	/// Delete these records now.
	Inline(Vec<(OrderedKeyOf<T>, Option<LeaseId>, T::AccountId)>),
	/// Record this tombstone; the hooks reclaim the storage.
	Tombstone(RangeTombstoneOf<T>),
}

/// A delete, checked and ready to apply.
pub(crate) struct DeletePlan<T: Config> {
	key: KeyBytes<T>,
	range_end: KeyBytes<T>,
	pub(crate) outcome: DeleteOutcome<T>,
}

impl<T: Config> DeletePlan<T> {
	/// Whether applying it changes a key.
	pub(crate) fn writes(&self) -> bool {
		!matches!(self.outcome, DeleteOutcome::Nothing)
	}
}

/// The bounded work one call may spend on range deletes.
pub(crate) struct DeleteBudget {
	/// Records it may still delete inline.
	inline_left: u32,
	/// Already-deleted records it may still step over.
	probe_left: u32,
	/// Already-deleted records stepped over so far.
	pub(crate) probed: u32,
	/// Tombstones it may still record.
	tombstones_left: u32,
}

impl DeleteBudget {
	/// The budget of one call by `who`, given the stored tombstones: what is left of the chain's
	/// `MaxTombstones` and of the account's `MaxTombstonesPerAccount`.
	pub(crate) fn new<T: Config>(view: &View<T>, who: &T::AccountId) -> Self {
		let chain_left = T::MaxTombstones::get().saturating_sub(view.stored_tombstones);
		let account_left =
			T::MaxTombstonesPerAccount::get().saturating_sub(view.tombstones_of(who));
		Self {
			inline_left: T::MaxInlineDeletes::get(),
			probe_left: T::MaxProbe::get(),
			probed: 0,
			tombstones_left: chain_left.min(account_left),
		}
	}
}

/// A txn operation after the size checks.
pub(crate) enum CheckedOp<T: Config> {
	Put { key: KeyBytes<T>, value: ValueBytes<T>, lease: Option<LeaseId> },
	Delete { key: KeyBytes<T>, range_end: KeyBytes<T> },
	Read,
}

/// A txn compare after the size checks.
pub(crate) enum CheckedCompare<T: Config> {
	Key { key: KeyBytes<T>, result: CompareResult, target: KeyTarget },
	Term { election: Name<T>, result: CompareResult, term: u64 },
	Leader { election: Name<T>, result: CompareResult, leader: Option<T::AccountId> },
}

/// One planned write of a txn.
enum Planned<T: Config> {
	Put(PutPlan<T>),
	Delete(DeletePlan<T>),
}

impl<T: Config> Pallet<T> {
	/// A non-empty key within `MaxKeyLen`.
	pub(crate) fn check_key(key: Vec<u8>) -> Result<KeyBytes<T>, Error<T>> {
		ensure!(!key.is_empty(), Error::<T>::EmptyKey);
		KeyBytes::<T>::try_from(key).map_err(|_| Error::<T>::KeyTooLong)
	}

	/// A key that may be written: [`Self::check_key`], and outside [`RESERVED_PREFIX`].
	pub(crate) fn check_put_key(key: Vec<u8>) -> Result<KeyBytes<T>, Error<T>> {
		ensure!(!key.starts_with(RESERVED_PREFIX), Error::<T>::ReservedKey);
		Self::check_key(key)
	}

	/// A range end within `MaxKeyLen`.
	pub(crate) fn check_range_end(range_end: Vec<u8>) -> Result<KeyBytes<T>, Error<T>> {
		KeyBytes::<T>::try_from(range_end).map_err(|_| Error::<T>::KeyTooLong)
	}

	/// A value within `MaxValueLen`.
	pub(crate) fn check_value(value: Vec<u8>) -> Result<ValueBytes<T>, Error<T>> {
		ValueBytes::<T>::try_from(value).map_err(|_| Error::<T>::ValueTooLong)
	}

	/// The revision the next write takes.
	pub(crate) fn next_revision() -> Result<Revision, Error<T>> {
		CurrentRevision::<T>::get().checked_add(1).ok_or(Error::<T>::RevisionOverflow)
	}

	/// Attaches the key to a lease (index and count).
	pub(crate) fn attach_key(lease: LeaseId, key: &OrderedKeyOf<T>) {
		LeaseKeys::<T>::insert(lease, key, ());
		Leases::<T>::mutate_extant(lease, |l| l.keys = l.keys.saturating_add(1));
	}

	/// Detaches the key from a lease, if attached.
	pub(crate) fn detach_key(lease: LeaseId, key: &OrderedKeyOf<T>) {
		if LeaseKeys::<T>::take(lease, key).is_some() {
			Leases::<T>::mutate_extant(lease, |l| l.keys = l.keys.saturating_sub(1));
		}
	}

	/// Removes a stored record and its lease attachment, and releases it from its creator's
	/// key quota.
	pub(crate) fn purge_record(
		key: &OrderedKeyOf<T>,
		lease: Option<LeaseId>,
		created_by: &T::AccountId,
	) {
		KeyValues::<T>::remove(key);
		if let Some(lease) = lease {
			Self::detach_key(lease, key);
		}
		Self::release(created_by, Holding::Keys);
	}

	// ---- put --------------------------------------------------------------------------------

	/// `put`: check, then write. Returns the weight used: without the lease bookkeeping when
	/// the key neither leaves nor joins a lease.
	pub(crate) fn do_put(
		who: T::AccountId,
		key: Vec<u8>,
		value: Vec<u8>,
		lease: Option<LeaseId>,
	) -> Result<Weight, DispatchError> {
		let key = Self::check_put_key(key)?;
		let value = Self::check_value(value)?;
		let revision = Self::next_revision()?;
		let mut view = View::<T>::new();
		let plan =
			Self::plan_put(&mut view, &who, key, value, lease, &mut BTreeMap::new(), &mut 0)?;
		let touches_lease = plan.previous.as_ref().and_then(|p| p.lease) != plan.lease;
		let weight = T::WeightInfo::put(
			plan.key.0.len() as u32,
			plan.value.len() as u32,
			u32::from(touches_lease),
		);
		CurrentRevision::<T>::put(revision);
		Self::apply_put(plan, revision, &who);
		Ok(weight)
	}

	/// Checks a put by `who`. `added` counts the keys this call attaches to each lease so far,
	/// `created` the keys it creates.
	pub(crate) fn plan_put(
		view: &mut View<T>,
		who: &T::AccountId,
		key: KeyBytes<T>,
		value: ValueBytes<T>,
		lease: Option<LeaseId>,
		added: &mut BTreeMap<LeaseId, u32>,
		created: &mut u32,
	) -> Result<PutPlan<T>, Error<T>> {
		let key = OrderedKey(key);
		let previous = KeyValues::<T>::get(&key);
		let previous_live = match &previous {
			Some(record) => view.is_live(record),
			None => false,
		};
		if !previous_live {
			*created = created.saturating_add(1);
			Self::ensure_quota(who, Holding::Keys, *created)?;
		}
		if let Some(id) = lease {
			let record = Self::live_lease(id, view.now)?;
			if previous.as_ref().and_then(|p| p.lease) != Some(id) {
				let count = added.entry(id).or_insert(0);
				*count = count.saturating_add(1);
				ensure!(
					record.keys.saturating_add(*count) <= T::MaxKeysPerLease::get(),
					Error::<T>::TooManyLeaseKeys
				);
			}
		}
		Ok(PutPlan { key, value, lease, previous, previous_live })
	}

	/// Applies a checked put at `revision`.
	pub(crate) fn apply_put(plan: PutPlan<T>, revision: Revision, who: &T::AccountId) {
		let PutPlan { key, value, lease, previous, previous_live } = plan;
		let (create_revision, version, created_by) = match &previous {
			Some(p) if previous_live => {
				(p.create_revision, p.version.saturating_add(1), p.created_by.clone())
			},
			_ => {
				// A dead record (deleted but not yet reclaimed) is replaced here, not purged.
				if let Some(dead) = &previous {
					Self::release(&dead.created_by, Holding::Keys);
				}
				Self::charge(who, Holding::Keys);
				(revision, 1, who.clone())
			},
		};
		let old_lease = previous.as_ref().and_then(|p| p.lease);
		if old_lease != lease {
			if let Some(old) = old_lease {
				Self::detach_key(old, &key);
			}
			if let Some(new) = lease {
				Self::attach_key(new, &key);
			}
		}
		let record = KeyValue {
			created_by,
			key: key.0.clone(),
			create_revision,
			mod_revision: revision,
			version,
			lease,
			value: value.clone(),
		};
		KeyValues::<T>::insert(&key, record);
		Self::deposit_event(Event::KeyPut { revision, key: key.0, value, lease, who: who.clone() });
	}

	// ---- delete_range ----------------------------------------------------------------------

	/// `delete_range`: check, then write. Returns the weight actually used.
	pub(crate) fn do_delete_range(
		who: T::AccountId,
		key: Vec<u8>,
		range_end: Vec<u8>,
	) -> Result<Weight, DispatchError> {
		let key = Self::check_key(key)?;
		let range_end = Self::check_range_end(range_end)?;
		let revision = Self::next_revision()?;
		let mut view = View::<T>::new();
		let mut budget = DeleteBudget::new(&view, &who);
		let plan = Self::plan_delete(&mut view, &who, key, range_end, &mut budget, revision)?;
		let weight = match &plan.outcome {
			DeleteOutcome::Nothing => T::WeightInfo::delete_range(0),
			DeleteOutcome::Inline(records) => T::WeightInfo::delete_range(records.len() as u32),
			DeleteOutcome::Tombstone(_) => T::WeightInfo::delete_range_tombstone(),
		}
		.saturating_add(T::DbWeight::get().reads(budget.probed.into()));
		if plan.writes() {
			CurrentRevision::<T>::put(revision);
			Self::apply_delete(plan, revision, &who);
		}
		Ok(weight)
	}

	/// The weight `delete_range` declares: a single key, or the worst range.
	pub fn delete_range_weight(range_end: &[u8]) -> Weight {
		if range_end.is_empty() {
			T::WeightInfo::delete_range(1)
		} else {
			T::WeightInfo::delete_range(T::MaxInlineDeletes::get())
				.saturating_add(T::WeightInfo::delete_range_tombstone())
				.saturating_add(T::DbWeight::get().reads(T::MaxProbe::get().into()))
		}
	}

	/// Checks a delete and decides how to apply it: nothing, inline, or a tombstone.
	///
	/// A single key is always deleted inline. A range is deleted inline when it holds at most
	/// the call's remaining inline budget of deletable records; otherwise it gets a tombstone at
	/// `revision`. Already-deleted records (not yet reclaimed) are stepped over within the
	/// call's probe budget; if the budget runs out before a deletable record is found, the range
	/// is assumed non-empty (a documented corner case).
	pub(crate) fn plan_delete(
		view: &mut View<T>,
		who: &T::AccountId,
		key: KeyBytes<T>,
		range_end: KeyBytes<T>,
		budget: &mut DeleteBudget,
		revision: Revision,
	) -> Result<DeletePlan<T>, Error<T>> {
		let range = KeyRange::from_etcd(&key, &range_end);
		let outcome = if range.end == RangeEnd::Single {
			let stored = OrderedKey(key.clone());
			match KeyValues::<T>::get(&stored) {
				Some(record) if view.is_deletable(&record) => {
					view.deleted.insert(key.to_vec());
					DeleteOutcome::Inline(vec![(stored, record.lease, record.created_by)])
				},
				_ => DeleteOutcome::Nothing,
			}
		} else {
			#[derive(PartialEq)]
			enum Stop {
				End,
				Full,
				Probe,
			}
			let mut found = Vec::new();
			let mut stop = Stop::End;
			let inline_left = budget.inline_left;
			for_each_in_range::<T>(&range, |stored, record| {
				if view.is_deletable(&record) {
					if found.len() as u32 >= inline_left {
						stop = Stop::Full;
						return false;
					}
					found.push((stored, record.lease, record.created_by));
				} else {
					if budget.probe_left == 0 {
						stop = Stop::Probe;
						return false;
					}
					budget.probe_left = budget.probe_left.saturating_sub(1);
					budget.probed = budget.probed.saturating_add(1);
				}
				true
			});
			if stop == Stop::End {
				if found.is_empty() {
					DeleteOutcome::Nothing
				} else {
					budget.inline_left = budget.inline_left.saturating_sub(found.len() as u32);
					for (stored, _, _) in &found {
						view.deleted.insert(stored.raw().to_vec());
					}
					DeleteOutcome::Inline(found)
				}
			} else {
				ensure!(budget.tombstones_left > 0, Error::<T>::TooManyRangeTombstones);
				budget.tombstones_left = budget.tombstones_left.saturating_sub(1);
				let end = match range.end {
					RangeEnd::Before(_) => Some(range_end.clone()),
					_ => None,
				};
				view.tombstones.push((key.to_vec(), end.as_ref().map(|e| e.to_vec()), revision));
				DeleteOutcome::Tombstone(RangeTombstone {
					start: key.clone(),
					end,
					revision,
					cursor: None,
					by: Some(who.clone()),
				})
			}
		};
		Ok(DeletePlan { key, range_end, outcome })
	}

	/// Applies a checked delete at `revision`.
	pub(crate) fn apply_delete(plan: DeletePlan<T>, revision: Revision, who: &T::AccountId) {
		match plan.outcome {
			DeleteOutcome::Nothing => return,
			DeleteOutcome::Inline(records) => {
				for (key, lease, created_by) in records {
					Self::purge_record(&key, lease, &created_by);
				}
			},
			DeleteOutcome::Tombstone(tombstone) => {
				let recorded = RangeTombstones::<T>::mutate(|t| t.try_push(tombstone).is_ok());
				if !recorded {
					log::error!(target: LOG_TARGET, "range tombstone checked but not recorded");
				}
			},
		}
		Self::deposit_event(Event::KeysDeleted {
			revision,
			key: plan.key,
			range_end: plan.range_end,
			who: who.clone(),
		});
	}

	// ---- txn ------------------------------------------------------------------------------

	/// Size checks of one compare.
	fn check_compare(compare: Compare<T::AccountId>) -> Result<CheckedCompare<T>, Error<T>> {
		Ok(match compare {
			Compare::Key { key, result, target } => {
				let key = Self::check_key(key)?;
				if let KeyTarget::Value(value) = &target {
					ensure!(
						value.len() <= T::MaxValueLen::get() as usize,
						Error::<T>::ValueTooLong
					);
				}
				CheckedCompare::Key { key, result, target }
			},
			Compare::ElectionTerm { election, result, term } => {
				CheckedCompare::Term { election: Self::check_name(election)?, result, term }
			},
			Compare::ElectionLeader { election, result, leader } => {
				ensure!(
					matches!(result, CompareResult::Equal | CompareResult::NotEqual),
					Error::<T>::InvalidCompare
				);
				CheckedCompare::Leader { election: Self::check_name(election)?, result, leader }
			},
		})
	}

	/// Size checks of one branch, and etcd's rule: no key is put twice, and no put lies in a
	/// range the branch deletes.
	fn check_branch(ops: Vec<TxnOp>) -> Result<Vec<CheckedOp<T>>, Error<T>> {
		ensure!(ops.len() <= T::MaxTxnOps::get() as usize, Error::<T>::TooManyTxnOps);
		let duplicate = TxnOp::duplicate_key(&ops);
		let mut checked = Vec::with_capacity(ops.len());
		for op in ops {
			checked.push(match op {
				TxnOp::Put { key, value, lease } => CheckedOp::Put {
					key: Self::check_put_key(key)?,
					value: Self::check_value(value)?,
					lease,
				},
				TxnOp::DeleteRange { key, range_end } => CheckedOp::Delete {
					key: Self::check_key(key)?,
					range_end: Self::check_range_end(range_end)?,
				},
				TxnOp::Range { key, range_end } => {
					Self::check_key(key)?;
					Self::check_range_end(range_end)?;
					CheckedOp::Read
				},
			});
		}
		ensure!(!duplicate, Error::<T>::DuplicateKeyInTxn);
		Ok(checked)
	}

	/// Evaluates one compare against the view (settling referenced elections first).
	fn evaluate(
		compare: &CheckedCompare<T>,
		view: &mut View<T>,
		elections: &mut BTreeMap<Vec<u8>, crate::elections::Settled<T>>,
	) -> bool {
		match compare {
			CheckedCompare::Key { key, result, target } => {
				let record =
					KeyValues::<T>::get(OrderedKey(key.clone())).filter(|r| view.is_live(r));
				match target {
					// etcd: a value compare on a missing key is always false.
					KeyTarget::Value(value) => {
						record.is_some_and(|r| result.holds(&r.value[..], &value[..]))
					},
					KeyTarget::Version(v) => result.holds(&record.map_or(0, |r| r.version), v),
					KeyTarget::CreateRevision(v) => {
						result.holds(&record.map_or(0, |r| r.create_revision), v)
					},
					KeyTarget::ModRevision(v) => {
						result.holds(&record.map_or(0, |r| r.mod_revision), v)
					},
					KeyTarget::Lease(v) => {
						result.holds(&record.and_then(|r| r.lease).unwrap_or(0), v)
					},
				}
			},
			CheckedCompare::Term { election, result, term } => {
				let now = view.now;
				let settled = elections
					.entry(election.to_vec())
					.or_insert_with(|| Self::settle(election.clone(), now));
				result.holds(&settled.effective_term(), term)
			},
			CheckedCompare::Leader { election, result, leader } => {
				let now = view.now;
				let settled = elections
					.entry(election.to_vec())
					.or_insert_with(|| Self::settle(election.clone(), now));
				let current = settled.leader();
				match result {
					CompareResult::Equal => current == leader.as_ref(),
					CompareResult::NotEqual => current != leader.as_ref(),
					_ => false,
				}
			},
		}
	}

	/// `txn`: check both branches, evaluate the compares, plan the chosen branch, then write.
	pub(crate) fn do_txn(
		who: T::AccountId,
		compares: Vec<Compare<T::AccountId>>,
		success: Vec<TxnOp>,
		failure: Vec<TxnOp>,
	) -> DispatchResult {
		ensure!(compares.len() <= T::MaxTxnOps::get() as usize, Error::<T>::TooManyTxnOps);
		let compares =
			compares.into_iter().map(Self::check_compare).collect::<Result<Vec<_>, _>>()?;
		let success = Self::check_branch(success)?;
		let failure = Self::check_branch(failure)?;

		let mut view = View::<T>::new();
		let mut elections = BTreeMap::new();
		let mut succeeded = true;
		for compare in &compares {
			// Evaluate every compare (each settles its election), as etcd evaluates all.
			succeeded &= Self::evaluate(compare, &mut view, &mut elections);
		}

		let revision = Self::next_revision()?;
		let mut budget = DeleteBudget::new(&view, &who);
		let mut added = BTreeMap::new();
		let mut created = 0;
		let mut plans = Vec::new();
		for op in if succeeded { success } else { failure } {
			match op {
				CheckedOp::Put { key, value, lease } => plans.push(Planned::Put(Self::plan_put(
					&mut view,
					&who,
					key,
					value,
					lease,
					&mut added,
					&mut created,
				)?)),
				CheckedOp::Delete { key, range_end } => plans.push(Planned::Delete(
					Self::plan_delete(&mut view, &who, key, range_end, &mut budget, revision)?,
				)),
				CheckedOp::Read => {},
			}
		}

		// Every check has passed: write.
		for (_, settled) in elections {
			Self::store_settled(settled);
		}
		let wrote = plans.iter().any(|p| match p {
			Planned::Put(_) => true,
			Planned::Delete(d) => d.writes(),
		});
		if wrote {
			CurrentRevision::<T>::put(revision);
		}
		for plan in plans {
			match plan {
				Planned::Put(p) => Self::apply_put(p, revision, &who),
				Planned::Delete(d) => Self::apply_delete(d, revision, &who),
			}
		}
		Self::deposit_event(Event::TxnApplied {
			revision: CurrentRevision::<T>::get(),
			succeeded,
			wrote,
			who,
		});
		Ok(())
	}

	/// The weight `txn` declares: its compares, plus the heavier branch.
	pub fn txn_weight(
		compares: &[Compare<T::AccountId>],
		success: &[TxnOp],
		failure: &[TxnOp],
	) -> Weight {
		let max_ops = T::MaxTxnOps::get();
		let count = |n: usize| (n as u32).min(max_ops);
		let c = count(compares.len());
		let election_compares =
			count(compares.iter().filter(|c| !matches!(c, Compare::Key { .. })).count());
		let db = T::DbWeight::get();
		let branch = |ops: &[TxnOp]| -> Weight {
			let (mut puts, mut largest_value, mut singles, mut ranges) = (0u32, 0u32, 0u64, 0u32);
			for op in ops.iter().take(max_ops as usize) {
				match op {
					TxnOp::Put { value, .. } => {
						puts = puts.saturating_add(1);
						largest_value = largest_value.max(value.len() as u32);
					},
					TxnOp::DeleteRange { range_end, .. } if range_end.is_empty() => {
						singles = singles.saturating_add(1)
					},
					TxnOp::DeleteRange { .. } => ranges = ranges.saturating_add(1),
					TxnOp::Range { .. } => {},
				}
			}
			// The txn benchmark's puts move keys between leases: the worst case of each put.
			let mut weight = T::WeightInfo::txn(c, puts, largest_value.min(T::MaxValueLen::get()))
				.saturating_add(T::WeightInfo::delete_range(1).saturating_mul(singles));
			if ranges > 0 {
				weight = weight
					.saturating_add(T::WeightInfo::delete_range(T::MaxInlineDeletes::get()))
					.saturating_add(
						db.reads(u64::from(T::MaxProbe::get()).saturating_add(u64::from(ranges))),
					)
					.saturating_add(
						T::WeightInfo::delete_range_tombstone()
							.saturating_mul(u64::from(ranges.min(T::MaxTombstones::get()))),
					);
			}
			weight
		};
		branch(success)
			.max(branch(failure))
			.saturating_add(T::WeightInfo::resign().saturating_mul(election_compares.into()))
	}

	// ---- reclamation ----------------------------------------------------------------------

	/// Removes up to about `max` stored records under range tombstones (one more when a
	/// tombstone is finished), oldest tombstone first. Returns the work done.
	pub(crate) fn reclaim_tombstoned(max: u32) -> u32 {
		if max == 0 {
			return 0;
		}
		let mut tombstones = RangeTombstones::<T>::get();
		if tombstones.is_empty() {
			return 0;
		}
		let mut done = 0u32;
		while done < max {
			let Some(tombstone) = tombstones.first().cloned() else { break };
			let want = max.saturating_sub(done) as usize;
			let from = match &tombstone.cursor {
				// Iteration starts after the cursor: the last key already handled.
				Some(cursor) => KeyValues::<T>::hashed_key_for(OrderedKey(cursor.clone())),
				None => {
					let mut from =
						KeyValues::<T>::hashed_key_for(OrderedKey(tombstone.start.clone()));
					from.pop();
					from
				},
			};
			let mut batch = Vec::new();
			let mut finished = true;
			for (key, record) in KeyValues::<T>::iter_from(from) {
				if !tombstone.covers(key.raw()) {
					break;
				}
				if batch.len() >= want {
					finished = false;
					break;
				}
				batch.push((key, record.mod_revision, record.lease, record.created_by));
			}
			for (key, mod_revision, lease, created_by) in &batch {
				if *mod_revision < tombstone.revision {
					Self::purge_record(key, *lease, created_by);
				}
			}
			done = done.saturating_add(batch.len() as u32);
			if finished {
				tombstones.remove(0);
				done = done.saturating_add(1);
			} else {
				if let (Some(first), Some((last, _, _, _))) = (tombstones.get_mut(0), batch.last())
				{
					first.cursor = Some(last.0.clone());
				}
				break;
			}
		}
		RangeTombstones::<T>::put(tombstones);
		done
	}

	// ---- runtime API ----------------------------------------------------------------------

	/// The key space's current revision.
	pub fn revision() -> Revision {
		CurrentRevision::<T>::get()
	}

	/// etcd's Range at this block: the live keys of the range in byte order, with filters,
	/// limit and count. An invalid request (empty key) gets an empty answer.
	pub fn range(request: RangeRequest) -> RangeResponse {
		let mut response =
			RangeResponse { revision: CurrentRevision::<T>::get(), ..Default::default() };
		if request.key.is_empty() {
			return response;
		}
		let mut view = View::<T>::new();
		let range = KeyRange::from_etcd(&request.key, &request.range_end);
		for_each_in_range::<T>(&range, |_, record| {
			if !view.is_live(&record) {
				return true;
			}
			response.count = response.count.saturating_add(1);
			if request.count_only || !Self::passes_filters(&request, &record) {
				return true;
			}
			if request.limit == 0 || (response.kvs.len() as u64) < request.limit {
				response.kvs.push(KeyValueInfo {
					key: record.key.into_inner(),
					create_revision: record.create_revision,
					mod_revision: record.mod_revision,
					version: record.version,
					value: if request.keys_only { Vec::new() } else { record.value.into_inner() },
					lease: record.lease.unwrap_or(0),
				});
			} else {
				response.more = true;
			}
			true
		});
		response
	}

	/// etcd's min/max mod/create revision filters (0: no filter).
	fn passes_filters(request: &RangeRequest, record: &KeyValueOf<T>) -> bool {
		let at_least = |bound: Revision, value: Revision| bound == 0 || value >= bound;
		let at_most = |bound: Revision, value: Revision| bound == 0 || value <= bound;
		at_least(request.min_mod_revision, record.mod_revision)
			&& at_most(request.max_mod_revision, record.mod_revision)
			&& at_least(request.min_create_revision, record.create_revision)
			&& at_most(request.max_create_revision, record.create_revision)
	}
}
