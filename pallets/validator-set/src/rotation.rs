//! Session rotation only when something is to change.
//!
//! pallet-session charges a block that rotates the session its whole weight (the rotation's cost
//! is not benchmarked), so that block holds no transaction. With sessions rotating every 10 s,
//! one of regchain's blocks every 10 s went out empty, and every write waiting in the pool at
//! that moment waited one block more: the slowest writes of a loaded chain.
//!
//! [`RotateOnChange`] ends a session at a period boundary only while a change is on its way:
//! the validator set (those of it with session keys) differs from the running one, a queued
//! validator changed its session keys, or the queued session differs from the running one. A
//! change thus still takes effect within two or three boundaries, and a chain whose validators
//! stay put never rotates.

use core::marker::PhantomData;

use frame_support::{traits::EstimateNextSessionRotation, weights::Weight};
use frame_system::pallet_prelude::BlockNumberFor;
use pallet_session::ShouldEndSession;
use sp_runtime::{
	traits::{AtLeast32BitUnsigned, Get, Saturating, Zero},
	Permill,
};

use crate::Config;

/// Whether a session rotation has something to do.
///
/// - `wanted`: the validators of the set ([`crate::Validators`]) that have registered session keys,
///   as [`crate::Pallet`] hands them to pallet-session; empty when the set was never configured
///   (pallet-session's genesis keys then decide, and only key changes count).
/// - `running`: the validators of the running session.
/// - `queued`: the validators and keys pallet-session queued for the next session.
/// - `next_keys`: each validator's current session keys, if it registered any.
/// - `queued_changed`: pallet-session's flag that the queued session differs from the running
///   one (validators or keys).
pub fn change_pending<V: Ord + Clone, K: PartialEq>(
	wanted: &[V],
	running: &[V],
	queued: &[(V, K)],
	next_keys: impl Fn(&V) -> Option<K>,
	queued_changed: bool,
) -> bool {
	if queued_changed || queued.iter().any(|(v, k)| next_keys(v).as_ref() != Some(k)) {
		return true;
	}
	if wanted.is_empty() {
		return false;
	}
	let (mut wanted, mut running) = (wanted.to_vec(), running.to_vec());
	wanted.sort();
	running.sort();
	wanted != running
}

/// How many blocks `now` is past the last session boundary (the blocks `offset + k * period`),
/// or `None` before the first boundary or when `period` is zero.
pub fn past_boundary<N: AtLeast32BitUnsigned + Copy>(now: N, period: N, offset: N) -> Option<N> {
	(now >= offset && !period.is_zero()).then(|| (now - offset) % period)
}

/// pallet-session's `ShouldEndSession` and `NextSessionRotation`: ends a session at the blocks
/// `Offset + k * Period`, and only when [`change_pending`] says so.
pub struct RotateOnChange<T, Period, Offset>(PhantomData<(T, Period, Offset)>);

impl<T, Period, Offset> RotateOnChange<T, Period, Offset>
where
	T: Config + pallet_session::Config<ValidatorId = <T as frame_system::Config>::AccountId>,
	Period: Get<BlockNumberFor<T>>,
	Offset: Get<BlockNumberFor<T>>,
{
	fn past_boundary(now: BlockNumberFor<T>) -> Option<BlockNumberFor<T>> {
		past_boundary(now, Period::get(), Offset::get())
	}

	fn pending() -> bool {
		change_pending(
			&crate::Pallet::<T>::with_keys(),
			&pallet_session::Validators::<T>::get(),
			&pallet_session::QueuedKeys::<T>::get(),
			|v: &T::AccountId| pallet_session::NextKeys::<T>::get(v),
			pallet_session::QueuedChanged::<T>::get(),
		)
	}
}

impl<T, Period, Offset> ShouldEndSession<BlockNumberFor<T>> for RotateOnChange<T, Period, Offset>
where
	T: Config + pallet_session::Config<ValidatorId = <T as frame_system::Config>::AccountId>,
	Period: Get<BlockNumberFor<T>>,
	Offset: Get<BlockNumberFor<T>>,
{
	/// Reads the set and the keys at boundary blocks only (one in `Period`). pallet-session
	/// charges this check nothing, as it does for its periodic sessions.
	fn should_end_session(now: BlockNumberFor<T>) -> bool {
		Self::past_boundary(now).is_some_and(|past| past.is_zero()) && Self::pending()
	}
}

impl<T, Period, Offset> EstimateNextSessionRotation<BlockNumberFor<T>>
	for RotateOnChange<T, Period, Offset>
where
	T: Config + pallet_session::Config<ValidatorId = <T as frame_system::Config>::AccountId>,
	Period: Get<BlockNumberFor<T>>,
	Offset: Get<BlockNumberFor<T>>,
{
	fn average_session_length() -> BlockNumberFor<T> {
		Period::get()
	}

	/// Unknown: a session lasts until something changes.
	fn estimate_current_session_progress(_now: BlockNumberFor<T>) -> (Option<Permill>, Weight) {
		(None, Weight::zero())
	}

	/// The next boundary if a change is pending, else unknown.
	fn estimate_next_session_rotation(
		now: BlockNumberFor<T>,
	) -> (Option<BlockNumberFor<T>>, Weight) {
		// The set, each of its validators' keys, and pallet-session's three values.
		let weight = T::DbWeight::get().reads(4 + u64::from(T::MaxValidators::get()));
		let period = Period::get();
		if period.is_zero() || !Self::pending() {
			return (None, weight);
		}
		let next = match Self::past_boundary(now) {
			None => Offset::get(),
			Some(past) => now.saturating_add(period - past),
		};
		(Some(next), weight)
	}
}

#[cfg(test)]
mod tests {
	use super::{change_pending, past_boundary};

	const SET: [u64; 4] = [1, 2, 3, 4];

	/// Validators 1..=4 queued with keys 10 × id, as registered.
	fn queued() -> Vec<(u64, u64)> {
		SET.iter().map(|&v| (v, v * 10)).collect()
	}

	fn keys(id: &u64) -> Option<u64> {
		Some(id * 10)
	}

	#[test]
	fn a_settled_set_does_not_rotate() {
		assert!(!change_pending(&SET, &SET, &queued(), keys, false));
		// In any order.
		assert!(!change_pending(&[4, 3, 2, 1], &SET, &queued(), keys, false));
	}

	#[test]
	fn an_added_or_removed_validator_rotates() {
		assert!(change_pending(&[1, 2, 3, 4, 5], &SET, &queued(), keys, false));
		assert!(change_pending(&[1, 2, 3], &SET, &queued(), keys, false));
	}

	#[test]
	fn new_or_purged_session_keys_rotate() {
		let rotated = |id: &u64| if *id == 2 { Some(99) } else { keys(id) };
		assert!(change_pending(&SET, &SET, &queued(), rotated, false));
		let purged = |id: &u64| if *id == 2 { None } else { keys(id) };
		assert!(change_pending(&SET, &SET, &queued(), purged, false));
	}

	#[test]
	fn a_queued_change_rotates_until_it_runs() {
		assert!(change_pending(&SET, &SET, &queued(), keys, true));
	}

	#[test]
	fn an_unconfigured_set_still_follows_key_changes() {
		assert!(!change_pending(&[], &SET, &queued(), keys, false));
		assert!(change_pending(
			&[],
			&SET,
			&queued(),
			|id: &u64| (*id != 1).then(|| id * 10),
			false
		));
	}

	#[test]
	fn boundaries_fall_every_period_from_the_offset() {
		assert_eq!(past_boundary(0u32, 40, 0), Some(0));
		assert_eq!(past_boundary(39u32, 40, 0), Some(39));
		assert_eq!(past_boundary(80u32, 40, 0), Some(0));
		assert_eq!(past_boundary(9u32, 40, 10), None, "before the first boundary");
		assert_eq!(past_boundary(51u32, 40, 10), Some(1));
		assert_eq!(past_boundary(51u32, 0, 10), None, "a zero period has no boundary");
	}
}
