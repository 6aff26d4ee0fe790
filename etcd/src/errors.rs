//! etcd's gRPC errors, and the mapping of the client's errors onto them.
//!
//! The messages are etcd's own (`etcdserver: requested lease not found`...), so that clients
//! which match on them (etcdctl, the Go client's `rpctypes`, Patroni) behave as with etcd.

use regchain_client::{
	rpc_api::error::{NOT_CONFIRMED, TOO_LARGE},
	Error, RevisionUnavailable,
};
use tonic::{Code, Status};

/// `etcdserver: key is not provided`.
pub fn empty_key() -> Status {
	Status::invalid_argument("etcdserver: key is not provided")
}

/// `etcdserver: requested lease not found`.
pub fn lease_not_found() -> Status {
	Status::not_found("etcdserver: requested lease not found")
}

/// `etcdserver: too many operations in txn request`.
pub fn too_many_ops() -> Status {
	Status::invalid_argument("etcdserver: too many operations in txn request")
}

/// `etcdserver: mvcc: required revision has been compacted`.
pub fn compacted() -> Status {
	Status::out_of_range("etcdserver: mvcc: required revision has been compacted")
}

/// `etcdserver: mvcc: required revision is a future revision`.
pub fn future_revision() -> Status {
	Status::out_of_range("etcdserver: mvcc: required revision is a future revision")
}

/// What this API does not do, said plainly.
pub fn unsupported(what: &str) -> Status {
	Status::unimplemented(format!("regchain: {what}"))
}

/// A write's block lacks the event that tells its outcome: the node and this API disagree.
pub fn missing_event(event: &str) -> Status {
	Status::internal(format!("regchain: the write's block holds no {event} event for it"))
}

/// The oldest revision the node keeps, when `err` says a revision is older than that.
pub fn oldest_kept(err: &Error) -> Option<u64> {
	match err.revision_unavailable()? {
		RevisionUnavailable::Compacted { oldest } => Some(oldest),
		RevisionUnavailable::Future { .. } => None,
	}
}

/// The etcd status for a failed client call.
pub fn status_of(err: Error) -> Status {
	match err.revision_unavailable() {
		Some(RevisionUnavailable::Compacted { .. }) => return compacted(),
		Some(RevisionUnavailable::Future { .. }) => return future_revision(),
		None => {},
	}
	match &err {
		// registry_readIndex: no quorum of validators confirmed a linearizable read in time.
		Error::Rpc { code: NOT_CONFIRMED, message, .. } => {
			return Status::unavailable(format!("etcdserver: request timed out ({message})"))
		},
		Error::Rpc { code: -32602, message, .. } => {
			return Status::invalid_argument(message.clone())
		},
		// An answer larger than the node's RPC server sends (jsonrpsee's "Response is too big").
		Error::Rpc { code: -32008, message, .. } => {
			return Status::resource_exhausted(format!(
				"regchain: the answer is larger than this node's JSON-RPC response limit \
				 (--rpc-max-response-size; {message}): read the range in pages with a limit"
			))
		},
		// A range too large for the runtime to answer in one piece.
		Error::Rpc { code: TOO_LARGE, message, .. } => {
			return Status::resource_exhausted(format!("regchain: {message}"))
		},
		_ => {},
	}
	if let Some(name) = err.dispatch_name() {
		return dispatch_status(name.strip_prefix("ServiceRegistry::").unwrap_or(name));
	}
	match err {
		Error::Refused(reason) if reason.contains("Invalid signing address") => {
			Status::permission_denied(format!(
				"etcdserver: permission denied: this node's etcd account is not an orchestrator \
				 ({reason})"
			))
		},
		Error::Refused(reason) => {
			Status::unavailable(format!("regchain: transaction refused: {reason}"))
		},
		Error::Timeout { .. } => Status::unavailable("etcdserver: request timed out"),
		Error::Overloaded { .. } => Status::resource_exhausted("etcdserver: too many requests"),
		Error::NotIncluded { .. } => Status::unavailable(format!(
			"etcdserver: request timed out, possibly due to previous leader failure ({err})"
		)),
		Error::Unreachable { .. } | Error::Connection(_) => {
			Status::unavailable(format!("regchain: {err}"))
		},
		Error::BadInput(_) | Error::Key(_) => Status::invalid_argument(err.to_string()),
		other => Status::new(Code::Internal, format!("regchain: {other}")),
	}
}

/// etcd's error for a txn branch that puts a key twice or in a range it deletes.
pub fn duplicate_key() -> Status {
	Status::invalid_argument("etcdserver: duplicate key given in txn request")
}

/// The etcd status for a registry call that failed on chain with the pallet error `name`.
fn dispatch_status(name: &str) -> Status {
	match name {
		"LeaseNotFound" | "LeaseExpired" => lease_not_found(),
		"TooManyTxnOps" => too_many_ops(),
		"DuplicateKeyInTxn" => duplicate_key(),
		"EmptyKey" => empty_key(),
		"KeyTooLong" | "ValueTooLong" => Status::invalid_argument(format!(
			"etcdserver: request is too large (regchain: {name}; keys up to 1 KiB, values up to 64 KiB)"
		)),
		"LeaseTtlTooLarge" => Status::out_of_range("etcdserver: too large lease TTL"),
		"LeaseQuotaExceeded" | "KeyQuotaExceeded" | "InstanceQuotaExceeded" => Status::resource_exhausted(
			format!("etcdserver: mvcc: database space exceeded (regchain: {name} for this node's etcd account)"),
		),
		"NotOwner" | "ReservedKey" =>
			Status::permission_denied(format!("etcdserver: permission denied (regchain: {name})")),
		other => Status::failed_precondition(format!("regchain: the registry refused the call: {other}")),
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use regchain_client::rpc_api::error::REVISION_UNAVAILABLE;

	fn rpc(code: i32, message: &str) -> Error {
		Error::Rpc { method: "registry_range".into(), code, message: message.into(), data: None }
	}

	fn unavailable(data: RevisionUnavailable) -> Error {
		Error::Rpc {
			method: "registry_range".into(),
			code: REVISION_UNAVAILABLE,
			message: "whatever the node says".into(),
			data: Some(serde_json::to_value(data).unwrap()),
		}
	}

	#[test]
	fn revisions_out_of_the_window_are_etcds_errors_from_the_errors_data() {
		let old = unavailable(RevisionUnavailable::Compacted { oldest: 17 });
		assert_eq!(oldest_kept(&old), Some(17));
		let status = status_of(old);
		assert_eq!(status.code(), Code::OutOfRange);
		assert_eq!(status.message(), "etcdserver: mvcc: required revision has been compacted");
		let future = unavailable(RevisionUnavailable::Future { current: 12 });
		assert_eq!(oldest_kept(&future), None);
		let future = status_of(future);
		assert_eq!(future.message(), "etcdserver: mvcc: required revision is a future revision");
	}

	#[test]
	fn an_answer_too_large_is_resource_exhausted_and_other_runtime_failures_are_not() {
		let large =
			status_of(rpc(TOO_LARGE, "the answer is larger than the runtime can return (32 MiB)"));
		assert_eq!(large.code(), Code::ResourceExhausted);
		assert!(large.message().contains("32 MiB"), "{}", large.message());
		assert_ne!(
			status_of(rpc(4003, "runtime API failure: trap")).code(),
			Code::ResourceExhausted
		);
	}

	#[test]
	fn pallet_errors_become_etcds_messages() {
		let err = |name: &str| Error::Dispatch {
			name: format!("ServiceRegistry::{name}"),
			block: "0x".into(),
		};
		assert_eq!(
			status_of(err("LeaseNotFound")).message(),
			"etcdserver: requested lease not found"
		);
		assert_eq!(status_of(err("LeaseNotFound")).code(), Code::NotFound);
		assert_eq!(
			status_of(err("TooManyTxnOps")).message(),
			"etcdserver: too many operations in txn request"
		);
		assert_eq!(status_of(err("NotLeader")).code(), Code::FailedPrecondition);
		let refused = Error::Refused("Invalid Transaction: Invalid signing address".into());
		assert_eq!(status_of(refused).code(), Code::PermissionDenied);
	}
}
