//! Property tests of the gateway's request decoding: bad bodies, tried systematically, and the
//! round trip of every request through etcd's JSON.
//!
//! - Any body, bytes or JSON, is decoded by every route or refused as etcd's gateway
//!   (grpc-gateway 1, golang/protobuf's jsonpb) refuses it: InvalidArgument, HTTP 400, `"code":
//!   3`, and a message; never a panic.
//! - A field of the wrong JSON type, bad base64, a number that is not an int64 and a name that is
//!   not in its enum are refused, and the message names the field.
//! - A request written as etcd's gateway reads it (either spelling of the field names, int64s as
//!   strings or numbers, enums by name or number, fields at their zero value written or left
//!   out) decodes to itself.
//!
//! Decoding is all that a route does with its body before it calls the service, and a route
//! calls the service only with what decoding returns: a body refused here reaches no service and
//! submits nothing. What the services check before they submit is tested with them (`convert`,
//! `services::kv`, `services::lease`).

use super::*;
use crate::convert::strategies::{
	any_delete_request, any_int, any_key, any_put_request, any_range_end, any_range_request,
	any_txn_request,
};
use proptest::prelude::*;
use serde_json::Number;

/// etcd's `RangeRequest.SortOrder`, by name.
const SORT_ORDERS: &[&str] = &["NONE", "ASCEND", "DESCEND"];
/// etcd's `RangeRequest.SortTarget`, by name.
const SORT_TARGETS: &[&str] = &["KEY", "VERSION", "CREATE", "MOD", "VALUE"];
/// etcd's `Compare.CompareResult`, by name.
const COMPARE_RESULTS: &[&str] = &["EQUAL", "GREATER", "LESS", "NOT_EQUAL"];
/// etcd's `Compare.CompareTarget`, by name.
const COMPARE_TARGETS: &[&str] = &["VERSION", "CREATE", "MOD", "VALUE", "LEASE"];
/// etcd's `WatchCreateRequest.FilterType`, by name.
const FILTERS: &[&str] = &["NOPUT", "NODELETE"];

/// The routes that decode a body.
const ROUTES: &[&str] = &[
	"range",
	"put",
	"deleterange",
	"txn",
	"watch",
	"lease/grant",
	"lease/revoke",
	"lease/keepalive",
	"lease/timetolive",
];

/// Decodes `f` as `route` does.
fn decode(route: &str, f: &Fields) -> Result<(), Status> {
	match route {
		"range" => range_request(f).map(drop),
		"put" => put_request(f).map(drop),
		"deleterange" => delete_request(f).map(drop),
		"txn" => txn_request(f).map(drop),
		"watch" => watch_request(f).map(drop),
		"lease/grant" => lease_grant_request(f).map(drop),
		"lease/revoke" => lease_revoke_request(f).map(drop),
		"lease/keepalive" => lease_keep_alive_request(f).map(drop),
		"lease/timetolive" => lease_time_to_live_request(f).map(drop),
		other => panic!("no route {other}"),
	}
}

/// `f` decoded by every route, and as the parts a txn holds (a compare, an operation), which
/// otherwise only meet what a txn's lists hold.
fn decode_all(f: &Fields) -> Vec<(&'static str, Result<(), Status>)> {
	let mut all: Vec<_> = ROUTES.iter().map(|route| (*route, decode(route, f))).collect();
	all.push(("a txn's compare", compare(f).map(drop)));
	all.push(("a txn's operation", request_op(f).map(drop)));
	all
}

/// Whether `status` is what etcd's gateway answers bad input with: InvalidArgument, which is HTTP
/// 400 and `"code": 3` in the body, with a message.
fn is_etcds_error(what: &str, status: &Status) -> Result<(), TestCaseError> {
	prop_assert_eq!(status.code(), Code::InvalidArgument, "{}: {}", what, status.message());
	prop_assert!(!status.message().is_empty(), "{}: an error without a message", what);
	prop_assert_eq!(http_status(status.code()), StatusCode::BAD_REQUEST);
	prop_assert_eq!(error_body(status)["code"].clone(), json!(3));
	Ok(())
}

// ---------------------------------------------------------------------------------------------
// Any JSON, any bytes
// ---------------------------------------------------------------------------------------------

/// Field names: the decoders', in both spellings, and some they do not know.
const NAMES: &[&str] = &[
	"key",
	"range_end",
	"rangeEnd",
	"value",
	"lease",
	"limit",
	"revision",
	"sort_order",
	"sortTarget",
	"serializable",
	"keys_only",
	"countOnly",
	"min_mod_revision",
	"maxCreateRevision",
	"prev_kv",
	"ignoreValue",
	"ignore_lease",
	"compare",
	"success",
	"failure",
	"request_range",
	"requestPut",
	"request_delete_range",
	"request_txn",
	"result",
	"target",
	"version",
	"create_revision",
	"modRevision",
	"create_request",
	"start_revision",
	"filters",
	"watch_id",
	"TTL",
	"ID",
	"keys",
	"",
	"unknown",
];

/// Strings with a meaning to the decoders (base64, int64s, enum names) and near misses.
const STRINGS: &[&str] = &[
	"",
	"YQ==",
	"L2E=",
	"AA==",
	"YQ",
	"YQ=",
	"Y",
	"YR==",
	"not base64!",
	"-_-_",
	"0",
	"1",
	"-1",
	"+1",
	"007",
	" 1",
	"9223372036854775807",
	"9223372036854775808",
	"-9223372036854775809",
	"1.5",
	"1e3",
	"NONE",
	"DESCEND",
	"KEY",
	"VALUE",
	"LEASE",
	"EQUAL",
	"NOT_EQUAL",
	"NOPUT",
	"NODELETE",
	"ascend",
	"true",
	"null",
];

/// Bodies at the edges of what grpc-gateway takes.
const BODIES: &[&[u8]] = &[
	b"",
	b" \t\r\n",
	b"\x0c",
	b"null",
	b" null ",
	b"[]",
	b"{}",
	b"1",
	b"\"x\"",
	b"true",
	b"{} {}",
	b"{\"key\":",
	b"{\"key\":\"YQ==\"",
	b"\xff",
	b"{\"key\":\"\xff\"}",
];

fn any_name() -> impl Strategy<Value = String> {
	prop_oneof![
		4 => prop::sample::select(NAMES).prop_map(String::from),
		1 => "\\PC{0,8}",
	]
}

fn any_string() -> impl Strategy<Value = String> {
	prop_oneof![
		3 => prop::sample::select(STRINGS).prop_map(String::from),
		1 => prop::collection::vec(any::<u8>(), 0..12).prop_map(|b| BASE64.encode(b)),
		1 => any::<i64>().prop_map(|n| n.to_string()),
		2 => "\\PC{0,16}",
	]
}

/// A JSON number: an int64, a uint64, or a finite float (never `null`).
fn any_number() -> impl Strategy<Value = Value> {
	prop_oneof![
		2 => (-3i64..300).prop_map(Value::from),
		1 => any::<i64>().prop_map(Value::from),
		1 => any::<u64>().prop_map(Value::from),
		1 => any::<f64>().prop_map(|f| Value::Number(Number::from_f64(f).unwrap_or_else(|| Number::from(7)))),
		1 => (-3i64..300).prop_map(|n| json!(n as f64 + 0.5)),
	]
}

/// Any JSON value, at most four levels deep.
fn any_json() -> impl Strategy<Value = Value> {
	let leaf = prop_oneof![
		Just(Value::Null),
		any::<bool>().prop_map(Value::Bool),
		any_number(),
		any_string().prop_map(Value::String),
	];
	leaf.prop_recursive(4, 48, 6, |inner| {
		prop_oneof![
			prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
			prop::collection::vec((any_name(), inner), 0..6)
				.prop_map(|fields| Value::Object(fields.into_iter().collect())),
		]
	})
}

/// Any JSON object, its fields mostly named as the decoders' are.
fn any_object() -> impl Strategy<Value = Map<String, Value>> {
	prop::collection::vec((any_name(), any_json()), 0..8)
		.prop_map(|fields| fields.into_iter().collect())
}

/// One of a txn's operations: an object under one of the operations' names, with anything in it;
/// or anything at all.
fn any_op_json() -> impl Strategy<Value = Value> {
	let names =
		["request_range", "requestPut", "request_put", "request_delete_range", "requestTxn", "x"];
	prop_oneof![
		3 => (prop::sample::select(names.to_vec()), any_object())
			.prop_map(|(name, inner)| one(name, Value::Object(inner))),
		1 => any_json(),
	]
}

/// A body shaped as the nested requests are (a txn's compares and operations, a watch's create
/// request) with anything inside, so that the nested decoders meet bad input too.
fn any_nested() -> impl Strategy<Value = Map<String, Value>> {
	let compares = prop::collection::vec(
		prop_oneof![
			3 => any_object().prop_map(Value::Object),
			1 => any_json(),
		],
		0..4,
	);
	let ops = || prop::collection::vec(any_op_json(), 0..4);
	(compares, ops(), ops(), any_object(), any_object()).prop_map(
		|(compares, success, failure, create, mut body)| {
			body.insert("compare".into(), Value::Array(compares));
			body.insert("success".into(), Value::Array(success));
			body.insert("failure".into(), Value::Array(failure));
			body.insert("create_request".into(), Value::Object(create));
			body
		},
	)
}

/// A request body: any bytes, JSON, JSON cut short or with one byte changed, or one at the edges
/// of what grpc-gateway takes.
fn any_body() -> impl Strategy<Value = Vec<u8>> {
	let json = || any_object().prop_map(|object| Value::Object(object).to_string().into_bytes());
	prop_oneof![
		2 => prop::collection::vec(any::<u8>(), 0..64),
		2 => json(),
		1 => any_json().prop_map(|value| value.to_string().into_bytes()),
		2 => (json(), any::<prop::sample::Index>(), any::<u8>()).prop_map(|(mut body, at, byte)| {
			let at = at.index(body.len());
			body[at] = byte;
			body
		}),
		1 => (json(), any::<prop::sample::Index>()).prop_map(|(mut body, at)| {
			body.truncate(at.index(body.len()));
			body
		}),
		1 => prop::sample::select(BODIES).prop_map(|body| body.to_vec()),
	]
}

/// A JSON object with the one field `name`.
fn one(name: &str, value: Value) -> Value {
	let mut object = Map::new();
	object.insert(name.into(), value);
	Value::Object(object)
}

// ---------------------------------------------------------------------------------------------
// Wrong values
// ---------------------------------------------------------------------------------------------

/// How a decoder reads a field.
#[derive(Clone, Copy, Debug)]
enum Kind {
	/// Base64.
	Bytes,
	/// An int64, as a string or a number.
	Int,
	/// `true` or `false`.
	Bool,
	/// One of these names, or an int32.
	Enum(&'static [&'static str]),
}

/// Each route's fields and how they are read. A `txn`'s fields here are those of a compare in
/// its `compare` list, and a `watch`'s those of its `create_request`.
const TYPED: &[(&str, &str, Kind)] = &[
	("range", "key", Kind::Bytes),
	("range", "range_end", Kind::Bytes),
	("range", "limit", Kind::Int),
	("range", "revision", Kind::Int),
	("range", "sort_order", Kind::Enum(SORT_ORDERS)),
	("range", "sort_target", Kind::Enum(SORT_TARGETS)),
	("range", "serializable", Kind::Bool),
	("range", "keys_only", Kind::Bool),
	("range", "count_only", Kind::Bool),
	("range", "min_mod_revision", Kind::Int),
	("range", "max_mod_revision", Kind::Int),
	("range", "min_create_revision", Kind::Int),
	("range", "max_create_revision", Kind::Int),
	("put", "key", Kind::Bytes),
	("put", "value", Kind::Bytes),
	("put", "lease", Kind::Int),
	("put", "prev_kv", Kind::Bool),
	("put", "ignore_value", Kind::Bool),
	("put", "ignore_lease", Kind::Bool),
	("deleterange", "key", Kind::Bytes),
	("deleterange", "range_end", Kind::Bytes),
	("deleterange", "prev_kv", Kind::Bool),
	("txn", "result", Kind::Enum(COMPARE_RESULTS)),
	("txn", "target", Kind::Enum(COMPARE_TARGETS)),
	("txn", "key", Kind::Bytes),
	("txn", "range_end", Kind::Bytes),
	("txn", "version", Kind::Int),
	("txn", "create_revision", Kind::Int),
	("txn", "mod_revision", Kind::Int),
	("txn", "value", Kind::Bytes),
	("txn", "lease", Kind::Int),
	("watch", "key", Kind::Bytes),
	("watch", "range_end", Kind::Bytes),
	("watch", "start_revision", Kind::Int),
	("watch", "progress_notify", Kind::Bool),
	("watch", "prev_kv", Kind::Bool),
	("watch", "watch_id", Kind::Int),
	("lease/grant", "TTL", Kind::Int),
	("lease/grant", "ID", Kind::Int),
	("lease/revoke", "ID", Kind::Int),
	("lease/keepalive", "ID", Kind::Int),
	("lease/timetolive", "ID", Kind::Int),
	("lease/timetolive", "keys", Kind::Bool),
];

/// A value that etcd's gateway refuses for a field of `kind`, as golang/protobuf's jsonpb reads
/// it. (jsonpb 1.3 takes an array of bytes for a bytes field, so arrays are left out there.)
fn any_wrong_value(kind: Kind) -> BoxedStrategy<Value> {
	let structured = || {
		prop_oneof![
			prop::collection::vec(any_json(), 0..3).prop_map(Value::Array),
			any_object().prop_map(Value::Object),
		]
	};
	match kind {
		Kind::Bytes => prop_oneof![
			any::<bool>().prop_map(Value::Bool),
			any_number(),
			any_object().prop_map(Value::Object),
			// A character outside base64's alphabet: Go skips line breaks only.
			("[A-Za-z0-9+/]{0,8}", "[^A-Za-z0-9+/=\r\n]", "[A-Za-z0-9+/=]{0,8}")
				.prop_map(|(a, b, c)| Value::String(format!("{a}{b}{c}"))),
		]
		.boxed(),
		Kind::Int => prop_oneof![
			any::<bool>().prop_map(Value::Bool),
			structured(),
			(-1000i64..1000).prop_map(|n| json!(n as f64 + 0.5)),
			(i64::MAX as u64 + 1..=u64::MAX).prop_map(Value::from),
			"[0-9]{0,4}[a-zA-Z.,_][0-9]{0,4}".prop_map(Value::String),
		]
		.boxed(),
		Kind::Bool => {
			prop_oneof![any_number(), any_string().prop_map(Value::String), structured(),].boxed()
		},
		Kind::Enum(names) => prop_oneof![
			any::<bool>().prop_map(Value::Bool),
			structured(),
			"[a-zA-Z_0-9]{0,10}"
				.prop_filter("a name of the enum", move |s| !names
					.iter()
					.any(|name| *name == s.as_str()))
				.prop_map(Value::String),
			(i64::from(i32::MAX) + 1..=i64::MAX).prop_map(Value::from),
			(i64::MIN..i64::from(i32::MIN)).prop_map(Value::from),
			(-10i64..10).prop_map(|n| json!(n as f64 + 0.5)),
		]
		.boxed(),
	}
}

/// A body for `route` with `value` at `field` (inside a compare of its `compare` list for a txn,
/// inside its `create_request` for a watch).
fn body_with(route: &str, field: &str, value: Value) -> Map<String, Value> {
	let inner = one(field, value);
	match route {
		"txn" => [("compare".to_string(), Value::Array(vec![inner]))].into_iter().collect(),
		"watch" => [("create_request".to_string(), inner)].into_iter().collect(),
		_ => match inner {
			Value::Object(object) => object,
			_ => unreachable!("one() makes an object"),
		},
	}
}

// ---------------------------------------------------------------------------------------------
// Requests written as etcd's gateway reads them
// ---------------------------------------------------------------------------------------------

/// How a client writes a request, in the ways etcd's gateway reads.
#[derive(Clone, Copy, Debug)]
struct Spelling {
	/// Field names in JSON's spelling (`rangeEnd`) rather than the proto's (`range_end`).
	camel: bool,
	/// int64s as strings (as etcd writes them) rather than numbers.
	int_strings: bool,
	/// Enums by name rather than by number (unknown values are numbers either way).
	enum_names: bool,
	/// Fields at their zero value written rather than left out.
	zeros: bool,
}

fn any_spelling() -> impl Strategy<Value = Spelling> {
	(any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
		|(camel, int_strings, enum_names, zeros)| Spelling {
			camel,
			int_strings,
			enum_names,
			zeros,
		},
	)
}

impl Spelling {
	fn int(self, n: i64) -> Value {
		if self.int_strings {
			Value::String(n.to_string())
		} else {
			Value::from(n)
		}
	}

	fn enumeration(self, names: &[&str], n: i32) -> Value {
		match usize::try_from(n).ok().and_then(|i| names.get(i)) {
			Some(name) if self.enum_names => Value::from(*name),
			_ => Value::from(n),
		}
	}
}

/// A JSON object written in a [`Spelling`].
struct Writer(Spelling, Map<String, Value>);

impl Writer {
	fn new(spelling: Spelling) -> Self {
		Writer(spelling, Map::new())
	}

	/// Writes `value` at `name`, unless it is the field's zero value and zeros are left out.
	fn field(mut self, name: &str, value: Value, zero: bool) -> Self {
		if !zero || self.0.zeros {
			let name = if self.0.camel { json_name(name) } else { name.to_string() };
			self.1.insert(name, value);
		}
		self
	}

	/// Writes `value` at `name` whatever it is: a oneof's field, whose presence is what it says.
	fn set(self, name: &str, value: Value) -> Self {
		self.field(name, value, false)
	}

	fn bytes(self, name: &str, b: &[u8]) -> Self {
		self.field(name, bytes(b), b.is_empty())
	}

	fn int(self, name: &str, n: i64) -> Self {
		let value = self.0.int(n);
		self.field(name, value, n == 0)
	}

	fn bool(self, name: &str, b: bool) -> Self {
		self.field(name, Value::Bool(b), !b)
	}

	fn enumeration(self, name: &str, names: &[&str], n: i32) -> Self {
		let value = self.0.enumeration(names, n);
		self.field(name, value, n == 0)
	}

	fn list(self, name: &str, items: Vec<Value>) -> Self {
		let empty = items.is_empty();
		self.field(name, Value::Array(items), empty)
	}

	fn done(self) -> Value {
		Value::Object(self.1)
	}
}

fn range_json(s: Spelling, r: &PbRangeRequest) -> Value {
	Writer::new(s)
		.bytes("key", &r.key)
		.bytes("range_end", &r.range_end)
		.int("limit", r.limit)
		.int("revision", r.revision)
		.enumeration("sort_order", SORT_ORDERS, r.sort_order)
		.enumeration("sort_target", SORT_TARGETS, r.sort_target)
		.bool("serializable", r.serializable)
		.bool("keys_only", r.keys_only)
		.bool("count_only", r.count_only)
		.int("min_mod_revision", r.min_mod_revision)
		.int("max_mod_revision", r.max_mod_revision)
		.int("min_create_revision", r.min_create_revision)
		.int("max_create_revision", r.max_create_revision)
		.done()
}

fn put_json(s: Spelling, p: &PbPutRequest) -> Value {
	Writer::new(s)
		.bytes("key", &p.key)
		.bytes("value", &p.value)
		.int("lease", p.lease)
		.bool("prev_kv", p.prev_kv)
		.bool("ignore_value", p.ignore_value)
		.bool("ignore_lease", p.ignore_lease)
		.done()
}

fn delete_json(s: Spelling, d: &PbDeleteRequest) -> Value {
	Writer::new(s)
		.bytes("key", &d.key)
		.bytes("range_end", &d.range_end)
		.bool("prev_kv", d.prev_kv)
		.done()
}

fn compare_json(s: Spelling, c: &PbCompare) -> Value {
	let w = Writer::new(s)
		.enumeration("result", COMPARE_RESULTS, c.result)
		.enumeration("target", COMPARE_TARGETS, c.target)
		.bytes("key", &c.key)
		.bytes("range_end", &c.range_end);
	let w = match &c.target_union {
		None => w,
		Some(PbTargetUnion::Version(n)) => w.set("version", s.int(*n)),
		Some(PbTargetUnion::CreateRevision(n)) => w.set("create_revision", s.int(*n)),
		Some(PbTargetUnion::ModRevision(n)) => w.set("mod_revision", s.int(*n)),
		Some(PbTargetUnion::Value(v)) => w.set("value", bytes(v)),
		Some(PbTargetUnion::Lease(n)) => w.set("lease", s.int(*n)),
	};
	w.done()
}

fn op_json(s: Spelling, op: &PbTxnRequestOp) -> Value {
	let w = Writer::new(s);
	let w = match &op.request {
		None => w,
		Some(PbTxnOpRequest::RequestRange(r)) => w.set("request_range", range_json(s, r)),
		Some(PbTxnOpRequest::RequestPut(p)) => w.set("request_put", put_json(s, p)),
		Some(PbTxnOpRequest::RequestDeleteRange(d)) => {
			w.set("request_delete_range", delete_json(s, d))
		},
		Some(PbTxnOpRequest::RequestTxn(t)) => w.set("request_txn", txn_json(s, t)),
	};
	w.done()
}

fn txn_json(s: Spelling, t: &PbTxnRequest) -> Value {
	Writer::new(s)
		.list("compare", t.compare.iter().map(|c| compare_json(s, c)).collect())
		.list("success", t.success.iter().map(|op| op_json(s, op)).collect())
		.list("failure", t.failure.iter().map(|op| op_json(s, op)).collect())
		.done()
}

/// The fields of a watch's create request that the gateway reads (etcd-client does not name its
/// type).
#[derive(Clone, Debug, PartialEq)]
struct Create {
	key: Vec<u8>,
	range_end: Vec<u8>,
	start_revision: i64,
	progress_notify: bool,
	filters: Vec<i32>,
	prev_kv: bool,
	watch_id: i64,
}

fn any_create() -> impl Strategy<Value = Create> {
	let filter = prop_oneof![
		4 => 0..2i32,
		1 => any::<i32>(),
	];
	(
		any_key(),
		any_range_end(),
		any_int(),
		any::<bool>(),
		prop::collection::vec(filter, 0..3),
		any::<bool>(),
		any_int(),
	)
		.prop_map(
			|(key, range_end, start_revision, progress_notify, filters, prev_kv, watch_id)| {
				Create {
					key,
					range_end,
					start_revision,
					progress_notify,
					filters,
					prev_kv,
					watch_id,
				}
			},
		)
}

fn watch_json(s: Spelling, c: &Create) -> Value {
	let filters: Vec<Value> = c.filters.iter().map(|f| s.enumeration(FILTERS, *f)).collect();
	let create = Writer::new(s)
		.bytes("key", &c.key)
		.bytes("range_end", &c.range_end)
		.int("start_revision", c.start_revision)
		.bool("progress_notify", c.progress_notify)
		.list("filters", filters)
		.bool("prev_kv", c.prev_kv)
		.int("watch_id", c.watch_id)
		.done();
	Writer::new(s).set("create_request", create).done()
}

/// The create request a watch request holds.
fn create_of(w: PbWatchRequest) -> Option<Create> {
	match w.request_union {
		Some(PbWatchRequestUnion::CreateRequest(c)) => Some(Create {
			key: c.key,
			range_end: c.range_end,
			start_revision: c.start_revision,
			progress_notify: c.progress_notify,
			filters: c.filters,
			prev_kv: c.prev_kv,
			watch_id: c.watch_id,
		}),
		_ => None,
	}
}

/// `value` sent as a body and decoded by `decode`, or the message it is refused with.
fn round_trip<T>(value: &Value, decode: fn(&Fields) -> Result<T, Status>) -> Result<T, String> {
	Fields::parse(value.to_string().as_bytes())
		.and_then(|f| decode(&f))
		.map_err(|s| s.message().to_string())
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

proptest! {
	#![proptest_config(crate::convert::strategies::config())]

	/// Any body is taken exactly when grpc-gateway takes it (nothing but JSON whitespace, `null`
	/// or a JSON object), and is then decoded or refused with etcd's error by every route;
	/// otherwise it is refused with etcd's error. Nothing panics.
	#[test]
	fn any_body_is_decoded_or_refused_with_etcds_error(body in any_body()) {
		let json_whitespace = body.iter().all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
		let taken = json_whitespace ||
			matches!(serde_json::from_slice::<Value>(&body), Ok(Value::Object(_) | Value::Null));
		match Fields::parse(&body) {
			Ok(fields) => {
				prop_assert!(taken, "{:?} was taken", String::from_utf8_lossy(&body));
				for (route, decoded) in decode_all(&fields) {
					if let Err(status) = decoded {
						is_etcds_error(route, &status)?;
					}
				}
			},
			Err(status) => {
				prop_assert!(!taken, "{:?} was refused: {}", String::from_utf8_lossy(&body), status.message());
				is_etcds_error("the body", &status)?;
			},
		}
	}

	/// Any JSON object, or one shaped as the nested requests are with anything inside, is decoded
	/// or refused with etcd's error by every route, alike whether it comes as bytes or as JSON.
	/// Nothing panics.
	#[test]
	fn any_json_is_decoded_or_refused_with_etcds_error(object in prop_oneof![any_object(), any_nested()]) {
		let sent = Fields::parse(Value::Object(object.clone()).to_string().as_bytes());
		prop_assert!(sent.is_ok(), "a JSON object was refused");
		let sent = decode_all(&sent.unwrap());
		for ((route, decoded), (_, decoded_sent)) in decode_all(&Fields(object)).into_iter().zip(sent) {
			prop_assert_eq!(decoded.is_ok(), decoded_sent.is_ok(), "{}", route);
			if let Err(status) = decoded {
				is_etcds_error(route, &status)?;
			}
		}
	}

	/// A field of the wrong JSON type, bad base64, a number that is not an int64 (a fraction,
	/// beyond int64) and a name not in its enum (or a number beyond int32) are refused with etcd's
	/// error, naming the field: never taken as the field's zero value.
	#[test]
	fn wrong_values_are_refused_and_named(
		((route, field, _), value) in prop::sample::select(TYPED)
			.prop_flat_map(|typed| (Just(typed), any_wrong_value(typed.2))),
		camel in any::<bool>(),
	) {
		let name = if camel { json_name(field) } else { field.to_string() };
		let status = match decode(route, &Fields(body_with(route, &name, value.clone()))) {
			Ok(()) => return Err(TestCaseError::fail(format!("{route}: {name} = {value} was taken"))),
			Err(status) => status,
		};
		is_etcds_error(route, &status)?;
		prop_assert!(status.message().contains(field), "{}: {}", field, status.message());
	}

	/// A range written as etcd's gateway reads it decodes to itself.
	#[test]
	fn ranges_round_trip(s in any_spelling(), r in any_range_request()) {
		prop_assert_eq!(round_trip(&range_json(s, &r), range_request), Ok(r));
	}

	/// A put written as etcd's gateway reads it decodes to itself.
	#[test]
	fn puts_round_trip(s in any_spelling(), p in any_put_request()) {
		prop_assert_eq!(round_trip(&put_json(s, &p), put_request), Ok(p));
	}

	/// A delete written as etcd's gateway reads it decodes to itself.
	#[test]
	fn deletes_round_trip(s in any_spelling(), d in any_delete_request()) {
		prop_assert_eq!(round_trip(&delete_json(s, &d), delete_request), Ok(d));
	}

	/// A txn, its compares, operations and a nested txn, written as etcd's gateway reads it,
	/// decodes to itself.
	#[test]
	fn txns_round_trip(s in any_spelling(), t in any_txn_request()) {
		prop_assert_eq!(round_trip(&txn_json(s, &t), txn_request), Ok(t));
	}

	/// A watch's create request written as etcd's gateway reads it decodes to itself.
	#[test]
	fn watches_round_trip(s in any_spelling(), c in any_create()) {
		let decoded = round_trip(&watch_json(s, &c), watch_request).map(create_of);
		prop_assert_eq!(decoded, Ok(Some(c)));
	}

	/// The lease requests written as etcd's gateway reads them decode to themselves.
	#[test]
	fn lease_requests_round_trip(s in any_spelling(), ttl in any_int(), id in any_int(), keys in any::<bool>()) {
		let grant = PbLeaseGrantRequest { ttl, id };
		let written = Writer::new(s).int("TTL", ttl).int("ID", id).done();
		prop_assert_eq!(round_trip(&written, lease_grant_request), Ok(grant));
		let written = Writer::new(s).int("ID", id).done();
		prop_assert_eq!(round_trip(&written, lease_revoke_request), Ok(PbLeaseRevokeRequest { id }));
		prop_assert_eq!(round_trip(&written, lease_keep_alive_request), Ok(PbLeaseKeepAliveRequest { id }));
		let written = Writer::new(s).int("ID", id).bool("keys", keys).done();
		prop_assert_eq!(
			round_trip(&written, lease_time_to_live_request),
			Ok(PbLeaseTimeToLiveRequest { id, keys })
		);
	}
}

#[test]
fn bodies_grpc_gateway_takes_as_empty_and_filters_it_refuses() {
	// An empty body is io.EOF to grpc-gateway's decoder, and jsonpb takes a top-level null as a
	// no-op: both are the empty request. A form feed is not JSON whitespace.
	for body in [&b""[..], &b" \t\r\n"[..], &b"null"[..], &b" null "[..]] {
		assert!(matches!(Fields::parse(body), Ok(f) if f.0.is_empty()), "{body:?}");
	}
	assert_eq!(Fields::parse(b"\x0c").err().map(|s| s.code()), Some(Code::InvalidArgument));
	// Filters are a list of NOPUT, NODELETE or int32s.
	let watch = |body: &str| Fields::parse(body.as_bytes()).and_then(|f| watch_request(&f));
	for refused in [
		r#"{"create_request":{"filters":"NOPUT"}}"#,
		r#"{"create_request":{"filters":[4294967296]}}"#,
		r#"{"create_request":{"filters":[1.5]}}"#,
		r#"{"create_request":{"filters":["noput"]}}"#,
	] {
		assert_eq!(
			watch(refused).err().map(|s| s.code()),
			Some(Code::InvalidArgument),
			"{refused}"
		);
	}
	let taken = watch(r#"{"create_request":{"key":"YQ==","filters":["NODELETE",0]}}"#).unwrap();
	assert_eq!(create_of(taken).map(|c| c.filters), Some(vec![1, 0]));
}
