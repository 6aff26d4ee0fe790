//! # regchain-etcd
//!
//! The etcd v3 API in front of regchain's registry. Each validator serves it, so that the tools
//! orchestrators already run (etcdctl, Patroni, confd, etcd client libraries) read and write the
//! registry's key space unchanged, while every write is a signed extrinsic, BFT-finalized and
//! auditable.
//!
//! ## How it is built
//!
//! - The gRPC services are etcd's own: the `etcd-client` crate compiles etcd's `.proto` files
//!   with their server traits (feature `build-server`); this crate implements KV, Watch, Lease,
//!   Cluster and Maintenance on top of them ([`services`]).
//! - The services ask the chain only through the [`Backend`] trait ([`backend`]), with typed
//!   answers and errors, as etcd's `v3rpc` handlers ask `etcdserver` below them. This crate's
//!   implementation, [`RemoteBackend`], is a [`regchain_client::Client`] connected to a node's
//!   registry JSON-RPC (`docs/rpc.md`): range reads at a revision, the revision index and its
//!   subscriptions, and the submission of signed registry calls, followed to finality.
//!   `regchain-node` embeds the API with its own backend, which answers reads and watches in
//!   the node's process and uses a [`RemoteBackend`] on its own RPC endpoint for the rest.
//! - Writes are signed by one orchestrator account, the API's *signer*: etcd users are not
//!   mapped to accounts, so every write made through this API is attributed to that account.
//!   Concurrent writes share transactions (`regchain_client::Batcher`), each keeping its own
//!   revision and answer.
//! - The same port serves etcd's HTTP/JSON gateway ([`gateway`]), to command-line clients and
//!   to the hosts and browser origins allowed ([`access`]), and TLS with client certificates
//!   when given ([`Tls`]).
//!
//! ## Consistency
//!
//! - A write (Put, DeleteRange, Txn, lease calls) is answered only once the block that includes
//!   it is **finalized**; the response header carries that write's own revision. A transaction
//!   that the pool drops or invalidates is resubmitted or answered with an error, never
//!   acknowledged (see `regchain_client::submit`).
//! - Serializable reads are served at the node's finalized head. Linearizable reads (etcd's
//!   default) first ask the node for a read point that a quorum of validators confirmed over the
//!   peer-to-peer network (`registry_readIndex`, etcd's ReadIndex), so that they never miss a
//!   write acknowledged anywhere before them (`docs/etcd.md`, "Consistency").
//!
//! ## The typed registry
//!
//! Under `/_registry/` ([`view`]) the key space shows the registry's services and elections as
//! JSON, read-only; a txn may compare an election's term there (`version`).
//!
//! ## Mapping
//!
//! | etcd | regchain |
//! |---|---|
//! | revision | the key space's revision (one per write, a txn is one write) |
//! | lease ID | the registry's lease id (chosen by the chain) |
//! | TTL | the lease's time to live in chain time, whole seconds |
//! | compaction | the node's history window: older revisions are refused as compacted |
//! | member | a validator |
//! | raft index, raft term | finalized block number, GRANDPA authority set id |

#![warn(missing_docs)]

pub mod access;
pub mod backend;
mod convert;
mod errors;
pub mod gateway;
pub mod services;
pub mod view;

use std::sync::Arc;

use regchain_client::{Client, Receipt};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::{Certificate, Identity, ServerTlsConfig};

pub use backend::{Backend, BackendError, RemoteBackend};
pub use errors::status_of;

/// The log target of this crate.
pub const LOG_TARGET: &str = "etcd-api";

/// The etcd server version this API speaks (etcdctl and Patroni read it).
pub const ETCD_SERVER_VERSION: &str = "3.4.0";

/// The etcd cluster version: Patroni picks its API prefix (`/v3`) from it.
pub const ETCD_CLUSTER_VERSION: &str = "3.4.0";

/// etcd's limit on the operations of one txn branch (`--max-txn-ops`).
pub const MAX_TXN_OPS: usize = 128;

/// How the API presents itself.
#[derive(Clone, Debug)]
pub struct EtcdConfig {
	/// This member's client URL, as `MemberList` gives it (`http://127.0.0.1:2379`).
	pub client_url: String,
	/// This member's name, as `MemberList` gives it.
	pub name: String,
	/// The hosts and browser origins the HTTP gateway answers ([`access`]).
	pub access: access::Access,
}

/// The shared state of the services: the backend and this member's identity.
pub struct Api {
	backend: Arc<dyn Backend>,
	/// One permit per watcher, of every stream: see [`services::watch::MAX_WATCHERS`].
	watcher_slots: Arc<tokio::sync::Semaphore>,
	config: EtcdConfig,
	cluster_id: u64,
	member_id: u64,
}

impl Api {
	/// The API answering through `client` ([`RemoteBackend`]), whose signer signs every write.
	/// Call it inside a Tokio runtime: it starts the task that batches writes.
	pub fn new(client: Client, config: EtcdConfig) -> Arc<Self> {
		Self::with_backend(Arc::new(RemoteBackend::new(client)), config)
	}

	/// The API answering through `backend`.
	pub fn with_backend(backend: Arc<dyn Backend>, config: EtcdConfig) -> Arc<Self> {
		let cluster_id = u64::from_be_bytes(first_eight(backend.genesis().as_bytes()));
		let member_id = backend
			.signer()
			.map(|account| u64::from_be_bytes(first_eight(account.as_ref())))
			.unwrap_or_default();
		let watcher_slots = Arc::new(tokio::sync::Semaphore::new(services::watch::MAX_WATCHERS));
		Arc::new(Api { backend, watcher_slots, config, cluster_id, member_id })
	}

	/// The backend.
	pub fn backend(&self) -> &dyn Backend {
		&*self.backend
	}

	/// Submits a registry call in the next batch; its receipt once finalized.
	pub(crate) async fn write(
		&self,
		call: pallet_service_registry::Call<regchain_client::runtime::Runtime>,
	) -> Result<Receipt, tonic::Status> {
		self.backend.write(call).await.map_err(status_of)
	}

	/// The id of this cluster: the first eight bytes of the genesis hash.
	pub fn cluster_id(&self) -> u64 {
		self.cluster_id
	}

	/// The id of this member: the first eight bytes of its signer's account.
	pub fn member_id(&self) -> u64 {
		self.member_id
	}
}

fn first_eight(bytes: &[u8]) -> [u8; 8] {
	let mut out = [0u8; 8];
	for (o, b) in out.iter_mut().zip(bytes) {
		*o = *b;
	}
	out
}

/// TLS for the API, from PEM as etcd takes it (`--cert-file`, `--key-file`,
/// `--trusted-ca-file` with `--client-cert-auth`).
#[derive(Clone, Debug)]
pub struct Tls {
	config: ServerTlsConfig,
	/// Whether clients must present a certificate signed by the trusted CA.
	pub client_cert_auth: bool,
}

impl Tls {
	/// The server's certificate chain and private key, and, to require client certificates, the
	/// CA that must have signed them. Fails if the PEM does not parse or the key does not match.
	pub fn from_pem(cert: &[u8], key: &[u8], client_ca: Option<&[u8]>) -> Result<Self, String> {
		let mut config = ServerTlsConfig::new().identity(Identity::from_pem(cert, key));
		if let Some(ca) = client_ca {
			config = config.client_ca_root(Certificate::from_pem(ca));
		}
		// Building the acceptor parses everything: fail now rather than on the first client.
		tonic::transport::Server::builder().tls_config(config.clone()).map_err(|e| {
			let mut message = e.to_string();
			let mut source = std::error::Error::source(&e);
			while let Some(s) = source {
				message = format!("{message}: {s}");
				source = s.source();
			}
			message
		})?;
		Ok(Tls { config, client_cert_auth: client_ca.is_some() })
	}
}

/// Serves etcd's KV, Watch, Lease, Cluster and Maintenance services on `listener`, over TLS if
/// `tls` is given, until `shutdown` completes. The caller binds the listener, so that it can
/// tell a port that is taken from a server that fails later.
pub async fn serve(
	api: Arc<Api>,
	listener: TcpListener,
	tls: Option<Tls>,
	shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
	let local = listener.local_addr().ok();
	let scheme = if tls.is_some() { "TLS" } else { "plaintext" };
	log::info!(target: LOG_TARGET, "etcd v3 API listening on {local:?} ({scheme})");
	services::router(api, tls.map(|t| t.config))?
		.serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
		.await
}
