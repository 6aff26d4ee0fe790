//! Leader elections: a queue of candidates per election; the first live candidate leads.
//!
//! Every touch of an election first *settles* it in memory: candidates whose lease is no longer
//! live leave the queue. When the head of the queue differs from the stored head, the leader has
//! changed and the term increments once (a dead leader followed by several dead candidates is
//! one hand-over). The settled election is written only after every check of the call passed,
//! and removed once its queue is empty: what is stored is bounded by the live candidacies,
//! hence by each account's lease quota. Terms never repeat for a name: a removed election
//! raises [`TermFloor`] above its last term, and an election's next term is at least the
//! floor.
//! Lease ends settle the elections of their candidacies at once, so a leader whose lease ends
//! hands over in the same block.

use crate::{pallet::*, types::*};
use alloc::vec::Vec;
use frame_support::{
	ensure,
	pallet_prelude::{BoundedVec, DispatchResult, Get},
	traits::Time,
};

/// An election after dropping candidates whose lease is no longer live, before it is stored.
pub(crate) struct Settled<T: Config> {
	/// The election's name.
	pub(crate) name: Name<T>,
	/// The election, settled (and possibly changed by the call).
	pub(crate) election: Election<T>,
	/// The head of the queue as stored.
	original_leader: Option<T::AccountId>,
	/// Candidates dropped because their lease is no longer live.
	removed: Vec<Candidate<T>>,
	/// Whether the stored election must be rewritten.
	dirty: bool,
	/// Whether the election is stored.
	stored: bool,
	/// [`TermFloor`] when it was settled: the term a compare sees and the term stored are the
	/// same, whatever else the call removes meanwhile.
	floor: u64,
}

/// The term after a change of leader of an election at `term`: the next one, and never below
/// `floor` ([`TermFloor`]: above the terms of removed elections, which a name may have held).
fn next_term(term: u64, floor: u64) -> u64 {
	term.saturating_add(1).max(floor)
}

impl<T: Config> Settled<T> {
	/// The leader after settling.
	pub(crate) fn leader(&self) -> Option<&T::AccountId> {
		self.election.candidates.first().map(|c| &c.who)
	}

	/// The term once stored: one more if the leader has changed.
	pub(crate) fn effective_term(&self) -> u64 {
		if self.leader() != self.original_leader.as_ref() {
			next_term(self.election.term, self.floor)
		} else {
			self.election.term
		}
	}

	/// Marks the election as changed by the call.
	pub(crate) fn touch(&mut self) {
		self.dirty = true;
	}
}

impl<T: Config> Pallet<T> {
	/// Whether the candidate's lease is live at `now`.
	pub(crate) fn candidate_live(candidate: &Candidate<T>, now: u64) -> bool {
		Leases::<T>::get(candidate.lease).is_some_and(|lease| lease.expires_at_ms > now)
	}

	/// Loads an election and drops candidates whose lease is not live, in memory.
	pub(crate) fn settle(name: Name<T>, now: u64) -> Settled<T> {
		let stored = Elections::<T>::get(&name);
		let is_stored = stored.is_some();
		let mut election = stored.unwrap_or_default();
		let original_leader = election.candidates.first().map(|c| c.who.clone());
		let mut kept = BoundedVec::new();
		let mut removed = Vec::new();
		for candidate in core::mem::take(&mut election.candidates) {
			if Self::candidate_live(&candidate, now) {
				// Cannot fail: `kept` holds a subset of a bounded queue.
				if let Err(candidate) = kept.try_push(candidate) {
					removed.push(candidate);
				}
			} else {
				removed.push(candidate);
			}
		}
		election.candidates = kept;
		let dirty = !removed.is_empty();
		Settled {
			name,
			election,
			original_leader,
			removed,
			dirty,
			stored: is_stored,
			floor: TermFloor::<T>::get(),
		}
	}

	/// Detaches and reports the candidates settling dropped.
	fn flush_removed(settled: &mut Settled<T>) {
		for candidate in core::mem::take(&mut settled.removed) {
			Self::detach_candidacy(candidate.lease, &settled.name, &candidate.who);
			Self::deposit_event(Event::CandidacyEnded {
				election: settled.name.clone(),
				who: candidate.who,
				lease: candidate.lease,
			});
		}
	}

	/// Writes a settled election: dropped candidates, the leader change (the next term) and the
	/// queue; an empty queue removes the election, and raises [`TermFloor`] above its term.
	pub(crate) fn store_settled(mut settled: Settled<T>) {
		Self::flush_removed(&mut settled);
		let Settled { name, mut election, original_leader, dirty, stored, floor, .. } = settled;
		let leader = election.candidates.first().map(|c| c.who.clone());
		let changed = leader != original_leader;
		if changed {
			election.term = next_term(election.term, floor);
			Self::deposit_event(Event::LeaderChanged {
				election: name.clone(),
				leader,
				term: election.term,
			});
		}
		if election.candidates.is_empty() {
			if stored {
				Elections::<T>::remove(&name);
				TermFloor::<T>::mutate(|floor| {
					*floor = (*floor).max(election.term.saturating_add(1))
				});
			}
		} else if changed || dirty {
			Elections::<T>::insert(&name, election);
		}
	}

	/// Attaches a candidacy to its lease.
	fn attach_candidacy(lease: LeaseId, election: &Name<T>, who: &T::AccountId) {
		LeaseCandidacies::<T>::insert(lease, (election, who), ());
		Leases::<T>::mutate_extant(lease, |l| l.candidacies = l.candidacies.saturating_add(1));
	}

	/// Detaches a candidacy from its lease, if attached.
	pub(crate) fn detach_candidacy(lease: LeaseId, election: &Name<T>, who: &T::AccountId) {
		if LeaseCandidacies::<T>::take(lease, (election, who)).is_some() {
			Leases::<T>::mutate_extant(lease, |l| l.candidacies = l.candidacies.saturating_sub(1));
		}
	}

	/// `campaign`.
	pub(crate) fn do_campaign(
		who: T::AccountId,
		election: Vec<u8>,
		value: Vec<u8>,
		lease: LeaseId,
	) -> DispatchResult {
		let name = Self::check_name(election)?;
		let value = BoundedVec::try_from(value).map_err(|_| Error::<T>::ElectionValueTooLong)?;
		let now = T::Clock::now();
		let lease_record = Self::live_lease(lease, now)?;
		ensure!(
			lease_record.candidacies < T::MaxCandidaciesPerLease::get(),
			Error::<T>::TooManyLeaseCandidacies
		);
		let mut settled = Self::settle(name, now);
		ensure!(
			!settled.election.candidates.iter().any(|c| c.who == who),
			Error::<T>::AlreadyCandidate
		);
		settled
			.election
			.candidates
			.try_push(Candidate { who: who.clone(), value, lease, joined_at_ms: now })
			.map_err(|_| Error::<T>::TooManyCandidates)?;
		settled.touch();

		Self::flush_removed(&mut settled);
		Self::attach_candidacy(lease, &settled.name, &who);
		Self::deposit_event(Event::Campaigned { election: settled.name.clone(), who, lease });
		Self::store_settled(settled);
		Ok(())
	}

	/// `proclaim`.
	pub(crate) fn do_proclaim(
		who: T::AccountId,
		election: Vec<u8>,
		value: Vec<u8>,
	) -> DispatchResult {
		let name = Self::check_name(election)?;
		let value: BoundedVec<u8, T::MaxElectionValueLen> =
			BoundedVec::try_from(value).map_err(|_| Error::<T>::ElectionValueTooLong)?;
		let mut settled = Self::settle(name, T::Clock::now());
		let leader = settled.election.candidates.get_mut(0).filter(|c| c.who == who);
		let Some(leader) = leader else { return Err(Error::<T>::NotLeader.into()) };
		leader.value = value.clone();
		settled.touch();

		Self::flush_removed(&mut settled);
		Self::deposit_event(Event::Proclaimed { election: settled.name.clone(), who, value });
		Self::store_settled(settled);
		Ok(())
	}

	/// `resign`.
	pub(crate) fn do_resign(who: T::AccountId, election: Vec<u8>) -> DispatchResult {
		let name = Self::check_name(election)?;
		let mut settled = Self::settle(name, T::Clock::now());
		let position = settled
			.election
			.candidates
			.iter()
			.position(|c| c.who == who)
			.ok_or(Error::<T>::NotCandidate)?;
		let candidate = settled.election.candidates.remove(position);
		settled.touch();

		Self::flush_removed(&mut settled);
		Self::detach_candidacy(candidate.lease, &settled.name, &who);
		Self::deposit_event(Event::Resigned { election: settled.name.clone(), who });
		Self::store_settled(settled);
		Ok(())
	}

	// ---- runtime API ----------------------------------------------------------------------

	/// The names of the elections with candidates, in byte order: a query for the RPC, not for
	/// calls.
	pub fn election_names() -> Vec<Vec<u8>> {
		let mut names: Vec<Vec<u8>> =
			Elections::<T>::iter_keys().map(|name| name.into_inner()).collect();
		names.sort();
		names
	}

	/// An election's leader, term and live candidates. The leader is `None` while the stored
	/// leader's lease has expired but not been swept: its successor is only named, with the next
	/// term, when the chain hands over.
	pub fn election(name: Vec<u8>) -> Option<ElectionInfo<T::AccountId>> {
		let key = Name::<T>::try_from(name.clone()).ok()?;
		let election = Elections::<T>::get(&key)?;
		let now = T::Clock::now();
		let info = |c: &Candidate<T>| CandidateInfo {
			who: c.who.clone(),
			value: c.value.to_vec(),
			lease: c.lease,
			joined_at_ms: c.joined_at_ms,
		};
		let leader = election.candidates.first().filter(|c| Self::candidate_live(c, now)).map(info);
		let candidates = election
			.candidates
			.iter()
			.filter(|c| Self::candidate_live(c, now))
			.map(info)
			.collect();
		Some(ElectionInfo { name, term: election.term, leader, candidates })
	}
}
