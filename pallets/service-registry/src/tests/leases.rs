//! Leases: grant, keep-alive, revoke, expiry in chain time.

use super::*;
use frame_support::{assert_noop, assert_ok};
use sp_runtime::DispatchError;

#[test]
fn grant_lease_gives_sequential_ids_from_one() {
	new_test_ext().execute_with(|| {
		assert_eq!(grant(ALICE, 10), 1);
		assert_eq!(grant(BOB, 10), 2);
		assert_eq!(grant(ALICE, 10), 3);
		check_invariants();
	});
}

#[test]
fn grant_lease_sets_expiry_in_chain_time_and_records_the_granter() {
	new_test_ext().execute_with(|| {
		let id = grant(ALICE, 5);
		let lease = Leases::<Test>::get(id).unwrap();
		assert_eq!(lease.expires_at_ms, START_MS + 5_000);
		assert_eq!(lease.granted_by, ALICE);
		assert_eq!(lease.ttl_secs, 5);
		assert!(has_event(Event::LeaseGranted {
			lease: id,
			ttl_secs: 5,
			expires_at_ms: START_MS + 5_000,
			who: ALICE
		}));
	});
}

#[test]
fn grant_lease_raises_a_short_ttl_to_the_minimum() {
	new_test_ext().execute_with(|| {
		let id = grant(ALICE, 0);
		assert_eq!(Leases::<Test>::get(id).unwrap().ttl_secs, 1);
	});
}

#[test]
fn grant_lease_refuses_a_ttl_above_the_maximum() {
	new_test_ext().execute_with(|| {
		assert_noop!(
			ServiceRegistry::grant_lease(origin(ALICE), 86_401),
			Error::<Test>::LeaseTtlTooLarge
		);
	});
}

#[test]
fn grant_lease_needs_a_signed_origin() {
	new_test_ext().execute_with(|| {
		assert_noop!(
			ServiceRegistry::grant_lease(RuntimeOrigin::none(), 5),
			DispatchError::BadOrigin
		);
	});
}

#[test]
fn grant_lease_refuses_ids_beyond_i64_max() {
	new_test_ext().execute_with(|| {
		NextLeaseId::<Test>::put(MAX_LEASE_ID + 1);
		assert_noop!(
			ServiceRegistry::grant_lease(origin(ALICE), 5),
			Error::<Test>::LeaseIdsExhausted
		);
	});
}

#[test]
fn keep_alive_sets_expiry_to_now_plus_ttl() {
	new_test_ext().execute_with(|| {
		let id = grant(ALICE, 5);
		next_block(3_000);
		assert_ok!(ServiceRegistry::keep_alive(origin(ALICE), id));
		assert_eq!(Leases::<Test>::get(id).unwrap().expires_at_ms, START_MS + 8_000);
		check_invariants();
	});
}

#[test]
fn keep_alive_by_another_account_works_and_is_recorded() {
	new_test_ext().execute_with(|| {
		let id = grant(ALICE, 5);
		assert_ok!(ServiceRegistry::keep_alive(origin(BOB), id));
		assert_eq!(Leases::<Test>::get(id).unwrap().last_kept_alive_by, BOB);
		assert!(has_event(Event::LeaseKeptAlive {
			lease: id,
			expires_at_ms: START_MS + 5_000,
			who: BOB
		}));
	});
}

#[test]
fn kept_alive_lease_survives_its_original_expiry() {
	new_test_ext().execute_with(|| {
		let id = grant(ALICE, 2);
		next_block(1_500);
		assert_ok!(ServiceRegistry::keep_alive(origin(ALICE), id));
		next_block(1_000);
		assert!(Leases::<Test>::contains_key(id));
		next_block(1_000);
		assert!(!Leases::<Test>::contains_key(id));
		check_invariants();
	});
}

#[test]
fn keep_alive_of_an_unknown_lease_fails() {
	new_test_ext().execute_with(|| {
		assert_noop!(ServiceRegistry::keep_alive(origin(ALICE), 7), Error::<Test>::LeaseNotFound);
	});
}

#[test]
fn keep_alive_of_an_expired_lease_fails() {
	new_test_ext().execute_with(|| {
		let id = grant(ALICE, 1);
		// The clock passes the expiry; the sweep has not run yet.
		Now::set(START_MS + 1_000);
		assert_noop!(ServiceRegistry::keep_alive(origin(ALICE), id), Error::<Test>::LeaseExpired);
	});
}

#[test]
fn revoke_lease_deletes_its_keys_at_one_revision() {
	new_test_ext().execute_with(|| {
		let id = grant(ALICE, 10);
		put(ALICE, b"/a", b"1", Some(id));
		put(ALICE, b"/b", b"2", Some(id));
		put(ALICE, b"/c", b"3", None);
		let before = revision();
		assert_ok!(ServiceRegistry::revoke_lease(origin(BOB), id));
		assert_eq!(revision(), before + 1);
		assert_eq!(all_keys(), vec![b"/c".to_vec()]);
		assert!(has_event(Event::LeaseEnded {
			lease: id,
			reason: LeaseEndReason::Revoked,
			revision: Some(before + 1),
			who: Some(BOB),
		}));
		check_invariants();
	});
}

#[test]
fn revoke_lease_without_keys_leaves_the_revision() {
	new_test_ext().execute_with(|| {
		let id = grant(ALICE, 10);
		let before = revision();
		assert_ok!(ServiceRegistry::revoke_lease(origin(ALICE), id));
		assert_eq!(revision(), before);
		assert!(has_event(Event::LeaseEnded {
			lease: id,
			reason: LeaseEndReason::Revoked,
			revision: None,
			who: Some(ALICE),
		}));
		assert!(!Leases::<Test>::contains_key(id));
	});
}

#[test]
fn revoke_of_an_unknown_lease_fails() {
	new_test_ext().execute_with(|| {
		assert_noop!(ServiceRegistry::revoke_lease(origin(ALICE), 3), Error::<Test>::LeaseNotFound);
	});
}

#[test]
fn revoke_of_an_expired_lease_fails() {
	new_test_ext().execute_with(|| {
		let id = grant(ALICE, 1);
		Now::set(START_MS + 1_000);
		assert_noop!(ServiceRegistry::revoke_lease(origin(ALICE), id), Error::<Test>::LeaseExpired);
	});
}

#[test]
fn revoked_lease_cannot_be_used_again() {
	new_test_ext().execute_with(|| {
		let id = grant(ALICE, 10);
		assert_ok!(ServiceRegistry::revoke_lease(origin(ALICE), id));
		assert_noop!(
			ServiceRegistry::put(origin(ALICE), b"/k".to_vec(), vec![], Some(id)),
			Error::<Test>::LeaseNotFound
		);
	});
}

#[test]
fn lease_ends_at_its_ttl_and_not_before() {
	new_test_ext().execute_with(|| {
		let id = grant(ALICE, 2);
		put(ALICE, b"/k", b"v", Some(id));
		next_block(1_999);
		assert!(Leases::<Test>::contains_key(id));
		assert!(get(b"/k").is_some());
		next_block(1);
		assert!(!Leases::<Test>::contains_key(id));
		assert!(get(b"/k").is_none());
		assert!(has_event(Event::LeaseEnded {
			lease: id,
			reason: LeaseEndReason::Expired,
			revision: Some(3),
			who: None,
		}));
		check_invariants();
	});
}

#[test]
fn skipped_slots_do_not_stretch_a_lease() {
	new_test_ext().execute_with(|| {
		let id = grant(ALICE, 2);
		// One block, but the clock jumped 5 s (slots were skipped): the lease has ended.
		next_block(5_000);
		assert!(!Leases::<Test>::contains_key(id));
		assert_eq!(System::block_number(), 2);
	});
}

#[test]
fn expiry_removes_exactly_the_attached_items() {
	new_test_ext().execute_with(|| {
		let short = grant(ALICE, 2);
		let long = grant(BOB, 60);
		put(ALICE, b"/short", b"1", Some(short));
		put(BOB, b"/long", b"2", Some(long));
		put(BOB, b"/free", b"3", None);
		register(ALICE, b"svc", b"a", short);
		register(BOB, b"svc", b"b", long);
		assert_ok!(ServiceRegistry::campaign(origin(ALICE), b"e1".to_vec(), b"a".to_vec(), short));
		assert_ok!(ServiceRegistry::campaign(origin(BOB), b"e1".to_vec(), b"b".to_vec(), long));

		next_block(2_000);

		assert_eq!(all_keys(), vec![b"/free".to_vec(), b"/long".to_vec()]);
		let instances: Vec<_> = ServiceRegistry::instances(b"svc".to_vec(), None)
			.into_iter()
			.map(|i| i.instance_id)
			.collect();
		assert_eq!(instances, vec![b"b".to_vec()]);
		let election = ServiceRegistry::election(b"e1".to_vec()).unwrap();
		assert_eq!(election.leader.map(|c| c.who), Some(BOB));
		assert_eq!(election.candidates.len(), 1);
		check_invariants();
	});
}

#[test]
fn expired_lease_is_gone_for_readers_before_the_sweep() {
	new_test_ext().execute_with(|| {
		let id = grant(ALICE, 2);
		put(ALICE, b"/k", b"v", Some(id));
		register(ALICE, b"svc", b"a", id);
		Now::set(START_MS + 2_000);
		assert!(get(b"/k").is_none());
		assert!(ServiceRegistry::instances(b"svc".to_vec(), None).is_empty());
		assert!(ServiceRegistry::lease_time_to_live(id, false).is_none());
		assert!(ServiceRegistry::leases().is_empty());
		// Still stored until the sweep.
		assert!(Leases::<Test>::contains_key(id));
	});
}

#[test]
fn lease_time_to_live_reports_remaining_time_and_attachments() {
	new_test_ext().execute_with(|| {
		let id = grant(ALICE, 10);
		put(ALICE, b"/k", b"v", Some(id));
		register(ALICE, b"svc", b"a", id);
		assert_ok!(ServiceRegistry::campaign(origin(ALICE), b"e".to_vec(), vec![], id));
		next_block(4_000);
		let info = ServiceRegistry::lease_time_to_live(id, true).unwrap();
		assert_eq!(info.remaining_ms, 6_000);
		assert_eq!(info.ttl_secs, 10);
		assert_eq!(info.keys, vec![b"/k".to_vec()]);
		assert_eq!(info.instances, vec![(b"svc".to_vec(), b"a".to_vec())]);
		assert_eq!(info.elections, vec![b"e".to_vec()]);
		assert_eq!((info.key_count, info.instance_count, info.candidacy_count), (1, 1, 1));
		assert_eq!(ServiceRegistry::lease_keys(id), vec![b"/k".to_vec()]);
	});
}

#[test]
fn leases_lists_live_leases_in_order() {
	new_test_ext().execute_with(|| {
		let a = grant(ALICE, 10);
		let b = grant(ALICE, 1);
		let c = grant(ALICE, 10);
		assert_eq!(ServiceRegistry::leases(), vec![a, b, c]);
		next_block(1_000);
		assert_eq!(ServiceRegistry::leases(), vec![a, c]);
	});
}

#[test]
fn lease_end_takes_no_revision_when_its_keys_were_range_deleted() {
	new_test_ext().execute_with(|| {
		let id = grant(ALICE, 10);
		put(ALICE, b"/r/0", b"", Some(id));
		for i in 1..6u8 {
			put(ALICE, &[b'/', b'r', b'/', b'0' + i], b"", None);
		}
		// More keys than MaxInlineDeletes (4): a tombstone, not yet reclaimed.
		delete(ALICE, b"/r/", b"/r0");
		assert_eq!(RangeTombstones::<Test>::get().len(), 1);
		let before = revision();
		assert_ok!(ServiceRegistry::revoke_lease(origin(ALICE), id));
		assert_eq!(revision(), before);
		check_invariants();
	});
}

#[test]
fn lease_end_takes_a_revision_when_one_of_its_keys_survives_a_range_delete() {
	new_test_ext().execute_with(|| {
		let id = grant(ALICE, 10);
		put(ALICE, b"/r/0", b"", Some(id));
		for i in 1..6u8 {
			put(ALICE, &[b'/', b'r', b'/', b'0' + i], b"", None);
		}
		put(ALICE, b"/z", b"", Some(id));
		delete(ALICE, b"/r/", b"/r0");
		assert_eq!(ServiceRegistry::lease_keys(id), vec![b"/z".to_vec()]);
		let before = revision();
		assert_ok!(ServiceRegistry::revoke_lease(origin(ALICE), id));
		assert_eq!(revision(), before + 1);
		assert!(all_keys().is_empty());
		check_invariants();
	});
}

#[test]
fn lease_end_past_the_probe_bound_assumes_a_key_is_left() {
	new_test_ext().execute_with(|| {
		// Documented corner case: more tombstoned keys than `MaxProbe` to step over.
		MaxProbe::set(2);
		let id = grant(ALICE, 10);
		for i in 0..6u8 {
			put(ALICE, &[b'/', b'r', b'/', i], b"", Some(id));
		}
		delete(ALICE, b"/r/", b"/r0");
		let before = revision();
		assert_ok!(ServiceRegistry::revoke_lease(origin(ALICE), id));
		assert_eq!(revision(), before + 1);
		check_invariants();
	});
}
