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
//! raise the target, which delays the read until it times out; it cannot make the read stale.
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
	proc_macros::rpc,
	types::ErrorObjectOwned,
};
use regchain_runtime::opaque::Block;
use sc_client_api::BlockchainEvents;
use sc_consensus_grandpa::SharedAuthoritySet;
use sc_network::{
	config::{IncomingRequest, OutgoingResponse},
	service::traits::NetworkService,
	IfDisconnected, NetworkBackend, NetworkRequest, ProtocolName,
};
use sc_network_sync::SyncingService;
use serde::{Deserialize, Serialize};
use sp_blockchain::HeaderBackend;
use sp_consensus_grandpa::{AuthorityId, AuthoritySignature, KEY_TYPE};
use sp_core::H256;
use sp_keystore::KeystorePtr;
use sp_runtime::{traits::NumberFor, RuntimeAppPublic};
use tokio::sync::{mpsc, oneshot};

use crate::service::FullClient;

/// How long the node waits for voters to answer.
const QUORUM_TIMEOUT: Duration = Duration::from_secs(2);
/// How long it then waits for its finalized head to reach the confirmed height.
const FINALITY_TIMEOUT: Duration = Duration::from_secs(5);
/// How many requests from peers may wait to be answered.
const INBOUND_QUEUE: usize = 256;
/// The request is a 32-byte nonce; the answer a set id, a height, a key and a signature.
const MAX_REQUEST_SIZE: u64 = 64;
const MAX_RESPONSE_SIZE: u64 = 256;
/// `registry_readIndex`'s error code when no quorum confirmed the read in time.
pub const NOT_CONFIRMED: i32 = 4004;

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

/// A read point a quorum of voters confirmed.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadIndexAnswer {
	/// The finalized block to read at.
	pub hash: String,
	/// Its number.
	pub number: u32,
	/// The height the voters confirmed: `number` is at least this.
	pub confirmed: u32,
	/// How many voters answered, this node included if it is one.
	pub voters: u32,
	/// The GRANDPA authority set they belong to.
	pub set_id: u64,
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
	protocol: ProtocolName,
	/// The reads waiting for the next round ([`ReadIndex::run_rounds`]).
	waiting: mpsc::UnboundedSender<Waiter>,
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
	) -> (Arc<Self>, mpsc::UnboundedReceiver<Waiter>) {
		let (waiting, queue) = mpsc::unbounded_channel();
		let read_index = Arc::new(Self {
			client,
			network,
			sync,
			keystore,
			authorities,
			genesis,
			protocol: protocol_name(&genesis),
			waiting,
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
		let set_id = self.authorities.set_id();
		let best = self.client.info().best_number;
		let payload = signed_payload(&self.genesis, nonce, set_id, best);
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

	/// Asks the voters for the height of their best blocks until a quorum has answered.
	async fn quorum(&self) -> Result<Confirmed, String> {
		let voters = self.authorities.current_authorities();
		let set_id = self.authorities.set_id();
		let threshold = voters.threshold().get();
		let nonce: [u8; 32] = rand::random();

		let mut counted = BTreeSet::new();
		let mut weight = 0u64;
		let mut target = 0u32;
		if let Some(own) = self.local_voter() {
			weight += voters.get(&own).map_or(0, |info| info.weight().get());
			target = self.client.info().best_number;
			counted.insert(own);
		}

		let peers = self.sync.peers_info().await.map_err(|_| "the network has stopped".to_string())?;
		let request = ReadIndexRequest { nonce }.encode();
		let mut answers = peers
			.into_iter()
			.map(|(peer, _)| {
				let request = request.clone();
				async move {
					self.network
						.request(peer, self.protocol.clone(), request, None, IfDisconnected::ImmediateError)
						.await
				}
			})
			.collect::<FuturesUnordered<_>>();
		let asked = answers.len();

		let deadline = tokio::time::sleep(QUORUM_TIMEOUT);
		tokio::pin!(deadline);
		while weight < threshold {
			let answer = tokio::select! {
				answer = answers.next() => answer,
				_ = &mut deadline => None,
			};
			let Some(answer) = answer else { break };
			let Ok((bytes, _)) = answer else { continue };
			let Ok(response) = ReadIndexResponse::decode(&mut &bytes[..]) else { continue };
			let Some(info) = voters.get(&response.voter) else { continue };
			let payload = signed_payload(&self.genesis, &nonce, response.set_id, response.best);
			if response.set_id != set_id ||
				counted.contains(&response.voter) ||
				!response.voter.verify(&payload, &response.signature)
			{
				continue;
			}
			weight += info.weight().get();
			target = target.max(response.best);
			counted.insert(response.voter);
		}
		if weight < threshold {
			return Err(format!(
				"the read was not confirmed by a quorum of validators: {} of {} voters answered \
				 ({asked} peers asked), {threshold} are needed",
				counted.len(),
				voters.len(),
			));
		}

		Ok(Confirmed { target, voters: counted.len() as u32, set_id })
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

/// `registry_readIndex`.
#[rpc(server)]
pub trait ReadIndexApi {
	/// A finalized block that includes every write acknowledged anywhere before the call: the
	/// read point of a linearizable read.
	#[method(name = "registry_readIndex")]
	async fn read_index(&self) -> RpcResult<ReadIndexAnswer>;
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
