//! A property test of the key space against a plain model: a `BTreeMap`, the revision counter
//! and the leases' expiry times.
//!
//! Random sequences of put, delete_range, txn, range reads, lease grant / keep-alive / revoke and
//! blocks that advance the clock (so leases expire), with several writes per block. The pallet
//! runs with a tiny inline-delete bound and a slow reclamation, so that range tombstones are
//! recorded often and linger across blocks. After every step the pallet and the model must
//! agree on the contents, revisions and versions, through the same query the runtime API uses;
//! range reads must give the same answer; and the storage invariants must hold.

use super::*;
use crate::keyspace::prefix_end;
use proptest::{prelude::*, test_runner::TestCaseError};
use sp_runtime::{DispatchError, DispatchResult};
use std::collections::BTreeMap;

/// Keys of different lengths that share prefixes, with 0x00 and 0xFF bytes.
const KEYS: &[&[u8]] = &[
	b"/a", b"/a/b", b"/a0", b"/b", b"\0", b"/a\0", b"/a\0b", b"a", b"/", b"/c/d", b"/a/b/c",
	b"b\xff", b"\xff", b"/a/",
];

#[derive(Clone, Debug)]
enum End {
	Single,
	Prefix,
	FromKey,
	To(usize),
}

#[derive(Clone, Debug)]
enum Write {
	Put { key: usize, value: u8, lease: Option<usize> },
	Delete { key: usize, end: End },
}

#[derive(Clone, Debug)]
enum Op {
	Write(Write),
	Txn { key: usize, version: u64, result: u8, success: Vec<Write>, failure: Vec<Write> },
	Range { key: usize, end: End, limit: u64 },
	Grant { ttl: u32 },
	Revoke { lease: usize },
	KeepAlive { lease: usize },
	NextBlock { advance_ms: u64 },
}

fn end() -> impl Strategy<Value = End> {
	prop_oneof![
		Just(End::Single),
		Just(End::Prefix),
		Just(End::FromKey),
		(0..KEYS.len()).prop_map(End::To),
	]
}

fn write() -> impl Strategy<Value = Write> {
	prop_oneof![
		3 => (0..KEYS.len(), any::<u8>(), proptest::option::of(0..4usize))
			.prop_map(|(key, value, lease)| Write::Put { key, value, lease }),
		2 => (0..KEYS.len(), end()).prop_map(|(key, end)| Write::Delete { key, end }),
	]
}

fn op() -> impl Strategy<Value = Op> {
	prop_oneof![
		6 => write().prop_map(Op::Write),
		2 => (
			0..KEYS.len(),
			0..3u64,
			0..4u8,
			proptest::collection::vec(write(), 0..4),
			proptest::collection::vec(write(), 0..4),
		)
			.prop_map(|(key, version, result, success, failure)| Op::Txn {
				key,
				version,
				result,
				success,
				failure
			}),
		2 => (0..KEYS.len(), end(), 0..4u64).prop_map(|(key, end, limit)| Op::Range { key, end, limit }),
		1 => (1..=3u32).prop_map(|ttl| Op::Grant { ttl }),
		1 => (0..4usize).prop_map(|lease| Op::Revoke { lease }),
		1 => (0..4usize).prop_map(|lease| Op::KeepAlive { lease }),
		2 => (0..3_000u64).prop_map(|advance_ms| Op::NextBlock { advance_ms }),
	]
}

fn range_end(key: usize, end: &End) -> Vec<u8> {
	match end {
		End::Single => Vec::new(),
		End::Prefix => prefix_end(KEYS[key]),
		End::FromKey => vec![0],
		End::To(other) => KEYS[*other].to_vec(),
	}
}

/// etcd's range, written independently of the pallet.
fn in_range(candidate: &[u8], key: &[u8], range_end: &[u8]) -> bool {
	match range_end {
		[] => candidate == key,
		[0] => candidate >= key,
		end => candidate >= key && candidate < end,
	}
}

fn result_of(code: u8) -> CompareResult {
	match code {
		0 => CompareResult::Equal,
		1 => CompareResult::Greater,
		2 => CompareResult::Less,
		_ => CompareResult::NotEqual,
	}
}

fn value_of(byte: u8) -> Vec<u8> {
	vec![byte; usize::from(byte % 3)]
}

#[derive(Clone, Debug, PartialEq)]
struct Kv {
	value: Vec<u8>,
	create_revision: u64,
	mod_revision: u64,
	version: u64,
	lease: Option<LeaseId>,
}

#[derive(Default)]
struct Model {
	kvs: BTreeMap<Vec<u8>, Kv>,
	revision: u64,
	/// Lease id → (expiry ms, ttl secs).
	leases: BTreeMap<LeaseId, (u64, u32)>,
	granted: Vec<LeaseId>,
	next_lease: LeaseId,
	now: u64,
}

impl Model {
	fn new() -> Self {
		Self { revision: 1, next_lease: 1, now: START_MS, ..Default::default() }
	}

	/// The lease id an op's lease index names (an unknown id if none was granted).
	fn lease_id(&self, index: usize) -> LeaseId {
		if self.granted.is_empty() {
			999
		} else {
			self.granted[index % self.granted.len()]
		}
	}

	fn lease_error(&self, id: LeaseId) -> Option<Error<Test>> {
		match self.leases.get(&id) {
			None => Some(Error::<Test>::LeaseNotFound),
			Some((expires, _)) if *expires <= self.now => Some(Error::<Test>::LeaseExpired),
			Some(_) => None,
		}
	}

	fn range(&self, key: &[u8], range_end: &[u8], limit: u64) -> RangeResponse {
		let matching: Vec<KeyValueInfo> = self
			.kvs
			.iter()
			.filter(|(k, _)| in_range(k, key, range_end))
			.map(|(k, kv)| KeyValueInfo {
				key: k.clone(),
				create_revision: kv.create_revision,
				mod_revision: kv.mod_revision,
				version: kv.version,
				value: kv.value.clone(),
				lease: kv.lease.unwrap_or(0),
			})
			.collect();
		let count = matching.len() as u64;
		let more = limit > 0 && count > limit;
		let kvs =
			if limit > 0 { matching.into_iter().take(limit as usize).collect() } else { matching };
		RangeResponse { revision: self.revision, kvs, more, count }
	}

	/// Puts at `revision` into `kvs` (the state before the write).
	fn put(
		kvs: &mut BTreeMap<Vec<u8>, Kv>,
		key: &[u8],
		value: Vec<u8>,
		lease: Option<LeaseId>,
		revision: u64,
	) {
		let (create_revision, version) = match kvs.get(key) {
			Some(kv) => (kv.create_revision, kv.version + 1),
			None => (revision, 1),
		};
		kvs.insert(
			key.to_vec(),
			Kv { value, create_revision, mod_revision: revision, version, lease },
		);
	}

	/// Deletes the range from `kvs`; whether it deleted anything.
	fn delete(kvs: &mut BTreeMap<Vec<u8>, Kv>, key: &[u8], range_end: &[u8]) -> bool {
		let doomed: Vec<Vec<u8>> =
			kvs.keys().filter(|k| in_range(k, key, range_end)).cloned().collect();
		for k in &doomed {
			kvs.remove(k);
		}
		!doomed.is_empty()
	}

	/// Ends a lease: its keys go at one revision if it has any.
	fn end_lease(&mut self, id: LeaseId) {
		self.leases.remove(&id);
		let before = self.kvs.len();
		self.kvs.retain(|_, kv| kv.lease != Some(id));
		if self.kvs.len() != before {
			self.revision += 1;
		}
	}

	/// A new block at `now + advance`: expired leases end in expiry order.
	fn next_block(&mut self, advance_ms: u64) {
		self.now += advance_ms;
		let mut due: Vec<(u64, LeaseId)> = self
			.leases
			.iter()
			.filter(|(_, (expires, _))| *expires <= self.now)
			.map(|(id, (expires, _))| (*expires, *id))
			.collect();
		due.sort();
		for (_, id) in due {
			self.end_lease(id);
		}
	}
}

/// etcd's check: no key put twice, no put in a deleted range.
fn branch_is_valid(ops: &[Write]) -> bool {
	let mut puts: Vec<&[u8]> = Vec::new();
	for op in ops {
		if let Write::Put { key, .. } = op {
			if puts.contains(&KEYS[*key]) {
				return false;
			}
			puts.push(KEYS[*key]);
		}
	}
	ops.iter().all(|op| match op {
		Write::Delete { key, end } => {
			!puts.iter().any(|put| in_range(put, KEYS[*key], &range_end(*key, end)))
		},
		Write::Put { .. } => true,
	})
}

fn to_txn_op(model: &Model, write: &Write) -> TxnOp {
	match write {
		Write::Put { key, value, lease } => TxnOp::Put {
			key: KEYS[*key].to_vec(),
			value: value_of(*value),
			lease: lease.map(|l| model.lease_id(l)),
		},
		Write::Delete { key, end } => {
			TxnOp::DeleteRange { key: KEYS[*key].to_vec(), range_end: range_end(*key, end) }
		},
	}
}

/// Whether Alice (the model's writer) may record no more tombstones: the chain's are all used,
/// or hers are.
fn tombstones_full() -> bool {
	let stored = RangeTombstones::<Test>::get();
	let hers = stored.iter().filter(|t| t.by == Some(ALICE)).count() as u32;
	stored.len() as u32 == MaxTombstones::get() || hers == MaxTombstonesPerAccount::get()
}

/// The pallet refused a large delete because the tombstone list is full, for the chain or for
/// Alice: allowed, changes nothing, and the model skips the op.
fn refused_for_tombstones(result: &DispatchResult) -> bool {
	*result == Err(DispatchError::from(Error::<Test>::TooManyRangeTombstones)) && tombstones_full()
}

fn expect(result: DispatchResult, expected: Option<Error<Test>>) -> Result<(), TestCaseError> {
	match expected {
		None => prop_assert_eq!(result, Ok(())),
		Some(error) => prop_assert_eq!(result, Err(DispatchError::from(error))),
	}
	Ok(())
}

fn step(model: &mut Model, op: Op) -> Result<(), TestCaseError> {
	match op {
		Op::Write(Write::Put { key, value, lease }) => {
			let lease = lease.map(|l| model.lease_id(l));
			let result =
				ServiceRegistry::put(origin(ALICE), KEYS[key].to_vec(), value_of(value), lease)
					.map(|_| ())
					.map_err(|e| e.error);
			let error = lease.and_then(|l| model.lease_error(l));
			let ok = error.is_none();
			expect(result, error)?;
			if ok {
				model.revision += 1;
				Model::put(&mut model.kvs, KEYS[key], value_of(value), lease, model.revision);
			}
		},
		Op::Write(Write::Delete { key, end }) => {
			let range_end = range_end(key, &end);
			let result =
				ServiceRegistry::delete_range(origin(ALICE), KEYS[key].to_vec(), range_end.clone())
					.map(|_| ())
					.map_err(|e| e.error);
			if refused_for_tombstones(&result) {
				return Ok(());
			}
			prop_assert_eq!(result, Ok(()));
			if Model::delete(&mut model.kvs, KEYS[key], &range_end) {
				model.revision += 1;
			}
		},
		Op::Txn { key, version, result, success, failure } => {
			let compare = Compare::Key {
				key: KEYS[key].to_vec(),
				result: result_of(result),
				target: KeyTarget::Version(version),
			};
			let success_ops: Vec<TxnOp> = success.iter().map(|w| to_txn_op(model, w)).collect();
			let failure_ops: Vec<TxnOp> = failure.iter().map(|w| to_txn_op(model, w)).collect();
			let outcome = ServiceRegistry::txn(
				origin(ALICE),
				vec![compare],
				success_ops.clone(),
				failure_ops.clone(),
			);
			if !branch_is_valid(&success) || !branch_is_valid(&failure) {
				return expect(outcome, Some(Error::<Test>::DuplicateKeyInTxn));
			}
			let stored_version = model.kvs.get(KEYS[key]).map_or(0, |kv| kv.version);
			let succeeded = result_of(result).holds(&stored_version, &version);
			let branch = if succeeded { &success_ops } else { &failure_ops };
			if refused_for_tombstones(&outcome) {
				return Ok(());
			}
			let lease_error = branch.iter().find_map(|op| match op {
				TxnOp::Put { lease: Some(l), .. } => model.lease_error(*l),
				_ => None,
			});
			if lease_error.is_some() {
				return expect(outcome, lease_error);
			}
			prop_assert_eq!(outcome, Ok(()));
			let revision = model.revision + 1;
			let mut kvs = model.kvs.clone();
			let mut wrote = false;
			for op in branch {
				match op {
					TxnOp::Put { key, value, lease } => {
						Model::put(&mut kvs, key, value.clone(), *lease, revision);
						wrote = true;
					},
					TxnOp::DeleteRange { key, range_end } => {
						wrote |= Model::delete(&mut kvs, key, range_end);
					},
					TxnOp::Range { .. } => {},
				}
			}
			model.kvs = kvs;
			if wrote {
				model.revision = revision;
			}
			let applied = events().into_iter().rev().find_map(|e| match e {
				Event::TxnApplied { revision, succeeded, wrote, .. } => {
					Some((revision, succeeded, wrote))
				},
				_ => None,
			});
			prop_assert_eq!(applied, Some((model.revision, succeeded, wrote)));
		},
		Op::Range { key, end, limit } => {
			let range_end = range_end(key, &end);
			let answer = ServiceRegistry::range(RangeRequest {
				key: KEYS[key].to_vec(),
				range_end: range_end.clone(),
				limit,
				..Default::default()
			});
			prop_assert_eq!(answer, model.range(KEYS[key], &range_end, limit));
		},
		Op::Grant { ttl } => {
			let id = grant(ALICE, ttl);
			prop_assert_eq!(id, model.next_lease);
			model.next_lease += 1;
			model.leases.insert(id, (model.now + u64::from(ttl) * 1_000, ttl));
			model.granted.push(id);
		},
		Op::Revoke { lease } => {
			let id = model.lease_id(lease);
			let error = model.lease_error(id);
			let ok = error.is_none();
			let result =
				ServiceRegistry::revoke_lease(origin(BOB), id).map(|_| ()).map_err(|e| e.error);
			expect(result, error)?;
			if ok {
				model.end_lease(id);
			}
		},
		Op::KeepAlive { lease } => {
			let id = model.lease_id(lease);
			let error = model.lease_error(id);
			let ok = error.is_none();
			expect(ServiceRegistry::keep_alive(origin(BOB), id), error)?;
			if ok {
				let now = model.now;
				if let Some((expires, ttl)) = model.leases.get_mut(&id) {
					*expires = now + u64::from(*ttl) * 1_000;
				}
			}
		},
		Op::NextBlock { advance_ms } => {
			next_block(advance_ms);
			model.next_block(advance_ms);
		},
	}
	Ok(())
}

fn agree(model: &Model) -> Result<(), TestCaseError> {
	prop_assert_eq!(revision(), model.revision);
	let everything = ServiceRegistry::range(RangeRequest {
		key: vec![0],
		range_end: vec![0],
		..Default::default()
	});
	prop_assert_eq!(everything, model.range(&[0], &[0], 0));
	prop_assert_eq!(ServiceRegistry::do_try_state(), Ok(()));
	Ok(())
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
	new_test_ext().execute_with(|| {
		// Tombstones for any delete of more than two keys, reclaimed slowly.
		MaxInlineDeletes::set(2);
		MaxTombstones::set(16);
		MaxProbe::set(1_000);
		MaxCleanupPerBlock::set(3);
		let mut model = Model::new();
		for op in ops {
			step(&mut model, op)?;
			agree(&model)?;
		}
		Ok(())
	})
}

proptest! {
	#![proptest_config(ProptestConfig {
		cases: 96,
		failure_persistence: None,
		..ProptestConfig::default()
	})]

	#[test]
	fn key_space_matches_a_plain_model(ops in proptest::collection::vec(op(), 1..60)) {
		run(ops)?;
	}
}
