//! The registry JSON-RPC (`registry_*`, `docs/rpc.md`), tested against real `regchain-node`
//! processes: reads return what was written, history names who wrote, watches replay then go
//! live, and bad input or forgotten revisions give the documented errors.

use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use jsonrpsee::{
	core::client::{Subscription, SubscriptionClientT},
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
	let methods: Vec<&str> =
		methods["methods"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
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
	let at = revision["at"]["number"].as_u64().with_context(|| format!("no at.number: {revision}"))?;
	assert_eq!(rpc.block_hash(at as u32)?.as_deref(), revision["at"]["hash"].as_str(), "{revision}");
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
	assert_eq!(never.get("election"), Some(&Value::Null), "an election never held is null, not missing: {never}");
	assert_eq!(rpc.call("registry_elections", json!([]))?["elections"], json!([hex("primary")]));
	// A linearizable read point on a one-validator chain: its own finalized head, a block of the
	// chain at or above the height its one voter confirmed.
	let index = rpc.call("registry_readIndex", json!([]))?;
	let finalized = node.finalized_number()?;
	assert_eq!(index["voters"], json!(1), "{index}");
	let number = index["number"].as_u64().with_context(|| format!("no number: {index}"))?;
	let confirmed = index["confirmed"].as_u64().with_context(|| format!("no confirmed: {index}"))?;
	assert!(confirmed <= number && number <= u64::from(finalized), "{index}; finalized #{finalized}");
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
	let error =
		rpc.call_error("registry_history", json!([{ "key": hex("/old"), "from_revision": old }]))?;
	assert_eq!(code(&error), 4001, "{error}");

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
	let past =
		node.rpc.call("registry_range", json!([{ "key": hex("/kept"), "revision": first }]))?;
	assert_eq!(past["kvs"][0]["value"], json!(hex("before")), "{past}");
	Ok(())
}
