//! The registry JSON-RPC (`registry_*`, `docs/rpc.md`), tested against real `regchain-node`
//! processes: reads return what was written, history names who wrote, watches replay then go
//! live, and bad input or forgotten revisions give the documented errors.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context, Result};
use jsonrpsee::{
	core::{
		client::{ClientT, Subscription, SubscriptionClientT},
		to_json_raw_value,
		traits::ToRpcParams,
		ClientError, JsonRawValue,
	},
	rpc_params,
	ws_client::{WsClient, WsClientBuilder},
};
use pallet_service_registry::{prefix_end, Call as RegistryCall, Event as RegistryEvent};
use regchain_runtime::{Runtime, RuntimeCall, RuntimeEvent};
use regchain_testing::{
	chain::{dev_pair, submit_finalized, succeeded},
	extrinsic::to_hex,
	wait_for, Node, NodeConfig, Rpc,
};
use serde_json::{json, Value};
use sp_core::crypto::Ss58Codec;
use sp_keyring::Sr25519Keyring;

/// How long a subscription may take to deliver its next item.
const ITEM_TIMEOUT: Duration = Duration::from_secs(30);

fn hex(text: &str) -> String {
	to_hex(text.as_bytes())
}

fn alice_ss58() -> String {
	Sr25519Keyring::Alice.to_account_id().to_ss58check()
}

/// Submits a registry call as Alice, waits for finality and returns its registry events.
fn registry(rpc: &Rpc, call: RegistryCall<Runtime>) -> Result<Vec<RegistryEvent<Runtime>>> {
	let (_, events) = submit_finalized(
		rpc,
		&dev_pair(Sr25519Keyring::Alice),
		RuntimeCall::ServiceRegistry(call),
	)?;
	if !succeeded(&events) {
		bail!("the registry call failed: {events:?}");
	}
	Ok(events
		.into_iter()
		.filter_map(|e| match e {
			RuntimeEvent::ServiceRegistry(e) => Some(e),
			_ => None,
		})
		.collect())
}

/// Puts `key` = `value` as Alice; returns the put's revision.
fn put(rpc: &Rpc, key: &str, value: &str, lease: Option<u64>) -> Result<u64> {
	let events = registry(rpc, RegistryCall::put { key: key.into(), value: value.into(), lease })?;
	events
		.iter()
		.find_map(|e| match e {
			RegistryEvent::KeyPut { revision, .. } => Some(*revision),
			_ => None,
		})
		.ok_or_else(|| anyhow!("no KeyPut event: {events:?}"))
}

/// Grants a lease of `ttl_secs` as Alice; returns its id.
fn grant_lease(rpc: &Rpc, ttl_secs: u32) -> Result<u64> {
	let events = registry(rpc, RegistryCall::grant_lease { ttl_secs })?;
	events
		.iter()
		.find_map(|e| match e {
			RegistryEvent::LeaseGranted { lease, .. } => Some(*lease),
			_ => None,
		})
		.ok_or_else(|| anyhow!("no LeaseGranted event: {events:?}"))
}

fn register(rpc: &Rpc, service: &str, id: &str, lease: u64) -> Result<()> {
	registry(
		rpc,
		RegistryCall::register_instance {
			service: service.into(),
			instance_id: id.into(),
			endpoint: b"10.0.0.7:8080".to_vec(),
			tags: vec![b"blue".to_vec()],
			metadata: vec![(b"zone".to_vec(), b"a".to_vec())],
			lease,
		},
	)
	.map(drop)
}

fn start_dev(dir: &std::path::Path, extra: &[&str]) -> Result<Node> {
	let mut args = vec!["--dev"];
	args.extend_from_slice(extra);
	let node = Node::start(NodeConfig::new("dev", dir, &args))?;
	wait_for("the first finalized block", Duration::from_secs(60), || {
		node.finalized_number().ok().filter(|n| *n >= 1)
	})?;
	Ok(node)
}

async fn ws(node: &Node) -> Result<WsClient> {
	Ok(WsClientBuilder::default().build(node.ws_url()).await?)
}

async fn next_item(sub: &mut Subscription<Value>) -> Result<Value> {
	tokio::time::timeout(ITEM_TIMEOUT, sub.next())
		.await
		.context("timed out waiting for a subscription item")?
		.ok_or_else(|| anyhow!("the subscription ended"))?
		.map_err(Into::into)
}

fn code(error: &Value) -> i64 {
	error["code"].as_i64().unwrap_or_default()
}

fn message(error: &Value) -> &str {
	error["message"].as_str().unwrap_or_default()
}

#[test]
fn read_methods_return_what_was_written_and_history_names_the_writer() -> Result<()> {
	let dir = tempfile::tempdir()?;
	let node = start_dev(dir.path(), &[])?;
	let rpc = &node.rpc;

	let methods = rpc.call("rpc_methods", json!([]))?;
	let methods: Vec<&str> = methods["methods"]
		.as_array()
		.into_iter()
		.flatten()
		.filter_map(Value::as_str)
		.collect();
	for method in [
		"registry_revision",
		"registry_services",
		"registry_instances",
		"registry_election",
		"registry_elections",
		"registry_readIndex",
		"registry_lease",
		"registry_range",
		"registry_history",
		"registry_subscribeKeys",
		"registry_unsubscribeKeys",
		"registry_subscribeInstances",
		"registry_unsubscribeInstances",
		"registry_subscribeElection",
		"registry_unsubscribeElection",
	] {
		assert!(methods.contains(&method), "rpc_methods lacks {method}: {methods:?}");
	}

	let lease = grant_lease(rpc, 300)?;
	let first = put(rpc, "/app/a", "one", None)?;
	let second = put(rpc, "/app/b", "two", Some(lease))?;
	let third = put(rpc, "/app/a", "uno", None)?;
	register(rpc, "web", "w1", lease)?;
	registry(
		rpc,
		RegistryCall::campaign { election: b"primary".to_vec(), value: b"me".to_vec(), lease },
	)?;

	// The revision and a prefix range at the finalized block.
	let revision = rpc.call("registry_revision", json!([]))?;
	assert_eq!(revision["revision"], json!(third));
	let at = revision["at"]["number"]
		.as_u64()
		.with_context(|| format!("no at.number: {revision}"))?;
	assert_eq!(
		rpc.block_hash(at as u32)?.as_deref(),
		revision["at"]["hash"].as_str(),
		"{revision}"
	);
	let range = rpc.call(
		"registry_range",
		json!([{ "key": hex("/app/"), "range_end": to_hex(&prefix_end(b"/app/")) }]),
	)?;
	assert_eq!(range["count"], json!(2));
	assert_eq!(range["revision"], json!(third));
	let kvs = range["kvs"].as_array().context("kvs")?;
	assert_eq!(kvs[0]["key"], json!(hex("/app/a")));
	assert_eq!(kvs[0]["value"], json!(hex("uno")));
	assert_eq!(kvs[0]["create_revision"], json!(first));
	assert_eq!(kvs[0]["mod_revision"], json!(third));
	assert_eq!(kvs[0]["version"], json!(2));
	assert_eq!(kvs[1]["key"], json!(hex("/app/b")));
	assert_eq!(kvs[1]["lease"], json!(lease));
	assert_eq!(kvs[1]["mod_revision"], json!(second));

	// The key space as it was at a past revision, and one not yet reached.
	let past = rpc.call("registry_range", json!([{ "key": hex("/app/a"), "revision": first }]))?;
	assert_eq!(past["kvs"][0]["value"], json!(hex("one")), "{past}");
	assert_eq!(past["kvs"][0]["version"], json!(1));
	assert_eq!(past["revision"], json!(first));
	let before_b = rpc.call(
		"registry_range",
		json!([{ "key": hex("/app/"), "range_end": to_hex(&prefix_end(b"/app/")), "revision": first }]),
	)?;
	assert_eq!(before_b["count"], json!(1), "{before_b}");
	let future = rpc
		.call_error("registry_range", json!([{ "key": hex("/app/a"), "revision": third + 100 }]))?;
	assert_eq!(code(&future), 4001, "{future}");

	// Instances, services, elections and leases.
	let instances = rpc.call("registry_instances", json!([hex("web")]))?;
	let instance = &instances["instances"][0];
	assert_eq!(instance["instance_id"], json!(hex("w1")));
	assert_eq!(instance["owner"], json!(alice_ss58()));
	assert_eq!(instance["endpoint"], json!(hex("10.0.0.7:8080")));
	assert_eq!(instance["tags"], json!([hex("blue")]));
	assert_eq!(instance["metadata"], json!([[hex("zone"), hex("a")]]));
	assert_eq!(instance["health"], json!("unknown"));
	assert_eq!(instance["lease"], json!(lease));
	let passing =
		rpc.call("registry_instances", json!([hex("web"), { "health": "passing" }, "best"]))?;
	assert_eq!(passing["instances"], json!([]));
	let tagged = rpc.call("registry_instances", json!([hex("web"), { "tag": hex("blue") }]))?;
	assert_eq!(tagged["instances"].as_array().map(Vec::len), Some(1));
	let services = rpc.call("registry_services", json!([]))?;
	assert_eq!(services["services"], json!([{ "name": hex("web"), "instances": 1 }]));
	let election = rpc.call("registry_election", json!([hex("primary")]))?;
	assert_eq!(election["election"]["leader"]["who"], json!(alice_ss58()), "{election}");
	assert_eq!(election["election"]["leader"]["value"], json!(hex("me")));
	assert_eq!(election["election"]["term"], json!(1));
	let never = rpc.call("registry_election", json!([hex("never-held")]))?;
	assert_eq!(
		never.get("election"),
		Some(&Value::Null),
		"an election never held is null, not missing: {never}"
	);
	assert_eq!(rpc.call("registry_elections", json!([]))?["elections"], json!([hex("primary")]));
	// A linearizable read point on a one-validator chain: its own finalized head, a block of the
	// chain at or above the height its one voter confirmed.
	let index = rpc.call("registry_readIndex", json!([]))?;
	let finalized = node.finalized_number()?;
	assert_eq!(index["voters"], json!(1), "{index}");
	let number = index["number"].as_u64().with_context(|| format!("no number: {index}"))?;
	let confirmed =
		index["confirmed"].as_u64().with_context(|| format!("no confirmed: {index}"))?;
	assert!(
		confirmed <= number && number <= u64::from(finalized),
		"{index}; finalized #{finalized}"
	);
	assert_eq!(rpc.block_hash(number as u32)?.as_deref(), index["hash"].as_str(), "{index}");
	let leased = rpc.call("registry_lease", json!([lease]))?;
	assert_eq!(leased["lease"]["granted_by"], json!(alice_ss58()));
	assert_eq!(leased["lease"]["keys"], json!([hex("/app/b")]));
	assert_eq!(leased["lease"]["instances"], json!([[hex("web"), hex("w1")]]));
	assert_eq!(leased["lease"]["elections"], json!([hex("primary")]));

	// History names Alice for every change, in chain order, with the block's time.
	let history = rpc.call("registry_history", json!([{ "prefix": hex("/app/") }]))?;
	let items = history["items"].as_array().context("items")?;
	let revisions: Vec<u64> = items.iter().filter_map(|i| i["revision"].as_u64()).collect();
	assert_eq!(revisions, vec![first, second, third], "{history}");
	for item in items {
		assert_eq!(item["who"], json!(alice_ss58()));
		assert_eq!(item["kind"], json!("put"));
		assert_eq!(item["finalized"], json!(true));
		assert!(item["time_ms"].as_u64().is_some_and(|t| t > 0), "{item}");
	}
	assert_eq!(history["more"], json!(false));
	let limited = rpc.call(
		"registry_history",
		json!([{ "key": hex("/app/a"), "from_revision": second, "limit": 1 }]),
	)?;
	assert_eq!(limited["items"].as_array().map(Vec::len), Some(1));
	assert_eq!(limited["items"][0]["revision"], json!(third));
	assert_eq!(limited["items"][0]["version"], json!(2));
	let web = rpc.call("registry_history", json!([{ "service": hex("web") }]))?;
	assert_eq!(web["items"][0]["kind"], json!("registered"), "{web}");
	assert_eq!(web["items"][0]["who"], json!(alice_ss58()));
	assert_eq!(web["items"][0]["instance"]["endpoint"], json!(hex("10.0.0.7:8080")));

	// Bad input: readable invalid-params errors naming the parameter, and unknown blocks.
	let odd = rpc.call_error("registry_range", json!([{ "key": "0x123" }]))?;
	assert_eq!(code(&odd), -32602, "{odd}");
	assert!(message(&odd).contains("key"), "{odd}");
	let not_hex = rpc.call_error("registry_instances", json!(["0xzz"]))?;
	assert_eq!(code(&not_hex), -32602, "{not_hex}");
	assert!(message(&not_hex).contains("service"), "{not_hex}");
	let bad_at = rpc.call_error("registry_revision", json!(["0x12"]))?;
	assert_eq!(code(&bad_at), -32602, "{bad_at}");
	assert!(message(&bad_at).contains("at"), "{bad_at}");
	let unknown = rpc.call_error("registry_revision", json!([format!("0x{}", "ab".repeat(32))]))?;
	assert_eq!(code(&unknown), 4002, "{unknown}");
	Ok(())
}

#[test]
fn watches_replay_from_a_revision_then_follow_the_chain() -> Result<()> {
	let dir = tempfile::tempdir()?;
	let node = start_dev(dir.path(), &[])?;
	let rpc = &node.rpc;
	let runtime = tokio::runtime::Runtime::new()?;

	let revisions: Vec<u64> = ["/w/1", "/w/2", "/w/3"]
		.iter()
		.map(|key| put(rpc, key, "v", None))
		.collect::<Result<_>>()?;
	// A key outside the prefix is never delivered.
	put(rpc, "/other", "v", None)?;

	runtime.block_on(async {
		let client = ws(&node).await?;
		let mut keys: Subscription<Value> = client
			.subscribe(
				"registry_subscribeKeys",
				rpc_params![
					json!({ "key": hex("/w/"), "range_end": to_hex(&prefix_end(b"/w/")) }),
					json!({ "from_revision": revisions[0] })
				],
				"registry_unsubscribeKeys",
			)
			.await?;
		for (key, revision) in ["/w/1", "/w/2", "/w/3"].iter().zip(&revisions) {
			let item = next_item(&mut keys).await?;
			assert_eq!(item["kind"], json!("put"), "{item}");
			assert_eq!(item["key"], json!(hex(key)));
			assert_eq!(item["revision"], json!(revision));
			assert_eq!(item["finalized"], json!(true));
			assert_eq!(item["who"], json!(alice_ss58()));
		}

		let mut instances: Subscription<Value> = client
			.subscribe(
				"registry_subscribeInstances",
				rpc_params![hex("api")],
				"registry_unsubscribeInstances",
			)
			.await?;

		// Live: the next put arrives once finalized, right after the replayed ones.
		let live = put(rpc, "/w/4", "live", None)?;
		let item = next_item(&mut keys).await?;
		assert_eq!(item["key"], json!(hex("/w/4")), "{item}");
		assert_eq!(item["value"], json!(hex("live")));
		assert_eq!(item["revision"], json!(live));

		let lease = grant_lease(rpc, 300)?;
		register(rpc, "api", "a1", lease)?;
		let registered = next_item(&mut instances).await?;
		assert_eq!(registered["kind"], json!("registered"), "{registered}");
		assert_eq!(registered["instance_id"], json!(hex("a1")));
		assert_eq!(registered["instance"]["owner"], json!(alice_ss58()));
		// The WebSocket client runs on the runtime's workers: blocking this thread is fine.
		registry(
			rpc,
			RegistryCall::deregister_instance {
				service: b"api".to_vec(),
				instance_id: b"a1".to_vec(),
			},
		)?;
		let deregistered = next_item(&mut instances).await?;
		assert_eq!(deregistered["kind"], json!("deregistered"), "{deregistered}");
		assert_eq!(deregistered.get("instance"), Some(&Value::Null), "{deregistered}");
		assert_eq!(deregistered["who"], json!(alice_ss58()));

		// A lease's end deletes its keys and removes its instances; a range delete deletes
		// every key of the range, one item per key, all at one revision.
		put(rpc, "/w/5", "leased", Some(lease))?;
		register(rpc, "api", "a2", lease)?;
		assert_eq!(next_item(&mut keys).await?["key"], json!(hex("/w/5")));
		assert_eq!(next_item(&mut instances).await?["kind"], json!("registered"));
		registry(rpc, RegistryCall::revoke_lease { lease })?;
		let deleted = next_item(&mut keys).await?;
		assert_eq!(deleted["kind"], json!("delete"), "{deleted}");
		assert_eq!(deleted["key"], json!(hex("/w/5")));
		assert_eq!(deleted["who"], json!(alice_ss58()));
		let removed = next_item(&mut instances).await?;
		assert_eq!(removed["kind"], json!("removed"), "{removed}");
		assert_eq!(removed["instance_id"], json!(hex("a2")));
		assert_eq!(removed.get("instance"), Some(&Value::Null), "{removed}");
		registry(
			rpc,
			RegistryCall::delete_range { key: b"/w/".to_vec(), range_end: prefix_end(b"/w/") },
		)?;
		let mut deleted = Vec::new();
		for _ in 0..4 {
			let item = next_item(&mut keys).await?;
			assert_eq!(item["kind"], json!("delete"), "{item}");
			deleted.push((item["key"].clone(), item["revision"].clone()));
		}
		let expected: Vec<(Value, Value)> = ["/w/1", "/w/2", "/w/3", "/w/4"]
			.iter()
			.map(|key| (json!(hex(key)), deleted[0].1.clone()))
			.collect();
		assert_eq!(deleted, expected);

		// A best-block election watch: items before finality, marked unfinalized.
		let mut election: Subscription<Value> = client
			.subscribe(
				"registry_subscribeElection",
				rpc_params![hex("primary"), json!({ "best": true })],
				"registry_unsubscribeElection",
			)
			.await?;
		let lease = grant_lease(rpc, 300)?;
		registry(
			rpc,
			RegistryCall::campaign { election: b"primary".to_vec(), value: b"me".to_vec(), lease },
		)?;
		let campaigned = next_item(&mut election).await?;
		assert_eq!(campaigned["kind"], json!("campaigned"), "{campaigned}");
		assert_eq!(campaigned["finalized"], json!(false));
		assert_eq!(campaigned["who"], json!(alice_ss58()));
		let changed = next_item(&mut election).await?;
		assert_eq!(changed["kind"], json!("leader_changed"), "{changed}");
		assert_eq!(changed["leader"], json!(alice_ss58()));
		assert_eq!(changed["term"], json!(1));
		assert_eq!(changed["value"], json!(hex("me")));

		// Bad hex in a subscription is refused with invalid params.
		let refused = client
			.subscribe::<Value, _>(
				"registry_subscribeKeys",
				rpc_params![json!({ "key": "0xg0" })],
				"registry_unsubscribeKeys",
			)
			.await;
		match refused {
			Err(jsonrpsee::core::ClientError::Call(e)) => assert_eq!(e.code(), -32602, "{e}"),
			other => bail!("expected invalid params, got {other:?}"),
		}
		anyhow::Ok(())
	})?;
	Ok(())
}

#[test]
fn revisions_older_than_the_window_are_refused() -> Result<()> {
	let dir = tempfile::tempdir()?;
	// A 16-block state window: revisions older than that are forgotten within seconds.
	let node = start_dev(dir.path(), &["--state-pruning", "16"])?;
	let rpc = &node.rpc;
	let old = put(rpc, "/old", "v", None)?;
	let written_at = node.finalized_number()?;
	wait_for("the write to leave the window", Duration::from_secs(60), || {
		node.finalized_number().ok().filter(|n| *n > written_at + 20)
	})?;
	let newer = put(rpc, "/old", "w", None)?;

	let error =
		rpc.call_error("registry_range", json!([{ "key": hex("/old"), "revision": old }]))?;
	assert_eq!(code(&error), 4001, "{error}");
	assert!(message(&error).contains("oldest revision available"), "{error}");
	// The data says which way, with the bound, for clients that must not parse the message
	// (the etcd API's "compacted"): the oldest revision kept is past the one asked for.
	let oldest = error["data"]["compacted"]["oldest"].as_u64().context("no oldest in data")?;
	assert!(oldest > old && oldest <= newer, "{error}");
	let error =
		rpc.call_error("registry_history", json!([{ "key": hex("/old"), "from_revision": old }]))?;
	assert_eq!(code(&error), 4001, "{error}");
	assert!(error["data"]["compacted"]["oldest"].as_u64() > Some(old), "{error}");
	let future = rpc
		.call_error("registry_range", json!([{ "key": hex("/old"), "revision": newer + 1000 }]))?;
	assert_eq!(code(&future), 4001, "{future}");
	assert_eq!(future["data"]["future"]["current"].as_u64(), Some(newer), "{future}");

	// The newest revision is still there.
	let kept = rpc.call("registry_range", json!([{ "key": hex("/old"), "revision": newer }]))?;
	assert_eq!(kept["kvs"][0]["value"], json!(hex("w")), "{kept}");

	let runtime = tokio::runtime::Runtime::new()?;
	runtime.block_on(async {
		let client = ws(&node).await?;
		let refused = client
			.subscribe::<Value, _>(
				"registry_subscribeKeys",
				rpc_params![json!({ "key": hex("/old") }), json!({ "from_revision": old })],
				"registry_unsubscribeKeys",
			)
			.await;
		match refused {
			Err(jsonrpsee::core::ClientError::Call(e)) => assert_eq!(e.code(), 4001, "{e}"),
			other => bail!("expected error 4001, got {other:?}"),
		}
		anyhow::Ok(())
	})?;
	Ok(())
}

#[test]
fn the_index_survives_a_restart() -> Result<()> {
	let dir = tempfile::tempdir()?;
	let mut node = start_dev(dir.path(), &[])?;
	let first = put(&node.rpc, "/kept", "before", None)?;
	node.restart()?;
	wait_for("finality after the restart", Duration::from_secs(60), || {
		node.finalized_number().ok().filter(|n| *n >= 1)
	})?;
	let second = put(&node.rpc, "/kept", "after", None)?;
	let history = node.rpc.call("registry_history", json!([{ "key": hex("/kept") }]))?;
	let revisions: Vec<u64> = history["items"]
		.as_array()
		.into_iter()
		.flatten()
		.filter_map(|i| i["revision"].as_u64())
		.collect();
	assert_eq!(revisions, vec![first, second], "{history}");
	let past = node
		.rpc
		.call("registry_range", json!([{ "key": hex("/kept"), "revision": first }]))?;
	assert_eq!(past["kvs"][0]["value"], json!(hex("before")), "{past}");
	Ok(())
}

// ---- Malformed parameters (issue #22) ---------------------------------------------------------

/// How long any call of the malformed-parameters test may take to be answered: malformed input
/// is refused at once, never waited on. (The node's own bounded waits, such as a read at a
/// revision the index has not reached yet, at most 10 s, are not reached by any of its calls.)
const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// `registry_readIndex` waits for a quorum (at most 2 s) and then for finality (at most 5 s).
const READ_INDEX_TIMEOUT: Duration = Duration::from_secs(9);

/// `-32602`, jsonrpsee's invalid params. Both jsonrpsee, when it cannot decode the params into
/// a method's Rust parameters (a wrong JSON type, a missing required param, a number outside
/// the type's range, an unknown field of a request object: they are all `deny_unknown_fields`),
/// and the methods themselves (`registry_rpc::error::invalid_params`: bad hex, an `at` that is
/// neither "finalized", "best" nor 32 bytes, a history request without exactly one selector)
/// answer it.
const INVALID_PARAMS: i64 = -32602;
/// `-32603`, jsonrpsee's internal error: what a subscribe or unsubscribe sent over plain HTTP,
/// which cannot carry a subscription, is answered.
const INTERNAL_ERROR: i64 = -32603;
/// `4001` (docs/rpc.md): a revision newer than the current one, or older than the node keeps.
const REVISION_UNAVAILABLE: i64 = 4001;
/// `4002` (docs/rpc.md): a well-formed block hash the node does not know.
const UNKNOWN_BLOCK: i64 = 4002;
/// 2^53, the largest integer a JavaScript client holds exactly.
const TWO_POW_53: u64 = 1 << 53;

/// `text` cut to 200 characters for a failure message: some of the values sent hold a megabyte.
fn cut(text: &str) -> String {
	if text.len() <= 200 {
		return text.to_string();
	}
	format!("{}… ({} bytes)", text.chars().take(200).collect::<String>(), text.len())
}

fn short(value: &Value) -> String {
	cut(&value.to_string())
}

/// The params `lead` followed by `last`.
fn with(lead: &[Value], last: Value) -> Value {
	let mut params = lead.to_vec();
	params.push(last);
	Value::Array(params)
}

/// The HTTP reply to `method` with `params`, checked to have come within `limit` and to be a
/// JSON-RPC 2.0 reply to this request with exactly one of `result` and `error`.
fn reply_within(rpc: &Rpc, method: &str, params: &Value, limit: Duration) -> Result<Value> {
	let call = format!("{method} {}", short(params));
	let started = Instant::now();
	// `Rpc::reply` gives up after 10 s without an answer: a hang fails here too.
	let reply = rpc
		.reply(method, params.clone())
		.with_context(|| format!("{call}: no JSON-RPC reply"))?;
	let took = started.elapsed();
	ensure!(took < limit, "{call}: answered after {took:?}, more than {limit:?}");
	ensure!(
		reply["jsonrpc"] == json!("2.0") && reply["id"] == json!(1),
		"{call}: not a JSON-RPC 2.0 reply to it: {}",
		short(&reply)
	);
	ensure!(
		reply.get("result").is_some() != reply.get("error").is_some(),
		"{call}: a reply with neither or both of result and error: {}",
		short(&reply)
	);
	Ok(reply)
}

/// Sends a malformed call over HTTP: it must be answered at once with the JSON-RPC error `code`
/// and a message. Returns the error object.
fn refused(rpc: &Rpc, method: &str, params: Value, code: i64) -> Result<Value> {
	let reply = reply_within(rpc, method, &params, CALL_TIMEOUT)?;
	let call = format!("{method} {}", short(&params));
	let error = reply.get("error").with_context(|| {
		format!("{call}: answered {} where error {code} was expected", short(&reply))
	})?;
	ensure!(
		error["code"].as_i64() == Some(code),
		"{call}: error {} where {code} was expected",
		short(error)
	);
	ensure!(
		error["message"].as_str().is_some_and(|m| !m.is_empty()),
		"{call}: error without a message: {}",
		short(error)
	);
	Ok(error.clone())
}

/// Sends a call over HTTP that must be answered (a `result`, not an error) at once.
fn answered(rpc: &Rpc, method: &str, params: Value) -> Result<Value> {
	let reply = reply_within(rpc, method, &params, CALL_TIMEOUT)?;
	reply.get("result").cloned().with_context(|| {
		format!("{method} {}: {} where an answer was expected", short(&params), short(&reply))
	})
}

/// Params sent exactly as given (any JSON value, not only an array) by the WebSocket client.
struct Raw(Value);

impl ToRpcParams for Raw {
	fn to_rpc_params(self) -> Result<Option<Box<JsonRawValue>>, serde_json::Error> {
		to_json_raw_value(&self.0).map(Some)
	}
}

/// Subscribes to `method` with `params`: the subscription must be refused at once with the
/// JSON-RPC error `code` and a message.
async fn subscription_refused(
	client: &WsClient,
	method: &str,
	params: Value,
	code: i64,
) -> Result<()> {
	let call = format!("{method} {}", short(&params));
	let unsubscribe = method.replace("subscribe", "unsubscribe");
	let outcome = tokio::time::timeout(
		CALL_TIMEOUT,
		client.subscribe::<Value, _>(method, Raw(params), &unsubscribe),
	)
	.await
	.with_context(|| format!("{call}: no answer within {CALL_TIMEOUT:?}"))?;
	match outcome {
		Err(ClientError::Call(e)) => {
			ensure!(
				i64::from(e.code()) == code,
				"{call}: error {} {} where {code} was expected",
				e.code(),
				cut(e.message())
			);
			ensure!(!e.message().is_empty(), "{call}: error {code} without a message");
			Ok(())
		},
		Ok(_) => bail!("{call}: subscribed where error {code} was expected"),
		Err(e) => bail!("{call}: {} where error {code} was expected", cut(&e.to_string())),
	}
}

/// Subscribes to `method` with absurd but well-formed `params`: the subscription must be
/// accepted at once; it is then closed.
async fn subscription_accepted(client: &WsClient, method: &str, params: Value) -> Result<()> {
	let call = format!("{method} {}", short(&params));
	let unsubscribe = method.replace("subscribe", "unsubscribe");
	let subscription = tokio::time::timeout(
		CALL_TIMEOUT,
		client.subscribe::<Value, _>(method, Raw(params), &unsubscribe),
	)
	.await
	.with_context(|| format!("{call}: no answer within {CALL_TIMEOUT:?}"))?
	.with_context(|| format!("{call}: refused where a subscription was expected"))?;
	tokio::time::timeout(CALL_TIMEOUT, subscription.unsubscribe())
		.await
		.with_context(|| format!("{call}: no answer to the unsubscribe within {CALL_TIMEOUT:?}"))?
		.with_context(|| format!("{call}: unsubscribing"))?;
	Ok(())
}

/// Calls the unsubscribe `method` with `params` that name no subscription of this connection:
/// jsonrpsee answers `false` (as it does for an id it does not hold), not an error.
async fn unsubscribe_answers_false(client: &WsClient, method: &str, params: Value) -> Result<()> {
	let call = format!("{method} {}", short(&params));
	let answer =
		tokio::time::timeout(CALL_TIMEOUT, client.request::<Value, _>(method, Raw(params)))
			.await
			.with_context(|| format!("{call}: no answer within {CALL_TIMEOUT:?}"))?
			.with_context(|| format!("{call}: an error where false was expected"))?;
	ensure!(answer == json!(false), "{call}: answered {} where false was expected", short(&answer));
	Ok(())
}

/// Parameters that are not one request object: none, null, or a request of the wrong type.
fn not_one_request() -> [Value; 7] {
	[
		json!([]),
		Value::Null,
		json!([null]),
		json!([5]),
		json!(["0x00"]),
		json!([true]),
		json!([[5]]),
	]
}

/// Issue #22, bad input tried systematically: every `registry_*` method (node/src/registry_rpc
/// and `registry_readIndex`), subscriptions included, sent malformed params of every kind,
/// answers at once with a JSON-RPC error, or, for an absurd but well-formed request (huge
/// limits, revisions and ids, 512 KiB keys), a well-formed bounded answer; and the node goes on
/// serving what was written and finalizing.
///
/// Codes expected: `-32602` for everything malformed (see [`INVALID_PARAMS`]); `4002` for a
/// well-formed but unknown block hash as `at`; `4001` for a revision beyond the current one;
/// `-32603` for a subscription asked for over plain HTTP. Two things jsonrpsee does are not
/// errors and are pinned here as what they are: params past the last one a method takes are
/// ignored (the decoder its macros generate never checks that the params array is exhausted,
/// and a method without params, `registry_readIndex`, reads none), and an unsubscribe with
/// something that is not one of the connection's subscription ids answers `false`.
#[test]
fn malformed_parameters_get_a_json_rpc_error_and_the_node_keeps_serving() -> Result<()> {
	let dir = tempfile::tempdir()?;
	let mut node = start_dev(dir.path(), &[])?;
	let rpc = node.rpc.clone();
	let rpc = &rpc;

	// A little of everything: two keys, a lease, an instance and an election, so that the
	// well-formed variants of the requests below have something to find.
	let lease = grant_lease(rpc, 300)?;
	let first = put(rpc, "/mal/a", "one", None)?;
	put(rpc, "/mal/b", "two", Some(lease))?;
	register(rpc, "svc", "i1", lease)?;
	registry(
		rpc,
		RegistryCall::campaign { election: b"boss".to_vec(), value: b"me".to_vec(), lease },
	)?;
	let current = answered(rpc, "registry_revision", json!([]))?["revision"]
		.as_u64()
		.context("registry_revision without a revision")?;
	let started = Instant::now();

	let key_a = hex("/mal/a");
	let service = json!(hex("svc"));
	let election = json!(hex("boss"));
	let whole = json!({ "key": hex("/mal/"), "range_end": to_hex(&prefix_end(b"/mal/")) });
	// 1 MiB of 'a': not 0x-prefixed, so not hex.
	let mib_of_a = "a".repeat(1 << 20);
	// 1 MiB of hex digits: well-formed, a 512 KiB byte string that no key, name or block has.
	let mib_of_hex = format!("0x{mib_of_a}");

	// What a byte-string param (hex) must not be: another JSON type, or a string that is not
	// 0x-prefixed hex of whole bytes.
	let not_strings = [
		json!(5),
		json!(-1),
		json!(1.5),
		json!(true),
		json!({}),
		json!([]),
		json!(["0x00"]),
		json!({ "key": "0x00" }),
	];
	let bad_hex = [
		json!(""),
		json!("abcd"),
		json!("0X0a"),
		json!("0x123"),
		json!("0xzz"),
		json!("0xg0"),
		json!("0x+a+b"),
		json!("0x-1"),
		json!("0x 1"),
		json!("0xé"),
		json!(mib_of_a),
	];
	let bad_bytes: Vec<Value> = not_strings.iter().chain(&bad_hex).cloned().collect();
	// What a `u64` param must not be (`1e20` is beyond u64 and a float to serde).
	let not_u64 = [
		json!("1"),
		json!("0x01"),
		json!(-1),
		json!(1.5),
		json!(1e20),
		json!(true),
		json!({}),
		json!([1]),
	];
	let not_bool = [json!("yes"), json!(1), json!({}), json!([true])];
	// What `at` must not be: besides the above, anything but "finalized", "best" or 32 bytes.
	let mut bad_at = bad_bytes.clone();
	bad_at.extend([
		json!("latest"),
		json!("FINALIZED"),
		json!("0x"),
		json!("0x12"),
		json!(format!("0x{}", "ab".repeat(31))),
		json!(format!("0x{}", "ab".repeat(33))),
		json!(format!("0x{}", "a".repeat(63))),
		json!(format!("0x{}", "zz".repeat(32))),
		json!(format!("0x{}", "+a".repeat(32))),
		json!(mib_of_hex),
	]);
	// Well-formed block hashes of no block of this chain.
	let unknown_hashes = [
		format!("0x{}", "ab".repeat(32)),
		format!("0x{}", "CD".repeat(32)),
		format!("0x{}", "00".repeat(32)),
	];

	// ---- `at`, the last param of every read method ----
	let at_methods: [(&str, Vec<Value>); 8] = [
		("registry_revision", vec![]),
		("registry_services", vec![]),
		("registry_instances", vec![service.clone(), Value::Null]),
		("registry_election", vec![election.clone()]),
		("registry_elections", vec![]),
		("registry_lease", vec![json!(lease)]),
		("registry_leases", vec![]),
		("registry_range", vec![whole.clone()]),
	];
	for (method, lead) in &at_methods {
		for at in &bad_at {
			refused(rpc, method, with(lead, at.clone()), INVALID_PARAMS)?;
		}
		for hash in &unknown_hashes {
			let error = refused(rpc, method, with(lead, json!(hash)), UNKNOWN_BLOCK)?;
			ensure!(
				message(&error).contains("unknown block"),
				"{method} at {hash}: {}",
				short(&error)
			);
		}
		// Params that are neither an array nor an object.
		for params in [json!(5), json!("finalized"), json!(true)] {
			refused(rpc, method, params, INVALID_PARAMS)?;
		}
		// The well-formed `at`s are answered; so are params past the last one (ignored).
		for at in [json!("finalized"), json!("best"), Value::Null] {
			answered(rpc, method, with(lead, at))?;
		}
		let mut too_many = lead.clone();
		too_many.extend([json!("finalized"), json!("extra"), json!(1), json!({})]);
		answered(rpc, method, Value::Array(too_many))?;
	}

	// ---- registry_instances(service, filter?, at?) ----
	// Too few params (none, or null params), null for the required service, a by-name call
	// without it.
	for params in [json!([]), Value::Null, json!([null]), json!({}), json!({ "name": hex("svc") })]
	{
		refused(rpc, "registry_instances", params, INVALID_PARAMS)?;
	}
	for bad in &bad_bytes {
		refused(rpc, "registry_instances", json!([bad]), INVALID_PARAMS)?;
		refused(rpc, "registry_instances", json!([service, { "tag": bad }]), INVALID_PARAMS)?;
	}
	for filter in [
		json!(5),
		json!("0x00"),
		json!(true),
		json!([1, 2]),
		json!({ "colour": "blue" }),
		json!({ "health": "dead" }),
		json!({ "health": "PASSING" }),
		json!({ "health": 1 }),
	] {
		refused(rpc, "registry_instances", json!([service, filter]), INVALID_PARAMS)?;
	}
	let instances = |params: Value| -> Result<usize> {
		let answer = answered(rpc, "registry_instances", params)?;
		answer["instances"]
			.as_array()
			.map(Vec::len)
			.with_context(|| format!("registry_instances without instances: {}", short(&answer)))
	};
	ensure!(instances(json!([service]))? == 1, "registry_instances lost svc/i1");
	ensure!(instances(json!({ "service": hex("svc") }))? == 1, "registry_instances by name");
	ensure!(
		instances(json!([service, { "tag": hex("blue") }, "best", "extra", 7]))? == 1,
		"registry_instances with params past the last"
	);
	ensure!(instances(json!([mib_of_hex]))? == 0, "registry_instances of a 512 KiB service");
	ensure!(
		instances(json!([service, { "tag": mib_of_hex }]))? == 0,
		"registry_instances with a 512 KiB tag"
	);

	// ---- registry_election(name, at?) ----
	for params in
		[json!([]), Value::Null, json!([null]), json!({}), json!({ "election": hex("boss") })]
	{
		refused(rpc, "registry_election", params, INVALID_PARAMS)?;
	}
	for bad in &bad_bytes {
		refused(rpc, "registry_election", json!([bad]), INVALID_PARAMS)?;
	}
	let held = answered(rpc, "registry_election", json!([election, "finalized", "extra"]))?;
	ensure!(held["election"]["name"] == election, "registry_election: {}", short(&held));
	let by_name = answered(rpc, "registry_election", json!({ "name": hex("boss"), "at": "best" }))?;
	ensure!(
		by_name["election"]["term"] == json!(1),
		"registry_election by name: {}",
		short(&by_name)
	);
	let never = answered(rpc, "registry_election", json!([mib_of_hex]))?;
	ensure!(
		never.get("election") == Some(&Value::Null),
		"registry_election of a 512 KiB name: {}",
		short(&never)
	);

	// ---- registry_lease(id, at?) ----
	for params in [json!([]), Value::Null, json!([null]), json!({}), json!({ "lease": lease })] {
		refused(rpc, "registry_lease", params, INVALID_PARAMS)?;
	}
	for bad in &not_u64 {
		refused(rpc, "registry_lease", json!([bad]), INVALID_PARAMS)?;
	}
	// Ids far beyond any lease: no such lease, which is an answer.
	for id in [u64::MAX, TWO_POW_53, u64::from(u32::MAX) + 1] {
		let answer = answered(rpc, "registry_lease", json!([id]))?;
		ensure!(
			answer.get("lease") == Some(&Value::Null),
			"registry_lease {id}: {}",
			short(&answer)
		);
	}
	let leased = answered(rpc, "registry_lease", json!({ "id": lease, "at": "best" }))?;
	ensure!(leased["lease"]["id"] == json!(lease), "registry_lease by name: {}", short(&leased));

	// ---- registry_range(request, at?) ----
	for params in not_one_request().into_iter().chain([json!([{}]), json!({ "key": key_a })]) {
		refused(rpc, "registry_range", params, INVALID_PARAMS)?;
	}
	// `{"key": key_a}` with `field` set to `value`, as the params.
	let range_with = |field: &str, value: &Value| -> Value {
		let mut request = json!({ "key": key_a });
		request[field] = value.clone();
		json!([request])
	};
	refused(rpc, "registry_range", range_with("key", &Value::Null), INVALID_PARAMS)?;
	for bad in &bad_bytes {
		refused(rpc, "registry_range", range_with("key", bad), INVALID_PARAMS)?;
		refused(rpc, "registry_range", range_with("range_end", bad), INVALID_PARAMS)?;
	}
	for bad in &not_u64 {
		refused(rpc, "registry_range", range_with("limit", bad), INVALID_PARAMS)?;
		refused(rpc, "registry_range", range_with("revision", bad), INVALID_PARAMS)?;
	}
	for bad in &not_bool {
		refused(rpc, "registry_range", range_with("keys_only", bad), INVALID_PARAMS)?;
		refused(rpc, "registry_range", range_with("count_only", bad), INVALID_PARAMS)?;
	}
	for unknown in ["prefix", "at", "Limit"] {
		refused(rpc, "registry_range", range_with(unknown, &json!(1)), INVALID_PARAMS)?;
	}
	// Revisions beyond the current one.
	for revision in [u64::MAX, TWO_POW_53, current + 1_000_000] {
		let error = refused(
			rpc,
			"registry_range",
			range_with("revision", &json!(revision)),
			REVISION_UNAVAILABLE,
		)?;
		ensure!(message(&error).contains("newer than the current revision"), "{}", short(&error));
	}
	// Huge limits on a valid request, at the finalized block and at revisions (the current one,
	// read at the finalized block, and the first put's, replayed from the index): the range,
	// no more.
	for limit in [u64::MAX, TWO_POW_53, u64::from(u32::MAX), 1u64 << 40] {
		for (revision, count) in [(None, 2), (Some(current), 2), (Some(first), 1)] {
			let mut request = whole.clone();
			request["limit"] = json!(limit);
			if let Some(revision) = revision {
				request["revision"] = json!(revision);
			}
			let answer = answered(rpc, "registry_range", json!([request]))?;
			ensure!(
				answer["count"] == json!(count)
					&& answer["kvs"].as_array().map(Vec::len) == Some(count)
					&& answer["more"] == json!(false),
				"registry_range {}: {}",
				short(&request),
				short(&answer)
			);
		}
		let mut request = whole.clone();
		request["limit"] = json!(limit);
		request["count_only"] = json!(true);
		let answer = answered(rpc, "registry_range", json!([request]))?;
		ensure!(
			answer["count"] == json!(2) && answer["kvs"] == json!([]),
			"registry_range {}: {}",
			short(&request),
			short(&answer)
		);
	}
	// A 512 KiB key: nothing there.
	let absurd = answered(rpc, "registry_range", json!([{ "key": mib_of_hex }]))?;
	ensure!(absurd["count"] == json!(0) && absurd["kvs"] == json!([]), "{}", short(&absurd));
	let absurd = answered(
		rpc,
		"registry_range",
		json!([{ "key": mib_of_hex, "range_end": "0x00", "limit": u64::MAX }]),
	)?;
	ensure!(
		absurd["kvs"].as_array().map(|kvs| kvs.len() as u64) == absurd["count"].as_u64(),
		"{}",
		short(&absurd)
	);
	let extra = answered(rpc, "registry_range", json!([whole, "finalized", "extra", 1]))?;
	ensure!(
		extra["count"] == json!(2),
		"registry_range with params past the last: {}",
		short(&extra)
	);
	let by_name = answered(rpc, "registry_range", json!({ "request": whole, "at": "best" }))?;
	ensure!(by_name["count"] == json!(2), "registry_range by name: {}", short(&by_name));

	// ---- registry_history(request) ----
	for params in not_one_request().into_iter().chain([json!({ "prefix": hex("/mal/") })]) {
		refused(rpc, "registry_history", params, INVALID_PARAMS)?;
	}
	// Not exactly one selector.
	for request in [
		json!({}),
		json!({ "key": key_a, "prefix": hex("/mal/") }),
		json!({ "service": hex("svc"), "election": hex("boss") }),
		json!({ "election": null }),
		json!({ "limit": 1 }),
	] {
		let error = refused(rpc, "registry_history", json!([request]), INVALID_PARAMS)?;
		ensure!(message(&error).contains("exactly one"), "{}", short(&error));
	}
	for selector in ["key", "prefix", "service", "election"] {
		for bad in &bad_bytes {
			let mut request = json!({});
			request[selector] = bad.clone();
			refused(rpc, "registry_history", json!([request]), INVALID_PARAMS)?;
		}
	}
	let prefix_request = json!({ "prefix": hex("/mal/") });
	// `{"prefix": "/mal/"}` with `field` set to `value`, as the params.
	let history_with = |field: &str, value: Value| -> Value {
		let mut request = prefix_request.clone();
		request[field] = value;
		json!([request])
	};
	// `limit` is a u32: 2^32, 2^53 and u64::MAX do not fit.
	for bad in not_u64.iter().cloned().chain([
		json!(u64::MAX),
		json!(TWO_POW_53),
		json!(u64::from(u32::MAX) + 1),
	]) {
		refused(rpc, "registry_history", history_with("limit", bad), INVALID_PARAMS)?;
	}
	for bad in &not_u64 {
		refused(
			rpc,
			"registry_history",
			history_with("from_revision", bad.clone()),
			INVALID_PARAMS,
		)?;
	}
	for unknown in ["at", "range_end", "Limit"] {
		refused(rpc, "registry_history", history_with(unknown, json!(1)), INVALID_PARAMS)?;
	}
	// How many items, and `more`.
	let items = |params: Value| -> Result<(usize, Value)> {
		let answer = answered(rpc, "registry_history", params)?;
		let n = answer["items"]
			.as_array()
			.map(Vec::len)
			.with_context(|| format!("registry_history without items: {}", short(&answer)))?;
		Ok((n, answer["more"].clone()))
	};
	// The largest limit is capped (at 10 000), not an error; the limit is kept.
	ensure!(
		items(history_with("limit", json!(u32::MAX)))? == (2, json!(false)),
		"history, limit u32::MAX"
	);
	ensure!(items(history_with("limit", json!(1)))? == (1, json!(true)), "history, limit 1");
	for from in [u64::MAX, TWO_POW_53] {
		ensure!(
			items(history_with("from_revision", json!(from)))? == (0, json!(false)),
			"history from revision {from}"
		);
	}
	ensure!(
		items(json!([{ "prefix": mib_of_hex }]))? == (0, json!(false)),
		"history of a 512 KiB prefix"
	);
	ensure!(
		items(json!([{ "service": mib_of_hex, "limit": u32::MAX }]))? == (0, json!(false)),
		"history of a 512 KiB service"
	);
	ensure!(
		items(json!([prefix_request, "finalized", 1]))? == (2, json!(false)),
		"history with params past the last"
	);
	ensure!(items(json!({ "request": prefix_request }))? == (2, json!(false)), "history by name");

	// ---- registry_readIndex() takes no params: whatever is sent is ignored ----
	// Its rounds may wait for a quorum and then finality: the calls go together, in one round.
	std::thread::scope(|scope| -> Result<()> {
		let calls: Vec<_> = [json!([1, "x", {}]), json!(5), json!({ "bogus": 1 }), Value::Null]
			.into_iter()
			.map(|params| {
				scope.spawn(move || -> Result<Value> {
					let reply =
						reply_within(rpc, "registry_readIndex", &params, READ_INDEX_TIMEOUT)?;
					reply.get("result").cloned().with_context(|| {
						format!("registry_readIndex {}: {}", short(&params), short(&reply))
					})
				})
			})
			.collect();
		for call in calls {
			let answer =
				call.join().map_err(|_| anyhow!("a registry_readIndex call panicked"))??;
			ensure!(
				answer["hash"].is_string() && answer["number"].is_u64(),
				"registry_readIndex: {}",
				short(&answer)
			);
		}
		Ok(())
	})?;

	// ---- Subscriptions over plain HTTP, which cannot carry them ----
	for (method, params) in [
		("registry_subscribeKeys", json!([{ "key": key_a }])),
		("registry_subscribeInstances", json!([service])),
		("registry_subscribeElection", json!([election])),
	] {
		refused(rpc, method, params, INTERNAL_ERROR)?;
		refused(rpc, &method.replace("subscribe", "unsubscribe"), json!(["0x00"]), INTERNAL_ERROR)?;
	}
	ensure!(!node.has_exited(), "the node exited:\n{}", node.log_tail());

	// ---- Subscriptions over WebSocket ----
	let mut bad_options = vec![
		json!(5),
		json!("x"),
		json!(true),
		json!(["x"]),
		json!({ "bogus": 1 }),
		json!({ "fromRevision": 1 }),
	];
	bad_options.extend(not_u64.iter().map(|bad| json!({ "from_revision": bad })));
	bad_options.extend(not_bool.iter().map(|bad| json!({ "best": bad })));
	let runtime = tokio::runtime::Runtime::new()?;
	runtime.block_on(async {
		let client = WsClientBuilder::default()
			.request_timeout(CALL_TIMEOUT)
			.build(node.ws_url())
			.await?;
		let subscriptions = [
			("registry_subscribeKeys", json!({ "key": key_a })),
			("registry_subscribeInstances", service.clone()),
			("registry_subscribeElection", election.clone()),
		];
		for (method, valid) in &subscriptions {
			// Too few params, null for the required one, params that are not an array.
			for params in [json!([]), Value::Null, json!([null]), json!(5), json!("x"), json!(true)]
			{
				subscription_refused(&client, method, params, INVALID_PARAMS).await?;
			}
			for bad in &bad_options {
				subscription_refused(&client, method, json!([valid, bad]), INVALID_PARAMS).await?;
			}
			// Revisions far in the future: a valid watch that waits for them, nothing to replay.
			for from in [u64::MAX, TWO_POW_53] {
				subscription_accepted(&client, method, json!([valid, { "from_revision": from }]))
					.await?;
			}
			subscription_accepted(&client, method, json!([valid, null, "extra", 1])).await?;
			let unsubscribe = method.replace("subscribe", "unsubscribe");
			for params in [
				json!(["no-such-subscription"]),
				json!([5]),
				json!([]),
				json!([null]),
				json!([{}]),
				json!(5),
			] {
				unsubscribe_answers_false(&client, &unsubscribe, params).await?;
			}
		}
		for bad in &bad_bytes {
			subscription_refused(
				&client,
				"registry_subscribeKeys",
				json!([{ "key": bad }]),
				INVALID_PARAMS,
			)
			.await?;
			subscription_refused(
				&client,
				"registry_subscribeKeys",
				json!([{ "key": key_a, "range_end": bad }]),
				INVALID_PARAMS,
			)
			.await?;
			subscription_refused(
				&client,
				"registry_subscribeInstances",
				json!([bad]),
				INVALID_PARAMS,
			)
			.await?;
			subscription_refused(
				&client,
				"registry_subscribeElection",
				json!([bad]),
				INVALID_PARAMS,
			)
			.await?;
		}
		for selector in [
			json!(5),
			json!("0x00"),
			json!([5]),
			json!({}),
			json!({ "key": null }),
			json!({ "key": key_a, "prefix": "0x00" }),
		] {
			subscription_refused(
				&client,
				"registry_subscribeKeys",
				json!([selector]),
				INVALID_PARAMS,
			)
			.await?;
		}
		// 512 KiB keys and names: well-formed watches of nothing.
		subscription_accepted(
			&client,
			"registry_subscribeKeys",
			json!([{ "key": mib_of_hex, "range_end": "0x00" }]),
		)
		.await?;
		subscription_accepted(&client, "registry_subscribeInstances", json!([mib_of_hex])).await?;
		subscription_accepted(
			&client,
			"registry_subscribeElection",
			json!([mib_of_hex, { "from_revision": TWO_POW_53 }]),
		)
		.await?;

		// The same connection still serves a correct watch: it replays the first put.
		let mut keys: Subscription<Value> = client
			.subscribe(
				"registry_subscribeKeys",
				rpc_params![whole.clone(), json!({ "from_revision": first })],
				"registry_unsubscribeKeys",
			)
			.await?;
		let item = next_item(&mut keys).await?;
		ensure!(
			item["key"] == json!(key_a)
				&& item["value"] == json!(hex("one"))
				&& item["revision"] == json!(first),
			"replayed {item}"
		);
		anyhow::Ok(())
	})?;
	eprintln!("the malformed calls were all answered within {:?}", started.elapsed());

	// The node is alive, still answers correct reads with what was written, and finalizes.
	ensure!(!node.has_exited(), "the node exited:\n{}", node.log_tail());
	let a = answered(rpc, "registry_range", json!([{ "key": key_a }]))?;
	ensure!(
		a["count"] == json!(1)
			&& a["kvs"][0]["value"] == json!(hex("one"))
			&& a["kvs"][0]["mod_revision"] == json!(first),
		"registry_range /mal/a: {a}"
	);
	ensure!(instances(json!([service]))? == 1, "registry_instances lost svc/i1");
	let finalized = node.finalized_number()?;
	wait_for("finality to go on after the malformed calls", Duration::from_secs(20), || {
		node.finalized_number().ok().filter(|n| *n >= finalized + 2)
	})?;
	Ok(())
}
