//! The etcd API's backend inside the node: reads and watches answered by the registry RPC's
//! handlers, the read index and the client directly, in this process, without a JSON-RPC round
//! trip or a WebSocket; writes still go through the node's own JSON-RPC ([`RemoteBackend`])
//! until they get an in-process path of their own.

use std::sync::Arc;

use codec::Decode;
use futures::StreamExt;
use jsonrpsee::types::ErrorObjectOwned;
use pallet_service_registry::Call;
use regchain_client::{
	error::one_line,
	runtime::{AccountId, Runtime},
	AtBlock, ElectionState, Instance, InstanceFilter, Lease, RangeAnswer, RangeRequest, Receipt,
	RevisionAnswer, ServiceSummary, WatchTarget,
};
use regchain_etcd::{
	backend::{from_registry_error, Changes, Progress, Result},
	Backend, BackendError, RemoteBackend,
};
use regchain_rpc_api::RegistryApiServer;
use sc_client_api::StorageProvider;
use sp_blockchain::HeaderBackend;
use sp_core::H256;

use crate::{
	read_index::ReadIndex,
	registry_rpc::{index::storage_key, Registry},
	types::FullClient,
};

/// Reads and watches in the node, writes through its JSON-RPC.
pub struct NodeBackend {
	client: Arc<FullClient>,
	registry: Arc<Registry>,
	read_index: Arc<ReadIndex>,
	remote: RemoteBackend,
}

impl NodeBackend {
	/// Reads through `client`, `registry` and `read_index`; writes through `remote`.
	pub fn new(
		client: Arc<FullClient>,
		registry: Arc<Registry>,
		read_index: Arc<ReadIndex>,
		remote: RemoteBackend,
	) -> Self {
		NodeBackend { client, registry, read_index, remote }
	}

	/// A pallet's storage value at the finalized head, read off the async workers.
	fn finalized_value<T: Decode>(&self, pallet: &[u8], item: &[u8]) -> Result<Option<T>> {
		let hash = self.client.info().finalized_hash;
		let key = storage_key(pallet, item);
		let data = tokio::task::block_in_place(|| self.client.storage(hash, &key))
			.map_err(|e| BackendError::Internal(format!("the finalized state: {e}")))?;
		data.map(|data| T::decode(&mut &data.0[..]))
			.transpose()
			.map_err(|e| BackendError::Internal(format!("undecodable storage value: {e}")))
	}

	/// Runs a registry read, which calls the runtime, on a blocking thread, as the JSON-RPC
	/// server runs its `blocking` methods.
	async fn blocking<T: Send + 'static>(
		&self,
		read: impl FnOnce(&Registry) -> std::result::Result<T, ErrorObjectOwned> + Send + 'static,
	) -> Result<T> {
		let registry = self.registry.clone();
		tokio::task::spawn_blocking(move || read(&registry))
			.await
			.map_err(|e| BackendError::Internal(format!("a registry read failed: {e}")))?
			.map_err(registry_error)
	}
}

fn registry_error(e: ErrorObjectOwned) -> BackendError {
	let data = e.data().and_then(|d| serde_json::from_str(d.get()).ok());
	from_registry_error(e.code(), one_line(e.message()), data.as_ref())
}

#[jsonrpsee::core::async_trait]
impl Backend for NodeBackend {
	fn genesis(&self) -> H256 {
		self.remote.genesis()
	}

	fn signer(&self) -> Option<AccountId> {
		self.remote.signer()
	}

	async fn read_index(&self) -> Result<AtBlock> {
		let answer = self.read_index.read_point().await.map_err(BackendError::NoQuorum)?;
		Ok(AtBlock::Hash(answer.hash))
	}

	async fn revision(&self, at: &AtBlock) -> Result<RevisionAnswer> {
		let at = at.clone();
		self.blocking(move |r| r.revision(Some(at))).await
	}

	async fn range(&self, request: &RangeRequest, at: &AtBlock) -> Result<RangeAnswer> {
		// Async: it may wait for the index; its runtime calls leave the async workers through
		// `block_in_place`, which the node's multi-threaded runtime allows.
		RegistryApiServer::range(&*self.registry, request.clone(), Some(at.clone()))
			.await
			.map_err(registry_error)
	}

	async fn lease(&self, id: u64, at: &AtBlock) -> Result<Option<Lease>> {
		let at = at.clone();
		Ok(self.blocking(move |r| r.lease(id, Some(at))).await?.lease)
	}

	async fn leases(&self, at: &AtBlock) -> Result<(Vec<u64>, AtBlock)> {
		let at = at.clone();
		let answer = self.blocking(move |r| r.leases(Some(at))).await?;
		Ok((answer.leases, AtBlock::Hash(answer.at.hash)))
	}

	async fn services(&self, at: &AtBlock) -> Result<Vec<ServiceSummary>> {
		let at = at.clone();
		Ok(self.blocking(move |r| r.services(Some(at))).await?.services)
	}

	async fn instances(&self, service: &[u8], at: &AtBlock) -> Result<Vec<Instance>> {
		let (service, at) = (service.into(), at.clone());
		let filter = Some(InstanceFilter::default());
		Ok(self.blocking(move |r| r.instances(service, filter, Some(at))).await?.instances)
	}

	async fn elections(&self, at: &AtBlock) -> Result<Vec<Vec<u8>>> {
		let at = at.clone();
		let answer = self.blocking(move |r| r.elections(Some(at))).await?;
		Ok(answer.elections.into_iter().map(|name| name.0).collect())
	}

	async fn election(&self, name: &[u8], at: &AtBlock) -> Result<Option<ElectionState>> {
		let (name, at) = (name.into(), at.clone());
		Ok(self.blocking(move |r| r.election(name, Some(at))).await?.election)
	}

	async fn validators(&self) -> Result<Vec<AccountId>> {
		Ok(self.finalized_value(b"Session", b"Validators")?.unwrap_or_default())
	}

	async fn progress(&self) -> Result<Progress> {
		let finalized = self.client.info().finalized_number;
		let set_id = self.finalized_value(b"Grandpa", b"CurrentSetId")?.unwrap_or_default();
		Ok(Progress { finalized, set_id })
	}

	async fn write(&self, call: Call<Runtime>) -> Result<Receipt> {
		self.remote.write(call).await
	}

	async fn watch(&self, target: &WatchTarget, from: u64) -> Result<Changes> {
		let changes = crate::registry_rpc::changes(self.registry.clone(), target, from)
			.await
			.map_err(registry_error)?;
		let stream = futures::stream::unfold(changes, |mut changes| async move {
			changes.recv().await.map(|item| (Ok(item), changes))
		});
		Ok(stream.boxed())
	}
}
