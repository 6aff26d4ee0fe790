//! Runtime API of regchain's service registry.
//!
//! The read queries of `pallet-service-registry`, answered by the runtime at the state of a
//! given block, so that the node's JSON-RPC, its etcd API and other tools share one
//! implementation. A query "at revision R" is answered by the node at the parent of the block
//! that took R, replaying that block's registry events up to R; the node keeps the revision →
//! block index this needs (`node/src/registry_rpc/index.rs`).
//!
//! The types are defined in the pallet crate and re-exported here.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

use alloc::vec::Vec;

pub use pallet_service_registry::{
	prefix_end, AccountQuota, CandidateInfo, ElectionInfo, Health, InstanceInfo, KeyValueInfo,
	LeaseId, LeaseInfo, RangeRequest, RangeResponse, Revision, ServiceInfo,
};

sp_api::decl_runtime_apis! {
	/// Read queries of the service registry.
	///
	/// Version 2 adds `elections`.
	#[api_version(2)]
	pub trait ServiceRegistryApi<AccountId> where AccountId: codec::Codec {
		/// The key space's revision at this block.
		fn revision() -> Revision;

		/// etcd's Range at this block: the live keys of `[key, range_end)` in byte order, with
		/// limit, count, keys-only / count-only and min/max mod/create revision filters.
		fn range(request: RangeRequest) -> RangeResponse;

		/// etcd's LeaseTimeToLive: a live lease, its remaining time and, if asked, its
		/// attached keys, instances and elections. `None` if the lease is not live.
		fn lease_time_to_live(lease: LeaseId, with_attachments: bool) -> Option<LeaseInfo<AccountId>>;

		/// etcd's LeaseLeases: the live leases, ascending.
		fn leases() -> Vec<LeaseId>;

		/// The keys attached to a lease that no delete has removed, whether or not the lease
		/// is live. Called at the parent block, it expands a `LeaseEnded` event.
		fn lease_keys(lease: LeaseId) -> Vec<Vec<u8>>;

		/// The live instances of a service, with their health; only those carrying `tag` if
		/// given.
		fn instances(service: Vec<u8>, tag: Option<Vec<u8>>) -> Vec<InstanceInfo<AccountId>>;

		/// The services that have live instances.
		fn services() -> Vec<ServiceInfo>;

		/// An election's leader, term and live candidates; `None` if it has no candidates.
		fn election(election: Vec<u8>) -> Option<ElectionInfo<AccountId>>;

		/// An account's quota (the default or its override) and what it holds.
		fn account_quota(who: AccountId) -> AccountQuota;

		/// The names of the elections with candidates, in byte order.
		#[api_version(2)]
		fn elections() -> Vec<Vec<u8>>;
	}
}
