//! The registry's answers as the RPC's wire types ([`regchain_rpc_api::types`]), and its
//! requests' parameters decoded, each error naming its parameter.

use pallet_service_registry_runtime_api::{
	CandidateInfo, ElectionInfo, Health, InstanceInfo, KeyValueInfo, LeaseInfo,
};
use regchain_rpc_api::{
	At, Bytes, Candidate, Change as ChangeJson, ElectionState, HexParam, Instance, KeyValue, Lease,
	Retracted, WatchItem,
};
use regchain_runtime::AccountId;
use sp_core::{crypto::Ss58Codec, H256};

use super::{
	error::invalid_params,
	index::{BlockChanges, Change, ElectionKind, InstanceKind, Item},
};

/// Decodes the parameter `name`, `0x`-prefixed hex.
pub fn parse_hex(
	name: &str,
	param: &HexParam,
) -> Result<Vec<u8>, jsonrpsee::types::ErrorObjectOwned> {
	param
		.decode()
		.map_err(|e| invalid_params(format!("{name}: {e}, got {:?}", param.0)))
}

/// A block of this chain: where an answer was computed.
#[derive(Clone, Copy, Debug)]
pub struct Block {
	/// Its number.
	pub number: u32,
	/// Its hash.
	pub hash: H256,
}

impl Block {
	/// As answers carry it.
	pub fn at(&self) -> At {
		At { number: u64::from(self.number), hash: format!("{:?}", self.hash) }
	}
}

/// An account as SS58 (prefix 42).
pub fn ss58(account: &AccountId) -> String {
	account.to_ss58check()
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

/// An instance.
pub fn instance(i: &InstanceInfo<AccountId>) -> Instance {
	Instance {
		service: i.service.clone().into(),
		instance_id: i.instance_id.clone().into(),
		owner: ss58(&i.owner),
		endpoint: i.endpoint.clone().into(),
		tags: i.tags.iter().cloned().map(Bytes).collect(),
		metadata: i.metadata.iter().map(|(k, v)| (k.clone().into(), v.clone().into())).collect(),
		lease: i.lease,
		health: health_name(i.health).to_string(),
		registered_at_ms: i.registered_at_ms,
		updated_at_ms: i.updated_at_ms,
	}
}

fn candidate(c: &CandidateInfo<AccountId>) -> Candidate {
	Candidate {
		who: ss58(&c.who),
		value: c.value.clone().into(),
		lease: c.lease,
		joined_at_ms: c.joined_at_ms,
	}
}

/// An election.
pub fn election(e: &ElectionInfo<AccountId>) -> ElectionState {
	ElectionState {
		name: e.name.clone().into(),
		term: e.term,
		leader: e.leader.as_ref().map(candidate),
		candidates: e.candidates.iter().map(candidate).collect(),
	}
}

/// A live lease with its attachments.
pub fn lease(l: &LeaseInfo<AccountId>) -> Lease {
	Lease {
		id: l.id,
		granted_by: ss58(&l.granted_by),
		last_kept_alive_by: ss58(&l.last_kept_alive_by),
		ttl_secs: l.ttl_secs,
		granted_at_ms: l.granted_at_ms,
		expires_at_ms: l.expires_at_ms,
		remaining_ms: l.remaining_ms,
		keys: l.keys.iter().cloned().map(Bytes).collect(),
		instances: l.instances.iter().map(|(s, i)| (s.clone().into(), i.clone().into())).collect(),
		elections: l.elections.iter().cloned().map(Bytes).collect(),
	}
}

/// One key of a range answer; without its value for `keys_only`.
pub fn key_value(kv: KeyValueInfo, keys_only: bool) -> KeyValue {
	KeyValue {
		key: kv.key.into(),
		value: if keys_only { Bytes::default() } else { kv.value.into() },
		create_revision: kv.create_revision,
		mod_revision: kv.mod_revision,
		version: kv.version,
		lease: kv.lease,
	}
}

/// A change item: the common fields, then the kind's own. `time_ms` only for history.
pub fn change(block: &BlockChanges, item: &Item, finalized: bool, with_time: bool) -> ChangeJson {
	use serde_json::{json, Value};
	let (kind, fields) = match &item.change {
		Change::Put { key, value, lease, create_revision, mod_revision, version } => (
			"put",
			json!({
				"key": Bytes(key.clone()),
				"value": Bytes(value.clone()),
				"lease": lease,
				"create_revision": create_revision,
				"mod_revision": mod_revision,
				"version": version,
			}),
		),
		Change::Delete { key } => ("delete", json!({ "key": Bytes(key.clone()) })),
		Change::Instance { kind, service, instance_id, instance: info } => (
			match kind {
				InstanceKind::Registered => "registered",
				InstanceKind::Updated => "updated",
				InstanceKind::Health => "health",
				InstanceKind::Deregistered => "deregistered",
				InstanceKind::Removed => "removed",
			},
			json!({
				"service": Bytes(service.clone()),
				"instance_id": Bytes(instance_id.clone()),
				"instance": info.as_ref().map(instance),
			}),
		),
		Change::Election { kind, election, leader, term, value } => (
			match kind {
				ElectionKind::Campaigned => "campaigned",
				ElectionKind::Proclaimed => "proclaimed",
				ElectionKind::Resigned => "resigned",
				ElectionKind::CandidacyEnded => "candidacy_ended",
				ElectionKind::LeaderChanged => "leader_changed",
			},
			json!({
				"election": Bytes(election.clone()),
				"leader": leader.as_ref().map(ss58),
				"term": term,
				"value": Bytes(value.clone()),
			}),
		),
	};
	let Value::Object(mut fields) = fields else { unreachable!("a JSON object literal") };
	if with_time {
		fields.insert("time_ms".into(), json!(block.time_ms));
	}
	ChangeJson {
		block_number: u64::from(block.number),
		block_hash: format!("{:?}", block.hash),
		event_index: item.event_index,
		revision: item.revision,
		finalized,
		who: item.who.as_ref().map(ss58),
		kind: kind.to_string(),
		fields,
	}
}

/// The notification of a block that a reorg dropped from a `best` stream.
pub fn retracted(number: u32, hash: H256) -> WatchItem {
	WatchItem::Retracted {
		retracted: Retracted { number: u64::from(number), hash: format!("{hash:?}") },
	}
}

#[cfg(test)]
mod tests {
	use super::parse_hex;
	use regchain_rpc_api::HexParam;

	#[test]
	fn parse_hex_takes_0x_and_hex_digits_only() {
		let parse = |text: &str| parse_hex("key", &HexParam(text.to_string()));
		assert_eq!(parse("0x0aFf").unwrap(), vec![0x0a, 0xff]);
		assert_eq!(parse("0x").unwrap(), Vec::<u8>::new());
		for text in ["", "0a", "0X0a", "0x123", "0xzz", "0x+a", "0x+a+b", "0x-1", "0x 1", "0xé"] {
			let error = parse(text).unwrap_err();
			assert_eq!(error.code(), -32602, "{text:?}");
			assert!(error.message().starts_with("key: "), "{text:?}: {}", error.message());
		}
	}
}
