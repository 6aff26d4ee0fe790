use crate::{mock::*, Error, Event, MinValidators, Validators};
use frame_support::{assert_noop, assert_ok};
use pallet_session::SessionManager;
use sp_runtime::DispatchError;

fn validators() -> Vec<u64> {
	Validators::<Test>::get().into_inner()
}

#[test]
fn governance_adds_a_validator() {
	new_test_ext().execute_with(|| {
		assert_ok!(ValidatorSet::add_validator(RuntimeOrigin::root(), 4));
		assert_eq!(validators(), vec![1, 2, 3, 4]);
		System::assert_last_event(Event::ValidatorAdded { who: 4 }.into());
	});
}

#[test]
fn governance_removes_a_validator() {
	new_test_ext().execute_with(|| {
		assert_ok!(ValidatorSet::remove_validator(RuntimeOrigin::root(), 2));
		assert_eq!(validators(), vec![1, 3]);
		System::assert_last_event(Event::ValidatorRemoved { who: 2 }.into());
	});
}

#[test]
fn a_signed_account_cannot_change_the_set() {
	new_test_ext().execute_with(|| {
		assert_noop!(
			ValidatorSet::add_validator(RuntimeOrigin::signed(1), 4),
			DispatchError::BadOrigin
		);
		assert_noop!(
			ValidatorSet::remove_validator(RuntimeOrigin::signed(1), 2),
			DispatchError::BadOrigin
		);
	});
}

#[test]
fn adding_a_validator_twice_fails() {
	new_test_ext().execute_with(|| {
		assert_noop!(
			ValidatorSet::add_validator(RuntimeOrigin::root(), 2),
			Error::<Test>::AlreadyValidator
		);
	});
}

#[test]
fn adding_beyond_the_maximum_fails() {
	new_test_ext().execute_with(|| {
		assert_ok!(ValidatorSet::add_validator(RuntimeOrigin::root(), 4));
		assert_noop!(
			ValidatorSet::add_validator(RuntimeOrigin::root(), 5),
			Error::<Test>::TooManyValidators
		);
	});
}

#[test]
fn removing_a_non_validator_fails() {
	new_test_ext().execute_with(|| {
		assert_noop!(
			ValidatorSet::remove_validator(RuntimeOrigin::root(), 9),
			Error::<Test>::NotValidator
		);
	});
}

#[test]
fn removing_below_the_minimum_fails() {
	new_test_ext().execute_with(|| {
		assert_ok!(ValidatorSet::remove_validator(RuntimeOrigin::root(), 3));
		assert_noop!(
			ValidatorSet::remove_validator(RuntimeOrigin::root(), 2),
			Error::<Test>::TooFewValidators
		);
		assert_eq!(validators(), vec![1, 2]);
	});
}

#[test]
fn a_session_gets_the_set_only_when_it_differs_from_the_running_one() {
	new_test_ext().execute_with(|| {
		// Genesis: pallet-session holds nothing yet.
		SessionValidators::set(vec![]);
		assert_eq!(ValidatorSet::new_session(1), Some(vec![1, 2, 3]));
		// The same validators, in any order: nothing to hand over, GRANDPA keeps its set.
		SessionValidators::set(vec![3, 1, 2]);
		assert_eq!(ValidatorSet::new_session(2), None);

		// 4 has no session keys yet: pallet-session could not run it, so the set is unchanged
		// and GRANDPA keeps its set, until 4 registers its keys.
		Keyless::set(vec![4]);
		assert_ok!(ValidatorSet::add_validator(RuntimeOrigin::root(), 4));
		assert_eq!(ValidatorSet::new_session(3), None);
		Keyless::set(vec![]);
		assert_eq!(ValidatorSet::new_session(4), Some(vec![1, 2, 3, 4]));
		SessionValidators::set(vec![1, 2, 3, 4]);
		assert_eq!(ValidatorSet::new_session(5), None);

		assert_ok!(ValidatorSet::remove_validator(RuntimeOrigin::root(), 2));
		assert_eq!(ValidatorSet::new_session(6), Some(vec![1, 3, 4]));
	});
}

#[test]
fn governance_sets_the_minimum() {
	new_test_ext().execute_with(|| {
		assert_ok!(ValidatorSet::set_min_validators(RuntimeOrigin::root(), 3));
		assert_eq!(MinValidators::<Test>::get(), 3);
		System::assert_last_event(Event::MinValidatorsSet { min: 3 }.into());
		assert_noop!(
			ValidatorSet::remove_validator(RuntimeOrigin::root(), 3),
			Error::<Test>::TooFewValidators
		);
	});
}

#[test]
fn the_minimum_cannot_exceed_the_set() {
	new_test_ext().execute_with(|| {
		assert_noop!(
			ValidatorSet::set_min_validators(RuntimeOrigin::root(), 4),
			Error::<Test>::MinimumTooHigh
		);
		assert_noop!(
			ValidatorSet::set_min_validators(RuntimeOrigin::signed(1), 1),
			DispatchError::BadOrigin
		);
	});
}

#[test]
fn an_unconfigured_set_leaves_the_session_alone() {
	sp_io::TestExternalities::default().execute_with(|| {
		assert_eq!(ValidatorSet::new_session(1), None);
	});
}
