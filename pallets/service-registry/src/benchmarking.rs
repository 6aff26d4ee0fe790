//! Benchmarks (v2) of every call and hook step, each in its worst case: the largest key and
//! value, a lease with the most attachments, the longest candidate queue, the largest txn, a
//! tombstoned range and one sweep item of each kind.
//!
//! They build state directly where calls cannot (an expired but unswept lease needs a clock in
//! the past), so they run on any runtime clock, including a benchmarking runtime whose slot is 0.

use super::*;
use alloc::{vec, vec::Vec};
use frame_benchmarking::v2::*;
use frame_support::{
	pallet_prelude::{BoundedVec, DispatchError, Get},
	traits::{EnsureOrigin, Hooks, Time},
	weights::WeightMeter,
};

/// The largest value the `txn` benchmark measures (16 KiB).
const TXN_BENCH_MAX_VALUE: u32 = 16 * 1024;

/// The origin `WriteOrigin` accepts in benchmarks, and its account.
fn writer<T: Config>() -> Result<(T::RuntimeOrigin, T::AccountId), BenchmarkError> {
	let origin = T::WriteOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;
	let who =
		T::WriteOrigin::ensure_origin(origin.clone()).map_err(|_| BenchmarkError::Weightless)?;
	// Worst cases need more than a default quota; an override is also the costlier lookup.
	let unlimited = Quota { leases: u32::MAX, instances: u32::MAX, keys: u32::MAX };
	QuotaOverrides::<T>::insert(&who, unlimited);
	Ok((origin, who))
}

/// A key of `len` bytes (at least 5) that sorts by `(prefix, i)`.
fn key(prefix: u8, i: u32, len: u32) -> Vec<u8> {
	let mut key = vec![prefix];
	key.extend_from_slice(&i.to_be_bytes());
	key.resize(len.max(5) as usize, b'k');
	key
}

/// A name of `MaxNameLen` bytes, distinct per `(tag, i)`.
fn name<T: Config>(tag: u8, i: u32) -> Vec<u8> {
	key(tag, i, T::MaxNameLen::get())
}

/// A live lease with the longest time to live.
fn live_lease<T: Config>(who: &T::AccountId) -> Result<LeaseId, BenchmarkError> {
	Ok(Pallet::<T>::do_grant_lease(who.clone(), T::MaxLeaseTtl::get())?)
}

/// A lease whose expiry has passed but that the sweep has not ended.
fn expired_lease<T: Config>(who: &T::AccountId) -> LeaseId {
	let id = NextLeaseId::<T>::get();
	let now = T::Clock::now();
	Leases::<T>::insert(
		id,
		Lease {
			granted_by: who.clone(),
			ttl_secs: 1,
			granted_at_ms: now,
			expires_at_ms: now,
			last_kept_alive_by: who.clone(),
			keys: 0,
			instances: 0,
			candidacies: 0,
		},
	);
	LeaseExpiries::<T>::insert(Pallet::<T>::expiry_key(now, id), ());
	NextLeaseId::<T>::put(id.saturating_add(1));
	id
}

/// Moves a live lease's expiry to now, so that the sweep ends it.
fn expire_now<T: Config>(id: LeaseId) {
	let now = T::Clock::now();
	if let Some(mut lease) = Leases::<T>::get(id) {
		LeaseExpiries::<T>::remove(Pallet::<T>::expiry_key(lease.expires_at_ms, id));
		lease.expires_at_ms = now;
		LeaseExpiries::<T>::insert(Pallet::<T>::expiry_key(now, id), ());
		Leases::<T>::insert(id, lease);
	}
}

/// `n` range tombstones with the longest keys, over ranges no benchmark uses.
fn fill_tombstones<T: Config>(n: u32) {
	let max = T::MaxKeyLen::get();
	let tombstones: Vec<RangeTombstoneOf<T>> = (0..n)
		.map(|i| RangeTombstone {
			start: BoundedVec::truncate_from(key(0xF0, 2 * i, max)),
			end: Some(BoundedVec::truncate_from(key(0xF0, 2 * i + 1, max))),
			revision: 1,
			cursor: None,
			by: None,
		})
		.collect();
	RangeTombstones::<T>::put(BoundedVec::truncate_from(tombstones));
}

/// Attaches `n` keys to `lease` and deletes them all with one range tombstone that is not
/// reclaimed yet: the lease's probe must step over them.
fn tombstoned_keys_on_lease<T: Config>(
	who: &T::AccountId,
	lease: LeaseId,
	n: u32,
) -> Result<(), BenchmarkError> {
	for i in 0..n {
		Pallet::<T>::do_put(who.clone(), key(0xAA, i, 32), vec![1; 32], Some(lease))?;
	}
	let revision = Pallet::<T>::next_revision().map_err(DispatchError::from)?;
	CurrentRevision::<T>::put(revision);
	RangeTombstones::<T>::mutate(|t| {
		let _ = t.try_push(RangeTombstone {
			start: BoundedVec::truncate_from(vec![0xAA]),
			end: Some(BoundedVec::truncate_from(vec![0xAB])),
			revision,
			cursor: None,
			by: None,
		});
	});
	Ok(())
}

/// An election whose queue holds `leader` (if given) then `others` other candidates, each on
/// its own lease, live or expired.
fn election_with<T: Config>(
	election: &[u8],
	leader: Option<(&T::AccountId, LeaseId)>,
	others: u32,
	others_live: bool,
) -> Result<(), BenchmarkError> {
	let now = T::Clock::now();
	if let Some((who, lease)) = leader {
		Pallet::<T>::do_campaign(who.clone(), election.to_vec(), vec![1; 32], lease)?;
	}
	let name = Name::<T>::truncate_from(election.to_vec());
	let mut stored = Elections::<T>::get(&name).unwrap_or_default();
	for i in 0..others {
		let who: T::AccountId = account("candidate", i, 0);
		let lease = if others_live { live_lease::<T>(&who)? } else { expired_lease::<T>(&who) };
		let value = BoundedVec::truncate_from(vec![2; T::MaxElectionValueLen::get() as usize]);
		if stored
			.candidates
			.try_push(Candidate { who: who.clone(), value, lease, joined_at_ms: now })
			.is_err()
		{
			break;
		}
		LeaseCandidacies::<T>::insert(lease, (&name, &who), ());
		Leases::<T>::mutate_extant(lease, |l| l.candidacies = l.candidacies.saturating_add(1));
	}
	Elections::<T>::insert(&name, stored);
	Ok(())
}

/// A lease of `who` with `i` instances and `c` candidacies, each the leader of a full election
/// (its end hands over every one). The tombstone probe is benchmarked apart.
fn loaded_lease<T: Config>(who: &T::AccountId, i: u32, c: u32) -> Result<LeaseId, BenchmarkError> {
	let lease = live_lease::<T>(who)?;
	for n in 0..i {
		register::<T>(who, n, lease)?;
	}
	for n in 0..c {
		election_with::<T>(
			&name::<T>(b'e', n),
			Some((who, lease)),
			T::MaxCandidates::get().saturating_sub(1),
			true,
		)?;
	}
	Ok(lease)
}

/// Registers instance `n` of the benchmark service with the largest fields.
fn register<T: Config>(who: &T::AccountId, n: u32, lease: LeaseId) -> Result<(), BenchmarkError> {
	Pallet::<T>::do_register_instance(
		who.clone(),
		name::<T>(b's', 0),
		name::<T>(b'i', n),
		endpoint::<T>(),
		tags::<T>(),
		metadata::<T>(),
		lease,
	)?;
	Ok(())
}

fn endpoint<T: Config>() -> Vec<u8> {
	vec![b'e'; T::MaxEndpointLen::get() as usize]
}

fn tags<T: Config>() -> Vec<Vec<u8>> {
	(0..T::MaxTags::get()).map(|i| key(b't', i, T::MaxTagLen::get())).collect()
}

fn metadata<T: Config>() -> Vec<(Vec<u8>, Vec<u8>)> {
	(0..T::MaxMetadataEntries::get())
		.map(|i| {
			(
				key(b'm', i, T::MaxMetadataKeyLen::get()),
				vec![b'v'; T::MaxMetadataValueLen::get() as usize],
			)
		})
		.collect()
}

#[benchmarks]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn grant_lease() -> Result<(), BenchmarkError> {
		let (origin, _) = writer::<T>()?;
		let id = NextLeaseId::<T>::get();

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, T::MaxLeaseTtl::get());

		assert!(Leases::<T>::contains_key(id));
		Ok(())
	}

	#[benchmark]
	fn keep_alive() -> Result<(), BenchmarkError> {
		let (origin, who) = writer::<T>()?;
		let lease = live_lease::<T>(&who)?;

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, lease);

		assert!(Leases::<T>::contains_key(lease));
		Ok(())
	}

	#[benchmark]
	fn revoke_lease(
		i: Linear<0, { T::MaxInstancesPerLease::get() }>,
		c: Linear<0, { T::MaxCandidaciesPerLease::get() }>,
	) -> Result<(), BenchmarkError> {
		let (origin, who) = writer::<T>()?;
		let lease = loaded_lease::<T>(&who, i, c)?;

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, lease);

		assert!(!Leases::<T>::contains_key(lease));
		assert_eq!(LeaseInstances::<T>::iter_key_prefix(lease).count(), 0);
		assert_eq!(LeaseCandidacies::<T>::iter_key_prefix(lease).count(), 0);
		Ok(())
	}

	#[benchmark]
	fn put(
		k: Linear<1, { T::MaxKeyLen::get() }>,
		v: Linear<0, { T::MaxValueLen::get() }>,
		l: Linear<0, 1>,
	) -> Result<(), BenchmarkError> {
		let (origin, who) = writer::<T>()?;
		fill_tombstones::<T>(T::MaxTombstones::get());
		// With `l`, the key moves from one lease to another (the worst case); without, no
		// lease is involved.
		let (old, new) = if l == 1 {
			(Some(live_lease::<T>(&who)?), Some(live_lease::<T>(&who)?))
		} else {
			(None, None)
		};
		let the_key = key(0x10, 0, k);
		Pallet::<T>::do_put(who.clone(), the_key.clone(), vec![1; v as usize], old)?;

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, the_key.clone(), vec![2; v as usize], new);

		let stored = KeyValues::<T>::get(OrderedKeyOf::<T>::from_raw(&the_key).ok_or("key")?)
			.ok_or("not stored")?;
		assert_eq!(stored.version, 2);
		assert_eq!(stored.lease, new);
		Ok(())
	}

	#[benchmark]
	fn delete_range(n: Linear<0, { T::MaxInlineDeletes::get() }>) -> Result<(), BenchmarkError> {
		let (origin, who) = writer::<T>()?;
		let lease = live_lease::<T>(&who)?;
		for j in 0..n {
			let attach = (j < T::MaxKeysPerLease::get()).then_some(lease);
			Pallet::<T>::do_put(who.clone(), key(0x20, j, T::MaxKeyLen::get()), vec![], attach)?;
		}
		let before = CurrentRevision::<T>::get();

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, vec![0x20], vec![0x21]);

		assert_eq!(CurrentRevision::<T>::get(), before + u64::from(n > 0));
		assert_eq!(KeyValues::<T>::iter().count(), 0);
		Ok(())
	}

	#[benchmark]
	fn delete_range_tombstone() -> Result<(), BenchmarkError> {
		let (origin, who) = writer::<T>()?;
		fill_tombstones::<T>(T::MaxTombstones::get().saturating_sub(1));
		let value = vec![3; T::MaxValueLen::get() as usize];
		for j in 0..=T::MaxInlineDeletes::get() {
			Pallet::<T>::do_put(
				who.clone(),
				key(0x30, j, T::MaxKeyLen::get()),
				value.clone(),
				None,
			)?;
		}

		#[extrinsic_call]
		delete_range(origin as T::RuntimeOrigin, vec![0x30], vec![0x31]);

		assert_eq!(RangeTombstones::<T>::get().len() as u32, T::MaxTombstones::get());
		Ok(())
	}

	// `v` stops at `TXN_BENCH_MAX_VALUE`: 128 compares and 128 puts that all carry 64 KiB values
	// make a 16 MiB call, larger than a block, and the wasm allocator refuses the 32 MiB its
	// copies need. The weight is linear in `v`, and `txn_weight` evaluates it for values up to
	// `MaxValueLen`, beyond the measured range: an over-estimate, since it charges every put the
	// largest value.
	#[benchmark]
	fn txn(
		c: Linear<0, { T::MaxTxnOps::get() }>,
		p: Linear<0, { T::MaxTxnOps::get() }>,
		v: Linear<0, { TXN_BENCH_MAX_VALUE.min(T::MaxValueLen::get()) }>,
	) -> Result<(), BenchmarkError> {
		let (origin, who) = writer::<T>()?;
		let max_key = T::MaxKeyLen::get();
		let value = vec![7; v as usize];
		// `c` value compares on stored keys of the longest length and `v`-byte values.
		for j in 0..c {
			Pallet::<T>::do_put(who.clone(), key(0x40, j, max_key), value.clone(), None)?;
		}
		let compares: Vec<Compare<T::AccountId>> = (0..c)
			.map(|j| Compare::Key {
				key: key(0x40, j, max_key),
				result: CompareResult::Equal,
				target: KeyTarget::Value(value.clone()),
			})
			.collect();
		// `p` puts, each moving a stored key from one lease to another (the worst case).
		let per_lease = T::MaxKeysPerLease::get().max(1);
		let mut leases = Vec::new();
		for _ in 0..p.div_ceil(per_lease) {
			leases.push((live_lease::<T>(&who)?, live_lease::<T>(&who)?));
		}
		let mut success = Vec::new();
		for j in 0..p {
			let (old, new) = *leases.get((j / per_lease) as usize).ok_or("lease")?;
			Pallet::<T>::do_put(who.clone(), key(0x50, j, max_key), vec![], Some(old))?;
			success.push(TxnOp::Put {
				key: key(0x50, j, max_key),
				value: vec![9; v as usize],
				lease: Some(new),
			});
		}
		let before = CurrentRevision::<T>::get();

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, compares, success, vec![]);

		assert_eq!(CurrentRevision::<T>::get(), before + u64::from(p > 0));
		Ok(())
	}

	#[benchmark]
	fn register_instance() -> Result<(), BenchmarkError> {
		let (origin, who) = writer::<T>()?;
		// Worst case: a stale instance (lease expired, not swept) is replaced.
		let stale_lease = expired_lease::<T>(&who);
		let service = name::<T>(b's', 0);
		let instance_id = name::<T>(b'i', 0);
		let service_key = Name::<T>::truncate_from(service.clone());
		let instance_key = Name::<T>::truncate_from(instance_id.clone());
		let now = T::Clock::now();
		Instances::<T>::insert(
			&service_key,
			&instance_key,
			Instance {
				owner: who.clone(),
				endpoint: BoundedVec::truncate_from(endpoint::<T>()),
				tags: BoundedVec::new(),
				metadata: BoundedVec::new(),
				lease: stale_lease,
				health: Health::Passing,
				registered_at_ms: now,
				updated_at_ms: now,
			},
		);
		LeaseInstances::<T>::insert(stale_lease, (&service_key, &instance_key), ());
		Leases::<T>::mutate_extant(stale_lease, |l| l.instances = 1);
		Services::<T>::insert(&service_key, 1);
		let lease = live_lease::<T>(&who)?;

		#[extrinsic_call]
		_(
			origin as T::RuntimeOrigin,
			service,
			instance_id,
			endpoint::<T>(),
			tags::<T>(),
			metadata::<T>(),
			lease,
		);

		assert_eq!(Instances::<T>::get(&service_key, &instance_key).map(|i| i.lease), Some(lease));
		Ok(())
	}

	#[benchmark]
	fn update_instance() -> Result<(), BenchmarkError> {
		let (origin, who) = writer::<T>()?;
		let lease = live_lease::<T>(&who)?;
		register::<T>(&who, 0, lease)?;

		#[extrinsic_call]
		_(
			origin as T::RuntimeOrigin,
			name::<T>(b's', 0),
			name::<T>(b'i', 0),
			Some(endpoint::<T>()),
			Some(tags::<T>()),
			Some(metadata::<T>()),
		);

		Ok(())
	}

	#[benchmark]
	fn deregister_instance() -> Result<(), BenchmarkError> {
		let (origin, who) = writer::<T>()?;
		let lease = live_lease::<T>(&who)?;
		register::<T>(&who, 0, lease)?;

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, name::<T>(b's', 0), name::<T>(b'i', 0));

		assert_eq!(Instances::<T>::iter().count(), 0);
		Ok(())
	}

	#[benchmark]
	fn report_health() -> Result<(), BenchmarkError> {
		let (origin, who) = writer::<T>()?;
		let lease = live_lease::<T>(&who)?;
		register::<T>(&who, 0, lease)?;

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, name::<T>(b's', 0), name::<T>(b'i', 0), Health::Critical);

		Ok(())
	}

	#[benchmark]
	fn campaign() -> Result<(), BenchmarkError> {
		let (origin, who) = writer::<T>()?;
		// Worst case: the longest queue, every candidate's lease expired, so joining drops them
		// all and hands over to the caller.
		let election = name::<T>(b'e', 0);
		election_with::<T>(&election, None, T::MaxCandidates::get().saturating_sub(1), false)?;
		let lease = live_lease::<T>(&who)?;
		let value = vec![1; T::MaxElectionValueLen::get() as usize];

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, election.clone(), value, lease);

		let stored = Elections::<T>::get(Name::<T>::truncate_from(election)).ok_or("election")?;
		assert_eq!(stored.candidates.len(), 1);
		Ok(())
	}

	#[benchmark]
	fn proclaim() -> Result<(), BenchmarkError> {
		let (origin, who) = writer::<T>()?;
		let election = name::<T>(b'e', 0);
		let lease = live_lease::<T>(&who)?;
		election_with::<T>(
			&election,
			Some((&who, lease)),
			T::MaxCandidates::get().saturating_sub(1),
			true,
		)?;
		let value = vec![5; T::MaxElectionValueLen::get() as usize];

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, election, value);

		Ok(())
	}

	#[benchmark]
	fn resign() -> Result<(), BenchmarkError> {
		let (origin, who) = writer::<T>()?;
		// Worst case: the leader of the longest queue resigns and every other candidate's lease
		// has expired, so all leave at once.
		let election = name::<T>(b'e', 0);
		let lease = live_lease::<T>(&who)?;
		election_with::<T>(
			&election,
			Some((&who, lease)),
			T::MaxCandidates::get().saturating_sub(1),
			false,
		)?;

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, election.clone());

		// Every candidate left: the election is removed.
		assert!(Elections::<T>::get(Name::<T>::truncate_from(election)).is_none());
		Ok(())
	}

	#[benchmark]
	fn hook_base() {
		let n = frame_system::Pallet::<T>::block_number();

		#[block]
		{
			Pallet::<T>::on_initialize(n);
		}
	}

	#[benchmark]
	fn expire_lease(
		i: Linear<0, { T::MaxInstancesPerLease::get() }>,
		c: Linear<0, { T::MaxCandidaciesPerLease::get() }>,
	) -> Result<(), BenchmarkError> {
		let (_, who) = writer::<T>()?;
		let lease = loaded_lease::<T>(&who, i, c)?;
		expire_now::<T>(lease);
		let now = T::Clock::now();

		#[block]
		{
			Pallet::<T>::sweep_expired(&mut WeightMeter::new(), now);
		}

		assert!(!Leases::<T>::contains_key(lease));
		Ok(())
	}

	#[benchmark]
	fn probe_lease_keys(n: Linear<0, { T::MaxProbe::get() }>) -> Result<(), BenchmarkError> {
		let (_, who) = writer::<T>()?;
		let lease = live_lease::<T>(&who)?;
		// Every attached key is covered by a newer tombstone: the probe reads them all.
		tombstoned_keys_on_lease::<T>(&who, lease, n.min(T::MaxKeysPerLease::get()))?;
		let record = Leases::<T>::get(lease).ok_or("lease")?;
		let tombstones = RangeTombstones::<T>::get();
		let found;

		#[block]
		{
			found = Pallet::<T>::lease_has_live_key(lease, &record, &tombstones);
		}

		assert!(!found.0);
		Ok(())
	}

	#[benchmark]
	fn reap_keys(n: Linear<0, { T::MaxCleanupPerBlock::get() }>) -> Result<(), BenchmarkError> {
		let (_, who) = writer::<T>()?;
		let lease = live_lease::<T>(&who)?;
		let keys = n.min(T::MaxKeysPerLease::get());
		let value = vec![4; T::MaxValueLen::get() as usize];
		for j in 0..keys {
			Pallet::<T>::do_put(
				who.clone(),
				key(0x60, j, T::MaxKeyLen::get()),
				value.clone(),
				Some(lease),
			)?;
		}
		Pallet::<T>::do_revoke_lease(who, lease)?;

		#[block]
		{
			Pallet::<T>::reap_ended_keys(n);
		}

		assert_eq!(LeaseKeys::<T>::iter_key_prefix(lease).count() as u32, keys.saturating_sub(n));
		Ok(())
	}

	#[benchmark]
	fn reclaim_keys(n: Linear<0, { T::MaxCleanupPerBlock::get() }>) -> Result<(), BenchmarkError> {
		let (_, who) = writer::<T>()?;
		let lease = live_lease::<T>(&who)?;
		let value = vec![4; T::MaxValueLen::get() as usize];
		for j in 0..n {
			let attach = (j < T::MaxKeysPerLease::get()).then_some(lease);
			Pallet::<T>::do_put(
				who.clone(),
				key(0x70, j, T::MaxKeyLen::get()),
				value.clone(),
				attach,
			)?;
		}
		let revision = Pallet::<T>::next_revision().map_err(DispatchError::from)?;
		CurrentRevision::<T>::put(revision);
		RangeTombstones::<T>::put(BoundedVec::truncate_from(vec![RangeTombstone {
			start: BoundedVec::truncate_from(vec![0x70]),
			end: Some(BoundedVec::truncate_from(vec![0x71])),
			revision,
			cursor: None,
			by: None,
		}]));

		#[block]
		{
			Pallet::<T>::reclaim_tombstoned(n);
		}

		assert_eq!(KeyValues::<T>::iter().count(), 0);
		Ok(())
	}

	#[benchmark]
	fn set_default_quota() -> Result<(), BenchmarkError> {
		let origin =
			T::QuotaOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;
		let quota = Quota { leases: 7, instances: 7, keys: 7 };

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, quota);

		assert_eq!(DefaultQuota::<T>::get(), quota);
		Ok(())
	}

	#[benchmark]
	fn set_account_quota() -> Result<(), BenchmarkError> {
		let origin =
			T::QuotaOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;
		let who: T::AccountId = account("member", 0, 0);
		let quota = Quota { leases: 7, instances: 7, keys: 7 };

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, who.clone(), Some(quota));

		assert_eq!(QuotaOverrides::<T>::get(&who), Some(quota));
		Ok(())
	}

	impl_benchmark_test_suite!(Pallet, crate::mock::new_test_ext(), crate::mock::Test);
}
