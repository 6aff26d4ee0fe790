//! A small harness that runs real `regchain-node` processes on free loopback ports.
//!
//! Every node is started with its own base path and ports, its output goes to a log file that is
//! printed when a test fails, and it is killed when its [`Node`] is dropped. Waiting is a condition
//! polled against a deadline ([`wait_for`]); a fixed wait is used only where a test shows that
//! something does not happen, and its comment says so.

pub mod chain;
pub mod extrinsic;
pub mod process;
pub mod rpc;

use std::{
	fs::File,
	io::Read,
	net::TcpListener,
	path::{Path, PathBuf},
	process::{Child, Command, Output, Stdio},
	time::{Duration, Instant},
};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;

pub use process::Proc;
pub use rpc::Rpc;

/// The `regchain-node` binary: `$REGCHAIN_NODE`, or the one built beside this executable in the
/// same cargo target directory (`target/release/regchain-node`).
pub fn node_binary() -> PathBuf {
	built_binary("regchain-node", "REGCHAIN_NODE")
}

/// The workspace binary `name`: the path in `$env_var` if set, or the one built beside this
/// executable in the same cargo target directory (`target/release/<name>`).
pub fn built_binary(name: &str, env_var: &str) -> PathBuf {
	if let Some(path) = std::env::var_os(env_var) {
		return PathBuf::from(path);
	}
	let exe = std::env::current_exe().expect("the current executable has a path");
	let mut dir = exe.parent().expect("an executable lives in a directory").to_path_buf();
	// Test binaries live in `target/release/deps`, binaries in `target/release`.
	if dir.ends_with("deps") {
		dir.pop();
	}
	dir.join(name)
}

/// The `regchainctl` binary: `$REGCHAINCTL`, or the one built beside this executable.
pub fn regchainctl_binary() -> PathBuf {
	built_binary("regchainctl", "REGCHAINCTL")
}

/// Runs `regchain-node` with `args` to completion (for subcommands such as `key` or
/// `export-chain-spec`).
pub fn run_node_command(args: &[&str]) -> Result<Output> {
	Command::new(node_binary())
		.args(args)
		.output()
		.with_context(|| format!("running {} {}", node_binary().display(), args.join(" ")))
}

/// A TCP port free on 127.0.0.1 now, below the kernel's ephemeral range.
///
/// A port the OS hands out for `bind(0)` lies in that range, where the local end of any
/// outgoing connection (an RPC client, a peer redialling) may take it before the node binds it,
/// or while a node is down between a kill and its restart. Ports below the range are taken
/// only by listeners: this process hands each out once, starting at an offset drawn from its
/// pid so that test binaries run side by side rarely meet.
pub fn free_port() -> u16 {
	use std::sync::atomic::{AtomicU32, Ordering};
	const LOW: u32 = 20_000;
	static NEXT: AtomicU32 = AtomicU32::new(0);
	let high = ephemeral_low().clamp(LOW + 1_000, 65_536);
	let span = high - LOW;
	let start = std::process::id().wrapping_mul(7_919) % span;
	for _ in 0..span {
		let port = LOW + (start + NEXT.fetch_add(1, Ordering::Relaxed)) % span;
		let port = u16::try_from(port).expect("below 65536");
		if TcpListener::bind(("127.0.0.1", port)).is_ok() {
			return port;
		}
	}
	panic!("no free TCP port on 127.0.0.1 between {LOW} and {high}")
}

/// The first port of the kernel's ephemeral range (`net.ipv4.ip_local_port_range`), 32768 when
/// it cannot be read.
fn ephemeral_low() -> u32 {
	std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
		.ok()
		.and_then(|range| range.split_whitespace().next()?.parse().ok())
		.unwrap_or(32_768)
}

/// Polls `condition` every 100 ms until it returns `Some`, or fails after `timeout`.
pub fn wait_for<T>(
	what: &str,
	timeout: Duration,
	mut condition: impl FnMut() -> Option<T>,
) -> Result<T> {
	let deadline = Instant::now() + timeout;
	loop {
		if let Some(value) = condition() {
			return Ok(value);
		}
		if Instant::now() >= deadline {
			bail!("timed out after {timeout:?} waiting for {what}");
		}
		std::thread::sleep(Duration::from_millis(100));
	}
}

/// The peer id of the node key `key` (hex, 32 bytes), as `regchain-node key inspect-node-key`
/// computes it.
pub fn peer_id_of_node_key(key: &str, dir: &Path) -> Result<String> {
	let file = dir.join(format!("node-key-{key}"));
	std::fs::write(&file, key)?;
	let out = run_node_command(&["key", "inspect-node-key", "--file", file.to_str().unwrap()])?;
	if !out.status.success() {
		bail!("inspect-node-key failed: {}", String::from_utf8_lossy(&out.stderr));
	}
	Ok(String::from_utf8(out.stdout)?.trim().to_string())
}

/// How to start one node.
#[derive(Clone, Debug)]
pub struct NodeConfig {
	/// A name for logs.
	pub name: String,
	/// Arguments besides ports and the base path, for example `["--dev"]` or
	/// `["--chain", "local", "--alice", "--validator"]`.
	pub args: Vec<String>,
	/// The base path: kept across restarts of the same node.
	pub base_path: PathBuf,
	/// JSON-RPC port.
	pub rpc_port: u16,
	/// Peer-to-peer port.
	pub p2p_port: u16,
	/// The etcd API's port, if the node serves it (`--etcd-listen`).
	pub etcd_port: Option<u16>,
}

impl NodeConfig {
	/// A node named `name` with fresh ports, whose data lives under `dir/name`.
	pub fn new(name: &str, dir: &Path, args: &[&str]) -> Self {
		Self {
			name: name.to_string(),
			args: args.iter().map(|s| s.to_string()).collect(),
			base_path: dir.join(name),
			rpc_port: free_port(),
			p2p_port: free_port(),
			etcd_port: None,
		}
	}

	/// The same node, serving the etcd API on a fresh port.
	pub fn with_etcd(self) -> Self {
		Self { etcd_port: Some(free_port()), ..self }
	}

	/// The `/p2p/...` multiaddress other nodes use to reach this one, whose peer id is `peer_id`.
	pub fn multiaddr(&self, peer_id: &str) -> String {
		format!("/ip4/127.0.0.1/tcp/{}/p2p/{peer_id}", self.p2p_port)
	}
}

/// A running `regchain-node` process, killed on drop.
pub struct Node {
	/// How it was started (and can be started again).
	pub config: NodeConfig,
	child: Option<Child>,
	log_path: PathBuf,
	/// Its JSON-RPC endpoint.
	pub rpc: Rpc,
}

impl Node {
	/// Starts a node and waits until its JSON-RPC answers.
	pub fn start(config: NodeConfig) -> Result<Self> {
		std::fs::create_dir_all(&config.base_path)?;
		let log_path = config.base_path.with_extension("log");
		let log = File::options().create(true).append(true).open(&log_path)?;
		let child = Command::new(node_binary())
			.args(&config.args)
			.arg("--base-path")
			.arg(&config.base_path)
			.args(["--rpc-port", &config.rpc_port.to_string()])
			.args(["--no-prometheus", "--no-telemetry", "--no-mdns"])
			.args(["--listen-addr", &format!("/ip4/127.0.0.1/tcp/{}", config.p2p_port)])
			.args(
				config
					.etcd_port
					.iter()
					.flat_map(|port| ["--etcd-listen".to_string(), format!("127.0.0.1:{port}")]),
			)
			.stdout(Stdio::null())
			.stderr(log)
			.spawn()
			.with_context(|| format!("starting {}", node_binary().display()))?;
		let rpc = Rpc::new(config.rpc_port);
		let mut node = Node { config, child: Some(child), log_path, rpc };
		let name = node.config.name.clone();
		wait_for(&format!("{name}'s RPC"), Duration::from_secs(60), || {
			if node.has_exited() {
				return Some(Err(anyhow!("{name} exited at start-up:\n{}", node.log_tail())));
			}
			node.rpc.call("system_health", Value::Array(vec![])).ok().map(|_| Ok(()))
		})
		.with_context(|| format!("{name}'s log ends:\n{}", node.log_tail()))??;
		Ok(node)
	}

	/// Starts a node and waits until it has finalized a block.
	pub fn start_finalized(config: NodeConfig) -> Result<Self> {
		let node = Node::start(config)?;
		let name = node.config.name.clone();
		wait_for(&format!("{name} to finalize a block"), Duration::from_secs(60), || {
			node.finalized_number().ok().filter(|n| *n >= 1)
		})?;
		Ok(node)
	}

	/// Whether the process has exited.
	pub fn has_exited(&mut self) -> bool {
		match self.child.as_mut() {
			Some(child) => !matches!(child.try_wait(), Ok(None)),
			None => true,
		}
	}

	/// Kills the process (SIGKILL) and waits for it.
	pub fn kill(&mut self) {
		if let Some(mut child) = self.child.take() {
			let _ = child.kill();
			let _ = child.wait();
		}
	}

	/// Starts the same node again, with the same base path and ports.
	pub fn restart(&mut self) -> Result<()> {
		self.kill();
		let again = Node::start(self.config.clone())?;
		*self = again;
		Ok(())
	}

	/// The process id, while it runs.
	pub fn pid(&self) -> Option<u32> {
		self.child.as_ref().map(|c| c.id())
	}

	/// The node's whole log, across its restarts (empty if it cannot be read).
	pub fn log(&self) -> String {
		let mut text = String::new();
		if let Ok(mut file) = File::open(&self.log_path) {
			let _ = file.read_to_string(&mut text);
		}
		text
	}

	/// The last lines of the node's log.
	pub fn log_tail(&self) -> String {
		let text = self.log();
		let lines: Vec<&str> = text.lines().collect();
		lines[lines.len().saturating_sub(40)..].join("\n")
	}

	/// How many peers the node is connected to (`system_health`).
	pub fn peers(&self) -> Result<u64> {
		let health = self.rpc.call("system_health", Value::Array(vec![]))?;
		health["peers"]
			.as_u64()
			.ok_or_else(|| anyhow!("system_health without peers: {health}"))
	}

	/// The `/p2p/...` multiaddress other nodes use to reach this one.
	pub fn multiaddr(&self, peer_id: &str) -> String {
		self.config.multiaddr(peer_id)
	}

	/// Its JSON-RPC endpoint, as regchainctl and WebSocket clients take it.
	pub fn ws_url(&self) -> String {
		format!("ws://127.0.0.1:{}", self.config.rpc_port)
	}

	/// Its etcd API endpoint (`127.0.0.1:PORT`), if it serves one.
	pub fn etcd_endpoint(&self) -> Option<String> {
		self.config.etcd_port.map(|port| format!("127.0.0.1:{port}"))
	}

	/// Best block number.
	pub fn best_number(&self) -> Result<u32> {
		self.rpc.header_number(Value::Null)
	}

	/// Finalized block number.
	pub fn finalized_number(&self) -> Result<u32> {
		let hash = self.rpc.call("chain_getFinalizedHead", Value::Array(vec![]))?;
		self.rpc.header_number(hash)
	}
}

impl Drop for Node {
	fn drop(&mut self) {
		if std::thread::panicking() {
			eprintln!("---- log of {} ----\n{}", self.config.name, self.log_tail());
		}
		self.kill();
	}
}

/// A local testnet of the four validators of the `local` chain (Alice, Bob, Charlie, Dave),
/// each booting from the ones started before it. Its data lives in a temporary directory.
pub struct Testnet {
	/// The validators, in the order Alice, Bob, Charlie, Dave.
	pub nodes: Vec<Node>,
	/// Where their data lives.
	pub dir: tempfile::TempDir,
	/// The chain (`local` or a spec file).
	pub chain: String,
	/// Alice's address, the boot node of every other node.
	pub boot: String,
	/// The validators' peer ids, in the same order as `nodes`.
	pub peer_ids: Vec<String>,
}

/// The well-known validators of the `local` chain and their node keys.
pub const LOCAL_VALIDATORS: [(&str, &str); 4] = [
	("alice", "0000000000000000000000000000000000000000000000000000000000000001"),
	("bob", "0000000000000000000000000000000000000000000000000000000000000002"),
	("charlie", "0000000000000000000000000000000000000000000000000000000000000003"),
	("dave", "0000000000000000000000000000000000000000000000000000000000000004"),
];

impl Testnet {
	/// Starts the four validators of `chain` (`local`, or a spec file of the same validators).
	pub fn start(chain: &str) -> Result<Self> {
		Self::start_with(chain, false, |_| &[])
	}

	/// The same, each validator also serving the etcd API on a fresh port.
	pub fn start_with_etcd(chain: &str) -> Result<Self> {
		Self::start_with(chain, true, |_| &[])
	}

	/// The four validators, the etcd API on if `etcd`, each given the arguments `extra` returns
	/// for its name (`"alice"` … `"dave"`) besides the usual ones.
	pub fn start_with(
		chain: &str,
		etcd: bool,
		extra: impl Fn(&str) -> &'static [&'static str],
	) -> Result<Self> {
		let dir = tempfile::tempdir()?;
		let mut configs = Vec::new();
		let mut addresses = Vec::new();
		let mut peer_ids = Vec::new();
		for (name, key) in LOCAL_VALIDATORS {
			let args = ["--chain", chain, "--validator", &format!("--{name}"), "--node-key", key];
			let mut config = NodeConfig::new(name, dir.path(), &args);
			config.args.extend(extra(name).iter().map(|arg| arg.to_string()));
			let peer_id = peer_id_of_node_key(key, dir.path())?;
			addresses.push(config.multiaddr(&peer_id));
			peer_ids.push(peer_id);
			configs.push(if etcd { config.with_etcd() } else { config });
		}
		// Each validator keeps the others as reserved peers, over the libp2p backend (the node's
		// default), as the validators of a permissioned network should (docs/guide.md, "Validator connectivity"):
		// it dials them again whenever a connection drops, so that a validator back from a crash
		// is at once in the full mesh GRANDPA needs.
		let mut nodes = Vec::new();
		for (i, mut config) in configs.into_iter().enumerate() {
			for (j, address) in addresses.iter().enumerate() {
				if i != j {
					config.args.extend(["--reserved-nodes".to_string(), address.clone()]);
				}
			}
			nodes.push(Node::start(config)?);
		}
		let boot = addresses[0].clone();
		Ok(Testnet { nodes, dir, chain: chain.to_string(), boot, peer_ids })
	}

	/// The last lines of every node's log, to explain a failure.
	pub fn log_tails(&self) -> String {
		self.nodes
			.iter()
			.map(|n| format!("--- {} ---\n{}", n.config.name, n.log_tail()))
			.collect::<Vec<_>>()
			.join("\n")
	}

	/// `result`, with each node's best and finalized block numbers and last log lines added to
	/// its error: what a test that fails in CI must leave behind to be understood.
	pub fn explain<T>(&self, result: Result<T>) -> Result<T> {
		result.map_err(|e| {
			let state = self
				.nodes
				.iter()
				.map(|n| {
					format!(
						"{}: best {:?}, finalized {:?}",
						n.config.name,
						n.best_number().ok(),
						n.finalized_number().ok()
					)
				})
				.collect::<Vec<_>>()
				.join("\n");
			e.context(format!("{state}\n{}", self.log_tails()))
		})
	}

	/// Waits until every validator is connected to every other one, as GRANDPA needs when one of
	/// them goes down; all of them must be running. On a timeout the error names, for each node, the
	/// validators it is connected to, the reputation bans in its log, and its last log lines.
	pub fn wait_for_full_mesh(&self, timeout: Duration) -> Result<()> {
		let others = self.nodes.len() as u64 - 1;
		wait_for("a full mesh of validators", timeout, || {
			self.nodes
				.iter()
				.all(|node| node.peers().is_ok_and(|n| n >= others))
				.then_some(())
		})
		.with_context(|| self.mesh_report())
	}

	/// For each node: the validators it is connected to (`system_peers`), the peer-store bans
	/// in its whole log, and its last log lines.
	fn mesh_report(&self) -> String {
		let name_of = |peer_id: &str| {
			self.peer_ids
				.iter()
				.position(|p| p == peer_id)
				.map_or(peer_id.to_string(), |i| self.nodes[i].config.name.clone())
		};
		let mut report = String::new();
		for node in &self.nodes {
			let peers = match node.rpc.call("system_peers", Value::Array(vec![])) {
				Ok(Value::Array(peers)) => peers
					.iter()
					.filter_map(|p| p["peerId"].as_str())
					.map(name_of)
					.collect::<Vec<_>>()
					.join(", "),
				Ok(other) => format!("unexpected answer {other}"),
				Err(e) => format!("no answer: {e:#}"),
			};
			let bans: Vec<String> =
				node.log().lines().filter(|l| l.contains("Banned")).map(String::from).collect();
			report += &format!(
				"--- {}: connected to [{peers}]; {} ban(s) in its log ---\n{}{}{}\n",
				node.config.name,
				bans.len(),
				bans.join("\n"),
				if bans.is_empty() { "" } else { "\n" },
				node.log_tail()
			);
		}
		report
	}

	/// Starts one more node of the same chain, named `name`, with the node key `0x00…0i`
	/// (`node_key_index`), booting from Alice, with `extra` arguments (for example
	/// `["--validator"]`).
	pub fn start_extra(&self, name: &str, node_key_index: u8, extra: &[&str]) -> Result<Node> {
		let key = format!("{:064x}", node_key_index);
		let mut args = vec!["--chain", &self.chain, "--node-key", &key, "--bootnodes", &self.boot];
		args.extend_from_slice(extra);
		Node::start(NodeConfig::new(name, self.dir.path(), &args))
	}
}

/// A real etcd 3.4 (`$ETCD`, else `etcd` from Debian's `etcd-server`) on free loopback ports,
/// with its data in `dir`: the process, and its client URL.
pub fn start_etcd(dir: &std::path::Path) -> Result<(Proc, String)> {
	let (client, peer) = (free_port(), free_port());
	let client_url = format!("http://127.0.0.1:{client}");
	let peer_url = format!("http://127.0.0.1:{peer}");
	let binary = std::env::var("ETCD").unwrap_or_else(|_| "etcd".into());
	let mut command = Command::new(binary);
	command
		.arg("--name=diff")
		.arg(format!("--data-dir={}", dir.join("etcd").display()))
		.arg(format!("--listen-client-urls={client_url}"))
		.arg(format!("--advertise-client-urls={client_url}"))
		.arg(format!("--listen-peer-urls={peer_url}"))
		.arg(format!("--initial-advertise-peer-urls={peer_url}"))
		.arg(format!("--initial-cluster=diff={peer_url}"));
	Ok((
		Proc::start("etcd", command)
			.context("starting etcd (Debian's etcd-server: scripts/setup.sh)")?,
		client_url,
	))
}

/// A node cut off from its peers by iptables rules on loopback; the rules go when this is
/// dropped.
///
/// Every node listens on 127.0.0.1 under the same uid, and iptables has no match for the
/// process a packet belongs to (the owner match lost `--pid-owner`), so ports are the only
/// handle on one node's traffic. Dropped, in both directions:
/// - every packet to or from the node's own peer-to-peer port: the connections peers dialled
///   to it, and any dial to it during the cut;
/// - every packet to or from the local port of each connection the node holds, in any state but
///   listening and closed (`ss`), with a port in `p2p_ports` at either end;
/// - every connection request (a SYN without ACK) to the other ports in `p2p_ports`, whoever
///   sends it: the local port of a connection the node would dial later is not known before.
///
/// The SYN rules go in before `ss` lists the node's connections, so each connection it dials
/// either sent its SYN before them and is listed (a connection in `SYN-SENT` included), or is
/// never made: nothing the node holds or dials reaches a peer while the cut lasts, and no peer
/// reaches it.
///
/// Not cut: the connections the other nodes already hold to each other (a full mesh, as
/// [`Testnet::wait_for_full_mesh`] makes it, keeps them all connected). But none of them can
/// dial another either while the cut lasts: one of their connections that drops stays down
/// until the rules go. Cuts of seconds are what this is for: connections stay up, TCP delivers
/// what was held back when the rules go, and a dialler sends its held-back SYN again.
pub struct Isolation {
	rules: Vec<Vec<String>>,
}

impl Isolation {
	/// Cuts `node` off from the peers listening on `p2p_ports` (its own port included).
	pub fn cut(node: &Node, p2p_ports: &[u16]) -> Result<Self> {
		let pid = node.pid().context("the node is not running")?;
		let own = node.config.p2p_port;
		let mut isolation = Isolation { rules: Vec::new() };
		// New connections to the others first, so that none is made after `ss` below looks.
		for port in p2p_ports.iter().filter(|port| **port != own) {
			isolation.insert(&["--syn", "--dport", &port.to_string()])?;
		}
		let out = Command::new("ss")
			.args(["-tnpH", "state", "connected"])
			.output()
			.context("running ss")?;
		if !out.status.success() {
			bail!("ss failed: {}", String::from_utf8_lossy(&out.stderr));
		}
		let owner = format!("pid={pid},");
		let mut local_ports = std::collections::BTreeSet::from([own]);
		for line in String::from_utf8_lossy(&out.stdout).lines().filter(|l| l.contains(&owner)) {
			// The local and peer addresses are the first two `address:port` fields, after the
			// state and the queues.
			let mut ports = line
				.split_whitespace()
				.filter_map(|field| field.rsplit_once(':')?.1.parse::<u16>().ok());
			if let (Some(local), Some(peer)) = (ports.next(), ports.next()) {
				if p2p_ports.contains(&local) || p2p_ports.contains(&peer) {
					local_ports.insert(local);
				}
			}
		}
		for port in local_ports {
			for direction in ["--sport", "--dport"] {
				isolation.insert(&[direction, &port.to_string()])?;
			}
		}
		Ok(isolation)
	}

	/// Inserts the rule dropping the loopback TCP packets that `matches` selects; it is deleted
	/// on drop.
	fn insert(&mut self, matches: &[&str]) -> Result<()> {
		let rule: Vec<String> = ["INPUT", "-i", "lo", "-p", "tcp"]
			.iter()
			.chain(matches)
			.chain(&["-j", "DROP"])
			.map(|arg| arg.to_string())
			.collect();
		let status = Command::new("iptables")
			.arg("-I")
			.args(&rule)
			.status()
			.context("running iptables")?;
		if !status.success() {
			bail!("iptables -I {} failed (the test needs root and iptables)", rule.join(" "));
		}
		self.rules.push(rule);
		Ok(())
	}
}

impl Drop for Isolation {
	fn drop(&mut self) {
		for rule in &self.rules {
			let _ = Command::new("iptables").arg("-D").args(rule).status();
		}
	}
}
