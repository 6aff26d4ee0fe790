//! The etcd v3 API, driven by the real `etcdctl` 3.4 (Debian's `etcd-client`) as separate
//! processes against real `regchain-node` processes: KV, txn, watch, leases, `lock` and `elect`
//! with competing processes, `endpoint status`, `member list`, etcd's error messages, and the
//! same keys seen through `regchainctl` and the registry RPC.

use std::{
	io::Write,
	process::{Command, Output, Stdio},
	time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use regchain_testing::{wait_for, Node, NodeConfig, Proc, Testnet};
use serde_json::{json, Value};

/// `etcdctl` (`$ETCDCTL`, else from `PATH`) against `endpoints`, with etcd's v3 API and a
/// command timeout long enough for a finalized write.
fn etcdctl_command(endpoints: &str, args: &[&str]) -> Command {
	let binary = std::env::var("ETCDCTL").unwrap_or_else(|_| "etcdctl".into());
	let mut command = Command::new(binary);
	command
		.env("ETCDCTL_API", "3")
		.arg(format!("--endpoints={endpoints}"))
		.arg("--command-timeout=30s")
		.args(args);
	command
}

fn etcdctl_with_input(endpoints: &str, args: &[&str], input: &str) -> Result<Output> {
	let mut child = etcdctl_command(endpoints, args)
		.stdin(Stdio::piped())
		.stdout(Stdio::piped())
		.stderr(Stdio::piped())
		.spawn()
		.context("starting etcdctl (install Debian's etcd-client: scripts/setup.sh)")?;
	child.stdin.take().context("stdin")?.write_all(input.as_bytes())?;
	Ok(child.wait_with_output()?)
}

/// Runs etcdctl to completion; its stdout, or an error with its stderr.
fn etcdctl(endpoints: &str, args: &[&str]) -> Result<String> {
	let out = etcdctl_with_input(endpoints, args, "")?;
	if !out.status.success() {
		bail!("etcdctl {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
	}
	Ok(String::from_utf8(out.stdout)?)
}

/// Runs etcdctl, which must fail; its stderr.
fn etcdctl_error(endpoints: &str, args: &[&str]) -> Result<String> {
	let out = etcdctl_with_input(endpoints, args, "")?;
	if out.status.success() {
		bail!("etcdctl {} succeeded where it should fail: {}", args.join(" "), String::from_utf8_lossy(&out.stdout));
	}
	Ok(String::from_utf8(out.stderr)?)
}

fn etcdctl_json(endpoints: &str, args: &[&str]) -> Result<Value> {
	let mut all = vec!["-w", "json"];
	all.extend_from_slice(args);
	Ok(serde_json::from_str(&etcdctl(endpoints, &all)?)?)
}

/// The lines of etcdctl's simple output.
fn lines(text: &str) -> Vec<&str> {
	text.lines().collect()
}

/// The answer of `etcdctl txn -i`, without its prompts.
fn txn_answer(text: &str) -> Vec<&str> {
	text.lines().filter(|l| !l.ends_with(':')).collect()
}

/// A dev node serving the etcd API on a free port; returns it with its etcd endpoint.
fn dev_node_with_etcd(dir: &tempfile::TempDir) -> Result<(Node, String)> {
	let node = Node::start_finalized(NodeConfig::new("dev", dir.path(), &["--dev"]).with_etcd())?;
	let endpoint = node.etcd_endpoint().context("an etcd endpoint")?;
	wait_for("the etcd API to answer", Duration::from_secs(60), || etcdctl(&endpoint, &["get", "/probe"]).ok())?;
	Ok((node, endpoint))
}

#[test]
fn etcdctl_reads_and_writes_the_registry_key_space() -> Result<()> {
	let dir = tempfile::tempdir()?;
	let (node, ep) = dev_node_with_etcd(&dir)?;

	// Put and get: single keys, prefixes of keys of different lengths, limits, sorting.
	for (k, v) in [("/svc/a", "1"), ("/svc/ab", "2"), ("/svc/b", "3"), ("/z", "9")] {
		assert_eq!(etcdctl(&ep, &["put", k, v])?, "OK\n");
	}
	assert_eq!(lines(&etcdctl(&ep, &["get", "/svc/a"])?), ["/svc/a", "1"]);
	assert_eq!(lines(&etcdctl(&ep, &["get", "--prefix", "/svc/a"])?), ["/svc/a", "1", "/svc/ab", "2"]);
	assert_eq!(lines(&etcdctl(&ep, &["get", "--prefix", "/svc/", "--limit", "2", "--keys-only"])?), [
		"/svc/a", "", "/svc/ab", ""
	]);
	assert_eq!(
		lines(&etcdctl(&ep, &["get", "--prefix", "/svc/", "--sort-by=MODIFY", "--order=DESCEND", "--keys-only"])?)
			.into_iter()
			.filter(|l| !l.is_empty())
			.collect::<Vec<_>>(),
		["/svc/b", "/svc/ab", "/svc/a"]
	);
	assert_eq!(etcdctl(&ep, &["get", "/missing"])?, "", "a missing key is an empty answer");

	// Revisions: a read at a past revision sees the old value; versions count writes.
	let first = etcdctl_json(&ep, &["get", "/svc/a"])?;
	let first_rev = first["kvs"][0]["mod_revision"].as_i64().context("mod_revision")?;
	etcdctl(&ep, &["put", "/svc/a", "10"])?;
	let now = etcdctl_json(&ep, &["get", "/svc/a"])?;
	assert_eq!(now["kvs"][0]["version"], 2);
	assert_eq!(now["kvs"][0]["create_revision"], first["kvs"][0]["create_revision"]);
	assert_eq!(now["header"]["revision"], now["kvs"][0]["mod_revision"], "the header carries the current revision");
	assert_eq!(lines(&etcdctl(&ep, &["get", "/svc/a", "--rev", &first_rev.to_string()])?), ["/svc/a", "1"]);

	// Delete a prefix: the count of deleted keys, then nothing left.
	assert_eq!(etcdctl(&ep, &["del", "--prefix", "/svc/a"])?, "2\n");
	assert_eq!(etcdctl(&ep, &["get", "--prefix", "/svc/a"])?, "");
	assert_eq!(etcdctl(&ep, &["del", "/nothing-here"])?, "0\n");

	// Txn, interactive form on stdin: compares, then success ops, then failure ops.
	let txn = "value(\"/z\") = \"9\"\n\nput /t yes\n\nput /t no\n\n";
	let out = etcdctl_with_input(&ep, &["txn", "-i"], txn)?;
	assert!(out.status.success(), "txn failed: {}", String::from_utf8_lossy(&out.stderr));
	assert_eq!(txn_answer(&String::from_utf8(out.stdout)?), ["SUCCESS", "", "OK"]);
	let txn = "mod(\"/z\") > \"100000\"\n\nput /t yes\n\nget /t\n\n";
	let out = etcdctl_with_input(&ep, &["txn", "-i"], txn)?;
	assert_eq!(txn_answer(&String::from_utf8(out.stdout)?), ["FAILURE", "", "/t", "yes"]);

	// Interoperation: the registry RPC sees what etcdctl wrote.
	let answer = node.rpc.call("registry_range", json!([{ "key": "0x2f74" }]))?;
	assert_eq!(answer["kvs"][0]["value"], "0x796573", "registry_range sees /t = yes");

	// etcd's errors.
	let err = etcdctl_error(&ep, &["put", "/leased", "v", "--lease=12345"])?;
	assert!(err.contains("requested lease not found"), "{err}");
	let err = etcdctl_error(&ep, &["get", "/svc/b", "--rev", "99999999"])?;
	assert!(err.contains("required revision is a future revision"), "{err}");
	Ok(())
}

#[test]
fn etcdctl_watches_leases_locks_and_elections() -> Result<()> {
	let dir = tempfile::tempdir()?;
	let (_node, ep) = dev_node_with_etcd(&dir)?;

	// A live watch of a prefix, then a watch replayed from a past revision.
	let start = etcdctl_json(&ep, &["put", "/w/0", "zero"])?["header"]["revision"].as_i64().context("revision")?;
	let mut live = Proc::start("watch", etcdctl_command(&ep, &["watch", "--prefix", "/w/"]))?;
	std::thread::sleep(Duration::from_secs(1));
	etcdctl(&ep, &["put", "/w/1", "one"])?;
	etcdctl(&ep, &["del", "/w/1"])?;
	live.wait_lines("a put then a delete", Duration::from_secs(30), |l| {
		(l.len() >= 5).then_some(())
	})?;
	assert_eq!(&live.lines()[..5], ["PUT", "/w/1", "one", "DELETE", "/w/1"]);
	let mut replay =
		Proc::start("replay", etcdctl_command(&ep, &["watch", "--prefix", "/w/", "--rev", &start.to_string()]))?;
	replay.wait_lines("the history", Duration::from_secs(30), |l| (l.len() >= 8).then_some(()))?;
	assert_eq!(&replay.lines()[..8], ["PUT", "/w/0", "zero", "PUT", "/w/1", "one", "DELETE", "/w/1"]);

	// Leases: grant, attach a key, time to live with keys, keep alive once, revoke.
	let granted = etcdctl(&ep, &["lease", "grant", "30"])?;
	let id = granted.split_whitespace().nth(1).context("lease id")?.to_string();
	assert!(granted.contains("granted with TTL(30s)"), "{granted}");
	etcdctl(&ep, &["put", "/leased/k", "v", &format!("--lease={id}")])?;
	let ttl = etcdctl(&ep, &["lease", "timetolive", &id, "--keys"])?;
	assert!(ttl.contains("granted with TTL(30s)") && ttl.contains("attached keys([/leased/k])"), "{ttl}");
	let kept = etcdctl(&ep, &["lease", "keep-alive", "--once", &id])?;
	assert!(kept.contains("keepalived with TTL(30)"), "{kept}");
	assert!(etcdctl(&ep, &["lease", "list"])?.contains(&id));
	assert!(etcdctl(&ep, &["lease", "revoke", &id])?.contains("revoked"));
	assert_eq!(etcdctl(&ep, &["get", "/leased/k"])?, "", "revoking the lease deleted its key");
	assert!(etcdctl(&ep, &["lease", "timetolive", &id])?.contains("already expired"));

	// A short lease ends by itself: its key goes.
	let granted = etcdctl(&ep, &["lease", "grant", "2"])?;
	let short = granted.split_whitespace().nth(1).context("lease id")?.to_string();
	etcdctl(&ep, &["put", "/leased/short", "v", &format!("--lease={short}")])?;
	wait_for("the 2 s lease to expire", Duration::from_secs(30), || {
		etcdctl(&ep, &["get", "/leased/short"]).ok().filter(|out| out.is_empty())
	})?;

	// Lock: the second holder gets the lock only once the first has released it.
	let mut first = Proc::start("lock-1", etcdctl_command(&ep, &["lock", "mutex", "--", "sh", "-c", "echo held; sleep 3; echo done"]))?;
	first.wait_lines("the first lock", Duration::from_secs(60), |l| l.iter().any(|x| x == "held").then_some(()))?;
	let waiting_since = Instant::now();
	let mut second = Proc::start("lock-2", etcdctl_command(&ep, &["lock", "mutex", "--", "echo", "second"]))?;
	second.wait_lines("the second lock", Duration::from_secs(60), |l| l.iter().any(|x| x == "second").then_some(()))?;
	assert!(first.lines().iter().any(|x| x == "done"), "the second got the lock while the first held it");
	assert!(waiting_since.elapsed() >= Duration::from_secs(2));

	// Elect: a second candidate leads only once the first resigns (SIGINT makes etcdctl resign).
	let mut leader = Proc::start("elect-1", etcdctl_command(&ep, &["elect", "db", "node-1"]))?;
	leader.wait_lines("node-1 to lead", Duration::from_secs(60), |l| l.iter().any(|x| x == "node-1").then_some(()))?;
	let mut follower = Proc::start("elect-2", etcdctl_command(&ep, &["elect", "db", "node-2"]))?;
	std::thread::sleep(Duration::from_secs(2));
	assert!(!follower.lines().iter().any(|x| x == "node-2"), "two leaders at once");
	leader.signal(libc::SIGINT);
	follower.wait_lines("node-2 to lead", Duration::from_secs(60), |l| l.iter().any(|x| x == "node-2").then_some(()))?;

	// Status and members.
	let status = etcdctl_json(&ep, &["endpoint", "status"])?;
	assert_eq!(status[0]["Status"]["version"], "3.4.0");
	assert!(status[0]["Status"]["raftIndex"].as_u64().unwrap_or(0) >= 1, "{status}");
	let members = etcdctl(&ep, &["member", "list"])?;
	assert!(members.contains(&format!("http://{ep}")), "{members}");
	Ok(())
}

#[test]
fn etcdctl_fails_over_between_validators_and_its_lease_survives() -> Result<()> {
	let mut net = Testnet::start_with_etcd("local")?;
	for node in &net.nodes {
		wait_for("the testnet to finalize", Duration::from_secs(120), || {
			node.finalized_number().ok().filter(|n| *n >= 2)
		})?;
	}
	let endpoints: Vec<String> = net.nodes.iter().filter_map(Node::etcd_endpoint).collect();
	for ep in &endpoints {
		wait_for("every etcd API to answer", Duration::from_secs(60), || etcdctl(ep, &["get", "/probe"]).ok())?;
	}
	// Dave's endpoint first: etcdctl uses it until Dave goes away.
	let all = [&endpoints[3], &endpoints[0], &endpoints[1], &endpoints[2]].map(String::as_str).join(",");
	// Every validator must reach the others directly: else finality stops when the one that
	// relays between them goes, and rightly so.
	for node in &net.nodes {
		wait_for("a full mesh of validators", Duration::from_secs(90), || {
			let health = node.rpc.call("system_health", json!([])).ok()?;
			(health["peers"].as_u64()? >= 3).then_some(())
		})?;
	}

	// A write through Alice is read through Bob once his node has finalized it.
	etcdctl(&endpoints[0], &["put", "/fo/k", "from-alice"])?;
	wait_for("Bob to read Alice's write", Duration::from_secs(30), || {
		etcdctl(&endpoints[1], &["get", "/fo/k", "--print-value-only"]).ok().filter(|v| v == "from-alice\n")
	})?;
	let members = etcdctl(&endpoints[2], &["member", "list"])?;
	assert_eq!(members.lines().count(), 4, "the four validators are the members: {members}");

	// A short lease kept alive by etcdctl across all endpoints, with a key attached.
	let granted = etcdctl(&all, &["lease", "grant", "10"])?;
	let id = granted.split_whitespace().nth(1).context("lease id")?.to_string();
	etcdctl(&all, &["put", "/fo/leased", "v", &format!("--lease={id}")])?;
	let mut keeper = Proc::start("keep-alive", etcdctl_command(&all, &["lease", "keep-alive", &id]))?;
	keeper.wait_lines("a keep-alive", Duration::from_secs(30), |l| {
		l.iter().any(|x| x.contains("keepalived")).then_some(())
	})?;

	// The validator etcdctl uses first goes away; the others carry on.
	net.nodes[3].kill();
	let before = keeper.lines().len();
	if let Err(e) = etcdctl(&all, &["put", "/fo/after", "still-writable"]) {
		for node in &net.nodes[..3] {
			eprintln!("{}: best {:?} finalized {:?}\n{}", node.config.name, node.best_number().ok(), node.finalized_number().ok(), node.log_tail());
		}
		return Err(e);
	}
	assert_eq!(etcdctl(&all, &["get", "/fo/after", "--print-value-only"])?, "still-writable\n");
	// Well past the lease's TTL, it is still kept alive and its key still there.
	keeper.wait_lines("keep-alives after the failover", Duration::from_secs(60), |l| {
		(l.iter().skip(before).filter(|x| x.contains("keepalived")).count() >= 3).then_some(())
	})?;
	std::thread::sleep(Duration::from_secs(3));
	assert_eq!(etcdctl(&all, &["get", "/fo/leased", "--print-value-only"])?, "v\n", "the lease survived the failover");
	Ok(())
}
