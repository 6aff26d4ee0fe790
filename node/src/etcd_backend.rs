//! The etcd API's backend inside the node: reads and watches answered by the registry RPC's
//! handlers and the read index directly, in this process, without JSON or a WebSocket; writes
//! and the chain's membership and progress still go through the node's own JSON-RPC
//! ([`RemoteBackend`]) until they get an in-process path of their own.

use std::sync::Arc;

use futures::StreamExt;
use jsonrpsee::types::ErrorObjectOwned;
use pallet_service_registry::Call;
use regchain_client::{
	runtime::{AccountId, Runtime},
	AtBlock, ElectionState, Instance, InstanceFilter, Lease, RangeAnswer, RangeRequest, Receipt,
	RevisionAnswer, ServiceSummary, WatchTarget,
};
use regchain_etcd::{
	backend::{from_registry_error, Changes, Progress, Result},
	Backend, BackendError, RemoteBackend,
};
use regchain_rpc_api::RegistryApiServer;
use sp_core::H256;

use crate::{read_index::ReadIndex, registry_rpc::Registry};

/// Reads and watches in the node, the rest through its JSON-RPC.
pub struct NodeBackend {
	registry: Arc<Registry>,
	read_index: Arc<ReadIndex>,
	remote: RemoteBackend,
}

impl NodeBackend {
	/// Reads through `registry` and `read_index`; the rest through `remote`.
	pub fn new(registry: Arc<Registry>, read_index: Arc<ReadIndex>, remote: RemoteBackend) -> Self {
		NodeBackend { registry, read_index, remote }
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
	from_registry_error(e.code(), e.message().to_string(), data.as_ref())
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
		// Async: it may wait for the index; its runtime calls leave the async workers.
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
		self.remote.validators().await
	}

	async fn progress(&self) -> Result<Progress> {
		self.remote.progress().await
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
