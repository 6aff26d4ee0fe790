//! Leader elections.

use super::*;
use frame_support::{assert_noop, assert_ok};

const E: &[u8] = b"controller";

fn campaign(who: u64, lease: LeaseId) {
	assert_ok!(ServiceRegistry::campaign(origin(who), E.to_vec(), vec![who as u8], lease));
}

fn leader() -> Option<u64> {
	ServiceRegistry::election(E.to_vec()).and_then(|e| e.leader).map(|c| c.who)
}

fn term() -> u64 {
	ServiceRegistry::election(E.to_vec()).map_or(0, |e| e.term)
}

#[test]
fn first_candidate_leads_at_term_one() {
	new_test_ext().execute_with(|| {
		let lease = grant(ALICE, 10);
		campaign(ALICE, lease);
		assert_eq!(leader(), Some(ALICE));
		assert_eq!(term(), 1);
		assert!(has_event(Event::LeaderChanged {
			election: bounded(E),
			leader: Some(ALICE),
			term: 1
		}));
		assert!(has_event(Event::Campaigned { election: bounded(E), who: ALICE, lease }));
		check_invariants();
	});
}

#[test]
fn later_candidates_queue_behind_the_leader() {
	new_test_ext().execute_with(|| {
		let a = grant(ALICE, 10);
		let b = grant(BOB, 10);
		campaign(ALICE, a);
		campaign(BOB, b);
		let info = ServiceRegistry::election(E.to_vec()).unwrap();
		assert_eq!(info.leader.map(|c| c.who), Some(ALICE));
		assert_eq!(info.candidates.iter().map(|c| c.who).collect::<Vec<_>>(), vec![ALICE, BOB]);
		assert_eq!(info.term, 1);
	});
}

#[test]
fn campaigning_twice_fails() {
	new_test_ext().execute_with(|| {
		let lease = grant(ALICE, 10);
		campaign(ALICE, lease);
		assert_noop!(
			ServiceRegistry::campaign(origin(ALICE), E.to_vec(), vec![], lease),
			Error::<Test>::AlreadyCandidate
		);
	});
}

#[test]
fn campaigning_in_a_full_queue_fails() {
	new_test_ext().execute_with(|| {
		for who in 10..18u64 {
			let lease = grant(who, 10);
			campaign(who, lease);
		}
		let lease = grant(ALICE, 10);
		assert_noop!(
			ServiceRegistry::campaign(origin(ALICE), E.to_vec(), vec![], lease),
			Error::<Test>::TooManyCandidates
		);
	});
}

#[test]
fn campaigning_with_an_unknown_lease_fails() {
	new_test_ext().execute_with(|| {
		assert_noop!(
			ServiceRegistry::campaign(origin(ALICE), E.to_vec(), vec![], 5),
			Error::<Test>::LeaseNotFound
		);
	});
}

#[test]
fn campaigning_with_an_expired_lease_fails() {
	new_test_ext().execute_with(|| {
		let lease = grant(ALICE, 1);
		Now::set(START_MS + 1_000);
		assert_noop!(
			ServiceRegistry::campaign(origin(ALICE), E.to_vec(), vec![], lease),
			Error::<Test>::LeaseExpired
		);
	});
}

#[test]
fn campaigning_refuses_bad_names_and_values() {
	new_test_ext().execute_with(|| {
		let lease = grant(ALICE, 10);
		assert_noop!(
			ServiceRegistry::campaign(origin(ALICE), vec![], vec![], lease),
			Error::<Test>::EmptyName
		);
		assert_noop!(
			ServiceRegistry::campaign(origin(ALICE), vec![b'e'; 33], vec![], lease),
			Error::<Test>::NameTooLong
		);
		assert_noop!(
			ServiceRegistry::campaign(origin(ALICE), E.to_vec(), vec![0; 33], lease),
			Error::<Test>::ElectionValueTooLong
		);
	});
}

#[test]
fn campaigning_refuses_more_candidacies_than_the_lease_bound() {
	new_test_ext().execute_with(|| {
		let lease = grant(ALICE, 10);
		for i in 0..4u8 {
			assert_ok!(ServiceRegistry::campaign(origin(ALICE), vec![b'e', i], vec![], lease));
		}
		assert_noop!(
			ServiceRegistry::campaign(origin(ALICE), b"e9".to_vec(), vec![], lease),
			Error::<Test>::TooManyLeaseCandidacies
		);
	});
}

#[test]
fn proclaim_changes_the_leaders_value() {
	new_test_ext().execute_with(|| {
		let lease = grant(ALICE, 10);
		campaign(ALICE, lease);
		assert_ok!(ServiceRegistry::proclaim(origin(ALICE), E.to_vec(), b"10.0.0.9".to_vec()));
		let info = ServiceRegistry::election(E.to_vec()).unwrap();
		assert_eq!(info.leader.unwrap().value, b"10.0.0.9".to_vec());
		assert_eq!(info.term, 1);
		assert!(has_event(Event::Proclaimed {
			election: bounded(E),
			who: ALICE,
			value: bounded(b"10.0.0.9")
		}));
	});
}

#[test]
fn proclaim_by_a_follower_fails() {
	new_test_ext().execute_with(|| {
		let a = grant(ALICE, 10);
		let b = grant(BOB, 10);
		campaign(ALICE, a);
		campaign(BOB, b);
		assert_noop!(
			ServiceRegistry::proclaim(origin(BOB), E.to_vec(), vec![]),
			Error::<Test>::NotLeader
		);
		assert_noop!(
			ServiceRegistry::proclaim(origin(CAROL), E.to_vec(), vec![]),
			Error::<Test>::NotLeader
		);
	});
}

#[test]
fn election_names_lists_the_elections_with_candidates_in_byte_order() {
	new_test_ext().execute_with(|| {
		assert!(ServiceRegistry::election_names().is_empty());
		let lease = grant(ALICE, 10);
		for name in [&b"web"[..], b"api", b"db"] {
			assert_ok!(ServiceRegistry::campaign(origin(ALICE), name.to_vec(), vec![], lease));
		}
		assert_ok!(ServiceRegistry::resign(origin(ALICE), b"db".to_vec()));
		assert_eq!(ServiceRegistry::election_names(), [&b"api"[..], b"web"]);
	});
}

#[test]
fn elections_a_member_leaves_are_not_kept() {
	new_test_ext().execute_with(|| {
		// One lease campaigns on many names, one after another, and leaves each: nothing stays
		// behind (elections were kept forever, and counted against no quota).
		let lease = grant(ALICE, 10);
		for i in 0..100u32 {
			let name = format!("e{i}").into_bytes();
			assert_ok!(ServiceRegistry::campaign(origin(ALICE), name.clone(), vec![], lease));
			assert_ok!(ServiceRegistry::resign(origin(ALICE), name));
		}
		assert_eq!(Elections::<Test>::iter().count(), 0);
		// So do the elections of a lease that ends.
		for i in 0..3u32 {
			assert_ok!(ServiceRegistry::campaign(
				origin(ALICE),
				format!("e{i}").into_bytes(),
				vec![],
				lease
			));
		}
		assert_ok!(ServiceRegistry::revoke_lease(origin(ALICE), lease));
		assert_eq!(Elections::<Test>::iter().count(), 0);
	});
}

#[test]
fn resigning_leader_hands_over_with_a_higher_term() {
	new_test_ext().execute_with(|| {
		let a = grant(ALICE, 10);
		let b = grant(BOB, 10);
		campaign(ALICE, a);
		campaign(BOB, b);
		assert_ok!(ServiceRegistry::resign(origin(ALICE), E.to_vec()));
		assert_eq!(leader(), Some(BOB));
		assert_eq!(term(), 2);
		assert!(has_event(Event::Resigned { election: bounded(E), who: ALICE }));
		assert!(has_event(Event::LeaderChanged {
			election: bounded(E),
			leader: Some(BOB),
			term: 2
		}));
		assert_eq!(Leases::<Test>::get(a).unwrap().candidacies, 0);
		check_invariants();
	});
}

#[test]
fn follower_resigning_keeps_the_leader_and_term() {
	new_test_ext().execute_with(|| {
		let a = grant(ALICE, 10);
		let b = grant(BOB, 10);
		campaign(ALICE, a);
		campaign(BOB, b);
		assert_ok!(ServiceRegistry::resign(origin(BOB), E.to_vec()));
		assert_eq!(leader(), Some(ALICE));
		assert_eq!(term(), 1);
	});
}

#[test]
fn resign_by_a_non_candidate_fails() {
	new_test_ext().execute_with(|| {
		let a = grant(ALICE, 10);
		campaign(ALICE, a);
		assert_noop!(ServiceRegistry::resign(origin(BOB), E.to_vec()), Error::<Test>::NotCandidate);
	});
}

#[test]
fn last_candidate_leaving_removes_the_election_and_its_terms_never_repeat() {
	new_test_ext().execute_with(|| {
		let a = grant(ALICE, 10);
		campaign(ALICE, a);
		assert_ok!(ServiceRegistry::resign(origin(ALICE), E.to_vec()));
		assert!(has_event(Event::LeaderChanged { election: bounded(E), leader: None, term: 2 }));
		assert!(ServiceRegistry::election(E.to_vec()).is_none());
		// A fence at the old term no longer holds, and the name's next leader gets a term above
		// every one it had.
		campaign(ALICE, a);
		assert_eq!(term(), 3);
		// Any name: a new one starts above the floor too.
		assert_ok!(ServiceRegistry::campaign(
			origin(BOB),
			b"other".to_vec(),
			vec![],
			grant(BOB, 10)
		));
		assert_eq!(ServiceRegistry::election(b"other".to_vec()).map(|e| e.term), Some(3));
	});
}

#[test]
fn leader_whose_lease_expires_hands_over_at_once() {
	new_test_ext().execute_with(|| {
		let a = grant(ALICE, 2);
		let b = grant(BOB, 10);
		let c = grant(CAROL, 10);
		campaign(ALICE, a);
		campaign(BOB, b);
		campaign(CAROL, c);
		next_block(2_000);
		assert_eq!(leader(), Some(BOB));
		assert_eq!(term(), 2);
		assert!(has_event(Event::CandidacyEnded { election: bounded(E), who: ALICE, lease: a }));
		assert!(has_event(Event::LeaderChanged {
			election: bounded(E),
			leader: Some(BOB),
			term: 2
		}));
		assert_ok!(ServiceRegistry::revoke_lease(origin(BOB), b));
		assert_eq!(leader(), Some(CAROL));
		assert_eq!(term(), 3);
		check_invariants();
	});
}

#[test]
fn expired_leader_is_not_reported_while_it_awaits_the_sweep() {
	new_test_ext().execute_with(|| {
		let a = grant(ALICE, 2);
		let b = grant(BOB, 10);
		campaign(ALICE, a);
		campaign(BOB, b);
		Now::set(START_MS + 2_000);
		let info = ServiceRegistry::election(E.to_vec()).unwrap();
		assert_eq!(info.leader, None);
		assert_eq!(info.term, 1);
		assert_eq!(info.candidates.iter().map(|c| c.who).collect::<Vec<_>>(), vec![BOB]);
	});
}

#[test]
fn expired_candidates_leave_when_the_election_is_touched() {
	new_test_ext().execute_with(|| {
		let a = grant(ALICE, 2);
		let b = grant(BOB, 10);
		campaign(ALICE, a);
		Now::set(START_MS + 2_000);
		// Before the sweep: BOB's campaign drops ALICE and BOB leads, in one change of leader.
		campaign(BOB, b);
		assert_eq!(leader(), Some(BOB));
		assert_eq!(term(), 2);
		check_invariants();
		next_block(0);
		assert_eq!(leader(), Some(BOB));
		assert_eq!(term(), 2);
		check_invariants();
	});
}
