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
//! A batch stays well inside one block: at most half a block's weight for normal calls, 1 MiB
//! of encoded calls, and [`MAX_BATCH`] calls.

use std::sync::Arc;

use codec::Encode;
use frame_support::dispatch::GetDispatchInfo;
use regchain_runtime::{Runtime, RuntimeCall, RuntimeEvent};
use sp_runtime::DispatchError;
use tokio::sync::{mpsc, oneshot};

use crate::{
	submit::{dispatch_error_name, Wait},
	Client, Error, Receipt, LOG_TARGET,
};

/// The most calls in one batch.
pub const MAX_BATCH: usize = 1_000;
/// The most bytes of encoded calls in one batch.
pub const MAX_BATCH_BYTES: usize = 1 << 20;

struct Job {
	call: RuntimeCall,
	reply: oneshot::Sender<Result<Receipt, Error>>,
}

/// Submits calls signed by one client, grouping those that arrive together (see the module
/// documentation). Cheap to share: every handle feeds the same background task.
#[derive(Clone)]
pub struct Batcher {
	jobs: mpsc::UnboundedSender<Job>,
}

impl Batcher {
	/// A batcher submitting through `client`, waiting for each transaction as `wait` says. It
	/// runs on the current Tokio runtime until every handle is dropped.
	pub fn new(client: Arc<Client>, wait: Wait) -> Self {
		let (jobs, rx) = mpsc::unbounded_channel();
		tokio::spawn(run(client, wait, rx));
		Batcher { jobs }
	}

	/// Submits `call` in the next batch and returns its own receipt, or its own error.
	pub async fn submit(&self, call: RuntimeCall) -> Result<Receipt, Error> {
		let (reply, answer) = oneshot::channel();
		self.jobs.send(Job { call, reply }).map_err(|_| closed())?;
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

async fn run(client: Arc<Client>, wait: Wait, mut rx: mpsc::UnboundedReceiver<Job>) {
	let limits = Limits::of_runtime();
	let mut carried: Option<Job> = None;
	loop {
		let first = match carried.take() {
			Some(job) => job,
			None => match rx.recv().await {
				Some(job) => job,
				None => return,
			},
		};
		let mut weight = first.call.get_dispatch_info().call_weight;
		let mut bytes = first.call.encoded_size();
		let mut jobs = vec![first];
		while jobs.len() < MAX_BATCH {
			let Ok(job) = rx.try_recv() else { break };
			let w = weight.saturating_add(job.call.get_dispatch_info().call_weight);
			let b = bytes.saturating_add(job.call.encoded_size());
			if w.ref_time() > limits.ref_time || w.proof_size() > limits.proof_size || b > MAX_BATCH_BYTES {
				carried = Some(job);
				break;
			}
			(weight, bytes) = (w, b);
			jobs.push(job);
		}
		log::debug!(target: LOG_TARGET, "submitting a batch of {} calls", jobs.len());

		// Submit in the background, and form the next batch once this one is in the pool.
		let (handed_over, in_pool) = oneshot::channel();
		let client = client.clone();
		tokio::spawn(async move {
			let (calls, replies): (Vec<_>, Vec<_>) = jobs.into_iter().map(|j| (j.call, j.reply)).unzip();
			let results = submit_batch(&client, calls, wait, handed_over).await;
			for (reply, result) in replies.into_iter().zip(results) {
				let _ = reply.send(result);
			}
		});
		// Dropped without a send if submitting failed: go on either way.
		let _ = in_pool.await;
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
			RuntimeEvent::Utility(pallet_utility::Event::ItemCompleted) =>
				items.push(Ok(std::mem::take(&mut current))),
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

	#[test]
	fn a_missing_outcome_is_an_error_for_every_call() {
		let events = vec![key_put(7), E::Utility(pallet_utility::Event::ItemCompleted)];
		assert!(split_batch(&events, 2).is_err());
	}
}
