//! A watch that survives lost connections.

use std::time::Duration;

use crate::{
	client::starting_at, reads::ChangeStream, AtBlock, Client, ConnectOptions, Error, WatchItem,
	WatchOptions, WatchTarget, LOG_TARGET,
};

/// A subscription to registry changes that reconnects by itself and resumes where it was.
///
/// It remembers the revision and the `(block_number, event_index)` of the last change it
/// returned. After a lost connection it connects again, subscribes from that revision (the node
/// replays every change at or after it, then goes live) and skips what it had already returned,
/// so the caller sees every change once, in order. A watch that had not yet returned anything
/// resumes from the revision current when it started. If the node no longer keeps that
/// revision, [`Watch::next`] fails (JSON-RPC error 4001) instead of silently skipping changes.
///
/// Given several endpoints ([`Watch::over`]), it resumes through the next one when its node
/// goes away: every validator finalizes the same blocks, so a finalized watch picks up at the
/// same change on any of them.
pub struct Watch {
	endpoints: Vec<String>,
	/// Where the next connection attempt starts in `endpoints`.
	next_endpoint: usize,
	target: WatchTarget,
	best: bool,
	/// Where to start: the revision asked for, or the one current at the start.
	from_revision: Option<u64>,
	/// The last change returned (or, before the first, the block the watch started after).
	last: Option<(u64, u32)>,
	connection: Option<(Client, ChangeStream)>,
	reconnects: u32,
	started: bool,
}

impl Watch {
	/// A watch of `target` through the node at `endpoint` (`ws://`). With `from_revision`, it
	/// first replays the changes at or after it.
	pub fn new(endpoint: &str, target: WatchTarget, from_revision: Option<u64>) -> Self {
		Self::over(&[endpoint.to_string()], target, from_revision)
	}

	/// The same through any of `endpoints`: it connects to the first that can be reached and,
	/// when that node goes away, resumes through the one after it.
	pub fn over(endpoints: &[String], target: WatchTarget, from_revision: Option<u64>) -> Self {
		Watch {
			endpoints: endpoints.to_vec(),
			next_endpoint: 0,
			target,
			best: false,
			from_revision,
			last: None,
			connection: None,
			reconnects: 0,
			started: false,
		}
	}

	/// Streams best blocks rather than finalized ones (items may then be retracted).
	pub fn best(mut self, best: bool) -> Self {
		self.best = best;
		self
	}

	/// The revision it would resume from now.
	pub fn resume_revision(&self) -> Option<u64> {
		self.from_revision
	}

	/// The next change (or retraction). Reconnects as often as needed; fails only when the node
	/// refuses the subscription itself (a compacted revision, a bad parameter).
	pub async fn next(&mut self) -> Result<WatchItem, Error> {
		loop {
			if self.connection.is_none() {
				match self.connect().await {
					Ok(()) => self.reconnects = 0,
					Err(e) if e.is_transient() && self.started => {
						self.reconnects += 1;
						let delay = Duration::from_millis(250 << self.reconnects.min(5));
						log::info!(target: LOG_TARGET, "watch: reconnecting in {delay:?}: {e}");
						tokio::time::sleep(delay).await;
						continue;
					},
					Err(e) => return Err(e),
				}
			}
			let (_, stream) = self.connection.as_mut().expect("connected above");
			match stream.next().await {
				Some(Ok(WatchItem::Change(change))) => {
					if self.last.is_some_and(|last| change.position() <= last) {
						continue;
					}
					self.last = Some(change.position());
					self.from_revision = Some(change.revision);
					return Ok(WatchItem::Change(change));
				},
				Some(Ok(retracted)) => return Ok(retracted),
				Some(Err(e)) => return Err(Error::decode("a watch item", e)),
				None => {
					log::info!(target: LOG_TARGET, "watch: the subscription ended; resuming");
					self.connection = None;
				},
			}
		}
	}

	async fn connect(&mut self) -> Result<(), Error> {
		let order = starting_at(&self.endpoints, self.next_endpoint);
		let client = Client::connect_any(&order, None, ConnectOptions::default()).await?;
		// Should this connection be lost, the next endpoint is tried first: more likely up than
		// one whose node just went away.
		let at = self.endpoints.iter().position(|e| e == client.url()).unwrap_or(0);
		self.next_endpoint = at + 1;
		if self.started {
			log::info!(target: LOG_TARGET, "watch: resuming through {}", client.url());
		}
		if !self.started && self.from_revision.is_none() {
			// A live watch: remember where "now" is, to resume from there if the connection is
			// lost before the first change.
			let now = client.revision(&AtBlock::Finalized).await?;
			self.from_revision = Some(now.revision);
			self.last = Some((now.at.number, u32::MAX));
			let options = WatchOptions { from_revision: None, best: self.best };
			let stream = client.subscribe(&self.target, &options).await?;
			self.connection = Some((client, stream));
		} else {
			let options = WatchOptions { from_revision: self.from_revision, best: self.best };
			let stream = client.subscribe(&self.target, &options).await?;
			self.connection = Some((client, stream));
		}
		self.started = true;
		Ok(())
	}
}
