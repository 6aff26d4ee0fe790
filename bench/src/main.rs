//! `regchain-bench`: regchain and etcd 3.4 side by side, on one machine, in one run, through one
//! etcd v3 client (and regchain's native client as well). It starts every system itself, runs
//! each workload at each concurrency, and writes `results.json` and `results.md` (plots are
//! drawn from the JSON by `bench/plot.py`; `scripts/bench.sh` runs both).
//!
//! Systems: etcd 3.4 with one member and with three (Debian's `etcd-server`, `$ETCD` to use
//! another binary), and a four-validator regchain testnet (`regchain-node` from the same target
//! directory, `$REGCHAIN_NODE` to use another), each validator serving the etcd API. Writers use
//! every etcd member, or Alice, Bob and Charlie; watchers and the native client's reads use the
//! last etcd member, or Dave, so that what a watcher sees has crossed the network (with one etcd
//! member, the watcher is on the member written to: nothing crosses a network).

mod load;
mod report;
mod systems;
mod workloads;

use std::{
	collections::BTreeMap,
	path::PathBuf,
	time::{Duration, Instant},
};

use anyhow::{Context, Result};
use clap::Parser;
use regchain_client::Wait;
use serde::{Deserialize, Serialize};

use load::Summary;
use systems::{Kind, System, Usage};
use workloads::progress;

/// regchain and etcd 3.4 side by side: latency, throughput, resources (docs/results.md).
#[derive(Parser, Debug)]
#[command(version)]
struct Cli {
	/// A few seconds a workload, no check perf: keeps the harness working (CI).
	#[arg(long)]
	quick: bool,
	/// Where results.json and results.md go.
	#[arg(long, default_value = "docs/results")]
	out: PathBuf,
	/// The systems, in order.
	#[arg(long, value_enum, value_delimiter = ',', default_value = "etcd1,etcd3,regchain")]
	systems: Vec<Kind>,
	/// Requests in flight for each latency workload [default: 1,10,100,1000; quick 1,10,100].
	#[arg(long, value_delimiter = ',')]
	concurrency: Vec<usize>,
	/// Keep the other systems' results already in OUT/results.json, replacing only those of
	/// the systems measured now (to measure one system again).
	#[arg(long)]
	merge: bool,
	/// Only write OUT/results.md again from OUT/results.json, measuring nothing.
	#[arg(long)]
	report_only: bool,
	/// Seconds each latency workload runs at each concurrency [default: 10, quick 2].
	#[arg(long)]
	seconds: Option<f64>,
	/// Seconds of each step of the throughput ramp [default: 10, quick 2].
	#[arg(long)]
	step_seconds: Option<f64>,
	/// Seconds the highest rate that held a step is offered again [default: 60, quick 3].
	#[arg(long)]
	sustain_seconds: Option<f64>,
	/// Offered rates of the throughput ramp, writes a second, tried in order until one fails.
	#[arg(long, value_delimiter = ',', default_value = "250,500,1000,2000,3300,5100,8000")]
	rates: Vec<f64>,
	/// Seconds each system idles after start, to measure memory and disk growth at rest
	/// [default: 60, quick 3].
	#[arg(long)]
	idle_seconds: Option<f64>,
	/// How many times `etcdctl check perf --load=s` runs against each system [default: 3,
	/// quick 0].
	#[arg(long)]
	check_perf: Option<u32>,
}

/// One measured point.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Point {
	pub system: String,
	/// `write`, `write-inclusion`, `read-serializable`, `read-linearizable`, `watch-delivery`,
	/// `registration`, `throughput-step`, `throughput-sustained`, `lease-expiry-all-up`,
	/// `lease-expiry-one-down`.
	pub workload: String,
	/// `etcd-api` or `native`.
	pub client: String,
	/// Requests in flight (the most in flight, for the throughput steps; the number of leases,
	/// for lease expiry).
	pub concurrency: usize,
	/// The offered rate, for the throughput steps.
	#[serde(skip_serializing_if = "Option::is_none")]
	pub offered_rate: Option<f64>,
	/// Not flattened: serde_json's `arbitrary_precision`, which the workspace enables, cannot
	/// read numbers back through `#[serde(flatten)]`.
	pub summary: Summary,
	/// Cores the members used on average during the workload (from /proc, over the workload's
	/// wall-clock time), beside the harness's own in `summary`; measured for the closed-loop
	/// writes and reads only.
	#[serde(default, skip_serializing_if = "Option::is_none")]
	pub members_cpu_cores: Option<f64>,
}

/// One `etcdctl check perf --load=s` run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CheckPerf {
	pub passed: bool,
	/// Its PASS/FAIL lines.
	pub verdicts: Vec<String>,
}

/// Everything measured on one system.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SystemResult {
	pub system: String,
	pub title: String,
	pub points: Vec<Point>,
	/// Resource figures (see `report::METRICS`).
	#[serde(deserialize_with = "nan_map")]
	pub metrics: BTreeMap<String, f64>,
	pub check_perf: Vec<CheckPerf>,
	/// Why a workload could not run, if one could not.
	pub failures: Vec<String>,
}

fn nan_map<'de, D: serde::Deserializer<'de>>(d: D) -> Result<BTreeMap<String, f64>, D::Error> {
	let map = BTreeMap::<String, Option<f64>>::deserialize(d)?;
	Ok(map.into_iter().map(|(k, v)| (k, v.unwrap_or(f64::NAN))).collect())
}

/// The whole run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Results {
	/// Seconds since the Unix epoch when the run started.
	pub started: u64,
	pub quick: bool,
	pub machine: String,
	pub etcd_version: String,
	pub settings: String,
	pub systems: Vec<SystemResult>,
}

struct Settings {
	seconds: Duration,
	step: Duration,
	sustain: Duration,
	idle: Duration,
	check_perf: u32,
	leases: u64,
	registrations: u64,
}

#[tokio::main]
async fn main() -> Result<()> {
	let cli = Cli::parse();
	if cli.report_only {
		let path = cli.out.join("results.json");
		let results: Results = serde_json::from_str(
			&std::fs::read_to_string(&path)
				.with_context(|| format!("reading {}", path.display()))?,
		)
		.with_context(|| format!("parsing {}", path.display()))?;
		return report::write(&cli.out, &results);
	}
	// Dropping the run stops every process it started.
	tokio::select! {
		outcome = run(cli) => outcome,
		_ = tokio::signal::ctrl_c() => anyhow::bail!("interrupted; every system it started is stopped"),
	}
}

async fn run(mut cli: Cli) -> Result<()> {
	if cli.concurrency.is_empty() {
		// A thousand in flight overloads four validators sharing two cores for minutes after:
		// the quick mode, which only keeps the harness working, stops at a hundred.
		cli.concurrency = if cli.quick { vec![1, 10, 100] } else { vec![1, 10, 100, 1000] };
	}
	let secs = |v: Option<f64>, full: f64, quick: f64| {
		Duration::from_secs_f64(v.unwrap_or(if cli.quick { quick } else { full }))
	};
	let settings = Settings {
		seconds: secs(cli.seconds, 10.0, 2.0),
		step: secs(cli.step_seconds, 10.0, 2.0),
		sustain: secs(cli.sustain_seconds, 60.0, 3.0),
		idle: secs(cli.idle_seconds, 60.0, 3.0),
		check_perf: cli.check_perf.unwrap_or(if cli.quick { 0 } else { 3 }),
		leases: if cli.quick { 3 } else { 10 },
		registrations: if cli.quick { 3 } else { 20 },
	};
	std::fs::create_dir_all(&cli.out).with_context(|| format!("creating {}", cli.out.display()))?;
	let mut results = Results {
		started: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs(),
		quick: cli.quick,
		machine: machine(),
		etcd_version: etcd_version(),
		settings: format!(
			"{} s a latency point at {:?} in flight; throughput steps of {} s at {:?}/s, the passing rates then offered for {} s from the highest down until one holds; open-loop latency from each request's due time; a request given up at {} s counts as {} s in the percentiles; {} s idle; check perf {}×",
			settings.seconds.as_secs_f64(),
			cli.concurrency,
			settings.step.as_secs_f64(),
			cli.rates,
			settings.sustain.as_secs_f64(),
			load::REQUEST_TIMEOUT.as_secs(),
			load::REQUEST_TIMEOUT.as_secs(),
			settings.idle.as_secs_f64(),
			settings.check_perf,
		),
		systems: Vec::new(),
	};
	let mut kept = Vec::new();
	if cli.merge {
		let path = cli.out.join("results.json");
		let earlier: Results = serde_json::from_str(
			&std::fs::read_to_string(&path)
				.with_context(|| format!("reading {}", path.display()))?,
		)
		.with_context(|| format!("parsing {}", path.display()))?;
		kept = earlier
			.systems
			.into_iter()
			.filter(|s| !cli.systems.iter().any(|k| k.name() == s.system))
			.collect();
		results.settings = format!(
			"{} (then {}: {})",
			earlier.settings,
			cli.systems.iter().map(|k| k.name()).collect::<Vec<_>>().join(", "),
			results.settings
		);
	}
	eprintln!("bench: {}; {}", results.machine, results.settings);
	let started = Instant::now();
	for &kind in &cli.systems {
		eprintln!("bench: starting {}", kind.title());
		let mut system = System::start(kind).await?;
		let mut result = SystemResult {
			system: kind.name().into(),
			title: kind.title().into(),
			points: Vec::new(),
			metrics: BTreeMap::new(),
			check_perf: Vec::new(),
			failures: Vec::new(),
		};
		if let Err(e) = measure(&mut system, &settings, &cli, &mut result).await {
			eprintln!("bench: {} failed: {e:#}\n{}", kind.title(), system.log_tails());
			result.failures.push(format!("{e:#}"));
		}
		if cli.quick {
			if let Some(failure) = unexpected_errors(&result.points) {
				eprintln!("bench: {}: {failure}", kind.title());
				result.failures.push(failure);
			}
		}
		results.systems.push(result);
		drop(system);
		for earlier in std::mem::take(&mut kept) {
			results.systems.push(earlier);
		}
		results
			.systems
			.sort_by_key(|s| ["etcd1", "etcd3", "regchain"].iter().position(|n| *n == s.system));
		// Written after each system, so that an interrupted run keeps what it measured.
		report::write(&cli.out, &results)?;
	}
	eprintln!(
		"bench: done in {:.0} s; {} and {}",
		started.elapsed().as_secs_f64(),
		cli.out.join("results.json").display(),
		cli.out.join("results.md").display()
	);
	let failed: Vec<_> = results
		.systems
		.iter()
		.filter(|s| !s.failures.is_empty())
		.map(|s| s.system.clone())
		.collect();
	anyhow::ensure!(failed.is_empty(), "workloads failed on {failed:?} (see results.md)");
	Ok(())
}

/// Every workload on one system, in an order that leaves the destructive one (a member killed)
/// last.
async fn measure(
	system: &mut System,
	s: &Settings,
	cli: &Cli,
	result: &mut SystemResult,
) -> Result<()> {
	let kind = system.kind;
	let record = |result: &mut SystemResult, p: Point| {
		progress(&p);
		result.points.push(p);
	};

	// At rest.
	let before_idle = Usage::of(system);
	tokio::time::sleep(s.idle).await;
	let idle = Usage::of(system);
	let metric = |result: &mut SystemResult, name: &str, value: f64| {
		result.metrics.insert(name.into(), value);
	};
	let idle_growth = idle.disk.saturating_sub(before_idle.disk) as f64 / s.idle.as_secs_f64();
	metric(result, "idle_rss_max_mb", idle.max_rss as f64 / 1048576.0);
	metric(result, "idle_rss_total_mb", idle.total_rss as f64 / 1048576.0);
	metric(result, "idle_disk_growth_mb_per_hour", idle_growth * 3600.0 / 1048576.0);
	metric(
		result,
		"idle_cpu_percent",
		(idle.cpu_seconds - before_idle.cpu_seconds) / s.idle.as_secs_f64() * 100.0,
	);
	eprintln!(
		"bench: {} at rest: largest member {:.0} MB resident, disk +{:.1} MB/h",
		kind.name(),
		idle.max_rss as f64 / 1048576.0,
		idle_growth * 3600.0 / 1048576.0
	);

	// Writes: latency at each concurrency, then throughput. Their CPU time and disk use are
	// charged to the writes acknowledged.
	let before_writes = (Usage::of(system), Instant::now());
	let mut writes = 0u64;
	for &c in &cli.concurrency {
		let before = (Usage::of(system), Instant::now());
		let mut p = workloads::etcd_writes(system, &format!("write{c}"), c, s.seconds).await?;
		members_cpu(&mut p, before, Usage::of(system));
		writes += p.summary.ok;
		record(result, p);
	}
	let (steps, held) = workloads::throughput(system, 1000, s.step, s.sustain, &cli.rates).await?;
	writes += steps.iter().map(|p| p.summary.ok).sum::<u64>();
	result.points.extend(steps);
	metric(result, "sustained_writes_per_s", held.unwrap_or(0.0));
	let after_writes = Usage::of(system);
	let write_secs = before_writes.1.elapsed().as_secs_f64();
	let per_10k = |v: f64| if writes > 0 { v / writes as f64 * 10_000.0 } else { f64::NAN };
	metric(
		result,
		"cpu_seconds_per_10k_writes",
		per_10k(after_writes.cpu_seconds - before_writes.0.cpu_seconds),
	);
	let disk = after_writes.disk as f64 - before_writes.0.disk as f64 - idle_growth * write_secs;
	metric(result, "disk_mb_per_10k_writes", per_10k(disk) / 1048576.0);
	metric(result, "peak_rss_max_mb", after_writes.max_rss as f64 / 1048576.0);

	if kind == Kind::Regchain {
		for &c in &cli.concurrency {
			for wait in [Wait::Finalized, Wait::Best] {
				let before = (Usage::of(system), Instant::now());
				let mut p = workloads::native_writes(
					system,
					&format!("native{c}{wait:?}"),
					c,
					s.seconds,
					wait,
				)
				.await?;
				members_cpu(&mut p, before, Usage::of(system));
				record(result, p);
			}
		}
	}

	// Reads and watches, once the writes' backlog is gone.
	let drained = workloads::wait_drained(system, Duration::from_secs(300)).await?;
	metric(result, "backlog_drain_seconds", drained.as_secs_f64());
	workloads::prepare_reads(system).await?;
	for serializable in [true, false] {
		for &c in &cli.concurrency {
			let before = (Usage::of(system), Instant::now());
			let mut p = workloads::etcd_reads(system, c, s.seconds, serializable).await?;
			members_cpu(&mut p, before, Usage::of(system));
			record(result, p);
		}
	}
	for &c in &cli.concurrency {
		let p = workloads::watch_delivery(system, c, s.seconds).await?;
		record(result, p);
	}
	let p = workloads::etcd_registration(system, s.registrations).await?;
	record(result, p);
	if kind == Kind::Regchain {
		let p = workloads::native_registration(system, s.registrations).await?;
		record(result, p);
	}

	// check perf, then leases with every member up and with one down.
	for run in 0..s.check_perf {
		let outcome = check_perf(&system.write_endpoints).await?;
		eprintln!(
			"bench: {} check perf run {}: {}",
			kind.name(),
			run + 1,
			outcome.verdicts.join("; ")
		);
		result.check_perf.push(outcome);
	}
	let p = workloads::lease_expiry(system, "all-up", s.leases, 5).await?;
	record(result, p);
	let end = Usage::of(system);
	metric(result, "cpu_seconds_total", end.cpu_seconds);
	if kind != Kind::Etcd1 {
		let who = system.kill_one()?;
		eprintln!("bench: {} killed {who}", kind.name());
		// Let the survivors notice (etcd's election, regchain's peers dropping the link).
		tokio::time::sleep(Duration::from_secs(3)).await;
		let p = workloads::lease_expiry(system, "one-down", s.leases, 5).await?;
		record(result, p);
	}
	Ok(())
}

/// Notes on `p` the cores the members used on average from `before` (their usage, and when)
/// until `after`.
fn members_cpu(p: &mut Point, before: (Usage, Instant), after: Usage) {
	let seconds = before.1.elapsed().as_secs_f64();
	if seconds > 0.0 {
		p.members_cpu_cores = Some((after.cpu_seconds - before.0.cpu_seconds) / seconds);
	}
}

/// What the quick run, which only checks that the harness and the systems work, holds against
/// a run: requests that failed, or no request that succeeded, in a workload that should have
/// every request succeed. The throughput ramp is left out: it ends on a step that fails by
/// design.
fn unexpected_errors(points: &[Point]) -> Option<String> {
	let bad: Vec<String> = points
		.iter()
		.filter(|p| {
			!p.workload.starts_with("throughput") && (p.summary.errors > 0 || p.summary.ok == 0)
		})
		.map(|p| {
			format!(
				"{} ({}, {} in flight): {} of {} failed{}",
				p.workload,
				p.client,
				p.concurrency,
				p.summary.errors,
				p.summary.errors + p.summary.ok,
				p.summary
					.first_error
					.as_deref()
					.map(|e| format!(", first: {e}"))
					.unwrap_or_default()
			)
		})
		.collect();
	(!bad.is_empty())
		.then(|| format!("requests failed in workloads that should have none: {}", bad.join("; ")))
}

/// One `etcdctl check perf --load=s` against `endpoints`.
async fn check_perf(endpoints: &[String]) -> Result<CheckPerf> {
	let output = tokio::time::timeout(
		Duration::from_secs(240),
		tokio::process::Command::new(std::env::var("ETCDCTL").unwrap_or_else(|_| "etcdctl".into()))
			.env("ETCDCTL_API", "3")
			.arg(format!("--endpoints={}", endpoints.join(",")))
			.args(["check", "perf", "--load=s"])
			.kill_on_drop(true)
			.output(),
	)
	.await
	.context("check perf ran for over 4 minutes")?
	.context("running etcdctl (Debian's etcd-client)")?;
	let text = String::from_utf8_lossy(&output.stdout).into_owned()
		+ &String::from_utf8_lossy(&output.stderr);
	let verdicts: Vec<String> = text.lines().filter_map(verdict).collect();
	let passed = verdicts.last().map(|l| l == "PASS").unwrap_or(false);
	if verdicts.is_empty() {
		// etcdctl gave up before judging (it ends with "Error: ..." when its clean-up or its
		// requests fail): a failed run, recorded with the reason, not the end of the benchmark.
		let reason =
			text.lines().rev().map(str::trim).find(|l| !l.is_empty()).unwrap_or("no output");
		return Ok(CheckPerf {
			passed: false,
			verdicts: vec![format!("FAIL: no verdict ({reason})")],
		});
	}
	Ok(CheckPerf { passed, verdicts })
}

/// A verdict line of check perf's output, if `line` holds one. etcdctl 3.4 prefixes most with
/// PASS or FAIL, possibly after the progress bar's last frame on the same line, but prints a
/// slowest request or a deviation over the limit without the prefix.
fn verdict(line: &str) -> Option<String> {
	if let Some(at) = line.find("PASS").into_iter().chain(line.find("FAIL")).min() {
		return Some(line[at..].trim().to_string());
	}
	let line = line.trim();
	(line.starts_with("Slowest request took too long") || line.starts_with("Stddev too high"))
		.then(|| format!("FAIL: {line}"))
}

fn machine() -> String {
	let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
	let mem_kib: u64 = std::fs::read_to_string("/proc/meminfo")
		.ok()
		.and_then(|m| {
			m.lines()
				.find_map(|l| l.strip_prefix("MemTotal:"))
				.map(|v| v.trim().trim_end_matches(" kB").trim().to_string())
		})
		.and_then(|v| v.parse().ok())
		.unwrap_or(0);
	format!("{cores} cores, {:.0} GiB", mem_kib as f64 / 1048576.0)
}

fn etcd_version() -> String {
	std::process::Command::new(std::env::var("ETCD").unwrap_or_else(|_| "etcd".into()))
		.arg("--version")
		.output()
		.ok()
		.and_then(|o| String::from_utf8(o.stdout).ok())
		.and_then(|s| s.lines().next().map(String::from))
		.unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
	use super::{unexpected_errors, verdict, Point};
	use crate::load::Summary;

	fn point(workload: &str, ok: u64, errors: u64) -> Point {
		Point {
			system: "regchain".into(),
			workload: workload.into(),
			client: "etcd-api".into(),
			concurrency: 10,
			offered_rate: None,
			summary: Summary {
				ok,
				errors,
				first_error: (errors > 0).then(|| "refused".into()),
				..Default::default()
			},
			members_cpu_cores: None,
		}
	}

	#[test]
	fn the_quick_run_fails_on_any_failed_request_but_the_ramp_s() {
		assert_eq!(
			unexpected_errors(&[point("write", 100, 0), point("throughput-step", 50, 9)]),
			None
		);
		let failure =
			unexpected_errors(&[point("write", 99, 1), point("read-linearizable", 100, 0)])
				.unwrap();
		assert!(
			failure.contains("write (etcd-api, 10 in flight): 1 of 100 failed, first: refused"),
			"{failure}"
		);
		assert!(!failure.contains("read-linearizable"), "{failure}");
		// Nothing acknowledged at all is a failure even without an error counted.
		assert!(unexpected_errors(&[point("watch-delivery", 0, 0)]).is_some());
	}

	#[test]
	fn check_perf_verdicts_are_read_with_or_without_their_prefix() {
		assert_eq!(
			verdict(" 60 / 60  100.00% 1m0sPASS: Throughput is 150 writes/s").as_deref(),
			Some("PASS: Throughput is 150 writes/s")
		);
		assert_eq!(
			verdict("Slowest request took too long: 0.612000s").as_deref(),
			Some("FAIL: Slowest request took too long: 0.612000s")
		);
		assert_eq!(verdict("FAIL").as_deref(), Some("FAIL"));
		assert_eq!(verdict(" 12 / 60   20.00% 00m48s"), None);
	}
}
