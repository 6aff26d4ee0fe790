//! What the etcd services ask of the chain, and nothing else: the [`Backend`] trait, in the
//! place etcd's `etcdserver.RaftKV` holds under its `v3rpc` handlers.
//!
//! Its answers are the registry RPC's types ([`regchain_client::rpc_api`]) and its errors are
//! typed ([`BackendError`]): the services match on what went wrong, never on a message. This
//! crate's implementation, [`RemoteBackend`], reaches a node over its JSON-RPC; `regchain-node`
//! has its own, which answers reads and watches in the node's process; one that verifies a
//! remote node's answers (an etcd proxy that trusts no single validator) fits the same trait.

use futures::{stream::BoxStream, StreamExt};
use pallet_service_registry::Call;
use regchain_client::{
	rpc_api::error::{NOT_CONFIRMED, REVISION_UNAVAILABLE, TOO_LARGE},
	runtime::{AccountId, Runtime, RuntimeCall},
	AtBlock, Batcher, Client, ElectionState, Error, Instance, InstanceFilter, Lease, RangeAnswer,
	RangeRequest, Receipt, RevisionAnswer, RevisionUnavailable, ServiceSummary, Wait, WatchItem,
	WatchOptions, WatchTarget,
};
use sp_core::H256;

/// What went wrong, as the etcd services need to tell it apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackendError {
	/// The revision asked for is older than the chain's history window keeps.
	Compacted {
		/// The oldest revision available.
		oldest: u64,
	},
	/// The revision asked for is newer than the current one.
	FutureRevision,
	/// No quorum of validators confirmed a linearizable read point in time.
	NoQuorum(String),
	/// The answer is larger than can be returned in one piece.
	TooLarge(String),
	/// The registry refused the call on chain: the pallet's error name (`LeaseNotFound`).
	Registry(String),
	/// The chain refuses this API's signer: it is not an orchestrator.
	NotAuthorized(String),
	/// The transaction pool refused the write for another reason.
	Refused(String),
	/// Too many writes already wait for submission.
	Overloaded,
	/// The answer, or the write's finality, did not come in time.
	TimedOut,
	/// The write was dropped or invalidated before inclusion, and not finalized since.
	NotIncluded(String),
	/// The node cannot be reached, or lost the connection.
	Unavailable(String),
	/// The request is malformed.
	InvalidArgument(String),
	/// Anything else: the node and this API disagree.
	Internal(String),
}

impl std::fmt::Display for BackendError {
	fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
		match self {
			BackendError::Compacted { oldest } => {
				write!(f, "revision compacted (the oldest available is {oldest})")
			},
			BackendError::FutureRevision => f.write_str("revision in the future"),
			BackendError::Registry(name) => write!(f, "the registry refused the call: {name}"),
			BackendError::Overloaded => f.write_str("too many requests"),
			BackendError::TimedOut => f.write_str("timed out"),
			BackendError::NoQuorum(m)
			| BackendError::TooLarge(m)
			| BackendError::NotAuthorized(m)
			| BackendError::Refused(m)
			| BackendError::NotIncluded(m)
			| BackendError::Unavailable(m)
			| BackendError::InvalidArgument(m)
			| BackendError::Internal(m) => f.write_str(m),
		}
	}
}

/// A backend's answer.
pub type Result<T> = std::result::Result<T, BackendError>;

/// Changes as a watch receives them, in chain order.
pub type Changes = BoxStream<'static, Result<WatchItem>>;

/// The chain's progress, as etcd's Raft status reports it.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
	/// The finalized block's number.
	pub finalized: u32,
	/// The GRANDPA authority set's id.
	pub set_id: u64,
}

/// What the etcd services ask of the chain.
#[tonic::async_trait]
pub trait Backend: Send + Sync + 'static {
	/// The chain's genesis hash: what the cluster id is taken from.
	fn genesis(&self) -> H256;

	/// The account that signs this API's writes, if there is one: the member id.
	fn signer(&self) -> Option<AccountId>;

	/// A finalized block that a quorum of validators confirmed to include every write
	/// acknowledged anywhere before the call: the read point of a linearizable read.
	async fn read_index(&self) -> Result<AtBlock>;

	/// The key space's revision at `at`, with the block it was read at.
	async fn revision(&self, at: &AtBlock) -> Result<RevisionAnswer>;

	/// A range of the key space at `at`, or at the request's revision.
	async fn range(&self, request: &RangeRequest, at: &AtBlock) -> Result<RangeAnswer>;

	/// A live lease and its attachments.
	async fn lease(&self, id: u64, at: &AtBlock) -> Result<Option<Lease>>;

	/// The ids of the live leases, with the block they were read at.
	async fn leases(&self, at: &AtBlock) -> Result<(Vec<u64>, AtBlock)>;

	/// The services with live instances.
	async fn services(&self, at: &AtBlock) -> Result<Vec<ServiceSummary>>;

	/// A service's live instances.
	async fn instances(&self, service: &[u8], at: &AtBlock) -> Result<Vec<Instance>>;

	/// The names of the elections with candidates.
	async fn elections(&self, at: &AtBlock) -> Result<Vec<Vec<u8>>>;

	/// An election, if it has candidates.
	async fn election(&self, name: &[u8], at: &AtBlock) -> Result<Option<ElectionState>>;

	/// The validators, at the finalized head: etcd's members.
	async fn validators(&self) -> Result<Vec<AccountId>>;

	/// How far the chain has finalized.
	async fn progress(&self) -> Result<Progress>;

	/// Submits a registry call signed by this API's account, in a transaction shared with
	/// concurrent writes; its receipt once finalized.
	async fn write(&self, call: Call<Runtime>) -> Result<Receipt>;

	/// The changes of `target` from revision `from` on, then as they are finalized.
	async fn watch(&self, target: &WatchTarget, from: u64) -> Result<Changes>;
}

/// The backend over a node's JSON-RPC: the registry RPC for reads and watches, Substrate's for
/// storage and submission, writes batched into shared transactions.
pub struct RemoteBackend {
	client: std::sync::Arc<Client>,
	batcher: Batcher,
}

impl RemoteBackend {
	/// The backend answering through `client`, whose signer signs every write. Call it inside
	/// a Tokio runtime: it starts the task that batches writes.
	pub fn new(client: Client) -> Self {
		let client = std::sync::Arc::new(client);
		let batcher = Batcher::new(client.clone(), Wait::Finalized);
		RemoteBackend { client, batcher }
	}
}

#[tonic::async_trait]
impl Backend for RemoteBackend {
	fn genesis(&self) -> H256 {
		self.client.genesis()
	}

	fn signer(&self) -> Option<AccountId> {
		self.client.signer().map(|s| s.account())
	}

	async fn read_index(&self) -> Result<AtBlock> {
		Ok(AtBlock::Hash(self.client.read_index().await?.hash))
	}

	async fn revision(&self, at: &AtBlock) -> Result<RevisionAnswer> {
		Ok(self.client.revision(at).await?)
	}

	async fn range(&self, request: &RangeRequest, at: &AtBlock) -> Result<RangeAnswer> {
		Ok(self.client.range(request, at).await?)
	}

	async fn lease(&self, id: u64, at: &AtBlock) -> Result<Option<Lease>> {
		Ok(self.client.lease(id, at).await?.lease)
	}

	async fn leases(&self, at: &AtBlock) -> Result<(Vec<u64>, AtBlock)> {
		let answer = self.client.leases(at).await?;
		Ok((answer.leases, AtBlock::Hash(answer.at.hash)))
	}

	async fn services(&self, at: &AtBlock) -> Result<Vec<ServiceSummary>> {
		Ok(self.client.services(at).await?.services)
	}

	async fn instances(&self, service: &[u8], at: &AtBlock) -> Result<Vec<Instance>> {
		Ok(self.client.instances(service, &InstanceFilter::default(), at).await?.instances)
	}

	async fn elections(&self, at: &AtBlock) -> Result<Vec<Vec<u8>>> {
		Ok(self
			.client
			.elections(at)
			.await?
			.elections
			.into_iter()
			.map(|name| name.0)
			.collect())
	}

	async fn election(&self, name: &[u8], at: &AtBlock) -> Result<Option<ElectionState>> {
		Ok(self.client.election(name, at).await?.election)
	}

	async fn validators(&self) -> Result<Vec<AccountId>> {
		let (head, _) = self.client.finalized_head().await?;
		Ok(self
			.client
			.storage_value(b"Session", b"Validators", Some(head))
			.await?
			.unwrap_or_default())
	}

	async fn progress(&self) -> Result<Progress> {
		let (head, finalized) = self.client.finalized_head().await?;
		let set_id = self
			.client
			.storage_value(b"Grandpa", b"CurrentSetId", Some(head))
			.await?
			.unwrap_or_default();
		Ok(Progress { finalized, set_id })
	}

	async fn write(&self, call: Call<Runtime>) -> Result<Receipt> {
		Ok(self.batcher.submit(RuntimeCall::ServiceRegistry(call)).await?)
	}

	async fn watch(&self, target: &WatchTarget, from: u64) -> Result<Changes> {
		let options = WatchOptions { from_revision: Some(from), best: false };
		let stream = self.client.subscribe(target, &options).await?;
		Ok(stream
			.map(|item| {
				item.map_err(|e| BackendError::Internal(format!("undecodable change: {e}")))
			})
			.boxed())
	}
}

/// What a registry RPC error (`docs/rpc.md`, "Errors") means to the etcd services, whether the
/// registry answered over JSON-RPC or in the same process: read from its code and data, never
/// from its message.
pub fn from_registry_error(
	code: i32,
	message: String,
	data: Option<&serde_json::Value>,
) -> BackendError {
	match code {
		REVISION_UNAVAILABLE => {
			match data.and_then(|d| serde_json::from_value::<RevisionUnavailable>(d.clone()).ok()) {
				Some(RevisionUnavailable::Compacted { oldest }) => {
					BackendError::Compacted { oldest }
				},
				Some(RevisionUnavailable::Future { .. }) => BackendError::FutureRevision,
				None => BackendError::Internal(message),
			}
		},
		NOT_CONFIRMED => BackendError::NoQuorum(message),
		TOO_LARGE => BackendError::TooLarge(message),
		// jsonrpsee's "Response is too big": the node's JSON-RPC response limit.
		-32008 => BackendError::TooLarge(format!(
			"the answer is larger than this node's JSON-RPC response limit \
			 (--rpc-max-response-size; {message}): read the range in pages with a limit"
		)),
		-32602 => BackendError::InvalidArgument(message),
		_ => BackendError::Internal(message),
	}
}

/// What a JSON-RPC client's error means to the etcd services: the one place where the
/// transport's errors are read.
impl From<Error> for BackendError {
	fn from(err: Error) -> Self {
		if let Some(name) = err.dispatch_name() {
			let name = name.strip_prefix("ServiceRegistry::").unwrap_or(name);
			return BackendError::Registry(name.to_string());
		}
		match err {
			Error::Rpc { code, message, data, .. } => {
				from_registry_error(code, message, data.as_ref())
			},
			// The pool's words for a signer the runtime does not accept
			// (`InvalidTransaction::BadSigner`).
			Error::Refused(reason) if reason.contains("Invalid signing address") => {
				BackendError::NotAuthorized(reason)
			},
			Error::Refused(reason) => BackendError::Refused(reason),
			Error::Overloaded { .. } => BackendError::Overloaded,
			Error::Timeout { .. } => BackendError::TimedOut,
			err @ Error::NotIncluded { .. } => BackendError::NotIncluded(err.to_string()),
			err @ (Error::Unreachable { .. } | Error::Connection(_)) => {
				BackendError::Unavailable(err.to_string())
			},
			err @ (Error::BadInput(_) | Error::Key(_)) => {
				BackendError::InvalidArgument(err.to_string())
			},
			other => BackendError::Internal(other.to_string()),
		}
	}
}
