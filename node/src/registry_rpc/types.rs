//! The wire types of the registry RPC: request parameters, answers and change items, as
//! `docs/rpc.md` specifies them. Bytes travel as `0x` hex, accounts as SS58.

use pallet_service_registry_runtime_api::{
	CandidateInfo, ElectionInfo, Health, InstanceInfo, LeaseId, LeaseInfo, Revision,
};
use regchain_runtime::AccountId;
use serde::{Deserialize, Serialize};
use sp_core::{crypto::Ss58Codec, Bytes, H256};

use super::{
	error::invalid_params,
	index::{BlockChanges, Change, ElectionKind, InstanceKind, Item},
};

/// Decodes the `0x`-prefixed hex string of the parameter `name`.
pub fn parse_hex(name: &str, text: &str) -> Result<Vec<u8>, jsonrpsee::types::ErrorObjectOwned> {
	let digits = text
		.strip_prefix("0x")
		.ok_or_else(|| invalid_params(format!("{name}: expected 0x-prefixed hex, got {text:?}")))?;
	regchain_client::hex::decode_digits(digits).map_err(|e| match e {
		regchain_client::hex::HexError::OddLength => {
			invalid_params(format!("{name}: odd number of hex digits in {text:?}"))
		},
		regchain_client::hex::HexError::NotHex => {
			invalid_params(format!("{name}: not a hex digit in {text:?}"))
		},
	})
}

/// An account as SS58 (prefix 42).
pub fn ss58(account: &AccountId) -> String {
	account.to_ss58check()
}

fn ss58_opt(account: &Option<AccountId>) -> Option<String> {
	account.as_ref().map(ss58)
}

/// The block an answer was computed at.
#[derive(Clone, Debug, Serialize)]
pub struct At {
	/// Its number.
	pub number: u32,
	/// Its hash.
	pub hash: H256,
}

/// `registry_instances`' optional filter.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceFilter {
	/// Only instances carrying this tag (hex).
	pub tag: Option<String>,
	/// Only instances in this health.
	pub health: Option<String>,
}

/// `registry_range`'s request, with etcd's conventions.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeParams {
	/// The first key (hex).
	pub key: String,
	/// The range end (hex): absent or `0x` for one key, `0x00` for every key from `key` on.
	pub range_end: Option<String>,
	/// At most this many keys; 0 or absent for no limit.
	pub limit: Option<u64>,
	/// Read the key space as it was at this revision (> 0).
	pub revision: Option<Revision>,
	/// Leave values out.
	pub keys_only: Option<bool>,
	/// Only count.
	pub count_only: Option<bool>,
}

/// `registry_history`'s request: exactly one of `key`, `prefix`, `service`, `election`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryRequest {
	/// One key (hex).
	pub key: Option<String>,
	/// Every key with this prefix (hex).
	pub prefix: Option<String>,
	/// A service's instances (hex).
	pub service: Option<String>,
	/// An election (hex).
	pub election: Option<String>,
	/// Items with a revision at least this.
	pub from_revision: Option<Revision>,
	/// At most this many items (default 1000).
	pub limit: Option<u32>,
}

/// The keys a `registry_subscribeKeys` watches.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySelector {
	/// The first key (hex).
	pub key: String,
	/// The range end (hex), etcd's conventions.
	pub range_end: Option<String>,
}

/// Where a subscription starts and which blocks it follows.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchOptions {
	/// Replay every indexed change with a revision at least this first.
	pub from_revision: Option<Revision>,
	/// Follow best blocks (unfinalized items and retractions) instead of finalized ones.
	pub best: Option<bool>,
}

/// `registry_revision`'s answer.
#[derive(Clone, Debug, Serialize)]
pub struct RevisionAnswer {
	/// The key space's revision.
	pub revision: Revision,
	/// The block.
	pub at: At,
}

/// One service of `registry_services`.
#[derive(Clone, Debug, Serialize)]
pub struct ServiceJson {
	/// Its name.
	pub name: Bytes,
	/// Its live instances.
	pub instances: u32,
}

/// `registry_services`' answer.
#[derive(Clone, Debug, Serialize)]
pub struct ServicesAnswer {
	/// Services with live instances.
	pub services: Vec<ServiceJson>,
	/// The block.
	pub at: At,
}

/// An instance.
#[derive(Clone, Debug, Serialize)]
pub struct InstanceJson {
	service: Bytes,
	instance_id: Bytes,
	owner: String,
	endpoint: Bytes,
	tags: Vec<Bytes>,
	metadata: Vec<(Bytes, Bytes)>,
	lease: u64,
	health: &'static str,
	registered_at_ms: u64,
	updated_at_ms: u64,
}

impl From<&InstanceInfo<AccountId>> for InstanceJson {
	fn from(i: &InstanceInfo<AccountId>) -> Self {
		Self {
			service: i.service.clone().into(),
			instance_id: i.instance_id.clone().into(),
			owner: ss58(&i.owner),
			endpoint: i.endpoint.clone().into(),
			tags: i.tags.iter().cloned().map(Bytes).collect(),
			metadata: i
				.metadata
				.iter()
				.map(|(k, v)| (k.clone().into(), v.clone().into()))
				.collect(),
			lease: i.lease,
			health: health_name(i.health),
			registered_at_ms: i.registered_at_ms,
			updated_at_ms: i.updated_at_ms,
		}
	}
}

/// `registry_instances`' answer.
#[derive(Clone, Debug, Serialize)]
pub struct InstancesAnswer {
	/// The matching live instances.
	pub instances: Vec<InstanceJson>,
	/// The block.
	pub at: At,
}

/// A health's wire name.
pub fn health_name(health: Health) -> &'static str {
	match health {
		Health::Unknown => "unknown",
		Health::Passing => "passing",
		Health::Warning => "warning",
		Health::Critical => "critical",
	}
}

/// The health named `name` on the wire.
pub fn parse_health(name: &str) -> Option<Health> {
	Some(match name {
		"unknown" => Health::Unknown,
		"passing" => Health::Passing,
		"warning" => Health::Warning,
		"critical" => Health::Critical,
		_ => return None,
	})
}

/// An election candidate.
#[derive(Clone, Debug, Serialize)]
pub struct CandidateJson {
	who: String,
	value: Bytes,
	lease: u64,
	joined_at_ms: u64,
}

impl From<&CandidateInfo<AccountId>> for CandidateJson {
	fn from(c: &CandidateInfo<AccountId>) -> Self {
		Self {
			who: ss58(&c.who),
			value: c.value.clone().into(),
			lease: c.lease,
			joined_at_ms: c.joined_at_ms,
		}
	}
}

/// An election.
#[derive(Clone, Debug, Serialize)]
pub struct ElectionJson {
	name: Bytes,
	term: u64,
	leader: Option<CandidateJson>,
	candidates: Vec<CandidateJson>,
}

impl From<&ElectionInfo<AccountId>> for ElectionJson {
	fn from(e: &ElectionInfo<AccountId>) -> Self {
		Self {
			name: e.name.clone().into(),
			term: e.term,
			leader: e.leader.as_ref().map(Into::into),
			candidates: e.candidates.iter().map(Into::into).collect(),
		}
	}
}

/// `registry_election`'s answer.
#[derive(Clone, Debug, Serialize)]
pub struct ElectionAnswer {
	/// The election, `null` if it has no candidates.
	pub election: Option<ElectionJson>,
	/// The block.
	pub at: At,
}

/// `registry_elections`' answer.
#[derive(Clone, Debug, Serialize)]
pub struct ElectionsAnswer {
	/// The names of the elections with candidates, in byte order.
	pub elections: Vec<Bytes>,
	/// The block.
	pub at: At,
}

/// A live lease with its attachments.
#[derive(Clone, Debug, Serialize)]
pub struct LeaseJson {
	id: u64,
	granted_by: String,
	last_kept_alive_by: String,
	ttl_secs: u32,
	granted_at_ms: u64,
	expires_at_ms: u64,
	remaining_ms: u64,
	keys: Vec<Bytes>,
	instances: Vec<(Bytes, Bytes)>,
	elections: Vec<Bytes>,
}

impl From<&LeaseInfo<AccountId>> for LeaseJson {
	fn from(l: &LeaseInfo<AccountId>) -> Self {
		Self {
			id: l.id,
			granted_by: ss58(&l.granted_by),
			last_kept_alive_by: ss58(&l.last_kept_alive_by),
			ttl_secs: l.ttl_secs,
			granted_at_ms: l.granted_at_ms,
			expires_at_ms: l.expires_at_ms,
			remaining_ms: l.remaining_ms,
			keys: l.keys.iter().cloned().map(Bytes).collect(),
			instances: l
				.instances
				.iter()
				.map(|(s, i)| (s.clone().into(), i.clone().into()))
				.collect(),
			elections: l.elections.iter().cloned().map(Bytes).collect(),
		}
	}
}

/// `registry_lease`'s answer.
#[derive(Clone, Debug, Serialize)]
pub struct LeaseAnswer {
	/// The lease, `null` if not live.
	pub lease: Option<LeaseJson>,
	/// The block.
	pub at: At,
}

/// `registry_leases`' answer.
#[derive(Clone, Debug, Serialize)]
pub struct LeasesAnswer {
	/// The ids of the live leases, in id order.
	pub leases: Vec<LeaseId>,
	/// The block.
	pub at: At,
}

/// One key of a range answer.
#[derive(Clone, Debug, Serialize)]
pub struct KeyValueJson {
	/// The key.
	pub key: Bytes,
	/// The value (empty with `keys_only`).
	pub value: Bytes,
	/// Revision of its creation.
	pub create_revision: Revision,
	/// Revision of its last change.
	pub mod_revision: Revision,
	/// Puts since creation.
	pub version: u64,
	/// Its lease, 0 for none.
	pub lease: u64,
}

/// `registry_range`'s answer.
#[derive(Clone, Debug, Serialize)]
pub struct RangeAnswer {
	/// The revision read.
	pub revision: Revision,
	/// The keys in byte order, after the limit.
	pub kvs: Vec<KeyValueJson>,
	/// Whether the limit left keys out.
	pub more: bool,
	/// Keys in the range.
	pub count: u64,
	/// The block.
	pub at: At,
}

/// `registry_history`'s answer.
#[derive(Clone, Debug, Serialize)]
pub struct HistoryAnswer {
	/// The changes in chain order.
	pub items: Vec<serde_json::Value>,
	/// Whether `limit` left further items out.
	pub more: bool,
}

/// A change item as JSON: the common fields, then the kind's own. `time_ms` only for history.
pub fn item_json(
	block: &BlockChanges,
	item: &Item,
	finalized: bool,
	with_time: bool,
) -> serde_json::Value {
	use serde_json::{json, Value};
	let mut object = json!({
		"block_number": block.number,
		"block_hash": block.hash,
		"event_index": item.event_index,
		"revision": item.revision,
		"finalized": finalized,
		"who": ss58_opt(&item.who),
	});
	let extra = match &item.change {
		Change::Put { key, value, lease, create_revision, mod_revision, version } => json!({
			"kind": "put",
			"key": Bytes(key.clone()),
			"value": Bytes(value.clone()),
			"lease": lease,
			"create_revision": create_revision,
			"mod_revision": mod_revision,
			"version": version,
		}),
		Change::Delete { key } => json!({ "kind": "delete", "key": Bytes(key.clone()) }),
		Change::Instance { kind, service, instance_id, instance } => json!({
			"kind": match kind {
				InstanceKind::Registered => "registered",
				InstanceKind::Updated => "updated",
				InstanceKind::Health => "health",
				InstanceKind::Deregistered => "deregistered",
				InstanceKind::Removed => "removed",
			},
			"service": Bytes(service.clone()),
			"instance_id": Bytes(instance_id.clone()),
			"instance": instance.as_ref().map(InstanceJson::from),
		}),
		Change::Election { kind, election, leader, term, value } => json!({
			"kind": match kind {
				ElectionKind::Campaigned => "campaigned",
				ElectionKind::Proclaimed => "proclaimed",
				ElectionKind::Resigned => "resigned",
				ElectionKind::CandidacyEnded => "candidacy_ended",
				ElectionKind::LeaderChanged => "leader_changed",
			},
			"election": Bytes(election.clone()),
			"leader": ss58_opt(leader),
			"term": term,
			"value": Bytes(value.clone()),
		}),
	};
	if let (Value::Object(map), Value::Object(extra)) = (&mut object, extra) {
		map.extend(extra);
		if with_time {
			map.insert("time_ms".into(), json!(block.time_ms));
		}
	}
	object
}

/// The notification of a block that a reorg dropped from a `best` stream.
pub fn retracted_json(number: u32, hash: H256) -> serde_json::Value {
	serde_json::json!({ "retracted": { "number": number, "hash": hash } })
}

#[cfg(test)]
mod tests {
	use super::parse_hex;

	#[test]
	fn parse_hex_takes_0x_and_hex_digits_only() {
		assert_eq!(parse_hex("key", "0x0aFf").unwrap(), vec![0x0a, 0xff]);
		assert_eq!(parse_hex("key", "0x").unwrap(), Vec::<u8>::new());
		for text in ["", "0a", "0X0a", "0x123", "0xzz", "0x+a", "0x+a+b", "0x-1", "0x 1", "0xé"] {
			let error = parse_hex("key", text).unwrap_err();
			assert_eq!(error.code(), -32602, "{text:?}");
			assert!(error.message().starts_with("key: "), "{text:?}: {}", error.message());
		}
	}
}
