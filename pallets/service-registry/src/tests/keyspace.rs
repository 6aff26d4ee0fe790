//! The key space: put, delete_range, range reads, ordering and range tombstones.

use super::*;
use crate::keyspace::prefix_end;
use codec::{Decode, Encode};
use frame_support::{assert_noop, assert_ok, traits::ConstU32};

fn range(request: RangeRequest) -> RangeResponse {
	ServiceRegistry::range(request)
}

#[test]
fn a_fresh_chain_is_at_revision_one() {
	new_test_ext().execute_with(|| {
		assert_eq!(revision(), 1);
		assert_eq!(
			range(RangeRequest { key: vec![0], range_end: vec![0], ..Default::default() }).revision,
			1
		);
	});
}

#[test]
fn put_creates_a_key_at_version_one() {
	new_test_ext().execute_with(|| {
		put(ALICE, b"/a", b"1", None);
		let kv = get(b"/a").unwrap();
		assert_eq!((kv.create_revision, kv.mod_revision, kv.version), (2, 2, 1));
		assert_eq!(kv.value, b"1".to_vec());
		assert_eq!(kv.lease, 0);
		assert_eq!(revision(), 2);
		assert!(has_event(Event::KeyPut {
			revision: 2,
			key: bounded(b"/a"),
			value: bounded(b"1"),
			lease: None,
			who: ALICE
		}));
	});
}

#[test]
fn put_again_bumps_version_and_keeps_create_revision() {
	new_test_ext().execute_with(|| {
		put(ALICE, b"/a", b"1", None);
		put(BOB, b"/a", b"2", None);
		let kv = get(b"/a").unwrap();
		assert_eq!((kv.create_revision, kv.mod_revision, kv.version), (2, 3, 2));
		assert_eq!(kv.value, b"2".to_vec());
	});
}

#[test]
fn delete_resets_the_version_and_a_new_put_creates_anew() {
	new_test_ext().execute_with(|| {
		put(ALICE, b"/a", b"1", None);
		put(ALICE, b"/a", b"2", None);
		delete(ALICE, b"/a", b"");
		assert!(get(b"/a").is_none());
		assert_eq!(revision(), 4);
		put(ALICE, b"/a", b"3", None);
		let kv = get(b"/a").unwrap();
		assert_eq!((kv.create_revision, kv.mod_revision, kv.version), (5, 5, 1));
	});
}

#[test]
fn writes_in_one_block_each_take_their_own_revision() {
	new_test_ext().execute_with(|| {
		put(ALICE, b"/a", b"1", None);
		put(BOB, b"/b", b"1", None);
		put(CAROL, b"/a", b"2", None);
		let revisions: Vec<_> = events()
			.into_iter()
			.filter_map(|e| match e {
				Event::KeyPut { revision, .. } => Some(revision),
				_ => None,
			})
			.collect();
		assert_eq!(revisions, vec![2, 3, 4]);
	});
}

#[test]
fn keys_under_the_reserved_prefix_cannot_be_written() {
	new_test_ext().execute_with(|| {
		assert_noop!(
			ServiceRegistry::put(
				origin(ALICE),
				b"/_registry/services/web/1".to_vec(),
				b"x".to_vec(),
				None
			),
			Error::<Test>::ReservedKey
		);
		assert_noop!(
			ServiceRegistry::txn(
				origin(ALICE),
				vec![],
				vec![TxnOp::Put { key: b"/_registry/x".to_vec(), value: vec![], lease: None }],
				vec![]
			),
			Error::<Test>::ReservedKey
		);
		// Only the prefix itself is reserved: a neighbour is an ordinary key, and deleting a
		// range across the prefix deletes the ordinary keys in it.
		assert_ok!(ServiceRegistry::put(
			origin(ALICE),
			b"/_registry".to_vec(),
			b"x".to_vec(),
			None
		));
		assert_ok!(ServiceRegistry::delete_range(origin(ALICE), b"/".to_vec(), b"0".to_vec()));
		assert_eq!(revision(), 3);
		assert!(range(RangeRequest { key: b"/_registry".to_vec(), ..Default::default() })
			.kvs
			.is_empty());
	});
}

#[test]
fn put_refuses_empty_and_oversized_keys_and_values() {
	new_test_ext().execute_with(|| {
		assert_noop!(
			ServiceRegistry::put(origin(ALICE), vec![], vec![], None),
			Error::<Test>::EmptyKey
		);
		assert_noop!(
			ServiceRegistry::put(origin(ALICE), vec![1; 1025], vec![], None),
			Error::<Test>::KeyTooLong
		);
		assert_noop!(
			ServiceRegistry::put(origin(ALICE), b"/a".to_vec(), vec![0; 65_537], None),
			Error::<Test>::ValueTooLong
		);
		assert_ok!(ServiceRegistry::put(origin(ALICE), vec![1; 1024], vec![0; 65_536], None));
	});
}

#[test]
fn put_with_an_unknown_lease_fails() {
	new_test_ext().execute_with(|| {
		assert_noop!(
			ServiceRegistry::put(origin(ALICE), b"/a".to_vec(), vec![], Some(4)),
			Error::<Test>::LeaseNotFound
		);
	});
}

#[test]
fn put_with_an_expired_lease_fails() {
	new_test_ext().execute_with(|| {
		let lease = grant(ALICE, 1);
		Now::set(START_MS + 1_000);
		assert_noop!(
			ServiceRegistry::put(origin(ALICE), b"/a".to_vec(), vec![], Some(lease)),
			Error::<Test>::LeaseExpired
		);
	});
}

#[test]
fn put_refuses_more_keys_than_the_lease_bound() {
	new_test_ext().execute_with(|| {
		MaxKeysPerLease::set(2);
		let lease = grant(ALICE, 10);
		put(ALICE, b"/a", b"", Some(lease));
		put(ALICE, b"/b", b"", Some(lease));
		// Re-putting an attached key does not count twice.
		put(ALICE, b"/b", b"x", Some(lease));
		assert_noop!(
			ServiceRegistry::put(origin(ALICE), b"/c".to_vec(), vec![], Some(lease)),
			Error::<Test>::TooManyLeaseKeys
		);
	});
}

#[test]
fn put_moves_a_key_between_leases() {
	new_test_ext().execute_with(|| {
		let first = grant(ALICE, 10);
		let second = grant(ALICE, 10);
		put(ALICE, b"/a", b"", Some(first));
		put(ALICE, b"/a", b"", Some(second));
		assert_eq!(Leases::<Test>::get(first).unwrap().keys, 0);
		assert_eq!(Leases::<Test>::get(second).unwrap().keys, 1);
		assert_eq!(get(b"/a").unwrap().lease, second);
		check_invariants();
		assert_ok!(ServiceRegistry::revoke_lease(origin(ALICE), first));
		assert!(get(b"/a").is_some());
	});
}

#[test]
fn delete_matching_nothing_leaves_the_revision_and_emits_nothing() {
	new_test_ext().execute_with(|| {
		put(ALICE, b"/a", b"", None);
		System::reset_events();
		delete(ALICE, b"/b", b"");
		delete(ALICE, b"/x", b"/z");
		assert_eq!(revision(), 2);
		assert!(events().is_empty());
	});
}

#[test]
fn delete_range_refuses_bad_keys() {
	new_test_ext().execute_with(|| {
		assert_noop!(
			ServiceRegistry::delete_range(origin(ALICE), vec![], vec![]),
			Error::<Test>::EmptyKey
		);
		assert_noop!(
			ServiceRegistry::delete_range(origin(ALICE), vec![1; 1025], vec![]),
			Error::<Test>::KeyTooLong
		);
		assert_noop!(
			ServiceRegistry::delete_range(origin(ALICE), b"/a".to_vec(), vec![1; 1025]),
			Error::<Test>::KeyTooLong
		);
	});
}

#[test]
fn delete_of_a_prefix_deletes_exactly_the_prefix_at_one_revision() {
	new_test_ext().execute_with(|| {
		for key in [&b"/a"[..], b"/a/b", b"/a/c", b"/a0", b"/b"] {
			put(ALICE, key, b"", None);
		}
		delete(BOB, b"/a/", &prefix_end(b"/a/"));
		assert_eq!(all_keys(), vec![b"/a".to_vec(), b"/a0".to_vec(), b"/b".to_vec()]);
		assert_eq!(revision(), 7);
		assert!(has_event(Event::KeysDeleted {
			revision: 7,
			key: bounded(b"/a/"),
			range_end: bounded(b"/a0"),
			who: BOB
		}));
	});
}

#[test]
fn delete_with_range_end_zero_deletes_every_key_from_the_start() {
	new_test_ext().execute_with(|| {
		for key in [&b"/a"[..], b"/b", b"/c"] {
			put(ALICE, key, b"", None);
		}
		delete(ALICE, b"/b", &[0]);
		assert_eq!(all_keys(), vec![b"/a".to_vec()]);
	});
}

#[test]
fn keys_are_read_in_byte_order_whatever_their_length() {
	new_test_ext().execute_with(|| {
		let mut stored: Vec<Vec<u8>> = vec![
			b"/b".to_vec(),
			b"/a0".to_vec(),
			b"/a/b".to_vec(),
			b"/a".to_vec(),
			b"a".to_vec(),
			b"/".to_vec(),
			b"/a\0".to_vec(),
			b"/a\0\0".to_vec(),
			b"/a\x01".to_vec(),
			vec![0],
			vec![0, 0],
			vec![0xFF],
			vec![0xFF, 0],
			b"/a/b/c/d/e/f/g".to_vec(),
			vec![b'/'; 300],
		];
		for key in &stored {
			put(ALICE, key, b"", None);
		}
		stored.sort();
		assert_eq!(all_keys(), stored);
	});
}

#[test]
fn prefix_reads_return_exactly_the_prefix_in_order() {
	new_test_ext().execute_with(|| {
		for key in [&b"/b"[..], b"/a0", b"/a/b", b"/a", b"/a/c/d", b"/a\0"] {
			put(ALICE, key, b"", None);
		}
		assert_eq!(
			keys(b"/a", &prefix_end(b"/a")),
			vec![
				b"/a".to_vec(),
				b"/a\0".to_vec(),
				b"/a/b".to_vec(),
				b"/a/c/d".to_vec(),
				b"/a0".to_vec()
			]
		);
		assert_eq!(keys(b"/a/", &prefix_end(b"/a/")), vec![b"/a/b".to_vec(), b"/a/c/d".to_vec()]);
		assert_eq!(keys(b"/a", b""), vec![b"/a".to_vec()]);
		assert_eq!(keys(b"/a0", b"/b"), vec![b"/a0".to_vec()]);
	});
}

#[test]
fn prefix_end_follows_etcd() {
	assert_eq!(prefix_end(b"/a"), b"/b".to_vec());
	assert_eq!(prefix_end(&[b'a', 0xFF]), b"b".to_vec());
	assert_eq!(prefix_end(&[0xFF, 0xFF]), vec![0]);
}

#[test]
fn range_with_an_end_before_its_start_is_empty() {
	new_test_ext().execute_with(|| {
		put(ALICE, b"/a", b"", None);
		put(ALICE, b"/b", b"", None);
		assert!(keys(b"/b", b"/a").is_empty());
	});
}

#[test]
fn range_limit_sets_more_and_count_counts_the_whole_range() {
	new_test_ext().execute_with(|| {
		for key in [&b"/k/1"[..], b"/k/2", b"/k/3", b"/l"] {
			put(ALICE, key, b"v", None);
		}
		let response = range(RangeRequest {
			key: b"/k/".to_vec(),
			range_end: prefix_end(b"/k/"),
			limit: 2,
			..Default::default()
		});
		assert_eq!(
			response.kvs.iter().map(|kv| kv.key.clone()).collect::<Vec<_>>(),
			vec![b"/k/1".to_vec(), b"/k/2".to_vec()]
		);
		assert!(response.more);
		assert_eq!(response.count, 3);
		assert_eq!(response.revision, 5);
	});
}

#[test]
fn range_filters_on_revisions_after_counting() {
	new_test_ext().execute_with(|| {
		put(ALICE, b"/a", b"", None); // 2
		put(ALICE, b"/b", b"", None); // 3
		put(ALICE, b"/c", b"", None); // 4
		put(ALICE, b"/a", b"x", None); // 5
		let response = range(RangeRequest {
			key: vec![0],
			range_end: vec![0],
			min_mod_revision: 3,
			max_mod_revision: 4,
			..Default::default()
		});
		assert_eq!(
			response.kvs.iter().map(|kv| kv.key.clone()).collect::<Vec<_>>(),
			vec![b"/b".to_vec(), b"/c".to_vec()]
		);
		assert_eq!(response.count, 3);
		let created_first = range(RangeRequest {
			key: vec![0],
			range_end: vec![0],
			max_create_revision: 2,
			..Default::default()
		});
		assert_eq!(created_first.kvs.len(), 1);
		let created_later = range(RangeRequest {
			key: vec![0],
			range_end: vec![0],
			min_create_revision: 3,
			..Default::default()
		});
		assert_eq!(created_later.kvs.len(), 2);
	});
}

#[test]
fn range_count_only_and_keys_only() {
	new_test_ext().execute_with(|| {
		put(ALICE, b"/a", b"value", None);
		let count = range(RangeRequest {
			key: vec![0],
			range_end: vec![0],
			count_only: true,
			..Default::default()
		});
		assert_eq!((count.count, count.kvs.len(), count.more), (1, 0, false));
		let keys_only =
			range(RangeRequest { key: b"/a".to_vec(), keys_only: true, ..Default::default() });
		assert!(keys_only.kvs[0].value.is_empty());
	});
}

#[test]
fn range_of_an_empty_key_is_empty() {
	new_test_ext().execute_with(|| {
		put(ALICE, b"/a", b"", None);
		assert!(range(RangeRequest { key: vec![], range_end: vec![0], ..Default::default() })
			.kvs
			.is_empty());
	});
}

#[test]
fn a_large_delete_takes_one_revision_and_hides_every_key_at_once() {
	new_test_ext().execute_with(|| {
		for i in 0..10u8 {
			put(ALICE, &[b'/', b'p', b'/', i], b"", None);
		}
		put(ALICE, b"/q", b"", None);
		let before = revision();
		delete(ALICE, b"/p/", &prefix_end(b"/p/"));
		assert_eq!(revision(), before + 1);
		assert_eq!(all_keys(), vec![b"/q".to_vec()]);
		assert_eq!(RangeTombstones::<Test>::get().len(), 1);
		// Storage is reclaimed by later blocks, then the tombstone goes.
		next_block(250);
		assert!(RangeTombstones::<Test>::get().is_empty());
		assert_eq!(KeyValues::<Test>::iter().count(), 1);
		check_invariants();
	});
}

#[test]
fn a_key_put_under_a_pending_tombstone_is_created_anew_and_survives() {
	new_test_ext().execute_with(|| {
		for i in 0..10u8 {
			put(ALICE, &[b'/', b'p', b'/', i], b"", None);
		}
		put(ALICE, &[b'/', b'p', b'/', 3], b"", None);
		delete(ALICE, b"/p/", &prefix_end(b"/p/"));
		put(ALICE, &[b'/', b'p', b'/', 3], b"new", None);
		let kv = get(&[b'/', b'p', b'/', 3]).unwrap();
		assert_eq!((kv.version, kv.create_revision), (1, revision()));
		next_block(250);
		assert_eq!(all_keys(), vec![vec![b'/', b'p', b'/', 3]]);
		assert_eq!(KeyValues::<Test>::iter().count(), 1);
	});
}

#[test]
fn deleting_a_range_again_before_reclamation_changes_nothing() {
	new_test_ext().execute_with(|| {
		for i in 0..10u8 {
			put(ALICE, &[b'/', b'p', b'/', i], b"", None);
		}
		delete(ALICE, b"/p/", &prefix_end(b"/p/"));
		let before = revision();
		delete(ALICE, b"/p/", &prefix_end(b"/p/"));
		delete(ALICE, &[b'/', b'p', b'/', 4], b"");
		assert_eq!(revision(), before);
		assert_eq!(RangeTombstones::<Test>::get().len(), 1);
	});
}

#[test]
fn too_many_pending_tombstones_refuse_another_large_delete() {
	new_test_ext().execute_with(|| {
		for prefix in 0..5u8 {
			for i in 0..5u8 {
				put(ALICE, &[prefix, i], b"", None);
			}
		}
		for prefix in 0..4u8 {
			delete(ALICE, &[prefix], &[prefix + 1]);
		}
		assert_noop!(
			ServiceRegistry::delete_range(origin(ALICE), vec![4], vec![5]),
			Error::<Test>::TooManyRangeTombstones
		);
		// A small delete still works.
		delete(ALICE, &[4, 0], b"");
	});
}

#[test]
fn one_account_holds_at_most_its_share_of_the_tombstones() {
	new_test_ext().execute_with(|| {
		MaxTombstonesPerAccount::set(2);
		for prefix in 0..4u8 {
			for i in 0..5u8 {
				put(ALICE, &[prefix, i], b"", None);
			}
		}
		delete(ALICE, &[0], &[1]);
		delete(ALICE, &[1], &[2]);
		// Alice's share is used: her third large delete is refused, and nothing changes.
		assert_noop!(
			ServiceRegistry::delete_range(origin(ALICE), vec![2], vec![3]),
			Error::<Test>::TooManyRangeTombstones
		);
		// Bob still deletes a large range (of Alice's keys: the key space has no owners).
		delete(BOB, &[2], &[3]);
		let owners: Vec<_> = RangeTombstones::<Test>::get().into_iter().map(|t| t.by).collect();
		assert_eq!(owners, [Some(ALICE), Some(ALICE), Some(BOB)]);
		// Once hers are reclaimed, Alice deletes large ranges again.
		for _ in 0..20 {
			if RangeTombstones::<Test>::get().iter().all(|t| t.by != Some(ALICE)) {
				break;
			}
			next_block(250);
		}
		delete(ALICE, &[3], &[4]);
	});
}

#[test]
fn tombstones_stored_before_version_1_are_kept_and_name_nobody() {
	use frame_support::traits::{GetStorageVersion, OnRuntimeUpgrade, StorageVersion};
	new_test_ext().execute_with(|| {
		for i in 0..6u8 {
			put(ALICE, &[b'/', i], b"", None);
		}
		// A tombstone as version 0 stored it, over keys it hides.
		let old = vec![crate::migrations::v1::TombstoneV0::<ConstU32<1024>> {
			start: BoundedVec::truncate_from(vec![b'/']),
			end: Some(BoundedVec::truncate_from(vec![b'0'])),
			revision: revision() + 1,
			cursor: None,
		}];
		frame_support::storage::unhashed::put(&RangeTombstones::<Test>::hashed_key(), &old);
		CurrentRevision::<Test>::put(revision() + 1);
		StorageVersion::new(0).put::<ServiceRegistry>();
		crate::migrations::v1::MigrateV0ToV1::<Test>::on_runtime_upgrade();
		assert_eq!(ServiceRegistry::on_chain_storage_version(), StorageVersion::new(1));
		let tombstones = RangeTombstones::<Test>::get();
		assert_eq!(tombstones.len(), 1);
		assert_eq!((&tombstones[0].start[..], tombstones[0].by), (&b"/"[..], None));
		// The keys it covers stay deleted.
		let all = ServiceRegistry::range(RangeRequest {
			key: vec![0],
			range_end: vec![0],
			..Default::default()
		});
		assert_eq!(all.count, 0);
	});
}

#[test]
fn empty_elections_kept_by_version_0_are_removed_above_their_terms() {
	use frame_support::traits::{OnRuntimeUpgrade, StorageVersion};
	new_test_ext().execute_with(|| {
		// Version 0 kept an election once its last candidate left, at its last term.
		let lease = grant(ALICE, 10);
		assert_ok!(ServiceRegistry::campaign(origin(ALICE), b"live".to_vec(), vec![], lease));
		Elections::<Test>::insert(
			bounded::<ConstU32<32>>(b"left"),
			Election { candidates: Default::default(), term: 7 },
		);
		StorageVersion::new(0).put::<ServiceRegistry>();
		crate::migrations::v1::MigrateV0ToV1::<Test>::on_runtime_upgrade();
		assert!(ServiceRegistry::election(b"left".to_vec()).is_none());
		assert!(ServiceRegistry::election(b"live".to_vec()).is_some());
		check_invariants();
		// The name, used again, leads above the term it had.
		assert_ok!(ServiceRegistry::campaign(
			origin(BOB),
			b"left".to_vec(),
			vec![],
			grant(BOB, 10)
		));
		assert_eq!(ServiceRegistry::election(b"left".to_vec()).map(|e| e.term), Some(8));
	});
}

#[test]
fn a_tombstoned_key_of_a_lease_is_reclaimed_once() {
	new_test_ext().execute_with(|| {
		let lease = grant(ALICE, 10);
		for i in 0..6u8 {
			put(ALICE, &[b'/', i], b"", Some(lease));
		}
		delete(ALICE, b"/", &prefix_end(b"/"));
		assert_eq!(Leases::<Test>::get(lease).unwrap().keys, 6);
		next_block(250);
		assert_eq!(Leases::<Test>::get(lease).unwrap().keys, 0);
		check_invariants();
	});
}

#[test]
fn ordered_keys_round_trip_and_keep_byte_order() {
	type Key = OrderedKey<ConstU32<16>>;
	let raws: Vec<Vec<u8>> = vec![
		vec![],
		vec![0],
		vec![0, 0],
		vec![0, 1],
		vec![1],
		vec![0xFF],
		vec![0xFF, 0],
		b"/a".to_vec(),
		b"/a/b".to_vec(),
	];
	let mut encoded: Vec<(Vec<u8>, Vec<u8>)> = raws
		.iter()
		.map(|raw| {
			let key = Key::from_raw(raw).unwrap();
			let bytes = key.encode();
			assert_eq!(Key::decode(&mut &bytes[..]).unwrap().raw(), &raw[..]);
			(bytes, raw.clone())
		})
		.collect();
	encoded.sort();
	let mut sorted = raws.clone();
	sorted.sort();
	assert_eq!(encoded.into_iter().map(|(_, raw)| raw).collect::<Vec<_>>(), sorted);
	assert!(Key::decode(&mut &[1, 0, 7][..]).is_err());
	assert!(Key::from_raw(&[0; 17]).is_none());
}

#[test]
fn a_delete_past_the_probe_bound_assumes_it_deletes_something() {
	new_test_ext().execute_with(|| {
		// Documented corner case: the range's first records are all deleted but not reclaimed,
		// more of them than the call may step over.
		MaxProbe::set(2);
		for i in 0..10u8 {
			put(ALICE, &[b'/', b'p', b'/', i], b"", None);
		}
		delete(ALICE, b"/p/", &prefix_end(b"/p/"));
		let before = revision();
		delete(ALICE, b"/p/", &prefix_end(b"/p/"));
		assert_eq!(revision(), before + 1);
		assert!(all_keys().is_empty());
		// A range with a live key behind the dead ones is found exactly within the bound.
		MaxProbe::set(64);
		put(ALICE, &[b'/', b'p', b'/', 20], b"", None);
		let before = revision();
		delete(ALICE, b"/p/", &prefix_end(b"/p/"));
		assert_eq!(revision(), before + 1);
		assert!(all_keys().is_empty());
	});
}

#[test]
fn a_put_that_touches_no_lease_is_charged_without_lease_bookkeeping() {
	new_test_ext().execute_with(|| {
		let actual = |result: frame_support::dispatch::DispatchResultWithPostInfo| {
			result.unwrap().actual_weight.unwrap()
		};
		let plain = actual(ServiceRegistry::put(origin(ALICE), b"/a".to_vec(), vec![1; 10], None));
		assert_eq!(plain, <() as WeightInfo>::put(2, 10, 0));
		let lease = grant(ALICE, 10);
		let leased =
			actual(ServiceRegistry::put(origin(ALICE), b"/a".to_vec(), vec![1; 10], Some(lease)));
		assert_eq!(leased, <() as WeightInfo>::put(2, 10, 1));
		let again =
			actual(ServiceRegistry::put(origin(ALICE), b"/a".to_vec(), vec![1; 10], Some(lease)));
		assert_eq!(again, <() as WeightInfo>::put(2, 10, 0));
	});
}
