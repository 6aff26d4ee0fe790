//! # regchain-rpc-api
//!
//! The registry's JSON-RPC (`registry_*`, specified in `docs/rpc.md`), declared once: the
//! methods as jsonrpsee traits, from which the node's server ([`RegistryApiServer`],
//! [`ReadIndexApiServer`]) and the clients' calls ([`RegistryApiClient`],
//! [`ReadIndexApiClient`]) are both generated; the wire types ([`types`]); and the error codes
//! ([`error`]). A method's name, parameters or answer cannot differ between the node and its
//! clients, since there is one definition of each.

#![warn(missing_docs)]

pub mod error;
pub mod hex;
pub mod types;

use jsonrpsee::{core::SubscriptionResult, proc_macros::rpc, types::ErrorObjectOwned};

pub use types::*;

/// What a method returns: its answer, or a JSON-RPC error (codes in [`error`]).
pub type RpcResult<T> = Result<T, ErrorObjectOwned>;

/// The registry's reads, history and subscriptions. The synchronous methods call the runtime
/// and are `blocking`: the node runs them on a blocking thread, as sc-rpc's state reads do, not
/// on the async workers that also carry its networking and consensus.
#[rpc(client, server)]
pub trait RegistryApi {
	/// The key space's revision.
	#[method(name = "registry_revision", blocking)]
	fn revision(&self, at: Option<AtBlock>) -> RpcResult<RevisionAnswer>;

	/// The services that have live instances.
	#[method(name = "registry_services", blocking)]
	fn services(&self, at: Option<AtBlock>) -> RpcResult<ServicesAnswer>;

	/// A service's live instances, optionally only those with a tag or a health.
	#[method(name = "registry_instances", blocking)]
	fn instances(
		&self,
		service: HexParam,
		filter: Option<InstanceFilter>,
		at: Option<AtBlock>,
	) -> RpcResult<InstancesAnswer>;

	/// An election's leader, term and candidates.
	#[method(name = "registry_election", blocking)]
	fn election(&self, name: HexParam, at: Option<AtBlock>) -> RpcResult<ElectionAnswer>;

	/// The names of the elections with candidates.
	#[method(name = "registry_elections", blocking)]
	fn elections(&self, at: Option<AtBlock>) -> RpcResult<ElectionsAnswer>;

	/// A live lease with its attachments.
	#[method(name = "registry_lease", blocking)]
	fn lease(&self, id: u64, at: Option<AtBlock>) -> RpcResult<LeaseAnswer>;

	/// The ids of every live lease, in id order.
	#[method(name = "registry_leases", blocking)]
	fn leases(&self, at: Option<AtBlock>) -> RpcResult<LeasesAnswer>;

	/// etcd's Range, at a block or at a past revision. Async, to wait for the node's index,
	/// but its runtime calls run as a blocking method's do.
	#[method(name = "registry_range")]
	async fn range(&self, request: RangeRequest, at: Option<AtBlock>) -> RpcResult<RangeAnswer>;

	/// Indexed changes of a key, a prefix, a service or an election, in chain order.
	#[method(name = "registry_history", blocking)]
	fn history(&self, request: HistoryRequest) -> RpcResult<HistoryAnswer>;

	/// Watches a key or a range.
	#[subscription(
		name = "registry_subscribeKeys" => "registry_keyChange",
		unsubscribe = "registry_unsubscribeKeys",
		item = WatchItem
	)]
	async fn subscribe_keys(
		&self,
		selector: KeySelector,
		options: Option<WatchOptions>,
	) -> SubscriptionResult;

	/// Watches a service's instances.
	#[subscription(
		name = "registry_subscribeInstances" => "registry_instanceChange",
		unsubscribe = "registry_unsubscribeInstances",
		item = WatchItem
	)]
	async fn subscribe_instances(
		&self,
		service: HexParam,
		options: Option<WatchOptions>,
	) -> SubscriptionResult;

	/// Watches an election.
	#[subscription(
		name = "registry_subscribeElection" => "registry_electionChange",
		unsubscribe = "registry_unsubscribeElection",
		item = WatchItem
	)]
	async fn subscribe_election(
		&self,
		name: HexParam,
		options: Option<WatchOptions>,
	) -> SubscriptionResult;
}

/// etcd's ReadIndex over the validators' peer-to-peer network: the read point of a
/// linearizable read.
#[rpc(client, server)]
pub trait ReadIndexApi {
	/// A finalized block that includes every write acknowledged anywhere before the call.
	/// Fails with [`error::NOT_CONFIRMED`] when no quorum of validators confirms it in time.
	#[method(name = "registry_readIndex")]
	async fn read_index(&self) -> RpcResult<ReadIndexAnswer>;
}
