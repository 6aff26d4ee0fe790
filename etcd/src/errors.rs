//! etcd's gRPC errors, and the mapping of the client's errors onto them.
//!
//! The messages are etcd's own (`etcdserver: requested lease not found`...), so that clients
//! which match on them (etcdctl, the Go client's `rpctypes`, Patroni) behave as with etcd.

use tonic::{Code, Status};

use crate::backend::BackendError;

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

/// The etcd status for what a backend call failed with.
pub fn status_of(err: BackendError) -> Status {
	match err {
		BackendError::Compacted { .. } => compacted(),
		BackendError::FutureRevision => future_revision(),
		BackendError::NoQuorum(message) => {
			Status::unavailable(format!("etcdserver: request timed out ({message})"))
		},
		BackendError::TooLarge(message) => {
			Status::resource_exhausted(format!("regchain: {message}"))
		},
		BackendError::Registry(name) => dispatch_status(&name),
		BackendError::NotAuthorized(reason) => Status::permission_denied(format!(
			"etcdserver: permission denied: this node's etcd account is not an orchestrator \
			 ({reason})"
		)),
		BackendError::Refused(reason) => {
			Status::unavailable(format!("regchain: transaction refused: {reason}"))
		},
		BackendError::Overloaded => Status::resource_exhausted("etcdserver: too many requests"),
		BackendError::TimedOut => Status::unavailable("etcdserver: request timed out"),
		BackendError::NotIncluded(detail) => Status::unavailable(format!(
			"etcdserver: request timed out, possibly due to previous leader failure ({detail})"
		)),
		BackendError::Unavailable(detail) => Status::unavailable(format!("regchain: {detail}")),
		BackendError::InvalidArgument(message) => Status::invalid_argument(message),
		BackendError::Internal(detail) => {
			Status::new(Code::Internal, format!("regchain: {detail}"))
		},
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
	use regchain_client::{rpc_api::error::*, Error, RevisionUnavailable};

	/// A node's JSON-RPC error, as the remote backend reads it.
	fn rpc(code: i32, message: &str, data: Option<RevisionUnavailable>) -> BackendError {
		BackendError::from(Error::Rpc {
			method: "registry_range".into(),
			code,
			message: message.into(),
			data: data.map(|d| serde_json::to_value(d).unwrap()),
		})
	}

	#[test]
	fn revisions_out_of_the_window_are_etcds_errors_from_the_errors_data() {
		let old = rpc(
			REVISION_UNAVAILABLE,
			"any words",
			Some(RevisionUnavailable::Compacted { oldest: 17 }),
		);
		assert_eq!(old, BackendError::Compacted { oldest: 17 });
		let status = status_of(old);
		assert_eq!(status.code(), Code::OutOfRange);
		assert_eq!(status.message(), "etcdserver: mvcc: required revision has been compacted");
		let future = rpc(
			REVISION_UNAVAILABLE,
			"any words",
			Some(RevisionUnavailable::Future { current: 12 }),
		);
		assert_eq!(future, BackendError::FutureRevision);
		assert_eq!(
			status_of(future).message(),
			"etcdserver: mvcc: required revision is a future revision"
		);
		// Without its data, a 4001 is not taken for either.
		assert!(matches!(
			rpc(REVISION_UNAVAILABLE, "revision 3 is older", None),
			BackendError::Internal(_)
		));
	}

	#[test]
	fn an_answer_too_large_is_resource_exhausted_and_other_runtime_failures_are_not() {
		let large = status_of(rpc(
			TOO_LARGE,
			"the answer is larger than the runtime can return (32 MiB)",
			None,
		));
		assert_eq!(large.code(), Code::ResourceExhausted);
		assert!(large.message().contains("32 MiB"), "{}", large.message());
		let transport = status_of(rpc(-32008, "Response is too big", None));
		assert_eq!(transport.code(), Code::ResourceExhausted);
		assert!(transport.message().contains("--rpc-max-response-size"), "{}", transport.message());
		assert_ne!(
			status_of(rpc(RUNTIME_API, "runtime API failure: trap", None)).code(),
			Code::ResourceExhausted
		);
		let no_quorum = status_of(rpc(NOT_CONFIRMED, "2 of 4 voters", None));
		assert_eq!(no_quorum.code(), Code::Unavailable);
		assert!(no_quorum.message().starts_with("etcdserver: request timed out"));
	}

	#[test]
	fn pallet_errors_become_etcds_messages() {
		let err = |name: &str| {
			status_of(BackendError::from(Error::Dispatch {
				name: format!("ServiceRegistry::{name}"),
				block: "0x".into(),
			}))
		};
		assert_eq!(err("LeaseNotFound").message(), "etcdserver: requested lease not found");
		assert_eq!(err("LeaseNotFound").code(), Code::NotFound);
		assert_eq!(
			err("TooManyTxnOps").message(),
			"etcdserver: too many operations in txn request"
		);
		assert_eq!(err("NotLeader").code(), Code::FailedPrecondition);
		let refused = Error::Refused("Invalid Transaction: Invalid signing address".into());
		assert_eq!(status_of(refused.into()).code(), Code::PermissionDenied);
	}
}
