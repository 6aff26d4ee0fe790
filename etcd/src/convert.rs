//! Between etcd's messages and the registry's types.

use std::cmp::Ordering;

use etcd_client::proto::{PbCompare, PbKeyValue, PbRangeRequest, PbTargetUnion, PbTxnOpRequest};
use pallet_service_registry::{Compare, CompareResult, KeyTarget, TxnOp};
use regchain_client::{runtime::AccountId, KeyValue};
use tonic::Status;

use crate::errors::{empty_key, unsupported};

/// etcd's `RangeRequest.SortOrder`.
pub mod sort_order {
	/// Key order, as stored.
	pub const NONE: i32 = 0;
	/// Lowest first.
	pub const ASCEND: i32 = 1;
	/// Highest first.
	pub const DESCEND: i32 = 2;
}

/// etcd's `RangeRequest.SortTarget`.
pub mod sort_target {
	/// By key.
	pub const KEY: i32 = 0;
	/// By version.
	pub const VERSION: i32 = 1;
	/// By create revision.
	pub const CREATE: i32 = 2;
	/// By mod revision.
	pub const MOD: i32 = 3;
	/// By value.
	pub const VALUE: i32 = 4;
}

/// A revision or version from the chain (u64) as etcd's int64.
pub fn int(n: u64) -> i64 {
	i64::try_from(n).unwrap_or(i64::MAX)
}

/// A key as the chain reports it, in etcd's message.
pub fn kv_of(kv: KeyValue) -> PbKeyValue {
	PbKeyValue {
		key: kv.key.0,
		value: kv.value.0,
		create_revision: int(kv.create_revision),
		mod_revision: int(kv.mod_revision),
		version: int(kv.version),
		lease: int(kv.lease),
	}
}

/// The `range_end` the chain expects: etcd's, except that a single key is an empty end.
pub fn range_end_of(range_end: &[u8]) -> Option<Vec<u8>> {
	(!range_end.is_empty()).then(|| range_end.to_vec())
}

/// Whether `key` lies in etcd's range `[start, end)` (`end` empty: `start` only; `[0]`: every
/// key from `start`).
pub fn in_range(key: &[u8], start: &[u8], end: &[u8]) -> bool {
	match end {
		[] => key == start,
		[0] => key >= start,
		end => key >= start && key < end,
	}
}

/// Whether a range request needs every key of its range before it can be answered: etcd
/// fetches the whole range when it sorts by anything but the stored key order or filters by
/// revision, and applies the limit afterwards.
pub fn needs_whole_range(r: &PbRangeRequest) -> bool {
	effective_order(r) != sort_order::NONE ||
		r.min_mod_revision != 0 ||
		r.max_mod_revision != 0 ||
		r.min_create_revision != 0 ||
		r.max_create_revision != 0
}

/// etcd sorts ascending when a target other than the key is given without an order.
fn effective_order(r: &PbRangeRequest) -> i32 {
	if r.sort_order == sort_order::NONE && r.sort_target != sort_target::KEY {
		sort_order::ASCEND
	} else {
		r.sort_order
	}
}

/// Checks what etcd checks of a range request before reading.
pub fn check_range(r: &PbRangeRequest) -> Result<(), Status> {
	if r.key.is_empty() {
		return Err(empty_key());
	}
	if !(sort_order::NONE..=sort_order::DESCEND).contains(&r.sort_order) {
		return Err(Status::invalid_argument("etcdserver: invalid sort option"));
	}
	if !(sort_target::KEY..=sort_target::VALUE).contains(&r.sort_target) {
		return Err(Status::invalid_argument("etcdserver: invalid sort option"));
	}
	Ok(())
}

/// The answer to `r` from `kvs`, every key of the range in key order (or the first `limit` of
/// them when [`needs_whole_range`] is false): etcd's filters, sort and limit, in etcd's order.
/// Returns the keys and `more`.
pub fn finish_range(r: &PbRangeRequest, mut kvs: Vec<PbKeyValue>, more_stored: bool) -> (Vec<PbKeyValue>, bool) {
	let keep = |kv: &PbKeyValue| {
		(r.max_mod_revision == 0 || kv.mod_revision <= r.max_mod_revision) &&
			(r.min_mod_revision == 0 || kv.mod_revision >= r.min_mod_revision) &&
			(r.max_create_revision == 0 || kv.create_revision <= r.max_create_revision) &&
			(r.min_create_revision == 0 || kv.create_revision >= r.min_create_revision)
	};
	kvs.retain(keep);
	let order = effective_order(r);
	if order != sort_order::NONE {
		let by = |a: &PbKeyValue, b: &PbKeyValue| -> Ordering {
			match r.sort_target {
				sort_target::VERSION => a.version.cmp(&b.version),
				sort_target::CREATE => a.create_revision.cmp(&b.create_revision),
				sort_target::MOD => a.mod_revision.cmp(&b.mod_revision),
				sort_target::VALUE => a.value.cmp(&b.value),
				_ => a.key.cmp(&b.key),
			}
		};
		// Stable, so that ties stay in key order.
		if order == sort_order::DESCEND {
			kvs.sort_by(|a, b| by(b, a));
		} else {
			kvs.sort_by(by);
		}
	}
	let mut more = more_stored;
	if let Ok(limit) = usize::try_from(r.limit) {
		if limit > 0 && kvs.len() > limit {
			kvs.truncate(limit);
			more = true;
		}
	}
	if r.keys_only {
		for kv in &mut kvs {
			kv.value.clear();
		}
	}
	if r.count_only {
		kvs.clear();
	}
	(kvs, more)
}

/// etcd's `Compare.CompareResult` as the registry's.
pub fn compare_result(result: i32) -> Result<CompareResult, Status> {
	match result {
		0 => Ok(CompareResult::Equal),
		1 => Ok(CompareResult::Greater),
		2 => Ok(CompareResult::Less),
		3 => Ok(CompareResult::NotEqual),
		other => Err(Status::invalid_argument(format!("etcdserver: unknown compare result {other}"))),
	}
}

/// An etcd compare as the registry's.
pub fn compare_of(c: &PbCompare) -> Result<Compare<AccountId>, Status> {
	if c.key.is_empty() {
		return Err(empty_key());
	}
	if !c.range_end.is_empty() {
		return Err(unsupported("a txn compare over a key range is not supported; compare single keys"));
	}
	let result = compare_result(c.result)?;
	let non_negative = |n: i64| u64::try_from(n).unwrap_or(0);
	// etcd reads the target from the union; `target` only says which field is meant.
	let target = match (&c.target, &c.target_union) {
		(0, Some(PbTargetUnion::Version(v))) => KeyTarget::Version(non_negative(*v)),
		(1, Some(PbTargetUnion::CreateRevision(v))) => KeyTarget::CreateRevision(non_negative(*v)),
		(2, Some(PbTargetUnion::ModRevision(v))) => KeyTarget::ModRevision(non_negative(*v)),
		(3, Some(PbTargetUnion::Value(v))) => KeyTarget::Value(v.clone()),
		(4, Some(PbTargetUnion::Lease(v))) => KeyTarget::Lease(non_negative(*v)),
		// An absent union is the field's zero value, as in proto3.
		(0, None) => KeyTarget::Version(0),
		(1, None) => KeyTarget::CreateRevision(0),
		(2, None) => KeyTarget::ModRevision(0),
		(3, None) => KeyTarget::Value(Vec::new()),
		(4, None) => KeyTarget::Lease(0),
		_ => return Err(Status::invalid_argument("etcdserver: compare target does not match its value")),
	};
	Ok(Compare::Key { key: c.key.clone(), result, target })
}

/// What the registry executes for one etcd txn operation.
pub fn op_of(op: &Option<PbTxnOpRequest>) -> Result<TxnOp, Status> {
	match op {
		Some(PbTxnOpRequest::RequestRange(r)) => {
			check_range(r)?;
			Ok(TxnOp::Range { key: r.key.clone(), range_end: r.range_end.clone() })
		},
		Some(PbTxnOpRequest::RequestPut(p)) => {
			if p.key.is_empty() {
				return Err(empty_key());
			}
			if p.ignore_value || p.ignore_lease {
				return Err(unsupported("ignore_value and ignore_lease are not supported inside a txn"));
			}
			Ok(TxnOp::Put { key: p.key.clone(), value: p.value.clone(), lease: lease_of(p.lease)? })
		},
		Some(PbTxnOpRequest::RequestDeleteRange(d)) => {
			if d.key.is_empty() {
				return Err(empty_key());
			}
			Ok(TxnOp::DeleteRange { key: d.key.clone(), range_end: d.range_end.clone() })
		},
		Some(PbTxnOpRequest::RequestTxn(_)) =>
			Err(unsupported("nested txns are not supported")),
		None => Err(Status::invalid_argument("etcdserver: txn operation without a request")),
	}
}

/// An etcd lease id (0: none) as the registry's.
pub fn lease_of(lease: i64) -> Result<Option<u64>, Status> {
	match lease {
		0 => Ok(None),
		id => u64::try_from(id).map(Some).map_err(|_| crate::errors::lease_not_found()),
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	fn kv(key: &str, create: i64, modr: i64, version: i64, value: &str) -> PbKeyValue {
		PbKeyValue {
			key: key.as_bytes().to_vec(),
			create_revision: create,
			mod_revision: modr,
			version,
			value: value.as_bytes().to_vec(),
			lease: 0,
		}
	}

	fn keys(kvs: &[PbKeyValue]) -> Vec<&str> {
		kvs.iter().map(|kv| std::str::from_utf8(&kv.key).unwrap()).collect()
	}

	#[test]
	fn lock_and_election_reads_sort_filter_and_limit_as_etcd() {
		let all = vec![kv("/l/a", 7, 7, 1, "x"), kv("/l/b", 5, 9, 2, "y"), kv("/l/c", 6, 6, 1, "z")];
		// etcdctl lock's "waitDeletes": the last created key below my create revision.
		let r = PbRangeRequest {
			key: b"/l/".to_vec(),
			sort_order: sort_order::DESCEND,
			sort_target: sort_target::CREATE,
			max_create_revision: 6,
			limit: 1,
			..Default::default()
		};
		assert!(needs_whole_range(&r));
		let (kvs, more) = finish_range(&r, all.clone(), false);
		assert_eq!(keys(&kvs), ["/l/c"]);
		assert!(more);
		// The owner: first created.
		let r = PbRangeRequest {
			sort_order: sort_order::ASCEND,
			sort_target: sort_target::CREATE,
			limit: 1,
			..r
		};
		let r = PbRangeRequest { max_create_revision: 0, ..r };
		assert_eq!(keys(&finish_range(&r, all.clone(), false).0), ["/l/b"]);
		// A target without an order sorts ascending.
		let r = PbRangeRequest { sort_order: sort_order::NONE, sort_target: sort_target::MOD, limit: 0, ..r };
		assert!(needs_whole_range(&r));
		assert_eq!(keys(&finish_range(&r, all.clone(), false).0), ["/l/c", "/l/a", "/l/b"]);
		// Keys only and count only.
		let r = PbRangeRequest { keys_only: true, ..Default::default() };
		assert!(finish_range(&r, all.clone(), false).0.iter().all(|kv| kv.value.is_empty()));
		let r = PbRangeRequest { count_only: true, ..Default::default() };
		assert!(finish_range(&r, all, false).0.is_empty());
	}

	#[test]
	fn ranges_follow_etcds_conventions() {
		assert!(in_range(b"/a", b"/a", b""));
		assert!(!in_range(b"/ab", b"/a", b""));
		assert!(in_range(b"/ab", b"/a", b"/b"));
		assert!(!in_range(b"/b", b"/a", b"/b"));
		assert!(in_range(b"zzz", b"/a", &[0]));
	}

	#[test]
	fn compares_map_onto_the_registrys() {
		let c = PbCompare {
			key: b"/k".to_vec(),
			result: 0,
			target: 1,
			target_union: Some(PbTargetUnion::CreateRevision(0)),
			range_end: vec![],
		};
		assert_eq!(
			compare_of(&c).unwrap(),
			Compare::Key { key: b"/k".to_vec(), result: CompareResult::Equal, target: KeyTarget::CreateRevision(0) }
		);
		let mismatched = PbCompare { target: 3, ..c.clone() };
		assert!(compare_of(&mismatched).is_err());
		let ranged = PbCompare { range_end: b"/l".to_vec(), ..c };
		assert_eq!(compare_of(&ranged).unwrap_err().code(), tonic::Code::Unimplemented);
	}
}
