//! Leases: grant, keep alive, revoke, and the chain's own enforcement of expiry.
//!
//! A lease is live while it is in [`Leases`] and its `expires_at_ms` is later than the current
//! block's time. [`LeaseExpiries`] indexes leases by expiry time (big-endian bytes under the
//! `Identity` hasher, so iteration is time order); `on_initialize` walks it from the start while
//! the expiry has passed, bounded by `MaxLeaseEndsPerBlock` and `HookWeightLimit`.
//!
//! Ending a lease (revoke or expiry) takes one revision if a key is attached, removes the lease,
//! removes its instances and candidacies at once (they are few per lease), and queues its keys
//! in [`EndedLeases`]; the hooks remove those keys from storage, a bounded number per block.
//! Reads already treat them as gone, because their lease is no longer live.

use crate::{pallet::*, quotas::Holding, types::*, weights::WeightInfo, LOG_TARGET};
use alloc::{collections::BTreeSet, vec::Vec};
use frame_support::{
	ensure,
	pallet_prelude::{DispatchError, DispatchResult, Get},
	traits::Time,
	weights::{Weight, WeightMeter},
};

impl<T: Config> Pallet<T> {
	/// The expiry index key of a lease.
	pub(crate) fn expiry_key(expires_at_ms: u64, id: LeaseId) -> ExpiryKey {
		(expires_at_ms.to_be_bytes(), id.to_be_bytes())
	}

	/// The lease, if it is live at `now`.
	pub(crate) fn live_lease(id: LeaseId, now: u64) -> Result<LeaseOf<T>, Error<T>> {
		let lease = Leases::<T>::get(id).ok_or(Error::<T>::LeaseNotFound)?;
		ensure!(lease.expires_at_ms > now, Error::<T>::LeaseExpired);
		Ok(lease)
	}

	/// `grant_lease`: returns the new lease's id.
	pub(crate) fn do_grant_lease(
		who: T::AccountId,
		ttl_secs: u32,
	) -> Result<LeaseId, DispatchError> {
		ensure!(ttl_secs <= T::MaxLeaseTtl::get(), Error::<T>::LeaseTtlTooLarge);
		let ttl_secs = ttl_secs.max(T::MinLeaseTtl::get());
		let id = NextLeaseId::<T>::get();
		ensure!(id <= MAX_LEASE_ID, Error::<T>::LeaseIdsExhausted);
		Self::ensure_quota(&who, Holding::Leases, 1)?;
		let now = T::Clock::now();
		let expires_at_ms = now.saturating_add(u64::from(ttl_secs).saturating_mul(1000));
		Leases::<T>::insert(
			id,
			Lease {
				granted_by: who.clone(),
				ttl_secs,
				granted_at_ms: now,
				expires_at_ms,
				last_kept_alive_by: who.clone(),
				keys: 0,
				instances: 0,
				candidacies: 0,
			},
		);
		LeaseExpiries::<T>::insert(Self::expiry_key(expires_at_ms, id), ());
		NextLeaseId::<T>::put(id.saturating_add(1));
		Self::charge(&who, Holding::Leases);
		Self::deposit_event(Event::LeaseGranted { lease: id, ttl_secs, expires_at_ms, who });
		Ok(id)
	}

	/// `keep_alive`.
	pub(crate) fn do_keep_alive(who: T::AccountId, id: LeaseId) -> DispatchResult {
		let now = T::Clock::now();
		let mut lease = Self::live_lease(id, now)?;
		let expires_at_ms = now.saturating_add(u64::from(lease.ttl_secs).saturating_mul(1000));
		if expires_at_ms != lease.expires_at_ms {
			LeaseExpiries::<T>::remove(Self::expiry_key(lease.expires_at_ms, id));
			LeaseExpiries::<T>::insert(Self::expiry_key(expires_at_ms, id), ());
		}
		lease.expires_at_ms = expires_at_ms;
		lease.last_kept_alive_by = who.clone();
		Leases::<T>::insert(id, lease);
		Self::deposit_event(Event::LeaseKeptAlive { lease: id, expires_at_ms, who });
		Ok(())
	}

	/// `revoke_lease`: returns the weight it used.
	pub(crate) fn do_revoke_lease(who: T::AccountId, id: LeaseId) -> Result<Weight, DispatchError> {
		let now = T::Clock::now();
		let lease = Self::live_lease(id, now)?;
		let tombstones = RangeTombstones::<T>::get();
		let (has_key, probed) = Self::lease_has_live_key(id, &lease, &tombstones);
		let revision = if has_key { Some(Self::next_revision()?) } else { None };
		let weight = T::WeightInfo::revoke_lease(lease.instances, lease.candidacies)
			.saturating_add(T::WeightInfo::probe_lease_keys(probed));
		Self::end_lease(id, lease, LeaseEndReason::Revoked, Some(who), revision, now);
		Ok(weight)
	}

	/// Whether a key attached to the lease is still there (not deleted by a range tombstone),
	/// and how many attached keys were examined to tell.
	///
	/// Without tombstones, any attached key counts and nothing is examined. With tombstones, it
	/// steps over at most `MaxProbe` attached keys that a tombstone covers; past that it
	/// answers yes (a documented corner case).
	pub(crate) fn lease_has_live_key(
		id: LeaseId,
		lease: &LeaseOf<T>,
		tombstones: &[RangeTombstoneOf<T>],
	) -> (bool, u32) {
		if lease.keys == 0 {
			return (false, 0);
		}
		if tombstones.is_empty() {
			return (true, 0);
		}
		let mut probed = 0u32;
		for key in LeaseKeys::<T>::iter_key_prefix(id) {
			probed = probed.saturating_add(1);
			let newest_cover =
				tombstones.iter().filter(|t| t.covers(key.raw())).map(|t| t.revision).max();
			let Some(newest_cover) = newest_cover else { return (true, probed) };
			if probed > T::MaxProbe::get() {
				return (true, probed);
			}
			if let Some(record) = KeyValues::<T>::get(&key) {
				if record.lease == Some(id) && record.mod_revision >= newest_cover {
					return (true, probed);
				}
			}
		}
		(false, probed)
	}

	/// The most attached keys `lease_has_live_key` examines for this lease.
	pub(crate) fn probe_bound(lease: &LeaseOf<T>, tombstones: &[RangeTombstoneOf<T>]) -> u32 {
		if tombstones.is_empty() {
			0
		} else {
			lease.keys.min(T::MaxProbe::get().saturating_add(1))
		}
	}

	/// Ends a lease: removes it, records `revision` (taken if a key was attached), removes its
	/// instances and candidacies, and queues its keys for removal. Cannot fail.
	pub(crate) fn end_lease(
		id: LeaseId,
		lease: LeaseOf<T>,
		reason: LeaseEndReason,
		who: Option<T::AccountId>,
		revision: Option<Revision>,
		now: u64,
	) {
		Leases::<T>::remove(id);
		LeaseExpiries::<T>::remove(Self::expiry_key(lease.expires_at_ms, id));
		Self::release(&lease.granted_by, Holding::Leases);
		if let Some(revision) = revision {
			CurrentRevision::<T>::put(revision);
		}
		if lease.keys > 0 {
			EndedLeases::<T>::insert(id, EndedLease { reason, revision, ended_at_ms: now });
		}
		Self::deposit_event(Event::LeaseEnded { lease: id, reason, revision, who });

		let instances: Vec<_> = LeaseInstances::<T>::iter_key_prefix(id).collect();
		for (service, instance_id) in instances {
			LeaseInstances::<T>::remove(id, (&service, &instance_id));
			let owner = Instances::<T>::get(&service, &instance_id)
				.filter(|i| i.lease == id)
				.map(|i| i.owner);
			if let Some(owner) = owner {
				Instances::<T>::remove(&service, &instance_id);
				Self::release(&owner, Holding::Instances);
				Self::service_count_dec(&service);
				Self::deposit_event(Event::InstanceRemoved { service, instance_id, lease: id });
			}
		}

		let elections: BTreeSet<Name<T>> = LeaseCandidacies::<T>::iter_key_prefix(id)
			.map(|(election, _)| election)
			.collect();
		for election in elections {
			// The lease is gone, so settling removes its candidates and hands over.
			Self::store_settled(Self::settle(election, now));
		}
	}

	// ---- hooks ----------------------------------------------------------------------------

	/// `on_initialize`: end expired leases, then clean up, within `HookWeightLimit`.
	pub(crate) fn on_initialize_work() -> Weight {
		let mut meter = WeightMeter::with_limit(T::HookWeightLimit::get());
		meter.consume(T::WeightInfo::hook_base());
		let now = T::Clock::now();
		Self::sweep_expired(&mut meter, now);
		Self::cleanup(&mut meter, T::MaxCleanupPerBlock::get());
		meter.consumed()
	}

	/// `on_idle`: the same work with the block's leftover weight.
	pub(crate) fn on_idle_work(remaining: Weight) -> Weight {
		let mut meter = WeightMeter::with_limit(remaining);
		if meter.try_consume(T::WeightInfo::hook_base()).is_err() {
			return Weight::zero();
		}
		let now = T::Clock::now();
		Self::sweep_expired(&mut meter, now);
		Self::cleanup(&mut meter, T::MaxCleanupPerBlock::get());
		meter.consumed()
	}

	/// Ends up to `MaxLeaseEndsPerBlock` leases whose expiry is at or before `now`, in expiry
	/// order, while `meter` allows. Returns how many ended.
	pub(crate) fn sweep_expired(meter: &mut WeightMeter, now: u64) -> u32 {
		let max = T::MaxLeaseEndsPerBlock::get() as usize;
		let due: Vec<ExpiryKey> = LeaseExpiries::<T>::iter_keys()
			.take_while(|(at, _)| u64::from_be_bytes(*at) <= now)
			.take(max)
			.collect();
		if due.is_empty() {
			return 0;
		}
		let tombstones = RangeTombstones::<T>::get();
		let mut ended = 0u32;
		for key in due {
			let id = u64::from_be_bytes(key.1);
			let lease = match Leases::<T>::get(id) {
				Some(lease) if lease.expires_at_ms == u64::from_be_bytes(key.0) => lease,
				_ => {
					log::warn!(target: LOG_TARGET, "stale expiry index entry for lease {id}");
					LeaseExpiries::<T>::remove(key);
					continue;
				},
			};
			let weight = T::WeightInfo::expire_lease(lease.instances, lease.candidacies);
			let worst = T::WeightInfo::probe_lease_keys(Self::probe_bound(&lease, &tombstones));
			if !meter.can_consume(weight.saturating_add(worst)) {
				break;
			}
			let (has_key, probed) = Self::lease_has_live_key(id, &lease, &tombstones);
			meter.consume(weight.saturating_add(T::WeightInfo::probe_lease_keys(probed)));
			let revision = if has_key {
				let next = CurrentRevision::<T>::get().checked_add(1);
				if next.is_none() {
					log::error!(target: LOG_TARGET, "revision overflow ending lease {id}");
				}
				next
			} else {
				None
			};
			Self::end_lease(id, lease, LeaseEndReason::Expired, None, revision, now);
			ended = ended.saturating_add(1);
		}
		ended
	}

	/// Removes stored keys of ended leases and keys under range tombstones: at most about `max`
	/// records in all, shared between the two queues, within `meter`.
	pub(crate) fn cleanup(meter: &mut WeightMeter, max: u32) {
		// Runs `step` with the largest budget up to `max` whose worst case (one more than the
		// budget) fits in `meter`, and charges what it did. Returns the work done.
		fn bounded(
			meter: &mut WeightMeter,
			max: u32,
			weight: fn(u32) -> Weight,
			step: fn(u32) -> u32,
		) -> u32 {
			let mut n = max;
			while n > 0 && !meter.can_consume(weight(n.saturating_add(1))) {
				n /= 2;
			}
			if n == 0 {
				return 0;
			}
			let done = step(n);
			meter.consume(weight(done));
			done
		}
		let mut left = max;
		let reaped = bounded(meter, left / 2, T::WeightInfo::reap_keys, Self::reap_ended_keys);
		left = left.saturating_sub(reaped);
		let reclaimed = bounded(meter, left, T::WeightInfo::reclaim_keys, Self::reclaim_tombstoned);
		left = left.saturating_sub(reclaimed);
		bounded(meter, left, T::WeightInfo::reap_keys, Self::reap_ended_keys);
	}

	/// Removes up to about `max` stored keys of ended leases (one more when a lease is
	/// finished), oldest queue entry first. Returns the work done.
	pub(crate) fn reap_ended_keys(max: u32) -> u32 {
		let mut done = 0u32;
		while done < max {
			let Some(id) = EndedLeases::<T>::iter_keys().next() else { break };
			let want = max.saturating_sub(done) as usize;
			let mut keys: Vec<OrderedKeyOf<T>> =
				LeaseKeys::<T>::iter_key_prefix(id).take(want.saturating_add(1)).collect();
			let finished = keys.len() <= want;
			keys.truncate(want);
			for key in &keys {
				LeaseKeys::<T>::remove(id, key);
				if let Some(record) = KeyValues::<T>::get(key).filter(|r| r.lease == Some(id)) {
					KeyValues::<T>::remove(key);
					Self::release(&record.created_by, Holding::Keys);
				}
			}
			done = done.saturating_add(keys.len() as u32);
			if !finished {
				break;
			}
			EndedLeases::<T>::remove(id);
			done = done.saturating_add(1);
		}
		done
	}

	// ---- runtime API ----------------------------------------------------------------------

	/// etcd's LeaseTimeToLive: a live lease, with its attachments listed if asked.
	pub fn lease_time_to_live(
		id: LeaseId,
		with_attachments: bool,
	) -> Option<LeaseInfo<T::AccountId>> {
		let now = T::Clock::now();
		let lease = Leases::<T>::get(id).filter(|l| l.expires_at_ms > now)?;
		let (keys, instances, elections) = if with_attachments {
			let mut view = crate::keyspace::View::<T>::new();
			let keys = LeaseKeys::<T>::iter_key_prefix(id)
				.filter(|key| KeyValues::<T>::get(key).is_some_and(|r| view.is_live(&r)))
				.map(|key| key.0.into_inner())
				.collect();
			let instances = LeaseInstances::<T>::iter_key_prefix(id)
				.map(|(s, i)| (s.into_inner(), i.into_inner()))
				.collect();
			let elections: BTreeSet<Vec<u8>> = LeaseCandidacies::<T>::iter_key_prefix(id)
				.map(|(e, _)| e.into_inner())
				.collect();
			(keys, instances, elections.into_iter().collect())
		} else {
			(Vec::new(), Vec::new(), Vec::new())
		};
		Some(LeaseInfo {
			id,
			granted_by: lease.granted_by,
			last_kept_alive_by: lease.last_kept_alive_by,
			ttl_secs: lease.ttl_secs,
			granted_at_ms: lease.granted_at_ms,
			expires_at_ms: lease.expires_at_ms,
			remaining_ms: lease.expires_at_ms.saturating_sub(now),
			key_count: lease.keys,
			instance_count: lease.instances,
			candidacy_count: lease.candidacies,
			keys,
			instances,
			elections,
		})
	}

	/// etcd's LeaseLeases: the ids of the live leases, ascending.
	pub fn leases() -> Vec<LeaseId> {
		let now = T::Clock::now();
		let mut ids: Vec<LeaseId> = Leases::<T>::iter()
			.filter(|(_, lease)| lease.expires_at_ms > now)
			.map(|(id, _)| id)
			.collect();
		ids.sort_unstable();
		ids
	}

	/// The keys attached to a lease that no delete has removed, whether or not the lease is
	/// still live, in key order. At the parent block of a `LeaseEnded` event, these are the
	/// keys the event deletes (with those attached earlier in the same block).
	pub fn lease_keys(id: LeaseId) -> Vec<Vec<u8>> {
		let view = crate::keyspace::View::<T>::new();
		LeaseKeys::<T>::iter_key_prefix(id)
			.filter_map(|key| KeyValues::<T>::get(&key))
			.filter(|r| r.lease == Some(id) && !view.tombstoned(&r.key, r.mod_revision))
			.map(|r| r.key.into_inner())
			.collect()
	}
}
