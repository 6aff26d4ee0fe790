//! The registry RPC's error codes (`docs/rpc.md`, "Errors"), beside JSON-RPC's own `-32602`
//! (invalid parameters, the message naming the parameter).

/// The revision asked for is older than the node keeps, or newer than the current one.
pub const REVISION_UNAVAILABLE: i32 = 4001;
/// The block asked for is unknown.
pub const UNKNOWN_BLOCK: i32 = 4002;
/// The runtime API failed.
pub const RUNTIME_API: i32 = 4003;
/// No quorum of validators confirmed a read point in time (`registry_readIndex`).
pub const NOT_CONFIRMED: i32 = 4004;
/// The answer is larger than the runtime can return in one piece.
pub const TOO_LARGE: i32 = 4005;

/// The `data` of a [`REVISION_UNAVAILABLE`] error: which way the revision is out of reach, and
/// the bound, so that clients (the etcd API's "compacted" and "future revision") need not read
/// the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevisionUnavailable {
	/// Older than the node keeps: `oldest` is the oldest revision it has.
	Compacted {
		/// The oldest revision available.
		oldest: u64,
	},
	/// Newer than the current revision.
	Future {
		/// The current revision.
		current: u64,
	},
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn revision_errors_carry_their_bound_as_data() {
		let data = serde_json::to_value(RevisionUnavailable::Compacted { oldest: 17 }).unwrap();
		assert_eq!(data, serde_json::json!({"compacted": {"oldest": 17}}));
		let back: RevisionUnavailable =
			serde_json::from_value(serde_json::json!({"future": {"current": 3}})).unwrap();
		assert_eq!(back, RevisionUnavailable::Future { current: 3 });
	}
}
