//! Lease: Grant, Revoke, KeepAlive, TimeToLive and Leases, on the registry's leases.
//!
//! A lease's TTL runs in chain time (block timestamps), in whole seconds. Each grant, keep-alive
//! and revoke is a registry call, acknowledged once finalized.

use std::{pin::Pin, sync::Arc};

use etcd_client::proto::{
	PbLeaseGrantRequest, PbLeaseGrantResponse, PbLeaseKeepAliveRequest, PbLeaseKeepAliveResponse,
	PbLeaseLeasesRequest, PbLeaseLeasesResponse, PbLeaseRevokeRequest, PbLeaseRevokeResponse,
	PbLeaseService, PbLeaseStatus, PbLeaseTimeToLiveRequest, PbLeaseTimeToLiveResponse,
};
use futures::{Stream, StreamExt};
use pallet_service_registry::Call;
use regchain_client::{hex::to_hex, AtBlock};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

/// The most keep-alives of one `LeaseKeepAlive` stream under way at once (each is a
/// transaction until finalized); the stream is read no further until one finishes.
pub const MAX_KEEP_ALIVES_IN_FLIGHT: usize = 64;

use crate::{
	backend::BackendError,
	convert::{int, lease_of},
	errors::{lease_not_found, missing_event, unsupported},
	status_of, Api, LOG_TARGET,
};

/// etcd's Lease service.
pub struct Lease(pub Arc<Api>);

type KeepAliveStream = Pin<Box<dyn Stream<Item = Result<PbLeaseKeepAliveResponse, Status>> + Send>>;

#[tonic::async_trait]
impl PbLeaseService for Lease {
	async fn lease_grant(
		&self,
		request: Request<PbLeaseGrantRequest>,
	) -> Result<Response<PbLeaseGrantResponse>, Status> {
		let ttl = grant_ttl(&request.into_inner())?;
		let receipt = self.0.write(Call::grant_lease { ttl_secs: ttl }).await?;
		let (id, ttl, _) = receipt.lease_granted().ok_or_else(|| missing_event("LeaseGranted"))?;
		let revision = self.0.revision_at(receipt.block_hash).await?;
		Ok(Response::new(PbLeaseGrantResponse {
			header: self.0.header(revision),
			id: int(id),
			ttl: i64::from(ttl),
			error: String::new(),
		}))
	}

	async fn lease_revoke(
		&self,
		request: Request<PbLeaseRevokeRequest>,
	) -> Result<Response<PbLeaseRevokeResponse>, Status> {
		let id = revoke_id(&request.into_inner())?;
		let receipt = self.0.write(Call::revoke_lease { lease: id }).await?;
		let revision = match receipt.revision() {
			Some(r) => r,
			None => self.0.revision_at(receipt.block_hash).await?,
		};
		Ok(Response::new(PbLeaseRevokeResponse { header: self.0.header(revision) }))
	}

	type LeaseKeepAliveStream = KeepAliveStream;

	async fn lease_keep_alive(
		&self,
		request: Request<Streaming<PbLeaseKeepAliveRequest>>,
	) -> Result<Response<Self::LeaseKeepAliveStream>, Status> {
		let mut requests = request.into_inner();
		let (tx, rx) = mpsc::channel(16);
		let api = self.0.clone();
		let in_flight = Arc::new(tokio::sync::Semaphore::new(MAX_KEEP_ALIVES_IN_FLIGHT));
		tokio::spawn(async move {
			while let Some(request) = requests.next().await {
				let Ok(request) = request else { break };
				// At most so many under way: the stream is read no further until one finishes,
				// and HTTP/2 flow control holds the client back.
				let Ok(permit) = in_flight.clone().acquire_owned().await else { break };
				let (api, tx) = (api.clone(), tx.clone());
				// Each keep-alive is a transaction: answer them as they finalize, without
				// holding up the ones behind.
				tokio::spawn(async move {
					let answer = keep_alive(&api, request.id).await;
					// Held until answered: a client that reads no answers stops being read.
					let _ = tx.send(answer).await;
					drop(permit);
				});
			}
		});
		Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
	}

	async fn lease_time_to_live(
		&self,
		request: Request<PbLeaseTimeToLiveRequest>,
	) -> Result<Response<PbLeaseTimeToLiveResponse>, Status> {
		let r = request.into_inner();
		let revision = self.0.current_revision().await?;
		// etcd answers an unknown or expired lease with TTL -1, not an error: also one that cannot
		// exist (a negative ID).
		let lease = match lease_of(r.id).ok().flatten() {
			Some(id) => self.0.backend.lease(id, &AtBlock::Finalized).await.map_err(status_of)?,
			None => None,
		};
		let answer = match lease {
			None => PbLeaseTimeToLiveResponse {
				header: self.0.header(revision),
				id: r.id,
				ttl: -1,
				..Default::default()
			},
			Some(lease) => PbLeaseTimeToLiveResponse {
				header: self.0.header(revision),
				id: r.id,
				ttl: int(lease.remaining_ms / 1000),
				granted_ttl: i64::from(lease.ttl_secs),
				keys: if r.keys { lease.keys.into_iter().map(|k| k.0).collect() } else { vec![] },
			},
		};
		Ok(Response::new(answer))
	}

	async fn lease_leases(
		&self,
		_request: Request<PbLeaseLeasesRequest>,
	) -> Result<Response<PbLeaseLeasesResponse>, Status> {
		let (leases, at) = self.0.backend.leases(&AtBlock::Finalized).await.map_err(status_of)?;
		let revision = self.0.backend.revision(&at).await.map_err(status_of)?.revision;
		Ok(Response::new(PbLeaseLeasesResponse {
			header: self.0.header(revision),
			leases: leases.into_iter().map(|id| PbLeaseStatus { id: int(id) }).collect(),
		}))
	}
}

/// The TTL a grant asks the chain for, once checked before anything is submitted: the ID must be
/// left to the chain, and the TTL fit what the chain keeps (etcd's "too large lease TTL").
fn grant_ttl(r: &PbLeaseGrantRequest) -> Result<u32, Status> {
	if r.id != 0 {
		return Err(unsupported("lease IDs are chosen by the chain: grant with ID 0"));
	}
	// etcd raises a TTL below its minimum; so does the chain.
	u32::try_from(r.ttl.max(0)).map_err(|_| Status::out_of_range("etcdserver: too large lease TTL"))
}

/// The lease a revoke names, checked before anything is submitted: etcd's "lease not found" for
/// none (0) or one that cannot exist (a negative ID).
fn revoke_id(r: &PbLeaseRevokeRequest) -> Result<u64, Status> {
	lease_of(r.id)?.ok_or_else(lease_not_found)
}

/// One keep-alive: the lease's TTL once the renewal is final, 0 when the lease is gone (as
/// etcd answers).
pub(crate) async fn keep_alive(api: &Api, id: i64) -> Result<PbLeaseKeepAliveResponse, Status> {
	let gone = |revision| PbLeaseKeepAliveResponse { header: api.header(revision), id, ttl: 0 };
	let Some(lease) = lease_of(id).ok().flatten() else {
		return Ok(gone(api.current_revision().await?));
	};
	match api.backend.write(Call::keep_alive { lease }).await {
		Ok(receipt) => {
			let at = AtBlock::Hash(to_hex(receipt.block_hash.as_bytes()));
			let revision = api.revision_at(receipt.block_hash).await?;
			let ttl = api
				.backend
				.lease(lease, &at)
				.await
				.map_err(status_of)?
				.map_or(0, |l| i64::from(l.ttl_secs));
			Ok(PbLeaseKeepAliveResponse { header: api.header(revision), id, ttl })
		},
		Err(BackendError::Registry(name)) if name == "LeaseNotFound" || name == "LeaseExpired" => {
			Ok(gone(api.current_revision().await?))
		},
		Err(err) => {
			log::debug!(target: LOG_TARGET, "keep-alive of lease {id} failed: {err}");
			Err(status_of(err))
		},
	}
}

#[cfg(test)]
mod proptests {
	use super::*;
	use crate::convert::strategies::any_int;
	use proptest::prelude::*;
	use tonic::Code;

	proptest! {
		#![proptest_config(crate::convert::strategies::config())]

		/// A grant is refused before anything is submitted when it names its own ID (the chain
		/// chooses them) or a TTL beyond what the chain keeps, with etcd's "too large lease TTL";
		/// a negative TTL is raised, as etcd raises one below its minimum.
		#[test]
		fn grants_are_checked_before_submission(ttl in any_int(), id in any_int()) {
			match grant_ttl(&PbLeaseGrantRequest { ttl, id }) {
				Ok(secs) => {
					prop_assert_eq!(id, 0);
					prop_assert_eq!(i64::from(secs), ttl.max(0));
				},
				Err(status) if id != 0 => {
					prop_assert_eq!(status.code(), Code::Unimplemented);
					prop_assert!(!status.message().is_empty());
				},
				Err(status) => {
					prop_assert!(ttl > i64::from(u32::MAX), "TTL {} refused", ttl);
					prop_assert_eq!(status.code(), Code::OutOfRange);
					prop_assert_eq!(status.message(), "etcdserver: too large lease TTL");
				},
			}
		}

		/// A revoke of no lease (0) or of one that cannot exist (a negative ID) is etcd's "lease
		/// not found", before anything is submitted; any other ID is revoked as given.
		#[test]
		fn revokes_are_checked_before_submission(id in any_int()) {
			match revoke_id(&PbLeaseRevokeRequest { id }) {
				Ok(lease) => {
					prop_assert!(id > 0);
					prop_assert_eq!(i64::try_from(lease).ok(), Some(id));
				},
				Err(status) => {
					prop_assert!(id <= 0, "lease {} refused", id);
					prop_assert_eq!(status.code(), Code::NotFound);
					prop_assert_eq!(status.message(), "etcdserver: requested lease not found");
				},
			}
		}
	}
}
