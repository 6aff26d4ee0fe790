//! Cluster and Maintenance: the validators as members, the chain's progress as Raft's.

use std::sync::Arc;

use etcd_client::proto::{
	PbAlarmRequest, PbAlarmResponse, PbClusterService, PbDefragmentRequest, PbDefragmentResponse,
	PbDowngradeRequest, PbDowngradeResponse, PbHashKvRequest, PbHashKvResponse, PbHashRequest,
	PbHashResponse, PbMaintenanceService, PbMember, PbMemberAddRequest, PbMemberAddResponse,
	PbMemberListRequest, PbMemberListResponse, PbMemberPromoteRequest, PbMemberPromoteResponse,
	PbMemberRemoveRequest, PbMemberRemoveResponse, PbMemberUpdateRequest, PbMemberUpdateResponse,
	PbMoveLeaderRequest, PbMoveLeaderResponse, PbSnapshotRequest, PbSnapshotResponse,
	PbStatusRequest, PbStatusResponse,
};
use sp_core::crypto::Ss58Codec;
use tonic::{Request, Response, Status};

use crate::{errors::unsupported, first_eight, status_of, Api, ETCD_SERVER_VERSION};

/// etcd's Cluster service.
pub struct Cluster(pub Arc<Api>);

/// etcd's Maintenance service.
pub struct Maintenance(pub Arc<Api>);

fn membership_is_governance() -> Status {
	unsupported(
		"members are the chain's validators: add or remove one through governance \
		 (ValidatorSet), not through the etcd API",
	)
}

impl Api {
	/// The validators as etcd members.
	async fn members(&self) -> Result<Vec<PbMember>, Status> {
		let validators = self.backend.validators().await.map_err(status_of)?;
		Ok(validators
			.into_iter()
			.map(|account| {
				let id = u64::from_be_bytes(first_eight(account.as_ref()));
				let me = id == self.member_id;
				PbMember {
					id,
					name: if me { self.config.name.clone() } else { account.to_ss58check() },
					client_ur_ls: if me { vec![self.config.client_url.clone()] } else { vec![] },
					..Default::default()
				}
			})
			.collect())
	}
}

#[tonic::async_trait]
impl PbClusterService for Cluster {
	async fn member_add(
		&self,
		_: Request<PbMemberAddRequest>,
	) -> Result<Response<PbMemberAddResponse>, Status> {
		Err(membership_is_governance())
	}

	async fn member_remove(
		&self,
		_: Request<PbMemberRemoveRequest>,
	) -> Result<Response<PbMemberRemoveResponse>, Status> {
		Err(membership_is_governance())
	}

	async fn member_update(
		&self,
		_: Request<PbMemberUpdateRequest>,
	) -> Result<Response<PbMemberUpdateResponse>, Status> {
		Err(membership_is_governance())
	}

	async fn member_list(
		&self,
		_: Request<PbMemberListRequest>,
	) -> Result<Response<PbMemberListResponse>, Status> {
		let revision = self.0.current_revision().await?;
		let members = self.0.members().await?;
		Ok(Response::new(PbMemberListResponse { header: self.0.header(revision), members }))
	}

	async fn member_promote(
		&self,
		_: Request<PbMemberPromoteRequest>,
	) -> Result<Response<PbMemberPromoteResponse>, Status> {
		Err(membership_is_governance())
	}
}

type SnapshotStream = futures::stream::Empty<Result<PbSnapshotResponse, Status>>;

#[tonic::async_trait]
impl PbMaintenanceService for Maintenance {
	async fn alarm(&self, _: Request<PbAlarmRequest>) -> Result<Response<PbAlarmResponse>, Status> {
		let revision = self.0.current_revision().await?;
		Ok(Response::new(PbAlarmResponse { header: self.0.header(revision), alarms: vec![] }))
	}

	async fn status(
		&self,
		_: Request<PbStatusRequest>,
	) -> Result<Response<PbStatusResponse>, Status> {
		let api = &self.0;
		let revision = api.current_revision().await?;
		let progress = api.backend.progress().await.map_err(status_of)?;
		Ok(Response::new(PbStatusResponse {
			header: api.header(revision),
			version: ETCD_SERVER_VERSION.into(),
			// Every validator finalizes: none leads the way a Raft leader does. The member
			// answering is reported as the leader, so that tools that want one are satisfied.
			leader: api.member_id,
			raft_index: u64::from(progress.finalized),
			raft_applied_index: u64::from(progress.finalized),
			raft_term: progress.set_id,
			..Default::default()
		}))
	}

	async fn defragment(
		&self,
		_: Request<PbDefragmentRequest>,
	) -> Result<Response<PbDefragmentResponse>, Status> {
		Err(unsupported("Defragment: ParityDb compacts itself; there is nothing to defragment"))
	}

	async fn hash(&self, _: Request<PbHashRequest>) -> Result<Response<PbHashResponse>, Status> {
		Err(unsupported("Hash: compare finalized state roots (chain_getHeader) instead"))
	}

	async fn hash_kv(
		&self,
		_: Request<PbHashKvRequest>,
	) -> Result<Response<PbHashKvResponse>, Status> {
		Err(unsupported("HashKV: compare finalized state roots (chain_getHeader) instead"))
	}

	type SnapshotStream = SnapshotStream;

	async fn snapshot(
		&self,
		_: Request<PbSnapshotRequest>,
	) -> Result<Response<Self::SnapshotStream>, Status> {
		Err(unsupported(
			"Snapshot: a new validator syncs the chain, or use `regchain-node export-blocks`",
		))
	}

	async fn move_leader(
		&self,
		_: Request<PbMoveLeaderRequest>,
	) -> Result<Response<PbMoveLeaderResponse>, Status> {
		Err(unsupported("MoveLeader: Aura rotates block authors; there is no leader to move"))
	}

	async fn downgrade(
		&self,
		_: Request<PbDowngradeRequest>,
	) -> Result<Response<PbDowngradeResponse>, Status> {
		Err(unsupported("Downgrade: runtime upgrades go through governance"))
	}
}
