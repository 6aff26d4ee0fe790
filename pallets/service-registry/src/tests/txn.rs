//! Txn: compares, branches, etcd's rules, and fencing on election terms.

use super::*;
use frame_support::{assert_noop, assert_ok};

fn txn(
	who: u64,
	compares: Vec<Compare<u64>>,
	success: Vec<TxnOp>,
	failure: Vec<TxnOp>,
) -> frame_support::dispatch::DispatchResult {
	ServiceRegistry::txn(origin(who), compares, success, failure)
}

fn put_op(key: &[u8], value: &[u8]) -> TxnOp {
	TxnOp::Put { key: key.to_vec(), value: value.to_vec(), lease: None }
}

fn delete_op(key: &[u8], range_end: &[u8]) -> TxnOp {
	TxnOp::DeleteRange { key: key.to_vec(), range_end: range_end.to_vec() }
}

fn compare(key: &[u8], result: CompareResult, target: KeyTarget) -> Compare<u64> {
	Compare::Key { key: key.to_vec(), result, target }
}

/// The last `TxnApplied` of the block: (revision, succeeded, wrote).
fn applied() -> Option<(Revision, bool, bool)> {
	events().into_iter().rev().find_map(|e| match e {
		Event::TxnApplied { revision, succeeded, wrote, .. } => Some((revision, succeeded, wrote)),
		_ => None,
	})
}

#[test]
fn a_true_compare_runs_the_success_branch_at_one_revision() {
	new_test_ext().execute_with(|| {
		put(ALICE, b"/a", b"1", None);
		assert_ok!(txn(
			ALICE,
			vec![compare(b"/a", CompareResult::Equal, KeyTarget::Value(b"1".to_vec()))],
			vec![put_op(b"/b", b"2"), put_op(b"/c", b"3"), delete_op(b"/a", b"")],
			vec![put_op(b"/z", b"")],
		));
		assert_eq!(all_keys(), vec![b"/b".to_vec(), b"/c".to_vec()]);
		assert_eq!(revision(), 3);
		assert_eq!(get(b"/b").unwrap().mod_revision, 3);
		assert_eq!(get(b"/c").unwrap().mod_revision, 3);
		assert_eq!(applied(), Some((3, true, true)));
		// The per-op events come first, all at the txn's revision.
		let revisions: Vec<_> = events()
			.into_iter()
			.filter_map(|e| match e {
				Event::KeyPut { revision, .. } | Event::KeysDeleted { revision, .. } => {
					Some(revision)
				},
				_ => None,
			})
			.collect();
		assert_eq!(revisions, vec![2, 3, 3, 3]);
	});
}

#[test]
fn a_false_compare_runs_the_failure_branch() {
	new_test_ext().execute_with(|| {
		put(ALICE, b"/a", b"1", None);
		assert_ok!(txn(
			ALICE,
			vec![compare(b"/a", CompareResult::Equal, KeyTarget::Value(b"2".to_vec()))],
			vec![put_op(b"/b", b"")],
			vec![put_op(b"/z", b"")],
		));
		assert_eq!(all_keys(), vec![b"/a".to_vec(), b"/z".to_vec()]);
		assert_eq!(applied(), Some((3, false, true)));
	});
}

#[test]
fn a_read_only_txn_leaves_the_revision() {
	new_test_ext().execute_with(|| {
		put(ALICE, b"/a", b"1", None);
		assert_ok!(txn(
			ALICE,
			vec![],
			vec![TxnOp::Range { key: b"/a".to_vec(), range_end: vec![] }],
			vec![],
		));
		assert_eq!(revision(), 2);
		assert_eq!(applied(), Some((2, true, false)));
	});
}

#[test]
fn a_branch_that_deletes_nothing_leaves_the_revision() {
	new_test_ext().execute_with(|| {
		assert_ok!(txn(ALICE, vec![], vec![delete_op(b"/nothing", b"")], vec![]));
		assert_eq!(revision(), 1);
		assert_eq!(applied(), Some((1, true, false)));
		assert!(!events().iter().any(|e| matches!(e, Event::KeysDeleted { .. })));
	});
}

#[test]
fn a_missing_key_compares_as_version_zero() {
	new_test_ext().execute_with(|| {
		let create_if_absent = || {
			txn(
				ALICE,
				vec![compare(b"/lock", CompareResult::Equal, KeyTarget::Version(0))],
				vec![put_op(b"/lock", b"me")],
				vec![],
			)
		};
		assert_ok!(create_if_absent());
		assert_eq!(applied(), Some((2, true, true)));
		assert_ok!(create_if_absent());
		assert_eq!(revision(), 2);
	});
}

#[test]
fn a_value_compare_on_a_missing_key_is_false() {
	new_test_ext().execute_with(|| {
		assert_ok!(txn(
			ALICE,
			vec![compare(b"/none", CompareResult::NotEqual, KeyTarget::Value(b"x".to_vec()))],
			vec![put_op(b"/s", b"")],
			vec![],
		));
		assert_eq!(applied(), Some((1, false, false)));
	});
}

#[test]
fn compares_on_revisions_and_lease_follow_etcd() {
	new_test_ext().execute_with(|| {
		let lease = grant(ALICE, 10);
		put(ALICE, b"/a", b"1", Some(lease)); // create 2
		put(ALICE, b"/a", b"2", Some(lease)); // mod 3
		let check = |target: KeyTarget, result: CompareResult| {
			assert_ok!(txn(ALICE, vec![compare(b"/a", result, target)], vec![], vec![]));
			applied().unwrap().1
		};
		assert!(check(KeyTarget::CreateRevision(2), CompareResult::Equal));
		assert!(check(KeyTarget::ModRevision(2), CompareResult::Greater));
		assert!(check(KeyTarget::ModRevision(4), CompareResult::Less));
		assert!(check(KeyTarget::Version(1), CompareResult::NotEqual));
		assert!(check(KeyTarget::Lease(lease), CompareResult::Equal));
		assert!(!check(KeyTarget::Lease(0), CompareResult::Equal));
		assert!(check(KeyTarget::Value(b"1".to_vec()), CompareResult::Greater));
	});
}

#[test]
fn a_txn_putting_a_key_twice_is_refused() {
	new_test_ext().execute_with(|| {
		assert_noop!(
			txn(ALICE, vec![], vec![put_op(b"/a", b"1"), put_op(b"/a", b"2")], vec![]),
			Error::<Test>::DuplicateKeyInTxn
		);
		assert_noop!(
			txn(ALICE, vec![], vec![], vec![put_op(b"/a", b"1"), put_op(b"/a", b"2")]),
			Error::<Test>::DuplicateKeyInTxn
		);
	});
}

#[test]
fn a_txn_putting_a_key_it_deletes_is_refused() {
	new_test_ext().execute_with(|| {
		assert_noop!(
			txn(ALICE, vec![], vec![delete_op(b"/a", b"/c"), put_op(b"/b", b"")], vec![]),
			Error::<Test>::DuplicateKeyInTxn
		);
		assert_noop!(
			txn(ALICE, vec![], vec![put_op(b"/a", b""), delete_op(b"/a", b"")], vec![]),
			Error::<Test>::DuplicateKeyInTxn
		);
		// Disjoint put and delete are fine.
		assert_ok!(txn(ALICE, vec![], vec![delete_op(b"/a", b"/c"), put_op(b"/c", b"")], vec![]));
	});
}

#[test]
fn a_txn_with_too_many_operations_is_refused() {
	new_test_ext().execute_with(|| {
		let ops: Vec<TxnOp> = (0..129u32).map(|i| put_op(&i.to_be_bytes(), b"")).collect();
		assert_noop!(txn(ALICE, vec![], ops.clone(), vec![]), Error::<Test>::TooManyTxnOps);
		assert_noop!(txn(ALICE, vec![], vec![], ops), Error::<Test>::TooManyTxnOps);
		let compares: Vec<_> = (0..129u32)
			.map(|_| compare(b"/a", CompareResult::Equal, KeyTarget::Version(0)))
			.collect();
		assert_noop!(txn(ALICE, compares, vec![], vec![]), Error::<Test>::TooManyTxnOps);
		let ops: Vec<TxnOp> = (0..128u32).map(|i| put_op(&i.to_be_bytes(), b"")).collect();
		assert_ok!(txn(ALICE, vec![], ops, vec![]));
		assert_eq!(revision(), 2);
	});
}

#[test]
fn a_txn_refuses_oversized_keys_and_values_in_either_branch() {
	new_test_ext().execute_with(|| {
		assert_noop!(
			txn(ALICE, vec![], vec![], vec![put_op(&[1; 1025], b"")]),
			Error::<Test>::KeyTooLong
		);
		assert_noop!(
			txn(ALICE, vec![], vec![put_op(b"/a", &[0; 65_537])], vec![]),
			Error::<Test>::ValueTooLong
		);
		assert_noop!(
			txn(
				ALICE,
				vec![compare(b"", CompareResult::Equal, KeyTarget::Version(0))],
				vec![],
				vec![]
			),
			Error::<Test>::EmptyKey
		);
	});
}

#[test]
fn a_failing_branch_operation_changes_nothing() {
	new_test_ext().execute_with(|| {
		put(ALICE, b"/a", b"1", None);
		assert_noop!(
			txn(
				ALICE,
				vec![],
				vec![
					put_op(b"/b", b""),
					TxnOp::Put { key: b"/c".to_vec(), value: vec![], lease: Some(9) }
				],
				vec![],
			),
			Error::<Test>::LeaseNotFound
		);
	});
}

#[test]
fn a_leader_compare_with_greater_is_refused() {
	new_test_ext().execute_with(|| {
		assert_noop!(
			txn(
				ALICE,
				vec![Compare::ElectionLeader {
					election: b"e".to_vec(),
					result: CompareResult::Greater,
					leader: None
				}],
				vec![],
				vec![]
			),
			Error::<Test>::InvalidCompare
		);
	});
}

fn fenced(who: u64, term: u64) -> Vec<Compare<u64>> {
	vec![
		Compare::ElectionLeader {
			election: b"e".to_vec(),
			result: CompareResult::Equal,
			leader: Some(who),
		},
		Compare::ElectionTerm { election: b"e".to_vec(), result: CompareResult::Equal, term },
	]
}

#[test]
fn a_txn_fenced_on_the_current_term_succeeds() {
	new_test_ext().execute_with(|| {
		let lease = grant(ALICE, 10);
		assert_ok!(ServiceRegistry::campaign(origin(ALICE), b"e".to_vec(), vec![], lease));
		assert_ok!(txn(ALICE, fenced(ALICE, 1), vec![put_op(b"/config", b"v1")], vec![]));
		assert_eq!(applied(), Some((2, true, true)));
	});
}

#[test]
fn a_txn_fenced_on_a_stale_term_is_refused() {
	new_test_ext().execute_with(|| {
		let a = grant(ALICE, 10);
		let b = grant(BOB, 10);
		assert_ok!(ServiceRegistry::campaign(origin(ALICE), b"e".to_vec(), vec![], a));
		assert_ok!(ServiceRegistry::campaign(origin(BOB), b"e".to_vec(), vec![], b));
		assert_ok!(ServiceRegistry::resign(origin(ALICE), b"e".to_vec()));
		assert_ok!(ServiceRegistry::campaign(origin(ALICE), b"e".to_vec(), vec![], a));
		// ALICE still believes it leads at term 1: the failure branch runs, nothing is written.
		assert_ok!(txn(ALICE, fenced(ALICE, 1), vec![put_op(b"/config", b"stale")], vec![]));
		assert_eq!(applied(), Some((1, false, false)));
		assert!(get(b"/config").is_none());
		// Even with only the term as fence.
		assert_ok!(txn(
			ALICE,
			vec![Compare::ElectionTerm {
				election: b"e".to_vec(),
				result: CompareResult::Equal,
				term: 1
			}],
			vec![put_op(b"/config", b"stale")],
			vec![],
		));
		assert!(get(b"/config").is_none());
		// BOB leads at term 2.
		assert_ok!(txn(BOB, fenced(BOB, 2), vec![put_op(b"/config", b"fresh")], vec![]));
		assert_eq!(get(b"/config").unwrap().value, b"fresh".to_vec());
	});
}

#[test]
fn a_fenced_txn_sees_a_hand_over_the_sweep_has_not_made_yet() {
	new_test_ext().execute_with(|| {
		let a = grant(ALICE, 2);
		let b = grant(BOB, 10);
		assert_ok!(ServiceRegistry::campaign(origin(ALICE), b"e".to_vec(), vec![], a));
		assert_ok!(ServiceRegistry::campaign(origin(BOB), b"e".to_vec(), vec![], b));
		Now::set(START_MS + 2_000);
		assert_ok!(txn(ALICE, fenced(ALICE, 1), vec![put_op(b"/config", b"stale")], vec![]));
		assert_eq!(applied(), Some((1, false, false)));
		// The txn settled the election: BOB leads at term 2, for good.
		assert!(has_event(Event::LeaderChanged {
			election: bounded(b"e"),
			leader: Some(BOB),
			term: 2
		}));
		assert_ok!(txn(BOB, fenced(BOB, 2), vec![put_op(b"/config", b"fresh")], vec![]));
		assert_eq!(get(b"/config").unwrap().value, b"fresh".to_vec());
		check_invariants();
	});
}

#[test]
fn a_txn_can_delete_a_large_range_with_a_tombstone() {
	new_test_ext().execute_with(|| {
		for i in 0..10u8 {
			put(ALICE, &[b'/', b'p', i], b"", None);
		}
		assert_ok!(txn(ALICE, vec![], vec![delete_op(b"/p", b"/q"), put_op(b"/r", b"")], vec![]));
		assert_eq!(all_keys(), vec![b"/r".to_vec()]);
		assert_eq!(revision(), 12);
		assert_eq!(RangeTombstones::<Test>::get().len(), 1);
		check_invariants();
	});
}
