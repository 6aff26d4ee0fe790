//! The client: one connection to a node, an optional signer, and the registry's calls.

use std::{
	sync::atomic::{AtomicU32, Ordering},
	time::Duration,
};

use pallet_service_registry::{Compare, CompareResult, Health, TxnOp};
use regchain_runtime::{AccountId, RuntimeCall, VERSION};
use serde_json::Value;
use sp_core::H256;

use crate::{
	blocks::BlockCache,
	hex::parse_hash,
	rpc::Rpc,
	submit::{Receipt, Wait},
	Error, LeaseId, Revision, Signer, LOG_TARGET,
};

/// How to connect and how long to wait.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
	/// How long connecting may take.
	pub connect_timeout: Duration,
	/// How long a submitted transaction may take to be included or finalized.
	pub tx_timeout: Duration,
}

impl Default for ConnectOptions {
	fn default() -> Self {
		Self { connect_timeout: Duration::from_secs(10), tx_timeout: Duration::from_secs(60) }
	}
}

/// A connection to a regchain node, with the key it signs with (if any).
pub struct Client {
	url: String,
	/// The endpoints [`Client::reconnect`] may use: `url` and the others it was given.
	endpoints: Vec<String>,
	rpc: Rpc,
	genesis: H256,
	/// The node's runtime `spec_version`, which every signature covers: read when connecting,
	/// and again when the pool refuses a signature (the chain upgraded its runtime).
	spec_version: AtomicU32,
	signer: Option<Signer>,
	options: ConnectOptions,
	/// Held while a nonce is chosen and the transaction handed to the pool, so that this
	/// client's own transactions never race for a nonce. It holds the nonce of the next
	/// transaction once known (`None`: ask the node).
	submission: tokio::sync::Mutex<Option<u32>>,
	blocks: BlockCache,
}

impl std::fmt::Debug for Client {
	fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
		f.debug_struct("Client")
			.field("url", &self.url)
			.field("signer", &self.signer)
			.finish()
	}
}

/// The version of the runtime at the node's best block, as the runtime itself reports it
/// (`Core_version`): what `CheckSpecVersion` compares a signature's version with.
async fn runtime_version(rpc: &Rpc) -> Result<sp_version::RuntimeVersion, Error> {
	let raw: String = rpc
		.request("state_call", vec![Value::from("Core_version"), Value::from("0x")])
		.await?;
	let bytes = crate::hex::from_hex(&raw)?;
	codec::Decode::decode(&mut &bytes[..]).map_err(|e| Error::decode("the runtime version", e))
}

/// The runtime's `spec_version` if this client can sign for it: the same runtime (`spec_name`)
/// with the same transaction format (`transaction_version`, which a runtime raises whenever it
/// changes how calls or extensions are encoded). Upgrades that only raise `spec_version` leave
/// this client working: it signs with the runtime's.
fn signing_version(version: sp_version::RuntimeVersion) -> Result<u32, Error> {
	if version.spec_name != VERSION.spec_name
		|| version.transaction_version != VERSION.transaction_version
	{
		return Err(Error::RuntimeMismatch {
			node_spec: version.spec_name.to_string(),
			node_spec_version: version.spec_version,
			node_tx_version: version.transaction_version,
			client_spec: VERSION.spec_name.to_string(),
			client_spec_version: VERSION.spec_version,
			client_tx_version: VERSION.transaction_version,
		});
	}
	Ok(version.spec_version)
}

/// The outcome of a txn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxnOutcome {
	/// Whether every compare held (the success branch ran).
	pub succeeded: bool,
	/// Whether a key changed.
	pub wrote: bool,
	/// The revision it wrote at, or the unchanged current revision.
	pub revision: Revision,
}

impl Client {
	/// Connects to `url` (`ws://`, `http://`...), reads the chain's genesis hash and checks that
	/// the node's runtime is the one this client was built with.
	pub async fn connect(
		url: &str,
		signer: Option<Signer>,
		options: ConnectOptions,
	) -> Result<Self, Error> {
		let rpc = Rpc::connect(url, options.connect_timeout).await?;
		let unreachable = |e: Error| match e {
			Error::Connection(reason) => Error::Unreachable { url: url.to_string(), reason },
			other => other,
		};
		let spec_version = signing_version(runtime_version(&rpc).await.map_err(unreachable)?)?;
		let genesis: String = rpc
			.request("chain_getBlockHash", vec![Value::from(0)])
			.await
			.map_err(unreachable)?;
		let genesis = parse_hash(&genesis)?;
		log::debug!(target: LOG_TARGET, "connected to {url}, genesis {genesis:?}");
		Ok(Client {
			url: url.to_string(),
			endpoints: vec![url.to_string()],
			rpc,
			genesis,
			spec_version: AtomicU32::new(spec_version),
			signer,
			options,
			submission: tokio::sync::Mutex::new(None),
			blocks: BlockCache::default(),
		})
	}

	/// Connects to the first of `urls` that can be reached, trying them in order, as etcdctl
	/// does with several `--endpoints`. A node that cannot be reached or does not answer in
	/// time is skipped; any other refusal (a malformed URL, another runtime) is returned at
	/// once. When none can be reached, the error names each endpoint and why.
	pub async fn connect_any(
		urls: &[String],
		signer: Option<Signer>,
		options: ConnectOptions,
	) -> Result<Self, Error> {
		for url in urls {
			crate::rpc::check_url(url)?;
		}
		let mut reasons = Vec::new();
		for url in urls {
			match Client::connect(url, signer.clone(), options.clone()).await {
				Ok(client) => return Ok(Client { endpoints: urls.to_vec(), ..client }),
				Err(e) if e.is_transient() && urls.len() > 1 => {
					log::debug!(target: LOG_TARGET, "skipping {url}: {e}");
					reasons.push(match e {
						Error::Unreachable { reason, .. } => format!("{url}: {reason}"),
						other => format!("{url}: {other}"),
					});
				},
				Err(e) => return Err(e),
			}
		}
		Err(match urls {
			[] => Error::BadInput("no endpoint given".into()),
			_ => Error::Unreachable {
				url: format!("any of {}", urls.join(", ")),
				reason: reasons.join("; "),
			},
		})
	}

	/// A new connection with the same key and options, after this one was lost: to the first
	/// of this client's endpoints that can be reached, starting with the one after its own (the
	/// same one when it was given only one).
	pub async fn reconnect(&self) -> Result<Client, Error> {
		let at = self.endpoints.iter().position(|e| *e == self.url).unwrap_or(0);
		let order = starting_at(&self.endpoints, at + 1);
		let client = Client::connect_any(&order, self.signer.clone(), self.options.clone()).await?;
		log::info!(target: LOG_TARGET, "reconnected through {}", client.url);
		Ok(Client { endpoints: self.endpoints.clone(), ..client })
	}

	/// The endpoint.
	pub fn url(&self) -> &str {
		&self.url
	}

	/// Every endpoint this client may use, its own among them, in the order it was given them.
	pub fn endpoints(&self) -> &[String] {
		&self.endpoints
	}

	/// The JSON-RPC connection, for methods this client does not wrap.
	pub fn rpc(&self) -> &Rpc {
		&self.rpc
	}

	/// The chain's genesis hash.
	pub fn genesis(&self) -> H256 {
		self.genesis
	}

	/// The runtime `spec_version` this client signs for: the node's, as last read.
	pub fn spec_version(&self) -> u32 {
		self.spec_version.load(Ordering::Relaxed)
	}

	/// Makes this client sign for `spec_version` until the pool refuses a signature: what it
	/// does after missing a runtime upgrade. For tests of that path, which otherwise need a
	/// second runtime built with another version.
	#[doc(hidden)]
	pub fn assume_spec_version(&self, spec_version: u32) {
		self.spec_version.store(spec_version, Ordering::Relaxed);
	}

	/// Reads the runtime's version again, after the pool refused a signature, and signs for it
	/// from then on. Returns it: a transaction signed for another version must be signed again
	/// (the runtime was upgraded, maybe seen first by another of this client's submissions). A
	/// runtime this client cannot sign for is [`Error::RuntimeMismatch`].
	pub(crate) async fn refresh_spec_version(&self) -> Result<u32, Error> {
		let spec_version = signing_version(runtime_version(&self.rpc).await?)?;
		let before = self.spec_version.swap(spec_version, Ordering::Relaxed);
		if before != spec_version {
			log::info!(target: LOG_TARGET, "the runtime was upgraded from spec version {before} to {spec_version}");
		}
		Ok(spec_version)
	}

	/// The signer, if any.
	pub fn signer(&self) -> Option<&Signer> {
		self.signer.as_ref()
	}

	/// The signer's account, or [`Error::NoSigner`].
	pub fn account(&self) -> Result<AccountId, Error> {
		self.signer.as_ref().map(Signer::account).ok_or(Error::NoSigner)
	}

	/// The options.
	pub fn options(&self) -> &ConnectOptions {
		&self.options
	}

	pub(crate) fn submission_lock(&self) -> &tokio::sync::Mutex<Option<u32>> {
		&self.submission
	}

	pub(crate) fn block_cache(&self) -> &BlockCache {
		&self.blocks
	}

	// -----------------------------------------------------------------------------------------
	// Leases
	// -----------------------------------------------------------------------------------------

	/// Grants a lease of `ttl_secs` (raised to the chain's minimum). Returns its id, the time to
	/// live really granted and the receipt.
	pub async fn grant_lease(
		&self,
		ttl_secs: u32,
		wait: Wait,
	) -> Result<(LeaseId, u32, Receipt), Error> {
		let receipt = self
			.submit(registry(pallet_service_registry::Call::grant_lease { ttl_secs }), wait)
			.await?;
		let (id, ttl, _) = receipt
			.lease_granted()
			.ok_or_else(|| Error::decode("the grant's events", "no LeaseGranted event"))?;
		Ok((id, ttl, receipt))
	}

	/// Keeps `lease` alive; returns its new expiry in chain milliseconds.
	pub async fn keep_alive(&self, lease: LeaseId, wait: Wait) -> Result<(u64, Receipt), Error> {
		let receipt = self
			.submit(registry(pallet_service_registry::Call::keep_alive { lease }), wait)
			.await?;
		let until = receipt.kept_alive_until().unwrap_or_default();
		Ok((until, receipt))
	}

	/// Revokes `lease`, deleting its keys, instances and candidacies.
	pub async fn revoke_lease(&self, lease: LeaseId, wait: Wait) -> Result<Receipt, Error> {
		self.submit(registry(pallet_service_registry::Call::revoke_lease { lease }), wait)
			.await
	}

	// -----------------------------------------------------------------------------------------
	// Key space
	// -----------------------------------------------------------------------------------------

	/// Puts `value` under `key`, attached to `lease` if given. Returns the revision.
	pub async fn put(
		&self,
		key: &[u8],
		value: &[u8],
		lease: Option<LeaseId>,
		wait: Wait,
	) -> Result<(Revision, Receipt), Error> {
		let call =
			pallet_service_registry::Call::put { key: key.to_vec(), value: value.to_vec(), lease };
		let receipt = self.submit(registry(call), wait).await?;
		let revision = receipt
			.revision()
			.ok_or_else(|| Error::decode("the put's events", "no KeyPut event"))?;
		Ok((revision, receipt))
	}

	/// Deletes `[key, range_end)` (empty `range_end`: the single key; `[0]`: every key from
	/// `key`). Returns the revision, `None` when no key matched.
	pub async fn delete_range(
		&self,
		key: &[u8],
		range_end: &[u8],
		wait: Wait,
	) -> Result<(Option<Revision>, Receipt), Error> {
		let call = pallet_service_registry::Call::delete_range {
			key: key.to_vec(),
			range_end: range_end.to_vec(),
		};
		let receipt = self.submit(registry(call), wait).await?;
		Ok((receipt.revision(), receipt))
	}

	/// etcd's txn: if every compare holds apply `success`, else `failure`.
	pub async fn txn(
		&self,
		compares: Vec<Compare<AccountId>>,
		success: Vec<TxnOp>,
		failure: Vec<TxnOp>,
		wait: Wait,
	) -> Result<(TxnOutcome, Receipt), Error> {
		let call = pallet_service_registry::Call::txn { compares, success, failure };
		let receipt = self.submit(registry(call), wait).await?;
		let (succeeded, wrote, revision) = receipt
			.txn_applied()
			.ok_or_else(|| Error::decode("the txn's events", "no TxnApplied event"))?;
		Ok((TxnOutcome { succeeded, wrote, revision }, receipt))
	}

	// -----------------------------------------------------------------------------------------
	// Service instances
	// -----------------------------------------------------------------------------------------

	/// Registers an instance of `service` attached to `lease`.
	#[allow(clippy::too_many_arguments)]
	pub async fn register_instance(
		&self,
		service: &[u8],
		instance_id: &[u8],
		endpoint: &[u8],
		tags: Vec<Vec<u8>>,
		metadata: Vec<(Vec<u8>, Vec<u8>)>,
		lease: LeaseId,
		wait: Wait,
	) -> Result<Receipt, Error> {
		let call = pallet_service_registry::Call::register_instance {
			service: service.to_vec(),
			instance_id: instance_id.to_vec(),
			endpoint: endpoint.to_vec(),
			tags,
			metadata,
			lease,
		};
		self.submit(registry(call), wait).await
	}

	/// Deregisters an instance (owner only).
	pub async fn deregister_instance(
		&self,
		service: &[u8],
		instance_id: &[u8],
		wait: Wait,
	) -> Result<Receipt, Error> {
		let call = pallet_service_registry::Call::deregister_instance {
			service: service.to_vec(),
			instance_id: instance_id.to_vec(),
		};
		self.submit(registry(call), wait).await
	}

	/// Records an instance's health (owner only).
	pub async fn report_health(
		&self,
		service: &[u8],
		instance_id: &[u8],
		health: Health,
		wait: Wait,
	) -> Result<Receipt, Error> {
		let call = pallet_service_registry::Call::report_health {
			service: service.to_vec(),
			instance_id: instance_id.to_vec(),
			health,
		};
		self.submit(registry(call), wait).await
	}

	// -----------------------------------------------------------------------------------------
	// Elections
	// -----------------------------------------------------------------------------------------

	/// Joins `election`'s queue with `value`, attached to `lease`. Returns the new term if this
	/// made the signer the leader at once.
	pub async fn campaign(
		&self,
		election: &[u8],
		value: &[u8],
		lease: LeaseId,
		wait: Wait,
	) -> Result<(Option<u64>, Receipt), Error> {
		let call = pallet_service_registry::Call::campaign {
			election: election.to_vec(),
			value: value.to_vec(),
			lease,
		};
		let receipt = self.submit(registry(call), wait).await?;
		let me = self.account()?;
		let term = receipt
			.leader_changed(election)
			.and_then(|(leader, term)| (leader.as_ref() == Some(&me)).then_some(term));
		Ok((term, receipt))
	}

	/// Changes the leader's value (leader only).
	pub async fn proclaim(
		&self,
		election: &[u8],
		value: &[u8],
		wait: Wait,
	) -> Result<Receipt, Error> {
		let call = pallet_service_registry::Call::proclaim {
			election: election.to_vec(),
			value: value.to_vec(),
		};
		self.submit(registry(call), wait).await
	}

	/// Leaves `election`'s queue.
	pub async fn resign(&self, election: &[u8], wait: Wait) -> Result<Receipt, Error> {
		self.submit(
			registry(pallet_service_registry::Call::resign { election: election.to_vec() }),
			wait,
		)
		.await
	}

	/// A put fenced by `election`'s term: it is applied only while the election is still at
	/// `term`, and refused with [`Error::Fenced`] otherwise.
	pub async fn fenced_put(
		&self,
		election: &[u8],
		term: u64,
		key: &[u8],
		value: &[u8],
		lease: Option<LeaseId>,
		wait: Wait,
	) -> Result<(Revision, Receipt), Error> {
		let compares = vec![term_is(election, term)];
		let success = vec![TxnOp::Put { key: key.to_vec(), value: value.to_vec(), lease }];
		let (outcome, receipt) = self.txn(compares, success, vec![], wait).await?;
		if !outcome.succeeded {
			return Err(Error::Fenced { election: crate::hex::display_bytes(election), term });
		}
		Ok((outcome.revision, receipt))
	}
}

/// The compare that fences a write with an election's term.
pub fn term_is(election: &[u8], term: u64) -> Compare<AccountId> {
	Compare::ElectionTerm { election: election.to_vec(), result: CompareResult::Equal, term }
}

/// `endpoints` in the order to try them: from the one at index `first` (modulo their number)
/// round to the one before it.
pub(crate) fn starting_at(endpoints: &[String], first: usize) -> Vec<String> {
	let n = endpoints.len();
	(0..n).map(|i| endpoints[(first + i) % n].clone()).collect()
}

fn registry(call: pallet_service_registry::Call<regchain_runtime::Runtime>) -> RuntimeCall {
	RuntimeCall::ServiceRegistry(call)
}

#[cfg(test)]
mod tests {
	use super::*;

	/// A `ws://` URL on a loopback port nothing listens on.
	fn nowhere() -> String {
		let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
		format!("ws://127.0.0.1:{}", listener.local_addr().expect("bound").port())
	}

	#[tokio::test]
	async fn connect_any_names_each_endpoint_it_could_not_reach() {
		let (a, b) = (nowhere(), nowhere());
		let e = Client::connect_any(&[a.clone(), b.clone()], None, ConnectOptions::default())
			.await
			.unwrap_err();
		let text = e.to_string();
		assert!(matches!(e, Error::Unreachable { .. }), "{e:?}");
		assert!(
			text.contains(&format!("any of {a}, {b}: {a}: ")) && text.contains(&format!("; {b}: ")),
			"{text}"
		);
	}

	#[tokio::test]
	async fn connect_any_refuses_a_malformed_endpoint_before_trying_any() {
		let urls = [nowhere(), "127.0.0.1:9944".to_string()];
		let e = Client::connect_any(&urls, None, ConnectOptions::default()).await.unwrap_err();
		assert!(
			matches!(&e, Error::BadInput(m) if m.contains("\"127.0.0.1:9944\" is not a ws://")),
			"{e:?}"
		);
		let e = Client::connect_any(&[], None, ConnectOptions::default()).await.unwrap_err();
		assert!(matches!(&e, Error::BadInput(m) if m == "no endpoint given"), "{e:?}");
	}
}
