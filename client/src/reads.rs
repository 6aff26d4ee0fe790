//! Reads and subscriptions through the node's `registry_*` JSON-RPC (`docs/rpc.md`).

use jsonrpsee::core::client::Subscription;
use serde_json::{json, Value};

use crate::{types::*, Client, Error};

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

fn at_param(at: &AtBlock) -> Value {
	at.to_param()
}

impl Client {
	/// `registry_revision`: the key space's current revision.
	pub async fn revision(&self, at: &AtBlock) -> Result<RevisionAnswer, Error> {
		self.rpc().request("registry_revision", vec![at_param(at)]).await
	}

	/// `registry_services`: services with live instances.
	pub async fn services(&self, at: &AtBlock) -> Result<ServicesAnswer, Error> {
		self.rpc().request("registry_services", vec![at_param(at)]).await
	}

	/// `registry_instances`: a service's live instances, filtered.
	pub async fn instances(
		&self,
		service: &[u8],
		filter: &InstanceFilter,
		at: &AtBlock,
	) -> Result<InstancesAnswer, Error> {
		let filter = serde_json::to_value(filter).unwrap_or(Value::Null);
		self.rpc()
			.request("registry_instances", vec![json!(Bytes::from(service)), filter, at_param(at)])
			.await
	}

	/// `registry_election`: an election's leader, term and candidates.
	pub async fn election(&self, name: &[u8], at: &AtBlock) -> Result<ElectionAnswer, Error> {
		self.rpc()
			.request("registry_election", vec![json!(Bytes::from(name)), at_param(at)])
			.await
	}

	/// `registry_elections`: the names of the elections with candidates.
	pub async fn elections(&self, at: &AtBlock) -> Result<ElectionsAnswer, Error> {
		self.rpc().request("registry_elections", vec![at_param(at)]).await
	}

	/// `registry_lease`: a live lease, its remaining time and attachments.
	pub async fn lease(&self, id: u64, at: &AtBlock) -> Result<LeaseAnswer, Error> {
		self.rpc().request("registry_lease", vec![json!(id), at_param(at)]).await
	}

	/// `registry_leases`: the ids of every live lease.
	pub async fn leases(&self, at: &AtBlock) -> Result<LeasesAnswer, Error> {
		self.rpc().request("registry_leases", vec![at_param(at)]).await
	}

	/// `registry_range`: a key range.
	pub async fn range(&self, request: &RangeRequest, at: &AtBlock) -> Result<RangeAnswer, Error> {
		let request = serde_json::to_value(request).map_err(|e| Error::BadInput(e.to_string()))?;
		self.rpc().request("registry_range", vec![request, at_param(at)]).await
	}

	/// `registry_readIndex`: a finalized block that includes every write acknowledged by any
	/// validator before the call (the read point of a linearizable read). Fails with code
	/// `4004` when no quorum of validators confirms it in time.
	pub async fn read_index(&self) -> Result<ReadIndexAnswer, Error> {
		self.rpc().request("registry_readIndex", Vec::<Value>::new()).await
	}

	/// `registry_history`: who changed what, when and how.
	pub async fn history(&self, request: &HistoryRequest) -> Result<HistoryAnswer, Error> {
		self.rpc().request("registry_history", vec![request.to_param()]).await
	}

	/// Subscribes to the changes of `target`.
	pub async fn subscribe(
		&self,
		target: &WatchTarget,
		options: &WatchOptions,
	) -> Result<ChangeStream, Error> {
		let options = serde_json::to_value(options).map_err(|e| Error::BadInput(e.to_string()))?;
		match target {
			WatchTarget::Keys { key, range_end } => {
				let mut range = json!({ "key": Bytes::from(&key[..]) });
				if !range_end.is_empty() {
					range["range_end"] = json!(Bytes::from(&range_end[..]));
				}
				self.rpc()
					.subscribe(
						"registry_subscribeKeys",
						vec![range, options],
						"registry_unsubscribeKeys",
					)
					.await
			},
			WatchTarget::Instances { service } => {
				self.rpc()
					.subscribe(
						"registry_subscribeInstances",
						vec![json!(Bytes::from(&service[..])), options],
						"registry_unsubscribeInstances",
					)
					.await
			},
			WatchTarget::Election { name } => {
				self.rpc()
					.subscribe(
						"registry_subscribeElection",
						vec![json!(Bytes::from(&name[..])), options],
						"registry_unsubscribeElection",
					)
					.await
			},
		}
	}
}
