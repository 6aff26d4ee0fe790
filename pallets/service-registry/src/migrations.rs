//! Storage migrations, one module per storage version.

/// Version 1: each range tombstone names the account whose delete recorded it
/// ([`RangeTombstone::by`]), so that [`Config::MaxTombstonesPerAccount`] can count them.
/// Tombstones recorded before name nobody (`by: None`) and count against no account.
pub mod v1 {
	use crate::{pallet::*, types::*};
	use alloc::vec::Vec;
	use codec::{Decode, Encode};
	use core::marker::PhantomData;
	use frame_support::{
		migrations::VersionedMigration,
		pallet_prelude::*,
		traits::{Get, UncheckedOnRuntimeUpgrade},
	};

	/// A range tombstone as storage version 0 kept it.
	#[derive(Encode, Decode)]
	pub struct TombstoneV0<K: Get<u32>> {
		/// The first key of the range.
		pub start: BoundedVec<u8, K>,
		/// The end of the range, exclusive; `None`: every key from `start` on.
		pub end: Option<BoundedVec<u8, K>>,
		/// The revision of the delete.
		pub revision: Revision,
		/// How far the hooks have reclaimed.
		pub cursor: Option<BoundedVec<u8, K>>,
	}

	/// Rewrites the stored tombstones with `by: None`, keeping everything else.
	pub struct InnerMigrateV0ToV1<T>(PhantomData<T>);

	impl<T: Config> UncheckedOnRuntimeUpgrade for InnerMigrateV0ToV1<T> {
		fn on_runtime_upgrade() -> Weight {
			let translated = RangeTombstones::<T>::translate::<Vec<TombstoneV0<T::MaxKeyLen>>, _>(|old| {
				let tombstones = old?.into_iter().map(|t| RangeTombstone {
					start: t.start,
					end: t.end,
					revision: t.revision,
					cursor: t.cursor,
					by: None,
				});
				// As many as were stored, within the same bound.
				Some(BoundedVec::truncate_from(tombstones.collect()))
			});
			if translated.is_err() {
				log::error!(target: crate::LOG_TARGET, "range tombstones of version 0 could not be decoded");
			}
			T::DbWeight::get().reads_writes(1, 1)
		}
	}

	/// The migration to version 1, run once: only while the stored version is 0.
	pub type MigrateV0ToV1<T> = VersionedMigration<
		0,
		1,
		InnerMigrateV0ToV1<T>,
		Pallet<T>,
		<T as frame_system::Config>::DbWeight,
	>;
}
