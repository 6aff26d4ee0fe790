//! Per-account quotas: the most leases, instances and keys one account may hold.
//!
//! [`Usages`] counts what each account holds: leases it granted that have not ended, instances
//! it registered that are still stored, and keys it created whose storage has not been
//! reclaimed. A call that would take an account above its quota ([`DefaultQuota`], or its entry
//! in [`QuotaOverrides`]) fails with `LeaseQuotaExceeded`, `InstanceQuotaExceeded` or
//! `KeyQuotaExceeded` and changes nothing. What the chain removes by itself (expired leases,
//! reclaimed keys) is released as it is removed.
//!
//! A key is charged to the account that created it, whoever later overwrites or deletes it, and
//! released when its record leaves storage: at once for a small delete, a few blocks later for a
//! key under a range tombstone or on an ended lease.

use crate::{pallet::*, types::*};
use frame_support::ensure;

/// Which of an account's holdings a change concerns.
#[derive(Clone, Copy)]
pub(crate) enum Holding {
	Leases,
	Instances,
	Keys,
}

impl Holding {
	fn of(self, usage: &mut Usage) -> &mut u32 {
		match self {
			Holding::Leases => &mut usage.leases,
			Holding::Instances => &mut usage.instances,
			Holding::Keys => &mut usage.keys,
		}
	}
}

impl<T: Config> Pallet<T> {
	/// The quota that applies to `who`: its override, else the default.
	pub(crate) fn quota_of(who: &T::AccountId) -> Quota {
		QuotaOverrides::<T>::get(who).unwrap_or_else(DefaultQuota::<T>::get)
	}

	/// Fails unless `who` may add `more` of `holding` to what it holds.
	pub(crate) fn ensure_quota(
		who: &T::AccountId,
		holding: Holding,
		more: u32,
	) -> Result<(), Error<T>> {
		if more == 0 {
			return Ok(());
		}
		let mut usage = Usages::<T>::get(who);
		let mut quota = Self::quota_of(who);
		let held = *holding.of(&mut usage);
		let limit = *holding.of(&mut quota);
		let error = match holding {
			Holding::Leases => Error::<T>::LeaseQuotaExceeded,
			Holding::Instances => Error::<T>::InstanceQuotaExceeded,
			Holding::Keys => Error::<T>::KeyQuotaExceeded,
		};
		ensure!(held.checked_add(more).is_some_and(|total| total <= limit), error);
		Ok(())
	}

	/// Counts one more `holding` for `who` (after [`Self::ensure_quota`] passed).
	pub(crate) fn charge(who: &T::AccountId, holding: Holding) {
		Usages::<T>::mutate(who, |usage| {
			let held = holding.of(usage);
			*held = held.saturating_add(1);
		});
	}

	/// Counts one `holding` less for `who`, dropping the entry once it holds nothing.
	pub(crate) fn release(who: &T::AccountId, holding: Holding) {
		Usages::<T>::mutate_exists(who, |entry| {
			if let Some(usage) = entry {
				let held = holding.of(usage);
				*held = held.saturating_sub(1);
				if *usage == Usage::default() {
					*entry = None;
				}
			}
		});
	}

	// ---- runtime API ----------------------------------------------------------------------

	/// An account's quota and what it holds.
	pub fn account_quota(who: T::AccountId) -> AccountQuota {
		let overridden = QuotaOverrides::<T>::get(&who);
		AccountQuota {
			quota: overridden.unwrap_or_else(DefaultQuota::<T>::get),
			overridden: overridden.is_some(),
			usage: Usages::<T>::get(&who),
		}
	}
}
