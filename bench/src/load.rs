//! Load generators and their statistics: a closed loop (a fixed number of requests in flight)
//! and an open loop (a fixed offered rate, with a cap on requests in flight).

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

/// How long one request may take before it counts as an error.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What a run observed: each successful request's latency, and the failures.
#[derive(Default)]
pub struct Samples {
	/// Latencies of the successful requests, in milliseconds.
	pub latencies_ms: Vec<f64>,
	/// Failed or timed-out requests.
	pub errors: u64,
	/// The first failure's message.
	pub first_error: Option<String>,
	/// Requests an open loop could not start because the in-flight cap was reached.
	pub shed: u64,
	/// From the first request to the last completion.
	pub elapsed: Duration,
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
}

/// A run's summary, as published.
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize)]
pub struct Summary {
	/// Successful requests.
	pub ok: u64,
	/// Failed ones (including time-outs).
	pub errors: u64,
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
	/// Summarizes the run.
	pub fn summary(mut self) -> Summary {
		self.latencies_ms.sort_by(|a, b| a.total_cmp(b));
		let v = &self.latencies_ms;
		let seconds = self.elapsed.as_secs_f64();
		let step = (v.len() / 500).max(1);
		Summary {
			ok: v.len() as u64,
			errors: self.errors,
			shed: self.shed,
			seconds,
			throughput: if seconds > 0.0 { v.len() as f64 / seconds } else { 0.0 },
			p50_ms: quantile(v, 0.50),
			p90_ms: quantile(v, 0.90),
			p99_ms: quantile(v, 0.99),
			max_ms: v.last().copied().unwrap_or(f64::NAN),
			min_ms: v.first().copied().unwrap_or(f64::NAN),
			mean_ms: if v.is_empty() { f64::NAN } else { v.iter().sum::<f64>() / v.len() as f64 },
			first_error: self.first_error,
			distribution_ms: v.iter().step_by(step).copied().collect(),
		}
	}
}

/// Runs `op(sequence number)` from `concurrency` tasks, each starting its next request when the
/// last one completes, until `duration` has passed; then waits for the requests in flight.
/// `op` returns the latency to record (usually the time it took).
pub async fn closed_loop<F, Fut>(concurrency: usize, duration: Duration, op: F) -> Samples
where
	F: Fn(u64) -> Fut + Send + Sync + 'static,
	Fut: Future<Output = Result<Duration>> + Send,
{
	let op = Arc::new(op);
	let next = Arc::new(AtomicU64::new(0));
	let samples = Arc::new(Mutex::new(Samples::default()));
	let start = Instant::now();
	let deadline = start + duration;
	let tasks: Vec<_> = (0..concurrency)
		.map(|_| {
			let (op, next, samples) = (op.clone(), next.clone(), samples.clone());
			tokio::spawn(async move {
				while Instant::now() < deadline {
					let seq = next.fetch_add(1, Ordering::Relaxed);
					let outcome = timed_out(op(seq)).await;
					samples.lock().unwrap().record(outcome);
				}
			})
		})
		.collect();
	for task in tasks {
		let _ = task.await;
	}
	let mut samples = std::mem::take(&mut *samples.lock().unwrap());
	samples.elapsed = start.elapsed();
	samples
}

/// Offers `rate` requests a second for `duration`, never more than `max_in_flight` at once
/// (requests due while the cap is reached are shed and counted); then waits for the requests in
/// flight.
pub async fn open_loop<F, Fut>(rate: f64, duration: Duration, max_in_flight: usize, op: F) -> Samples
where
	F: Fn(u64) -> Fut + Send + Sync + 'static,
	Fut: Future<Output = Result<Duration>> + Send + 'static,
{
	let permits = Arc::new(tokio::sync::Semaphore::new(max_in_flight));
	let samples = Arc::new(Mutex::new(Samples::default()));
	let start = Instant::now();
	let mut issued = 0u64;
	let mut tick = tokio::time::interval(Duration::from_millis(2));
	let mut tasks = Vec::new();
	loop {
		tick.tick().await;
		let now = start.elapsed();
		if now >= duration {
			break;
		}
		let due = (rate * now.as_secs_f64()) as u64;
		while issued < due {
			let seq = issued;
			issued += 1;
			match permits.clone().try_acquire_owned() {
				Ok(permit) => {
					let (fut, samples) = (op(seq), samples.clone());
					tasks.push(tokio::spawn(async move {
						let outcome = timed_out(fut).await;
						samples.lock().unwrap().record(outcome);
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
	samples
}

async fn timed_out(fut: impl Future<Output = Result<Duration>>) -> Result<Duration> {
	match tokio::time::timeout(REQUEST_TIMEOUT, fut).await {
		Ok(outcome) => outcome,
		Err(_) => Err(anyhow::anyhow!("no answer within {} s", REQUEST_TIMEOUT.as_secs())),
	}
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
}
