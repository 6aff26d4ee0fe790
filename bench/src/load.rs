//! Load generators and their statistics: a closed loop (a fixed number of requests in flight)
//! and an open loop (a fixed offered rate, with a cap on requests in flight).
//!
//! A request not answered within [`REQUEST_TIMEOUT`] is given up: it counts as an error, and in
//! the percentiles, the mean and the maximum as the time-out, a lower bound of its latency (a
//! percentile at the time-out reads "more than the time-out"). The open loop times each request
//! from when its schedule made it due, not from when it was sent (see [`open_loop`]).

use std::{
	future::Future,
	sync::{
		atomic::{AtomicU64, Ordering},
		Arc, Mutex,
	},
	time::{Duration, Instant},
};

use anyhow::Result;
use serde::Serialize;

use crate::systems::harness_cpu_seconds;

/// How long one request may take before it is given up (an error, counted in the percentiles
/// as this long).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What a run observed: each successful request's latency, and the failures.
#[derive(Default)]
pub struct Samples {
	/// Latencies of the successful requests, in milliseconds.
	pub latencies_ms: Vec<f64>,
	/// Failed or timed-out requests.
	pub errors: u64,
	/// Of the errors, the requests given up at [`REQUEST_TIMEOUT`].
	pub timeouts: u64,
	/// The first failure's message.
	pub first_error: Option<String>,
	/// Requests an open loop could not start because the in-flight cap was reached.
	pub shed: u64,
	/// From the first request to the last completion.
	pub elapsed: Duration,
	/// CPU seconds the harness's own process used over `elapsed` (the load generator, its
	/// clients, and a watcher running meanwhile), where measured.
	pub harness_cpu_seconds: Option<f64>,
}

impl Samples {
	/// Adds one outcome.
	pub fn record(&mut self, outcome: Result<Duration>) {
		match outcome {
			Ok(latency) => self.latencies_ms.push(latency.as_secs_f64() * 1e3),
			Err(e) => {
				self.errors += 1;
				self.first_error.get_or_insert_with(|| format!("{e:#}"));
			},
		}
	}

	/// Adds a request given up at [`REQUEST_TIMEOUT`].
	pub fn record_timeout(&mut self) {
		self.timeouts += 1;
		self.record(Err(anyhow::anyhow!("no answer within {} s", REQUEST_TIMEOUT.as_secs())));
	}
}

/// A run's summary, as published.
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize)]
pub struct Summary {
	/// Successful requests.
	pub ok: u64,
	/// Failed ones (including time-outs).
	pub errors: u64,
	/// Of the errors, requests given up at [`REQUEST_TIMEOUT`]. Each counts in the percentiles,
	/// the mean and the maximum as the time-out. Absent (0) from results of the harness before
	/// this field, which left time-outs out of the percentiles.
	#[serde(default)]
	pub timeouts: u64,
	/// Requests an open loop had to drop at its in-flight cap.
	#[serde(default)]
	pub shed: u64,
	/// Wall-clock seconds of the run.
	#[serde(deserialize_with = "nan_if_null")]
	pub seconds: f64,
	/// Successful requests per second.
	#[serde(deserialize_with = "nan_if_null")]
	pub throughput: f64,
	/// Latency percentiles and extremes, in milliseconds.
	#[serde(deserialize_with = "nan_if_null")]
	pub p50_ms: f64,
	#[serde(deserialize_with = "nan_if_null")]
	pub p90_ms: f64,
	#[serde(deserialize_with = "nan_if_null")]
	pub p99_ms: f64,
	#[serde(deserialize_with = "nan_if_null")]
	pub max_ms: f64,
	#[serde(deserialize_with = "nan_if_null")]
	pub min_ms: f64,
	#[serde(deserialize_with = "nan_if_null")]
	pub mean_ms: f64,
	/// The first error, to explain a failure.
	#[serde(skip_serializing_if = "Option::is_none")]
	pub first_error: Option<String>,
	/// Up to 500 latencies (ms), evenly picked from the sorted distribution, for plots.
	pub distribution_ms: Vec<f64>,
	/// Cores the harness's own process used on average during the run (its CPU seconds over
	/// `seconds`): the load generator, its gRPC clients and any watcher. Not measured by the
	/// harness before this field, nor for the registration and lease workloads.
	#[serde(default, skip_serializing_if = "Option::is_none")]
	pub harness_cpu_cores: Option<f64>,
}

/// JSON has no NaN: serde_json writes it as `null`, read back here as NaN.
pub fn nan_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
	Ok(<Option<f64> as serde::Deserialize>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// The `q` quantile (0 to 1) of sorted values, nearest rank.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
	if sorted.is_empty() {
		return f64::NAN;
	}
	let rank = (q * sorted.len() as f64).ceil() as usize;
	sorted[rank.clamp(1, sorted.len()) - 1]
}

impl Samples {
	/// Summarizes the run. A timed-out request counts in the latency figures as
	/// [`REQUEST_TIMEOUT`], not in `ok` nor in the throughput.
	pub fn summary(mut self) -> Summary {
		let ok = self.latencies_ms.len() as u64;
		let timeout_ms = REQUEST_TIMEOUT.as_secs_f64() * 1e3;
		self.latencies_ms
			.extend(std::iter::repeat(timeout_ms).take(self.timeouts as usize));
		self.latencies_ms.sort_by(|a, b| a.total_cmp(b));
		let v = &self.latencies_ms;
		let seconds = self.elapsed.as_secs_f64();
		let step = (v.len() / 500).max(1);
		Summary {
			ok,
			errors: self.errors,
			timeouts: self.timeouts,
			shed: self.shed,
			seconds,
			throughput: if seconds > 0.0 { ok as f64 / seconds } else { 0.0 },
			p50_ms: quantile(v, 0.50),
			p90_ms: quantile(v, 0.90),
			p99_ms: quantile(v, 0.99),
			max_ms: v.last().copied().unwrap_or(f64::NAN),
			min_ms: v.first().copied().unwrap_or(f64::NAN),
			mean_ms: if v.is_empty() { f64::NAN } else { v.iter().sum::<f64>() / v.len() as f64 },
			first_error: self.first_error,
			distribution_ms: v.iter().step_by(step).copied().collect(),
			harness_cpu_cores: self
				.harness_cpu_seconds
				.filter(|_| seconds > 0.0)
				.map(|cpu| cpu / seconds),
		}
	}
}

/// Runs `op(sequence number)` from `concurrency` tasks, each starting its next request when the
/// last one completes, until `duration` has passed; then waits for the requests in flight.
/// `op` returns the latency to record (usually the time it took); one not done within
/// [`REQUEST_TIMEOUT`] is given up and recorded as a time-out.
pub async fn closed_loop<F, Fut>(concurrency: usize, duration: Duration, op: F) -> Samples
where
	F: Fn(u64) -> Fut + Send + Sync + 'static,
	Fut: Future<Output = Result<Duration>> + Send,
{
	let op = Arc::new(op);
	let next = Arc::new(AtomicU64::new(0));
	let samples = Arc::new(Mutex::new(Samples::default()));
	let cpu_before = harness_cpu_seconds();
	let start = Instant::now();
	let deadline = start + duration;
	let tasks: Vec<_> = (0..concurrency)
		.map(|_| {
			let (op, next, samples) = (op.clone(), next.clone(), samples.clone());
			tokio::spawn(async move {
				while Instant::now() < deadline {
					let seq = next.fetch_add(1, Ordering::Relaxed);
					match tokio::time::timeout(REQUEST_TIMEOUT, op(seq)).await {
						Ok(outcome) => samples.lock().unwrap().record(outcome),
						Err(_) => samples.lock().unwrap().record_timeout(),
					}
				}
			})
		})
		.collect();
	for task in tasks {
		let _ = task.await;
	}
	let mut samples = std::mem::take(&mut *samples.lock().unwrap());
	samples.elapsed = start.elapsed();
	samples.harness_cpu_seconds =
		cpu_before.zip(harness_cpu_seconds()).map(|(before, after)| after - before);
	samples
}

/// Offers `rate` requests a second for `duration`, never more than `max_in_flight` at once
/// (requests due while the cap is reached are shed and counted); then waits for the requests in
/// flight.
///
/// The `seq`-th request is due `seq / rate` seconds after the start (sent with the first 2 ms
/// tick after that), and its latency counts from when that tick was scheduled, not from when
/// the request was sent: a generator that falls behind its schedule (a busy runtime, two
/// shared cores) then shows the delay in the latencies instead of hiding it (coordinated
/// omission; wrk2 measures from the intended send time the same way). `op`'s own figure is not
/// used. A request not answered within [`REQUEST_TIMEOUT`] of that time is given up and
/// recorded as a time-out. Shed requests are counted apart, never sent, and not in the
/// percentiles.
pub async fn open_loop<F, Fut>(
	rate: f64,
	duration: Duration,
	max_in_flight: usize,
	op: F,
) -> Samples
where
	F: Fn(u64) -> Fut + Send + Sync + 'static,
	Fut: Future<Output = Result<Duration>> + Send + 'static,
{
	let permits = Arc::new(tokio::sync::Semaphore::new(max_in_flight));
	let samples = Arc::new(Mutex::new(Samples::default()));
	let cpu_before = harness_cpu_seconds();
	let start = Instant::now();
	let mut issued = 0u64;
	let mut tick = tokio::time::interval(Duration::from_millis(2));
	let mut tasks = Vec::new();
	loop {
		// The requests go out in batches, one every 2 ms: at each tick, those due by then. A
		// tick reports when it was scheduled, even when it fires late (a busy runtime, two
		// shared cores; late ticks then fire back to back), and its requests' latency counts
		// from then: the generator's lateness is measured, its batching of 2 ms is not.
		let tick_at = tick.tick().await.into_std();
		let planned = tick_at.saturating_duration_since(start);
		if planned >= duration {
			break;
		}
		let due = (rate * planned.as_secs_f64()) as u64;
		while issued < due {
			let seq = issued;
			issued += 1;
			let due_at = tick_at;
			match permits.clone().try_acquire_owned() {
				Ok(permit) => {
					let (fut, samples) = (op(seq), samples.clone());
					tasks.push(tokio::spawn(async move {
						let give_up = tokio::time::Instant::from_std(due_at + REQUEST_TIMEOUT);
						match tokio::time::timeout_at(give_up, fut).await {
							Ok(Ok(_)) => samples.lock().unwrap().record(Ok(due_at.elapsed())),
							Ok(Err(e)) => samples.lock().unwrap().record(Err(e)),
							Err(_) => samples.lock().unwrap().record_timeout(),
						}
						drop(permit);
					}));
				},
				Err(_) => samples.lock().unwrap().shed += 1,
			}
		}
	}
	for task in tasks {
		let _ = task.await;
	}
	let mut samples = std::mem::take(&mut *samples.lock().unwrap());
	samples.elapsed = start.elapsed();
	samples.harness_cpu_seconds =
		cpu_before.zip(harness_cpu_seconds()).map(|(before, after)| after - before);
	samples
}

/// Times `fut`, which returns `()` on success.
pub async fn time<T>(fut: impl Future<Output = Result<T>>) -> Result<Duration> {
	let start = Instant::now();
	fut.await?;
	Ok(start.elapsed())
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn a_summary_without_latencies_reads_back() {
		let summary = Samples { errors: 3, ..Default::default() }.summary();
		let json = serde_json::to_string(&summary).unwrap();
		let back: Summary = serde_json::from_str(&json).unwrap();
		assert_eq!(back.errors, 3);
		assert!(back.p50_ms.is_nan());
	}

	#[test]
	fn time_outs_count_in_the_tail_at_the_time_out() {
		let samples = Samples {
			latencies_ms: vec![1.0; 98],
			errors: 2,
			timeouts: 2,
			elapsed: Duration::from_secs(1),
			..Default::default()
		};
		let summary = samples.summary();
		assert_eq!((summary.ok, summary.errors, summary.timeouts), (98, 2, 2));
		assert_eq!(summary.throughput, 98.0);
		assert_eq!(summary.p50_ms, 1.0);
		assert_eq!(summary.p99_ms, REQUEST_TIMEOUT.as_secs_f64() * 1e3);
		assert_eq!(summary.max_ms, REQUEST_TIMEOUT.as_secs_f64() * 1e3);
	}

	#[test]
	fn quantiles_are_nearest_rank() {
		let v: Vec<f64> = (1..=100).map(f64::from).collect();
		assert_eq!(quantile(&v, 0.5), 50.0);
		assert_eq!(quantile(&v, 0.99), 99.0);
		assert_eq!(quantile(&v, 1.0), 100.0);
		assert_eq!(quantile(&[7.0], 0.99), 7.0);
		assert!(quantile(&[], 0.5).is_nan());
	}

	#[tokio::test]
	async fn an_open_loop_sheds_what_exceeds_its_cap_and_counts_errors() {
		// 200 requests a second for 0.5 s, each taking 100 ms, at most 5 in flight: about 50
		// per second can start, so most of the 100 due are shed, none is lost from the counts.
		let samples = open_loop(200.0, Duration::from_millis(500), 5, |seq| async move {
			tokio::time::sleep(Duration::from_millis(100)).await;
			if seq % 2 == 0 {
				Ok(Duration::from_millis(100))
			} else {
				Err(anyhow::anyhow!("odd"))
			}
		})
		.await;
		let total = samples.latencies_ms.len() as u64 + samples.errors + samples.shed;
		assert!((95..=100).contains(&total), "{total} requests accounted for");
		assert!(samples.shed > 50, "{} shed", samples.shed);
		assert!(samples.errors > 0 && samples.first_error.as_deref() == Some("odd"));
	}

	#[tokio::test]
	async fn an_open_loop_times_requests_from_when_they_were_due() {
		// Each request blocks the test's one runtime thread for 20 ms, and reports no latency
		// of its own: at 100 a second the generator falls behind (its ticks wait for the
		// requests it started), and the requests sent late show it, where the time from
		// sending would have said 0.
		let samples = open_loop(100.0, Duration::from_millis(500), 100, |_| async move {
			std::thread::sleep(Duration::from_millis(20));
			Ok::<_, anyhow::Error>(Duration::ZERO)
		})
		.await;
		let summary = samples.summary();
		assert!(summary.ok >= 10, "{} ok", summary.ok);
		assert!(summary.max_ms > 100.0, "max {} ms", summary.max_ms);
	}
}
