//! The registry's JSON-RPC (`registry_*`), as `docs/rpc.md` specifies it.
//!
//! A thin layer, as etcd's `v3rpc`: read methods translate their parameters, call the
//! `ServiceRegistryApi` runtime API at the block asked for and translate the answer. History,
//! reads at a past revision and subscriptions come from the [`index::Index`] that the node
//! fills as blocks are finalized.

pub mod error;
pub mod index;
pub mod types;

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use jsonrpsee::{
	core::{async_trait, RpcResult, SubscriptionResult},
	types::ErrorObjectOwned,
	PendingSubscriptionSink, SubscriptionMessage, SubscriptionSink,
};
use pallet_service_registry_runtime_api::{
	prefix_end, KeyValueInfo, RangeRequest, Revision, ServiceRegistryApi,
};
use regchain_rpc_api::{
	AtBlock, ElectionAnswer, ElectionsAnswer, HexParam, HistoryAnswer, HistoryRequest,
	InstanceFilter, InstancesAnswer, KeySelector, LeaseAnswer, LeasesAnswer, RangeAnswer,
	RangeRequest as RangeParams, RegistryApiServer, RevisionAnswer, ServiceSummary, ServicesAnswer,
	WatchItem, WatchOptions,
};
use sp_api::ProvideRuntimeApi;
use sp_blockchain::HeaderBackend;
use sp_core::H256;
use tokio::sync::broadcast::error::RecvError;

use self::{
	error::{compacted, future_revision, invalid_params, runtime_api, unknown_block},
	index::{key_in_range, BlockChanges, Change, Index, Item, Meta, Notification},
	types::{
		change, election, instance, key_value, lease, parse_health, parse_hex, retracted, Block,
	},
};
use crate::types::FullClient;

/// The revision of an empty key space (etcd's, and the pallet's, first revision).
const INITIAL_REVISION: Revision = 1;
/// `registry_history`'s default and largest `limit`.
const HISTORY_LIMIT: u32 = 1000;
const HISTORY_MAX_LIMIT: u32 = 10_000;
/// How long a read at a revision the chain has finalized waits for the index to catch up.
const INDEX_LAG_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs a runtime call from an async method without holding up the async workers: Tokio moves
/// the worker's other tasks (networking, consensus) to another thread while it runs, as a
/// `blocking` method's call would be.
fn on_blocking_thread<R>(call: impl FnOnce() -> R) -> R {
	tokio::task::block_in_place(call)
}

/// Which changes a history request or a subscription wants.
#[derive(Clone, Debug)]
enum Selector {
	/// Keys of `[key, range_end)`, etcd's conventions.
	Keys { key: Vec<u8>, range_end: Vec<u8> },
	/// A service's instances.
	Service(Vec<u8>),
	/// An election.
	Election(Vec<u8>),
}

impl Selector {
	fn matches(&self, change: &Change) -> bool {
		match (self, change) {
			(
				Self::Keys { key, range_end },
				Change::Put { key: k, .. } | Change::Delete { key: k },
			) => key_in_range(k, key, range_end),
			(Self::Service(s), Change::Instance { service, .. }) => s == service,
			(Self::Election(e), Change::Election { election, .. }) => e == election,
			_ => false,
		}
	}
}

/// The registry RPC's handler.
pub struct Registry {
	client: Arc<FullClient>,
	index: Arc<Index>,
}

impl Registry {
	/// A handler reading `client`'s chain and `index`.
	pub fn new(client: Arc<FullClient>, index: Arc<Index>) -> Self {
		Self { client, index }
	}

	/// The block named by `at`: `finalized` (default), `best` or a hash.
	fn at(&self, at: Option<AtBlock>) -> RpcResult<Block> {
		let info = self.client.info();
		match at.unwrap_or_default() {
			AtBlock::Finalized => {
				Ok(Block { number: info.finalized_number, hash: info.finalized_hash })
			},
			AtBlock::Best => Ok(Block { number: info.best_number, hash: info.best_hash }),
			AtBlock::Hash(text) => {
				let bytes = parse_hex("at", &HexParam(text.clone()))?;
				if bytes.len() != 32 {
					return Err(invalid_params(format!(
						"at: expected \"finalized\", \"best\" or a 32-byte block hash, got {text:?}"
					)));
				}
				let hash = H256::from_slice(&bytes);
				match self.client.number(hash) {
					Ok(Some(number)) => Ok(Block { number, hash }),
					_ => Err(unknown_block(text)),
				}
			},
		}
	}

	/// Reads `[key, range_end)` as it was at revision `revision`: the state of the parent of the
	/// block that took it, plus that block's changes up to it.
	async fn range_at_revision(
		&self,
		request: RangeRequest,
		revision: Revision,
	) -> RpcResult<RangeAnswer> {
		let info = self.client.info();
		let current =
			on_blocking_thread(|| self.client.runtime_api().revision(info.finalized_hash))
				.map_err(runtime_api)?;
		if revision > current {
			return Err(future_revision(revision, current));
		}
		let finalized = Block { number: info.finalized_number, hash: info.finalized_hash };
		if revision == current {
			return on_blocking_thread(|| self.range_at_block(request, finalized))
				.map(|answer| RangeAnswer { revision, ..answer });
		}
		let meta = self.indexed_up_to(revision).await;
		let Some(meta) = meta else { return Err(compacted(revision, current)) };
		if revision < meta.oldest_revision {
			return Err(compacted(revision, meta.oldest_revision));
		}
		let (base_at, block) = match self.index.block_of(revision).and_then(|n| self.index.block(n))
		{
			Some(block) => {
				let parent_number = block.number.saturating_sub(1);
				(Block { number: parent_number, hash: block.parent_hash }, Some(block))
			},
			// Revision 1 was taken by no block: it is the key space of genesis.
			None if revision == INITIAL_REVISION && meta.oldest_block <= 1 => {
				let genesis = self
					.client
					.hash(0)
					.ok()
					.flatten()
					.ok_or_else(|| compacted(revision, meta.oldest_revision))?;
				(Block { number: 0, hash: genesis }, None)
			},
			None => return Err(compacted(revision, meta.oldest_revision.max(INITIAL_REVISION))),
		};
		// Every key of the range as of the parent block, to replay the block's changes on. Its
		// values only when the answer needs them: a count (such as etcd's DeleteRange reports)
		// of a range whose values together exceed the runtime's largest allocation (32 MiB)
		// would fail otherwise.
		let full = RangeRequest {
			key: request.key.clone(),
			range_end: request.range_end.clone(),
			keys_only: request.keys_only || request.count_only,
			..Default::default()
		};
		let base = on_blocking_thread(|| self.client.runtime_api().range(base_at.hash, full))
			.map_err(|e| {
				if state_discarded(&e) {
					compacted(revision, meta.oldest_revision)
				} else {
					runtime_api(e)
				}
			})?;
		let mut keys: BTreeMap<Vec<u8>, KeyValueInfo> =
			base.kvs.into_iter().map(|kv| (kv.key.clone(), kv)).collect();
		let mut at = base_at;
		if let Some(block) = block {
			at = Block { number: block.number, hash: block.hash };
			for item in block.items.iter().filter(|item| item.revision <= revision) {
				match &item.change {
					Change::Put { key, value, lease, create_revision, mod_revision, version }
						if key_in_range(key, &request.key, &request.range_end) =>
					{
						keys.insert(
							key.clone(),
							KeyValueInfo {
								key: key.clone(),
								create_revision: *create_revision,
								mod_revision: *mod_revision,
								version: *version,
								value: value.clone(),
								lease: *lease,
							},
						);
					},
					Change::Delete { key } => {
						keys.remove(key);
					},
					_ => {},
				}
			}
		}
		let count = keys.len() as u64;
		let limit = usize::try_from(request.limit).unwrap_or(usize::MAX);
		let more = request.limit > 0 && count > request.limit;
		let kvs = if request.count_only {
			Vec::new()
		} else {
			keys.into_values()
				.take(if limit == 0 { usize::MAX } else { limit })
				.map(|kv| key_value(kv, request.keys_only))
				.collect()
		};
		Ok(RangeAnswer { revision, kvs, more, count, at: at.at() })
	}

	fn range_at_block(&self, request: RangeRequest, at: Block) -> RpcResult<RangeAnswer> {
		let keys_only = request.keys_only;
		let answer = self.client.runtime_api().range(at.hash, request).map_err(runtime_api)?;
		Ok(RangeAnswer {
			revision: answer.revision,
			kvs: answer.kvs.into_iter().map(|kv| key_value(kv, keys_only)).collect(),
			more: answer.more,
			count: answer.count,
			at: at.at(),
		})
	}

	/// The index once it covers `revision`, waiting briefly for it to index what the chain
	/// has just finalized.
	async fn indexed_up_to(&self, revision: Revision) -> Option<Meta> {
		let deadline = tokio::time::Instant::now() + INDEX_LAG_TIMEOUT;
		loop {
			let meta = self.index.meta();
			if meta.is_some_and(|m| m.last_revision >= revision)
				|| tokio::time::Instant::now() >= deadline
			{
				return meta;
			}
			tokio::time::sleep(Duration::from_millis(50)).await;
		}
	}

	/// The first indexed block to read for changes with a revision of at least `from`.
	fn first_block_for(&self, meta: &Meta, from: Revision) -> u32 {
		if from <= meta.oldest_revision {
			return meta.oldest_block;
		}
		if from > meta.last_revision {
			// Only changes without a revision of their own may still come, after the last block.
			return meta.last_block.saturating_add(1);
		}
		self.index.block_of(from).unwrap_or(meta.oldest_block)
	}

	/// Whether every change from revision `from` on can be streamed, given the index `meta` and
	/// the revision `current` at the finalized head; if not, the oldest revision that can.
	///
	/// A start in the future always can (its changes come live), and so can any start while the
	/// index is empty on a chain younger than the window: what the index has not stored yet it
	/// will, from block 1. etcd never refuses a watch from its current revision either.
	fn replayable(
		&self,
		meta: Option<Meta>,
		from: Revision,
		current: Revision,
	) -> Result<(), Revision> {
		match meta {
			Some(meta) if from < meta.oldest_revision => Err(meta.oldest_revision),
			Some(_) => Ok(()),
			None if from > current || self.index.starts_at_genesis() => Ok(()),
			None => Err(current.saturating_add(1)),
		}
	}

	/// Checks a subscription's start: the revision it replays from must still be indexed (or
	/// be about to be). What [`Registry::follow`] then streams.
	async fn start_watch(
		&self,
		selector: Selector,
		options: Option<WatchOptions>,
	) -> Result<Watching, ErrorObjectOwned> {
		let options = options.unwrap_or_default();
		let from = options.from_revision.filter(|r| *r > 0);
		// Subscribe before reading the index: every block after what is read comes live.
		let live = self.index.subscribe();
		let meta = match from {
			Some(from) => {
				// A node that has just started, or a chain that has just begun finalizing, may not
				// have indexed its finalized head yet: wait briefly rather than refuse a revision
				// it is about to hold.
				let finalized = self.client.info().finalized_hash;
				let current = on_blocking_thread(|| self.client.runtime_api().revision(finalized))
					.map_err(runtime_api)?;
				let meta = self.indexed_up_to(from.saturating_sub(1).min(current)).await;
				self.replayable(meta, from, current).map_err(|oldest| compacted(from, oldest))?;
				meta
			},
			None => self.index.meta(),
		};
		Ok(Watching { selector, live, meta, from: from.unwrap_or(0), best: options.best })
	}

	/// Streams a subscription to `sink`: replays from its start, then follows finalized (or
	/// best) blocks until the receiver leaves. An error ends a best stream that fell behind.
	async fn follow(&self, watching: Watching, sink: &impl ItemSink) -> Result<(), String> {
		let Watching { selector, mut live, meta, from, best } = watching;
		let _best_watcher = best.then(|| self.index.watch_best());
		let mut last_finalized = meta.map(|m| m.last_block).unwrap_or(0);

		if let (Some(meta), true) = (meta, from > 0) {
			for number in self.first_block_for(&meta, from)..=meta.last_block {
				yield_now_and_then(number).await;
				if let Some(block) = self.index.block(number) {
					if !send_block(sink, &block, &selector, from, true).await {
						return Ok(());
					}
				}
			}
		}
		// Best streams: the unfinalized blocks of the best chain, by number.
		let mut sent_best: BTreeMap<u32, H256> = BTreeMap::new();
		if best {
			for block in self.index.best_chain_after(last_finalized) {
				sent_best.insert(block.number, block.hash);
				if !send_block(sink, &block, &selector, from, false).await {
					return Ok(());
				}
			}
		}

		loop {
			let notification = tokio::select! {
				_ = sink.closed() => return Ok(()),
				notification = live.recv() => notification,
			};
			let open = match notification {
				Ok(Notification::Finalized(block)) if best => {
					sent_best.retain(|number, _| *number > block.number);
					true
				},
				Ok(Notification::Finalized(block)) => {
					if block.number <= last_finalized {
						continue;
					}
					// Blocks missed while lagging behind come from the database.
					for number in last_finalized.saturating_add(1)..block.number {
						yield_now_and_then(number).await;
						if let Some(missed) = self.index.block(number) {
							if !send_block(sink, &missed, &selector, from, true).await {
								return Ok(());
							}
						}
					}
					last_finalized = block.number;
					send_block(sink, &block, &selector, from, true).await
				},
				Ok(Notification::Best(block)) if best => {
					if sent_best.get(&block.number) == Some(&block.hash) {
						continue;
					}
					sent_best.insert(block.number, block.hash);
					send_block(sink, &block, &selector, from, false).await
				},
				Ok(Notification::Retracted { number, hash }) if best => {
					if sent_best.get(&number) != Some(&hash) {
						continue;
					}
					sent_best.remove(&number);
					sink.send(&retracted(number, hash)).await
				},
				Ok(_) => true,
				// A best stream cannot recover missed blocks: end it so that the client resumes
				// from the last revision it saw. A finalized stream reads them from the index.
				Err(RecvError::Lagged(missed)) if best => {
					return Err(format!(
						"the subscription fell {missed} notifications behind; resubscribe from the last revision seen"
					))
				},
				Err(RecvError::Lagged(_)) => true,
				Err(RecvError::Closed) => false,
			};
			if !open {
				return Ok(());
			}
		}
	}

	/// Runs a JSON-RPC subscription: refused as [`Registry::start_watch`] says, else streamed.
	async fn watch(
		&self,
		pending: PendingSubscriptionSink,
		selector: Selector,
		options: Option<WatchOptions>,
	) -> SubscriptionResult {
		match self.start_watch(selector, options).await {
			Ok(watching) => {
				let sink = pending.accept().await?;
				self.follow(watching, &sink).await.map_err(Into::into)
			},
			Err(e) => {
				pending.reject(e).await;
				Ok(())
			},
		}
	}
}

/// Lets the async worker run other tasks every so many blocks of a replay, which reads the
/// index without awaiting when no block holds a change the subscription wants.
async fn yield_now_and_then(number: u32) {
	if number % 64 == 0 {
		tokio::task::yield_now().await;
	}
}

/// The changes of `target` from revision `from` on, then as they are finalized, for a reader in
/// this process: the registry RPC's subscriptions, without a JSON-RPC round trip.
pub async fn changes(
	registry: Arc<Registry>,
	target: &regchain_client::WatchTarget,
	from: Revision,
) -> Result<tokio::sync::mpsc::Receiver<WatchItem>, ErrorObjectOwned> {
	use regchain_client::WatchTarget;
	let selector = match target {
		WatchTarget::Keys { key, range_end } => {
			Selector::Keys { key: key.clone(), range_end: range_end.clone() }
		},
		WatchTarget::Instances { service } => Selector::Service(service.clone()),
		WatchTarget::Election { name } => Selector::Election(name.clone()),
	};
	let options = WatchOptions { from_revision: Some(from), best: false };
	let watching = registry.start_watch(selector, Some(options)).await?;
	let (sender, receiver) = tokio::sync::mpsc::channel(CHANGES_BUFFER);
	tokio::spawn(async move {
		// A finalized stream ends only when its reader leaves.
		let _ = registry.follow(watching, &sender).await;
	});
	Ok(receiver)
}

/// How many items a reader in this process may leave unread before the stream waits for it.
const CHANGES_BUFFER: usize = 1024;

/// A subscription checked by [`Registry::start_watch`], ready to stream.
struct Watching {
	selector: Selector,
	live: tokio::sync::broadcast::Receiver<Notification>,
	meta: Option<Meta>,
	from: Revision,
	best: bool,
}

/// Where a subscription's items go: a JSON-RPC subscription, or a reader in this process.
#[async_trait]
trait ItemSink: Send + Sync {
	/// Sends one item; `false` once the receiver has left.
	async fn send(&self, item: &WatchItem) -> bool;
	/// Completes once the receiver has left.
	async fn closed(&self);
}

#[async_trait]
impl ItemSink for SubscriptionSink {
	async fn send(&self, item: &WatchItem) -> bool {
		match SubscriptionMessage::from_json(item) {
			Ok(message) => SubscriptionSink::send(self, message).await.is_ok(),
			Err(e) => {
				log::error!("registry subscription: cannot encode a change: {e}");
				false
			},
		}
	}

	async fn closed(&self) {
		SubscriptionSink::closed(self).await
	}
}

#[async_trait]
impl ItemSink for tokio::sync::mpsc::Sender<WatchItem> {
	async fn send(&self, item: &WatchItem) -> bool {
		tokio::sync::mpsc::Sender::send(self, item.clone()).await.is_ok()
	}

	async fn closed(&self) {
		tokio::sync::mpsc::Sender::closed(self).await
	}
}

/// Sends the items of `block` that `selector` wants and whose revision is at least `from`.
/// `false` once the receiver has left.
async fn send_block(
	sink: &impl ItemSink,
	block: &BlockChanges,
	selector: &Selector,
	from: Revision,
	finalized: bool,
) -> bool {
	for item in block.items.iter().filter(|item| wanted(item, selector, from)) {
		if !sink.send(&WatchItem::Change(change(block, item, finalized, false))).await {
			return false;
		}
	}
	true
}

fn wanted(item: &Item, selector: &Selector, from: Revision) -> bool {
	item.revision >= from && selector.matches(&item.change)
}

/// The range of a key (empty `range_end`) or `[key, range_end)`.
fn range_param(key: &HexParam, range_end: Option<&HexParam>) -> RpcResult<(Vec<u8>, Vec<u8>)> {
	let key = parse_hex("key", key)?;
	let range_end = range_end
		.map(|end| parse_hex("range_end", end))
		.transpose()?
		.unwrap_or_default();
	Ok((key, range_end))
}

#[async_trait]
impl RegistryApiServer for Registry {
	fn revision(&self, at: Option<AtBlock>) -> RpcResult<RevisionAnswer> {
		let at = self.at(at)?;
		let revision = self.client.runtime_api().revision(at.hash).map_err(runtime_api)?;
		Ok(RevisionAnswer { revision, at: at.at() })
	}

	fn services(&self, at: Option<AtBlock>) -> RpcResult<ServicesAnswer> {
		let at = self.at(at)?;
		let services = self.client.runtime_api().services(at.hash).map_err(runtime_api)?;
		let services = services
			.into_iter()
			.map(|s| ServiceSummary { name: s.name.into(), instances: s.instances })
			.collect();
		Ok(ServicesAnswer { services, at: at.at() })
	}

	fn instances(
		&self,
		service: HexParam,
		filter: Option<InstanceFilter>,
		at: Option<AtBlock>,
	) -> RpcResult<InstancesAnswer> {
		let service = parse_hex("service", &service)?;
		let filter = filter.unwrap_or_default();
		let tag = filter.tag.as_ref().map(|tag| parse_hex("filter.tag", tag)).transpose()?;
		let health = filter
			.health
			.as_deref()
			.map(|name| {
				parse_health(name).ok_or_else(|| {
					invalid_params(format!(
						"filter.health: expected unknown, passing, warning or critical, got {name:?}"
					))
				})
			})
			.transpose()?;
		let at = self.at(at)?;
		let instances = self
			.client
			.runtime_api()
			.instances(at.hash, service, tag)
			.map_err(runtime_api)?;
		let instances = instances
			.iter()
			.filter(|i| health.is_none_or(|h| i.health == h))
			.map(instance)
			.collect();
		Ok(InstancesAnswer { instances, at: at.at() })
	}

	fn election(&self, name: HexParam, at: Option<AtBlock>) -> RpcResult<ElectionAnswer> {
		let name = parse_hex("name", &name)?;
		let at = self.at(at)?;
		let answer = self.client.runtime_api().election(at.hash, name).map_err(runtime_api)?;
		Ok(ElectionAnswer { election: answer.as_ref().map(election), at: at.at() })
	}

	fn elections(&self, at: Option<AtBlock>) -> RpcResult<ElectionsAnswer> {
		let at = self.at(at)?;
		let names = self.client.runtime_api().elections(at.hash).map_err(runtime_api)?;
		Ok(ElectionsAnswer { elections: names.into_iter().map(Into::into).collect(), at: at.at() })
	}

	fn lease(&self, id: u64, at: Option<AtBlock>) -> RpcResult<LeaseAnswer> {
		let at = self.at(at)?;
		let answer = self
			.client
			.runtime_api()
			.lease_time_to_live(at.hash, id, true)
			.map_err(runtime_api)?;
		Ok(LeaseAnswer { lease: answer.as_ref().map(lease), at: at.at() })
	}

	fn leases(&self, at: Option<AtBlock>) -> RpcResult<LeasesAnswer> {
		let at = self.at(at)?;
		let leases = self.client.runtime_api().leases(at.hash).map_err(runtime_api)?;
		Ok(LeasesAnswer { leases, at: at.at() })
	}

	async fn range(&self, request: RangeParams, at: Option<AtBlock>) -> RpcResult<RangeAnswer> {
		let (key, range_end) = range_param(&request.key, request.range_end.as_ref())?;
		let range = RangeRequest {
			key,
			range_end,
			limit: request.limit.unwrap_or(0),
			keys_only: request.keys_only,
			count_only: request.count_only,
			..Default::default()
		};
		match request.revision.filter(|r| *r > 0) {
			Some(revision) => self.range_at_revision(range, revision).await,
			None => {
				let at = self.at(at)?;
				on_blocking_thread(|| self.range_at_block(range, at))
			},
		}
	}

	fn history(&self, request: HistoryRequest) -> RpcResult<HistoryAnswer> {
		let selector = match (&request.key, &request.prefix, &request.service, &request.election) {
			(Some(key), None, None, None) => {
				Selector::Keys { key: parse_hex("key", key)?, range_end: Vec::new() }
			},
			(None, Some(prefix), None, None) => {
				let prefix = parse_hex("prefix", prefix)?;
				let range_end = prefix_end(&prefix);
				Selector::Keys { key: prefix, range_end }
			},
			(None, None, Some(service), None) => Selector::Service(parse_hex("service", service)?),
			(None, None, None, Some(name)) => Selector::Election(parse_hex("election", name)?),
			_ => {
				return Err(invalid_params(
					"request: give exactly one of \"key\", \"prefix\", \"service\", \"election\"",
				))
			},
		};
		let limit = match request.limit {
			None | Some(0) => HISTORY_LIMIT,
			Some(limit) => limit.min(HISTORY_MAX_LIMIT),
		} as usize;
		let from = request.from_revision.unwrap_or(0);
		let Some(meta) = self.index.meta() else {
			return Ok(HistoryAnswer { items: Vec::new(), more: false });
		};
		if from > 0 && from < meta.oldest_revision {
			return Err(compacted(from, meta.oldest_revision));
		}
		let mut items = Vec::new();
		for number in self.first_block_for(&meta, from)..=meta.last_block {
			let Some(block) = self.index.block(number) else { continue };
			for item in block.items.iter().filter(|item| wanted(item, &selector, from)) {
				if items.len() == limit {
					return Ok(HistoryAnswer { items, more: true });
				}
				items.push(change(&block, item, true, true));
			}
		}
		Ok(HistoryAnswer { items, more: false })
	}

	async fn subscribe_keys(
		&self,
		pending: PendingSubscriptionSink,
		selector: KeySelector,
		options: Option<WatchOptions>,
	) -> SubscriptionResult {
		let (key, range_end) = match range_param(&selector.key, selector.range_end.as_ref()) {
			Ok(range) => range,
			Err(e) => {
				pending.reject(e).await;
				return Ok(());
			},
		};
		self.watch(pending, Selector::Keys { key, range_end }, options).await
	}

	async fn subscribe_instances(
		&self,
		pending: PendingSubscriptionSink,
		service: HexParam,
		options: Option<WatchOptions>,
	) -> SubscriptionResult {
		match parse_hex("service", &service) {
			Ok(service) => self.watch(pending, Selector::Service(service), options).await,
			Err(e) => {
				pending.reject(e).await;
				Ok(())
			},
		}
	}

	async fn subscribe_election(
		&self,
		pending: PendingSubscriptionSink,
		name: HexParam,
		options: Option<WatchOptions>,
	) -> SubscriptionResult {
		match parse_hex("name", &name) {
			Ok(name) => self.watch(pending, Selector::Election(name), options).await,
			Err(e) => {
				pending.reject(e).await;
				Ok(())
			},
		}
	}
}

/// Whether a runtime call failed because the node no longer keeps the block's state (pruned),
/// rather than in the runtime itself.
fn state_discarded(error: &sp_api::ApiError) -> bool {
	matches!(error, sp_api::ApiError::UnknownBlock(_))
}
