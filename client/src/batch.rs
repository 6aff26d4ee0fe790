//! Group commit: the calls that concurrent callers submit through one signer go to the chain
//! together, as one `Utility::force_batch` transaction.
//!
//! Each transaction is signed at the account's next nonce, handed to the pool, then followed
//! until finalized. Handing over takes two round trips to the node, under a lock, so one signer
//! submitting one transaction per call manages a few tens of calls per second whatever the
//! block time. A [`Batcher`] submits one transaction at a time: the calls that arrive while it
//! is handing one over wait, and go together in the next. A lone call is submitted as it is.
//!
//! `force_batch` runs each call in its own storage transaction: a call that fails is rolled
//! back and reported (`Utility::ItemFailed`) without touching the others, and each call that
//! succeeds is followed by `Utility::ItemCompleted`. Each caller therefore gets its own
//! [`Receipt`], holding only its own call's events, or its own error. A registry write in a
//! batch keeps its own revision, as if it had been submitted alone.
//!
//! A batch stays well inside one block: at most half a block's weight for normal calls, 256 KiB
//! of encoded calls, and [`MAX_BATCH`] calls. The byte bound is set by the transaction pool: each
//! of its views holds at most 2 MiB of transactions whose nonce is not yet ready ("future", a
//! tenth of `--pool-kbytes`), and drops the rest. A signer's batches wait there whenever the
//! one before them is not yet in the view's block, so 1 MiB batches overflowed it.
//!
//! Under overload the backlog waits here, not in the transaction pool:
//! - the batches handed over and not yet finished (finalized, or failed) weigh at most one
//!   block's worth of normal calls, and hold at most [`MAX_IN_FLIGHT_BYTES`] ([`Budget`]); the
//!   next batch waits for room. The byte bound keeps a signer's batches that wait for the one
//!   before them within what the pool keeps of such "future" transactions. A transaction in
//!   the pool cannot be taken back, and every later transaction of the signer queues behind it
//!   (nonces), so an unbounded hand-over would make the signer's writes wait for the whole
//!   backlog long after their callers gave up;
//! - a call whose caller has gone (its future dropped, e.g. a gRPC request cancelled on a client
//!   timeout) before its batch is formed is not submitted: nobody waits for its answer, and it
//!   was never acknowledged.

use std::sync::Arc;

use codec::Encode;
use frame_support::dispatch::GetDispatchInfo;
use regchain_runtime::{Runtime, RuntimeCall, RuntimeEvent};
use sp_runtime::DispatchError;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};

use crate::{
	submit::{dispatch_error_name, Wait},
	Client, Error, Receipt, LOG_TARGET,
};

/// The most calls in one batch.
pub const MAX_BATCH: usize = 1_000;
/// The most bytes of encoded calls in one batch.
pub const MAX_BATCH_BYTES: usize = 256 << 10;
/// The most bytes of encoded calls in the batches handed over and not yet finished.
pub const MAX_IN_FLIGHT_BYTES: usize = 1 << 20;
/// The most calls waiting for a batch. A call beyond it fails at once with
/// [`Error::Overloaded`] (about ten seconds of the etcd API's throughput): under an overload that
/// lasts, callers get an answer rather than an ever longer wait, and memory stays bounded.
pub const MAX_QUEUED_CALLS: usize = 10_000;

struct Job {
	call: RuntimeCall,
	reply: oneshot::Sender<Result<Receipt, Error>>,
	/// When it was queued, for the debug log of a batch that waited.
	queued: std::time::Instant,
}

/// Submits calls signed by one client, grouping those that arrive together (see the module
/// documentation). Cheap to share: every handle feeds the same background task.
#[derive(Clone)]
pub struct Batcher {
	jobs: mpsc::Sender<Job>,
}

impl Batcher {
	/// A batcher submitting through `client`, waiting for each transaction as `wait` says. It
	/// runs on the current Tokio runtime until every handle is dropped.
	pub fn new(client: Arc<Client>, wait: Wait) -> Self {
		let (jobs, rx) = mpsc::channel(MAX_QUEUED_CALLS);
		tokio::spawn(run(client, wait, rx));
		Batcher { jobs }
	}

	/// Submits `call` in the next batch and returns its own receipt, or its own error.
	pub async fn submit(&self, call: RuntimeCall) -> Result<Receipt, Error> {
		let (reply, answer) = oneshot::channel();
		self.jobs
			.try_send(Job { call, reply, queued: std::time::Instant::now() })
			.map_err(|e| match e {
				mpsc::error::TrySendError::Full(_) => {
					Error::Overloaded { queued: MAX_QUEUED_CALLS }
				},
				mpsc::error::TrySendError::Closed(_) => closed(),
			})?;
		answer.await.map_err(|_| closed())?
	}
}

fn closed() -> Error {
	Error::Connection("the batcher's task has stopped".into())
}

/// The most weight of calls in one batch.
struct Limits {
	ref_time: u64,
	proof_size: u64,
}

impl Limits {
	fn of_runtime() -> Self {
		let weights = <Runtime as frame_system::Config>::BlockWeights::get();
		let normal = weights.get(frame_support::dispatch::DispatchClass::Normal);
		let max = normal.max_extrinsic.unwrap_or(weights.max_block);
		Limits { ref_time: max.ref_time() / 2, proof_size: max.proof_size() / 2 }
	}
}

async fn run(client: Arc<Client>, wait: Wait, mut rx: mpsc::Receiver<Job>) {
	let limits = Limits::of_runtime();
	// In microseconds of ref time, and in KiB.
	let weight_budget = Budget::new(limits.ref_time.saturating_mul(2) / 1_000_000);
	let bytes_budget = Budget::new(MAX_IN_FLIGHT_BYTES as u64 / 1024);
	let mut carried: Option<Job> = None;
	loop {
		let Some((jobs, weight, bytes)) = next_batch(&mut rx, &mut carried, &limits).await else {
			return;
		};
		// Wait for room among the batches under way, then drop the calls given up meanwhile.
		let permit = (
			weight_budget.reserve(weight / 1_000_000).await,
			bytes_budget.reserve(bytes as u64 / 1024).await,
		);
		let jobs: Vec<Job> = jobs.into_iter().filter(|job| !job.reply.is_closed()).collect();
		if jobs.is_empty() {
			continue;
		}
		if log::log_enabled!(target: LOG_TARGET, log::Level::Debug) {
			let waited = jobs
				.iter()
				.map(|job| job.queued.elapsed().as_millis())
				.max()
				.unwrap_or_default();
			log::debug!(target: LOG_TARGET, "submitting a batch of {} calls, the oldest queued {waited} ms ago", jobs.len());
		}

		// Submit in the background, and form the next batch once this one is in the pool.
		let (handed_over, in_pool) = oneshot::channel();
		let client = client.clone();
		tokio::spawn(async move {
			let (calls, replies): (Vec<_>, Vec<_>) =
				jobs.into_iter().map(|j| (j.call, j.reply)).unzip();
			let results = submit_batch(&client, calls, wait, handed_over).await;
			drop(permit);
			for (reply, result) in replies.into_iter().zip(results) {
				let _ = reply.send(result);
			}
		});
		// Dropped without a send if submitting failed: go on either way.
		let _ = in_pool.await;
	}
}

/// The next batch: the carried call or the next one to arrive, then every call already queued
/// that fits the limits (the first that does not is carried to the next batch). Calls whose
/// callers have gone are skipped. Returns the batch, its weight (ref time) and its encoded
/// size, or `None` once every handle is dropped.
async fn next_batch(
	rx: &mut mpsc::Receiver<Job>,
	carried: &mut Option<Job>,
	limits: &Limits,
) -> Option<(Vec<Job>, u64, usize)> {
	let first = loop {
		let job = match carried.take() {
			Some(job) => job,
			None => rx.recv().await?,
		};
		if !job.reply.is_closed() {
			break job;
		}
	};
	let mut weight = first.call.get_dispatch_info().call_weight;
	let mut bytes = first.call.encoded_size();
	let mut jobs = vec![first];
	while jobs.len() < MAX_BATCH {
		let Ok(job) = rx.try_recv() else { break };
		if job.reply.is_closed() {
			continue;
		}
		let w = weight.saturating_add(job.call.get_dispatch_info().call_weight);
		let b = bytes.saturating_add(job.call.encoded_size());
		if w.ref_time() > limits.ref_time
			|| w.proof_size() > limits.proof_size
			|| b > MAX_BATCH_BYTES
		{
			*carried = Some(job);
			break;
		}
		(weight, bytes) = (w, b);
		jobs.push(job);
	}
	Some((jobs, weight.ref_time(), bytes))
}

/// How much (weight in microseconds, or KiB) the batches under way may hold together.
struct Budget {
	permits: Arc<Semaphore>,
	total: u32,
}

impl Budget {
	fn new(total: u64) -> Self {
		let total =
			u32::try_from(total).unwrap_or(u32::MAX).clamp(1, Semaphore::MAX_PERMITS as u32);
		Budget { permits: Arc::new(Semaphore::new(total as usize)), total }
	}

	/// Waits until `amount` fits beside the batches under way (a batch larger than the whole
	/// budget waits until it has the budget to itself), and holds it until the permit drops.
	async fn reserve(&self, amount: u64) -> OwnedSemaphorePermit {
		let units = u32::try_from(amount).unwrap_or(u32::MAX).clamp(1, self.total);
		self.permits
			.clone()
			.acquire_many_owned(units)
			.await
			.expect("the semaphore is never closed; qed")
	}
}

/// Submits `calls`, alone or as one `force_batch`, and returns each call's outcome in order.
async fn submit_batch(
	client: &Client,
	mut calls: Vec<RuntimeCall>,
	wait: Wait,
	handed_over: oneshot::Sender<()>,
) -> Vec<Result<Receipt, Error>> {
	let n = calls.len();
	if n == 1 {
		let call = calls.pop().expect("one call; qed");
		return vec![client.submit_signalling(call, wait, Some(handed_over)).await];
	}
	let batch = RuntimeCall::Utility(pallet_utility::Call::force_batch { calls });
	let receipt = match client.submit_signalling(batch, wait, Some(handed_over)).await {
		Ok(receipt) => receipt,
		Err(e) => return (0..n).map(|_| Err(e.clone())).collect(),
	};
	match split_batch(&receipt.events, n) {
		Ok(items) => items
			.into_iter()
			.map(|item| match item {
				Ok(events) => Ok(Receipt { events, ..receipt.clone() }),
				Err(error) => Err(Error::Dispatch {
					name: dispatch_error_name(error),
					block: format!("{:?}", receipt.block_hash),
				}),
			})
			.collect(),
		Err(e) => (0..n).map(|_| Err(e.clone())).collect(),
	}
}

/// Splits the events of a `force_batch` of `n` calls into each call's events, or its error.
fn split_batch(
	events: &[RuntimeEvent],
	n: usize,
) -> Result<Vec<Result<Vec<RuntimeEvent>, DispatchError>>, Error> {
	let mut items = Vec::with_capacity(n);
	let mut current = Vec::new();
	for event in events {
		match event {
			RuntimeEvent::Utility(pallet_utility::Event::ItemCompleted) => {
				items.push(Ok(std::mem::take(&mut current)))
			},
			RuntimeEvent::Utility(pallet_utility::Event::ItemFailed { error }) => {
				current.clear();
				items.push(Err(*error));
			},
			RuntimeEvent::Utility(_) | RuntimeEvent::System(_) => {},
			other => current.push(other.clone()),
		}
	}
	if items.len() != n {
		return Err(Error::decode(
			"a batch's events",
			format!("{} outcomes for {n} calls", items.len()),
		));
	}
	Ok(items)
}

#[cfg(test)]
mod tests {
	use super::*;
	use regchain_runtime::RuntimeEvent as E;
	use std::time::Duration;

	fn key_put(revision: u64) -> RuntimeEvent {
		E::ServiceRegistry(pallet_service_registry::Event::KeyPut {
			key: b"k".to_vec().try_into().unwrap(),
			value: b"v".to_vec().try_into().unwrap(),
			revision,
			lease: None,
			who: [0u8; 32].into(),
		})
	}

	#[test]
	fn each_call_gets_its_own_events_or_error() {
		let failed = DispatchError::Other("no");
		let events = vec![
			key_put(7),
			E::Utility(pallet_utility::Event::ItemCompleted),
			E::Utility(pallet_utility::Event::ItemFailed { error: failed }),
			key_put(8),
			E::Utility(pallet_utility::Event::ItemCompleted),
			E::Utility(pallet_utility::Event::BatchCompletedWithErrors),
		];
		let items = split_batch(&events, 3).unwrap();
		assert_eq!(items[0].as_ref().unwrap(), &vec![key_put(7)]);
		assert_eq!(items[1], Err(failed));
		assert_eq!(items[2].as_ref().unwrap(), &vec![key_put(8)]);
	}

	fn put(n: u8) -> RuntimeCall {
		RuntimeCall::ServiceRegistry(crate::registry::Call::put {
			key: vec![n],
			value: vec![n],
			lease: None,
		})
	}

	fn job(n: u8) -> (Job, oneshot::Receiver<Result<Receipt, Error>>) {
		let (reply, answer) = oneshot::channel();
		(Job { call: put(n), reply, queued: std::time::Instant::now() }, answer)
	}

	#[tokio::test]
	async fn a_call_beyond_the_queue_bound_fails_at_once() {
		// A batcher whose task has not taken anything yet: the queue fills.
		let (jobs, _rx) = mpsc::channel(MAX_QUEUED_CALLS);
		let batcher = Batcher { jobs };
		for n in 0..MAX_QUEUED_CALLS {
			let (job, _) = job(n as u8);
			batcher.jobs.try_send(job).unwrap_or_else(|_| panic!("room for call {n}"));
		}
		let refused =
			tokio::time::timeout(std::time::Duration::from_secs(1), batcher.submit(put(1))).await;
		assert!(
			matches!(refused, Ok(Err(Error::Overloaded { queued: MAX_QUEUED_CALLS }))),
			"{refused:?}"
		);
	}

	#[tokio::test]
	async fn calls_whose_callers_have_gone_are_not_batched() {
		let (tx, mut rx) = mpsc::channel(MAX_QUEUED_CALLS);
		let mut answers = Vec::new();
		for n in 1..=4 {
			let (job, answer) = job(n);
			tx.try_send(job).unwrap();
			answers.push(answer);
		}
		// The callers of calls 1 and 3 give up.
		answers.remove(2);
		answers.remove(0);
		let mut carried = None;
		let (jobs, _, _) = next_batch(&mut rx, &mut carried, &Limits::of_runtime()).await.unwrap();
		let calls: Vec<_> = jobs.iter().map(|j| j.call.clone()).collect();
		assert_eq!(calls, vec![put(2), put(4)]);
		assert!(carried.is_none());
	}

	#[tokio::test]
	async fn batches_wait_for_room_in_the_budget() {
		async fn blocked(budget: &Budget, amount: u64) -> bool {
			tokio::time::timeout(Duration::from_millis(50), budget.reserve(amount))
				.await
				.is_err()
		}
		let budget = Budget::new(10);
		let first = budget.reserve(6).await;
		let second = budget.reserve(4).await;
		assert!(blocked(&budget, 1).await, "the budget is spent");
		drop(first);
		let third = budget.reserve(1).await;
		// A batch heavier than the whole budget runs alone, once the others are done.
		assert!(blocked(&budget, u64::MAX).await);
		drop((second, third));
		let _alone = budget.reserve(u64::MAX).await;
	}

	#[test]
	fn a_missing_outcome_is_an_error_for_every_call() {
		let events = vec![key_put(7), E::Utility(pallet_utility::Event::ItemCompleted)];
		assert!(split_batch(&events, 2).is_err());
	}
}
