//! The client's errors. Every message is one line.

use std::time::Duration;

/// What went wrong talking to a regchain node.
#[derive(Clone, Debug, thiserror::Error)]
pub enum Error {
	/// The node could not be reached at all.
	#[error("cannot reach the node at {url}: {reason}")]
	Unreachable {
		/// The endpoint.
		url: String,
		/// Why.
		reason: String,
	},
	/// The connection to the node failed or closed.
	#[error("connection to the node lost: {0}")]
	Connection(String),
	/// The node answered a JSON-RPC call with an error.
	#[error("{method}: {message}")]
	Rpc {
		/// The method called.
		method: String,
		/// The JSON-RPC error code (`4001`: revision compacted or in the future, `4002`: unknown
		/// block, `4005`: answer too large, `-32601`: no such method...; `docs/rpc.md`).
		code: i32,
		/// The node's message, with its `data` when that is text.
		message: String,
		/// Its `data` when that is structured (such as [`crate::RevisionUnavailable`]).
		data: Option<serde_json::Value>,
	},
	/// The node runs another runtime than the one this client was built with.
	#[error(
		"the node runs runtime {node_spec} v{node_spec_version} (transaction version \
		 {node_tx_version}), this client was built for {client_spec} v{client_spec_version} \
		 (transaction version {client_tx_version}): use a client built with the node's runtime"
	)]
	RuntimeMismatch {
		/// The node's spec name.
		node_spec: String,
		/// The node's spec version.
		node_spec_version: u32,
		/// The node's transaction version.
		node_tx_version: u32,
		/// This client's spec name.
		client_spec: String,
		/// This client's spec version.
		client_spec_version: u32,
		/// This client's transaction version.
		client_tx_version: u32,
	},
	/// The transaction pool refused the transaction when it was submitted ("Invalid signing
	/// address" for a signer that is not an orchestrator).
	#[error("transaction refused by the pool: {0}")]
	Refused(String),
	/// The pool accepted the transaction, then dropped, invalidated or replaced it before it was
	/// included.
	#[error("transaction {status} by the pool before inclusion{detail}")]
	NotIncluded {
		/// `dropped`, `invalid`, `usurped`, `retracted`...
		status: String,
		/// More about it (starts with a separator, or is empty).
		detail: String,
	},
	/// The extrinsic was included but its call failed: `ServiceRegistry::LeaseNotFound`.
	#[error("{name}")]
	Dispatch {
		/// `Pallet::Error`, or the dispatch error's own name (`BadOrigin`...).
		name: String,
		/// The block that included it.
		block: String,
	},
	/// A fenced write was refused: the election has moved on from the term it was fenced with.
	#[error("fenced write refused: election {election} is no longer at term {term}")]
	Fenced {
		/// The election.
		election: String,
		/// The stale term.
		term: u64,
	},
	/// Too many calls are queued for submission already: the call was not queued, and nothing
	/// was submitted (etcd's "too many requests").
	#[error("too many requests: {queued} calls already wait for submission")]
	Overloaded {
		/// How many calls wait.
		queued: usize,
	},
	/// Waited too long.
	#[error("timed out after {after:?} waiting for {what}")]
	Timeout {
		/// What was awaited.
		what: String,
		/// How long.
		after: Duration,
	},
	/// A key could not be parsed or read.
	#[error("bad key: {0}")]
	Key(String),
	/// An argument is malformed.
	#[error("{0}")]
	BadInput(String),
	/// Subscriptions need a WebSocket connection.
	#[error("subscriptions and transaction watches need a ws:// endpoint, not {0}")]
	NeedsWebSocket(String),
	/// Something the node sent could not be decoded.
	#[error("cannot decode {what}: {reason}")]
	Decode {
		/// What.
		what: String,
		/// Why.
		reason: String,
	},
	/// The operation needs a signer and none was given.
	#[error("this command signs a transaction: pass --key or --keyfile, or set REGCHAIN_KEY")]
	NoSigner,
}

impl Error {
	/// The pallet error's name (`ServiceRegistry::LeaseNotFound`) when the call failed on chain.
	pub fn dispatch_name(&self) -> Option<&str> {
		match self {
			Error::Dispatch { name, .. } => Some(name),
			_ => None,
		}
	}

	/// Whether a call failed on chain with the registry error `name` (`LeaseNotFound`).
	pub fn is_registry_error(&self, name: &str) -> bool {
		self.dispatch_name()
			.and_then(|n| n.strip_prefix("ServiceRegistry::"))
			.is_some_and(|n| n == name)
	}

	/// The JSON-RPC error code when the node answered with an error.
	pub fn rpc_code(&self) -> Option<i32> {
		match self {
			Error::Rpc { code, .. } => Some(*code),
			_ => None,
		}
	}

	/// Whether retrying the same thing later (on a new connection) may succeed: the connection
	/// failed, as opposed to the node or the chain saying no.
	pub fn is_transient(&self) -> bool {
		matches!(self, Error::Unreachable { .. } | Error::Connection(_) | Error::Timeout { .. })
	}

	pub(crate) fn decode(what: impl Into<String>, reason: impl ToString) -> Self {
		Error::Decode { what: what.into(), reason: one_line(&reason.to_string()) }
	}
}

/// `text` on one line: a node's message, such as a runtime error with a backtrace, as errors
/// carry it.
pub fn one_line(text: &str) -> String {
	text.split_whitespace().collect::<Vec<_>>().join(" ")
}
