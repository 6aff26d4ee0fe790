//! Watch: etcd's bidirectional stream, on the node's change index.
//!
//! Each watcher follows the backend's changes of its keys ([`crate::Backend::watch`]: inside the
//! node, the index itself; over JSON-RPC, a `registry_subscribeKeys` subscription): from
//! `start_revision` it replays the indexed changes, then streams finalized ones, with no gap and
//! no duplicate. A start older than
//! the node's window cancels the watcher with `compact_revision` set, as etcd does. A
//! subscription that fails or ends is taken up again from the last change delivered.

use std::{collections::HashMap, pin::Pin, sync::Arc, time::Duration};

use etcd_client::proto::{
	PbEvent, PbKeyValue, PbWatchRequest, PbWatchRequestUnion, PbWatchResponse, PbWatchService,
};
use futures::{Stream, StreamExt};
use regchain_client::{Change, WatchItem, WatchTarget};
use tokio::{sync::mpsc, task::JoinHandle};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::ReadAt;
use crate::{
	backend::{BackendError, Changes},
	convert::int,
	Api, LOG_TARGET,
};

/// etcd's Watch service.
pub struct Watch(pub Arc<Api>);

type WatchStream = Pin<Box<dyn Stream<Item = Result<PbWatchResponse, Status>> + Send>>;
type Sender = mpsc::Sender<Result<PbWatchResponse, Status>>;

/// etcd's `WatchCreateRequest.FilterType`.
const NOPUT: i32 = 0;
const NODELETE: i32 = 1;
/// etcd's `Event.EventType`.
const PUT: i32 = 0;
const DELETE: i32 = 1;

/// How often a watcher created with `progress_notify` reports progress (etcd: 10 minutes).
const PROGRESS_INTERVAL: Duration = Duration::from_secs(600);
/// The most watchers this API serves at once, over all its clients and streams: each holds a
/// task and a buffer of changes in the node, which one client must not grow without bound. Over
/// a [`crate::RemoteBackend`], each is also a subscription on the one WebSocket connection the
/// API keeps to its node, which takes at most 1,024 (Substrate's
/// `--rpc-max-subscriptions-per-connection`), and every write needs one too while it waits for
/// finality: at that limit every write failed ("Too many subscriptions on the connection"), so
/// writes keep a quarter of them. A create beyond this bound is cancelled at once with a reason.
pub const MAX_WATCHERS: usize = 768;

#[tonic::async_trait]
impl PbWatchService for Watch {
	type WatchStream = WatchStream;

	async fn watch(
		&self,
		request: Request<Streaming<PbWatchRequest>>,
	) -> Result<Response<Self::WatchStream>, Status> {
		let requests = request.into_inner();
		let (tx, rx) = mpsc::channel(256);
		tokio::spawn(serve_stream(self.0.clone(), requests, tx));
		Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
	}
}

/// Answers one client's watch stream until it closes.
pub(crate) async fn serve_stream(
	api: Arc<Api>,
	mut requests: impl Stream<Item = Result<PbWatchRequest, Status>> + Unpin + Send + 'static,
	tx: Sender,
) {
	let mut watchers: HashMap<i64, JoinHandle<()>> = HashMap::new();
	let mut next_id = 0i64;
	while let Some(Ok(request)) = requests.next().await {
		watchers.retain(|_, task| !task.is_finished());
		let current = match api.current_revision().await {
			Ok(revision) => revision,
			Err(status) => {
				let _ = tx.send(Err(status)).await;
				break;
			},
		};
		let header = api.header(current);
		let response = match request.request_union {
			Some(PbWatchRequestUnion::CreateRequest(create)) => {
				let id = if create.watch_id != 0 {
					create.watch_id
				} else {
					while watchers.contains_key(&next_id) {
						next_id += 1;
					}
					next_id
				};
				if watchers.contains_key(&id) {
					PbWatchResponse {
						header,
						watch_id: id,
						created: true,
						canceled: true,
						cancel_reason: "etcdserver: duplicate watch ID".into(),
						..Default::default()
					}
				} else if create.key.is_empty() {
					PbWatchResponse {
						header,
						watch_id: id,
						created: true,
						canceled: true,
						cancel_reason: "etcdserver: key is not provided".into(),
						..Default::default()
					}
				} else if crate::view::span(&create.key, &create.range_end)
					== crate::view::Span::Inside
				{
					PbWatchResponse {
						header,
						watch_id: id,
						created: true,
						canceled: true,
						cancel_reason:
							"regchain: the typed registry under /_registry/ cannot be watched \
							through the etcd API; use registry_subscribeInstances or \
							registry_subscribeElection of the JSON-RPC"
								.into(),
						..Default::default()
					}
				} else {
					let Ok(slot) = api.watcher_slots.clone().try_acquire_owned() else {
						let refused = PbWatchResponse {
							header,
							watch_id: id,
							created: true,
							canceled: true,
							cancel_reason: format!(
								"regchain: too many watchers: this node's etcd API serves at most \
								 {MAX_WATCHERS} at once; cancel some, or watch through another validator"
							),
							..Default::default()
						};
						if tx.send(Ok(refused)).await.is_err() {
							break;
						}
						continue;
					};
					let created = PbWatchResponse {
						header,
						watch_id: id,
						created: true,
						..Default::default()
					};
					if tx.send(Ok(created)).await.is_err() {
						break;
					}
					let watcher = Watcher {
						id,
						target: WatchTarget::Keys { key: create.key, range_end: create.range_end },
						// etcd's start 0 is "after the revision the created response reports".
						start: u64::try_from(create.start_revision)
							.ok()
							.filter(|start| *start > 0)
							.unwrap_or(current.saturating_add(1)),
						no_put: create.filters.contains(&NOPUT),
						no_delete: create.filters.contains(&NODELETE),
						prev_kv: create.prev_kv,
						progress: create.progress_notify,
					};
					let run = watcher.run(api.clone(), tx.clone());
					// The slot is given back when the watcher ends or is cancelled (aborted).
					watchers.insert(
						id,
						tokio::spawn(async move {
							let _slot = slot;
							run.await
						}),
					);
					continue;
				}
			},
			Some(PbWatchRequestUnion::CancelRequest(cancel)) => {
				match watchers.remove(&cancel.watch_id) {
					Some(task) => {
						task.abort();
						// Once it has ended, its slot is free: a create after this answer finds it.
						let _ = task.await;
						PbWatchResponse {
							header,
							watch_id: cancel.watch_id,
							canceled: true,
							..Default::default()
						}
					},
					None => continue,
				}
			},
			// etcd answers a progress request on the stream with watch ID -1.
			Some(PbWatchRequestUnion::ProgressRequest(_)) => {
				PbWatchResponse { header, watch_id: -1, ..Default::default() }
			},
			None => continue,
		};
		if tx.send(Ok(response)).await.is_err() {
			break;
		}
	}
	for task in watchers.values() {
		task.abort();
	}
}

/// One watcher of a stream.
struct Watcher {
	id: i64,
	target: WatchTarget,
	/// The first revision it streams: the request's start, or the one after the revision its
	/// created response reported.
	start: u64,
	no_put: bool,
	no_delete: bool,
	prev_kv: bool,
	progress: bool,
}

/// How many times in a row a watcher subscribes again before it gives up and ends its stream
/// with an error (the client then watches again, as etcd clients do when a stream breaks).
const RESUME_ATTEMPTS: u32 = 5;

/// Why a subscription stopped delivering.
enum Stopped {
	/// The client went away: nothing more to do.
	ClientGone,
	/// The node ended the subscription.
	Ended,
}

impl Watcher {
	/// Streams the watcher's events until the client goes away. A subscription to the node
	/// that fails or ends is taken up again where it stopped, so that the client sees neither a
	/// gap nor a duplicate; a watcher is canceled only for what etcd cancels it for (a start
	/// revision compacted away). If the node cannot be subscribed to again, the stream ends with
	/// an error, never with a silent cancel, which clients such as Patroni would not notice.
	async fn run(self, api: Arc<Api>, tx: Sender) {
		// A start pinned at creation (never 0), so that a resumed subscription does not skip
		// what happened in between.
		let mut from = self.start;
		// The last change delivered, `(block, event index)`: a resumed subscription starts at
		// its revision and skips it and what came before it in that revision.
		let mut last: Option<(u64, u32)> = None;
		let mut failures = 0u32;
		loop {
			let failure = match api.backend.watch(&self.target, from).await {
				Ok(stream) => {
					match self.follow(stream, &api, &tx, &mut from, &mut last, &mut failures).await
					{
						Stopped::ClientGone => return,
						Stopped::Ended => "the node ended the subscription".to_string(),
					}
				},
				Err(BackendError::Compacted { oldest }) => {
					let oldest = i64::try_from(oldest).unwrap_or(i64::MAX);
					let reason =
						"etcdserver: mvcc: required revision has been compacted".to_string();
					let _ = tx.send(Ok(self.canceled(&api, reason, oldest))).await;
					return;
				},
				Err(err) => err.to_string(),
			};
			failures += 1;
			if failures > RESUME_ATTEMPTS {
				log::warn!(target: LOG_TARGET, "watch {}: giving up at revision {from}: {failure}", self.id);
				let status = Status::unavailable(format!(
					"regchain: the watch lost its subscription to the node ({failure}); watch again from revision {from}"
				));
				let _ = tx.send(Err(status)).await;
				return;
			}
			log::info!(target: LOG_TARGET, "watch {}: subscribing again from revision {from} ({failure})", self.id);
			tokio::select! {
				_ = tokio::time::sleep(Duration::from_millis(200 * u64::from(failures))) => {},
				_ = tx.closed() => return,
			}
		}
	}

	fn canceled(&self, api: &Api, reason: String, compact_revision: i64) -> PbWatchResponse {
		PbWatchResponse {
			header: api.header(0),
			watch_id: self.id,
			canceled: true,
			cancel_reason: reason,
			compact_revision,
			..Default::default()
		}
	}

	/// Forwards one subscription's changes, advancing `from` and `last` past what it delivers.
	async fn follow(
		&self,
		stream: Changes,
		api: &Api,
		tx: &Sender,
		from: &mut u64,
		last: &mut Option<(u64, u32)>,
		failures: &mut u32,
	) -> Stopped {
		let mut batches = stream.ready_chunks(1024);
		let mut progress = tokio::time::interval(PROGRESS_INTERVAL);
		progress.tick().await;
		loop {
			let batch = tokio::select! {
				batch = batches.next() => batch,
				_ = tx.closed() => return Stopped::ClientGone,
				_ = progress.tick(), if self.progress => {
					let Ok(revision) = api.current_revision().await else { continue };
					let report = PbWatchResponse { header: api.header(revision), watch_id: self.id, ..Default::default() };
					if tx.send(Ok(report)).await.is_err() {
						return Stopped::ClientGone;
					}
					continue;
				},
			};
			let Some(batch) = batch else { return Stopped::Ended };
			let mut events = Vec::new();
			let mut revision = 0;
			for item in batch {
				let change = match item {
					Ok(WatchItem::Change(change)) => change,
					Ok(WatchItem::Retracted { .. }) => continue,
					Err(err) => {
						log::warn!(target: LOG_TARGET, "watch {}: undecodable change: {err}", self.id);
						continue;
					},
				};
				let position = (change.block_number, change.event_index);
				if last.is_some_and(|last| position <= last) {
					continue;
				}
				*last = Some(position);
				*from = change.revision;
				*failures = 0;
				revision = revision.max(change.revision);
				let Some(mut event) = event_of(&change) else { continue };
				if (event.r#type == PUT && self.no_put)
					|| (event.r#type == DELETE && self.no_delete)
				{
					continue;
				}
				if self.prev_kv {
					if let Some(key) = change.key() {
						event.prev_kv = api
							.read(
								&key.0,
								&[],
								ReadAt::Revision(change.revision.saturating_sub(1)),
								0,
								false,
								false,
							)
							.await
							.ok()
							.and_then(|mut read| read.kvs.pop());
					}
				}
				events.push(event);
			}
			if events.is_empty() {
				continue;
			}
			let response = PbWatchResponse {
				header: api.header(revision),
				watch_id: self.id,
				events,
				..Default::default()
			};
			if tx.send(Ok(response)).await.is_err() {
				return Stopped::ClientGone;
			}
		}
	}
}

/// A key change as etcd's event.
fn event_of(change: &Change) -> Option<PbEvent> {
	let key = change.key()?.0;
	let number = |field: &str| int(change.number(field).unwrap_or(0));
	match change.kind.as_str() {
		"put" => Some(PbEvent {
			r#type: PUT,
			kv: Some(PbKeyValue {
				key,
				value: change.value().map(|v| v.0).unwrap_or_default(),
				create_revision: number("create_revision"),
				mod_revision: number("mod_revision"),
				version: number("version"),
				lease: number("lease"),
			}),
			prev_kv: None,
		}),
		"delete" => Some(PbEvent {
			r#type: DELETE,
			kv: Some(PbKeyValue { key, mod_revision: int(change.revision), ..Default::default() }),
			prev_kv: None,
		}),
		_ => None,
	}
}
