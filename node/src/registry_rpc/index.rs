//! The revision/event index behind `registry_history`, reads at a past revision and watches.
//!
//! As blocks are finalized, the indexer decodes the block's `System::Events`, keeps the
//! registry's, expands range deletes and lease ends into one delete per key (from the parent
//! block's state and the block's earlier events), computes each put's `create_revision` and
//! `version` the same way, and stores the block's change items in the node's auxiliary
//! database together with a revision → block index. Best blocks are computed the same way, but
//! only broadcast, never stored.
//!
//! Aux keys (all under `regchain/registry/`):
//! - `meta`: [`Meta`], the indexed block range and its oldest available revision;
//! - `block/<number, big-endian u32>`: [`BlockChanges`], for blocks with changes or revisions;
//! - `rev/<revision, big-endian u64>`: the number of the block that took the revision.
//!
//! The index keeps the node's state-pruning window (reading a past revision needs the state of
//! its block's parent), and starts afresh after any block it cannot index: history before such
//! a gap is refused, never silently skipped.

use std::{
	collections::{BTreeMap, BTreeSet},
	sync::{
		atomic::{AtomicUsize, Ordering},
		Arc,
	},
};

use codec::{Decode, Encode};
use futures::StreamExt;
use pallet_service_registry_runtime_api::{
	InstanceInfo, LeaseId, RangeRequest, Revision, ServiceRegistryApi,
};
use regchain_runtime::{opaque::Block, AccountId, Runtime, RuntimeEvent};
use sc_client_api::{
	backend::AuxStore, BlockImportNotification, BlockchainEvents, StorageProvider,
};
use sp_api::ProvideRuntimeApi;
use sp_blockchain::HeaderBackend;
use sp_core::{storage::StorageKey, H256};
use sp_io::hashing::twox_128;
use sp_runtime::traits::Header as _;
use tokio::sync::broadcast;

use crate::types::{FullBackend, FullClient, DEFAULT_STATE_HISTORY};

/// The log target of the indexer.
const LOG_TARGET: &str = "registry-index";

const META_KEY: &[u8] = b"regchain/registry/meta";
const BLOCK_PREFIX: &[u8] = b"regchain/registry/block/";
const REVISION_PREFIX: &[u8] = b"regchain/registry/rev/";

/// How many notifications a slow subscriber may lag behind before it catches up from the
/// database (finalized streams) or loses blocks (best streams).
const CHANNEL_CAPACITY: usize = 1024;

type EventRecords = Vec<frame_system::EventRecord<RuntimeEvent, H256>>;
type RegistryEvent = pallet_service_registry::Event<Runtime>;
type IndexResult<T> = Result<T, String>;

/// What happened to an instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub enum InstanceKind {
	/// `InstanceRegistered`.
	Registered,
	/// `InstanceUpdated`.
	Updated,
	/// `HealthReported`.
	Health,
	/// `InstanceDeregistered`.
	Deregistered,
	/// `InstanceRemoved` (its lease ended).
	Removed,
}

/// What happened in an election.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub enum ElectionKind {
	/// `Campaigned`.
	Campaigned,
	/// `Proclaimed`.
	Proclaimed,
	/// `Resigned`.
	Resigned,
	/// `CandidacyEnded` (its lease ended).
	CandidacyEnded,
	/// `LeaderChanged`.
	LeaderChanged,
}

/// One change, as the RPC reports it.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Change {
	/// A key was put.
	Put {
		/// The key.
		key: Vec<u8>,
		/// Its new value.
		value: Vec<u8>,
		/// Its lease, 0 for none.
		lease: LeaseId,
		/// Revision of its creation.
		create_revision: Revision,
		/// This change's revision.
		mod_revision: Revision,
		/// Puts since creation.
		version: u64,
	},
	/// A key was deleted.
	Delete {
		/// The key.
		key: Vec<u8>,
	},
	/// An instance changed.
	Instance {
		/// How.
		kind: InstanceKind,
		/// Its service.
		service: Vec<u8>,
		/// Its id.
		instance_id: Vec<u8>,
		/// The instance after the change (as at the end of the block); `None` when gone.
		instance: Option<InstanceInfo<AccountId>>,
	},
	/// An election changed.
	Election {
		/// How.
		kind: ElectionKind,
		/// The election.
		election: Vec<u8>,
		/// Its leader after the change.
		leader: Option<AccountId>,
		/// Its term after the change.
		term: u64,
		/// The leader's value after the change.
		value: Vec<u8>,
	},
}

/// A change and where it sits in the chain.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Item {
	/// Position among the block's change items (expanded deletes count one each).
	pub event_index: u32,
	/// The key-space revision right after the change.
	pub revision: Revision,
	/// Who made it; `None` for the chain itself.
	pub who: Option<AccountId>,
	/// The change.
	pub change: Change,
}

/// The registry changes of one block.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct BlockChanges {
	/// Block number.
	pub number: u32,
	/// Block hash.
	pub hash: H256,
	/// Parent hash.
	pub parent_hash: H256,
	/// The block's timestamp, in milliseconds.
	pub time_ms: u64,
	/// The revision at the parent block.
	pub revision_before: Revision,
	/// The revision at this block.
	pub revision_after: Revision,
	/// The changes, in chain order.
	pub items: Vec<Item>,
}

/// The indexed range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Meta {
	/// The first indexed block.
	pub oldest_block: u32,
	/// The oldest revision whose changes are all indexed.
	pub oldest_revision: Revision,
	/// The last indexed (finalized) block.
	pub last_block: u32,
	/// Its hash.
	pub last_hash: H256,
	/// The revision at it.
	pub last_revision: Revision,
}

/// What the indexer broadcasts to subscriptions.
#[derive(Clone, Debug)]
pub enum Notification {
	/// A finalized block was indexed (and stored).
	Finalized(Arc<BlockChanges>),
	/// A block became best.
	Best(Arc<BlockChanges>),
	/// A reorg dropped a best block.
	Retracted {
		/// Its number.
		number: u32,
		/// Its hash.
		hash: H256,
	},
}

/// Whether `key` lies in `[start, end)` with etcd's conventions (empty `end`: `start` only;
/// `[0]`: every key from `start` on).
pub fn key_in_range(key: &[u8], start: &[u8], end: &[u8]) -> bool {
	match end {
		[] => key == start,
		[0] => key >= start,
		_ => key >= start && key < end,
	}
}

fn block_key(number: u32) -> Vec<u8> {
	[BLOCK_PREFIX, &number.to_be_bytes()[..]].concat()
}

fn revision_key(revision: Revision) -> Vec<u8> {
	[REVISION_PREFIX, &revision.to_be_bytes()[..]].concat()
}

/// The key of a storage value of a pallet.
pub fn storage_key(pallet: &[u8], item: &[u8]) -> StorageKey {
	StorageKey([twox_128(pallet), twox_128(item)].concat())
}

/// The blocks of history the index keeps: the node's state-pruning window (reading a past
/// revision needs its block's parent state); `None` for an archive node. Without
/// `--state-pruning`, the node's one-hour default.
pub fn history_window(state_pruning: Option<&sc_service::PruningMode>) -> Option<u32> {
	match state_pruning {
		Some(sc_service::PruningMode::Constrained(constraints)) => {
			Some(constraints.max_blocks.unwrap_or(DEFAULT_STATE_HISTORY))
		},
		Some(sc_service::PruningMode::ArchiveAll | sc_service::PruningMode::ArchiveCanonical) => {
			None
		},
		None => Some(DEFAULT_STATE_HISTORY),
	}
}

/// The index: read by the RPC, written by [`Index::run`].
pub struct Index {
	client: Arc<FullClient>,
	backend: Arc<FullBackend>,
	/// Blocks of history to keep; `None` keeps everything (an archive node).
	window: Option<u32>,
	sender: broadcast::Sender<Notification>,
	/// Open `best` streams: best blocks are computed only while there is one.
	best_watchers: AtomicUsize,
}

/// Counts one open `best` stream while it lives.
pub struct BestWatcher(Arc<Index>);

impl Drop for BestWatcher {
	fn drop(&mut self) {
		self.0.best_watchers.fetch_sub(1, Ordering::Relaxed);
	}
}

impl Index {
	/// An index over `client`'s chain, stored in `backend`'s auxiliary database, keeping
	/// `window` blocks (`None`: all).
	pub fn new(
		client: Arc<FullClient>,
		backend: Arc<FullBackend>,
		window: Option<u32>,
	) -> Arc<Self> {
		let (sender, _) = broadcast::channel(CHANNEL_CAPACITY);
		Arc::new(Self { client, backend, window, sender, best_watchers: AtomicUsize::new(0) })
	}

	/// Registers a `best` stream until the returned guard drops.
	pub fn watch_best(self: &Arc<Self>) -> BestWatcher {
		self.best_watchers.fetch_add(1, Ordering::Relaxed);
		BestWatcher(self.clone())
	}

	/// A receiver of every notification sent from now on.
	pub fn subscribe(&self) -> broadcast::Receiver<Notification> {
		self.sender.subscribe()
	}

	/// The indexed range, if any block is indexed.
	pub fn meta(&self) -> Option<Meta> {
		self.get(META_KEY)
	}

	/// The changes of finalized block `number`, if it has any and is indexed.
	pub fn block(&self, number: u32) -> Option<BlockChanges> {
		self.get(&block_key(number))
	}

	/// The number of the indexed block that took `revision`.
	pub fn block_of(&self, revision: Revision) -> Option<u32> {
		self.get(&revision_key(revision))
	}

	fn get<T: Decode>(&self, key: &[u8]) -> Option<T> {
		match self.backend.get_aux(key) {
			Ok(Some(bytes)) => T::decode(&mut &bytes[..])
				.map_err(|e| log::error!(target: LOG_TARGET, "corrupt index entry: {e}"))
				.ok(),
			Ok(None) => None,
			Err(e) => {
				log::error!(target: LOG_TARGET, "reading the index: {e}");
				None
			},
		}
	}

	/// The changes of the best chain's blocks after `after`, computed from their state.
	pub fn best_chain_after(&self, after: u32) -> Vec<BlockChanges> {
		let best = self.client.info().best_number;
		(after.saturating_add(1)..=best)
			.filter_map(|number| self.client.hash(number).ok().flatten())
			.filter_map(|hash| self.compute(hash, None).ok())
			.collect()
	}

	/// Follows finality (and best blocks while someone listens) until the node stops.
	pub async fn run(self: Arc<Self>) {
		enum Event {
			Finalized,
			Imported(BlockImportNotification<Block>),
		}
		let finality = self.client.finality_notification_stream().map(|_| Event::Finalized);
		let imports = self.client.import_notification_stream().map(Event::Imported);
		let mut events = futures::stream::select(finality, imports);

		let mut meta = self.meta();
		if let Some(m) = meta {
			if self.client.hash(m.last_block).ok().flatten() != Some(m.last_hash) {
				log::warn!(target: LOG_TARGET, "the index does not match the chain; rebuilding it");
				self.reset(&mut meta);
			}
		}
		self.catch_up(&mut meta);
		while let Some(event) = events.next().await {
			match event {
				Event::Finalized => self.catch_up(&mut meta),
				Event::Imported(notification) => self.on_import(notification),
			}
		}
	}

	/// The first block an empty index holds once it has caught up with `finalized`: the
	/// window's first block, or block 1.
	fn first_block(&self, finalized: u32) -> u32 {
		match self.window {
			Some(window) => finalized.saturating_add(2).saturating_sub(window).max(1),
			None => 1,
		}
	}

	/// Whether an empty index (nothing finalized after genesis yet, or just reset) will hold the
	/// whole history once it catches up: the chain is younger than the window.
	pub fn starts_at_genesis(&self) -> bool {
		self.first_block(self.client.info().finalized_number) == 1
	}

	/// Indexes every finalized block after the last indexed one.
	fn catch_up(&self, meta: &mut Option<Meta>) {
		let target = self.client.info().finalized_number;
		let mut next = match meta {
			Some(m) => m.last_block.saturating_add(1),
			None => self.first_block(target),
		};
		while next <= target {
			let known = meta.map(|m| m.last_revision);
			let computed = self
				.client
				.hash(next)
				.map_err(|e| e.to_string())
				.and_then(|hash| hash.ok_or_else(|| "no such block".to_string()))
				.and_then(|hash| self.compute(hash, known));
			match computed {
				Ok(changes) => {
					if let Err(e) = self.commit(&changes, meta) {
						log::error!(target: LOG_TARGET, "storing block {next}: {e}");
						return;
					}
					let _ = self.sender.send(Notification::Finalized(Arc::new(changes)));
				},
				Err(e) => {
					log::warn!(
						target: LOG_TARGET,
						"cannot index block {next} ({e}); history starts after it"
					);
					self.reset(meta);
				},
			}
			next = next.saturating_add(1);
		}
	}

	/// Broadcasts a new best block (and a reorg's retractions) to best-block streams.
	fn on_import(&self, notification: BlockImportNotification<Block>) {
		if !notification.is_new_best || self.best_watchers.load(Ordering::Relaxed) == 0 {
			return;
		}
		if let Some(route) = &notification.tree_route {
			for block in route.retracted().iter().rev() {
				let _ = self
					.sender
					.send(Notification::Retracted { number: block.number, hash: block.hash });
			}
			for block in route.enacted() {
				self.broadcast_best(block.hash);
			}
		}
		self.broadcast_best(notification.hash);
	}

	fn broadcast_best(&self, hash: H256) {
		match self.compute(hash, None) {
			Ok(changes) => {
				let _ = self.sender.send(Notification::Best(Arc::new(changes)));
			},
			Err(e) => log::debug!(target: LOG_TARGET, "cannot compute best block {hash}: {e}"),
		}
	}

	/// Stores `changes` and advances `meta`, pruning what fell out of the window.
	fn commit(&self, changes: &BlockChanges, meta: &mut Option<Meta>) -> IndexResult<()> {
		let mut inserts: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
		let mut deletes: Vec<Vec<u8>> = Vec::new();
		if !changes.items.is_empty() || changes.revision_after != changes.revision_before {
			inserts.push((block_key(changes.number), changes.encode()));
			for revision in changes.revision_before.saturating_add(1)..=changes.revision_after {
				inserts.push((revision_key(revision), changes.number.encode()));
			}
		}
		let mut next = match *meta {
			Some(m) => Meta {
				last_block: changes.number,
				last_hash: changes.hash,
				last_revision: changes.revision_after,
				..m
			},
			None => Meta {
				oldest_block: changes.number,
				// Starting at block 1, nothing before it was missed.
				oldest_revision: if changes.number <= 1 {
					0
				} else {
					changes.revision_before.saturating_add(1)
				},
				last_block: changes.number,
				last_hash: changes.hash,
				last_revision: changes.revision_after,
			},
		};
		if let Some(window) = self.window {
			// Reading a revision of block B needs the state of B's parent.
			let keep_from = changes.number.saturating_add(2).saturating_sub(window);
			while next.oldest_block < keep_from && next.oldest_block < changes.number {
				if let Some(old) = self.block(next.oldest_block) {
					deletes.push(block_key(old.number));
					for revision in old.revision_before.saturating_add(1)..=old.revision_after {
						deletes.push(revision_key(revision));
					}
					next.oldest_revision =
						next.oldest_revision.max(old.revision_after.saturating_add(1));
				}
				next.oldest_block = next.oldest_block.saturating_add(1);
			}
		}
		inserts.push((META_KEY.to_vec(), next.encode()));
		self.write(&inserts, &deletes)?;
		*meta = Some(next);
		Ok(())
	}

	/// Drops the whole index: the next indexed block starts a fresh history.
	fn reset(&self, meta: &mut Option<Meta>) {
		let Some(m) = meta.take() else { return };
		let mut deletes = vec![META_KEY.to_vec()];
		for number in m.oldest_block..=m.last_block {
			if let Some(old) = self.block(number) {
				deletes.push(block_key(number));
				for revision in old.revision_before.saturating_add(1)..=old.revision_after {
					deletes.push(revision_key(revision));
				}
			}
		}
		if let Err(e) = self.write(&[], &deletes) {
			log::error!(target: LOG_TARGET, "clearing the index: {e}");
		}
	}

	fn write(&self, inserts: &[(Vec<u8>, Vec<u8>)], deletes: &[Vec<u8>]) -> IndexResult<()> {
		let inserts: Vec<(&[u8], &[u8])> =
			inserts.iter().map(|(k, v)| (k.as_slice(), v.as_slice())).collect();
		let deletes: Vec<&[u8]> = deletes.iter().map(Vec::as_slice).collect();
		self.backend
			.insert_aux(inserts.iter(), deletes.iter())
			.map_err(|e| e.to_string())
	}

	/// The registry changes of block `hash`. `revision_before`, the revision at its parent, is
	/// read from the parent's state when not given.
	pub fn compute(
		&self,
		hash: H256,
		revision_before: Option<Revision>,
	) -> IndexResult<BlockChanges> {
		let header = self
			.client
			.header(hash)
			.map_err(|e| e.to_string())?
			.ok_or_else(|| format!("no header for {hash}"))?;
		let number = *header.number();
		let parent = *header.parent_hash();
		let records: EventRecords = match self.storage(hash, storage_key(b"System", b"Events"))? {
			Some(bytes) => Decode::decode(&mut &bytes[..])
				.map_err(|e| format!("undecodable events in block {number}: {e}"))?,
			None => Vec::new(),
		};
		let time_ms = match self.storage(hash, storage_key(b"Timestamp", b"Now"))? {
			Some(bytes) => u64::decode(&mut &bytes[..]).unwrap_or_default(),
			None => 0,
		};
		let events: Vec<_> = records
			.into_iter()
			.filter_map(|record| match record.event {
				RuntimeEvent::ServiceRegistry(event) => Some((record.phase, event)),
				_ => None,
			})
			.collect();
		let revision_before = match revision_before {
			Some(revision) => revision,
			// Without events the revision did not move: the block's own state answers.
			None if events.is_empty() => self.revision_at(hash)?,
			None => self.revision_at(parent)?,
		};
		let mut replay = Replay::new(self, parent, hash, revision_before);
		for (phase, event) in events {
			replay.apply(phase, event)?;
		}
		Ok(BlockChanges {
			number,
			hash,
			parent_hash: parent,
			time_ms,
			revision_before,
			revision_after: replay.current,
			items: replay.items,
		})
	}

	fn storage(&self, hash: H256, key: StorageKey) -> IndexResult<Option<Vec<u8>>> {
		self.client
			.storage(hash, &key)
			.map(|data| data.map(|d| d.0))
			.map_err(|e| format!("state of {hash}: {e}"))
	}

	fn revision_at(&self, hash: H256) -> IndexResult<Revision> {
		self.client.runtime_api().revision(hash).map_err(|e| e.to_string())
	}
}

/// What the replay knows of a key.
#[derive(Clone, Copy)]
struct KeyMeta {
	create_revision: Revision,
	version: u64,
	lease: LeaseId,
}

/// What the replay knows of an election.
struct ElectionTrack {
	leader: Option<AccountId>,
	term: u64,
	value: Vec<u8>,
}

/// Replays one block's registry events over its parent's state.
struct Replay<'a> {
	index: &'a Index,
	parent: H256,
	hash: H256,
	/// Keys the block has touched so far: `None` once deleted.
	keys: BTreeMap<Vec<u8>, Option<KeyMeta>>,
	elections: BTreeMap<Vec<u8>, ElectionTrack>,
	/// Services' instances at the end of the block.
	instances_after: BTreeMap<Vec<u8>, Vec<InstanceInfo<AccountId>>>,
	current: Revision,
	phase: Option<frame_system::Phase>,
	/// The account behind the current phase's changes (a chain-made change inherits it).
	actor: Option<AccountId>,
	items: Vec<Item>,
}

impl<'a> Replay<'a> {
	fn new(index: &'a Index, parent: H256, hash: H256, revision: Revision) -> Self {
		Self {
			index,
			parent,
			hash,
			keys: BTreeMap::new(),
			elections: BTreeMap::new(),
			instances_after: BTreeMap::new(),
			current: revision,
			phase: None,
			actor: None,
			items: Vec::new(),
		}
	}

	fn api_err(e: sp_api::ApiError) -> String {
		e.to_string()
	}

	fn push(&mut self, revision: Revision, who: Option<AccountId>, change: Change) {
		let event_index = u32::try_from(self.items.len()).unwrap_or(u32::MAX);
		self.items.push(Item { event_index, revision, who, change });
	}

	fn apply(&mut self, phase: frame_system::Phase, event: RegistryEvent) -> IndexResult<()> {
		use pallet_service_registry::Event as E;
		if self.phase.as_ref() != Some(&phase) {
			self.phase = Some(phase);
			self.actor = None;
		}
		match event {
			E::KeyPut { revision, key, value, lease, who } => {
				self.actor = Some(who.clone());
				let key = key.into_inner();
				let (create_revision, version) = match self.key_meta(&key)? {
					Some(m) => (m.create_revision, m.version.saturating_add(1)),
					None => (revision, 1),
				};
				let lease = lease.unwrap_or(0);
				self.keys.insert(key.clone(), Some(KeyMeta { create_revision, version, lease }));
				self.current = self.current.max(revision);
				self.push(
					revision,
					Some(who),
					Change::Put {
						key,
						value: value.into_inner(),
						lease,
						create_revision,
						mod_revision: revision,
						version,
					},
				);
			},
			E::KeysDeleted { revision, key, range_end, who } => {
				self.actor = Some(who.clone());
				let (start, end) = (key.into_inner(), range_end.into_inner());
				let request = RangeRequest {
					key: start.clone(),
					range_end: end.clone(),
					keys_only: true,
					..Default::default()
				};
				let stored = self
					.index
					.client
					.runtime_api()
					.range(self.parent, request)
					.map_err(Self::api_err)?;
				let mut candidates: BTreeSet<Vec<u8>> =
					stored.kvs.into_iter().map(|kv| kv.key).collect();
				candidates
					.extend(self.keys.keys().filter(|k| key_in_range(k, &start, &end)).cloned());
				self.current = self.current.max(revision);
				for key in candidates {
					if self.keys.get(&key).is_none_or(Option::is_some) {
						self.keys.insert(key.clone(), None);
						self.push(revision, Some(who.clone()), Change::Delete { key });
					}
				}
			},
			E::LeaseEnded { lease, revision, who, .. } => {
				self.actor = who.clone();
				if let Some(revision) = revision {
					let stored = self
						.index
						.client
						.runtime_api()
						.lease_keys(self.parent, lease)
						.map_err(Self::api_err)?;
					let mut candidates: BTreeSet<Vec<u8>> = stored.into_iter().collect();
					candidates.extend(
						self.keys
							.iter()
							.filter(|(_, m)| m.is_some_and(|m| m.lease == lease))
							.map(|(k, _)| k.clone()),
					);
					self.current = self.current.max(revision);
					for key in candidates {
						let attached = match self.keys.get(&key) {
							Some(Some(m)) => m.lease == lease,
							Some(None) => false,
							None => true,
						};
						if attached {
							self.keys.insert(key.clone(), None);
							self.push(revision, who.clone(), Change::Delete { key });
						}
					}
				}
			},
			E::TxnApplied { revision, who, .. } => {
				self.actor = Some(who);
				self.current = self.current.max(revision);
			},
			E::InstanceRegistered { service, instance_id, owner, .. } => {
				self.actor = Some(owner.clone());
				self.instance(
					InstanceKind::Registered,
					service.into_inner(),
					instance_id.into_inner(),
					Some(owner),
				)?;
			},
			E::InstanceUpdated { service, instance_id, who } => {
				self.actor = Some(who.clone());
				self.instance(
					InstanceKind::Updated,
					service.into_inner(),
					instance_id.into_inner(),
					Some(who),
				)?;
			},
			E::HealthReported { service, instance_id, who, .. } => {
				self.actor = Some(who.clone());
				self.instance(
					InstanceKind::Health,
					service.into_inner(),
					instance_id.into_inner(),
					Some(who),
				)?;
			},
			E::InstanceDeregistered { service, instance_id, who } => {
				self.actor = Some(who.clone());
				self.instance(
					InstanceKind::Deregistered,
					service.into_inner(),
					instance_id.into_inner(),
					Some(who),
				)?;
			},
			E::InstanceRemoved { service, instance_id, .. } => {
				let who = self.actor.clone();
				self.instance(
					InstanceKind::Removed,
					service.into_inner(),
					instance_id.into_inner(),
					who,
				)?;
			},
			E::Campaigned { election, who, .. } => {
				self.actor = Some(who.clone());
				self.election(ElectionKind::Campaigned, election.into_inner(), Some(who))?;
			},
			E::Proclaimed { election, who, value } => {
				self.actor = Some(who.clone());
				let election = election.into_inner();
				self.track(&election)?.value = value.into_inner();
				self.election(ElectionKind::Proclaimed, election, Some(who))?;
			},
			E::Resigned { election, who } => {
				self.actor = Some(who.clone());
				self.election(ElectionKind::Resigned, election.into_inner(), Some(who))?;
			},
			E::CandidacyEnded { election, .. } => {
				let who = self.actor.clone();
				self.election(ElectionKind::CandidacyEnded, election.into_inner(), who)?;
			},
			E::LeaderChanged { election, leader, term } => {
				let election = election.into_inner();
				let value = match &leader {
					Some(leader) => self.leader_value_after(&election, leader)?,
					None => Vec::new(),
				};
				let track = self.track(&election)?;
				track.leader = leader;
				track.term = term;
				track.value = value;
				let who = self.actor.clone();
				self.election(ElectionKind::LeaderChanged, election, who)?;
			},
			// Lease grants and keep-alives change no key, instance or election.
			_ => {},
		}
		Ok(())
	}

	/// The key's metadata just before the current event.
	fn key_meta(&mut self, key: &[u8]) -> IndexResult<Option<KeyMeta>> {
		if let Some(known) = self.keys.get(key) {
			return Ok(*known);
		}
		let request = RangeRequest { key: key.to_vec(), keys_only: true, ..Default::default() };
		let stored = self
			.index
			.client
			.runtime_api()
			.range(self.parent, request)
			.map_err(Self::api_err)?;
		Ok(stored.kvs.into_iter().find(|kv| kv.key == key).map(|kv| KeyMeta {
			create_revision: kv.create_revision,
			version: kv.version,
			lease: kv.lease,
		}))
	}

	fn instance(
		&mut self,
		kind: InstanceKind,
		service: Vec<u8>,
		instance_id: Vec<u8>,
		who: Option<AccountId>,
	) -> IndexResult<()> {
		let instance = match kind {
			InstanceKind::Deregistered | InstanceKind::Removed => None,
			_ => {
				if !self.instances_after.contains_key(&service) {
					let live = self
						.index
						.client
						.runtime_api()
						.instances(self.hash, service.clone(), None)
						.map_err(Self::api_err)?;
					self.instances_after.insert(service.clone(), live);
				}
				self.instances_after
					.get(&service)
					.and_then(|live| live.iter().find(|i| i.instance_id == instance_id))
					.cloned()
			},
		};
		let revision = self.current;
		self.push(revision, who, Change::Instance { kind, service, instance_id, instance });
		Ok(())
	}

	fn election(
		&mut self,
		kind: ElectionKind,
		election: Vec<u8>,
		who: Option<AccountId>,
	) -> IndexResult<()> {
		let track = self.track(&election)?;
		let change = Change::Election {
			kind,
			election,
			leader: track.leader.clone(),
			term: track.term,
			value: track.value.clone(),
		};
		let revision = self.current;
		self.push(revision, who, change);
		Ok(())
	}

	/// The election as the replay knows it, first read from the parent's state.
	fn track(&mut self, election: &[u8]) -> IndexResult<&mut ElectionTrack> {
		if !self.elections.contains_key(election) {
			let before = self
				.index
				.client
				.runtime_api()
				.election(self.parent, election.to_vec())
				.map_err(Self::api_err)?;
			let track = match before {
				Some(e) => ElectionTrack {
					leader: e.leader.as_ref().map(|c| c.who.clone()),
					term: e.term,
					value: e.leader.map(|c| c.value).unwrap_or_default(),
				},
				None => ElectionTrack { leader: None, term: 0, value: Vec::new() },
			};
			self.elections.insert(election.to_vec(), track);
		}
		self.elections
			.get_mut(election)
			.ok_or_else(|| "election track vanished".to_string())
	}

	/// A new leader's value, as its candidacy holds it at the end of the block.
	fn leader_value_after(&self, election: &[u8], leader: &AccountId) -> IndexResult<Vec<u8>> {
		let after = self
			.index
			.client
			.runtime_api()
			.election(self.hash, election.to_vec())
			.map_err(Self::api_err)?;
		Ok(after
			.and_then(|e| e.candidates.into_iter().find(|c| &c.who == leader))
			.map(|c| c.value)
			.unwrap_or_default())
	}
}
