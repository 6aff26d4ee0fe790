//! The wire types of the node's `registry_*` JSON-RPC (`docs/rpc.md`).
//!
//! Bytes travel as `0x` hex ([`Bytes`]), accounts as SS58 strings, numbers as JSON numbers.
//! Change items keep every field the node sends, also ones this client does not know, so that
//! `regchainctl --output json` passes them on unchanged.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::hex::{display_bytes, from_hex, to_hex};

/// Bytes as `0x`-prefixed hex on the wire.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Bytes(pub Vec<u8>);

impl Bytes {
	/// The bytes as text when printable UTF-8, else as hex.
	pub fn display(&self) -> String {
		display_bytes(&self.0)
	}
}

impl std::fmt::Debug for Bytes {
	fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
		write!(f, "{}", self.display())
	}
}

impl std::fmt::Display for Bytes {
	fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
		write!(f, "{}", self.display())
	}
}

impl From<&[u8]> for Bytes {
	fn from(b: &[u8]) -> Self {
		Bytes(b.to_vec())
	}
}

impl From<Vec<u8>> for Bytes {
	fn from(b: Vec<u8>) -> Self {
		Bytes(b)
	}
}

impl From<&str> for Bytes {
	fn from(s: &str) -> Self {
		Bytes(s.as_bytes().to_vec())
	}
}

impl Serialize for Bytes {
	fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
		s.serialize_str(&to_hex(&self.0))
	}
}

impl<'de> Deserialize<'de> for Bytes {
	fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
		let text = String::deserialize(d)?;
		from_hex(&text).map(Bytes).map_err(serde::de::Error::custom)
	}
}

/// The block an answer was computed at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct At {
	/// Its number.
	pub number: u64,
	/// Its hash.
	pub hash: String,
}

/// Which block a read is computed at.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum AtBlock {
	/// The finalized head (the node's default).
	#[default]
	Finalized,
	/// The best block.
	Best,
	/// A block by hash.
	Hash(String),
}

impl AtBlock {
	/// As the `at` parameter.
	pub fn to_param(&self) -> Value {
		match self {
			AtBlock::Finalized => Value::from("finalized"),
			AtBlock::Best => Value::from("best"),
			AtBlock::Hash(h) => Value::from(h.clone()),
		}
	}
}

/// `registry_revision`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RevisionAnswer {
	/// The key space's current revision.
	pub revision: u64,
	/// The block.
	pub at: At,
}

/// `registry_readIndex`: a read point that a quorum of validators confirmed.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadIndexAnswer {
	/// The finalized block to read at (`0x` hex).
	pub hash: String,
	/// Its number.
	pub number: u32,
	/// The height the validators confirmed: `number` is at least this.
	pub confirmed: u32,
	/// How many GRANDPA voters answered.
	pub voters: u32,
	/// Their authority set.
	pub set_id: u64,
}

/// A service with live instances.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ServiceSummary {
	/// Its name.
	pub name: Bytes,
	/// Its number of live instances.
	pub instances: u32,
}

/// `registry_services`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ServicesAnswer {
	/// The services.
	pub services: Vec<ServiceSummary>,
	/// The block.
	pub at: At,
}

/// A live service instance.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Instance {
	/// The service.
	pub service: Bytes,
	/// Its id within the service.
	pub instance_id: Bytes,
	/// The registering account.
	pub owner: String,
	/// Where it is reached.
	pub endpoint: Bytes,
	/// Its tags.
	#[serde(default)]
	pub tags: Vec<Bytes>,
	/// Its metadata.
	#[serde(default)]
	pub metadata: Vec<(Bytes, Bytes)>,
	/// Its lease.
	pub lease: u64,
	/// `unknown`, `passing`, `warning` or `critical`.
	pub health: String,
	/// Chain time of registration.
	pub registered_at_ms: u64,
	/// Chain time of the last change.
	pub updated_at_ms: u64,
}

/// `registry_instances`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InstancesAnswer {
	/// The instances.
	pub instances: Vec<Instance>,
	/// The block.
	pub at: At,
}

/// The filter of `registry_instances`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct InstanceFilter {
	/// Only instances with this tag.
	#[serde(skip_serializing_if = "Option::is_none")]
	pub tag: Option<Bytes>,
	/// Only instances in this health (`unknown`, `passing`, `warning`, `critical`).
	#[serde(skip_serializing_if = "Option::is_none")]
	pub health: Option<String>,
}

/// A candidate in an election.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Candidate {
	/// The account.
	pub who: String,
	/// Its value.
	pub value: Bytes,
	/// Its lease.
	pub lease: u64,
	/// Chain time it joined.
	pub joined_at_ms: u64,
}

/// An election.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ElectionState {
	/// Its name.
	pub name: Bytes,
	/// The current term (fencing token).
	pub term: u64,
	/// The leader.
	pub leader: Option<Candidate>,
	/// The candidates in queue order, the leader first.
	#[serde(default)]
	pub candidates: Vec<Candidate>,
}

/// `registry_elections`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ElectionsAnswer {
	/// The names of the elections with candidates, in byte order.
	pub elections: Vec<Bytes>,
	/// The block.
	pub at: At,
}

/// `registry_election`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ElectionAnswer {
	/// The election, if it has candidates.
	pub election: Option<ElectionState>,
	/// The block.
	pub at: At,
}

/// A live lease.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Lease {
	/// Its id.
	pub id: u64,
	/// Who granted it.
	pub granted_by: String,
	/// Who last kept it alive.
	pub last_kept_alive_by: String,
	/// Its time to live.
	pub ttl_secs: u32,
	/// Chain time of the grant.
	pub granted_at_ms: u64,
	/// Chain time of expiry.
	pub expires_at_ms: u64,
	/// Milliseconds left at the block read.
	pub remaining_ms: u64,
	/// Attached keys.
	#[serde(default)]
	pub keys: Vec<Bytes>,
	/// Attached instances as (service, id).
	#[serde(default)]
	pub instances: Vec<(Bytes, Bytes)>,
	/// Elections it holds candidacies in.
	#[serde(default)]
	pub elections: Vec<Bytes>,
}

/// `registry_lease`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LeaseAnswer {
	/// The lease, if live.
	pub lease: Option<Lease>,
	/// The block.
	pub at: At,
}

/// `registry_leases`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LeasesAnswer {
	/// The ids of the live leases, in id order.
	pub leases: Vec<u64>,
	/// The block.
	pub at: At,
}

/// `registry_range`'s request, with etcd's conventions.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RangeRequest {
	/// The first key.
	pub key: Bytes,
	/// Absent or empty: the single key; `[0]`: every key from `key` on; else exclusive end.
	#[serde(skip_serializing_if = "Option::is_none")]
	pub range_end: Option<Bytes>,
	/// At most this many keys (0 or absent: no limit).
	#[serde(skip_serializing_if = "Option::is_none")]
	pub limit: Option<u64>,
	/// Read the key space as it was at this revision.
	#[serde(skip_serializing_if = "Option::is_none")]
	pub revision: Option<u64>,
	/// Keys without values.
	#[serde(skip_serializing_if = "std::ops::Not::not", default)]
	pub keys_only: bool,
	/// Only the count.
	#[serde(skip_serializing_if = "std::ops::Not::not", default)]
	pub count_only: bool,
}

/// A key and its metadata.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KeyValue {
	/// The key.
	pub key: Bytes,
	/// Its value (empty with `keys_only`).
	#[serde(default)]
	pub value: Bytes,
	/// Revision of its creation.
	pub create_revision: u64,
	/// Revision of its last change.
	pub mod_revision: u64,
	/// Puts since creation.
	pub version: u64,
	/// Its lease (0: none).
	pub lease: u64,
}

/// `registry_range`'s answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RangeAnswer {
	/// The key space's revision of the read.
	pub revision: u64,
	/// The keys in byte order.
	pub kvs: Vec<KeyValue>,
	/// Whether the limit cut the answer.
	pub more: bool,
	/// Keys in the range.
	pub count: u64,
	/// The block.
	pub at: At,
}

/// What `registry_history` reads.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum HistorySubject {
	/// One key.
	#[serde(rename = "key")]
	Key(Bytes),
	/// Every key under a prefix.
	#[serde(rename = "prefix")]
	Prefix(Bytes),
	/// A service's instances.
	#[serde(rename = "service")]
	Service(Bytes),
	/// An election.
	#[serde(rename = "election")]
	Election(Bytes),
}

/// `registry_history`'s request.
#[derive(Clone, Debug)]
pub struct HistoryRequest {
	/// What.
	pub subject: HistorySubject,
	/// From this revision on.
	pub from_revision: Option<u64>,
	/// At most this many items (the node's default is 1000).
	pub limit: Option<u64>,
}

impl HistoryRequest {
	/// As the JSON parameter.
	pub fn to_param(&self) -> Value {
		let mut map = match serde_json::to_value(&self.subject) {
			Ok(Value::Object(map)) => map,
			_ => Map::new(),
		};
		if let Some(r) = self.from_revision {
			map.insert("from_revision".into(), r.into());
		}
		if let Some(l) = self.limit {
			map.insert("limit".into(), l.into());
		}
		Value::Object(map)
	}
}

/// `registry_history`'s answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HistoryAnswer {
	/// The changes in chain order, each with `time_ms`.
	pub items: Vec<Change>,
	/// Whether the limit cut the answer.
	pub more: bool,
}

/// The options of a `registry_subscribe*` call.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct WatchOptions {
	/// Replay every indexed change whose revision is at least this, then go live.
	#[serde(skip_serializing_if = "Option::is_none")]
	pub from_revision: Option<u64>,
	/// Stream best blocks (items not yet final, retractions on reorgs).
	#[serde(skip_serializing_if = "std::ops::Not::not", default)]
	pub best: bool,
}

/// One registry change: a key, instance or election change, as streamed by the subscriptions
/// and listed by `registry_history`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Change {
	/// The block.
	pub block_number: u64,
	/// Its hash.
	pub block_hash: String,
	/// The event's index in the block: `(block_number, event_index)` orders changes.
	pub event_index: u32,
	/// The key-space revision right after the change.
	pub revision: u64,
	/// Whether the block is finalized.
	#[serde(default = "yes")]
	pub finalized: bool,
	/// The account behind the change, `None` for the chain itself (a lease expiring).
	#[serde(default)]
	pub who: Option<String>,
	/// `put`, `delete`, `registered`, `updated`, `health`, `deregistered`, `removed`,
	/// `campaigned`, `proclaimed`, `resigned`, `candidacy_ended`, `leader_changed`.
	pub kind: String,
	/// The other fields, by kind (`key`, `value`, `service`, `instance`, `term`, `time_ms`...).
	#[serde(flatten)]
	pub fields: Map<String, Value>,
}

fn yes() -> bool {
	true
}

impl Change {
	/// Where it stands in the chain's order of changes.
	pub fn position(&self) -> (u64, u32) {
		(self.block_number, self.event_index)
	}

	fn bytes(&self, field: &str) -> Option<Bytes> {
		self.fields.get(field)?.as_str().and_then(|s| from_hex(s).ok()).map(Bytes)
	}

	/// `key` of a key change.
	pub fn key(&self) -> Option<Bytes> {
		self.bytes("key")
	}

	/// `value` of a put or an election change.
	pub fn value(&self) -> Option<Bytes> {
		self.bytes("value")
	}

	/// `service` of an instance change.
	pub fn service(&self) -> Option<Bytes> {
		self.bytes("service")
	}

	/// `instance_id` of an instance change.
	pub fn instance_id(&self) -> Option<Bytes> {
		self.bytes("instance_id")
	}

	/// `instance` of an instance change (`None` when it is gone).
	pub fn instance(&self) -> Option<Instance> {
		serde_json::from_value(self.fields.get("instance")?.clone()).ok()
	}

	/// `election` of an election change.
	pub fn election(&self) -> Option<Bytes> {
		self.bytes("election")
	}

	/// `leader` of an election change.
	pub fn leader(&self) -> Option<String> {
		self.fields.get("leader")?.as_str().map(str::to_string)
	}

	/// `term` of an election change.
	pub fn term(&self) -> Option<u64> {
		self.fields.get("term")?.as_u64()
	}

	/// `time_ms` of a history item.
	pub fn time_ms(&self) -> Option<u64> {
		self.fields.get("time_ms")?.as_u64()
	}

	/// A number field.
	pub fn number(&self, field: &str) -> Option<u64> {
		self.fields.get(field)?.as_u64()
	}
}

/// A block that a best-block stream retracted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retracted {
	/// The block's number.
	pub number: u64,
	/// Its hash.
	pub hash: String,
}

/// One item of a subscription.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub enum WatchItem {
	/// A best block was dropped by a reorg: its changes no longer hold.
	Retracted {
		/// The block.
		retracted: Retracted,
	},
	/// A change.
	Change(Change),
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn change_items_decode_and_keep_unknown_fields() {
		let item: WatchItem = serde_json::from_str(
			r#"{"block_number":7,"block_hash":"0x01","event_index":2,"revision":5,
			    "finalized":true,"who":"5Grw","kind":"put","key":"0x2f61","value":"0x31",
			    "lease":0,"create_revision":5,"mod_revision":5,"version":1,"extra":true}"#,
		)
		.unwrap();
		let WatchItem::Change(c) = item else { panic!("not a change") };
		assert_eq!(c.position(), (7, 2));
		assert_eq!(c.key().unwrap().0, b"/a");
		assert_eq!(c.value().unwrap().0, b"1");
		assert_eq!(c.fields["extra"], Value::Bool(true));
		let item: WatchItem =
			serde_json::from_str(r#"{"retracted":{"number":9,"hash":"0x02"}}"#).unwrap();
		assert!(matches!(item, WatchItem::Retracted { .. }));
	}

	#[test]
	fn history_requests_name_their_subject() {
		let r = HistoryRequest {
			subject: HistorySubject::Prefix(Bytes::from("/a")),
			from_revision: Some(3),
			limit: None,
		};
		assert_eq!(r.to_param(), serde_json::json!({"prefix": "0x2f61", "from_revision": 3}));
	}
}
