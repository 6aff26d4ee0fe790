//! Reads and subscriptions through the node's `registry_*` JSON-RPC (`docs/rpc.md`).

use jsonrpsee::core::client::Subscription;
use regchain_rpc_api::{
	AtBlock, ElectionAnswer, ElectionsAnswer, HistoryAnswer, HistoryRequest, InstanceFilter,
	InstancesAnswer, KeySelector, LeaseAnswer, LeasesAnswer, RangeAnswer, RangeRequest,
	ReadIndexAnswer, ReadIndexApiClient, RegistryApiClient, RevisionAnswer, ServicesAnswer,
	WatchItem, WatchOptions,
};

use crate::{Client, Error};

/// A subscription to registry changes.
pub type ChangeStream = Subscription<WatchItem>;

/// What a subscription watches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatchTarget {
	/// Keys in `[key, range_end)` (`range_end` empty: the single key; `[0]`: every key from
	/// `key`).
	Keys {
		/// The first key.
		key: Vec<u8>,
		/// The range end.
		range_end: Vec<u8>,
	},
	/// The instances of a service.
	Instances {
		/// The service.
		service: Vec<u8>,
	},
	/// An election's leadership.
	Election {
		/// The election.
		name: Vec<u8>,
	},
}

impl WatchTarget {
	/// Every key starting with `prefix`.
	pub fn prefix(prefix: &[u8]) -> Self {
		WatchTarget::Keys { key: prefix.to_vec(), range_end: prefix_range_end(prefix) }
	}
}

/// The `range_end` that makes `[prefix, range_end)` every key starting with `prefix` (etcd's
/// convention: `[0]` when the prefix is empty or all 0xFF).
pub fn prefix_range_end(prefix: &[u8]) -> Vec<u8> {
	let end = pallet_service_registry::prefix_end(prefix);
	if end.is_empty() {
		vec![0]
	} else {
		end
	}
}

/// The wire name of a method, for errors: the node's methods are declared once, in
/// [`regchain_rpc_api`]; these names only label what failed.
fn failed(method: &'static str) -> impl Fn(jsonrpsee::core::client::Error) -> Error {
	move |e| crate::rpc::rpc_error(method, e)
}

impl Client {
	/// `registry_revision`: the key space's current revision.
	pub async fn revision(&self, at: &AtBlock) -> Result<RevisionAnswer, Error> {
		RegistryApiClient::revision(self.rpc(), Some(at.clone()))
			.await
			.map_err(failed("registry_revision"))
	}

	/// `registry_services`: services with live instances.
	pub async fn services(&self, at: &AtBlock) -> Result<ServicesAnswer, Error> {
		RegistryApiClient::services(self.rpc(), Some(at.clone()))
			.await
			.map_err(failed("registry_services"))
	}

	/// `registry_instances`: a service's live instances, filtered.
	pub async fn instances(
		&self,
		service: &[u8],
		filter: &InstanceFilter,
		at: &AtBlock,
	) -> Result<InstancesAnswer, Error> {
		RegistryApiClient::instances(
			self.rpc(),
			service.into(),
			Some(filter.clone()),
			Some(at.clone()),
		)
		.await
		.map_err(failed("registry_instances"))
	}

	/// `registry_election`: an election's leader, term and candidates.
	pub async fn election(&self, name: &[u8], at: &AtBlock) -> Result<ElectionAnswer, Error> {
		RegistryApiClient::election(self.rpc(), name.into(), Some(at.clone()))
			.await
			.map_err(failed("registry_election"))
	}

	/// `registry_elections`: the names of the elections with candidates.
	pub async fn elections(&self, at: &AtBlock) -> Result<ElectionsAnswer, Error> {
		RegistryApiClient::elections(self.rpc(), Some(at.clone()))
			.await
			.map_err(failed("registry_elections"))
	}

	/// `registry_lease`: a live lease, its remaining time and attachments.
	pub async fn lease(&self, id: u64, at: &AtBlock) -> Result<LeaseAnswer, Error> {
		RegistryApiClient::lease(self.rpc(), id, Some(at.clone()))
			.await
			.map_err(failed("registry_lease"))
	}

	/// `registry_leases`: the ids of every live lease.
	pub async fn leases(&self, at: &AtBlock) -> Result<LeasesAnswer, Error> {
		RegistryApiClient::leases(self.rpc(), Some(at.clone()))
			.await
			.map_err(failed("registry_leases"))
	}

	/// `registry_range`: a key range.
	pub async fn range(&self, request: &RangeRequest, at: &AtBlock) -> Result<RangeAnswer, Error> {
		RegistryApiClient::range(self.rpc(), request.clone(), Some(at.clone()))
			.await
			.map_err(failed("registry_range"))
	}

	/// `registry_readIndex`: a finalized block that includes every write acknowledged by any
	/// validator before the call (the read point of a linearizable read). Fails with code
	/// [`regchain_rpc_api::error::NOT_CONFIRMED`] when no quorum of validators confirms it in
	/// time.
	pub async fn read_index(&self) -> Result<ReadIndexAnswer, Error> {
		ReadIndexApiClient::read_index(self.rpc())
			.await
			.map_err(failed("registry_readIndex"))
	}

	/// `registry_history`: who changed what, when and how.
	pub async fn history(&self, request: &HistoryRequest) -> Result<HistoryAnswer, Error> {
		RegistryApiClient::history(self.rpc(), request.clone())
			.await
			.map_err(failed("registry_history"))
	}

	/// Subscribes to the changes of `target`.
	pub async fn subscribe(
		&self,
		target: &WatchTarget,
		options: &WatchOptions,
	) -> Result<ChangeStream, Error> {
		let options = Some(options.clone());
		let rpc = self.rpc();
		match target {
			WatchTarget::Keys { key, range_end } => {
				let selector = KeySelector {
					key: key.as_slice().into(),
					range_end: (!range_end.is_empty()).then(|| range_end.as_slice().into()),
				};
				RegistryApiClient::subscribe_keys(rpc, selector, options)
					.await
					.map_err(failed("registry_subscribeKeys"))
			},
			WatchTarget::Instances { service } => {
				RegistryApiClient::subscribe_instances(rpc, service.as_slice().into(), options)
					.await
					.map_err(failed("registry_subscribeInstances"))
			},
			WatchTarget::Election { name } => {
				RegistryApiClient::subscribe_election(rpc, name.as_slice().into(), options)
					.await
					.map_err(failed("registry_subscribeElection"))
			},
		}
	}
}
