//! The systems under test, started and stopped by the harness: etcd 3.4 with one or three
//! members, and a four-validator regchain testnet serving the etcd API.

use std::{
	path::{Path, PathBuf},
	process::Command,
	time::{Duration, Instant},
};

use anyhow::{anyhow, bail, Context, Result};
use regchain_testing::{free_port, process::Proc, Testnet};

/// Which system.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
	/// etcd 3.4, one member.
	Etcd1,
	/// etcd 3.4, three members on loopback.
	Etcd3,
	/// regchain, four validators on loopback, each serving the etcd API.
	Regchain,
}

impl Kind {
	pub fn name(self) -> &'static str {
		match self {
			Kind::Etcd1 => "etcd1",
			Kind::Etcd3 => "etcd3",
			Kind::Regchain => "regchain",
		}
	}

	pub fn title(self) -> &'static str {
		match self {
			Kind::Etcd1 => "etcd 3.4, 1 member",
			Kind::Etcd3 => "etcd 3.4, 3 members",
			Kind::Regchain => "regchain, 4 validators",
		}
	}
}

enum Members {
	Etcd(Vec<Option<Proc>>),
	Regchain(Testnet),
}

/// A running system.
pub struct System {
	pub kind: Kind,
	members: Members,
	/// The etcd API endpoints that writers use: every etcd member; Alice, Bob and Charlie.
	pub write_endpoints: Vec<String>,
	/// The endpoint that watchers use, a member writers do not talk to where there is one: the
	/// last etcd member; Dave.
	pub watch_endpoint: String,
	/// regchain only: Dave's JSON-RPC (native writes, signed by Dave), and Alice's (native
	/// watches).
	pub native: Option<(String, String)>,
	/// Every member's data directory.
	pub data_dirs: Vec<PathBuf>,
	_dir: Option<tempfile::TempDir>,
}

impl System {
	/// Starts `kind` and waits until it serves the etcd API.
	pub async fn start(kind: Kind) -> Result<System> {
		let system = match kind {
			Kind::Etcd1 => start_etcd(1)?,
			Kind::Etcd3 => start_etcd(3)?,
			Kind::Regchain => start_regchain()?,
		};
		let mut endpoints = system.write_endpoints.clone();
		endpoints.push(system.watch_endpoint.clone());
		for endpoint in endpoints {
			wait_serving(&endpoint)
				.await
				.with_context(|| format!("{} at {endpoint}", kind.title()))?;
		}
		Ok(system)
	}

	/// The process ids of the members still running.
	pub fn pids(&mut self) -> Vec<u32> {
		match &mut self.members {
			Members::Etcd(procs) => procs.iter().flatten().map(|p| p.pid() as u32).collect(),
			Members::Regchain(net) => net
				.nodes
				.iter_mut()
				.filter_map(|n| if n.has_exited() { None } else { n.pid() })
				.collect(),
		}
	}

	/// Kills (SIGKILL) one member that writers talk to but watchers do not: etcd's second
	/// member, regchain's Charlie. Returns its name.
	pub fn kill_one(&mut self) -> Result<&'static str> {
		match &mut self.members {
			Members::Etcd(procs) if procs.len() >= 3 => {
				let proc = procs[1].take().context("already killed")?;
				proc.signal(libc::SIGKILL);
				drop(proc);
				self.write_endpoints.remove(1);
				Ok("member 2 of 3")
			},
			Members::Etcd(_) => bail!("a single member cannot lose one"),
			Members::Regchain(net) => {
				net.nodes[2].kill();
				self.write_endpoints.remove(2);
				Ok("Charlie (validator 3 of 4)")
			},
		}
	}

	/// The last lines of the members' logs, to explain a failure.
	pub fn log_tails(&self) -> String {
		match &self.members {
			Members::Etcd(procs) => procs
				.iter()
				.flatten()
				.map(|p| {
					let err = p.stderr();
					err[err.len().saturating_sub(2000)..].to_string()
				})
				.collect::<Vec<_>>()
				.join("\n"),
			Members::Regchain(net) => net.log_tails(),
		}
	}
}

fn start_etcd(members: usize) -> Result<System> {
	let dir = tempfile::tempdir()?;
	let ports: Vec<(u16, u16)> = (0..members).map(|_| (free_port(), free_port())).collect();
	let cluster = ports
		.iter()
		.enumerate()
		.map(|(i, (_, peer))| format!("m{i}=http://127.0.0.1:{peer}"))
		.collect::<Vec<_>>()
		.join(",");
	let binary = std::env::var("ETCD").unwrap_or_else(|_| "etcd".into());
	let mut procs = Vec::new();
	let mut data_dirs = Vec::new();
	let mut endpoints = Vec::new();
	for (i, (client, peer)) in ports.iter().enumerate() {
		let data = dir.path().join(format!("m{i}"));
		let client_url = format!("http://127.0.0.1:{client}");
		let peer_url = format!("http://127.0.0.1:{peer}");
		let mut command = Command::new(&binary);
		command
			.arg(format!("--name=m{i}"))
			.arg(format!("--data-dir={}", data.display()))
			.arg(format!("--listen-client-urls={client_url}"))
			.arg(format!("--advertise-client-urls={client_url}"))
			.arg(format!("--listen-peer-urls={peer_url}"))
			.arg(format!("--initial-advertise-peer-urls={peer_url}"))
			.arg(format!("--initial-cluster={cluster}"))
			.arg("--initial-cluster-state=new")
			.arg("--initial-cluster-token=regchain-bench")
			// etcd keeps every revision until compacted, and its default 2 GiB space quota ran
			// out during a full run (an alarm then refuses every write): 8 GiB, the largest size
			// etcd's documentation suggests.
			.arg("--quota-backend-bytes=8589934592")
			// Warnings only: at a thousand requests in flight etcd logs every slow request.
			.arg("--log-level=warn")
			.arg("--logger=zap");
		procs.push(Some(
			Proc::start(&format!("etcd m{i}"), command)
				.context("starting etcd (Debian's etcd-server: scripts/setup.sh)")?,
		));
		data_dirs.push(data);
		endpoints.push(client_url);
	}
	let watch_endpoint = endpoints.last().cloned().unwrap_or_default();
	Ok(System {
		kind: if members == 1 { Kind::Etcd1 } else { Kind::Etcd3 },
		members: Members::Etcd(procs),
		write_endpoints: endpoints,
		watch_endpoint,
		native: None,
		data_dirs,
		_dir: Some(dir),
	})
}

fn start_regchain() -> Result<System> {
	let net = Testnet::start_with_etcd("local")?;
	let endpoint = |i: usize| -> Result<String> {
		net.nodes[i]
			.etcd_endpoint()
			.ok_or_else(|| anyhow!("validator {i} serves no etcd API"))
	};
	let write_endpoints = vec![endpoint(0)?, endpoint(1)?, endpoint(2)?];
	let watch_endpoint = endpoint(3)?;
	let native =
		Some((net.nodes[3].ws_url(), format!("ws://127.0.0.1:{}", net.nodes[0].config.rpc_port)));
	let data_dirs = net.nodes.iter().map(|n| n.config.base_path.clone()).collect();
	regchain_testing::wait_for("the testnet's finality", Duration::from_secs(90), || {
		net.nodes
			.iter()
			.all(|n| n.finalized_number().map(|f| f >= 2).unwrap_or(false))
			.then_some(())
	})
	.map_err(|e| anyhow!("{e}\n{}", net.log_tails()))?;
	Ok(System {
		kind: Kind::Regchain,
		members: Members::Regchain(net),
		write_endpoints,
		watch_endpoint,
		native,
		data_dirs,
		_dir: None,
	})
}

/// Waits until `endpoint` answers a serializable read.
async fn wait_serving(endpoint: &str) -> Result<()> {
	let deadline = Instant::now() + Duration::from_secs(60);
	let mut last = String::new();
	while Instant::now() < deadline {
		match etcd_client::Client::connect([endpoint], None).await {
			Ok(mut client) => {
				let options = etcd_client::GetOptions::new().with_serializable();
				match client.get("/bench/ping", Some(options)).await {
					Ok(_) => return Ok(()),
					Err(e) => last = e.to_string(),
				}
			},
			Err(e) => last = e.to_string(),
		}
		tokio::time::sleep(Duration::from_millis(250)).await;
	}
	bail!("not serving within 60 s: {last}")
}

/// What the members of a system use: CPU time, resident memory and disk.
#[derive(Clone, Copy, Debug, Default)]
pub struct Usage {
	/// CPU seconds (user + system) of the running members since they started.
	pub cpu_seconds: f64,
	/// Resident memory of the largest member, and of all, in bytes.
	pub max_rss: u64,
	pub total_rss: u64,
	/// Bytes on disk under the members' data directories.
	pub disk: u64,
}

impl Usage {
	pub fn of(system: &mut System) -> Usage {
		let mut usage = Usage::default();
		for pid in system.pids() {
			let (cpu, rss) = process_usage(pid).unwrap_or_default();
			usage.cpu_seconds += cpu;
			usage.max_rss = usage.max_rss.max(rss);
			usage.total_rss += rss;
		}
		usage.disk = system.data_dirs.iter().map(|d| disk_usage(d)).sum();
		usage
	}
}

/// CPU seconds (user + system, every thread) the harness's own process has used so far: the
/// load generator, its gRPC clients and its watchers, which share the cores with the systems
/// measured. Child processes (the members, etcdctl) are not in it.
pub fn harness_cpu_seconds() -> Option<f64> {
	process_usage(std::process::id()).map(|(cpu, _)| cpu)
}

/// CPU seconds and resident bytes of a process, from /proc.
fn process_usage(pid: u32) -> Option<(f64, u64)> {
	let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
	// The fields after the command name, which is in parentheses and may hold spaces.
	let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
	// utime and stime are fields 14 and 15 of stat(5), 12 and 13 after the name and state.
	let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
	// SAFETY: sysconf has no preconditions.
	let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
	let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
	let rss_kib: u64 = status
		.lines()
		.find_map(|l| l.strip_prefix("VmRSS:"))
		.and_then(|v| v.split_whitespace().next())
		.and_then(|v| v.parse().ok())?;
	Some((ticks as f64 / hz, rss_kib * 1024))
}

/// Bytes allocated on disk under `path` (as `du`, not apparent sizes).
pub fn disk_usage(path: &Path) -> u64 {
	use std::os::unix::fs::MetadataExt;
	let Ok(meta) = std::fs::symlink_metadata(path) else { return 0 };
	let mut total = meta.blocks() * 512;
	if meta.is_dir() {
		if let Ok(entries) = std::fs::read_dir(path) {
			total += entries.flatten().map(|e| disk_usage(&e.path())).sum::<u64>();
		}
	}
	total
}
