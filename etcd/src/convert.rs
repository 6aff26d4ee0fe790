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
	effective_order(r) != sort_order::NONE
		|| r.min_mod_revision != 0
		|| r.max_mod_revision != 0
		|| r.min_create_revision != 0
		|| r.max_create_revision != 0
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
pub fn finish_range(
	r: &PbRangeRequest,
	mut kvs: Vec<PbKeyValue>,
	more_stored: bool,
) -> (Vec<PbKeyValue>, bool) {
	let keep = |kv: &PbKeyValue| {
		(r.max_mod_revision == 0 || kv.mod_revision <= r.max_mod_revision)
			&& (r.min_mod_revision == 0 || kv.mod_revision >= r.min_mod_revision)
			&& (r.max_create_revision == 0 || kv.create_revision <= r.max_create_revision)
			&& (r.min_create_revision == 0 || kv.create_revision >= r.min_create_revision)
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
		other => {
			Err(Status::invalid_argument(format!("etcdserver: unknown compare result {other}")))
		},
	}
}

/// An etcd compare as the registry's.
pub fn compare_of(c: &PbCompare) -> Result<Compare<AccountId>, Status> {
	if c.key.is_empty() {
		return Err(empty_key());
	}
	if !c.range_end.is_empty() {
		return Err(unsupported(
			"a txn compare over a key range is not supported; compare single keys",
		));
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
		_ => {
			return Err(Status::invalid_argument(
				"etcdserver: compare target does not match its value",
			))
		},
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
				return Err(unsupported(
					"ignore_value and ignore_lease are not supported inside a txn",
				));
			}
			Ok(TxnOp::Put { key: p.key.clone(), value: p.value.clone(), lease: lease_of(p.lease)? })
		},
		Some(PbTxnOpRequest::RequestDeleteRange(d)) => {
			if d.key.is_empty() {
				return Err(empty_key());
			}
			Ok(TxnOp::DeleteRange { key: d.key.clone(), range_end: d.range_end.clone() })
		},
		Some(PbTxnOpRequest::RequestTxn(_)) => Err(unsupported("nested txns are not supported")),
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
		let all =
			vec![kv("/l/a", 7, 7, 1, "x"), kv("/l/b", 5, 9, 2, "y"), kv("/l/c", 6, 6, 1, "z")];
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
		let r = PbRangeRequest {
			sort_order: sort_order::NONE,
			sort_target: sort_target::MOD,
			limit: 0,
			..r
		};
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
			Compare::Key {
				key: b"/k".to_vec(),
				result: CompareResult::Equal,
				target: KeyTarget::CreateRevision(0)
			}
		);
		let mismatched = PbCompare { target: 3, ..c.clone() };
		assert!(compare_of(&mismatched).is_err());
		let ranged = PbCompare { range_end: b"/l".to_vec(), ..c };
		assert_eq!(compare_of(&ranged).unwrap_err().code(), tonic::Code::Unimplemented);
	}
}

/// Strategies for etcd's requests, shared by the property tests of the gateway and of the
/// services: keys that collide, reach into the typed view or are empty, and integers and enums
/// that are zero, in range, negative or extreme.
#[cfg(test)]
pub(crate) mod strategies {
	use etcd_client::proto::{
		PbCompare, PbDeleteRequest, PbPutRequest, PbRangeRequest, PbTargetUnion, PbTxnOpRequest,
		PbTxnRequest, PbTxnRequestOp,
	};
	use proptest::prelude::*;

	/// The configuration of every property test of this crate: 256 cases, no files of failed
	/// cases left behind.
	pub(crate) fn config() -> ProptestConfig {
		ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() }
	}

	/// Keys that share prefixes, the empty key (etcd's "key is not provided"), and keys of the
	/// read-only view.
	pub const KEYS: &[&[u8]] = &[
		b"",
		b"/a",
		b"/a/b",
		b"/a0",
		b"/b",
		b"\0",
		b"\xff",
		b"/_registry",
		b"/_registry/",
		b"/_registry/services/web/1",
		b"/_registry/elections/",
		b"/_registry/elections/leader",
	];

	/// Range ends: none (a single key), every key from the start (`\0`), the ends of prefixes,
	/// and ends around the view.
	pub const RANGE_ENDS: &[&[u8]] =
		&[b"", b"\0", b"/a0", b"/b", b"/c", b"/_registry0", b"/_registry/services0", b"\xff"];

	/// A key: mostly one of [`KEYS`], sometimes any bytes.
	pub fn any_key() -> impl Strategy<Value = Vec<u8>> {
		prop_oneof![
			4 => prop::sample::select(KEYS).prop_map(|k| k.to_vec()),
			1 => prop::collection::vec(any::<u8>(), 0..12),
		]
	}

	/// A range end: mostly one of [`RANGE_ENDS`], sometimes any bytes.
	pub fn any_range_end() -> impl Strategy<Value = Vec<u8>> {
		prop_oneof![
			4 => prop::sample::select(RANGE_ENDS).prop_map(|k| k.to_vec()),
			1 => prop::collection::vec(any::<u8>(), 0..12),
		]
	}

	/// A value: often empty.
	pub fn any_value() -> impl Strategy<Value = Vec<u8>> {
		prop_oneof![
			1 => Just(Vec::<u8>::new()),
			2 => prop::collection::vec(any::<u8>(), 0..16),
		]
	}

	/// An int64 field (a revision, a limit, a lease ID, a TTL): zero, small, negative or
	/// extreme.
	pub fn any_int() -> impl Strategy<Value = i64> {
		prop_oneof![
			2 => Just(0i64),
			2 => -3i64..1000,
			1 => any::<i64>(),
			1 => prop::sample::select(vec![
				i64::MIN,
				-1,
				1,
				i64::from(u32::MAX),
				i64::from(u32::MAX) + 1,
				i64::MAX,
			]),
		]
	}

	/// An enum field with `count` values: mostly one of them, sometimes any number.
	pub fn any_enum(count: i32) -> impl Strategy<Value = i32> {
		prop_oneof![
			4 => 0..count,
			1 => any::<i32>(),
		]
	}

	/// A range request.
	pub fn any_range_request() -> impl Strategy<Value = PbRangeRequest> {
		(
			(any_key(), any_range_end(), any_int(), any_int()),
			(any_enum(3), any_enum(5)),
			(any::<bool>(), any::<bool>(), any::<bool>()),
			(any_int(), any_int(), any_int(), any_int()),
		)
			.prop_map(
				|(
					(key, range_end, limit, revision),
					(sort_order, sort_target),
					(serializable, keys_only, count_only),
					(min_mod_revision, max_mod_revision, min_create_revision, max_create_revision),
				)| PbRangeRequest {
					key,
					range_end,
					limit,
					revision,
					sort_order,
					sort_target,
					serializable,
					keys_only,
					count_only,
					min_mod_revision,
					max_mod_revision,
					min_create_revision,
					max_create_revision,
				},
			)
	}

	/// A put request.
	pub fn any_put_request() -> impl Strategy<Value = PbPutRequest> {
		(any_key(), any_value(), any_int(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
			|(key, value, lease, prev_kv, ignore_value, ignore_lease)| PbPutRequest {
				key,
				value,
				lease,
				prev_kv,
				ignore_value,
				ignore_lease,
			},
		)
	}

	/// A delete request.
	pub fn any_delete_request() -> impl Strategy<Value = PbDeleteRequest> {
		(any_key(), any_range_end(), any::<bool>())
			.prop_map(|(key, range_end, prev_kv)| PbDeleteRequest { key, range_end, prev_kv })
	}

	/// A compare: its target mostly the field its union holds, its range end mostly empty.
	pub fn any_compare() -> impl Strategy<Value = PbCompare> {
		let range_end = prop_oneof![
			3 => Just(Vec::<u8>::new()),
			1 => any_range_end(),
		];
		(
			any_enum(4),
			0..6usize,
			prop::bool::weighted(0.8),
			any_enum(5),
			any_key(),
			range_end,
			any_int(),
			any_value(),
		)
			.prop_map(|(result, field, matching, other_target, key, range_end, n, value)| {
				let target_union = match field {
					0 => Some(PbTargetUnion::Version(n)),
					1 => Some(PbTargetUnion::CreateRevision(n)),
					2 => Some(PbTargetUnion::ModRevision(n)),
					3 => Some(PbTargetUnion::Value(value)),
					4 => Some(PbTargetUnion::Lease(n)),
					_ => None,
				};
				let target = if matching && field < 5 { field as i32 } else { other_target };
				PbCompare { result, target, key, range_end, target_union }
			})
	}

	/// A txn operation other than a nested txn, or none.
	fn any_flat_op() -> impl Strategy<Value = Option<PbTxnOpRequest>> {
		prop_oneof![
			3 => any_range_request().prop_map(|r| Some(PbTxnOpRequest::RequestRange(r))),
			3 => any_put_request().prop_map(|p| Some(PbTxnOpRequest::RequestPut(p))),
			2 => any_delete_request().prop_map(|d| Some(PbTxnOpRequest::RequestDeleteRange(d))),
			1 => Just(None::<PbTxnOpRequest>),
		]
	}

	fn ops(requests: Vec<Option<PbTxnOpRequest>>) -> Vec<PbTxnRequestOp> {
		requests.into_iter().map(|request| PbTxnRequestOp { request }).collect()
	}

	/// A txn operation: sometimes a nested txn, one level deep.
	pub fn any_request_op() -> impl Strategy<Value = PbTxnRequestOp> {
		let nested = (
			prop::collection::vec(any_compare(), 0..2),
			prop::collection::vec(any_flat_op(), 0..3),
			prop::collection::vec(any_flat_op(), 0..3),
		)
			.prop_map(|(compare, success, failure)| {
				Some(PbTxnOpRequest::RequestTxn(PbTxnRequest {
					compare,
					success: ops(success),
					failure: ops(failure),
				}))
			});
		prop_oneof![
			9 => any_flat_op(),
			1 => nested,
		]
		.prop_map(|request| PbTxnRequestOp { request })
	}

	/// A branch of a txn: a few operations, or sometimes more than etcd allows.
	fn any_branch() -> impl Strategy<Value = Vec<PbTxnRequestOp>> {
		prop_oneof![
			12 => prop::collection::vec(any_request_op(), 0..4),
			1 => prop::collection::vec(any_request_op(), crate::MAX_TXN_OPS + 1..crate::MAX_TXN_OPS + 3),
		]
	}

	/// A txn request.
	pub fn any_txn_request() -> impl Strategy<Value = PbTxnRequest> {
		(prop::collection::vec(any_compare(), 0..4), any_branch(), any_branch())
			.prop_map(|(compare, success, failure)| PbTxnRequest { compare, success, failure })
	}
}

/// Property tests of the checks of a range, a compare, a txn operation and a lease ID: each is
/// refused exactly when etcd refuses it (or it asks what regchain does not do), with etcd's code
/// and message, and what passes says what the request says.
#[cfg(test)]
mod proptests {
	use super::{strategies::*, *};
	use proptest::prelude::*;
	use tonic::Code;

	/// Whether a compare's target names the field its union holds (or the union is unset).
	fn target_matches(c: &PbCompare) -> bool {
		matches!(
			(c.target, &c.target_union),
			(0..=4, None)
				| (0, Some(PbTargetUnion::Version(_)))
				| (1, Some(PbTargetUnion::CreateRevision(_)))
				| (2, Some(PbTargetUnion::ModRevision(_)))
				| (3, Some(PbTargetUnion::Value(_)))
				| (4, Some(PbTargetUnion::Lease(_)))
		)
	}

	proptest! {
		#![proptest_config(crate::convert::strategies::config())]

		/// A range is refused exactly when etcd refuses it: no key, or a sort option etcd does
		/// not know.
		#[test]
		fn ranges_are_refused_as_etcd_refuses_them(r in any_range_request()) {
			let expected = if r.key.is_empty() {
				Some("etcdserver: key is not provided")
			} else if !(0..=2).contains(&r.sort_order) || !(0..=4).contains(&r.sort_target) {
				Some("etcdserver: invalid sort option")
			} else {
				None
			};
			match (check_range(&r), expected) {
				(Ok(()), None) => {},
				(Err(status), Some(message)) => {
					prop_assert_eq!(status.code(), Code::InvalidArgument);
					prop_assert_eq!(status.message(), message);
				},
				(got, expected) => prop_assert!(false, "{:?} for {:?}, expected {:?}", got, r, expected),
			}
		}

		/// A compare becomes the registry's only when etcd would evaluate it, on the same key,
		/// relation and target; otherwise it is refused with InvalidArgument, or Unimplemented
		/// for a compare over a range.
		#[test]
		fn compares_map_or_are_refused(c in any_compare()) {
			match compare_of(&c) {
				Ok(Compare::Key { key, result, target }) => {
					prop_assert_eq!(&key, &c.key);
					prop_assert!(!key.is_empty() && c.range_end.is_empty() && target_matches(&c));
					prop_assert_eq!(compare_result(c.result).ok(), Some(result));
					let kind = match target {
						KeyTarget::Version(_) => 0,
						KeyTarget::CreateRevision(_) => 1,
						KeyTarget::ModRevision(_) => 2,
						KeyTarget::Value(_) => 3,
						KeyTarget::Lease(_) => 4,
					};
					prop_assert_eq!(kind, c.target);
				},
				Ok(other) => prop_assert!(false, "{:?} became {:?}", c, other),
				Err(status) => {
					prop_assert!(!status.message().is_empty());
					if c.key.is_empty() {
						prop_assert_eq!(status.code(), Code::InvalidArgument);
						prop_assert_eq!(status.message(), "etcdserver: key is not provided");
					} else if !c.range_end.is_empty() {
						prop_assert_eq!(status.code(), Code::Unimplemented);
					} else {
						prop_assert_eq!(status.code(), Code::InvalidArgument);
						prop_assert!(
							!(0..=3).contains(&c.result) || !target_matches(&c),
							"{:?} refused: {}", c, status.message()
						);
					}
				},
			}
		}

		/// A txn operation becomes the registry's only when etcd would run it, on the same keys
		/// and value; otherwise it is refused with etcd's code (InvalidArgument, NotFound for a
		/// lease that cannot exist), or Unimplemented for what regchain does not do.
		#[test]
		fn txn_operations_map_or_are_refused(op in any_request_op()) {
			match (op_of(&op.request), &op.request) {
				(Ok(TxnOp::Range { key, range_end }), Some(PbTxnOpRequest::RequestRange(r))) => {
					prop_assert!(check_range(r).is_ok());
					prop_assert_eq!((&key, &range_end), (&r.key, &r.range_end));
				},
				(Ok(TxnOp::Put { key, value, lease }), Some(PbTxnOpRequest::RequestPut(p))) => {
					prop_assert!(!key.is_empty() && !p.ignore_value && !p.ignore_lease);
					prop_assert_eq!((&key, &value), (&p.key, &p.value));
					prop_assert_eq!(lease, u64::try_from(p.lease).ok().filter(|l| *l > 0));
				},
				(Ok(TxnOp::DeleteRange { key, range_end }), Some(PbTxnOpRequest::RequestDeleteRange(d))) => {
					prop_assert!(!key.is_empty());
					prop_assert_eq!((&key, &range_end), (&d.key, &d.range_end));
				},
				(Ok(other), request) => prop_assert!(false, "{:?} became {:?}", request, other),
				(Err(status), request) => {
					prop_assert!(!status.message().is_empty());
					let code = status.code();
					match request {
						None => prop_assert_eq!(code, Code::InvalidArgument),
						Some(PbTxnOpRequest::RequestTxn(_)) => prop_assert_eq!(code, Code::Unimplemented),
						Some(PbTxnOpRequest::RequestRange(r)) =>
							prop_assert_eq!(Some(code), check_range(r).err().map(|s| s.code())),
						Some(PbTxnOpRequest::RequestPut(p)) => {
							let expected = if p.key.is_empty() {
								Code::InvalidArgument
							} else if p.ignore_value || p.ignore_lease {
								Code::Unimplemented
							} else {
								prop_assert!(p.lease < 0, "{:?} refused: {}", p, status.message());
								Code::NotFound
							};
							prop_assert_eq!(code, expected);
						},
						Some(PbTxnOpRequest::RequestDeleteRange(d)) => {
							prop_assert!(d.key.is_empty());
							prop_assert_eq!(code, Code::InvalidArgument);
						},
					}
				},
			}
		}

		/// A lease ID is none at 0, the registry's lease when positive, and etcd's "lease not
		/// found" when negative.
		#[test]
		fn lease_ids_are_etcds(id in any_int()) {
			match lease_of(id) {
				Ok(None) => prop_assert_eq!(id, 0),
				Ok(Some(lease)) => {
					prop_assert!(id > 0);
					prop_assert_eq!(i64::try_from(lease).ok(), Some(id));
				},
				Err(status) => {
					prop_assert!(id < 0);
					prop_assert_eq!(status.code(), Code::NotFound);
					prop_assert_eq!(status.message(), "etcdserver: requested lease not found");
				},
			}
		}
	}
}
