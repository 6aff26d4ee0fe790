//! results.json and results.md: each regchain figure beside etcd's, with the ratio.

use std::{fmt::Write as _, path::Path};

use anyhow::{Context, Result};

use crate::{
	load::{Summary, REQUEST_TIMEOUT},
	Point, Results, SystemResult,
};

/// The resource figures, in the order published: key, label, decimals.
pub const METRICS: &[(&str, &str, usize)] = &[
	("idle_rss_max_mb", "Resident memory at rest, largest member (MB)", 0),
	("idle_rss_total_mb", "Resident memory at rest, all members (MB)", 0),
	("idle_cpu_percent", "CPU at rest, all members (% of one core)", 1),
	("idle_disk_growth_mb_per_hour", "Disk growth at rest, all members (MB per hour)", 1),
	("peak_rss_max_mb", "Resident memory after the write workloads, largest member (MB)", 0),
	("cpu_seconds_per_10k_writes", "CPU seconds per 10,000 writes, all members", 1),
	("disk_mb_per_10k_writes", "Disk per 10,000 writes, all members, growth at rest deducted (MB)", 1),
	(
		"sustained_writes_per_s",
		"Highest write rate held for the sustained period (writes/s, 0: none held; the rates tried are in the open-loop table)",
		0,
	),
	("backlog_drain_seconds", "Seconds until a put is acknowledged within 2 s after the write workloads", 1),
];

/// The latency rows, in the order published: workload, client, label.
const LATENCY_ROWS: &[(&str, &str, &str)] = &[
	("write", "etcd-api", "Put acknowledged (regchain: at finality), etcd API"),
	("write", "native", "Put acknowledged at finality, regchain's native client"),
	("write-inclusion", "native", "Put included in a best block, regchain's native client (diagnostic)"),
	("read-serializable", "etcd-api", "Get, serializable"),
	("read-linearizable", "etcd-api", "Get, linearizable"),
	("watch-delivery", "etcd-api", "Watch event on another member (etcd, 1 member: the same), after the put's acknowledgement"),
	("registration", "etcd-api", "Registration seen by a watcher on another member (etcd, 1 member: the same): lease grant + put (etcd API)"),
	("registration", "native", "Registration seen by a watcher on another validator: lease + register (native)"),
	("lease-expiry-all-up", "etcd-api", "Lease expiry seen by the watcher, late by (all members up; in flight: leases, granted apart)"),
	("lease-expiry-one-down", "etcd-api", "Lease expiry seen by the watcher, late by (one member killed; never with 1 member)"),
];

/// Writes `results.json` and `results.md` into `dir`.
pub fn write(dir: &Path, results: &Results) -> Result<()> {
	let json = dir.join("results.json");
	std::fs::write(&json, serde_json::to_string_pretty(results)?)
		.with_context(|| format!("writing {}", json.display()))?;
	let md = dir.join("results.md");
	std::fs::write(&md, markdown(results)).with_context(|| format!("writing {}", md.display()))?;
	Ok(())
}

fn find<'a>(
	system: &'a SystemResult,
	workload: &str,
	client: &str,
	concurrency: usize,
) -> Option<&'a Point> {
	system
		.points
		.iter()
		.find(|p| p.workload == workload && p.client == client && p.concurrency == concurrency)
}

/// The system regchain is compared with: etcd with three members if measured, else one.
fn peer(results: &Results) -> Option<&SystemResult> {
	results
		.systems
		.iter()
		.find(|s| s.system == "etcd3")
		.or_else(|| results.systems.iter().find(|s| s.system == "etcd1"))
}

/// regchain's figure divided by the peer's, when both are positive: a watch event can arrive
/// before the put's acknowledgement, and a ratio of two such negative or near-zero latencies
/// means nothing.
fn ratio(regchain: Option<f64>, peer: Option<f64>) -> String {
	match (regchain, peer) {
		(Some(r), Some(p)) if r > 0.0 && p >= 0.05 && r.is_finite() && p.is_finite() => {
			let x = r / p;
			if x.abs() < 0.1 {
				format!("{x:.3}×")
			} else {
				format!("{x:.1}×")
			}
		},
		_ => "–".into(),
	}
}

fn ms(v: f64) -> String {
	if !v.is_finite() {
		"–".into()
	} else if v.abs() >= 100.0 {
		format!("{v:.0}")
	} else {
		format!("{v:.1}")
	}
}

/// A latency figure of `s`: one that falls on a request given up at the time-out (counted as
/// the time-out) reads "> the time-out".
fn lat(s: &Summary, v: f64) -> String {
	let timeout_ms = REQUEST_TIMEOUT.as_secs_f64() * 1e3;
	if s.timeouts > 0 && v >= timeout_ms {
		format!("> {}", ms(timeout_ms))
	} else {
		ms(v)
	}
}

/// ", N err (M timed out)", or nothing when there was no error.
fn errors(s: &Summary) -> String {
	match (s.errors, s.timeouts) {
		(0, _) => String::new(),
		(e, 0) => format!(", {e} err"),
		(e, t) => format!(", {e} err ({t} timed out)"),
	}
}

fn cell(p: Option<&Point>) -> String {
	match p {
		None => "–".into(),
		Some(p) if p.summary.ok == 0 => format!("no success ({} errors)", p.summary.errors),
		Some(p) => {
			let s = &p.summary;
			format!("{} / {}{}", lat(s, s.p50_ms), lat(s, s.p99_ms), errors(s))
		},
	}
}

/// An open-loop step: achieved writes/s, p99, errors and requests shed.
fn step_text(p: &Point) -> String {
	let e = &p.summary;
	let extra = if e.errors + e.shed > 0 {
		let errors = errors(e);
		format!(
			"{}, {} shed",
			if errors.is_empty() { ", 0 err".to_string() } else { errors },
			e.shed
		)
	} else {
		String::new()
	};
	format!("{:.0}, p99 {}{extra}", e.throughput, lat(e, e.p99_ms))
}

/// The Markdown report.
/// A Markdown table's header: the `leading` columns, one per system, and a "Ratio" column if
/// `ratio`; then its separator line.
fn table_header(md: &mut String, leading: &[&str], systems: &[SystemResult], ratio: bool) {
	let columns: Vec<&str> = leading
		.iter()
		.copied()
		.chain(systems.iter().map(|s| s.title.as_str()))
		.chain(ratio.then_some("Ratio"))
		.collect();
	let _ = writeln!(md, "| {} |\n|{}", columns.join(" | "), "---|".repeat(columns.len()));
}

pub fn markdown(results: &Results) -> String {
	let mut md = String::new();
	let systems = &results.systems;
	let regchain = systems.iter().find(|s| s.system == "regchain");
	let peer = peer(results);
	let peer_name = peer.map(|p| p.title.as_str()).unwrap_or("etcd");
	let _ = writeln!(md, "# regchain beside etcd: measured figures\n");
	let _ = writeln!(
		md,
		"Written by `regchain-bench`{} on {} with {}. {}. The ratio is regchain's figure divided by {peer_name}'s.\n",
		if results.quick { " in quick mode (a few seconds a point: these figures only show that the harness works)" } else { "" },
		results.machine,
		results.etcd_version,
		results.settings,
	);
	let header =
		|md: &mut String, first: &str| table_header(md, &[first, "In flight"], systems, true);

	let _ = writeln!(md, "## Latency, p50 / p99 (ms)\n");
	header(&mut md, "Workload");
	for (workload, client, label) in LATENCY_ROWS {
		let mut levels: Vec<usize> = systems
			.iter()
			.flat_map(|s| s.points.iter())
			.filter(|p| p.workload == *workload && p.client == *client)
			.map(|p| p.concurrency)
			.collect();
		levels.sort();
		levels.dedup();
		for c in levels {
			let _ = write!(md, "| {label} | {c} |");
			for s in systems {
				let _ = write!(md, " {} |", cell(find(s, workload, client, c)));
			}
			let p50 = |s: Option<&SystemResult>| {
				s.and_then(|s| find(s, workload, client, c)).map(|p| p.summary.p50_ms)
			};
			// A native figure is compared with etcd's through its API.
			let p50_peer =
				peer.and_then(|s| find(s, workload, "etcd-api", c)).map(|p| p.summary.p50_ms);
			let _ = writeln!(
				md,
				" {} |",
				if peer.is_some() { ratio(p50(regchain), p50_peer) } else { "–".into() }
			);
		}
	}

	let _ = writeln!(
		md,
		"\n## Write throughput with a fixed number in flight (acknowledged writes/s)\n"
	);
	header(&mut md, "Workload");
	for c in systems
		.iter()
		.flat_map(|s| s.points.iter())
		.filter(|p| p.workload == "write" && p.client == "etcd-api")
		.map(|p| p.concurrency)
		.collect::<std::collections::BTreeSet<_>>()
	{
		let _ = write!(md, "| Put, etcd API | {c} |");
		let tp = |s: &SystemResult| find(s, "write", "etcd-api", c).map(|p| p.summary.throughput);
		for s in systems {
			let _ = write!(md, " {} |", tp(s).map(|v| format!("{v:.0}")).unwrap_or("–".into()));
		}
		let _ = writeln!(md, " {} |", ratio(regchain.and_then(tp), peer.and_then(tp)));
	}

	let _ = writeln!(
		md,
		"\n## Offered write rate (open loop, at most 1,000 in flight): achieved writes/s, p99 ms\n"
	);
	table_header(&mut md, &["Offered (writes/s)"], systems, false);
	let mut rates: Vec<f64> = systems
		.iter()
		.flat_map(|s| s.points.iter())
		.filter(|p| p.workload == "throughput-step")
		.filter_map(|p| p.offered_rate)
		.collect();
	rates.sort_by(|a, b| a.total_cmp(b));
	rates.dedup();
	let step = |s: &SystemResult, rate: f64| {
		s.points
			.iter()
			.find(|p| p.workload == "throughput-step" && p.offered_rate == Some(rate))
			.map(step_text)
	};
	for rate in &rates {
		let _ = write!(md, "| {rate:.0} |");
		for s in systems {
			let _ = write!(md, " {} |", step(s, *rate).unwrap_or("–".into()));
		}
		let _ = writeln!(md);
	}
	// Every hold tried, from the highest passing rate down (results of the harness before this
	// rule hold one attempt, at the highest passing rate only).
	let _ = write!(
		md,
		"| **offered again for the sustained period, from the highest passing rate down** |"
	);
	for s in systems {
		let held = s.metrics.get("sustained_writes_per_s").copied().unwrap_or(0.0);
		let attempts: Vec<String> = s
			.points
			.iter()
			.filter(|p| p.workload == "throughput-sustained")
			.map(|p| {
				let rate = p.offered_rate.unwrap_or(f64::NAN);
				let verdict = if held > 0.0 && rate == held { "held" } else { "did not hold" };
				format!("{rate:.0} for {:.0} s: {} ({verdict})", p.summary.seconds, step_text(p))
			})
			.collect();
		let _ = write!(
			md,
			" {} |",
			if attempts.is_empty() { "–".to_string() } else { attempts.join("; ") }
		);
	}
	let _ = writeln!(md);

	// The CPU of the harness beside the members', where measured: a harness near a whole core
	// or more, on a machine shared with the members, bounds the figures it measures.
	let mut loads: Vec<&Point> = Vec::new();
	for p in systems
		.iter()
		.flat_map(|s| s.points.iter())
		.filter(|p| p.summary.harness_cpu_cores.is_some())
	{
		let same = |q: &&Point| {
			q.workload == p.workload
				&& q.client == p.client
				&& q.concurrency == p.concurrency
				&& q.offered_rate == p.offered_rate
		};
		if !loads.iter().any(same) {
			loads.push(p);
		}
	}
	if !loads.is_empty() {
		let _ = writeln!(
			md,
			"\n## CPU during each load, harness / members (cores, on average)\n\nThe harness: its own process (load generator, gRPC clients, watcher) over the load's run. The members: every member's CPU over the workload, measured for the closed-loop writes and reads only.\n"
		);
		table_header(&mut md, &["Workload", "Client", "In flight (offered/s)"], systems, false);
		for l in loads {
			let rate = l.offered_rate.map(|r| format!(" ({r:.0}/s)")).unwrap_or_default();
			let _ = write!(md, "| {} | {} | {}{rate} |", l.workload, l.client, l.concurrency);
			for s in systems {
				let p = s.points.iter().find(|p| {
					p.workload == l.workload
						&& p.client == l.client
						&& p.concurrency == l.concurrency
						&& p.offered_rate == l.offered_rate
				});
				let cores = |v: Option<f64>| {
					v.filter(|v| v.is_finite()).map(|v| format!("{v:.2}")).unwrap_or("–".into())
				};
				let text = p.map(|p| {
					format!(
						"{} / {}",
						cores(p.summary.harness_cpu_cores),
						cores(p.members_cpu_cores)
					)
				});
				let _ = write!(md, " {} |", text.unwrap_or("–".into()));
			}
			let _ = writeln!(md);
		}
	}

	let _ = writeln!(md, "\n## Resources\n");
	table_header(&mut md, &["Figure"], systems, true);
	for (key, label, decimals) in METRICS {
		let _ = write!(md, "| {label} |");
		for s in systems {
			let v = s.metrics.get(*key).copied();
			let _ = write!(
				md,
				" {} |",
				v.filter(|v| v.is_finite())
					.map(|v| format!("{v:.*}", decimals))
					.unwrap_or("–".into())
			);
		}
		let get = |s: Option<&SystemResult>| s.and_then(|s| s.metrics.get(*key).copied());
		let _ = writeln!(md, " {} |", ratio(get(regchain), get(peer)));
	}

	if systems.iter().any(|s| !s.check_perf.is_empty()) {
		let _ = writeln!(md, "\n## `etcdctl check perf --load=s`\n");
		table_header(&mut md, &["Run"], systems, false);
		let runs = systems.iter().map(|s| s.check_perf.len()).max().unwrap_or(0);
		for run in 0..runs {
			let _ = write!(md, "| {} |", run + 1);
			for s in systems {
				let text =
					s.check_perf.get(run).map(|c| c.verdicts.join("; ")).unwrap_or("–".into());
				let _ = write!(md, " {text} |");
			}
			let _ = writeln!(md);
		}
	}

	let failures: Vec<_> =
		systems.iter().flat_map(|s| s.failures.iter().map(move |f| (s, f))).collect();
	if !failures.is_empty() {
		let _ = writeln!(md, "\n## Failures\n");
		for (s, f) in failures {
			let _ = writeln!(md, "- {}: {f}", s.title);
		}
	}
	md
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::load::Summary;

	fn point(system: &str, workload: &str, p50: f64, throughput: f64) -> Point {
		Point {
			system: system.into(),
			workload: workload.into(),
			client: "etcd-api".into(),
			concurrency: 1,
			offered_rate: None,
			summary: Summary {
				ok: 10,
				p50_ms: p50,
				p99_ms: p50 * 2.0,
				throughput,
				..Default::default()
			},
			members_cpu_cores: None,
		}
	}

	fn system(name: &str, points: Vec<Point>) -> SystemResult {
		SystemResult {
			system: name.into(),
			title: name.into(),
			points,
			metrics: [(
				"idle_rss_max_mb".to_string(),
				if name == "regchain" { 150.0 } else { 30.0 },
			)]
			.into(),
			check_perf: vec![],
			failures: vec![],
		}
	}

	#[test]
	fn results_read_back_with_their_missing_figures() {
		let mut regchain = system("regchain", vec![point("regchain", "write", f64::NAN, 0.0)]);
		regchain.metrics.insert("disk_mb_per_10k_writes".into(), f64::NAN);
		let results = Results {
			started: 1,
			quick: true,
			machine: "m".into(),
			etcd_version: "v".into(),
			settings: "s".into(),
			systems: vec![regchain],
		};
		let back: Results =
			serde_json::from_str(&serde_json::to_string(&results).unwrap()).unwrap();
		let point = &back.systems[0].points[0];
		assert!(point.summary.p50_ms.is_nan() && point.summary.ok == 10);
		assert!(back.systems[0].metrics["disk_mb_per_10k_writes"].is_nan());
		assert_eq!(back.systems[0].metrics["idle_rss_max_mb"], 150.0);
	}

	#[test]
	fn regchain_is_compared_with_three_etcd_members() {
		let results = Results {
			started: 0,
			quick: false,
			machine: "2 cores".into(),
			etcd_version: "etcd Version: 3.4".into(),
			settings: "s".into(),
			systems: vec![
				system("etcd1", vec![point("etcd1", "write", 1.0, 900.0)]),
				system("etcd3", vec![point("etcd3", "write", 2.0, 500.0)]),
				system("regchain", vec![point("regchain", "write", 250.0, 4.0)]),
			],
		};
		let md = markdown(&results);
		// p50 / p99 beside each other, and the ratio against etcd3 (250 / 2).
		assert!(md.contains("| 1.0 / 2.0 | 2.0 / 4.0 | 250 / 500 | 125.0× |"), "{md}");
		// Throughput 4 / 500.
		assert!(md.contains("| 900 | 500 | 4 | 0.008× |"), "{md}");
		assert!(md.contains("| 30 | 30 | 150 | 5.0× |"), "{md}");
	}

	#[test]
	fn no_ratio_of_negative_or_vanishing_latencies() {
		assert_eq!(ratio(Some(-35.9), Some(-0.003)), "–");
		assert_eq!(ratio(Some(19.5), Some(-0.1)), "–");
		assert_eq!(ratio(Some(19.5), Some(0.0)), "–");
		assert_eq!(ratio(Some(38.1), Some(577.0)), "0.066×");
	}
}
