//! polkadot.js against a real node: `testing/js/registry-check.mjs` (npm `@polkadot/api`,
//! installed by `scripts/test.sh`) reads the registry's storage and events decoded from the
//! chain's metadata alone, and calls a `registry_*` method.

use std::{path::PathBuf, process::Command, time::Duration};

use anyhow::{bail, Context, Result};
use regchain_runtime::{RuntimeCall, RuntimeEvent};
use regchain_testing::{
	chain::{dev_pair, submit_finalized, succeeded},
	wait_for, Node, NodeConfig,
};
use serde_json::Value;
use sp_keyring::Sr25519Keyring;

fn registry(call: pallet_service_registry::Call<regchain_runtime::Runtime>) -> RuntimeCall {
	RuntimeCall::ServiceRegistry(call)
}

/// Runs the polkadot.js script and parses what it prints.
fn registry_check(node: &Node, block_hash: &str) -> Result<Value> {
	let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("js");
	if !dir.join("node_modules/@polkadot/api").exists() {
		bail!(
			"@polkadot/api is not installed in {}: run `npm ci` there (scripts/test.sh does)",
			dir.display()
		);
	}
	let output = Command::new("node")
		.current_dir(&dir)
		.arg("registry-check.mjs")
		.arg(node.ws_url())
		.arg(block_hash)
		.output()
		.context("running node (Node.js): is it installed? scripts/setup.sh installs it")?;
	if !output.status.success() {
		bail!("registry-check.mjs failed: {}", String::from_utf8_lossy(&output.stderr));
	}
	Ok(serde_json::from_slice(&output.stdout)?)
}

#[test]
fn polkadot_js_reads_the_registry_from_metadata_alone() -> Result<()> {
	let dir = tempfile::tempdir()?;
	let node = Node::start(NodeConfig::new("dev", dir.path(), &["--dev"]))?;
	wait_for("a finalized block", Duration::from_secs(60), || {
		node.finalized_number().ok().filter(|n| *n >= 1)
	})?;
	let rpc = &node.rpc;
	let alice = dev_pair(Sr25519Keyring::Alice);
	let alice_ss58 = Sr25519Keyring::Alice.to_account_id().to_string();

	let (_, events) = submit_finalized(
		rpc,
		&alice,
		registry(pallet_service_registry::Call::grant_lease { ttl_secs: 600 }),
	)?;
	let lease = events
		.iter()
		.find_map(|e| match e {
			RuntimeEvent::ServiceRegistry(pallet_service_registry::Event::LeaseGranted {
				lease,
				..
			}) => Some(*lease),
			_ => None,
		})
		.context("no LeaseGranted event")?;
	let (_, events) = submit_finalized(
		rpc,
		&alice,
		registry(pallet_service_registry::Call::register_instance {
			service: b"web".to_vec(),
			instance_id: b"web-1".to_vec(),
			endpoint: b"127.0.0.1:8080".to_vec(),
			tags: vec![b"blue".to_vec()],
			metadata: vec![],
			lease,
		}),
	)?;
	assert!(succeeded(&events), "{events:?}");
	let (put_block, events) = submit_finalized(
		rpc,
		&alice,
		registry(pallet_service_registry::Call::put {
			key: b"/config/a".to_vec(),
			value: b"1".to_vec(),
			lease: None,
		}),
	)?;
	assert!(succeeded(&events), "{events:?}");

	let seen = registry_check(&node, &put_block)?;

	// Storage, decoded from metadata: the instance, its lease and the revision.
	let instances = seen["instances"].as_array().context("instances")?;
	assert_eq!(instances.len(), 1, "{seen}");
	assert_eq!(instances[0]["service"], "web");
	assert_eq!(instances[0]["instanceId"], "web-1");
	assert_eq!(instances[0]["endpoint"], "127.0.0.1:8080");
	assert_eq!(instances[0]["owner"], alice_ss58.as_str());
	assert_eq!(instances[0]["health"], "Unknown");
	assert_eq!(instances[0]["lease"], lease);
	let leases = seen["leases"].as_array().context("leases")?;
	assert!(
		leases.iter().any(|l| l["id"] == lease && l["grantedBy"] == alice_ss58.as_str()),
		"{seen}"
	);
	// The put is the chain's first write: revision 2, as etcd's first write.
	assert_eq!(seen["revision"], 2);

	// Events of the put's block, decoded: the key, the revision and who wrote it.
	let events = seen["events"].as_array().context("events")?;
	let put = events.iter().find(|e| e["method"] == "KeyPut").context("no KeyPut event")?;
	assert_eq!(put["data"]["key"], "/config/a", "{put}");
	assert_eq!(put["data"]["who"], alice_ss58.as_str());
	assert_eq!(put["data"]["revision"], "2");

	// The calls come from metadata too, and the registry RPC answers on the same connection.
	let calls: Vec<&str> = seen["metadataCalls"]
		.as_array()
		.context("calls")?
		.iter()
		.filter_map(Value::as_str)
		.collect();
	for call in ["grantLease", "registerInstance", "put", "deleteRange", "txn", "campaign"] {
		assert!(calls.contains(&call), "{call} missing from {calls:?}");
	}
	assert_eq!(seen["rpcRevision"]["revision"], 2, "{seen}");

	// The node reports a transaction's inclusion, then its finality, as a stock node does.
	// (`signAndSend` may show `Finalized` without `InBlock`: @polkadot/api looks up the block's
	// events before reporting `InBlock`, and drops that lookup when `Finalized` arrives first,
	// which a 250 ms chain finalizing one block later often does. Wait for `isInBlock ||
	// isFinalized` in scripts; docs/guide.md.)
	let types = |name: &str| -> Result<Vec<String>> {
		let list = seen[name].as_array().with_context(|| format!("{name} in {seen}"))?;
		Ok(list.iter().filter_map(Value::as_str).map(str::to_string).collect())
	};
	let watched = types("watched")?;
	let in_block = watched.iter().position(|t| t == "InBlock");
	let finalized = watched.iter().position(|t| t == "Finalized");
	assert_eq!(watched.first().map(String::as_str), Some("Ready"), "{watched:?}");
	assert!(in_block.is_some() && in_block < finalized, "InBlock, then Finalized: {watched:?}");
	assert_eq!(types("sent")?.last().map(String::as_str), Some("Finalized"));
	Ok(())
}
