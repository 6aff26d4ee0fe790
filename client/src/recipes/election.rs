//! Leader election with fencing, as etcd's `concurrency.Election`.

use std::{sync::Arc, time::Duration};

use pallet_service_registry::{Compare, TxnOp};
use regchain_runtime::AccountId;

use crate::{
	client::term_is, AtBlock, Client, ElectionState, Error, LeaseId, Receipt, Revision, TxnOutcome,
	Wait, Watch, WatchTarget,
};

/// The term a leader was elected in: the fencing token of its writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElectionTerm {
	/// The election.
	pub election: Vec<u8>,
	/// The term.
	pub term: u64,
}

impl ElectionTerm {
	/// The compare that holds only while the election is still at this term.
	pub fn compare(&self) -> Compare<AccountId> {
		term_is(&self.election, self.term)
	}
}

/// One account's part in one election: campaign, wait to lead, write fenced by the term,
/// resign; or observe the leadership.
///
/// Leadership is held through a lease, which the caller keeps alive (a
/// [`crate::LeaseKeeper`]). When the lease ends, the chain removes the candidacy and the next
/// candidate leads with a higher term; the old leader's fenced writes are then refused, even if
/// it has not noticed yet.
pub struct Election {
	client: Arc<Client>,
	name: Vec<u8>,
	poll: Duration,
}

impl Election {
	/// The election `name`, through `client` (whose signer is the candidate).
	pub fn new(client: Arc<Client>, name: &[u8]) -> Self {
		Election { client, name: name.to_vec(), poll: Duration::from_millis(250) }
	}

	/// The election's name.
	pub fn name(&self) -> &[u8] {
		&self.name
	}

	/// Joins the queue with `value` and `lease`, then waits until this account leads (etcd's
	/// `Campaign`). Returns the term it leads in.
	pub async fn campaign(
		&self,
		value: &[u8],
		lease: LeaseId,
		wait: Wait,
	) -> Result<ElectionTerm, Error> {
		let (term, _) = self.client.campaign(&self.name, value, lease, wait).await?;
		match term {
			Some(term) if wait == Wait::Finalized => {
				Ok(ElectionTerm { election: self.name.clone(), term })
			},
			_ => self.wait_until_leader().await,
		}
	}

	/// Waits until this account leads (read at the finalized block); returns the term.
	pub async fn wait_until_leader(&self) -> Result<ElectionTerm, Error> {
		let me = self.client.signer().ok_or(Error::NoSigner)?.ss58();
		loop {
			if let Some(state) = self.state().await? {
				if state.leader.as_ref().is_some_and(|l| l.who == me) {
					return Ok(ElectionTerm { election: self.name.clone(), term: state.term });
				}
			}
			tokio::time::sleep(self.poll).await;
		}
	}

	/// The election's state at the finalized block (`None` if never held).
	pub async fn state(&self) -> Result<Option<ElectionState>, Error> {
		Ok(self.client.election(&self.name, &AtBlock::Finalized).await?.election)
	}

	/// Whether this account still leads in `term` (at the finalized block).
	pub async fn is_leader(&self, term: &ElectionTerm) -> Result<bool, Error> {
		let me = self.client.signer().ok_or(Error::NoSigner)?.ss58();
		Ok(self
			.state()
			.await?
			.is_some_and(|s| s.term == term.term && s.leader.is_some_and(|l| l.who == me)))
	}

	/// A watch of the election's changes (etcd's `Observe`), resuming across lost connections,
	/// through the client's next endpoint if it has several.
	pub fn observe(&self, from_revision: Option<u64>) -> Watch {
		Watch::over(
			self.client.endpoints(),
			WatchTarget::Election { name: self.name.clone() },
			from_revision,
		)
	}

	/// Changes the leader's value (etcd's `Proclaim`).
	pub async fn proclaim(&self, value: &[u8], wait: Wait) -> Result<Receipt, Error> {
		self.client.proclaim(&self.name, value, wait).await
	}

	/// Leaves the queue (etcd's `Resign`); a leader hands over to the next candidate.
	pub async fn resign(&self, wait: Wait) -> Result<Receipt, Error> {
		self.client.resign(&self.name, wait).await
	}

	/// Puts `key` only while the election is still at `term`; [`Error::Fenced`] otherwise.
	pub async fn fenced_put(
		&self,
		term: &ElectionTerm,
		key: &[u8],
		value: &[u8],
		lease: Option<LeaseId>,
		wait: Wait,
	) -> Result<Revision, Error> {
		let (revision, _) = self
			.client
			.fenced_put(&term.election, term.term, key, value, lease, wait)
			.await?;
		Ok(revision)
	}

	/// A txn applied only while the election is still at `term` and every compare holds.
	/// There is no failure branch: it would run for a stale leader too. When the txn does not
	/// apply, the term is read to tell why: [`Error::Fenced`] if the election moved on, else an
	/// outcome with `succeeded: false` (one of `compares` failed; nothing was written).
	pub async fn fenced_txn(
		&self,
		term: &ElectionTerm,
		mut compares: Vec<Compare<AccountId>>,
		success: Vec<TxnOp>,
		wait: Wait,
	) -> Result<TxnOutcome, Error> {
		compares.insert(0, term.compare());
		let (outcome, _) = self.client.txn(compares, success, vec![], wait).await?;
		if outcome.succeeded {
			return Ok(outcome);
		}
		let current = self.state().await?.map(|s| s.term).unwrap_or_default();
		if current != term.term {
			return Err(Error::Fenced {
				election: crate::hex::display_bytes(&term.election),
				term: term.term,
			});
		}
		Ok(outcome)
	}
}
