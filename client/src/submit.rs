//! Submitting signed calls and following them to inclusion or finality.
//!
//! # How a transaction is followed
//!
//! Over WebSocket, a call is signed at the account's next nonce (`system_accountNextIndex`,
//! which counts the transactions already in the pool) and submitted with
//! `author_submitAndWatchExtrinsic`. The pool's status stream then decides:
//!
//! - `inBlock` ends the wait for [`Wait::Best`]; `finalized` ends it for [`Wait::Finalized`]
//!   (a `retracted` block is forgotten and the wait goes on);
//! - `finalityTimeout` is an error;
//! - `invalid` is settled as below (without copies): most often a transaction signed at the
//!   nonce of a dropped one that was still included elsewhere, so this call never ran and is
//!   signed again at a fresh nonce; invalid with its nonce unused, it is an error;
//! - `usurped` (another transaction took the nonce) means this one can never run: it is signed
//!   again at a fresh nonce and resubmitted, which is safe;
//! - `dropped` (the pool let it go, for example when a view's limits were reached under load)
//!   does not mean "not included": the transaction was gossiped, and another validator's pool
//!   may still hold it and include it. So the client *settles* the outcome (see
//!   [`Client::settle`]) from the finalized chain: it looks for the transaction in every
//!   finalized block above the one finalized before the call was first signed, and reads the
//!   signer's nonce at the finalized head. Found: that is the receipt. Not
//!   found, and the nonce used by another transaction: the call never ran and is signed again at
//!   a fresh nonce. Neither, for a while: the same call is signed again *at the same nonce* and
//!   submitted (a new signature, hence new bytes the pool has not banned); at most one of the
//!   copies can run, and the first finalized one is the receipt. Resubmitting the same bytes
//!   would not do: the pool refuses them for a while ("Transaction Already Imported", then
//!   "temporarily banned");
//! - the whole wait is bounded by the client's transaction timeout.
//!
//! A refusal when submitting is an error with the pool's reason ("Invalid signing address" for
//! a signer that is not an orchestrator), except the two that mean another transaction of the
//! same account (from another process, say) took the nonce first: "Priority is too low" and an
//! outdated nonce. The call was not accepted then, so it is signed again at a fresh nonce. And
//! A signature refused as bad ("Transaction has a bad signature"), or a transaction invalidated
//! with its nonce unused, after the chain upgraded its runtime: every signature covers the
//! runtime's `spec_version`, so the client reads the node's version again and, if it changed,
//! signs the call for the new runtime (see [`Client::spec_version`]); an invalidated one is
//! signed again at the same nonce, as the copies of a dropped one, since a fork without the
//! upgrade could still include it. And
//! "Transaction Already Imported" for freshly signed bytes is settled like a drop: the
//! fork-aware pool answers it when one of its views took the transaction from the pool's own
//! queue while it was being submitted, so the transaction may well be included.
//!
//! Over HTTP, the call is submitted with `author_submitExtrinsic` and the chain's blocks are
//! polled until one includes it; a dropped transaction is then seen only as a timeout.
//!
//! Once included, the block's `System::Events` are read and decoded with the runtime's own
//! `RuntimeEvent`. `ExtrinsicFailed` becomes [`Error::Dispatch`] with the pallet's error name.
//! The block and its events are fetched once per block, however many of this client's
//! transactions it holds, and as soon as the pool reports `inBlock`, so that the fetch overlaps
//! the wait for finality (the `blocks` module).

use std::{
	sync::Arc,
	time::{Duration, Instant},
};

use codec::Decode;
use futures::future::{BoxFuture, Fuse, FusedFuture as _, FutureExt as _};
use regchain_runtime::{Hash, Runtime, RuntimeCall, RuntimeError, RuntimeEvent};
use serde_json::{json, Value};
use sp_core::{crypto::Pair as _, H256};
use sp_runtime::DispatchError;

use crate::{
	blocks::{extrinsic_hash, BlockContents},
	error::one_line,
	extrinsic::signed,
	hex::{from_hex, parse_hash, to_hex},
	Client, Error, LeaseId, Revision, LOG_TARGET,
};

/// The registry pallet's event, as this runtime instantiates it.
pub type RegistryEvent = pallet_service_registry::Event<Runtime>;

/// How long to wait for a submitted transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Wait {
	/// Until a best block includes it: fast, but a reorg may still undo it.
	Best,
	/// Until a finalized block includes it: what etcd users call committed.
	#[default]
	Finalized,
}

/// An included extrinsic: where, and the events it emitted.
#[derive(Clone, Debug)]
pub struct Receipt {
	/// The block that included it.
	pub block_hash: H256,
	/// Its number.
	pub block_number: u32,
	/// The extrinsic's index in the block.
	pub extrinsic_index: u32,
	/// Whether the block was finalized when the wait ended.
	pub finalized: bool,
	/// Every event the extrinsic emitted, in order.
	pub events: Vec<RuntimeEvent>,
}

impl Receipt {
	/// The registry's events.
	pub fn registry_events(&self) -> impl Iterator<Item = &RegistryEvent> {
		self.events.iter().filter_map(|e| match e {
			RuntimeEvent::ServiceRegistry(e) => Some(e),
			_ => None,
		})
	}

	/// The key-space revision the call wrote at, if it changed a key (a put, a delete or a lease
	/// end that deleted keys, a txn that wrote).
	pub fn revision(&self) -> Option<Revision> {
		self.registry_events()
			.filter_map(|e| match e {
				RegistryEvent::KeyPut { revision, .. }
				| RegistryEvent::KeysDeleted { revision, .. } => Some(*revision),
				RegistryEvent::TxnApplied { revision, wrote: true, .. } => Some(*revision),
				RegistryEvent::LeaseEnded { revision, .. } => *revision,
				_ => None,
			})
			.max()
	}

	/// The granted lease: (id, time to live really granted, expiry in chain milliseconds).
	pub fn lease_granted(&self) -> Option<(LeaseId, u32, u64)> {
		self.registry_events().find_map(|e| match e {
			RegistryEvent::LeaseGranted { lease, ttl_secs, expires_at_ms, .. } => {
				Some((*lease, *ttl_secs, *expires_at_ms))
			},
			_ => None,
		})
	}

	/// The new expiry of a kept-alive lease, in chain milliseconds.
	pub fn kept_alive_until(&self) -> Option<u64> {
		self.registry_events().find_map(|e| match e {
			RegistryEvent::LeaseKeptAlive { expires_at_ms, .. } => Some(*expires_at_ms),
			_ => None,
		})
	}

	/// The outcome of a txn: (succeeded, wrote, revision).
	pub fn txn_applied(&self) -> Option<(bool, bool, Revision)> {
		self.registry_events().find_map(|e| match e {
			RegistryEvent::TxnApplied { succeeded, wrote, revision, .. } => {
				Some((*succeeded, *wrote, *revision))
			},
			_ => None,
		})
	}

	/// The new term of `election`, if its leader changed in this extrinsic.
	pub fn leader_changed(
		&self,
		election: &[u8],
	) -> Option<(Option<regchain_runtime::AccountId>, u64)> {
		self.registry_events()
			.filter_map(|e| match e {
				RegistryEvent::LeaderChanged { election: name, leader, term }
					if &name[..] == election =>
				{
					Some((leader.clone(), *term))
				},
				_ => None,
			})
			.last()
	}
}

/// The name of a dispatch error: `ServiceRegistry::LeaseNotFound` for a pallet's error, else the
/// error's own name (`BadOrigin`, `Other("...")`...).
pub fn dispatch_error_name(err: DispatchError) -> String {
	if let DispatchError::Module(module) = err {
		return match RuntimeError::from_dispatch_error(err) {
			// `ServiceRegistry(LeaseNotFound)` → `ServiceRegistry::LeaseNotFound`.
			Some(e) => {
				let debug = format!("{e:?}");
				match debug.split_once('(') {
					Some((pallet, rest)) => format!("{pallet}::{}", rest.trim_end_matches(')')),
					None => debug,
				}
			},
			None => format!("Module(index {}, error {:?})", module.index, module.error),
		};
	}
	format!("{err:?}")
}

/// How one watch of a submitted transaction ended.
enum Outcome {
	Included(Receipt),
	/// Signed again at a fresh nonce, this is safe to resubmit.
	Resign(&'static str),
	/// The pool let it go: it may still be included (see [`Client::settle`]).
	Dropped,
	/// The pool found it invalid, most often because another transaction used its nonce.
	Invalid,
}

/// How long [`Client::settle`] waits for a dropped transaction (or another at its nonce) to be
/// finalized before it signs the call again at the same nonce.
const SETTLE_GRACE: Duration = Duration::from_secs(2);
/// The most copies of one call, at one nonce, that [`Client::settle`] submits.
const SETTLE_COPIES: usize = 4;
/// A transaction slower than this to its receipt is logged, step by step, at debug level.
const SLOW_TRANSACTION: Duration = Duration::from_millis(500);

/// What happened to one submitted transaction, and when (ms since the submission began), for
/// the debug log line of a slow one (`-lregchain-client=debug`).
struct Trace {
	started: Instant,
	steps: Vec<(String, u128)>,
}

impl Trace {
	fn new() -> Self {
		Trace { started: Instant::now(), steps: Vec::new() }
	}

	fn step(&mut self, what: impl Into<String>) {
		self.steps.push((what.into(), self.started.elapsed().as_millis()));
	}

	fn log_if_slow(&self) {
		let total = self.started.elapsed();
		if total >= SLOW_TRANSACTION && log::log_enabled!(target: LOG_TARGET, log::Level::Debug) {
			let steps: Vec<String> =
				self.steps.iter().map(|(what, ms)| format!("{what} {ms}")).collect();
			log::debug!(target: LOG_TARGET, "slow transaction, {} ms: {}", total.as_millis(), steps.join(", "));
		}
	}
}

/// A signed transaction: the hex the node is sent, and the hash blocks are searched for,
/// computed once from the encoded bytes.
struct Signed {
	hex: String,
	hash: H256,
	/// The runtime `spec_version` it was signed for.
	spec_version: u32,
}

impl Signed {
	fn new(encoded: &[u8], spec_version: u32) -> Self {
		Signed { hex: to_hex(encoded), hash: extrinsic_hash(encoded), spec_version }
	}
}

/// Transaction statuses as `author_submitAndWatchExtrinsic` sends them.
fn status_name(status: &Value) -> String {
	match status {
		Value::String(s) => s.clone(),
		Value::Object(map) => map.keys().next().cloned().unwrap_or_default(),
		other => other.to_string(),
	}
}

impl Client {
	/// Signs `call` with this client's signer, submits it and waits as `wait` says. Returns
	/// where it was included and the events it emitted; a failed call is [`Error::Dispatch`].
	pub async fn submit(&self, call: RuntimeCall, wait: Wait) -> Result<Receipt, Error> {
		self.submit_signalling(call, wait, None).await
	}

	/// [`Client::submit`], telling `in_pool` as soon as the pool has accepted the transaction
	/// (dropping it unsent if that never happens), so that a [`crate::Batcher`] can form its
	/// next batch while this one waits for its block.
	pub(crate) async fn submit_signalling(
		&self,
		call: RuntimeCall,
		wait: Wait,
		in_pool: Option<tokio::sync::oneshot::Sender<()>>,
	) -> Result<Receipt, Error> {
		let receipt = if self.rpc().is_ws() {
			self.submit_ws(call, wait, in_pool).await?
		} else {
			// Over HTTP the submission and the wait are one request: nothing to overlap.
			drop(in_pool);
			self.submit_http(call, wait).await?
		};
		check_success(&receipt)?;
		Ok(receipt)
	}

	/// Signs `call` at the account's next nonce: `next` (the submission lock's content) if
	/// known, else the node's `system_accountNextIndex`. Leaves `next` empty: the caller
	/// stores the following nonce once the pool has accepted the transaction.
	async fn sign_next(
		&self,
		call: &RuntimeCall,
		next: &mut Option<u32>,
	) -> Result<(Signed, u32), Error> {
		let signer = self.signer().ok_or(Error::NoSigner)?;
		let nonce = match next.take() {
			Some(nonce) => nonce,
			None => {
				let nonce: u64 = self
					.rpc()
					.request("system_accountNextIndex", vec![json!(signer.ss58())])
					.await?;
				u32::try_from(nonce).map_err(|_| Error::decode("the nonce", nonce))?
			},
		};
		let spec_version = self.spec_version();
		let encoded = signed(call.clone(), signer.pair(), nonce, self.genesis(), spec_version);
		Ok((Signed::new(&encoded, spec_version), nonce))
	}

	/// Forgets the next nonce, so that the next transaction asks the node: after anything
	/// that may leave this client's idea of it wrong (a refusal, a drop, another signer).
	async fn forget_nonce(&self) {
		*self.submission_lock().lock().await = None;
	}

	async fn submit_ws(
		&self,
		call: RuntimeCall,
		wait: Wait,
		mut in_pool: Option<tokio::sync::oneshot::Sender<()>>,
	) -> Result<Receipt, Error> {
		let deadline = Instant::now() + self.options().tx_timeout;
		let mut resigns = 0u32;
		let mut trace = Trace::new();
		// The finalized head before anything is signed: no block at or below it can include
		// this call, and [`Client::settle`] searches every finalized block above it.
		let before: String = self.rpc().request("chain_getFinalizedHead", vec![]).await?;
		let before = parse_hash(&before)?;
		let receipt = loop {
			let (xt, nonce, subscription) = {
				let mut next_nonce = self.submission_lock().lock().await;
				let (xt, nonce) = self.sign_next(&call, &mut next_nonce).await?;
				let result = self
					.rpc()
					.subscribe::<Value>(
						"author_submitAndWatchExtrinsic",
						vec![json!(xt.hex)],
						"author_unwatchExtrinsic",
					)
					.await;
				// The pool took this nonce: the next transaction takes the one after, without
				// asking the node (whose answer may lag behind its own pool).
				*next_nonce = if result.is_ok() { nonce.checked_add(1) } else { None };
				(xt, nonce, result)
			};
			let subscription = match subscription {
				Ok(s) => s,
				Err(e) => {
					let refusal = refusal(e);
					if already_imported(&refusal) {
						// Fresh bytes cannot be a duplicate: the fork-aware pool says this when a
						// view took the transaction from the pool's own queue while it was being
						// submitted, and then forgets to watch it. It may well be included.
						trace.step("refused as already imported");
						if let Some(receipt) = self
							.settle(&call, &xt, nonce, before, deadline, true, &mut trace)
							.await?
						{
							break receipt;
						}
						self.forget_nonce().await;
						if resigns >= 5 {
							return Err(Error::NotIncluded {
								status: "refused as already imported".into(),
								detail: ", its nonce taken by another transaction, again after resubmitting".into(),
							});
						}
						resigns += 1;
						continue;
					}
					// Signed for the runtime before an upgrade (this call, or another batch that
					// read the new version first): sign for the new one.
					if bad_signature(&refusal)
						&& resigns < 5 && self.refresh_spec_version().await? != xt.spec_version
					{
						resigns += 1;
						trace.step("refused: signed for the runtime before an upgrade");
						continue;
					}
					if nonce_taken(&refusal) && resigns < 20 && Instant::now() < deadline {
						resigns += 1;
						log::debug!(target: LOG_TARGET, "nonce taken ({refusal}), signing again");
						tokio::time::sleep(Duration::from_millis(50 + 37 * resigns as u64)).await;
						continue;
					}
					return Err(refusal);
				},
			};
			trace.step(format!("in the pool at nonce {nonce} as {:?}", xt.hash));
			if let Some(in_pool) = in_pool.take() {
				let _ = in_pool.send(());
			}
			let outcome = match self.follow(xt.hash, subscription, wait, deadline, &mut trace).await
			{
				Ok(outcome) => outcome,
				Err(e) => {
					self.forget_nonce().await;
					return Err(e);
				},
			};
			let why = match outcome {
				Outcome::Included(receipt) => break receipt,
				Outcome::Resign(why) => why,
				Outcome::Dropped => {
					// The pool dropped it, and maybe the transactions after it too: ask the node
					// for the nonce again next time.
					self.forget_nonce().await;
					match self.settle(&call, &xt, nonce, before, deadline, true, &mut trace).await?
					{
						Some(receipt) => break receipt,
						None => "dropped, and its nonce was taken by another transaction",
					}
				},
				// Typically a transaction signed at the same nonce after a drop, while the
				// dropped one was still included elsewhere: this call then never ran.
				Outcome::Invalid => match self
					.settle(&call, &xt, nonce, before, deadline, false, &mut trace)
					.await?
				{
					Some(receipt) => break receipt,
					None => "invalidated, its nonce taken by another transaction",
				},
			};
			self.forget_nonce().await;
			if resigns >= 5 {
				return Err(Error::NotIncluded {
					status: why.into(),
					detail: ", again after resubmitting".into(),
				});
			}
			log::info!(target: LOG_TARGET, "transaction {why}: signing it again");
			trace.step(why);
			resigns += 1;
		};
		trace.log_if_slow();
		Ok(receipt)
	}

	/// Settles a dropped (`dropped`) or invalidated transaction hashed `xt`, signed at `nonce`,
	/// from the finalized chain (see the module documentation): its receipt, or `None` if
	/// another transaction took its nonce, so that `call` never ran. Copies at the same nonce are only
	/// submitted for a dropped transaction; an invalid one whose nonce stays unused is invalid
	/// for another reason, reported after [`SETTLE_GRACE`]. Otherwise only an unreachable node
	/// or the `deadline` makes it an error.
	async fn settle(
		&self,
		call: &RuntimeCall,
		xt: &Signed,
		nonce: u32,
		before: H256,
		deadline: Instant,
		mut dropped: bool,
		trace: &mut Trace,
	) -> Result<Option<Receipt>, Error> {
		let signer = self.signer().ok_or(Error::NoSigner)?;
		let account = regchain_runtime::AccountId::from(signer.pair().public());
		// The copies' hashes: what the blocks are searched for.
		let mut copies = vec![xt.hash];
		// Every finalized block above the one finalized before the call was first signed, however
		// long ago: a block that included it on another validator may have been finalized there
		// long before this node learnt of it (a partition, a finality stall).
		let header: Value = self
			.rpc()
			.request("chain_getHeader", vec![json!(format!("{before:?}"))])
			.await?;
		let mut next = header_number(&header)?.saturating_add(1);
		let mut last_copy = Instant::now();
		loop {
			// The nonce first, then the blocks up to the same head: a nonce past ours with none
			// of the copies in those blocks means another transaction took it.
			let (head, head_number) = self.finalized_head().await?;
			let used: regchain_runtime::Nonce =
				self.runtime_call("AccountNonceApi_account_nonce", &account, head).await?;
			if let Some(receipt) = self.scan_blocks(&mut next, head_number, &copies, true).await? {
				trace.step(format!("found in finalized block #{}", receipt.block_number));
				return Ok(Some(receipt));
			}
			if used > nonce {
				return Ok(None);
			}
			if Instant::now() >= deadline {
				return Err(Error::NotIncluded {
					status: if dropped { "dropped" } else { "invalidated" }.into(),
					detail: format!(
						", and neither it nor another transaction at its nonce was finalized \
						 within {:?}: it may still be included later",
						self.options().tx_timeout
					),
				});
			}
			if !dropped && last_copy.elapsed() >= SETTLE_GRACE {
				if self.refresh_spec_version().await? != xt.spec_version {
					// The runtime was upgraded: its signature no longer verifies under the new
					// runtime, though a fork without the upgrade might still include it. Copies
					// signed for the new runtime at the same nonce, as for a drop: at most one of
					// them all can ever run.
					dropped = true;
					last_copy = Instant::now().checked_sub(SETTLE_GRACE).unwrap_or(last_copy);
					continue;
				}
				return Err(Error::NotIncluded {
					status: "invalidated".into(),
					detail: " (it became invalid in the pool, and its nonce stayed unused)".into(),
				});
			}
			if !dropped || last_copy.elapsed() < SETTLE_GRACE || copies.len() >= SETTLE_COPIES {
				tokio::time::sleep(Duration::from_millis(250)).await;
				continue;
			}
			// No validator seems to hold it any more: the same call, signed again at the same
			// nonce. A new signature makes new bytes; at most one copy can ever run.
			last_copy = Instant::now();
			let spec_version = self.spec_version();
			let copy = Signed::new(
				&signed(call.clone(), signer.pair(), nonce, self.genesis(), spec_version),
				spec_version,
			);
			copies.push(copy.hash);
			trace.step(format!("copy {} at nonce {nonce}", copies.len() - 1));
			log::info!(target: LOG_TARGET, "dropped transaction not finalized: submitting it again at nonce {nonce}");
			let subscription = self
				.rpc()
				.subscribe::<Value>(
					"author_submitAndWatchExtrinsic",
					vec![json!(copy.hex)],
					"author_unwatchExtrinsic",
				)
				.await;
			match subscription {
				Ok(subscription) => match self
					.follow(copy.hash, subscription, Wait::Finalized, deadline, trace)
					.await
				{
					Ok(Outcome::Included(receipt)) => return Ok(Some(receipt)),
					// Dropped or usurped in turn, or invalid because an earlier copy ran: the
					// chain tells which.
					Ok(_) => {},
					Err(e @ Error::Timeout { .. }) => return Err(e),
					Err(e) => log::debug!(target: LOG_TARGET, "copy at nonce {nonce}: {e}"),
				},
				// Most likely an earlier copy still pending: the chain will tell.
				Err(e) => {
					log::debug!(target: LOG_TARGET, "copy at nonce {nonce} refused: {}", refusal(e))
				},
			}
		}
	}

	/// Calls the runtime API function `method` with `arg` at block `at` (`state_call`).
	async fn runtime_call<T: Decode>(
		&self,
		method: &str,
		arg: &impl codec::Encode,
		at: H256,
	) -> Result<T, Error> {
		let raw: String = self
			.rpc()
			.request(
				"state_call",
				vec![json!(method), json!(to_hex(&arg.encode())), json!(format!("{at:?}"))],
			)
			.await?;
		T::decode(&mut &from_hex(&raw)?[..]).map_err(|e| Error::decode(method, e))
	}

	async fn follow(
		&self,
		xt: H256,
		mut subscription: jsonrpsee::core::client::Subscription<Value>,
		wait: Wait,
		deadline: Instant,
		trace: &mut Trace,
	) -> Result<Outcome, Error> {
		let timeout = self.options().tx_timeout;
		// The including block's contents, fetched while finality is awaited: under load the
		// fetch takes a good part of a slot, and the finalized block is almost always that one.
		let mut prefetch: Fuse<BoxFuture<'_, ()>> = Fuse::terminated();
		loop {
			let next = tokio::select! {
				() = &mut prefetch, if !prefetch.is_terminated() => continue,
				next = tokio::time::timeout_at(deadline.into(), subscription.next()) => next,
			};
			let next = next.map_err(|_| Error::Timeout {
				what: format!(
					"the transaction to be {}",
					if wait == Wait::Best { "included" } else { "finalized" }
				),
				after: timeout,
			})?;
			let status = match next {
				Some(Ok(status)) => status,
				Some(Err(e)) => return Err(Error::decode("a transaction status", e)),
				None => {
					return Err(Error::Connection(
						"the node ended the transaction's status stream".into(),
					))
				},
			};
			let name = status_name(&status);
			log::trace!(target: LOG_TARGET, "transaction status: {status}");
			match status.as_object().and_then(|map| map.values().next()).and_then(Value::as_str) {
				Some(block) => trace.step(format!("{name} {block}")),
				None => trace.step(name.clone()),
			}
			if matches!(name.as_str(), "inBlock" | "finalized") && !prefetch.is_terminated() {
				// Let a fetch under way end first: the receipt below waits for the same cell,
				// which a fetch that is no longer polled would hold forever.
				(&mut prefetch).await;
			}
			match name.as_str() {
				"future" | "ready" | "broadcast" | "retracted" => continue,
				"inBlock" if wait == Wait::Best => {
					let hash = parse_hash(status["inBlock"].as_str().unwrap_or_default())?;
					return Ok(Outcome::Included(self.receipt(hash, xt, false).await?));
				},
				"inBlock" => {
					// A failed fetch is not cached: the receipt asks again, and reports it.
					let hash = parse_hash(status["inBlock"].as_str().unwrap_or_default())?;
					prefetch = self.block_contents(hash).map(drop).boxed().fuse();
					continue;
				},
				"finalized" => {
					let hash = parse_hash(status["finalized"].as_str().unwrap_or_default())?;
					return Ok(Outcome::Included(self.receipt(hash, xt, true).await?));
				},
				"usurped" => return Ok(Outcome::Resign("usurped")),
				"dropped" => return Ok(Outcome::Dropped),
				"invalid" => return Ok(Outcome::Invalid),
				"finalityTimeout" => {
					return Err(Error::NotIncluded {
						status: "timed out".into(),
						detail: ": its block was not finalized in time".into(),
					})
				},
				other => {
					return Err(Error::decode("a transaction status", format!("unknown: {other}")))
				},
			}
		}
	}

	async fn submit_http(&self, call: RuntimeCall, wait: Wait) -> Result<Receipt, Error> {
		let deadline = Instant::now() + self.options().tx_timeout;
		let mut resigns = 0u32;
		let (xt, first) = loop {
			let mut next_nonce = self.submission_lock().lock().await;
			let best = self.best_number().await?;
			// Over HTTP a drop goes unseen: ask the node for the nonce every time.
			*next_nonce = None;
			let (xt, _) = self.sign_next(&call, &mut next_nonce).await?;
			match self.rpc().request::<Value>("author_submitExtrinsic", vec![json!(xt.hex)]).await {
				Ok(_) => break (xt, best + 1),
				Err(e) => {
					let refusal = refusal(e);
					if bad_signature(&refusal)
						&& resigns < 5 && self.refresh_spec_version().await? != xt.spec_version
					{
						resigns += 1;
						continue;
					}
					if nonce_taken(&refusal) && resigns < 20 {
						resigns += 1;
						drop(next_nonce);
						tokio::time::sleep(Duration::from_millis(50 + 37 * resigns as u64)).await;
						continue;
					}
					return Err(refusal);
				},
			}
		};
		let (mut next, wanted) = (first, [xt.hash]);
		loop {
			let head = match wait {
				Wait::Best => self.best_number().await?,
				Wait::Finalized => self.finalized_number().await?,
			};
			if let Some(receipt) =
				self.scan_blocks(&mut next, head, &wanted, wait == Wait::Finalized).await?
			{
				return Ok(receipt);
			}
			if Instant::now() >= deadline {
				return Err(Error::Timeout {
					what: "the transaction to be included (over HTTP a dropped transaction is \
					       seen only as a timeout)"
						.into(),
					after: self.options().tx_timeout,
				});
			}
			tokio::time::sleep(Duration::from_millis(200)).await;
		}
	}

	/// The receipt of the extrinsic hashed `xt` in block `hash`; an error if the block does not
	/// hold it.
	async fn receipt(&self, hash: H256, xt: H256, finalized: bool) -> Result<Receipt, Error> {
		self.receipt_of_any(hash, &[xt], finalized).await?.ok_or_else(|| {
			Error::decode(
				"the including block",
				format!("block {hash:?} does not hold the extrinsic"),
			)
		})
	}

	/// Looks for any of the extrinsics hashed `wanted` in the blocks numbered from `next` up to
	/// `head` of the node's chain, advancing `next` past the blocks searched (so a later call
	/// goes on from there).
	async fn scan_blocks(
		&self,
		next: &mut u32,
		head: u32,
		wanted: &[H256],
		finalized: bool,
	) -> Result<Option<Receipt>, Error> {
		while *next <= head {
			let hash: Option<String> =
				self.rpc().request("chain_getBlockHash", vec![json!(*next)]).await?;
			let Some(hash) = hash else { break };
			if let Some(receipt) =
				self.receipt_of_any(parse_hash(&hash)?, wanted, finalized).await?
			{
				return Ok(Some(receipt));
			}
			*next += 1;
		}
		Ok(None)
	}

	/// The receipt of whichever of the extrinsics hashed `wanted` block `hash` holds, if any.
	async fn receipt_of_any(
		&self,
		hash: H256,
		wanted: &[H256],
		finalized: bool,
	) -> Result<Option<Receipt>, Error> {
		let block = self.block_contents(hash).await?;
		let Some(index) = block.position(wanted) else { return Ok(None) };
		let events = block
			.events
			.iter()
			.filter(|r| r.phase == frame_system::Phase::ApplyExtrinsic(index))
			.map(|r| r.event.clone())
			.collect();
		Ok(Some(Receipt {
			block_hash: hash,
			block_number: block.number,
			extrinsic_index: index,
			finalized,
			events,
		}))
	}

	/// What receipts need of block `hash`: fetched from the node once, then shared by every
	/// transaction it includes (see the `blocks` module).
	async fn block_contents(&self, hash: H256) -> Result<Arc<BlockContents>, Error> {
		let cell = self.block_cache().cell(hash);
		let contents = cell
			.get_or_try_init(|| async {
				let block: Value =
					self.rpc().request("chain_getBlock", vec![json!(format!("{hash:?}"))]).await?;
				if block.is_null() {
					let unknown = format!("the node does not know block {hash:?}");
					return Err(Error::decode("a block", unknown));
				}
				let extrinsics = block["block"]["extrinsics"]
					.as_array()
					.map(Vec::as_slice)
					.unwrap_or_default()
					.iter()
					.map(|x| from_hex(x.as_str().unwrap_or_default()))
					.map(|bytes| bytes.map(|bytes| extrinsic_hash(&bytes)))
					.collect::<Result<Vec<_>, _>>()?;
				let number = block["block"]["header"]["number"].as_str().unwrap_or("0x0");
				let number = u32::from_str_radix(number.trim_start_matches("0x"), 16)
					.map_err(|e| Error::decode("a block number", e))?;
				let events = self.events_at(hash).await?;
				Ok(Arc::new(BlockContents { number, extrinsics, events }))
			})
			.await?;
		Ok(contents.clone())
	}

	/// Every event of block `hash`, as `System::Events` stores them.
	pub async fn events_at(
		&self,
		hash: H256,
	) -> Result<Vec<frame_system::EventRecord<RuntimeEvent, Hash>>, Error> {
		Ok(self.storage_value(b"System", b"Events", Some(hash)).await?.unwrap_or_default())
	}

	/// The plain storage value `pallet::item` at block `at` (the best block when `None`), decoded
	/// as `T`; `None` when the storage holds nothing.
	pub async fn storage_value<T: Decode>(
		&self,
		pallet: &[u8],
		item: &[u8],
		at: Option<H256>,
	) -> Result<Option<T>, Error> {
		let key = frame_support::storage::storage_prefix(pallet, item);
		let mut params = vec![json!(to_hex(&key))];
		if let Some(hash) = at {
			params.push(json!(format!("{hash:?}")));
		}
		let raw: Option<String> = self.rpc().request("state_getStorage", params).await?;
		let Some(raw) = raw else { return Ok(None) };
		let bytes = from_hex(&raw)?;
		let what =
			|| format!("{}::{}", String::from_utf8_lossy(pallet), String::from_utf8_lossy(item));
		T::decode(&mut &bytes[..]).map(Some).map_err(|e| Error::decode(what(), e))
	}

	/// The best block's number.
	pub async fn best_number(&self) -> Result<u32, Error> {
		let header: Value = self.rpc().request("chain_getHeader", vec![]).await?;
		header_number(&header)
	}

	/// The finalized block's number.
	pub async fn finalized_number(&self) -> Result<u32, Error> {
		Ok(self.finalized_head().await?.1)
	}

	/// The finalized block's hash and number.
	pub async fn finalized_head(&self) -> Result<(H256, u32), Error> {
		let hash: String = self.rpc().request("chain_getFinalizedHead", vec![]).await?;
		let header: Value = self.rpc().request("chain_getHeader", vec![json!(hash)]).await?;
		Ok((parse_hash(&hash)?, header_number(&header)?))
	}
}

fn header_number(header: &Value) -> Result<u32, Error> {
	let number = header["number"].as_str().ok_or_else(|| Error::decode("a header", header))?;
	u32::from_str_radix(number.trim_start_matches("0x"), 16)
		.map_err(|e| Error::decode("a header", e))
}

/// A failed call as [`Error::Dispatch`].
fn check_success(receipt: &Receipt) -> Result<(), Error> {
	for event in &receipt.events {
		if let RuntimeEvent::System(frame_system::Event::ExtrinsicFailed {
			dispatch_error, ..
		}) = event
		{
			return Err(Error::Dispatch {
				name: dispatch_error_name(*dispatch_error),
				block: format!("{:?}", receipt.block_hash),
			});
		}
	}
	Ok(())
}

/// A submission error as the pool's refusal.
fn refusal(e: Error) -> Error {
	match e {
		Error::Rpc { message, .. } => Error::Refused(one_line(&message)),
		other => other,
	}
}

/// Whether a refusal says the pool already has the transaction (`1013`).
fn already_imported(refusal: &Error) -> bool {
	matches!(refusal, Error::Refused(message) if message.contains("Already Imported"))
}

/// Whether a refusal says the signature does not verify (`1010`, `BadProof`): signed for a
/// runtime the chain has since upgraded, if the client's spec version is stale.
fn bad_signature(refusal: &Error) -> bool {
	matches!(refusal, Error::Refused(message) if message.contains("bad signature"))
}

/// Whether a refusal means that another transaction of the same account took the nonce first
/// (so this one was not accepted, and may be signed again at a fresh nonce).
fn nonce_taken(refusal: &Error) -> bool {
	match refusal {
		Error::Refused(message) => {
			let m = message.to_ascii_lowercase();
			m.contains("priority is too low") || m.contains("outdated")
		},
		_ => false,
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use frame_support::traits::PalletInfoAccess;
	use sp_runtime::ModuleError;

	#[test]
	fn module_errors_are_named_by_pallet_and_error() {
		let index = regchain_runtime::ServiceRegistry::index() as u8;
		let lease_not_found = pallet_service_registry::Error::<Runtime>::LeaseNotFound;
		let err: DispatchError = lease_not_found.into();
		assert_eq!(dispatch_error_name(err), "ServiceRegistry::LeaseNotFound");
		let unknown =
			DispatchError::Module(ModuleError { index, error: [250, 0, 0, 0], message: None });
		assert!(dispatch_error_name(unknown).starts_with("Module("));
		assert_eq!(dispatch_error_name(DispatchError::BadOrigin), "BadOrigin");
	}

	#[test]
	fn nonce_races_are_told_from_refusals() {
		assert!(nonce_taken(&Error::Refused("Priority is too low: (1 vs 1): ...".into())));
		assert!(nonce_taken(&Error::Refused(
			"Invalid Transaction: Transaction is outdated".into()
		)));
		assert!(!nonce_taken(&Error::Refused(
			"Invalid Transaction: Invalid signing address".into()
		)));
		assert!(already_imported(&Error::Refused(
			"Transaction Already Imported: Any { .. }".into()
		)));
		assert!(!already_imported(&Error::Refused("Transaction is temporarily banned".into())));
	}
}
