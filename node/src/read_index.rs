//! Linearizable reads: etcd's ReadIndex, confirmed by a quorum of GRANDPA voters over the
//! nodes' own peer-to-peer network (`registry_readIndex`).
//!
//! A node that serves a read from its finalized head may lag behind the others, and so miss a
//! write that another validator has already acknowledged. Before a linearizable read, the node
//! asks the GRANDPA voters for the height of their best block, and reads once its own finalized
//! head has reached the highest height reported by voters holding GRANDPA's threshold of weight.
//!
//! Why that is enough. A write is acknowledged once its block B is finalized. For B to be
//! finalized, voters holding the threshold precommitted to B or to a descendant of B, which
//! means they had imported B, so their best block is at least as high as B. Any two sets of
//! voters holding the threshold share more weight than the faulty voters hold (`f < n/3`), so the
//! voters that answer include an honest one that precommitted, and the highest height they report
//! is at least B's. GRANDPA never finalizes two conflicting blocks, so once this node has finalized
//! a block that high, that block descends from B. Each answer is signed with the voter's GRANDPA
//! key over a fresh random nonce, so an old answer cannot be replayed. A Byzantine voter can only
//! raise the target: it cannot make the read stale.
//!
//! How far it can raise it is bounded by the slot clock ([`ReadIndex::height_limit`]). Every
//! block after this node's finalized head F has its own Aura slot, later than F's, and an
//! importer refuses a block more than one slot ahead of its clock; so no valid chain is more than
//! `now + 1 - slot(F)` blocks above F. (A bound from this node's *best* block would not do: it
//! may sit on a fork that skipped slots, below a finalized block on another.) An answer above
//! the limit, plus [`CLOCK_DRIFT_SLOTS`] for clocks a little apart, is a lie: it is not counted,
//! and the quorum is made of the other answers. Only counted answers make the quorum, so the
//! argument above still holds for them. A lying voter can then delay a read by the few slots
//! between the honest height and the limit, never stall it.
//!
//! The price is a round trip to the voters and, on a live chain, about one block: the best
//! block is usually one ahead of the finalized one.
//!
//! Reads that arrive together share one round, as etcd batches its ReadIndex requests: a read
//! joins the next round that starts after it arrived (never one already under way, whose voters
//! may have answered before a write the read must see), and one round is asked at a time. Only
//! the wait for finality is per round and concurrent.

use std::{collections::BTreeSet, sync::Arc, time::Duration};

use codec::{Decode, Encode};
use futures::{stream::FuturesUnordered, StreamExt};
use jsonrpsee::{
	core::{async_trait, RpcResult},
	types::ErrorObjectOwned,
};
use regchain_rpc_api::{error::NOT_CONFIRMED, ReadIndexAnswer, ReadIndexApiServer};
use regchain_runtime::opaque::Block;
use sc_client_api::BlockchainEvents;
use sc_consensus_grandpa::SharedAuthoritySet;
use sc_network::{
	config::{IncomingRequest, OutgoingResponse},
	service::traits::NetworkService,
	IfDisconnected, NetworkBackend, NetworkRequest, ProtocolName,
};
use sc_network_sync::SyncingService;
use sp_blockchain::HeaderBackend;
use sp_consensus_aura::{sr25519::AuthoritySignature as AuraSignature, Slot, SlotDuration};
use sp_consensus_grandpa::{AuthorityId, AuthoritySignature, KEY_TYPE};
use sp_core::H256;
use sp_keystore::KeystorePtr;
use sp_runtime::{traits::NumberFor, RuntimeAppPublic};
use tokio::sync::{mpsc, oneshot};

use crate::types::FullClient;

/// How long the node waits for voters to answer.
const QUORUM_TIMEOUT: Duration = Duration::from_secs(2);
/// How long it then waits for its finalized head to reach the confirmed height.
const FINALITY_TIMEOUT: Duration = Duration::from_secs(5);
/// How many requests from peers may wait to be answered.
const INBOUND_QUEUE: usize = 256;
/// The request is a 32-byte nonce; the answer a set id, a height, a key and a signature.
const MAX_REQUEST_SIZE: u64 = 64;
const MAX_RESPONSE_SIZE: u64 = 256;
/// How many slots a voter's clock may run ahead of this node's before its answers are taken
/// for lies ([`ReadIndex::height_limit`]).
pub const CLOCK_DRIFT_SLOTS: u64 = 1;

/// What a node asks a voter.
#[derive(Encode, Decode)]
struct ReadIndexRequest {
	nonce: [u8; 32],
}

/// A voter's answer: the height of its best block, signed with its GRANDPA key.
#[derive(Encode, Decode)]
struct ReadIndexResponse {
	set_id: u64,
	best: u32,
	voter: AuthorityId,
	signature: AuthoritySignature,
}

/// The bytes a voter signs: bound to the chain, the nonce, the authority set and the height.
fn signed_payload(genesis: &H256, nonce: &[u8; 32], set_id: u64, best: u32) -> Vec<u8> {
	(b"regchain/read-index", genesis, nonce, set_id, best).encode()
}

/// The protocol's name, unique to the chain.
pub fn protocol_name(genesis: &H256) -> ProtocolName {
	format!("/{}/regchain/read-index/1", sp_core::hexdisplay::HexDisplay::from(&genesis.as_bytes()))
		.into()
}

/// The protocol's configuration for the network, and the queue of requests peers send.
pub fn protocol_config<N: NetworkBackend<Block, H256>>(
	genesis: &H256,
) -> (N::RequestResponseProtocolConfig, async_channel::Receiver<IncomingRequest>) {
	let (sender, receiver) = async_channel::bounded(INBOUND_QUEUE);
	let config = N::request_response_config(
		protocol_name(genesis),
		Vec::new(),
		MAX_REQUEST_SIZE,
		MAX_RESPONSE_SIZE,
		QUORUM_TIMEOUT,
		Some(sender),
	);
	(config, receiver)
}

/// A read waiting for the next round.
type Waiter = oneshot::Sender<Result<ReadIndexAnswer, String>>;

/// The height a quorum of voters confirmed.
struct Confirmed {
	target: u32,
	voters: u32,
	set_id: u64,
}

/// Answers peers' read-index requests and confirms this node's own reads.
pub struct ReadIndex {
	client: Arc<FullClient>,
	network: Arc<dyn NetworkService>,
	sync: Arc<SyncingService<Block>>,
	keystore: KeystorePtr,
	authorities: SharedAuthoritySet<H256, NumberFor<Block>>,
	genesis: H256,
	/// Aura's slot duration, fixed for the chain's life: the clock of [`ReadIndex::height_limit`].
	slot_duration: SlotDuration,
	protocol: ProtocolName,
	/// The reads waiting for the next round ([`ReadIndex::run_rounds`]).
	waiting: mpsc::UnboundedSender<Waiter>,
	/// Set only in tests (`--unsafe-read-index-lies`): this node answers peers as a liar.
	liar: Option<Liar>,
}

/// How a Byzantine voter answers, for tests: every answer claims `u32::MAX`, with each flaw
/// of [`Lie`] in turn, so that an honest node that counted any of them would wait for a height
/// no chain reaches, and its reads would fail.
#[derive(Default)]
struct Liar {
	answers: std::sync::atomic::AtomicUsize,
	previous_nonce: std::sync::Mutex<[u8; 32]>,
}

/// The lies of [`Liar`], in the order it tells them.
#[derive(Clone, Copy, Debug)]
enum Lie {
	/// Validly signed: refused only by the height limit.
	Height,
	/// Signed for another chain's genesis.
	ForeignGenesis,
	/// Signed over the nonce of the request before this one (a replay).
	PreviousNonce,
	/// Signed, consistently, for the next authority set.
	NextSet,
}

impl Liar {
	/// The next lie, and the previous request's nonce; remembers `nonce` for the next one.
	fn next(&self, nonce: &[u8; 32]) -> (Lie, [u8; 32]) {
		use std::sync::atomic::Ordering;
		const LIES: [Lie; 4] = [Lie::Height, Lie::ForeignGenesis, Lie::PreviousNonce, Lie::NextSet];
		let lie = LIES[self.answers.fetch_add(1, Ordering::Relaxed) % LIES.len()];
		let mut previous = self.previous_nonce.lock().unwrap_or_else(|e| e.into_inner());
		(lie, std::mem::replace(&mut *previous, *nonce))
	}
}

impl ReadIndex {
	/// A read index over the node's network, its GRANDPA authority set and its keystore, and
	/// the queue of reads that [`ReadIndex::run_rounds`] serves.
	pub fn new(
		client: Arc<FullClient>,
		network: Arc<dyn NetworkService>,
		sync: Arc<SyncingService<Block>>,
		keystore: KeystorePtr,
		authorities: SharedAuthoritySet<H256, NumberFor<Block>>,
		genesis: H256,
		slot_duration: SlotDuration,
		lies: bool,
	) -> (Arc<Self>, mpsc::UnboundedReceiver<Waiter>) {
		if lies {
			log::warn!(target: "read-index", "--unsafe-read-index-lies: this node lies to its peers' reads");
		}
		let (waiting, queue) = mpsc::unbounded_channel();
		let read_index = Arc::new(Self {
			client,
			network,
			sync,
			keystore,
			authorities,
			genesis,
			slot_duration,
			protocol: protocol_name(&genesis),
			waiting,
			liar: lies.then(Liar::default),
		});
		(read_index, queue)
	}

	/// A read point for a linearizable read that starts now: the answer of the next round.
	pub async fn read_point(&self) -> Result<ReadIndexAnswer, String> {
		let (waiter, answer) = oneshot::channel();
		self.waiting.send(waiter).map_err(|_| "the node is stopping".to_string())?;
		answer.await.map_err(|_| "the node is stopping".to_string())?
	}

	/// Serves the queued reads, one quorum round at a time: each round answers every read that
	/// was queued when it started (those whose callers have gone are dropped), once this node
	/// has finalized the confirmed height.
	pub async fn run_rounds(self: Arc<Self>, mut queue: mpsc::UnboundedReceiver<Waiter>) {
		while let Some(first) = queue.recv().await {
			let mut waiters = vec![first];
			while let Ok(next) = queue.try_recv() {
				waiters.push(next);
			}
			waiters.retain(|waiter| !waiter.is_closed());
			if waiters.is_empty() {
				continue;
			}
			let confirmed = self.quorum().await;
			let this = self.clone();
			tokio::spawn(async move {
				let answer = match confirmed {
					Ok(confirmed) => this.finalized_read_point(confirmed).await,
					Err(e) => Err(e),
				};
				for waiter in waiters {
					let _ = waiter.send(answer.clone());
				}
			});
		}
	}

	/// The key of a current voter that this node holds, if any.
	fn local_voter(&self) -> Option<AuthorityId> {
		let voters = self.authorities.current_authorities();
		self.keystore
			.ed25519_public_keys(KEY_TYPE)
			.into_iter()
			.map(AuthorityId::from)
			.find(|id| voters.contains(id))
	}

	/// This node's signed answer to `nonce`, if it is a voter.
	fn answer(&self, nonce: &[u8; 32]) -> Option<ReadIndexResponse> {
		let voter = self.local_voter()?;
		let (mut genesis, mut nonce, mut set_id) =
			(self.genesis, *nonce, self.authorities.set_id());
		let mut best = self.client.info().best_number;
		if let Some(liar) = &self.liar {
			let (lie, previous_nonce) = liar.next(&nonce);
			best = u32::MAX;
			match lie {
				Lie::Height => {},
				Lie::ForeignGenesis => genesis = H256::repeat_byte(0xee),
				Lie::PreviousNonce => nonce = previous_nonce,
				Lie::NextSet => set_id += 1,
			}
			log::info!(target: "read-index", "lying to a peer's read: {lie:?}");
		}
		let payload = signed_payload(&genesis, &nonce, set_id, best);
		let signature = self.keystore.ed25519_sign(KEY_TYPE, voter.as_ref(), &payload).ok()??;
		Some(ReadIndexResponse { set_id, best, voter, signature: signature.into() })
	}

	/// Answers the requests peers send, until the network stops.
	pub async fn serve(self: Arc<Self>, requests: async_channel::Receiver<IncomingRequest>) {
		while let Ok(IncomingRequest { payload, pending_response, .. }) = requests.recv().await {
			// A node that is not a voter has nothing to vouch for: it answers with a failure.
			let result = ReadIndexRequest::decode(&mut &payload[..])
				.ok()
				.and_then(|request| self.answer(&request.nonce))
				.map(|response| response.encode())
				.ok_or(());
			let response =
				OutgoingResponse { result, reputation_changes: Vec::new(), sent_feedback: None };
			// The peer may have given up waiting; nothing to do then.
			let _ = pending_response.send(response);
		}
	}

	/// The highest block a valid chain can have reached now, as far as this node can tell: its
	/// finalized head's number, plus one block per slot since that head's slot, up to one slot
	/// ahead of this node's clock (as Aura importers accept) and [`CLOCK_DRIFT_SLOTS`] more.
	fn height_limit(&self) -> Result<u32, String> {
		let info = self.client.info();
		let header = self.client.header(info.finalized_hash).ok().flatten().ok_or_else(|| {
			format!("the finalized block #{} is not in the database", info.finalized_number)
		})?;
		let finalized_slot = sc_consensus_aura::find_pre_digest::<Block, AuraSignature>(&header)
			.map_err(|e| {
				format!("the finalized block #{} has no Aura slot: {e:?}", info.finalized_number)
			})?;
		let now = Slot::from_timestamp(sp_timestamp::Timestamp::current(), self.slot_duration);
		Ok(limit_of(info.finalized_number, *finalized_slot, *now))
	}

	/// Asks the voters for the height of their best blocks until a quorum has answered.
	async fn quorum(&self) -> Result<Confirmed, String> {
		let voters = self.authorities.current_authorities();
		let nonce: [u8; 32] = rand::random();
		let mut tally = Tally::new(
			voters.iter().map(|(id, info)| (id.clone(), info.weight().get())).collect(),
			voters.threshold().get(),
			self.genesis,
			nonce,
			self.authorities.set_id(),
		);
		if let Some(own) = self.local_voter() {
			tally.count_own(own, self.client.info().best_number);
		}

		let peers = self
			.sync
			.peers_info()
			.await
			.map_err(|_| "the network has stopped".to_string())?;
		let request = ReadIndexRequest { nonce }.encode();
		let mut answers = peers
			.into_iter()
			.map(|(peer, _)| {
				let request = request.clone();
				async move {
					self.network
						.request(
							peer,
							self.protocol.clone(),
							request,
							None,
							IfDisconnected::ImmediateError,
						)
						.await
				}
			})
			.collect::<FuturesUnordered<_>>();
		let asked = answers.len();

		let deadline = tokio::time::sleep(QUORUM_TIMEOUT);
		tokio::pin!(deadline);
		let mut lies = 0;
		while !tally.reached() {
			let answer = tokio::select! {
				answer = answers.next() => answer,
				_ = &mut deadline => None,
			};
			let Some(answer) = answer else { break };
			let Ok((bytes, _)) = answer else { continue };
			let Ok(response) = ReadIndexResponse::decode(&mut &bytes[..]) else { continue };
			match tally.count(&response, self.height_limit()?) {
				Err(Refused::AboveLimit { limit }) => {
					lies += 1;
					log::warn!(
						target: "read-index",
						"voter {} answered height #{}, which no valid chain can have reached \
						 (at most #{limit} now): its answer is not counted",
						response.voter,
						response.best,
					);
				},
				Err(why) => {
					log::debug!(target: "read-index", "the answer of {} is not counted: {why:?}", response.voter)
				},
				Ok(()) => {},
			}
		}
		if !tally.reached() {
			return Err(format!(
				"the read was not confirmed by a quorum of validators: {} of {} voters answered \
				 ({asked} peers asked, {lies} answers above any valid height), {} are needed",
				tally.counted.len(),
				voters.len(),
				tally.threshold,
			));
		}

		Ok(Confirmed {
			target: tally.target,
			voters: tally.counted.len() as u32,
			set_id: tally.set_id,
		})
	}

	/// Waits until this node has finalized the confirmed height; returns that finalized block.
	async fn finalized_read_point(&self, confirmed: Confirmed) -> Result<ReadIndexAnswer, String> {
		let Confirmed { target, voters, set_id } = confirmed;
		let finalized = self.finalized_at_least(target).await.ok_or_else(|| {
			format!(
				"this node has not finalized block #{target} within {FINALITY_TIMEOUT:?} \
				 (finalized: #{})",
				self.client.info().finalized_number
			)
		})?;
		Ok(ReadIndexAnswer {
			hash: format!("{:?}", finalized.0),
			number: finalized.1,
			confirmed: target,
			voters,
			set_id,
		})
	}

	/// The finalized head once its number reaches `target`, or `None` after
	/// [`FINALITY_TIMEOUT`].
	async fn finalized_at_least(&self, target: u32) -> Option<(H256, u32)> {
		let mut notifications = self.client.finality_notification_stream();
		let reached = async {
			loop {
				let info = self.client.info();
				if info.finalized_number >= target {
					return Some((info.finalized_hash, info.finalized_number));
				}
				notifications.next().await?;
			}
		};
		tokio::time::timeout(FINALITY_TIMEOUT, reached).await.ok().flatten()
	}
}

/// The highest height an answer may give: see [`ReadIndex::height_limit`].
fn limit_of(finalized_number: u32, finalized_slot: u64, now: u64) -> u32 {
	let slots = (now + 1 + CLOCK_DRIFT_SLOTS).saturating_sub(finalized_slot);
	u32::try_from(u64::from(finalized_number).saturating_add(slots)).unwrap_or(u32::MAX)
}

/// Why an answer was not counted.
#[derive(Debug, PartialEq)]
enum Refused {
	/// Not a voter of the current set.
	NotAVoter,
	/// For another authority set.
	WrongSet,
	/// The voter was already counted in this round.
	Twice,
	/// The signature is not over this chain, this round's nonce, the set and the height.
	BadSignature,
	/// A height no valid chain can have reached.
	AboveLimit { limit: u32 },
}

/// The answers of one round: each checked, each voter counted once, until their weight reaches
/// the threshold. The target is the highest height counted.
struct Tally {
	weights: std::collections::BTreeMap<AuthorityId, u64>,
	threshold: u64,
	genesis: H256,
	nonce: [u8; 32],
	set_id: u64,
	counted: BTreeSet<AuthorityId>,
	weight: u64,
	target: u32,
}

impl Tally {
	fn new(
		weights: std::collections::BTreeMap<AuthorityId, u64>,
		threshold: u64,
		genesis: H256,
		nonce: [u8; 32],
		set_id: u64,
	) -> Self {
		Tally {
			weights,
			threshold,
			genesis,
			nonce,
			set_id,
			counted: BTreeSet::new(),
			weight: 0,
			target: 0,
		}
	}

	/// Whether the voters counted hold the threshold.
	fn reached(&self) -> bool {
		self.weight >= self.threshold
	}

	/// Counts this node's own best block, as the voter it is.
	fn count_own(&mut self, voter: AuthorityId, best: u32) {
		if let Some(weight) = self.weights.get(&voter) {
			if self.counted.insert(voter) {
				self.weight += weight;
				self.target = self.target.max(best);
			}
		}
	}

	/// Counts a peer's answer if it is a current voter's, for this set, signed over this round's
	/// nonce, not yet counted, and no higher than `limit`.
	fn count(&mut self, response: &ReadIndexResponse, limit: u32) -> Result<(), Refused> {
		let weight = *self.weights.get(&response.voter).ok_or(Refused::NotAVoter)?;
		if response.set_id != self.set_id {
			return Err(Refused::WrongSet);
		}
		if self.counted.contains(&response.voter) {
			return Err(Refused::Twice);
		}
		let payload = signed_payload(&self.genesis, &self.nonce, response.set_id, response.best);
		if !response.voter.verify(&payload, &response.signature) {
			return Err(Refused::BadSignature);
		}
		if response.best > limit {
			return Err(Refused::AboveLimit { limit });
		}
		self.counted.insert(response.voter.clone());
		self.weight += weight;
		self.target = self.target.max(response.best);
		Ok(())
	}
}

/// The RPC server of `registry_readIndex`.
pub struct ReadIndexRpc(pub Arc<ReadIndex>);

#[async_trait]
impl ReadIndexApiServer for ReadIndexRpc {
	async fn read_index(&self) -> RpcResult<ReadIndexAnswer> {
		self.0
			.read_point()
			.await
			.map_err(|message| ErrorObjectOwned::owned(NOT_CONFIRMED, message, None::<()>))
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use sp_core::{ed25519, Pair};

	const GENESIS: H256 = H256::repeat_byte(7);
	const NONCE: [u8; 32] = [1; 32];
	const SET: u64 = 3;

	fn voters() -> Vec<ed25519::Pair> {
		(1..=4u8).map(|i| ed25519::Pair::from_seed(&[i; 32])).collect()
	}

	fn tally(voters: &[ed25519::Pair]) -> Tally {
		let weights = voters.iter().map(|p| (AuthorityId::from(p.public()), 1)).collect();
		Tally::new(weights, 3, GENESIS, NONCE, SET)
	}

	/// `voter`'s answer `best`, signed as a voter signs it but over the given chain, nonce and set.
	fn answer(
		voter: &ed25519::Pair,
		genesis: H256,
		nonce: [u8; 32],
		set_id: u64,
		best: u32,
	) -> ReadIndexResponse {
		let signature = voter.sign(&signed_payload(&genesis, &nonce, set_id, best));
		ReadIndexResponse {
			set_id,
			best,
			voter: voter.public().into(),
			signature: signature.into(),
		}
	}

	#[test]
	fn a_validly_signed_height_above_the_limit_is_not_counted_and_the_others_make_the_quorum() {
		let v = voters();
		let mut t = tally(&v);
		assert_eq!(
			t.count(&answer(&v[3], GENESIS, NONCE, SET, u32::MAX), 120),
			Err(Refused::AboveLimit { limit: 120 })
		);
		assert_eq!(
			t.count(&answer(&v[3], GENESIS, NONCE, SET, 121), 120),
			Err(Refused::AboveLimit { limit: 120 })
		);
		for (voter, best) in v[..3].iter().zip([100, 102, 101]) {
			assert!(!t.reached());
			assert_eq!(t.count(&answer(voter, GENESIS, NONCE, SET, best), 120), Ok(()));
		}
		assert!(t.reached());
		assert_eq!(t.target, 102);
		// A height at the limit is a possible one: counted.
		let mut t = tally(&v);
		assert_eq!(t.count(&answer(&v[3], GENESIS, NONCE, SET, 120), 120), Ok(()));
		assert_eq!(t.target, 120);
	}

	#[test]
	fn answers_for_another_chain_round_or_set_are_not_counted() {
		let v = voters();
		let mut t = tally(&v);
		let foreign = answer(&v[0], H256::repeat_byte(8), NONCE, SET, 100);
		assert_eq!(t.count(&foreign, 200), Err(Refused::BadSignature));
		let replayed = answer(&v[0], GENESIS, [2; 32], SET, 100);
		assert_eq!(t.count(&replayed, 200), Err(Refused::BadSignature));
		assert_eq!(
			t.count(&answer(&v[0], GENESIS, NONCE, SET + 1, 100), 200),
			Err(Refused::WrongSet)
		);
		// Claiming the current set while signing for the next one.
		let mut lying = answer(&v[0], GENESIS, NONCE, SET + 1, 100);
		lying.set_id = SET;
		assert_eq!(t.count(&lying, 200), Err(Refused::BadSignature));
		let stranger = ed25519::Pair::from_seed(&[9; 32]);
		assert_eq!(
			t.count(&answer(&stranger, GENESIS, NONCE, SET, 100), 200),
			Err(Refused::NotAVoter)
		);
		assert_eq!(t.weight, 0);
		assert_eq!(t.count(&answer(&v[0], GENESIS, NONCE, SET, 100), 200), Ok(()));
		assert_eq!(t.count(&answer(&v[0], GENESIS, NONCE, SET, 150), 200), Err(Refused::Twice));
		assert_eq!((t.weight, t.target), (1, 100));
	}

	#[test]
	fn the_limit_is_one_block_per_slot_since_the_finalized_head_and_the_drift() {
		// Finalized #100 at slot 1_000; now slot 1_010: at most 10 slots, one ahead, and the drift.
		assert_eq!(limit_of(100, 1_000, 1_010), 100 + 10 + 1 + CLOCK_DRIFT_SLOTS as u32);
		// A clock behind the finalized head's slot still allows that head and the next slots.
		assert_eq!(limit_of(100, 1_000, 990), 100);
		assert_eq!(limit_of(u32::MAX - 1, 0, u64::MAX / 2), u32::MAX);
	}
}
