//! etcd's gRPC services, implemented over the registry.

mod cluster;
mod kv;
pub(crate) mod lease;
pub(crate) mod watch;

use std::sync::Arc;

use etcd_client::proto::{
	PbClusterServer, PbKeyValue, PbKvServer, PbLeaseServer, PbMaintenanceServer, PbResponseHeader,
	PbWatchServer,
};
use regchain_client::{hex::to_hex, AtBlock, RangeRequest};
use sp_core::H256;
use tonic::{transport::server::Router, Status};

use crate::{
	convert::{int, kv_of, range_end_of},
	status_of, Api,
};

pub use cluster::{Cluster, Maintenance};
pub use kv::Kv;
pub use lease::Lease;
pub use watch::Watch;

/// The most HTTP/2 streams one client connection may have open at once.
pub const MAX_CONCURRENT_STREAMS: u32 = 1_024;

/// A router with every gRPC service this API implements and, on the same port, etcd's
/// HTTP/JSON gateway ([`crate::gateway`]); over TLS if `tls` is given.
pub fn router(
	api: Arc<Api>,
	tls: Option<tonic::transport::ServerTlsConfig>,
) -> Result<Router, tonic::transport::Error> {
	// HTTP/1.1 for the gateway's clients; gRPC stays on HTTP/2, with a bound on the streams
	// (requests, watch and keep-alive streams) one connection may open at once: a stream beyond
	// it is refused (REFUSED_STREAM), which gRPC clients retry.
	let mut server = tonic::transport::Server::builder()
		.accept_http1(true)
		.max_concurrent_streams(MAX_CONCURRENT_STREAMS);
	if let Some(tls) = tls {
		server = server.tls_config(tls)?;
	}
	let grpc = tonic::service::Routes::builder()
		.add_service(PbKvServer::new(Kv(api.clone())))
		.add_service(PbWatchServer::new(Watch(api.clone())))
		.add_service(PbLeaseServer::new(Lease(api.clone())))
		.add_service(PbClusterServer::new(Cluster(api.clone())))
		.add_service(PbMaintenanceServer::new(Maintenance(api.clone())))
		.clone()
		.routes();
	let both = grpc
		.into_axum_router()
		.merge(crate::gateway::router(api))
		.fallback(crate::gateway::fallback);
	Ok(server.add_routes(tonic::service::Routes::from(both)))
}

/// Where a read is made.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ReadAt {
	/// The node's finalized head (a serializable read).
	Finalized,
	/// A finalized block that a quorum of validators confirmed to include every write
	/// acknowledged before the read (a linearizable read: etcd's ReadIndex).
	Linearizable,
	/// The key space as it was at this revision.
	Revision(u64),
}

impl Api {
	/// A response header at `revision`.
	pub(crate) fn header(&self, revision: u64) -> Option<PbResponseHeader> {
		Some(PbResponseHeader {
			cluster_id: self.cluster_id,
			member_id: self.member_id,
			revision: int(revision),
			raft_term: 0,
		})
	}

	/// Every key of `[key, range_end)` (etcd's conventions) at `at`, in key order, with the
	/// revision the read was made at. `limit` 0 is no limit.
	pub(crate) async fn read(
		&self,
		key: &[u8],
		range_end: &[u8],
		at: ReadAt,
		limit: u64,
		keys_only: bool,
		count_only: bool,
	) -> Result<Read, Status> {
		if crate::view::span(key, range_end) == crate::view::Span::Inside {
			return self.read_view(key, range_end, at, limit, keys_only, count_only).await;
		}
		let block = match at {
			ReadAt::Linearizable => self.read_index().await?,
			ReadAt::Finalized | ReadAt::Revision(_) => AtBlock::Finalized,
		};
		let request = RangeRequest {
			key: key.into(),
			range_end: range_end_of(range_end).map(|end| end.as_slice().into()),
			limit: (limit > 0).then_some(limit),
			revision: match at {
				ReadAt::Revision(r) => Some(r),
				ReadAt::Finalized | ReadAt::Linearizable => None,
			},
			keys_only,
			count_only,
		};
		let answer = self.backend.range(&request, &block).await.map_err(status_of)?;
		Ok(Read {
			revision: answer.revision,
			kvs: answer.kvs.into_iter().map(kv_of).collect(),
			more: answer.more,
			count: answer.count,
		})
	}

	/// The block a linearizable read reads at: the node confirms with a quorum of validators
	/// that it has finalized every write acknowledged anywhere before now.
	pub(crate) async fn read_index(&self) -> Result<AtBlock, Status> {
		self.backend.read_index().await.map_err(status_of)
	}

	/// The key space's revision at the finalized head.
	pub(crate) async fn current_revision(&self) -> Result<u64, Status> {
		Ok(self.backend.revision(&AtBlock::Finalized).await.map_err(status_of)?.revision)
	}

	/// The key space's revision at block `hash`.
	pub(crate) async fn revision_at(&self, hash: H256) -> Result<u64, Status> {
		let at = AtBlock::Hash(to_hex(hash.as_bytes()));
		Ok(self.backend.revision(&at).await.map_err(status_of)?.revision)
	}
}

/// A range read.
pub(crate) struct Read {
	/// The revision it was made at.
	pub revision: u64,
	/// The keys, in key order.
	pub kvs: Vec<PbKeyValue>,
	/// Whether the limit left keys out.
	pub more: bool,
	/// How many keys the range holds.
	pub count: u64,
}
