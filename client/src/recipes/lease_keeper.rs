//! Keeping a lease alive in the background.

use std::{
	sync::Arc,
	time::{Duration, Instant},
};

use tokio::{sync::watch, task::JoinHandle};

use crate::{Client, Error, LeaseId, Wait, LOG_TARGET};

/// What the keeper knows of its lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseStatus {
	/// Kept alive; the chain's expiry after the last keep-alive, in chain milliseconds.
	Alive {
		/// Chain time of expiry.
		expires_at_ms: u64,
	},
	/// Lost: the chain ended it (`ServiceRegistry::LeaseNotFound`/`LeaseExpired`), or it could
	/// not be kept alive before its time to live ran out. Whatever hung on it is gone.
	Lost {
		/// Why.
		reason: String,
	},
}

/// Keeps a lease alive from a background task, about every third of its time to live, and tells
/// when it is lost (etcd's `KeepAlive`).
///
/// A keep-alive waits only for a best block: it must land well within the time to live, and a
/// keep-alive undone by a reorg is simply sent again at the next tick. When a keep-alive fails
/// for a reason other than the chain saying the lease is gone (a lost connection, a timeout, a
/// nonce taken by another process signing with the same account), the keeper retries after
/// 150 to 450 ms until the time to live has passed since the last success, and then reports the
/// lease lost: by then the chain has ended it. When the connection itself is gone (the node
/// went away), each retry first connects again, through the next of the client's endpoints
/// ([`Client::reconnect`]); [`LeaseKeeper::client`] is then the new connection.
///
/// Both delays are jittered. Two keepers of one account in different processes would otherwise
/// tick in step, and their keep-alives, signed at the same nonce, would keep displacing each other.
pub struct LeaseKeeper {
	lease: LeaseId,
	status: watch::Receiver<LeaseStatus>,
	client: watch::Receiver<Arc<Client>>,
	task: JoinHandle<()>,
}

impl LeaseKeeper {
	/// Starts keeping `lease`, whose time to live is `ttl_secs`, alive through `client`.
	pub fn start(client: Arc<Client>, lease: LeaseId, ttl_secs: u32) -> Self {
		let ttl = Duration::from_secs(ttl_secs.max(1) as u64);
		let (tx, status) = watch::channel(LeaseStatus::Alive { expires_at_ms: 0 });
		let (client_tx, client_rx) = watch::channel(client);
		let task = tokio::spawn(keep(client_tx, lease, ttl, tx));
		LeaseKeeper { lease, status, client: client_rx, task }
	}

	/// The connection the lease is kept alive through: the one it started with, or the one it
	/// connected again after losing it.
	pub fn client(&self) -> Arc<Client> {
		self.client.borrow().clone()
	}

	/// The lease kept.
	pub fn lease(&self) -> LeaseId {
		self.lease
	}

	/// The current status.
	pub fn status(&self) -> LeaseStatus {
		self.status.borrow().clone()
	}

	/// A receiver of every status change.
	pub fn subscribe(&self) -> watch::Receiver<LeaseStatus> {
		self.status.clone()
	}

	/// Waits until the lease is lost; returns why.
	pub async fn lost(&self) -> String {
		let mut rx = self.status.clone();
		loop {
			if let LeaseStatus::Lost { reason } = &*rx.borrow_and_update() {
				return reason.clone();
			}
			if rx.changed().await.is_err() {
				return "the lease keeper stopped".into();
			}
		}
	}

	/// Stops keeping the lease alive (it then expires after its time to live, unless revoked).
	pub fn stop(self) {
		self.task.abort();
	}
}

impl Drop for LeaseKeeper {
	fn drop(&mut self) {
		self.task.abort();
	}
}

async fn keep(
	client: watch::Sender<Arc<Client>>,
	lease: LeaseId,
	ttl: Duration,
	tx: watch::Sender<LeaseStatus>,
) {
	let period = (ttl / 3).max(Duration::from_millis(500));
	// A random share of up to a fifth of the period, so that keepers do not stay in step.
	let jittered = |d: Duration| d - d.mul_f64(fastrand::f64() / 5.0);
	let mut last_success = Instant::now();
	let mut next = tokio::time::Instant::now();
	loop {
		tokio::time::sleep_until(next).await;
		// After a pause (a stopped process, a suspended machine) the lease may be long gone;
		// the chain says so below.
		let current = client.borrow().clone();
		if !current.rpc().is_connected() {
			match current.reconnect().await {
				Ok(again) => {
					client.send_replace(Arc::new(again));
				},
				Err(e) => log::warn!(target: LOG_TARGET, "keep-alive of lease {lease}: {e}"),
			}
		}
		let current = client.borrow().clone();
		let attempt = tokio::time::timeout(ttl, current.keep_alive(lease, Wait::Best)).await;
		match attempt {
			Ok(Ok((expires_at_ms, _))) => {
				last_success = Instant::now();
				next = tokio::time::Instant::now() + jittered(period);
				tx.send_replace(LeaseStatus::Alive { expires_at_ms });
			},
			Ok(Err(e))
				if e.is_registry_error("LeaseNotFound") || e.is_registry_error("LeaseExpired") =>
			{
				log::warn!(target: LOG_TARGET, "lease {lease} lost: {e}");
				tx.send_replace(LeaseStatus::Lost { reason: format!("lease {lease} lost: {e}") });
				return;
			},
			other => {
				let why = match other {
					Ok(Err(e)) => e,
					Err(_) => Error::Timeout { what: "a keep-alive".into(), after: ttl },
					Ok(Ok(_)) => unreachable!("handled above"),
				};
				if last_success.elapsed() >= ttl {
					tx.send_replace(LeaseStatus::Lost {
						reason: format!(
							"lease {lease} lost: not kept alive within its time to live ({why})"
						),
					});
					return;
				}
				log::warn!(target: LOG_TARGET, "keep-alive of lease {lease} failed, retrying: {why}");
				let retry = Duration::from_millis(fastrand::u64(150..450)).min(period);
				next = tokio::time::Instant::now() + retry;
			},
		}
	}
}
