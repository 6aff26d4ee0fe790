//! `regchainctl`, tested as orchestrators use it: the built binary run as separate processes
//! against real `regchain-node` processes. Discovery through agents, elections handed over when
//! a leader stops, watches replayed from beyond the default pruning window, the audit trail, and
//! one-line errors.

use std::{
	process::{Command, Output, Stdio},
	time::Duration,
};

use anyhow::{anyhow, bail, Context, Result};
use regchain_testing::{free_port, regchainctl_binary, wait_for, Node, NodeConfig, Proc, Testnet};
use serde_json::{json, Value};
use sp_core::crypto::Ss58Codec;
use sp_keyring::Sr25519Keyring;

fn ss58(who: Sr25519Keyring) -> String {
	who.to_account_id().to_ss58check()
}

/// Runs `regchainctl --endpoint E ARGS` to completion, with `stdin` as its input.
fn ctl_with_input(endpoint: &str, args: &[&str], stdin: &str) -> Result<Output> {
	let mut child = Command::new(regchainctl_binary())
		.arg("--endpoint")
		.arg(endpoint)
		.args(args)
		.stdin(Stdio::piped())
		.stdout(Stdio::piped())
		.stderr(Stdio::piped())
		.spawn()
		.with_context(|| format!("starting {}", regchainctl_binary().display()))?;
	{
		use std::io::Write;
		let mut input = child.stdin.take().context("stdin")?;
		input.write_all(stdin.as_bytes())?;
	}
	Ok(child.wait_with_output()?)
}

fn ctl(endpoint: &str, args: &[&str]) -> Result<Output> {
	ctl_with_input(endpoint, args, "")
}

/// Runs a command that must succeed with `--output json`; returns its (last) JSON line.
fn ctl_json(endpoint: &str, args: &[&str]) -> Result<Value> {
	let mut all = vec!["--output", "json"];
	all.extend_from_slice(args);
	let out = ctl(endpoint, &all)?;
	if !out.status.success() {
		bail!(
			"regchainctl {} failed ({}): {}",
			args.join(" "),
			out.status,
			String::from_utf8_lossy(&out.stderr).trim()
		);
	}
	let text = String::from_utf8(out.stdout)?;
	let last = text
		.lines()
		.last()
		.ok_or_else(|| anyhow!("no output from {}", args.join(" ")))?;
	Ok(serde_json::from_str(last)?)
}

/// What a failed command printed on stderr; fails if it succeeded or printed more than one line.
fn ctl_error(endpoint: &str, args: &[&str]) -> Result<String> {
	let out = ctl(endpoint, args)?;
	if out.status.success() {
		bail!("regchainctl {} succeeded where it should fail", args.join(" "));
	}
	let stderr = String::from_utf8(out.stderr)?;
	let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
	if lines.len() != 1 {
		bail!("expected one line on stderr from {}, got: {stderr}", args.join(" "));
	}
	Ok(lines[0].to_string())
}

/// A long-running `regchainctl --output json` process.
fn ctl_proc(name: &str, endpoint: &str, args: &[&str]) -> Result<Proc> {
	let mut command = Command::new(regchainctl_binary());
	command.arg("--endpoint").arg(endpoint).args(["--output", "json"]).args(args);
	Proc::start(name, command)
}

fn dev_node(dir: &tempfile::TempDir) -> Result<Node> {
	Node::start_finalized(NodeConfig::new("dev", dir.path(), &["--dev"]))
}

/// The ids of a service's instances, as `service list` shows them.
fn instance_ids(endpoint: &str, service: &str) -> Result<Vec<String>> {
	let answer = ctl_json(endpoint, &["service", "list", service])?;
	let mut ids: Vec<String> = answer["instances"]
		.as_array()
		.context("instances")?
		.iter()
		.filter_map(|i| i["instance_id"].as_str())
		.map(|hex| {
			String::from_utf8(regchain_client::hex::from_hex(hex).unwrap_or_default())
				.unwrap_or_default()
		})
		.collect();
	ids.sort();
	Ok(ids)
}

fn hex(text: &str) -> String {
	regchain_client::hex::to_hex(text.as_bytes())
}

/// Checks what a `service watch` printed about `instance`: its registration first, `end`
/// (`removed` or `deregistered`) last, each once, and every item in the chain's order of
/// changes (block number, then event index), none twice.
fn assert_watched_lifecycle(watcher: &Proc, instance: &str, end: &str) {
	let events: Vec<(String, (u64, u64))> = watcher
		.items()
		.iter()
		.filter(|i| i["instance_id"] == hex(instance))
		.map(|i| {
			let kind = i["kind"].as_str().unwrap_or_default().to_string();
			(
				kind,
				(
					i["block_number"].as_u64().unwrap_or_default(),
					i["event_index"].as_u64().unwrap_or_default(),
				),
			)
		})
		.collect();
	let kinds: Vec<&str> = events.iter().map(|(kind, _)| kind.as_str()).collect();
	assert_eq!(kinds.first(), Some(&"registered"), "{instance}: the watcher saw {events:?}");
	assert_eq!(kinds.last(), Some(&end), "{instance}: the watcher saw {events:?}");
	let lifecycle = kinds
		.iter()
		.filter(|k| matches!(**k, "registered" | "removed" | "deregistered"))
		.count();
	assert_eq!(
		lifecycle, 2,
		"{instance}: one registration and one end, the watcher saw {events:?}"
	);
	assert!(
		events.windows(2).all(|pair| pair[0].1 < pair[1].1),
		"{instance}: the watcher's items are not in the chain's order: {events:?}"
	);
}

#[test]
fn errors_are_one_line_with_a_non_zero_exit_status() -> Result<()> {
	// Unreachable: nothing listens on this port.
	let nowhere = format!("ws://127.0.0.1:{}", free_port());
	let line = ctl_error(&nowhere, &["status"])?;
	assert!(line.contains("cannot reach the node"), "unexpected: {line}");

	// Bad arguments: clap's own error, with its usage exit status.
	let out = ctl(&nowhere, &["lease", "grant", "soon"])?;
	assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));

	let dir = tempfile::tempdir()?;
	let node = dev_node(&dir)?;
	let endpoint = node.ws_url();

	// A write needs a key: there is no default one.
	let line = ctl_error(&endpoint, &["put", "/a", "1"])?;
	assert!(line.contains("--key"), "unexpected: {line}");

	// Several endpoints: the first that can be reached serves, and when none can, each is
	// named with its reason. A malformed one is refused before any is tried.
	let other = format!("ws://127.0.0.1:{}", free_port());
	let line = ctl_error(&format!("{nowhere},{other}"), &["status"])?;
	assert!(
		line.contains(&format!("any of {nowhere}, {other}"))
			&& line.contains(&format!("; {other}: ")),
		"unexpected: {line}"
	);
	let status = ctl_json(&format!("{nowhere},{endpoint}"), &["status"])?;
	assert_eq!(
		status["endpoint"].as_str(),
		Some(endpoint.as_str()),
		"status names the endpoint used: {status}"
	);
	let line = ctl_error(&format!("{endpoint},127.0.0.1:2379"), &["status"])?;
	assert!(line.contains("\"127.0.0.1:2379\" is not a ws://"), "unexpected: {line}");

	// A refused call names the pallet's error.
	let line = ctl_error(&endpoint, &["--key", "//Alice", "lease", "revoke", "999999"])?;
	assert!(line.contains("ServiceRegistry::LeaseNotFound"), "unexpected: {line}");

	// A signer that is not an orchestrator is turned away by the pool, readably.
	let line = ctl_error(&endpoint, &["--key", "//Eve", "put", "/a", "1"])?;
	assert!(line.contains("Invalid signing address"), "unexpected: {line}");

	// A bad key is refused without echoing it.
	let line = ctl_error(&endpoint, &["--key", "hunter2 hunter2", "put", "/a", "1"])?;
	assert!(line.contains("bad key") && !line.contains("hunter2"), "unexpected: {line}");

	// A real secret on the command line, or in a key file others may read, is used, with a
	// warning first (the phrase is Substrate's public development one; its root account is no
	// member, so the put is refused after the warning).
	let phrase = "bottom drive obey lake curtain smoke basket hold race lonely fit walk";
	let out = ctl(&endpoint, &["--key", phrase, "put", "/a", "1"])?;
	let stderr = String::from_utf8(out.stderr)?;
	assert!(!out.status.success() && stderr.contains("Invalid signing address"), "{stderr}");
	assert!(
		stderr
			.lines()
			.next()
			.is_some_and(|l| l.starts_with("warning: a secret given with --key")),
		"{stderr}"
	);
	let keyfile = dir.path().join("alice.key");
	std::fs::write(&keyfile, "//Alice\n")?;
	use std::os::unix::fs::PermissionsExt;
	std::fs::set_permissions(&keyfile, std::fs::Permissions::from_mode(0o644))?;
	let keyfile = keyfile.to_str().context("utf-8 path")?;
	let out = ctl(&endpoint, &["--keyfile", keyfile, "put", "/a", "1"])?;
	let stderr = String::from_utf8(out.stderr)?;
	assert!(out.status.success(), "{stderr}");
	assert!(
		stderr.contains("may be read by other users (mode 644)") && stderr.contains("chmod 600"),
		"{stderr}"
	);
	std::fs::set_permissions(keyfile, std::fs::Permissions::from_mode(0o600))?;
	let out = ctl(&endpoint, &["--keyfile", keyfile, "put", "/a", "2"])?;
	assert!(
		out.status.success() && out.stderr.is_empty(),
		"{}",
		String::from_utf8_lossy(&out.stderr)
	);
	Ok(())
}

#[test]
fn writes_report_leases_revisions_and_fenced_txns() -> Result<()> {
	let dir = tempfile::tempdir()?;
	let node = dev_node(&dir)?;
	let endpoint = node.ws_url();
	let keyfile = dir.path().join("alice.key");
	std::fs::write(&keyfile, "//Alice\n")?;
	// Private, as regchainctl asks of a key file (it warns otherwise).
	use std::os::unix::fs::PermissionsExt;
	std::fs::set_permissions(&keyfile, std::fs::Permissions::from_mode(0o600))?;
	let keyfile = keyfile.to_str().context("utf-8 path")?;
	let w = |args: &[&str]| {
		let mut all = vec!["--keyfile", keyfile];
		all.extend_from_slice(args);
		ctl_json(&endpoint, &all)
	};

	let lease = w(&["lease", "grant", "30"])?;
	let lease_id = lease["lease"].as_u64().context("lease id")?;
	assert_eq!(lease["ttl_secs"], 30);
	assert_eq!(lease["finalized"], true);

	let first = w(&["put", "/cfg", "one"])?["revision"].as_u64().context("revision")?;
	let second = w(&["--wait", "best", "put", "/cfg", "two", "--lease", &lease_id.to_string()])?;
	assert_eq!(second["revision"].as_u64(), Some(first + 1));
	assert_eq!(second["finalized"], false);

	// A txn whose compare holds writes at the next revision; one whose compare fails runs its
	// failure branch, which is not an error.
	let txn = format!("mod(\"/cfg\") = {}\n\nput /cfg three\n\nput /cfg lost\n", first + 1);
	let out = ctl_with_input(&endpoint, &["--keyfile", keyfile, "--output", "json", "txn"], &txn)?;
	assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
	let applied: Value = serde_json::from_slice(&out.stdout)?;
	assert_eq!(applied["succeeded"], true);
	assert_eq!(applied["revision"].as_u64(), Some(first + 2));
	let out = ctl_with_input(
		&endpoint,
		&["--keyfile", keyfile, "--output", "json", "txn"],
		"ver(\"/cfg\") = 1\n\n\nput /other x\n",
	)?;
	assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
	let failed: Value = serde_json::from_slice(&out.stdout)?;
	assert_eq!(failed["succeeded"], false);
	assert_eq!(failed["revision"].as_u64(), Some(first + 3));
	// A malformed txn is refused before anything is signed.
	let out = ctl_with_input(&endpoint, &["--keyfile", keyfile, "txn"], "size(\"/cfg\") = 1\n")?;
	assert!(!out.status.success());
	assert!(String::from_utf8_lossy(&out.stderr).contains("txn line 1"));

	// A write fenced by an election's term: term 0 holds for an election never held; any other
	// term is stale and refused.
	let fenced = w(&["put", "--fence", "never-held:0", "/fenced", "ok"])?;
	assert_eq!(fenced["revision"].as_u64(), Some(first + 4));
	let line = ctl_error(
		&endpoint,
		&["--keyfile", keyfile, "put", "--fence", "never-held:3", "/fenced", "stale"],
	)?;
	assert!(line.contains("fenced write refused"), "unexpected: {line}");

	// Deleting a prefix takes one revision; deleting nothing takes none.
	let deleted = w(&["del", "--prefix", "/fenced"])?;
	assert_eq!(deleted["revision"].as_u64(), Some(first + 5));
	let nothing = w(&["del", "/nothing"])?;
	assert_eq!(nothing["deleted"], false);

	// Revoking the lease deletes the key attached to it at one more revision (/cfg no longer is:
	// the txn's put without a lease detached it, as in etcd).
	let leased = w(&["put", "/leased", "v", "--lease", &lease_id.to_string()])?;
	assert_eq!(leased["revision"].as_u64(), Some(first + 6));
	let revoked = w(&["lease", "revoke", &lease_id.to_string()])?;
	assert_eq!(revoked["revision"].as_u64(), Some(first + 7));
	let line = ctl_error(
		&endpoint,
		&["--keyfile", keyfile, "lease", "keep-alive", "--once", &lease_id.to_string()],
	)?;
	assert!(line.contains("ServiceRegistry::LeaseNotFound"), "unexpected: {line}");
	Ok(())
}

#[test]
fn discovery_agents_register_list_watch_and_leave() -> Result<()> {
	let dir = tempfile::tempdir()?;
	let node = dev_node(&dir)?;
	let endpoint = node.ws_url();
	const TTL: u64 = 4;

	// A second process watches the service from the start: from a revision taken before any
	// agent starts, so that it misses nothing however late it connects.
	let from = ctl_json(&endpoint, &["--key", "//Alice", "put", "/discovery/watched-from", "now"])?
		["revision"]
		.as_u64()
		.context("revision")?;
	let mut watcher =
		ctl_proc("watcher", &endpoint, &["service", "watch", "web", "--rev", &from.to_string()])?;

	// Three agents, all signing as Alice (the dev chain's only orchestrator).
	let mut agents = Vec::new();
	for n in 1..=3 {
		let (instance, address) = (format!("web-{n}"), format!("127.0.0.1:{}", 8000 + n));
		agents.push(ctl_proc(
			&instance,
			&endpoint,
			&[
				"--key",
				"//Alice",
				"agent",
				"--service",
				"web",
				"--instance",
				&instance,
				"--address",
				&address,
				"--ttl",
				&TTL.to_string(),
				"--health-cmd",
				"true",
				"--health-interval",
				"1",
			],
		)?);
	}
	let mut leases = Vec::new();
	for agent in agents.iter_mut() {
		let registered = agent
			.wait_item("registration", Duration::from_secs(60), |i| i["event"] == "registered")?;
		leases.push(
			registered["lease"]
				.as_u64()
				.with_context(|| format!("the agent's lease: {registered}"))?,
		);
		agent.wait_item("a passing health report", Duration::from_secs(60), |i| {
			i["health"] == "passing"
		})?;
	}
	let all = vec!["web-1".to_string(), "web-2".into(), "web-3".into()];
	wait_for("three instances in the list", Duration::from_secs(30), || {
		instance_ids(&endpoint, "web").ok().filter(|ids| *ids == all)
	})?;
	let listed = ctl_json(&endpoint, &["service", "list", "web"])?;
	for instance in listed["instances"].as_array().context("instances")? {
		assert_eq!(instance["owner"], ss58(Sr25519Keyring::Alice));
	}
	let services = ctl_json(&endpoint, &["service", "list"])?;
	assert!(services["services"]
		.as_array()
		.context("services")?
		.iter()
		.any(|s| s["name"] == hex("web") && s["instances"] == 3));
	for id in &all {
		watcher.wait_item(&format!("{id} registered"), Duration::from_secs(30), |i| {
			i["kind"] == "registered" && i["instance_id"] == hex(id)
		})?;
	}

	// The order of events is the claim, not how long they take (that is the benchmark's): the
	// waits below are deadlines, and nothing is read while a lease may be running out, so that a
	// slow machine changes when things happen, never what the test sees.
	// SIGKILL: the agent cannot deregister, so the instance goes when its lease runs out. The
	// chain itself removes it (no account behind the change), in the block that ends the lease:
	// in the block before, the lease, as its last keep-alive left it, is still live with web-1
	// attached; the removal's block is no earlier than its expiry, and there the lease is gone.
	// web-2 and web-3 stay.
	agents[0].signal(libc::SIGKILL);
	let ended = watcher.wait_item("web-1 to go", Duration::from_secs(60), |i| {
		i["instance_id"] == hex("web-1") && (i["kind"] == "removed" || i["kind"] == "deregistered")
	})?;
	assert_eq!(ended["kind"], "removed", "{ended}");
	assert_eq!(
		ended.get("who"),
		Some(&Value::Null),
		"an account removed web-1, not its lease's end: {ended}"
	);
	assert_watched_lifecycle(&watcher, "web-1", "removed");
	let history = ctl_json(&endpoint, &["history", "service", "web"])?;
	let removal = history["items"]
		.as_array()
		.context("items")?
		.iter()
		.find(|i| i["kind"] == "removed" && i["instance_id"] == hex("web-1"))
		.cloned()
		.with_context(|| format!("web-1's removal in the history: {history}"))?;
	assert_eq!(
		removal["block_hash"], ended["block_hash"],
		"the history and the watcher differ on web-1's removal: {removal} {ended}"
	);
	let removed_at_ms = removal["time_ms"]
		.as_u64()
		.with_context(|| format!("the removal's block time: {removal}"))?;
	let parent =
		node.rpc.call("chain_getHeader", json!([removal["block_hash"]]))?["parentHash"].clone();
	let before = node.rpc.call("registry_lease", json!([leases[0], parent]))?;
	let expires_at_ms = before["lease"]["expires_at_ms"]
		.as_u64()
		.with_context(|| format!("web-1's lease in the block before web-1's removal: {before}"))?;
	assert!(
		before["lease"]["instances"]
			.as_array()
			.is_some_and(|a| a.contains(&json!([hex("web"), hex("web-1")]))),
		"web-1 not attached to its lease in the block before its removal: {before}"
	);
	assert!(
		removed_at_ms >= expires_at_ms,
		"web-1 was removed at {removed_at_ms} ms, before its lease ran out at {expires_at_ms} ms"
	);
	let after = node.rpc.call("registry_lease", json!([leases[0], removal["block_hash"]]))?;
	assert_eq!(
		after.get("lease"),
		Some(&Value::Null),
		"web-1's lease outlived web-1's removal: {after}"
	);
	assert_eq!(instance_ids(&endpoint, "web")?, vec!["web-2".to_string(), "web-3".to_string()]);

	// SIGTERM: the agent deregisters web-2 before it exits, rather than leave its lease to run
	// out: it says so, exits cleanly, web-2 is no longer listed once it has, and the watcher sees
	// Alice deregister web-2, not the chain remove it, after its registration, in a block where
	// web-2's lease still stands.
	agents[1].signal(libc::SIGTERM);
	let said = agents[1].wait_item("its deregistration", Duration::from_secs(60), |i| {
		i["event"] == "deregistered"
	})?;
	assert!(
		said.get("expired").is_none(),
		"web-2's lease ran out before its agent deregistered it: {said}"
	);
	let status = agents[1].wait_exit(Duration::from_secs(60))?;
	assert!(status.success(), "the agent failed on SIGTERM: {}", agents[1].stderr());
	assert!(
		!instance_ids(&endpoint, "web")?.contains(&"web-2".to_string()),
		"web-2 still listed after its agent exited"
	);
	let ended = watcher.wait_item("web-2 to go", Duration::from_secs(60), |i| {
		i["instance_id"] == hex("web-2") && (i["kind"] == "removed" || i["kind"] == "deregistered")
	})?;
	assert_eq!(ended["kind"], "deregistered", "{ended}");
	assert_eq!(ended["who"], ss58(Sr25519Keyring::Alice), "{ended}");
	assert_watched_lifecycle(&watcher, "web-2", "deregistered");
	let at = node.rpc.call("registry_lease", json!([leases[1], ended["block_hash"]]))?;
	assert!(
		at["lease"].is_object(),
		"web-2's lease had ended by the block of its deregistration: {at}"
	);
	assert!(
		at["lease"]["instances"].as_array().is_some_and(|a| a.is_empty()),
		"web-2 still attached to its lease once deregistered: {at}"
	);
	assert_eq!(instance_ids(&endpoint, "web")?, vec!["web-3".to_string()]);
	Ok(())
}

#[test]
fn elections_hand_over_when_the_leader_stops_and_fence_its_writes() -> Result<()> {
	// Two campaigners need two accounts: the local testnet's orchestrators are Alice, Bob,
	// Charlie and Dave.
	let net = Testnet::start("local")?;
	for node in &net.nodes {
		wait_for("the testnet to finalize", Duration::from_secs(90), || {
			node.finalized_number().ok().filter(|n| *n >= 3)
		})?;
	}
	let endpoint = net.nodes[0].ws_url();
	let (alice, bob) = (ss58(Sr25519Keyring::Alice), ss58(Sr25519Keyring::Bob));

	// The observer replays from a revision taken before anyone campaigns, so that it misses
	// nothing however late it connects.
	let from = ctl_json(&endpoint, &["--key", "//Alice", "put", "/db/observed-from", "now"])?
		["revision"]
		.as_u64()
		.context("revision")?;
	let mut observer =
		ctl_proc("observer", &endpoint, &["elect", "observe", "db", "--rev", &from.to_string()])?;
	let mut first = ctl_proc(
		"alice",
		&endpoint,
		&["--key", "//Alice", "elect", "campaign", "db", "10.0.0.1", "--ttl", "3"],
	)?;
	let elected =
		first.wait_item("Alice to lead", Duration::from_secs(60), |i| i["term"].is_u64())?;
	let alice_term = elected["term"].as_u64().context("term")?;
	assert_eq!(elected["leader"], alice);
	let mut second = ctl_proc(
		"bob",
		&endpoint,
		&["--key", "//Bob", "elect", "campaign", "db", "10.0.0.2", "--ttl", "3"],
	)?;
	// Bob queues behind Alice.
	wait_for("Bob to be a candidate", Duration::from_secs(30), || {
		let e = ctl_json(&endpoint, &["elect", "leader", "db"]).ok()?;
		(e["election"]["candidates"].as_array()?.len() == 2).then_some(())
	})?;
	assert_eq!(
		ctl_json(&endpoint, &["elect", "leader", "db"])?["election"]["leader"]["who"],
		alice
	);
	assert!(second.items().is_empty(), "Bob leads while Alice does: {:?}", second.items());

	// Alice stops past her lease's TTL: Bob leads with a higher term.
	first.signal(libc::SIGSTOP);
	let elected =
		second.wait_item("Bob to lead", Duration::from_secs(60), |i| i["term"].is_u64())?;
	let bob_term = elected["term"].as_u64().context("term")?;
	assert_eq!(bob_term, alice_term + 1, "one hand-over, one term");
	assert_eq!(ctl_json(&endpoint, &["elect", "leader", "db"])?["election"]["leader"]["who"], bob);
	observer.wait_item("the hand-over to Bob", Duration::from_secs(30), |i| {
		i["kind"] == "leader_changed" && i["leader"] == bob && i["term"].as_u64() == Some(bob_term)
	})?;
	// The observer saw Alice lead, then Bob, and no other leader.
	let leaders: Vec<(Value, Value)> = observer
		.items()
		.into_iter()
		.filter(|i| i["kind"] == "leader_changed")
		.map(|i| (i["leader"].clone(), i["term"].clone()))
		.collect();
	assert_eq!(leaders, [(json!(alice), json!(alice_term)), (json!(bob), json!(bob_term))]);

	// Alice wakes up: she learns she lost, and her write fenced by her stale term is refused.
	first.signal(libc::SIGCONT);
	let status = first.wait_exit(Duration::from_secs(30))?;
	assert!(!status.success(), "Alice's campaign should fail once her lease is lost");
	assert!(first.stderr().contains("lost the leadership"), "unexpected: {}", first.stderr());
	let fence = format!("db:{alice_term}");
	let line = ctl_error(
		&endpoint,
		&["--key", "//Alice", "put", "--fence", &fence, "/db/primary", "10.0.0.1"],
	)?;
	assert!(line.contains("fenced write refused"), "unexpected: {line}");
	let fence = format!("db:{bob_term}");
	ctl_json(&endpoint, &["--key", "//Bob", "put", "--fence", &fence, "/db/primary", "10.0.0.2"])?;

	// Bob resigns on SIGTERM: the election ends without a leader, at the next term, and is
	// removed with its last candidate.
	second.signal(libc::SIGTERM);
	assert!(second.wait_exit(Duration::from_secs(30))?.success(), "{}", second.stderr());
	observer.wait_item("the election to end", Duration::from_secs(30), |i| {
		i["kind"] == "leader_changed"
			&& i["leader"].is_null()
			&& i["term"].as_u64() == Some(bob_term + 1)
	})?;
	let election = ctl_json(&endpoint, &["elect", "leader", "db"])?;
	assert_eq!(
		election.get("election"),
		Some(&Value::Null),
		"an election without candidates is null, not missing: {election}"
	);
	// A new campaign under the same name leads at a term above every one the name had: a
	// write fenced at an old term can never hold again.
	let mut third = ctl_proc(
		"charlie",
		&endpoint,
		&["--key", "//Charlie", "elect", "campaign", "db", "10.0.0.3", "--ttl", "3"],
	)?;
	let elected =
		third.wait_item("Charlie to lead", Duration::from_secs(60), |i| i["term"].is_u64())?;
	assert_eq!(elected["term"].as_u64(), Some(bob_term + 2), "{elected}");
	third.signal(libc::SIGTERM);
	assert!(third.wait_exit(Duration::from_secs(30))?.success(), "{}", third.stderr());
	Ok(())
}

#[test]
fn watch_replays_fifty_puts_from_beyond_256_blocks_then_goes_live_and_history_names_alice(
) -> Result<()> {
	let dir = tempfile::tempdir()?;
	let node = dev_node(&dir)?;
	let endpoint = node.ws_url();

	let put = |key: &str, value: &str| -> Result<u64> {
		let out = ctl_json(&endpoint, &["--key", "//Alice", "--wait", "best", "put", key, value])?;
		out["revision"].as_u64().context("revision")
	};
	let before = put("/before", "x")?;
	let mut revisions = Vec::new();
	for n in 0..50 {
		revisions.push(put(&format!("/replay/{n:02}"), &format!("value-{n}"))?);
	}
	assert_eq!(revisions, (before + 1..=before + 50).collect::<Vec<_>>());

	// Beyond a stock node's 256 blocks of state.
	let start = node.best_number()?;
	wait_for("260 more blocks", Duration::from_secs(150), || {
		node.finalized_number().ok().filter(|n| *n > start + 260)
	})?;

	let rev = (before + 1).to_string();
	let mut watch =
		ctl_proc("watch", &endpoint, &["watch", "--prefix", "/replay/", "--rev", &rev])?;
	watch.wait_item("the 50th replayed put", Duration::from_secs(60), |i| {
		i["key"] == hex("/replay/49")
	})?;
	let replayed = watch.items();
	assert_eq!(replayed.len(), 50, "{replayed:?}");
	for (n, item) in replayed.iter().enumerate() {
		assert_eq!(item["kind"], "put");
		assert_eq!(item["key"], hex(&format!("/replay/{n:02}")));
		assert_eq!(item["value"], hex(&format!("value-{n}")));
		assert_eq!(item["revision"].as_u64(), Some(before + 1 + n as u64));
		assert_eq!(item["who"], ss58(Sr25519Keyring::Alice));
	}

	// Then live.
	let live = put("/replay/live", "now")?;
	let item = watch
		.wait_item("the live put", Duration::from_secs(30), |i| i["key"] == hex("/replay/live"))?;
	assert_eq!(item["revision"].as_u64(), Some(live));
	assert_eq!(watch.items().len(), 51);

	// The audit trail names Alice for every change.
	let history = ctl_json(&endpoint, &["history", "prefix", "/replay/"])?;
	let items = history["items"].as_array().context("items")?;
	assert_eq!(items.len(), 51, "{history}");
	for item in items {
		assert_eq!(item["who"], ss58(Sr25519Keyring::Alice));
		assert!(item["time_ms"].as_u64().is_some_and(|t| t > 0));
	}
	let out = ctl(&endpoint, &["history", "key", "/replay/07"])?;
	let text = String::from_utf8(out.stdout)?;
	assert!(text.contains(&ss58(Sr25519Keyring::Alice)) && text.contains("/replay/07"), "{text}");

	// A read at a revision of the replayed range sees the key space as it was.
	let at =
		ctl_json(&endpoint, &["get", "--prefix", "/replay/", "--rev", &(before + 10).to_string()])?;
	assert_eq!(at["kvs"].as_array().context("kvs")?.len(), 10, "{at}");
	// A linearizable read (a read point the validators confirmed) sees every key, the live one
	// included.
	let linearizable =
		ctl_json(&endpoint, &["get", "--prefix", "/replay/", "--at", "linearizable"])?;
	let kvs = linearizable["kvs"].as_array().context("kvs")?;
	assert_eq!(kvs.len(), 51, "{linearizable}");
	assert!(kvs.iter().any(|kv| kv["key"] == hex("/replay/live")), "{linearizable}");
	Ok(())
}
