//! The workloads. Each drives a system through the etcd v3 API (the same client code for etcd
//! and regchain) and, for regchain, through its native client as well.

use std::{
	collections::HashMap,
	sync::{Arc, Mutex},
	time::{Duration, Instant},
};

use anyhow::{anyhow, bail, Context, Result};
use etcd_client::{EventType, GetOptions, KeyValue, KvClient, PutOptions, WatchOptions};
use regchain_client::{
	runtime::RuntimeCall, Batcher, Client, ConnectOptions, Signer, Wait, Watch, WatchItem,
	WatchTarget,
};

use crate::{
	load::{self, closed_loop, open_loop, Samples, Summary},
	systems::System,
	Point,
};

/// How many distinct keys each write workload cycles through, as etcd's `benchmark put
/// --key-space-size` does: a run makes tens of thousands of puts, and regchain holds each
/// account to a quota of keys (10,000 by default, `pallet_service_registry::Quota`), which the
/// keys of `etcdctl check perf` (9,000, a third per account: it writes through the three writer
/// validators) must still fit under. The watch workload cycles through them too, matching its
/// events to puts by value.
pub const KEY_SPACE: u64 = 1_000;

/// The key of a put in a write workload: the key space's `seq`-th key, modulo [`KEY_SPACE`].
pub fn cycled_key(tag: &str, seq: u64) -> String {
	key(tag, seq % KEY_SPACE)
}

/// The key of a put: 256 bytes, unique per tag and sequence number.
pub fn key(tag: &str, seq: u64) -> String {
	let mut key = format!("/bench/{tag}/{seq:010}/");
	key.extend(std::iter::repeat('k').take(256usize.saturating_sub(key.len())));
	key
}

/// The value of a put: 1 KiB.
pub fn value() -> Vec<u8> {
	(0..1024u32).map(|i| b'a' + (i % 26) as u8).collect()
}

/// The value of the `seq`-th put of a workload that matches events to puts while it cycles
/// through [`KEY_SPACE`] keys: 1 KiB, starting with `seq` in ten digits and a `;`.
pub fn numbered_value(seq: u64) -> Vec<u8> {
	let mut value = value();
	let number = format!("{seq:010};");
	value[..number.len()].copy_from_slice(number.as_bytes());
	value
}

/// The sequence number at the head of a [`numbered_value`], as written there.
fn put_number(value: &[u8]) -> String {
	let head = value.split(|b| *b == b';').next().unwrap_or_default();
	String::from_utf8_lossy(head).into_owned()
}

/// How many gRPC connections carry `in_flight` requests: one per hundred requests, as a
/// client process would open a few, each multiplexing many streams.
fn connections(in_flight: usize) -> usize {
	in_flight.div_ceil(100).max(1)
}

/// `n` etcd clients, each balancing over `endpoints`.
pub async fn kv_clients(endpoints: &[String], n: usize) -> Result<Vec<KvClient>> {
	let mut clients = Vec::new();
	for _ in 0..n {
		let client = etcd_client::Client::connect(endpoints, None).await.context("connecting")?;
		clients.push(client.kv_client());
	}
	Ok(clients)
}

fn point(
	system: &System,
	workload: &str,
	client: &str,
	concurrency: usize,
	summary: Summary,
) -> Point {
	Point {
		system: system.kind.name().into(),
		workload: workload.into(),
		client: client.into(),
		concurrency,
		offered_rate: None,
		summary,
		members_cpu_cores: None,
	}
}

/// Prints a point as it is measured.
pub fn progress(p: &Point) {
	let s = &p.summary;
	let rate = p.offered_rate.map(|r| format!(" offered {r:.0}/s")).unwrap_or_default();
	eprintln!(
		"bench: {:<8} {:<22} {:<8} c={:<4}{rate}: {} ok, {} errors{}, {:.0}/s, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms{}",
		p.system,
		p.workload,
		p.client,
		p.concurrency,
		s.ok,
		s.errors,
		if s.shed > 0 { format!(", {} shed", s.shed) } else { String::new() },
		s.throughput,
		s.p50_ms,
		s.p99_ms,
		s.max_ms,
		s.first_error.as_deref().map(|e| format!(" (first error: {e})")).unwrap_or_default(),
	);
}

// ---------------------------------------------------------------------------------------------
// Writes
// ---------------------------------------------------------------------------------------------

/// Puts through the etcd API at `in_flight` requests in flight, for `duration`.
pub async fn etcd_writes(
	system: &System,
	tag: &str,
	in_flight: usize,
	duration: Duration,
) -> Result<Point> {
	let clients = kv_clients(&system.write_endpoints, connections(in_flight)).await?;
	let tag = tag.to_string();
	let value = value();
	let samples = closed_loop(in_flight, duration, move |seq| {
		let mut kv = clients[seq as usize % clients.len()].clone();
		let (key, value) = (cycled_key(&tag, seq), value.clone());
		load::time(async move { kv.put(key, value, None).await.map_err(anyhow::Error::from) })
	})
	.await;
	Ok(point(system, "write", "etcd-api", in_flight, samples.summary()))
}

/// regchain's native client, signing as Dave through Dave's node: one batcher groups the calls
/// in flight into one transaction a block, each acknowledged as `wait` says.
pub async fn native_writes(
	system: &System,
	tag: &str,
	in_flight: usize,
	duration: Duration,
	wait: Wait,
) -> Result<Point> {
	let (url, _) = system.native.clone().context("a native client needs regchain")?;
	let client =
		Client::connect(&url, Some(Signer::from_uri("//Dave")?), ConnectOptions::default()).await?;
	let batcher = Batcher::new(Arc::new(client), wait);
	let tag = tag.to_string();
	let value = value();
	let samples = closed_loop(in_flight, duration, move |seq| {
		let call = RuntimeCall::ServiceRegistry(regchain_client::registry::Call::put {
			key: cycled_key(&tag, seq).into_bytes(),
			value: value.clone(),
			lease: None,
		});
		let batcher = batcher.clone();
		load::time(async move { batcher.submit(call).await.map_err(anyhow::Error::from) })
	})
	.await;
	let workload = match wait {
		Wait::Finalized => "write",
		Wait::Best => "write-inclusion",
	};
	Ok(point(system, workload, "native", in_flight, samples.summary()))
}

/// The highest rate of puts (through the etcd API, at most `max_in_flight` in flight) that
/// holds: every put acknowledged (none failed or timed out), none shed, at least 90 % of the
/// offered rate achieved, p99 (from each put's due time) within a second. Each rate of `rates`
/// is offered for a step of `step`, in order, until one fails; then the rates that passed are
/// offered again for `sustain`, from the highest down, until one holds under the same rule.
/// Returns every step and every sustained attempt, in order, and the rate held for `sustain`
/// (none if no rate did).
pub async fn throughput(
	system: &System,
	max_in_flight: usize,
	step: Duration,
	sustain: Duration,
	rates: &[f64],
) -> Result<(Vec<Point>, Option<f64>)> {
	let clients = kv_clients(&system.write_endpoints, connections(max_in_flight)).await?;
	let value = value();
	let holds = |s: &Summary, rate: f64| {
		s.errors == 0 && s.shed == 0 && s.throughput >= 0.9 * rate && s.p99_ms <= 1000.0
	};
	let mut points = Vec::new();
	let mut passed = Vec::new();
	for (i, &rate) in rates.iter().enumerate() {
		let summary =
			offered(&clients, &format!("ramp{i}"), rate, step, max_in_flight, &value).await;
		let held = holds(&summary, rate);
		let mut p = point(system, "throughput-step", "etcd-api", max_in_flight, summary);
		p.offered_rate = Some(rate);
		progress(&p);
		points.push(p);
		if !held {
			break;
		}
		passed.push(rate);
	}
	// A rate that passed its step may still fail the longer hold (a handful of requests shed
	// is enough): the next lower one is tried then, so that the figure is the highest rate
	// held, not 0 whenever the top one slips.
	for &rate in passed.iter().rev() {
		let summary = offered(&clients, "sustain", rate, sustain, max_in_flight, &value).await;
		let held = holds(&summary, rate);
		let mut p = point(system, "throughput-sustained", "etcd-api", max_in_flight, summary);
		p.offered_rate = Some(rate);
		progress(&p);
		points.push(p);
		if held {
			return Ok((points, Some(rate)));
		}
	}
	Ok((points, None))
}

async fn offered(
	clients: &[KvClient],
	tag: &str,
	rate: f64,
	duration: Duration,
	cap: usize,
	value: &[u8],
) -> Summary {
	let (clients, tag, value) = (clients.to_vec(), tag.to_string(), value.to_vec());
	open_loop(rate, duration, cap, move |seq| {
		let mut kv = clients[seq as usize % clients.len()].clone();
		let (key, value) = (cycled_key(&tag, seq), value.clone());
		load::time(async move { kv.put(key, value, None).await.map_err(anyhow::Error::from) })
	})
	.await
	.summary()
}

// ---------------------------------------------------------------------------------------------
// Reads
// ---------------------------------------------------------------------------------------------

/// The keys that reads read.
pub const READ_KEYS: u64 = 100;

/// Writes the keys that reads read.
pub async fn prepare_reads(system: &System) -> Result<()> {
	let mut kv = kv_clients(&system.write_endpoints, 1).await?.remove(0);
	// A system still working through an earlier overload may time out: each put is tried
	// three times.
	let puts = (0..READ_KEYS).map(|seq| {
		let mut kv = kv.clone();
		async move {
			let mut outcome = kv.put(key("read", seq), value(), None).await;
			for _ in 0..2 {
				if outcome.is_ok() {
					break;
				}
				tokio::time::sleep(Duration::from_secs(5)).await;
				outcome = kv.put(key("read", seq), value(), None).await;
			}
			outcome
		}
	});
	for outcome in futures::future::join_all(puts).await {
		outcome.context("writing the keys to read")?;
	}
	// Every key is there, at the endpoint readers use too.
	let n = kv
		.get("/bench/read/", Some(GetOptions::new().with_prefix().with_count_only()))
		.await?
		.count();
	if n != READ_KEYS as i64 {
		bail!("{n} of {READ_KEYS} keys to read were written");
	}
	Ok(())
}

/// Waits until a single put is acknowledged within two seconds again, after an overload: how
/// long the system took to work through its backlog.
pub async fn wait_drained(system: &System, timeout: Duration) -> Result<Duration> {
	let mut kv = kv_clients(&system.write_endpoints, 1).await?.remove(0);
	let start = Instant::now();
	let mut seq = 0;
	while start.elapsed() < timeout {
		let t0 = Instant::now();
		let put =
			tokio::time::timeout(Duration::from_secs(10), kv.put(key("drain", seq), "x", None))
				.await;
		if matches!(put, Ok(Ok(_))) && t0.elapsed() < Duration::from_secs(2) {
			return Ok(start.elapsed());
		}
		seq += 1;
		tokio::time::sleep(Duration::from_secs(1)).await;
	}
	bail!("still overloaded {} s after the write workloads", timeout.as_secs())
}

/// Gets of the prepared keys through the etcd API.
pub async fn etcd_reads(
	system: &System,
	in_flight: usize,
	duration: Duration,
	serializable: bool,
) -> Result<Point> {
	let mut endpoints = system.write_endpoints.clone();
	endpoints.push(system.watch_endpoint.clone());
	let clients = kv_clients(&endpoints, connections(in_flight)).await?;
	let samples = closed_loop(in_flight, duration, move |seq| {
		let mut kv = clients[seq as usize % clients.len()].clone();
		let key = key("read", seq % READ_KEYS);
		let options = serializable.then(|| GetOptions::new().with_serializable());
		load::time(async move {
			let reply = kv.get(key, options).await?;
			if reply.kvs().len() != 1 {
				bail!("a prepared key is missing");
			}
			Ok(())
		})
	})
	.await;
	let workload = if serializable { "read-serializable" } else { "read-linearizable" };
	Ok(point(system, workload, "etcd-api", in_flight, samples.summary()))
}

// ---------------------------------------------------------------------------------------------
// Watches
// ---------------------------------------------------------------------------------------------

/// When a watcher saw each put or key, by the name [`Identify`] gives it.
type Seen = Arc<Mutex<HashMap<String, Instant>>>;

/// How a watcher names an event's key-value: the name under which [`Seen`] records it.
type Identify = fn(&KeyValue) -> String;

/// Names an event by its key: for workloads whose keys are written once each.
fn by_key(kv: &KeyValue) -> String {
	String::from_utf8_lossy(kv.key()).into_owned()
}

/// Names an event by the put that made it: the sequence number of its [`numbered_value`].
fn by_put_number(kv: &KeyValue) -> String {
	put_number(kv.value())
}

/// Watches `prefix` at `endpoint` from now on, noting when the first event of `kind` with
/// each name arrives. Returns once the watch is created.
async fn watch_prefix(
	endpoint: &str,
	prefix: &str,
	kind: EventType,
	identify: Identify,
) -> Result<(Seen, tokio::task::JoinHandle<()>)> {
	let mut client = etcd_client::Client::connect([endpoint], None).await?;
	let mut stream = client.watch(prefix, Some(WatchOptions::new().with_prefix())).await?;
	let seen: Seen = Default::default();
	let sink = seen.clone();
	let task = tokio::spawn(async move {
		while let Ok(Some(reply)) = stream.message().await {
			let now = Instant::now();
			for event in reply.events() {
				if event.event_type() != kind {
					continue;
				}
				if let Some(kv) = event.kv() {
					sink.lock().unwrap().entry(identify(kv)).or_insert(now);
				}
			}
		}
	});
	Ok((seen, task))
}

/// Waits until `seen` holds every name in `keys`, or `timeout` passes.
async fn wait_seen(seen: &Seen, keys: &[String], timeout: Duration) {
	let deadline = Instant::now() + timeout;
	while Instant::now() < deadline {
		if keys.iter().all(|k| seen.lock().unwrap().contains_key(k)) {
			return;
		}
		tokio::time::sleep(Duration::from_millis(20)).await;
	}
}

/// How long after its last put the watch workload waits for the watcher to catch up; an
/// event later than that counts as an error (late or lost: the harness cannot tell).
const WATCH_GRACE: Duration = Duration::from_secs(10);

/// Watch delivery: puts at `in_flight` in flight through the writers' endpoints; a watcher on
/// another member or validator (with one etcd member, the same member) notes each event. The
/// latency is the event's arrival minus the put's acknowledgement (negative when the watcher
/// hears first). An acknowledged put whose event has not arrived [`WATCH_GRACE`] after the
/// last put is an error.
///
/// The puts cycle through [`KEY_SPACE`] keys, like the write workloads, so that the run stays
/// within regchain's per-account key quota whatever its length; each carries its sequence
/// number in its value, which is how the watcher's events are matched to puts.
pub async fn watch_delivery(
	system: &System,
	in_flight: usize,
	duration: Duration,
) -> Result<Point> {
	let tag = format!("watch{in_flight}");
	let (seen, task) = watch_prefix(
		&system.watch_endpoint,
		&format!("/bench/{tag}/"),
		EventType::Put,
		by_put_number,
	)
	.await?;
	let clients = kv_clients(&system.write_endpoints, connections(in_flight)).await?;
	let acked: Seen = Default::default();
	let sink = acked.clone();
	let writes = closed_loop(in_flight, duration, move |seq| {
		let mut kv = clients[seq as usize % clients.len()].clone();
		let (key, value, sink) = (cycled_key(&tag, seq), numbered_value(seq), sink.clone());
		load::time(async move {
			let name = put_number(&value);
			kv.put(key, value, None).await?;
			sink.lock().unwrap().insert(name, Instant::now());
			Ok(())
		})
	})
	.await;
	let acked = std::mem::take(&mut *acked.lock().unwrap());
	let names: Vec<String> = acked.keys().cloned().collect();
	wait_seen(&seen, &names, WATCH_GRACE).await;
	task.abort();
	let seen = seen.lock().unwrap();
	let mut samples = Samples {
		elapsed: writes.elapsed,
		errors: writes.errors,
		harness_cpu_seconds: writes.harness_cpu_seconds,
		..Default::default()
	};
	samples.first_error = writes.first_error;
	for (name, at) in &acked {
		match seen.get(name) {
			Some(event) => samples.latencies_ms.push(signed_ms(*event, *at)),
			None => samples.record(Err(anyhow!(
				"an acknowledged put's event had not reached the watcher {} s after the last put",
				WATCH_GRACE.as_secs()
			))),
		}
	}
	Ok(point(system, "watch-delivery", "etcd-api", in_flight, samples.summary()))
}

/// `a - b` in milliseconds, negative when `a` came first.
fn signed_ms(a: Instant, b: Instant) -> f64 {
	if a >= b {
		(a - b).as_secs_f64() * 1e3
	} else {
		-((b - a).as_secs_f64() * 1e3)
	}
}

// ---------------------------------------------------------------------------------------------
// Service registration and leases
// ---------------------------------------------------------------------------------------------

/// Service registration end to end, `n` times in a row: grant a lease and put the instance's
/// key under it (the etcd idiom), until a watcher on another member or validator (with one
/// etcd member, the same member) sees it.
pub async fn etcd_registration(system: &System, n: u64) -> Result<Point> {
	let (seen, task) =
		watch_prefix(&system.watch_endpoint, "/bench/services/", EventType::Put, by_key).await?;
	let client = etcd_client::Client::connect(&system.write_endpoints, None).await?;
	let (mut kv, mut leases) = (client.kv_client(), client.lease_client());
	let mut samples = Samples::default();
	let start = Instant::now();
	for i in 0..n {
		let key = format!("/bench/services/web/instance-{i}");
		let t0 = Instant::now();
		let outcome: Result<Duration> = async {
			let lease = leases.grant(30, None).await?.id();
			kv.put(key.clone(), "127.0.0.1:8080", Some(PutOptions::new().with_lease(lease)))
				.await?;
			wait_seen(&seen, std::slice::from_ref(&key), Duration::from_secs(10)).await;
			let at = seen
				.lock()
				.unwrap()
				.get(&key)
				.copied()
				.context("the watcher never saw the instance")?;
			Ok(at - t0)
		}
		.await;
		samples.record(outcome);
	}
	samples.elapsed = start.elapsed();
	task.abort();
	Ok(point(system, "registration", "etcd-api", 1, samples.summary()))
}

/// The same through regchain's native client: grant a lease and register an instance (each
/// acknowledged at finality), until a native watch of the service on another validator sees it.
pub async fn native_registration(system: &System, n: u64) -> Result<Point> {
	let (write_url, watch_url) = system.native.clone().context("a native client needs regchain")?;
	let client =
		Client::connect(&write_url, Some(Signer::from_uri("//Dave")?), ConnectOptions::default())
			.await?;
	let seen: Seen = Default::default();
	let sink = seen.clone();
	let mut watch =
		Watch::new(&watch_url, WatchTarget::Instances { service: b"bench-web".to_vec() }, None);
	let task = tokio::spawn(async move {
		while let Ok(item) = watch.next().await {
			let WatchItem::Change(change) = item else { continue };
			if change.kind == "registered" {
				if let Some(id) = change.instance_id() {
					let id = String::from_utf8_lossy(&id.0).into_owned();
					sink.lock().unwrap().entry(id).or_insert_with(Instant::now);
				}
			}
		}
	});
	// The watch subscribes in the background: give it a block.
	tokio::time::sleep(Duration::from_millis(500)).await;
	let mut samples = Samples::default();
	let start = Instant::now();
	for i in 0..n {
		let id = format!("instance-{i}");
		let t0 = Instant::now();
		let outcome: Result<Duration> = async {
			let (lease, _, _) = client.grant_lease(30, Wait::Finalized).await?;
			client
				.register_instance(
					b"bench-web",
					id.as_bytes(),
					b"127.0.0.1:8080",
					vec![],
					vec![],
					lease,
					Wait::Finalized,
				)
				.await?;
			wait_seen(&seen, std::slice::from_ref(&id), Duration::from_secs(10)).await;
			let at = seen
				.lock()
				.unwrap()
				.get(&id)
				.copied()
				.context("the watcher never saw the instance")?;
			Ok(at - t0)
		}
		.await;
		samples.record(outcome);
	}
	samples.elapsed = start.elapsed();
	task.abort();
	Ok(point(system, "registration", "native", 1, samples.summary()))
}

/// How far apart [`lease_expiry`] grants its leases: not a multiple of etcd's expiry check
/// (every 500 ms) nor of regchain's (every 250 ms block), so that the leases meet the check at
/// different moments.
const LEASE_SPACING: Duration = Duration::from_millis(370);

/// Lease expiry accuracy: `n` leases of `ttl` seconds, each with a key, never kept alive,
/// granted [`LEASE_SPACING`] apart, so that each is an observation of its own rather than `n`
/// leases expiring together. The latency is how long after the lease's TTL, counted from when
/// the grant was requested, the watcher (on another member or validator; with one etcd member,
/// the same member) sees the key's deletion.
pub async fn lease_expiry(system: &System, phase: &str, n: u64, ttl: i64) -> Result<Point> {
	let prefix = format!("/bench/lease-{phase}/");
	let (seen, task) =
		watch_prefix(&system.watch_endpoint, &prefix, EventType::Delete, by_key).await?;
	let client = etcd_client::Client::connect(&system.write_endpoints, None).await?;
	let (kv, leases) = (client.kv_client(), client.lease_client());
	let grants = (0..n).map(|i| {
		let (mut kv, mut leases, key) = (kv.clone(), leases.clone(), format!("{prefix}{i}"));
		async move {
			tokio::time::sleep(LEASE_SPACING * i as u32).await;
			let t0 = Instant::now();
			let granted = leases.grant(ttl, None).await?;
			if granted.ttl() != ttl {
				bail!("asked for a {ttl} s lease, got {} s", granted.ttl());
			}
			kv.put(key.clone(), "x", Some(PutOptions::new().with_lease(granted.id())))
				.await?;
			Ok::<_, anyhow::Error>((key, t0 + Duration::from_secs(ttl as u64)))
		}
	});
	let start = Instant::now();
	let mut samples = Samples::default();
	let mut due = Vec::new();
	for outcome in futures::future::join_all(grants).await {
		match outcome {
			Ok(d) => due.push(d),
			Err(e) => samples.record(Err(e)),
		}
	}
	let keys: Vec<String> = due.iter().map(|(k, _)| k.clone()).collect();
	wait_seen(&seen, &keys, Duration::from_secs(ttl as u64 + 30)).await;
	task.abort();
	let seen = seen.lock().unwrap();
	for (key, expires) in &due {
		match seen.get(key) {
			Some(at) => samples.latencies_ms.push(signed_ms(*at, *expires)),
			None => samples.record(Err(anyhow!("a key outlived its lease by more than 30 s"))),
		}
	}
	samples.elapsed = start.elapsed();
	Ok(point(system, &format!("lease-expiry-{phase}"), "etcd-api", n as usize, samples.summary()))
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn keys_are_256_bytes_and_distinct() {
		assert_eq!(key("write", 7).len(), 256);
		assert_ne!(key("write", 7), key("write", 8));
		assert_ne!(key("a", 1), key("b", 1));
		assert_eq!(value().len(), 1024);
	}

	#[test]
	fn a_numbered_value_names_its_put() {
		assert_eq!(numbered_value(7).len(), 1024);
		assert_eq!(put_number(&numbered_value(7)), "0000000007");
		assert_ne!(put_number(&numbered_value(7)), put_number(&numbered_value(1007)));
		// The same key, two puts: told apart by their values.
		assert_eq!(cycled_key("w", 7), cycled_key("w", 1007));
	}

	#[test]
	fn a_hundred_requests_share_a_connection() {
		assert_eq!(connections(1), 1);
		assert_eq!(connections(100), 1);
		assert_eq!(connections(101), 2);
		assert_eq!(connections(1000), 10);
	}
}
