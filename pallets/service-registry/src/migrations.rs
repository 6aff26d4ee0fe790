//! Storage migrations, one module per storage version.

/// Version 1: each range tombstone names the account whose delete recorded it
/// ([`RangeTombstone::by`]), so that [`Config::MaxTombstonesPerAccount`] can count them.
/// Tombstones recorded before name nobody (`by: None`) and count against no account. And
/// elections are stored only while they have candidates: the empty ones version 0 kept are
/// removed, with [`TermFloor`] raised above their terms. That reads every stored election in
/// one block, which suits the chains of version 0 (test networks with few elections).
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
			let translated =
				RangeTombstones::<T>::translate::<Vec<TombstoneV0<T::MaxKeyLen>>, _>(|old| {
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
				// Leaving undecodable bytes would read as no tombstone, and the keys they hide
				// would come back: stop rather than go on.
				panic!("range tombstones of version 0 could not be decoded");
			}
			let (mut read, mut removed) = (0u64, 0u64);
			let mut floor = TermFloor::<T>::get();
			let empty: Vec<_> = Elections::<T>::iter()
				.inspect(|_| read += 1)
				.filter(|(_, election)| election.candidates.is_empty())
				.collect();
			for (name, election) in empty {
				Elections::<T>::remove(&name);
				floor = floor.max(election.term.saturating_add(1));
				removed += 1;
			}
			TermFloor::<T>::put(floor);
			T::DbWeight::get().reads_writes(2 + read, 2 + removed)
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
