//! etcd's HTTP/JSON gateway, on the same port as gRPC, as etcd 3.4 serves it: `POST
//! /v3/kv/range` and the other routes below, `GET /version` and `GET /health`. Patroni and
//! `curl` users talk to etcd this way.
//!
//! Each route decodes its JSON body into the gRPC request, calls the same service as gRPC, and
//! encodes the answer as etcd 3.4's gateway does (grpc-gateway with `OrigName`):
//! - the body is JSON whatever its `Content-Type`; field names may be the proto's (`range_end`,
//!   `request_put`) or their JSON spelling (`rangeEnd`, `requestPut`);
//! - bytes are base64, 64-bit integers are strings (numbers are accepted), enums are names or
//!   numbers;
//! - fields at their zero value are left out of answers;
//! - an error is `{"error", "message", "code"}` with the gRPC code, and the HTTP status
//!   grpc-gateway maps it to;
//! - `/v3/watch` streams one `{"result": WatchResponse}` object per line.

use std::sync::Arc;

use axum::{
	body::{Body, Bytes},
	http::{header::CONTENT_TYPE, HeaderMap, StatusCode},
	response::{IntoResponse, Response},
	routing::{get, post},
	Router,
};
use base64::{engine::general_purpose::STANDARD as BASE64, Engine};
use etcd_client::proto::{
	PbClusterService, PbCompare, PbDeleteRequest, PbDeleteResponse, PbEvent, PbKeyValue,
	PbKvService, PbLeaseGrantRequest, PbLeaseGrantResponse, PbLeaseKeepAliveRequest,
	PbLeaseKeepAliveResponse, PbLeaseRevokeRequest, PbLeaseService, PbLeaseTimeToLiveRequest,
	PbLeaseTimeToLiveResponse, PbMaintenanceService, PbMemberListRequest, PbMemberListResponse,
	PbPutRequest, PbPutResponse, PbRangeRequest, PbRangeResponse, PbResponseHeader, PbResponseOp,
	PbStatusRequest, PbStatusResponse, PbTargetUnion, PbTxnOpRequest, PbTxnOpResponse,
	PbTxnRequest, PbTxnRequestOp, PbTxnResponse, PbWatchRequest, PbWatchRequestUnion,
	PbWatchResponse,
};
use futures::StreamExt;
use serde_json::{json, Map, Value};
use tonic::{Code, Request, Status};

use crate::{
	services::{watch::serve_stream, Cluster, Kv, Lease, Maintenance},
	Api, ETCD_CLUSTER_VERSION, ETCD_SERVER_VERSION,
};

/// The gateway's routes, each behind the host and origin checks of [`crate::access`].
pub fn router(api: Arc<Api>) -> Router {
	let access = Arc::new(api.config.access.clone());
	Router::new()
		.route("/v3/kv/range", post(range))
		.route("/v3/kv/put", post(put))
		.route("/v3/kv/deleterange", post(delete_range))
		.route("/v3/kv/txn", post(txn))
		.route("/v3/lease/grant", post(lease_grant))
		.route("/v3/lease/revoke", post(lease_revoke))
		.route("/v3/kv/lease/revoke", post(lease_revoke))
		.route("/v3/lease/keepalive", post(lease_keep_alive))
		.route("/v3/lease/timetolive", post(lease_time_to_live))
		.route("/v3/kv/lease/timetolive", post(lease_time_to_live))
		.route("/v3/watch", post(watch))
		.route("/v3/cluster/member/list", post(member_list))
		.route("/v3/maintenance/status", post(status))
		.route("/version", get(version))
		.route("/health", get(health))
		.route("/v3/auth/authenticate", post(authenticate))
		.route("/v3/auth/{*call}", post(auth))
		.with_state(api)
		.layer(axum::middleware::from_fn_with_state(access, crate::access::check))
}

/// What answers a path no route takes: gRPC's `Unimplemented` to a gRPC call, as tonic does,
/// and 404 to anything else, as etcd's gateway does.
pub async fn fallback(headers: HeaderMap) -> Response {
	let grpc = headers
		.get(CONTENT_TYPE)
		.and_then(|v| v.to_str().ok())
		.is_some_and(|v| v.starts_with("application/grpc"));
	if grpc {
		let (parts, ()) = Status::unimplemented("").into_http::<()>().into_parts();
		return Response::from_parts(parts, Body::empty());
	}
	(StatusCode::NOT_FOUND, [(CONTENT_TYPE, "text/plain")], "Not Found\n").into_response()
}

/// etcd with authentication disabled, as regchain always is: clients that try to log in (Patroni
/// with a `username`) are told so, and go on without.
async fn authenticate(_body: Bytes) -> Response {
	error_response(&Status::failed_precondition("etcdserver: authentication is not enabled"))
}

/// etcd's users and roles are not kept: every write is signed by this node's account.
async fn auth(_body: Bytes) -> Response {
	error_response(&Status::unimplemented(
		"regchain: etcd users and roles are not supported; writes are signed by the node's account",
	))
}

type State = axum::extract::State<Arc<Api>>;

// ---------------------------------------------------------------------------------------------
// Routes
// ---------------------------------------------------------------------------------------------

async fn range(axum::extract::State(api): State, body: Bytes) -> Response {
	answer(async {
		let request = range_request(&Fields::parse(&body)?)?;
		let response = Kv(api).range(Request::new(request)).await?.into_inner();
		Ok(range_response(&response))
	})
	.await
}

async fn put(axum::extract::State(api): State, body: Bytes) -> Response {
	answer(async {
		let request = put_request(&Fields::parse(&body)?)?;
		let response = Kv(api).put(Request::new(request)).await?.into_inner();
		Ok(put_response(&response))
	})
	.await
}

async fn delete_range(axum::extract::State(api): State, body: Bytes) -> Response {
	answer(async {
		let request = delete_request(&Fields::parse(&body)?)?;
		let response = Kv(api).delete_range(Request::new(request)).await?.into_inner();
		Ok(delete_response(&response))
	})
	.await
}

async fn txn(axum::extract::State(api): State, body: Bytes) -> Response {
	answer(async {
		let request = txn_request(&Fields::parse(&body)?)?;
		let response = Kv(api).txn(Request::new(request)).await?.into_inner();
		Ok(txn_response(&response))
	})
	.await
}

async fn lease_grant(axum::extract::State(api): State, body: Bytes) -> Response {
	answer(async {
		let request = lease_grant_request(&Fields::parse(&body)?)?;
		let r: PbLeaseGrantResponse =
			Lease(api).lease_grant(Request::new(request)).await?.into_inner();
		let mut out = object(&r.header);
		put_int(&mut out, "ID", r.id);
		put_int(&mut out, "TTL", r.ttl);
		put_str(&mut out, "error", &r.error);
		Ok(Value::Object(out))
	})
	.await
}

async fn lease_revoke(axum::extract::State(api): State, body: Bytes) -> Response {
	answer(async {
		let request = lease_revoke_request(&Fields::parse(&body)?)?;
		let r = Lease(api).lease_revoke(Request::new(request)).await?.into_inner();
		Ok(Value::Object(object(&r.header)))
	})
	.await
}

async fn lease_keep_alive(axum::extract::State(api): State, body: Bytes) -> Response {
	answer(async {
		let id = lease_keep_alive_request(&Fields::parse(&body)?)?.id;
		let r: PbLeaseKeepAliveResponse = crate::services::lease::keep_alive(&api, id).await?;
		let mut result = object(&r.header);
		put_int(&mut result, "ID", r.id);
		put_int(&mut result, "TTL", r.ttl);
		// A streaming call in gRPC: the gateway wraps its one answer in `result`.
		Ok(json!({ "result": result }))
	})
	.await
}

async fn lease_time_to_live(axum::extract::State(api): State, body: Bytes) -> Response {
	answer(async {
		let request = lease_time_to_live_request(&Fields::parse(&body)?)?;
		let r: PbLeaseTimeToLiveResponse =
			Lease(api).lease_time_to_live(Request::new(request)).await?.into_inner();
		let mut out = object(&r.header);
		put_int(&mut out, "ID", r.id);
		put_int(&mut out, "TTL", r.ttl);
		put_int(&mut out, "grantedTTL", r.granted_ttl);
		if !r.keys.is_empty() {
			out.insert("keys".into(), r.keys.iter().map(|k| bytes(k)).collect());
		}
		Ok(Value::Object(out))
	})
	.await
}

async fn member_list(axum::extract::State(api): State, _body: Bytes) -> Response {
	answer(async {
		let r: PbMemberListResponse = Cluster(api)
			.member_list(Request::new(PbMemberListRequest::default()))
			.await?
			.into_inner();
		let mut out = object(&r.header);
		let members = r.members.iter().map(|m| {
			let mut member = Map::new();
			put_uint(&mut member, "ID", m.id);
			put_str(&mut member, "name", &m.name);
			member.insert("peerURLs".into(), json!(m.peer_ur_ls));
			member.insert("clientURLs".into(), json!(m.client_ur_ls));
			if m.is_learner {
				member.insert("isLearner".into(), json!(true));
			}
			Value::Object(member)
		});
		out.insert("members".into(), members.collect());
		Ok(Value::Object(out))
	})
	.await
}

async fn status(axum::extract::State(api): State, _body: Bytes) -> Response {
	answer(async {
		let r: PbStatusResponse = Maintenance(api)
			.status(Request::new(PbStatusRequest::default()))
			.await?
			.into_inner();
		let mut out = object(&r.header);
		put_str(&mut out, "version", &r.version);
		put_int(&mut out, "dbSize", r.db_size);
		put_uint(&mut out, "leader", r.leader);
		put_uint(&mut out, "raftIndex", r.raft_index);
		put_uint(&mut out, "raftTerm", r.raft_term);
		put_uint(&mut out, "raftAppliedIndex", r.raft_applied_index);
		put_int(&mut out, "dbSizeInUse", r.db_size_in_use);
		Ok(Value::Object(out))
	})
	.await
}

async fn version() -> Response {
	json_response(
		StatusCode::OK,
		json!({ "etcdserver": ETCD_SERVER_VERSION, "etcdcluster": ETCD_CLUSTER_VERSION }),
	)
}

/// Healthy when the node answers a read at its finalized head, as etcd's `/health` is when a
/// read goes through.
async fn health(axum::extract::State(api): State) -> Response {
	match api.current_revision().await {
		Ok(_) => json_response(StatusCode::OK, json!({ "health": "true" })),
		Err(status) => json_response(
			StatusCode::SERVICE_UNAVAILABLE,
			json!({ "health": "false", "reason": status.message() }),
		),
	}
}

/// One watch, created by the body's `create_request`, streamed as `{"result": ...}` lines
/// until the client goes away.
async fn watch(axum::extract::State(api): State, body: Bytes) -> Response {
	let request = match Fields::parse(&body).and_then(|f| watch_request(&f)) {
		Ok(request) => request,
		Err(status) => return error_response(&status),
	};
	let (tx, rx) = tokio::sync::mpsc::channel(256);
	let closed = tx.clone();
	// The request stream ends when the client does, which ends the watchers.
	let requests = futures::stream::once(async move { Ok(request) }).chain(
		futures::stream::once(async move { closed.closed().await })
			.filter_map(|()| async { None::<Result<PbWatchRequest, Status>> }),
	);
	tokio::spawn(serve_stream(api, Box::pin(requests), tx));
	let lines = tokio_stream::wrappers::ReceiverStream::new(rx).map(|item| {
		let line = match item {
			Ok(response) => json!({ "result": watch_response(&response) }),
			Err(status) => error_body(&status),
		};
		Ok::<_, std::convert::Infallible>(Bytes::from(format!("{line}\n")))
	});
	Response::builder()
		.status(StatusCode::OK)
		.header(CONTENT_TYPE, "application/json")
		.body(Body::from_stream(lines))
		.expect("a static status and header; qed")
}

// ---------------------------------------------------------------------------------------------
// Answers and errors
// ---------------------------------------------------------------------------------------------

async fn answer(work: impl std::future::Future<Output = Result<Value, Status>>) -> Response {
	match work.await {
		Ok(value) => json_response(StatusCode::OK, value),
		Err(status) => error_response(&status),
	}
}

fn json_response(code: StatusCode, value: Value) -> Response {
	(code, [(CONTENT_TYPE, "application/json")], value.to_string()).into_response()
}

fn error_body(status: &Status) -> Value {
	json!({ "error": status.message(), "message": status.message(), "code": status.code() as i32 })
}

fn error_response(status: &Status) -> Response {
	json_response(http_status(status.code()), error_body(status))
}

/// grpc-gateway's mapping of gRPC codes onto HTTP statuses.
fn http_status(code: Code) -> StatusCode {
	match code {
		Code::Ok => StatusCode::OK,
		Code::Cancelled => StatusCode::REQUEST_TIMEOUT,
		Code::InvalidArgument | Code::OutOfRange => StatusCode::BAD_REQUEST,
		// grpc-gateway 1, etcd 3.4's: 412.
		Code::FailedPrecondition => StatusCode::PRECONDITION_FAILED,
		Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
		Code::NotFound => StatusCode::NOT_FOUND,
		Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
		Code::PermissionDenied => StatusCode::FORBIDDEN,
		Code::Unauthenticated => StatusCode::UNAUTHORIZED,
		Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
		Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
		Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
		Code::Unknown | Code::Internal | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
	}
}

// ---------------------------------------------------------------------------------------------
// Decoding requests
// ---------------------------------------------------------------------------------------------

/// A JSON object whose fields are looked up by their proto name or its JSON spelling.
struct Fields(Map<String, Value>);

fn bad(message: String) -> Status {
	Status::invalid_argument(message)
}

/// `range_end` → `rangeEnd`.
fn json_name(name: &str) -> String {
	let mut out = String::new();
	let mut upper = false;
	for c in name.chars() {
		if c == '_' {
			upper = true;
		} else if upper {
			out.extend(c.to_uppercase());
			upper = false;
		} else {
			out.push(c);
		}
	}
	out
}

impl Fields {
	/// A request body, as grpc-gateway reads it: one with nothing but JSON whitespace, or a
	/// top-level `null` (golang/protobuf's jsonpb), is the empty request.
	fn parse(body: &[u8]) -> Result<Self, Status> {
		if body.iter().all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r')) {
			return Ok(Fields(Map::new()));
		}
		match serde_json::from_slice(body) {
			Ok(Value::Object(map)) => Ok(Fields(map)),
			Ok(Value::Null) => Ok(Fields(Map::new())),
			Ok(_) => Err(bad("the request body must be a JSON object".into())),
			Err(e) => Err(bad(format!("the request body is not JSON: {e}"))),
		}
	}

	fn get(&self, name: &str) -> Option<&Value> {
		self.0
			.get(name)
			.or_else(|| self.0.get(&json_name(name)))
			.filter(|v| !v.is_null())
	}

	fn bytes(&self, name: &str) -> Result<Vec<u8>, Status> {
		match self.get(name) {
			None => Ok(Vec::new()),
			Some(Value::String(s)) => {
				BASE64.decode(s).map_err(|e| bad(format!("{name}: not base64 ({e})")))
			},
			Some(other) => Err(bad(format!("{name}: expected a base64 string, got {other}"))),
		}
	}

	fn int(&self, name: &str) -> Result<i64, Status> {
		match self.get(name) {
			None => Ok(0),
			Some(Value::String(s)) => {
				s.parse().map_err(|_| bad(format!("{name}: not an integer: {s:?}")))
			},
			Some(Value::Number(n)) => {
				n.as_i64().ok_or_else(|| bad(format!("{name}: not an integer: {n}")))
			},
			Some(other) => Err(bad(format!("{name}: expected an integer, got {other}"))),
		}
	}

	fn bool(&self, name: &str) -> Result<bool, Status> {
		match self.get(name) {
			None => Ok(false),
			Some(Value::Bool(b)) => Ok(*b),
			Some(other) => Err(bad(format!("{name}: expected true or false, got {other}"))),
		}
	}

	/// An enum, by name (one of `names`, in proto order) or number.
	fn enumeration(&self, name: &str, names: &[&str]) -> Result<i32, Status> {
		match self.get(name) {
			None => Ok(0),
			Some(Value::String(s)) => names
				.iter()
				.position(|n| n == s)
				.map(|i| i as i32)
				.ok_or_else(|| bad(format!("{name}: {s:?} is not one of {}", names.join(", ")))),
			Some(Value::Number(n)) => n
				.as_i64()
				.and_then(|n| i32::try_from(n).ok())
				.ok_or_else(|| bad(format!("{name}: not an enum value: {n}"))),
			Some(other) => Err(bad(format!("{name}: expected an enum name, got {other}"))),
		}
	}

	fn object(&self, name: &str) -> Result<Option<Fields>, Status> {
		match self.get(name) {
			None => Ok(None),
			Some(Value::Object(map)) => Ok(Some(Fields(map.clone()))),
			Some(other) => Err(bad(format!("{name}: expected an object, got {other}"))),
		}
	}

	fn list(&self, name: &str) -> Result<Vec<Fields>, Status> {
		match self.get(name) {
			None => Ok(Vec::new()),
			Some(Value::Array(items)) => items
				.iter()
				.map(|item| match item {
					Value::Object(map) => Ok(Fields(map.clone())),
					other => Err(bad(format!("{name}: expected objects, got {other}"))),
				})
				.collect(),
			Some(other) => Err(bad(format!("{name}: expected a list, got {other}"))),
		}
	}
}

fn range_request(f: &Fields) -> Result<PbRangeRequest, Status> {
	Ok(PbRangeRequest {
		key: f.bytes("key")?,
		range_end: f.bytes("range_end")?,
		limit: f.int("limit")?,
		revision: f.int("revision")?,
		sort_order: f.enumeration("sort_order", &["NONE", "ASCEND", "DESCEND"])?,
		sort_target: f.enumeration("sort_target", &["KEY", "VERSION", "CREATE", "MOD", "VALUE"])?,
		serializable: f.bool("serializable")?,
		keys_only: f.bool("keys_only")?,
		count_only: f.bool("count_only")?,
		min_mod_revision: f.int("min_mod_revision")?,
		max_mod_revision: f.int("max_mod_revision")?,
		min_create_revision: f.int("min_create_revision")?,
		max_create_revision: f.int("max_create_revision")?,
	})
}

fn put_request(f: &Fields) -> Result<PbPutRequest, Status> {
	Ok(PbPutRequest {
		key: f.bytes("key")?,
		value: f.bytes("value")?,
		lease: f.int("lease")?,
		prev_kv: f.bool("prev_kv")?,
		ignore_value: f.bool("ignore_value")?,
		ignore_lease: f.bool("ignore_lease")?,
	})
}

fn delete_request(f: &Fields) -> Result<PbDeleteRequest, Status> {
	Ok(PbDeleteRequest {
		key: f.bytes("key")?,
		range_end: f.bytes("range_end")?,
		prev_kv: f.bool("prev_kv")?,
	})
}

fn compare(f: &Fields) -> Result<PbCompare, Status> {
	let target_union = if f.get("version").is_some() {
		Some(PbTargetUnion::Version(f.int("version")?))
	} else if f.get("create_revision").is_some() {
		Some(PbTargetUnion::CreateRevision(f.int("create_revision")?))
	} else if f.get("mod_revision").is_some() {
		Some(PbTargetUnion::ModRevision(f.int("mod_revision")?))
	} else if f.get("value").is_some() {
		Some(PbTargetUnion::Value(f.bytes("value")?))
	} else if f.get("lease").is_some() {
		Some(PbTargetUnion::Lease(f.int("lease")?))
	} else {
		None
	};
	Ok(PbCompare {
		result: f.enumeration("result", &["EQUAL", "GREATER", "LESS", "NOT_EQUAL"])?,
		target: f.enumeration("target", &["VERSION", "CREATE", "MOD", "VALUE", "LEASE"])?,
		key: f.bytes("key")?,
		range_end: f.bytes("range_end")?,
		target_union,
	})
}

fn request_op(f: &Fields) -> Result<PbTxnRequestOp, Status> {
	let request = if let Some(r) = f.object("request_range")? {
		Some(PbTxnOpRequest::RequestRange(range_request(&r)?))
	} else if let Some(p) = f.object("request_put")? {
		Some(PbTxnOpRequest::RequestPut(put_request(&p)?))
	} else if let Some(d) = f.object("request_delete_range")? {
		Some(PbTxnOpRequest::RequestDeleteRange(delete_request(&d)?))
	} else if let Some(t) = f.object("request_txn")? {
		Some(PbTxnOpRequest::RequestTxn(txn_request(&t)?))
	} else {
		None
	};
	Ok(PbTxnRequestOp { request })
}

fn txn_request(f: &Fields) -> Result<PbTxnRequest, Status> {
	Ok(PbTxnRequest {
		compare: f.list("compare")?.iter().map(compare).collect::<Result<_, _>>()?,
		success: f.list("success")?.iter().map(request_op).collect::<Result<_, _>>()?,
		failure: f.list("failure")?.iter().map(request_op).collect::<Result<_, _>>()?,
	})
}

fn watch_request(f: &Fields) -> Result<PbWatchRequest, Status> {
	let c = f
		.object("create_request")?
		.ok_or_else(|| bad("/v3/watch takes a create_request".into()))?;
	let mut union = PbWatchRequestUnion::CreateRequest(Default::default());
	if let PbWatchRequestUnion::CreateRequest(create) = &mut union {
		create.key = c.bytes("key")?;
		create.range_end = c.bytes("range_end")?;
		create.start_revision = c.int("start_revision")?;
		create.progress_notify = c.bool("progress_notify")?;
		create.prev_kv = c.bool("prev_kv")?;
		create.watch_id = c.int("watch_id")?;
		match c.get("filters") {
			None => {},
			Some(Value::Array(filters)) => {
				for filter in filters {
					create.filters.push(match filter {
						Value::String(s) if s == "NOPUT" => 0,
						Value::String(s) if s == "NODELETE" => 1,
						Value::Number(n) => n
							.as_i64()
							.and_then(|n| i32::try_from(n).ok())
							.ok_or_else(|| bad(format!("filters: not an enum value: {n}")))?,
						other => {
							return Err(bad(format!("filters: {other} is not NOPUT or NODELETE")))
						},
					});
				}
			},
			Some(other) => return Err(bad(format!("filters: expected a list, got {other}"))),
		}
	}
	Ok(PbWatchRequest { request_union: Some(union) })
}

fn lease_grant_request(f: &Fields) -> Result<PbLeaseGrantRequest, Status> {
	Ok(PbLeaseGrantRequest { ttl: f.int("TTL")?, id: f.int("ID")? })
}

fn lease_revoke_request(f: &Fields) -> Result<PbLeaseRevokeRequest, Status> {
	Ok(PbLeaseRevokeRequest { id: f.int("ID")? })
}

fn lease_keep_alive_request(f: &Fields) -> Result<PbLeaseKeepAliveRequest, Status> {
	Ok(PbLeaseKeepAliveRequest { id: f.int("ID")? })
}

fn lease_time_to_live_request(f: &Fields) -> Result<PbLeaseTimeToLiveRequest, Status> {
	Ok(PbLeaseTimeToLiveRequest { id: f.int("ID")?, keys: f.bool("keys")? })
}

// ---------------------------------------------------------------------------------------------
// Encoding answers
// ---------------------------------------------------------------------------------------------

fn bytes(b: &[u8]) -> Value {
	Value::String(BASE64.encode(b))
}

fn put_int(out: &mut Map<String, Value>, name: &str, n: i64) {
	if n != 0 {
		out.insert(name.into(), Value::String(n.to_string()));
	}
}

fn put_uint(out: &mut Map<String, Value>, name: &str, n: u64) {
	if n != 0 {
		out.insert(name.into(), Value::String(n.to_string()));
	}
}

fn put_str(out: &mut Map<String, Value>, name: &str, s: &str) {
	if !s.is_empty() {
		out.insert(name.into(), Value::String(s.into()));
	}
}

fn put_bool(out: &mut Map<String, Value>, name: &str, b: bool) {
	if b {
		out.insert(name.into(), Value::Bool(true));
	}
}

/// An answer object starting with its `header`.
fn object(header: &Option<PbResponseHeader>) -> Map<String, Value> {
	let mut out = Map::new();
	if let Some(h) = header {
		let mut header = Map::new();
		put_uint(&mut header, "cluster_id", h.cluster_id);
		put_uint(&mut header, "member_id", h.member_id);
		put_int(&mut header, "revision", h.revision);
		put_uint(&mut header, "raft_term", h.raft_term);
		out.insert("header".into(), Value::Object(header));
	}
	out
}

fn key_value(kv: &PbKeyValue) -> Value {
	let mut out = Map::new();
	if !kv.key.is_empty() {
		out.insert("key".into(), bytes(&kv.key));
	}
	put_int(&mut out, "create_revision", kv.create_revision);
	put_int(&mut out, "mod_revision", kv.mod_revision);
	put_int(&mut out, "version", kv.version);
	if !kv.value.is_empty() {
		out.insert("value".into(), bytes(&kv.value));
	}
	put_int(&mut out, "lease", kv.lease);
	Value::Object(out)
}

fn range_response(r: &PbRangeResponse) -> Value {
	let mut out = object(&r.header);
	if !r.kvs.is_empty() {
		out.insert("kvs".into(), r.kvs.iter().map(key_value).collect());
	}
	put_bool(&mut out, "more", r.more);
	put_int(&mut out, "count", r.count);
	Value::Object(out)
}

fn put_response(r: &PbPutResponse) -> Value {
	let mut out = object(&r.header);
	if let Some(prev) = &r.prev_kv {
		out.insert("prev_kv".into(), key_value(prev));
	}
	Value::Object(out)
}

fn delete_response(r: &PbDeleteResponse) -> Value {
	let mut out = object(&r.header);
	put_int(&mut out, "deleted", r.deleted);
	if !r.prev_kvs.is_empty() {
		out.insert("prev_kvs".into(), r.prev_kvs.iter().map(key_value).collect());
	}
	Value::Object(out)
}

fn response_op(op: &PbResponseOp) -> Value {
	match &op.response {
		Some(PbTxnOpResponse::ResponseRange(r)) => json!({ "response_range": range_response(r) }),
		Some(PbTxnOpResponse::ResponsePut(r)) => json!({ "response_put": put_response(r) }),
		Some(PbTxnOpResponse::ResponseDeleteRange(r)) => {
			json!({ "response_delete_range": delete_response(r) })
		},
		Some(PbTxnOpResponse::ResponseTxn(r)) => json!({ "response_txn": txn_response(r) }),
		None => json!({}),
	}
}

fn txn_response(r: &PbTxnResponse) -> Value {
	let mut out = object(&r.header);
	put_bool(&mut out, "succeeded", r.succeeded);
	if !r.responses.is_empty() {
		out.insert("responses".into(), r.responses.iter().map(response_op).collect());
	}
	Value::Object(out)
}

fn event(e: &PbEvent) -> Value {
	let mut out = Map::new();
	if e.r#type == 1 {
		out.insert("type".into(), json!("DELETE"));
	}
	if let Some(kv) = &e.kv {
		out.insert("kv".into(), key_value(kv));
	}
	if let Some(prev) = &e.prev_kv {
		out.insert("prev_kv".into(), key_value(prev));
	}
	Value::Object(out)
}

fn watch_response(r: &PbWatchResponse) -> Value {
	let mut out = object(&r.header);
	put_int(&mut out, "watch_id", r.watch_id);
	put_bool(&mut out, "created", r.created);
	put_bool(&mut out, "canceled", r.canceled);
	put_int(&mut out, "compact_revision", r.compact_revision);
	put_str(&mut out, "cancel_reason", &r.cancel_reason);
	if !r.events.is_empty() {
		out.insert("events".into(), r.events.iter().map(event).collect());
	}
	Value::Object(out)
}

#[cfg(test)]
mod proptests;

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn fields_take_both_spellings_and_etcd_encodings() {
		let f = Fields::parse(
			br#"{"key":"L2E=","rangeEnd":"L2I=","limit":"2","revision":7,"sort_order":"DESCEND"}"#,
		)
		.unwrap();
		let r = range_request(&f).unwrap();
		assert_eq!(
			(r.key, r.range_end, r.limit, r.revision, r.sort_order),
			(b"/a".to_vec(), b"/b".to_vec(), 2, 7, 2)
		);
		assert!(Fields::parse(br#"{"key":"not base64!"}"#)
			.and_then(|f| range_request(&f))
			.is_err());
		assert!(Fields::parse(b"[1]").is_err());
	}

	#[test]
	fn txn_ops_nest_under_either_spelling() {
		let body =
			br#"{"compare":[{"key":"YQ==","target":"VERSION","result":"EQUAL","version":"0"}],
			"success":[{"requestPut":{"key":"YQ==","value":"MQ=="}}],
			"failure":[{"request_range":{"key":"YQ=="}}]}"#;
		let t = txn_request(&Fields::parse(body).unwrap()).unwrap();
		assert_eq!(t.compare[0].target_union, Some(PbTargetUnion::Version(0)));
		assert!(
			matches!(t.success[0].request, Some(PbTxnOpRequest::RequestPut(ref p)) if p.value == b"1")
		);
		assert!(matches!(t.failure[0].request, Some(PbTxnOpRequest::RequestRange(_))));
	}

	#[test]
	fn answers_write_integers_as_strings_and_leave_out_zeros() {
		let kv = PbKeyValue {
			key: b"k".to_vec(),
			value: b"v".to_vec(),
			mod_revision: 5,
			..Default::default()
		};
		assert_eq!(key_value(&kv), json!({ "key": "aw==", "value": "dg==", "mod_revision": "5" }));
		assert_eq!(http_status(Code::NotFound), StatusCode::NOT_FOUND);
	}
}
