//! The hooks: per-block work stays bounded when many leases end or a huge range is deleted.

use super::*;
use frame_support::{assert_ok, traits::Hooks, weights::Weight};

fn lease_ends_in_block() -> usize {
	events().iter().filter(|e| matches!(e, Event::LeaseEnded { .. })).count()
}

fn stored_keys() -> usize {
	KeyValues::<Test>::iter().count()
}

#[test]
fn many_leases_expiring_at_once_end_a_bounded_number_per_block() {
	new_test_ext().execute_with(|| {
		MaxLeaseEndsPerBlock::set(4);
		for i in 0..10u8 {
			let lease = grant(ALICE, 2);
			put(ALICE, &[b'/', i], b"", Some(lease));
		}
		assert_eq!(revision(), 11);

		next_block(2_000);
		assert_eq!(lease_ends_in_block(), 4);
		// Readers already see every key gone, swept or not.
		assert!(all_keys().is_empty());
		assert_eq!(Leases::<Test>::iter().count(), 6);
		check_invariants();

		next_block(250);
		assert_eq!(lease_ends_in_block(), 4);
		next_block(250);
		assert_eq!(lease_ends_in_block(), 2);
		next_block(250);
		assert_eq!(lease_ends_in_block(), 0);
		// One revision per lease end, each with one key.
		assert_eq!(revision(), 21);
		assert_eq!(stored_keys(), 0);
		check_invariants();
	});
}

#[test]
fn leases_end_in_expiry_order() {
	new_test_ext().execute_with(|| {
		MaxLeaseEndsPerBlock::set(1);
		let late = grant(ALICE, 3);
		let early = grant(ALICE, 2);
		next_block(3_000);
		assert!(has_event(Event::LeaseEnded {
			lease: early,
			reason: LeaseEndReason::Expired,
			revision: None,
			who: None
		}));
		next_block(0);
		assert!(has_event(Event::LeaseEnded {
			lease: late,
			reason: LeaseEndReason::Expired,
			revision: None,
			who: None
		}));
	});
}

#[test]
fn the_hook_weight_limit_bounds_lease_ends_per_block() {
	new_test_ext().execute_with(|| {
		let per_lease = <() as WeightInfo>::expire_lease(0, 0)
			.saturating_add(<() as WeightInfo>::probe_lease_keys(0));
		let limit = <() as WeightInfo>::hook_base().saturating_add(per_lease.saturating_mul(3));
		HookWeightLimit::set(limit);
		for _ in 0..10 {
			grant(ALICE, 1);
		}
		let weight = next_block(1_000);
		assert_eq!(lease_ends_in_block(), 3);
		assert!(weight.all_lte(limit));
	});
}

#[test]
fn keys_of_an_ended_lease_are_removed_a_bounded_number_per_block() {
	new_test_ext().execute_with(|| {
		MaxCleanupPerBlock::set(4);
		let lease = grant(ALICE, 10);
		for i in 0..20u8 {
			put(ALICE, &[b'/', i], b"", Some(lease));
		}
		assert_ok!(ServiceRegistry::revoke_lease(origin(ALICE), lease));
		assert!(all_keys().is_empty());
		let mut blocks = 0;
		while stored_keys() > 0 {
			let before = stored_keys();
			next_block(250);
			assert!(before - stored_keys() <= 4);
			assert!(all_keys().is_empty());
			check_invariants();
			blocks += 1;
			assert!(blocks < 20);
		}
		assert!(blocks >= 5);
		next_block(250);
		assert!(EndedLeases::<Test>::iter().next().is_none());
		check_invariants();
	});
}

#[test]
fn a_huge_range_delete_is_reclaimed_a_bounded_number_per_block() {
	new_test_ext().execute_with(|| {
		MaxCleanupPerBlock::set(8);
		for i in 0..100u8 {
			put(ALICE, &[b'/', b'h', i], b"", None);
		}
		put(ALICE, b"/keep", b"", None);
		let before = revision();
		delete(ALICE, b"/h", b"/i");
		assert_eq!(revision(), before + 1);
		assert_eq!(all_keys(), vec![b"/keep".to_vec()]);
		let mut blocks = 0;
		while !RangeTombstones::<Test>::get().is_empty() {
			let stored = stored_keys();
			next_block(250);
			assert!(stored - stored_keys() <= 8);
			assert_eq!(all_keys(), vec![b"/keep".to_vec()]);
			blocks += 1;
			assert!(blocks < 30);
		}
		assert!(blocks >= 13);
		assert_eq!(stored_keys(), 1);
		check_invariants();
	});
}

#[test]
fn on_idle_continues_the_cleanup_with_leftover_weight() {
	new_test_ext().execute_with(|| {
		MaxCleanupPerBlock::set(4);
		for i in 0..20u8 {
			put(ALICE, &[b'/', i], b"", None);
		}
		delete(ALICE, b"/", b"0");
		let stored = stored_keys();
		let used = ServiceRegistry::on_idle(System::block_number(), Weight::MAX);
		assert!(stored - stored_keys() >= 1 && stored - stored_keys() <= 4);
		assert!(used.any_gt(Weight::zero()));
		// No leftover weight: nothing happens.
		let stored = stored_keys();
		assert_eq!(
			ServiceRegistry::on_idle(System::block_number(), Weight::zero()),
			Weight::zero()
		);
		assert_eq!(stored_keys(), stored);
	});
}

#[test]
fn a_backlog_hides_keys_at_once_and_deletes_them_at_their_lease_end() {
	new_test_ext().execute_with(|| {
		MaxLeaseEndsPerBlock::set(1);
		let first = grant(ALICE, 2);
		let second = grant(ALICE, 2);
		put(ALICE, b"/1", b"", Some(first));
		put(ALICE, b"/2", b"", Some(second));
		next_block(2_000);
		// `first` ended in this block; `second` waits, but its key is already invisible.
		assert!(all_keys().is_empty());
		assert_eq!(revision(), 4);
		next_block(250);
		assert!(has_event(Event::LeaseEnded {
			lease: second,
			reason: LeaseEndReason::Expired,
			revision: Some(5),
			who: None
		}));
		check_invariants();
	});
}
