//! # Validator set
//!
//! The validators of a permissioned chain, chosen by its governance rather than by stake.
//!
//! - [`Call::add_validator`] and [`Call::remove_validator`] change the set; only
//!   [`Config::GovernanceOrigin`] may call them (on regchain, a majority of the orchestrators'
//!   collective).
//! - The pallet is `pallet-session`'s [`SessionManager`]: at a session boundary where the set
//!   (its validators with session keys) differs from the session's validators it hands the set
//!   to pallet-session, which queues it with the validators' session keys. A change therefore
//!   takes effect after pallet-session's queued-keys delay, about two session boundaries, and
//!   Aura's and GRANDPA's authority sets follow through their session handlers. At a boundary
//!   where nothing changed it hands nothing: pallet-session then keeps the set, and GRANDPA its
//!   authority set id (every new set is one more justification that a syncing node must fetch,
//!   and restarts GRANDPA's rounds).
//! - [`RotateOnChange`] is pallet-session's `ShouldEndSession`: a session ends at a boundary
//!   only while a change is under way. A rotating block holds no transaction (pallet-session
//!   charges it the whole block's weight), so a chain whose validators stay put never gives up
//!   a block to sessions.
//! - A new validator must register its session keys (`Session::set_keys`, from its own account)
//!   before it can be queued: pallet-session leaves out validators without keys.
//! - The set never drops below [`MinValidators`], set at genesis and by governance
//!   ([`Call::set_min_validators`]): the call that would go below fails with
//!   [`Error::TooFewValidators`]. With GRANDPA, 3f + 1 validators tolerate f faults, so the
//!   minimum should keep the tolerance the chain needs (4 on a testnet that must survive one
//!   failure).

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

#[cfg(test)]
mod mock;
pub mod rotation;
#[cfg(test)]
mod tests;

use alloc::vec::Vec;
use frame_support::traits::Contains;
pub use pallet::*;
use pallet_session::SessionManager;
pub use rotation::RotateOnChange;
use sp_runtime::traits::Get;

/// Log target of this pallet.
const LOG_TARGET: &str = "runtime::validator-set";

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use frame_support::pallet_prelude::*;
	use frame_system::pallet_prelude::*;

	#[pallet::pallet]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config: frame_system::Config<RuntimeEvent: From<Event<Self>>> {
		/// Who may add and remove validators.
		type GovernanceOrigin: EnsureOrigin<Self::RuntimeOrigin>;

		/// The most validators the set may hold (at most the consensus pallets' own maximum).
		#[pallet::constant]
		type MaxValidators: Get<u32>;

		/// The validators of the session now running, as pallet-session holds them
		/// (`pallet_session::Validators`).
		type SessionValidators: Get<Vec<Self::AccountId>>;

		/// Whether an account has registered session keys (`pallet_session::NextKeys`).
		/// pallet-session leaves validators without keys out of a session, so the set is handed
		/// over, and compared with the running session, without them.
		type HasSessionKeys: Contains<Self::AccountId>;
	}

	/// The validators, in the order they were added. pallet-session reads them at every session
	/// boundary.
	#[pallet::storage]
	pub type Validators<T: Config> =
		StorageValue<_, BoundedVec<T::AccountId, T::MaxValidators>, ValueQuery>;

	/// The fewest validators the set may hold.
	#[pallet::storage]
	pub type MinValidators<T: Config> = StorageValue<_, u32, ValueQuery>;

	#[pallet::genesis_config]
	#[derive(frame_support::DefaultNoBound)]
	pub struct GenesisConfig<T: Config> {
		/// The validators at genesis.
		pub validators: Vec<T::AccountId>,
		/// The fewest validators the set may hold.
		pub min_validators: u32,
	}

	#[pallet::genesis_build]
	impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
		fn build(&self) {
			let mut sorted = self.validators.clone();
			sorted.sort();
			sorted.dedup();
			assert_eq!(sorted.len(), self.validators.len(), "genesis validators must be distinct");
			// An empty genesis set is allowed (pallet-session's genesis keys then decide); any
			// other set must respect the minimum.
			assert!(
				self.validators.is_empty() || self.validators.len() as u32 >= self.min_validators,
				"fewer genesis validators than min_validators"
			);
			assert!(
				self.min_validators <= T::MaxValidators::get(),
				"min_validators above MaxValidators"
			);
			MinValidators::<T>::put(self.min_validators);
			let validators: BoundedVec<_, _> = self
				.validators
				.clone()
				.try_into()
				.expect("more genesis validators than MaxValidators");
			Validators::<T>::put(validators);
		}
	}

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A validator was added; it validates once it has set its session keys and about two
		/// session boundaries have passed.
		ValidatorAdded { who: T::AccountId },
		/// A validator was removed; it stops validating about two session boundaries later.
		ValidatorRemoved { who: T::AccountId },
		/// The minimum size of the set changed.
		MinValidatorsSet { min: u32 },
	}

	#[pallet::error]
	pub enum Error<T> {
		/// The account is already a validator.
		AlreadyValidator,
		/// The account is not a validator.
		NotValidator,
		/// Removing the validator would leave fewer than `MinValidators`.
		TooFewValidators,
		/// The set already holds `MaxValidators`.
		TooManyValidators,
		/// The minimum would exceed the current set.
		MinimumTooHigh,
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Adds `who` to the validator set. It takes part in consensus once it has set its
		/// session keys and about two session boundaries have passed.
		#[pallet::call_index(0)]
		#[pallet::weight(T::DbWeight::get().reads_writes(1, 1))]
		pub fn add_validator(origin: OriginFor<T>, who: T::AccountId) -> DispatchResult {
			T::GovernanceOrigin::ensure_origin(origin)?;
			let mut validators = Validators::<T>::get();
			ensure!(!validators.contains(&who), Error::<T>::AlreadyValidator);
			validators.try_push(who.clone()).map_err(|_| Error::<T>::TooManyValidators)?;
			Validators::<T>::put(validators);
			Self::deposit_event(Event::ValidatorAdded { who });
			Ok(())
		}

		/// Removes `who` from the validator set, unless that would leave fewer than
		/// `MinValidators`.
		#[pallet::call_index(1)]
		#[pallet::weight(T::DbWeight::get().reads_writes(1, 1))]
		pub fn remove_validator(origin: OriginFor<T>, who: T::AccountId) -> DispatchResult {
			T::GovernanceOrigin::ensure_origin(origin)?;
			let mut validators = Validators::<T>::get();
			let position =
				validators.iter().position(|v| v == &who).ok_or(Error::<T>::NotValidator)?;
			ensure!(
				validators.len() as u32 > MinValidators::<T>::get(),
				Error::<T>::TooFewValidators
			);
			validators.remove(position);
			Validators::<T>::put(validators);
			Self::deposit_event(Event::ValidatorRemoved { who });
			Ok(())
		}

		/// Sets the fewest validators the set may hold. It cannot exceed the current set.
		#[pallet::call_index(2)]
		#[pallet::weight(T::DbWeight::get().reads_writes(1, 1))]
		pub fn set_min_validators(origin: OriginFor<T>, min: u32) -> DispatchResult {
			T::GovernanceOrigin::ensure_origin(origin)?;
			ensure!(
				min <= Validators::<T>::decode_len().unwrap_or(0) as u32,
				Error::<T>::MinimumTooHigh
			);
			MinValidators::<T>::put(min);
			Self::deposit_event(Event::MinValidatorsSet { min });
			Ok(())
		}
	}
}

impl<T: Config> Pallet<T> {
	/// The validators that have registered session keys, in the set's order: those
	/// pallet-session can run a session with.
	pub fn with_keys() -> Vec<T::AccountId> {
		Validators::<T>::get()
			.into_iter()
			.filter(|v| T::HasSessionKeys::contains(v))
			.collect()
	}
}

impl<T: Config> SessionManager<T::AccountId> for Pallet<T> {
	/// Hands the set's validators that have session keys to pallet-session when they differ
	/// from the session's validators. A validator that sets its keys late joins at the boundary
	/// after; until then the set counts as unchanged, and GRANDPA keeps its authority set id.
	fn new_session(new_index: u32) -> Option<Vec<T::AccountId>> {
		let validators = Self::with_keys();
		if validators.is_empty() {
			// Never configured (or no validator has keys): leave pallet-session's set in place.
			return None;
		}
		let (mut ours, mut running) = (validators.clone(), T::SessionValidators::get());
		ours.sort();
		running.sort();
		if ours == running {
			// Unchanged: pallet-session keeps the set (and still notices new session keys).
			return None;
		}
		log::debug!(target: LOG_TARGET, "session {new_index}: {} validators", validators.len());
		Some(validators)
	}

	fn end_session(_: u32) {}

	fn start_session(_: u32) {}
}
