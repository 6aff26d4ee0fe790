//! KV: Range, Put, DeleteRange, Txn and Compact.

use std::{collections::BTreeMap, sync::Arc};

use etcd_client::proto::{
	PbCompactionRequest, PbCompactionResponse, PbCompare, PbDeleteRequest, PbDeleteResponse,
	PbKeyValue, PbKvService, PbPutRequest, PbPutResponse, PbRangeRequest, PbRangeResponse,
	PbRangeStreamResponse, PbResponseOp, PbTargetUnion, PbTxnOpRequest, PbTxnOpResponse,
	PbTxnRequest, PbTxnResponse,
};
use pallet_service_registry::Call;
use pallet_service_registry::{CompareResult, KeyTarget, TxnOp};
use regchain_client::runtime::AccountId;
use tonic::{Request, Response, Status};

use super::{Read, ReadAt};
use crate::{
	convert::{
		check_range, compare_of, finish_range, in_range, int, lease_of, needs_whole_range, op_of,
		sort_target,
	},
	errors::{compacted, empty_key, future_revision, missing_event, too_many_ops, unsupported},
	Api, MAX_TXN_OPS,
};

/// etcd's KV service.
pub struct Kv(pub Arc<Api>);

#[tonic::async_trait]
impl PbKvService for Kv {
	async fn range(
		&self,
		request: Request<PbRangeRequest>,
	) -> Result<Response<PbRangeResponse>, Status> {
		self.0.range(&request.into_inner()).await.map(Response::new)
	}

	type RangeStreamStream = futures::stream::Empty<Result<PbRangeStreamResponse, Status>>;

	async fn range_stream(
		&self,
		_request: Request<PbRangeRequest>,
	) -> Result<Response<Self::RangeStreamStream>, Status> {
		Err(unsupported("RangeStream is not part of etcd 3.4's API; use Range"))
	}

	async fn put(&self, request: Request<PbPutRequest>) -> Result<Response<PbPutResponse>, Status> {
		self.0.put(request.into_inner()).await.map(Response::new)
	}

	async fn delete_range(
		&self,
		request: Request<PbDeleteRequest>,
	) -> Result<Response<PbDeleteResponse>, Status> {
		self.0.delete_range(request.into_inner()).await.map(Response::new)
	}

	async fn txn(&self, request: Request<PbTxnRequest>) -> Result<Response<PbTxnResponse>, Status> {
		self.0.txn(request.into_inner()).await.map(Response::new)
	}

	async fn compact(
		&self,
		request: Request<PbCompactionRequest>,
	) -> Result<Response<PbCompactionResponse>, Status> {
		self.0.compact(request.into_inner()).await.map(Response::new)
	}
}

impl Api {
	/// etcd's Range.
	pub(crate) async fn range(&self, r: &PbRangeRequest) -> Result<PbRangeResponse, Status> {
		check_range(r)?;
		let whole = needs_whole_range(r);
		let at = match (r.revision > 0, r.serializable) {
			(true, _) => ReadAt::Revision(r.revision as u64),
			(false, true) => ReadAt::Finalized,
			(false, false) => ReadAt::Linearizable,
		};
		let limit = if whole { 0 } else { u64::try_from(r.limit).unwrap_or(0) };
		let keys_only = r.keys_only && r.sort_target != sort_target::VALUE;
		let Read { revision, kvs, more, count } =
			self.read(&r.key, &r.range_end, at, limit, keys_only, r.count_only).await?;
		let (kvs, more) = finish_range(r, kvs, more);
		// As in etcd, the header carries the current revision, also for a read in the past.
		let revision = if r.revision > 0 { self.current_revision().await? } else { revision };
		Ok(PbRangeResponse { header: self.header(revision), kvs, more, count: int(count) })
	}

	/// etcd's Put, acknowledged once finalized.
	async fn put(&self, p: PbPutRequest) -> Result<PbPutResponse, Status> {
		let lease = check_put(&p)?;
		let revision = if p.ignore_value || p.ignore_lease {
			self.put_keeping(&p, lease).await?
		} else {
			let receipt = self
				.write(Call::put { key: p.key.clone(), value: p.value.clone(), lease })
				.await?;
			receipt.revision().ok_or_else(|| missing_event("KeyPut"))?
		};
		let prev_kv = if p.prev_kv { self.key_at(&p.key, revision - 1).await? } else { None };
		Ok(PbPutResponse { header: self.header(revision), prev_kv })
	}

	/// A put that keeps the key's current value or lease: a txn on the key's mod revision,
	/// retried if another write got in between.
	async fn put_keeping(&self, p: &PbPutRequest, lease: Option<u64>) -> Result<u64, Status> {
		for _ in 0..8 {
			let Some(current) =
				self.read(&p.key, &[], ReadAt::Finalized, 0, false, false).await?.kvs.pop()
			else {
				return Err(Status::invalid_argument("etcdserver: key not found"));
			};
			let value = if p.ignore_value { current.value.clone() } else { p.value.clone() };
			let lease = if p.ignore_lease { lease_of(current.lease)? } else { lease };
			let unchanged = pallet_service_registry::Compare::<AccountId>::Key {
				key: p.key.clone(),
				result: CompareResult::Equal,
				target: KeyTarget::ModRevision(current.mod_revision as u64),
			};
			let put = TxnOp::Put { key: p.key.clone(), value, lease };
			let txn = Call::txn { compares: vec![unchanged], success: vec![put], failure: vec![] };
			let (succeeded, _, revision) = self
				.write(txn)
				.await?
				.txn_applied()
				.ok_or_else(|| missing_event("TxnApplied"))?;
			if succeeded {
				return Ok(revision);
			}
		}
		Err(Status::aborted(
			"regchain: the key kept changing; put with ignore_value/ignore_lease gave up",
		))
	}

	/// etcd's DeleteRange, acknowledged once finalized.
	async fn delete_range(&self, d: PbDeleteRequest) -> Result<PbDeleteResponse, Status> {
		check_delete(&d)?;
		let receipt = self
			.write(Call::delete_range { key: d.key.clone(), range_end: d.range_end.clone() })
			.await?;
		let Some(revision) = receipt.revision() else {
			// No key matched: the revision did not move.
			let revision = self.revision_at(receipt.block_hash).await?;
			return Ok(PbDeleteResponse {
				header: self.header(revision),
				deleted: 0,
				prev_kvs: vec![],
			});
		};
		// What the delete removed is what the range held just before it.
		let before = self
			.read(&d.key, &d.range_end, ReadAt::Revision(revision - 1), 0, false, !d.prev_kv)
			.await?;
		Ok(PbDeleteResponse {
			header: self.header(revision),
			deleted: int(before.count),
			prev_kvs: before.kvs,
		})
	}

	/// etcd's Txn. One that cannot write is answered from the finalized state, confirmed with
	/// a quorum unless all its ranges are serializable (as etcd does); one that may write is one
	/// registry call, acknowledged once finalized.
	async fn txn(&self, t: PbTxnRequest) -> Result<PbTxnResponse, Status> {
		let (compares, success, failure) = txn_plan(&t)?;
		let read_only = success.iter().chain(&failure).all(|op| matches!(op, TxnOp::Range { .. }));
		let (succeeded, base, revision) = if read_only {
			let serializable = t.success.iter().chain(&t.failure).all(
				|op| matches!(&op.request, Some(PbTxnOpRequest::RequestRange(r)) if r.serializable),
			);
			let at = if serializable { ReadAt::Finalized } else { ReadAt::Linearizable };
			let (succeeded, revision) = self.evaluate(&t.compare, at).await?;
			(succeeded, revision, revision)
		} else {
			let (succeeded, wrote, revision) = self
				.write(Call::txn { compares, success, failure })
				.await?
				.txn_applied()
				.ok_or_else(|| missing_event("TxnApplied"))?;
			let base = if wrote { revision - 1 } else { revision };
			(succeeded, base, revision)
		};
		let branch = if succeeded { &t.success } else { &t.failure };
		let responses = self.replay(branch, base, revision).await?;
		Ok(PbTxnResponse { header: self.header(revision), succeeded, responses })
	}

	/// Evaluates `compares` against the state at `at`, as etcd does. Returns whether they all
	/// hold and the revision they were evaluated at.
	async fn evaluate(&self, compares: &[PbCompare], at: ReadAt) -> Result<(bool, u64), Status> {
		let mut revision = None;
		let mut holds = true;
		for c in compares {
			let at = revision.map_or(at, ReadAt::Revision);
			let read = self.read(&c.key, &[], at, 0, false, false).await?;
			revision = Some(read.revision);
			holds &= compare_holds(c, read.kvs.first());
		}
		let revision = match (revision, at) {
			(Some(r), _) => r,
			(None, ReadAt::Linearizable) => {
				self.read(b"\0", &[], at, 0, true, true).await?.revision
			},
			(None, _) => self.current_revision().await?,
		};
		Ok((holds, revision))
	}

	/// The responses of a txn branch that ran at `revision` on the key space as it was at
	/// `base`: each operation sees the ones before it, as in etcd.
	async fn replay(
		&self,
		branch: &[etcd_client::proto::PbTxnRequestOp],
		base: u64,
		revision: u64,
	) -> Result<Vec<PbResponseOp>, Status> {
		let mut state: BTreeMap<Vec<u8>, PbKeyValue> = BTreeMap::new();
		for op in branch {
			let (key, range_end) = match &op.request {
				Some(PbTxnOpRequest::RequestRange(r)) if r.revision > 0 => continue,
				Some(PbTxnOpRequest::RequestRange(r)) => (&r.key, &r.range_end[..]),
				Some(PbTxnOpRequest::RequestPut(p)) => (&p.key, &[][..]),
				Some(PbTxnOpRequest::RequestDeleteRange(d)) => (&d.key, &d.range_end[..]),
				_ => continue,
			};
			let read = self.read(key, range_end, ReadAt::Revision(base), 0, false, false).await?;
			state.extend(read.kvs.into_iter().map(|kv| (kv.key.clone(), kv)));
		}
		let mut responses = Vec::with_capacity(branch.len());
		for op in branch {
			let response = match &op.request {
				Some(PbTxnOpRequest::RequestRange(r)) if r.revision > 0 => {
					PbTxnOpResponse::ResponseRange(self.range(r).await?)
				},
				Some(PbTxnOpRequest::RequestRange(r)) => {
					let kvs: Vec<PbKeyValue> = state
						.values()
						.filter(|kv| in_range(&kv.key, &r.key, &r.range_end))
						.cloned()
						.collect();
					let count = int(kvs.len() as u64);
					let (kvs, more) = finish_range(r, kvs, false);
					PbTxnOpResponse::ResponseRange(PbRangeResponse {
						header: self.header(revision),
						kvs,
						more,
						count,
					})
				},
				Some(PbTxnOpRequest::RequestPut(p)) => {
					let prev = state.get(&p.key).cloned();
					let next = PbKeyValue {
						key: p.key.clone(),
						value: p.value.clone(),
						create_revision: prev
							.as_ref()
							.map_or(int(revision), |kv| kv.create_revision),
						mod_revision: int(revision),
						version: prev.as_ref().map_or(1, |kv| kv.version + 1),
						lease: p.lease,
					};
					state.insert(p.key.clone(), next);
					PbTxnOpResponse::ResponsePut(PbPutResponse {
						header: self.header(revision),
						prev_kv: if p.prev_kv { prev } else { None },
					})
				},
				Some(PbTxnOpRequest::RequestDeleteRange(d)) => {
					let gone: Vec<Vec<u8>> = state
						.keys()
						.filter(|k| in_range(k, &d.key, &d.range_end))
						.cloned()
						.collect();
					let prev_kvs: Vec<PbKeyValue> =
						gone.iter().filter_map(|k| state.remove(k)).collect();
					PbTxnOpResponse::ResponseDeleteRange(PbDeleteResponse {
						header: self.header(revision),
						deleted: int(prev_kvs.len() as u64),
						prev_kvs: if d.prev_kv { prev_kvs } else { vec![] },
					})
				},
				_ => return Err(unsupported("nested txns are not supported")),
			};
			responses.push(PbResponseOp { response: Some(response) });
		}
		Ok(responses)
	}

	/// The key as it was at `revision`.
	async fn key_at(&self, key: &[u8], revision: u64) -> Result<Option<PbKeyValue>, Status> {
		Ok(self
			.read(key, &[], ReadAt::Revision(revision), 0, false, false)
			.await?
			.kvs
			.pop())
	}

	/// etcd's Compact. regchain keeps a moving window of history instead (the node's state
	/// pruning), so a compaction succeeds for any revision inside the window and changes
	/// nothing; revisions before the window are already compacted.
	async fn compact(&self, c: PbCompactionRequest) -> Result<PbCompactionResponse, Status> {
		let current = self.current_revision().await?;
		let wanted = u64::try_from(c.revision).unwrap_or(0);
		if wanted > current {
			return Err(future_revision());
		}
		if wanted > 0 {
			// A read at that revision tells whether the node still keeps it.
			self.read(b"\0", &[], ReadAt::Revision(wanted), 0, true, true).await.map_err(
				|status| {
					if status.code() == tonic::Code::OutOfRange {
						compacted()
					} else {
						status
					}
				},
			)?;
		}
		Ok(PbCompactionResponse { header: self.header(current) })
	}
}

/// Checks a put as etcd does (and the read-only view), before anything is submitted: the lease
/// to attach the key to.
fn check_put(p: &PbPutRequest) -> Result<Option<u64>, Status> {
	if p.key.is_empty() {
		return Err(empty_key());
	}
	crate::view::check_write(&p.key, &[])?;
	if p.ignore_value && !p.value.is_empty() {
		return Err(Status::invalid_argument("etcdserver: value is provided"));
	}
	if p.ignore_lease && p.lease != 0 {
		return Err(Status::invalid_argument("etcdserver: lease is provided"));
	}
	lease_of(p.lease)
}

/// Checks a delete as etcd does (and the read-only view), before anything is submitted.
fn check_delete(d: &PbDeleteRequest) -> Result<(), Status> {
	if d.key.is_empty() {
		return Err(empty_key());
	}
	crate::view::check_write(&d.key, &d.range_end)
}

/// What a txn asks of the registry: its compares, and the operations of each branch.
type TxnPlan = (Vec<pallet_service_registry::Compare<AccountId>>, Vec<TxnOp>, Vec<TxnOp>);

/// Checks a txn as etcd does (and what this API does not support), before anything is read or
/// submitted: its plan, or the error of its first bad part. A plan is all or nothing.
fn txn_plan(t: &PbTxnRequest) -> Result<TxnPlan, Status> {
	if t.compare.len() > MAX_TXN_OPS
		|| t.success.len() > MAX_TXN_OPS
		|| t.failure.len() > MAX_TXN_OPS
	{
		return Err(too_many_ops());
	}
	let compares = t
		.compare
		.iter()
		.map(|c| crate::view::compare_of(c).unwrap_or_else(|| compare_of(c)))
		.collect::<Result<Vec<_>, _>>()?;
	for op in t.success.iter().chain(&t.failure) {
		match &op.request {
			Some(PbTxnOpRequest::RequestPut(p)) => crate::view::check_write(&p.key, &[])?,
			Some(PbTxnOpRequest::RequestDeleteRange(d)) => {
				crate::view::check_write(&d.key, &d.range_end)?
			},
			Some(PbTxnOpRequest::RequestRange(r))
				if crate::view::span(&r.key, &r.range_end) == crate::view::Span::Inside =>
			{
				return Err(Status::invalid_argument(
					"regchain: a txn cannot read /_registry/; read it with a plain Range",
				))
			},
			_ => {},
		}
	}
	let success = t.success.iter().map(|op| op_of(&op.request)).collect::<Result<Vec<_>, _>>()?;
	let failure = t.failure.iter().map(|op| op_of(&op.request)).collect::<Result<Vec<_>, _>>()?;
	check_duplicates(&success)?;
	check_duplicates(&failure)?;
	Ok((compares, success, failure))
}

/// etcd's duplicate-key rule for a txn branch ([`TxnOp::duplicate_key`]), checked before
/// submission as etcd checks it before raft (the chain checks it again).
fn check_duplicates(branch: &[TxnOp]) -> Result<(), Status> {
	if TxnOp::duplicate_key(branch) {
		return Err(crate::errors::duplicate_key());
	}
	Ok(())
}

/// Whether etcd's compare `c` holds for `kv` (`None`: the key does not exist).
fn compare_holds(c: &PbCompare, kv: Option<&PbKeyValue>) -> bool {
	let result = c.result;
	let ordering = match (kv, &c.target_union) {
		// Comparing the value of a missing key always fails in etcd.
		(None, Some(PbTargetUnion::Value(_))) => return false,
		(None, None) if c.target == 3 => return false,
		(kv, union) => {
			let empty = PbKeyValue::default();
			let kv = kv.unwrap_or(&empty);
			match union {
				Some(PbTargetUnion::Version(v)) => kv.version.cmp(v),
				Some(PbTargetUnion::CreateRevision(v)) => kv.create_revision.cmp(v),
				Some(PbTargetUnion::ModRevision(v)) => kv.mod_revision.cmp(v),
				Some(PbTargetUnion::Value(v)) => kv.value.cmp(v),
				Some(PbTargetUnion::Lease(v)) => kv.lease.cmp(v),
				None => match c.target {
					0 => kv.version.cmp(&0),
					1 => kv.create_revision.cmp(&0),
					2 => kv.mod_revision.cmp(&0),
					4 => kv.lease.cmp(&0),
					_ => kv.value.as_slice().cmp(&[][..]),
				},
			}
		},
	};
	use std::cmp::Ordering::*;
	match result {
		0 => ordering == Equal,
		1 => ordering == Greater,
		2 => ordering == Less,
		3 => ordering != Equal,
		_ => false,
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn compares_on_missing_keys_follow_etcd() {
		let created_is_zero = PbCompare {
			key: b"/k".to_vec(),
			result: 0,
			target: 1,
			target_union: Some(PbTargetUnion::CreateRevision(0)),
			range_end: vec![],
		};
		assert!(compare_holds(&created_is_zero, None));
		let kv = PbKeyValue {
			key: b"/k".to_vec(),
			create_revision: 4,
			mod_revision: 6,
			version: 2,
			..Default::default()
		};
		assert!(!compare_holds(&created_is_zero, Some(&kv)));
		let value_is_empty = PbCompare {
			target: 3,
			target_union: Some(PbTargetUnion::Value(vec![])),
			..created_is_zero.clone()
		};
		assert!(!compare_holds(&value_is_empty, None));
		let version_greater = PbCompare {
			result: 1,
			target: 0,
			target_union: Some(PbTargetUnion::Version(1)),
			..created_is_zero
		};
		assert!(compare_holds(&version_greater, Some(&kv)));
	}
}

/// Property tests of the checks of a put, a delete and a txn: each is refused exactly when etcd
/// refuses it (or it writes the read-only view, or asks what regchain does not do), with etcd's
/// code, before anything is read or submitted. The handlers call these checks first, and build
/// the registry's call only from what they return, so a refused request writes nothing.
#[cfg(test)]
mod proptests {
	use super::*;
	use crate::convert::strategies::{any_delete_request, any_put_request, any_txn_request};
	use etcd_client::proto::PbTxnRequestOp;
	use proptest::prelude::*;
	use tonic::Code;

	/// Whether `[key, range_end)` lies inside the read-only view.
	fn in_view(key: &[u8], range_end: &[u8]) -> bool {
		crate::view::span(key, range_end) == crate::view::Span::Inside
	}

	/// Whether one txn operation passes every check made before submission.
	fn op_passes(request: &Option<PbTxnOpRequest>) -> bool {
		let allowed = match request {
			Some(PbTxnOpRequest::RequestPut(p)) => !in_view(&p.key, &[]),
			Some(PbTxnOpRequest::RequestDeleteRange(d)) => !in_view(&d.key, &d.range_end),
			Some(PbTxnOpRequest::RequestRange(r)) => !in_view(&r.key, &r.range_end),
			_ => true,
		};
		allowed && op_of(request).is_ok()
	}

	/// Whether a branch puts a key twice, or puts a key that it deletes: etcd's "duplicate key".
	fn has_duplicates(branch: &[PbTxnRequestOp]) -> bool {
		let puts: Vec<&[u8]> = branch
			.iter()
			.filter_map(|op| match &op.request {
				Some(PbTxnOpRequest::RequestPut(p)) => Some(p.key.as_slice()),
				_ => None,
			})
			.collect();
		let twice = puts.iter().enumerate().any(|(i, key)| puts[..i].contains(key));
		let deleted = branch.iter().any(|op| match &op.request {
			Some(PbTxnOpRequest::RequestDeleteRange(d)) => {
				puts.iter().any(|key| in_range(key, &d.key, &d.range_end))
			},
			_ => false,
		});
		twice || deleted
	}

	proptest! {
		#![proptest_config(crate::convert::strategies::config())]

		/// A put is refused exactly when etcd refuses it (no key, a value or lease given with
		/// `ignore_value` or `ignore_lease`, a lease that cannot exist) or it writes the view, with
		/// etcd's code and message; otherwise its lease is the one it names.
		#[test]
		fn puts_are_refused_before_submission_as_etcd_refuses_them(p in any_put_request()) {
			let expected = if p.key.is_empty() {
				Err((Code::InvalidArgument, "etcdserver: key is not provided"))
			} else if in_view(&p.key, &[]) {
				Err((Code::PermissionDenied, "etcdserver: permission denied"))
			} else if p.ignore_value && !p.value.is_empty() {
				Err((Code::InvalidArgument, "etcdserver: value is provided"))
			} else if p.ignore_lease && p.lease != 0 {
				Err((Code::InvalidArgument, "etcdserver: lease is provided"))
			} else if p.lease < 0 {
				Err((Code::NotFound, "etcdserver: requested lease not found"))
			} else {
				Ok(u64::try_from(p.lease).ok().filter(|l| *l > 0))
			};
			match (check_put(&p), expected) {
				(Ok(lease), Ok(want)) => prop_assert_eq!(lease, want),
				(Err(status), Err((code, message))) => {
					prop_assert_eq!(status.code(), code);
					prop_assert!(status.message().starts_with(message), "{}", status.message());
				},
				(got, expected) => prop_assert!(false, "{:?} for {:?}, expected {:?}", got, p, expected),
			}
		}

		/// A delete is refused exactly when etcd refuses it (no key) or it holds keys of the view
		/// only, with etcd's code and message.
		#[test]
		fn deletes_are_refused_before_submission_as_etcd_refuses_them(d in any_delete_request()) {
			let expected = if d.key.is_empty() {
				Some((Code::InvalidArgument, "etcdserver: key is not provided"))
			} else if in_view(&d.key, &d.range_end) {
				Some((Code::PermissionDenied, "etcdserver: permission denied"))
			} else {
				None
			};
			match (check_delete(&d), expected) {
				(Ok(()), None) => {},
				(Err(status), Some((code, message))) => {
					prop_assert_eq!(status.code(), code);
					prop_assert!(status.message().starts_with(message), "{}", status.message());
				},
				(got, expected) => prop_assert!(false, "{:?} for {:?}, expected {:?}", got, d, expected),
			}
		}

		/// A txn is planned only when every compare and operation passes, no branch is longer
		/// than etcd allows and none puts a key twice or puts a key it deletes; one bad part
		/// refuses the whole txn, with etcd's code, and there is no plan to submit.
		#[test]
		fn txns_are_planned_all_or_nothing(t in any_txn_request()) {
			let too_many = [t.compare.len(), t.success.len(), t.failure.len()].iter().any(|n| *n > MAX_TXN_OPS);
			let compares_pass = t
				.compare
				.iter()
				.all(|c| crate::view::compare_of(c).unwrap_or_else(|| compare_of(c)).is_ok());
			let ops_pass = t.success.iter().chain(&t.failure).all(|op| op_passes(&op.request));
			let duplicates = has_duplicates(&t.success) || has_duplicates(&t.failure);
			match txn_plan(&t) {
				Ok((compares, success, failure)) => {
					prop_assert!(!too_many && compares_pass && ops_pass && !duplicates, "{:?} was planned", t);
					prop_assert_eq!(
						(compares.len(), success.len(), failure.len()),
						(t.compare.len(), t.success.len(), t.failure.len())
					);
				},
				Err(status) => {
					prop_assert!(
						too_many || !compares_pass || !ops_pass || duplicates,
						"{:?} refused: {}", t, status.message()
					);
					prop_assert!(!status.message().is_empty());
					let code = status.code();
					if too_many {
						prop_assert_eq!(code, Code::InvalidArgument);
						prop_assert_eq!(status.message(), "etcdserver: too many operations in txn request");
					} else if compares_pass && ops_pass {
						prop_assert_eq!(code, Code::InvalidArgument);
						prop_assert_eq!(status.message(), "etcdserver: duplicate key given in txn request");
					} else {
						prop_assert!(
							matches!(
								code,
								Code::InvalidArgument | Code::NotFound | Code::PermissionDenied | Code::Unimplemented
							),
							"{:?}", status
						);
					}
				},
			}
		}
	}

	fn put(key: &[u8]) -> PbTxnRequestOp {
		PbTxnRequestOp {
			request: Some(PbTxnOpRequest::RequestPut(PbPutRequest {
				key: key.to_vec(),
				..Default::default()
			})),
		}
	}

	fn delete(key: &[u8], range_end: &[u8]) -> PbTxnRequestOp {
		let d =
			PbDeleteRequest { key: key.to_vec(), range_end: range_end.to_vec(), prev_kv: false };
		PbTxnRequestOp { request: Some(PbTxnOpRequest::RequestDeleteRange(d)) }
	}

	fn txn(success: Vec<PbTxnRequestOp>) -> PbTxnRequest {
		PbTxnRequest { compare: vec![], success, failure: vec![] }
	}

	#[test]
	fn a_branch_that_puts_a_key_twice_or_deletes_what_it_puts_is_refused_before_submission() {
		let refused = [
			vec![put(b"/a"), put(b"/a")],
			vec![put(b"/a/b"), delete(b"/a/", b"/a0")],
			vec![delete(b"/a", b"\0"), put(b"/b")],
		];
		for branch in refused {
			let status = txn_plan(&txn(branch)).unwrap_err();
			assert_eq!(status.message(), "etcdserver: duplicate key given in txn request");
		}
		// The same key in both branches, and a delete beside a put it does not cover, are fine.
		let both =
			PbTxnRequest { compare: vec![], success: vec![put(b"/a")], failure: vec![put(b"/a")] };
		assert!(txn_plan(&both).is_ok());
		assert!(txn_plan(&txn(vec![put(b"/a"), delete(b"/b", b"")])).is_ok());
	}
}
