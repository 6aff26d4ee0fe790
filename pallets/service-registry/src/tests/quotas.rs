//! Quotas: an account cannot hold more leases, instances or keys than its quota, governance
//! sets the default and overrides, and whatever ends or is removed frees its slot.

use super::*;
use frame_support::{assert_noop, assert_ok};
use sp_runtime::DispatchError;

fn set_quota(who: u64, leases: u32, instances: u32, keys: u32) {
	let quota = Quota { leases, instances, keys };
	assert_ok!(ServiceRegistry::set_account_quota(RuntimeOrigin::root(), who, Some(quota)));
}

fn usage(who: u64) -> Usage {
	ServiceRegistry::account_quota(who).usage
}

fn held(leases: u32, instances: u32, keys: u32) -> Usage {
	Usage { leases, instances, keys }
}

#[test]
fn only_governance_sets_quotas() {
	new_test_ext().execute_with(|| {
		let quota = Quota { leases: 1, instances: 1, keys: 1 };
		assert_noop!(
			ServiceRegistry::set_default_quota(origin(ALICE), quota),
			DispatchError::BadOrigin
		);
		assert_noop!(
			ServiceRegistry::set_account_quota(origin(ALICE), ALICE, Some(quota)),
			DispatchError::BadOrigin
		);

		assert_ok!(ServiceRegistry::set_default_quota(RuntimeOrigin::root(), quota));
		assert!(has_event(Event::DefaultQuotaSet { quota }));
		assert_eq!(ServiceRegistry::account_quota(BOB).quota, quota);
		assert!(!ServiceRegistry::account_quota(BOB).overridden);
	});
}

#[test]
fn an_override_replaces_the_default_until_removed() {
	new_test_ext().execute_with(|| {
		let default = Quota { leases: 1, instances: 1, keys: 1 };
		assert_ok!(ServiceRegistry::set_default_quota(RuntimeOrigin::root(), default));
		set_quota(ALICE, 2, 0, 0);
		assert!(has_event(Event::AccountQuotaSet {
			who: ALICE,
			quota: Some(Quota { leases: 2, instances: 0, keys: 0 })
		}));

		grant(ALICE, 60);
		grant(ALICE, 60);
		assert_noop!(
			ServiceRegistry::grant_lease(origin(ALICE), 60),
			Error::<Test>::LeaseQuotaExceeded
		);
		// Bob has the default: one lease.
		grant(BOB, 60);
		assert_noop!(
			ServiceRegistry::grant_lease(origin(BOB), 60),
			Error::<Test>::LeaseQuotaExceeded
		);

		assert_ok!(ServiceRegistry::set_account_quota(RuntimeOrigin::root(), ALICE, None));
		assert_eq!(ServiceRegistry::account_quota(ALICE).quota, default);
		// Lowering a quota removes nothing; it only stops new grants.
		assert_eq!(usage(ALICE), held(2, 0, 0));
		assert_eq!(Leases::<Test>::iter().count(), 3);
		check_invariants();
	});
}

#[test]
fn lease_quota_frees_a_slot_when_a_lease_is_revoked_or_expires() {
	new_test_ext().execute_with(|| {
		set_quota(ALICE, 2, 10, 10);
		let first = grant(ALICE, 60);
		grant(ALICE, 2);
		assert_eq!(usage(ALICE).leases, 2);

		// Any member may revoke; the slot goes back to the granter.
		assert_ok!(ServiceRegistry::revoke_lease(origin(BOB), first));
		assert_eq!(usage(ALICE).leases, 1);
		assert_eq!(usage(BOB), Usage::default());
		grant(ALICE, 60);

		next_block(2_000);
		assert_eq!(usage(ALICE).leases, 1);
		grant(ALICE, 60);
		check_invariants();
	});
}

#[test]
fn instance_quota_counts_registrations_and_frees_them_on_removal() {
	new_test_ext().execute_with(|| {
		set_quota(ALICE, 10, 2, 10);
		let lease = grant(ALICE, 60);
		register(ALICE, b"web", b"a", lease);
		register(ALICE, b"web", b"b", lease);
		assert_noop!(
			ServiceRegistry::register_instance(
				origin(ALICE),
				b"web".to_vec(),
				b"c".to_vec(),
				b"10.0.0.1:80".to_vec(),
				vec![],
				vec![],
				lease,
			),
			Error::<Test>::InstanceQuotaExceeded
		);

		assert_ok!(ServiceRegistry::deregister_instance(
			origin(ALICE),
			b"web".to_vec(),
			b"a".to_vec()
		));
		assert_eq!(usage(ALICE).instances, 1);
		register(ALICE, b"web", b"c", lease);

		// The lease's end removes both instances and frees both slots.
		assert_ok!(ServiceRegistry::revoke_lease(origin(ALICE), lease));
		assert_eq!(usage(ALICE), Usage::default());
		check_invariants();
	});
}

#[test]
fn re_registering_an_expired_instance_of_ones_own_takes_no_extra_slot() {
	new_test_ext().execute_with(|| {
		MaxLeaseEndsPerBlock::set(0);
		set_quota(ALICE, 10, 1, 10);
		let old = grant(ALICE, 2);
		register(ALICE, b"web", b"a", old);
		// The lease expires but, with no sweep, its instance is still stored.
		next_block(2_000);
		let new = grant(ALICE, 60);
		register(ALICE, b"web", b"a", new);
		assert_eq!(usage(ALICE).instances, 1);
		check_invariants();
	});
}

#[test]
fn key_quota_counts_keys_their_creator_holds() {
	new_test_ext().execute_with(|| {
		set_quota(ALICE, 10, 10, 2);
		put(ALICE, b"a", b"1", None);
		put(ALICE, b"b", b"1", None);
		// Overwriting a live key creates nothing.
		put(ALICE, b"a", b"2", None);
		assert_noop!(
			ServiceRegistry::put(origin(ALICE), b"c".to_vec(), b"1".to_vec(), None),
			Error::<Test>::KeyQuotaExceeded
		);

		// A key stays its creator's, whoever overwrites it.
		put(BOB, b"a", b"3", None);
		assert_eq!(usage(ALICE).keys, 2);
		assert_eq!(usage(BOB).keys, 0);

		// Whoever deletes it, its creator gets the slot back.
		delete(BOB, b"a", b"");
		assert_eq!(usage(ALICE).keys, 1);
		put(ALICE, b"c", b"1", None);
		check_invariants();
	});
}

#[test]
fn a_txn_beyond_the_key_quota_writes_nothing() {
	new_test_ext().execute_with(|| {
		set_quota(ALICE, 10, 10, 3);
		put(ALICE, b"a", b"1", None);
		let before = revision();
		let ops = |keys: &[&[u8]]| {
			keys.iter()
				.map(|k| TxnOp::Put { key: k.to_vec(), value: b"v".to_vec(), lease: None })
				.collect::<Vec<_>>()
		};
		// Two slots left: three new keys do not fit, even with an overwrite beside them.
		assert_noop!(
			ServiceRegistry::txn(origin(ALICE), vec![], ops(&[b"a", b"b", b"c", b"d"]), vec![]),
			Error::<Test>::KeyQuotaExceeded
		);
		assert_eq!(revision(), before);
		assert_ok!(ServiceRegistry::txn(origin(ALICE), vec![], ops(&[b"a", b"b", b"c"]), vec![]));
		assert_eq!(usage(ALICE).keys, 3);
		check_invariants();
	});
}

#[test]
fn keys_under_a_range_tombstone_are_released_as_their_storage_is_reclaimed() {
	new_test_ext().execute_with(|| {
		MaxInlineDeletes::set(2);
		set_quota(ALICE, 10, 10, 5);
		for i in 0..5u8 {
			put(ALICE, &[b'k', i], b"", None);
		}
		delete(ALICE, b"k", b"l");
		assert!(all_keys().is_empty());
		// Deleted for every reader, but still stored: still counted.
		assert_eq!(usage(ALICE).keys, 5);

		next_block(250);
		assert_eq!(KeyValues::<Test>::iter().count(), 0);
		assert_eq!(usage(ALICE), Usage::default());
		check_invariants();
	});
}

#[test]
fn a_put_over_a_deleted_unreclaimed_key_moves_it_to_the_new_creator() {
	new_test_ext().execute_with(|| {
		MaxLeaseEndsPerBlock::set(0);
		let lease = grant(ALICE, 2);
		put(ALICE, b"k", b"1", Some(lease));
		next_block(2_000);
		// The lease has expired but is not swept: the record is dead yet stored.
		put(BOB, b"k", b"2", None);
		assert_eq!(usage(ALICE), held(1, 0, 0));
		assert_eq!(usage(BOB), held(0, 0, 1));
		check_invariants();
	});
}

#[test]
fn keys_of_an_ended_lease_are_released_when_reaped() {
	new_test_ext().execute_with(|| {
		let lease = grant(ALICE, 2);
		put(ALICE, b"a", b"", Some(lease));
		put(ALICE, b"b", b"", Some(lease));
		assert_eq!(usage(ALICE), held(1, 0, 2));
		next_block(2_000);
		next_block(250);
		assert_eq!(usage(ALICE), Usage::default());
		check_invariants();
	});
}
