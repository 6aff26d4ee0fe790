//! Root without sudo: a call dispatched as root once a supermajority of governance asked for it.
//!
//! A permissioned chain governed by a collective has no sudo key, hence no root origin, and
//! without root nothing can change the runtime (`system.authorizeUpgrade`, `system.setCode`),
//! set storage, or reach the other root-only calls. This pallet is the one door to root:
//! [`Pallet::dispatch_as_root`] runs a call with the root origin when its own origin passes
//! [`Config::SupermajorityOrigin`], in regchain a two-thirds motion of the orchestrators'
//! collective (as Polkadot's council and technical committee did for runtime upgrades before
//! OpenGov). Two thirds rather than the simple majority of everyday governance: with at most
//! f < n/3 Byzantine members, they can never reach it alone.
//!
//! A runtime upgrade is then two steps, neither of which carries the code through the
//! collective: a motion dispatches `system.authorizeUpgrade(hash)` as root, and anyone submits
//! `system.applyAuthorizedUpgrade(code)` with the code whose hash was authorized.

//! The same pallet bounds what one member can hold open in the collective: [`OpenMotion`], the
//! collective's `Consideration`, counts each member's open motions and refuses a proposal above
//! [its cap](OpenMotion). Without it, one member could fill the collective's `MaxProposals` and
//! so block every motion, the one that would remove it included.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;

#[frame_support::pallet]
pub mod pallet {
	use alloc::boxed::Box;
	use core::marker::PhantomData;
	use frame_support::{
		dispatch::{GetDispatchInfo, PostDispatchInfo, WithPostDispatchInfo},
		pallet_prelude::*,
		traits::{Consideration, MaybeConsideration, UnfilteredDispatchable},
		CloneNoBound, DebugNoBound, EqNoBound, PartialEqNoBound,
	};
	use frame_system::{pallet_prelude::*, RawOrigin};
	use sp_runtime::traits::Dispatchable;

	#[pallet::pallet]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config: frame_system::Config<RuntimeEvent: From<Event<Self>>> {
		/// The calls that may be dispatched as root.
		type RuntimeCall: Parameter
			+ Dispatchable<RuntimeOrigin = Self::RuntimeOrigin, PostInfo = PostDispatchInfo>
			+ UnfilteredDispatchable<RuntimeOrigin = Self::RuntimeOrigin>
			+ GetDispatchInfo;
		/// Who may dispatch a call as root: a supermajority of governance.
		type SupermajorityOrigin: EnsureOrigin<Self::RuntimeOrigin>;
	}

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A call was dispatched as root, with this result.
		DispatchedAsRoot { result: DispatchResult },
	}

	#[pallet::error]
	pub enum Error<T> {
		/// This member already holds as many open motions as one member may: close or wait for
		/// one of them, then release it (`releaseProposalCost`).
		TooManyOpenMotions,
	}

	/// How many motions of the collective each member holds open (see [`OpenMotion`]). Members
	/// holding none are not stored.
	#[pallet::storage]
	pub type OpenMotions<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, u32, ValueQuery>;

	/// The collective's `Consideration`: the ticket of one open motion, at most `Max` per member.
	///
	/// pallet-collective takes a ticket when a member proposes a motion and gives it back when
	/// the motion, once closed, disapproved or killed, is released (`releaseProposalCost`, which
	/// any account may call; a killed motion's ticket is burned, and released at once). The
	/// ticket holds nothing: it counts, in [`OpenMotions`], and a proposal beyond `Max` is
	/// refused with [`Error::TooManyOpenMotions`]. With `Max` times the largest Byzantine minority
	/// below the collective's `MaxProposals`, the honest members always have room to propose.
	#[derive(
		Encode,
		Decode,
		DecodeWithMemTracking,
		CloneNoBound,
		PartialEqNoBound,
		EqNoBound,
		DebugNoBound,
		TypeInfo,
		MaxEncodedLen,
	)]
	#[scale_info(skip_type_params(T, Max))]
	#[codec(mel_bound())]
	pub struct OpenMotion<T, Max>(PhantomData<fn() -> (T, Max)>);

	impl<T: Config, Max: Get<u32>> OpenMotion<T, Max> {
		fn release(who: &T::AccountId) {
			OpenMotions::<T>::mutate_exists(who, |open| {
				*open = open.and_then(|n| n.checked_sub(1)).filter(|n| *n > 0);
			});
		}
	}

	impl<T: Config, Max: Get<u32> + 'static> Consideration<T::AccountId, u32> for OpenMotion<T, Max> {
		fn new(who: &T::AccountId, _open_in_the_collective: u32) -> Result<Self, DispatchError> {
			OpenMotions::<T>::try_mutate(who, |open| {
				ensure!(*open < Max::get(), Error::<T>::TooManyOpenMotions);
				*open += 1;
				Ok(Self(PhantomData))
			})
		}

		fn update(self, _: &T::AccountId, _: u32) -> Result<Self, DispatchError> {
			Ok(self)
		}

		fn drop(self, who: &T::AccountId) -> Result<(), DispatchError> {
			Self::release(who);
			Ok(())
		}

		/// A killed motion's ticket: nothing is held to be lost, so it is released.
		fn burn(self, who: &T::AccountId) {
			Self::release(who);
		}

		#[cfg(feature = "runtime-benchmarks")]
		fn ensure_successful(who: &T::AccountId, _: u32) {
			OpenMotions::<T>::remove(who);
		}
	}

	impl<T: Config, Max: Get<u32> + 'static> MaybeConsideration<T::AccountId, u32>
		for OpenMotion<T, Max>
	{
		fn is_none(&self) -> bool {
			false
		}
	}

	/// The weight of [`Pallet::dispatch_as_root`] besides the call's own: the origin check, the
	/// boxed call and one event. Not benchmarked: far below what any call it carries weighs.
	pub fn overhead<T: Config>() -> Weight {
		Weight::from_parts(10_000_000, 0).saturating_add(T::DbWeight::get().writes(1))
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Dispatches `call` with the root origin. The origin must pass
		/// [`Config::SupermajorityOrigin`]. The call's own failure is reported in
		/// [`Event::DispatchedAsRoot`]; this call itself then still succeeds, as a motion that was
		/// carried did run.
		#[pallet::call_index(0)]
		#[pallet::weight({
			let info = call.get_dispatch_info();
			(overhead::<T>().saturating_add(info.call_weight), info.class)
		})]
		pub fn dispatch_as_root(
			origin: OriginFor<T>,
			call: Box<<T as Config>::RuntimeCall>,
		) -> DispatchResultWithPostInfo {
			// Refused, it is charged its own overhead, not the weight of the call it carries (a
			// refused `setCode` would otherwise fill a block).
			T::SupermajorityOrigin::ensure_origin(origin)
				.map_err(|e| DispatchError::from(e).with_weight(overhead::<T>()))?;
			let result = call.dispatch_bypass_filter(RawOrigin::Root.into());
			let actual =
				result.map_or_else(|e| e.post_info.actual_weight, |info| info.actual_weight);
			Self::deposit_event(Event::DispatchedAsRoot {
				result: result.map(|_| ()).map_err(|e| e.error),
			});
			Ok(actual.map(|w| w.saturating_add(overhead::<T>())).into())
		}
	}
}
