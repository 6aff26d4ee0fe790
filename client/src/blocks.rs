//! The blocks that receipts are read from, each fetched once however many transactions wait on
//! it.
//!
//! A receipt needs the including block's extrinsics (to find the transaction's index) and its
//! `System::Events`. Under load a block holds several of this client's batches, and each used to
//! fetch the whole block again: hundreds of kilobytes of hex in JSON, for every batch. A block's
//! contents never change, so the last [`CACHED_BLOCKS`] are kept, and a fetch in progress is
//! shared by everyone who asks for the same block meanwhile.

use std::{
	collections::VecDeque,
	sync::{Arc, Mutex},
};

use regchain_runtime::{Hash, RuntimeEvent};
use sp_core::H256;
use sp_runtime::traits::{BlakeTwo256, Hash as _};
use tokio::sync::OnceCell;

/// How many blocks' contents are kept.
pub(crate) const CACHED_BLOCKS: usize = 16;

/// What receipts need of one block.
pub(crate) struct BlockContents {
	/// The block's number.
	pub number: u32,
	/// The hash (blake2-256) of each extrinsic, in block order.
	pub extrinsics: Vec<H256>,
	/// The block's `System::Events`.
	pub events: Vec<frame_system::EventRecord<RuntimeEvent, Hash>>,
}

impl BlockContents {
	/// The index of the first extrinsic whose encoding hashes to one of `hashes`.
	pub fn position(&self, hashes: &[H256]) -> Option<u32> {
		self.extrinsics.iter().position(|x| hashes.contains(x)).map(|i| i as u32)
	}
}

/// The hash of an encoded extrinsic, as [`BlockContents::extrinsics`] lists them.
pub(crate) fn extrinsic_hash(encoded: &[u8]) -> H256 {
	BlakeTwo256::hash(encoded)
}

/// The contents of the last [`CACHED_BLOCKS`] blocks asked for, oldest first.
#[derive(Default)]
pub(crate) struct BlockCache {
	entries: Mutex<VecDeque<(H256, Arc<OnceCell<Arc<BlockContents>>>)>>,
}

impl BlockCache {
	/// The cell holding block `hash`'s contents, empty until someone has fetched them; a new
	/// block evicts the oldest.
	pub fn cell(&self, hash: H256) -> Arc<OnceCell<Arc<BlockContents>>> {
		let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
		if let Some((_, cell)) = entries.iter().find(|(h, _)| *h == hash) {
			return cell.clone();
		}
		let cell = Arc::new(OnceCell::new());
		entries.push_back((hash, cell.clone()));
		if entries.len() > CACHED_BLOCKS {
			entries.pop_front();
		}
		cell
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn a_block_is_kept_once_and_the_oldest_goes_first() {
		let cache = BlockCache::default();
		let first = cache.cell(H256::repeat_byte(0));
		let again = cache.cell(H256::repeat_byte(0));
		assert!(Arc::ptr_eq(&first, &again), "the same block, the same cell");
		for i in 1..CACHED_BLOCKS as u8 {
			cache.cell(H256::repeat_byte(i));
		}
		let again = cache.cell(H256::repeat_byte(0));
		assert!(Arc::ptr_eq(&first, &again), "still among the last ones");
		cache.cell(H256::repeat_byte(CACHED_BLOCKS as u8));
		let again = cache.cell(H256::repeat_byte(0));
		assert!(!Arc::ptr_eq(&first, &again), "evicted by one more block");
	}

	#[test]
	fn an_extrinsic_is_found_by_the_hash_of_its_encoding() {
		let contents = BlockContents {
			number: 7,
			extrinsics: vec![extrinsic_hash(b"inherent"), extrinsic_hash(b"ours")],
			events: Vec::new(),
		};
		let wanted = [extrinsic_hash(b"other"), extrinsic_hash(b"ours")];
		assert_eq!(contents.position(&wanted), Some(1));
		assert_eq!(contents.position(&[extrinsic_hash(b"other")]), None);
	}
}
