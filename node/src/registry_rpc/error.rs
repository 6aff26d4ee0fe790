//! The registry RPC's JSON-RPC errors (`docs/rpc.md`, "Errors"), with the codes of
//! [`regchain_rpc_api::error`].

use jsonrpsee::types::{error::INVALID_PARAMS_CODE, ErrorObjectOwned};
use regchain_rpc_api::error::{
	RevisionUnavailable, REVISION_UNAVAILABLE, RUNTIME_API, TOO_LARGE, UNKNOWN_BLOCK,
};

fn error(code: i32, message: impl Into<String>) -> ErrorObjectOwned {
	ErrorObjectOwned::owned(code, message.into(), None::<()>)
}

/// `-32602`: invalid parameters; the message names the parameter.
pub fn invalid_params(message: impl Into<String>) -> ErrorObjectOwned {
	error(INVALID_PARAMS_CODE, message)
}

/// `4001`: `revision` is older than `oldest`, the oldest revision this node keeps.
pub fn compacted(revision: u64, oldest: u64) -> ErrorObjectOwned {
	ErrorObjectOwned::owned(
		REVISION_UNAVAILABLE,
		format!(
			"revision {revision} is older than this node keeps; the oldest revision available is {oldest}"
		),
		Some(RevisionUnavailable::Compacted { oldest }),
	)
}

/// `4001`: `revision` is newer than `current`.
pub fn future_revision(revision: u64, current: u64) -> ErrorObjectOwned {
	ErrorObjectOwned::owned(
		REVISION_UNAVAILABLE,
		format!("revision {revision} is newer than the current revision {current}"),
		Some(RevisionUnavailable::Future { current }),
	)
}

/// `4002`: unknown block.
pub fn unknown_block(what: impl std::fmt::Display) -> ErrorObjectOwned {
	error(UNKNOWN_BLOCK, format!("unknown block {what}"))
}

/// `4003`: the runtime API (or the state it reads) failed; `4005` when what failed is an
/// allocation for the answer.
pub fn runtime_api(what: impl std::fmt::Display) -> ErrorObjectOwned {
	let what = what.to_string();
	// The wasm allocator refuses any single allocation over 32 MiB, such as the encoded answer
	// of a range whose values add up to more.
	if what.contains("allocation size is too large") || what.contains("Failed to allocate memory") {
		return error(
			TOO_LARGE,
			format!(
				"the answer is larger than the runtime can return (32 MiB): ask for less, with a \
				 limit or keys only ({what})"
			),
		);
	}
	error(RUNTIME_API, format!("runtime API failure: {what}"))
}
