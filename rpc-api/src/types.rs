//! The wire types of the `registry_*` JSON-RPC (`docs/rpc.md`), for the node that serves them
//! and the clients that read them.
//!
//! Bytes travel as `0x` hex ([`Bytes`] in answers, [`HexParam`] in requests), accounts as SS58
//! strings, numbers as JSON numbers. Request objects refuse unknown fields. Change items keep
//! every field the node sends, also ones a client does not know, so that
//! `regchainctl --output json` passes them on unchanged.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::hex::{decode_lenient, decode_prefixed, display_bytes, to_hex, HexError};

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
		decode_lenient(&text)
			.map(Bytes)
			.map_err(|e| serde::de::Error::custom(format!("{e}: {text:?}")))
	}
}

/// Bytes in a request: `0x` hex on the wire, kept as sent until the server decodes it
/// ([`HexParam::decode`]), so that a malformed one is refused with an error naming its
/// parameter rather than a generic parse error.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HexParam(pub String);

impl HexParam {
	/// The bytes, or why the text is not `0x`-prefixed hex.
	pub fn decode(&self) -> Result<Vec<u8>, HexError> {
		decode_prefixed(&self.0)
	}
}

impl From<&[u8]> for HexParam {
	fn from(bytes: &[u8]) -> Self {
		HexParam(to_hex(bytes))
	}
}

impl From<&str> for HexParam {
	fn from(text: &str) -> Self {
		HexParam(to_hex(text.as_bytes()))
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

/// Which block a read is computed at: the `at` parameter of every read method.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum AtBlock {
	/// The finalized head (the node's default).
	#[default]
	Finalized,
	/// The best block.
	Best,
	/// A block by hash (`0x` hex), kept as sent until the server decodes it.
	Hash(String),
}

impl Serialize for AtBlock {
	fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
		match self {
			AtBlock::Finalized => s.serialize_str("finalized"),
			AtBlock::Best => s.serialize_str("best"),
			AtBlock::Hash(h) => s.serialize_str(h),
		}
	}
}

impl<'de> Deserialize<'de> for AtBlock {
	fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
		Ok(match String::deserialize(d)?.as_str() {
			"finalized" => AtBlock::Finalized,
			"best" => AtBlock::Best,
			hash => AtBlock::Hash(hash.to_string()),
		})
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
#[serde(deny_unknown_fields)]
pub struct InstanceFilter {
	/// Only instances with this tag.
	#[serde(skip_serializing_if = "Option::is_none")]
	pub tag: Option<HexParam>,
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
#[serde(deny_unknown_fields)]
pub struct RangeRequest {
	/// The first key.
	pub key: HexParam,
	/// Absent or empty: the single key; `[0]`: every key from `key` on; else exclusive end.
	#[serde(skip_serializing_if = "Option::is_none")]
	pub range_end: Option<HexParam>,
	/// At most this many keys (0 or absent: no limit).
	#[serde(skip_serializing_if = "Option::is_none")]
	pub limit: Option<u64>,
	/// Read the key space as it was at this revision.
	#[serde(skip_serializing_if = "Option::is_none")]
	pub revision: Option<u64>,
	/// Keys without values.
	#[serde(
		skip_serializing_if = "std::ops::Not::not",
		default,
		deserialize_with = "null_is_false"
	)]
	pub keys_only: bool,
	/// Only the count.
	#[serde(
		skip_serializing_if = "std::ops::Not::not",
		default,
		deserialize_with = "null_is_false"
	)]
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

/// What `registry_history` reads: one key, every key under a prefix, a service's instances
/// or an election.
#[derive(Clone, Debug)]
pub enum HistorySubject {
	/// One key.
	Key(Vec<u8>),
	/// Every key under a prefix.
	Prefix(Vec<u8>),
	/// A service's instances.
	Service(Vec<u8>),
	/// An election.
	Election(Vec<u8>),
}

/// `registry_history`'s request: exactly one of `key`, `prefix`, `service` and `election`
/// (the server refuses anything else, naming them).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryRequest {
	/// One key.
	#[serde(skip_serializing_if = "Option::is_none")]
	pub key: Option<HexParam>,
	/// Every key with this prefix.
	#[serde(skip_serializing_if = "Option::is_none")]
	pub prefix: Option<HexParam>,
	/// A service's instances.
	#[serde(skip_serializing_if = "Option::is_none")]
	pub service: Option<HexParam>,
	/// An election.
	#[serde(skip_serializing_if = "Option::is_none")]
	pub election: Option<HexParam>,
	/// Items with a revision at least this.
	#[serde(skip_serializing_if = "Option::is_none")]
	pub from_revision: Option<u64>,
	/// At most this many items (the node's default is 1000).
	#[serde(skip_serializing_if = "Option::is_none")]
	pub limit: Option<u32>,
}

impl HistoryRequest {
	/// The changes of `subject`, from `from_revision` on, at most `limit` of them.
	pub fn new(subject: HistorySubject, from_revision: Option<u64>, limit: Option<u32>) -> Self {
		let mut request = HistoryRequest { from_revision, limit, ..Default::default() };
		match subject {
			HistorySubject::Key(k) => request.key = Some(k.as_slice().into()),
			HistorySubject::Prefix(p) => request.prefix = Some(p.as_slice().into()),
			HistorySubject::Service(s) => request.service = Some(s.as_slice().into()),
			HistorySubject::Election(e) => request.election = Some(e.as_slice().into()),
		}
		request
	}
}

/// The keys a `registry_subscribeKeys` watches: one key, or `[key, range_end)` with etcd's
/// conventions.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySelector {
	/// The first key.
	pub key: HexParam,
	/// The range end; absent or empty for the one key.
	#[serde(skip_serializing_if = "Option::is_none")]
	pub range_end: Option<HexParam>,
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
#[serde(deny_unknown_fields)]
pub struct WatchOptions {
	/// Replay every indexed change whose revision is at least this, then go live.
	#[serde(skip_serializing_if = "Option::is_none")]
	pub from_revision: Option<u64>,
	/// Stream best blocks (items not yet final, retractions on reorgs).
	#[serde(
		skip_serializing_if = "std::ops::Not::not",
		default,
		deserialize_with = "null_is_false"
	)]
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

/// An optional flag: absent, `null` and `false` are all false.
fn null_is_false<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
	Ok(Option::<bool>::deserialize(d)?.unwrap_or(false))
}

impl Change {
	/// Where it stands in the chain's order of changes.
	pub fn position(&self) -> (u64, u32) {
		(self.block_number, self.event_index)
	}

	fn bytes(&self, field: &str) -> Option<Bytes> {
		serde_json::from_value(self.fields.get(field)?.clone()).ok()
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
		let r = HistoryRequest::new(HistorySubject::Prefix(b"/a".to_vec()), Some(3), None);
		assert_eq!(
			serde_json::to_value(&r).unwrap(),
			serde_json::json!({"prefix": "0x2f61", "from_revision": 3})
		);
	}

	#[test]
	fn requests_refuse_unknown_fields_and_take_null_flags_as_false() {
		let r: RangeRequest =
			serde_json::from_str(r#"{"key":"0x2f","keys_only":null,"count_only":true}"#).unwrap();
		assert!(!r.keys_only && r.count_only);
		assert_eq!(r.key.decode().unwrap(), b"/");
		assert!(serde_json::from_str::<RangeRequest>(r#"{"key":"0x2f","prefix":true}"#).is_err());
		assert!(serde_json::from_str::<WatchOptions>(r#"{"from":1}"#).is_err());
		let at: Vec<AtBlock> = serde_json::from_str(r#"["best","finalized","0x01"]"#).unwrap();
		assert_eq!(at, [AtBlock::Best, AtBlock::Finalized, AtBlock::Hash("0x01".into())]);
	}
}
