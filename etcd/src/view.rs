//! The typed registry, read-only, in the etcd key space under `/_registry/`.
//!
//! | Key | Value (JSON) | `version` |
//! |---|---|---|
//! | `/_registry/services/<service>/<instance id>` | the live instance | 1 |
//! | `/_registry/elections/<name>` | the election: term, leader, candidates | the term |
//!
//! - etcd clients discover instances with a prefix read (`get --prefix
//!   /_registry/services/web/`), and fence a txn on an election's term by comparing the
//!   election key's version: `version("/_registry/elections/NAME") = TERM` becomes the registry's
//!   own term compare, evaluated on chain with the txn.
//! - The chain refuses writes under the prefix (`Error::ReservedKey`), and this API refuses them
//!   first with `PermissionDenied`.
//! - Only the current state is shown: a read at a past revision is refused, and the keys carry
//!   no create or mod revision (0).
//! - A range that reaches beyond the prefix (`get --prefix /`) reads the ordinary keys only,
//!   and a watch inside the prefix is refused: use `registry_subscribeInstances` and
//!   `registry_subscribeElection` of the JSON-RPC.

use etcd_client::proto::{PbCompare, PbKeyValue};
use pallet_service_registry::{prefix_end, Compare, RESERVED_PREFIX};
use regchain_client::{runtime::AccountId, AtBlock, Candidate, ElectionState, Instance};
use serde_json::{json, Value};
use tonic::Status;

use crate::{
	convert::{compare_result, in_range},
	services::{Read, ReadAt},
	status_of, Api,
};

/// Where the instances of every service are.
pub const SERVICES: &[u8] = b"/_registry/services/";
/// Where the elections are.
pub const ELECTIONS: &[u8] = b"/_registry/elections/";

/// Where a key range lies with respect to the view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Span {
	/// It holds no key of the view.
	Outside,
	/// It holds keys of the view only.
	Inside,
	/// It holds keys of the view and ordinary keys.
	Across,
}

/// Where `[key, range_end)` (etcd's conventions) lies with respect to the view.
pub fn span(key: &[u8], range_end: &[u8]) -> Span {
	let view_end = prefix_end(RESERVED_PREFIX);
	match range_end {
		[] if key.starts_with(RESERVED_PREFIX) => Span::Inside,
		[] => Span::Outside,
		end => {
			let unbounded = end == [0];
			if key >= view_end.as_slice() || (!unbounded && end <= RESERVED_PREFIX) {
				Span::Outside
			} else if key >= RESERVED_PREFIX && !unbounded && end <= view_end.as_slice() {
				Span::Inside
			} else {
				Span::Across
			}
		},
	}
}

/// Refuses a write to `[key, range_end)` if it holds keys of the view only (a delete across
/// the view deletes the ordinary keys in its range).
pub fn check_write(key: &[u8], range_end: &[u8]) -> Result<(), Status> {
	if span(key, range_end) == Span::Inside {
		return Err(Status::permission_denied(format!(
			"etcdserver: permission denied: keys under {} are the registry's read-only typed view",
			String::from_utf8_lossy(RESERVED_PREFIX)
		)));
	}
	Ok(())
}

/// The registry's compare for an etcd compare on a key of the view, if it is one: the
/// version of `/_registry/elections/NAME` is the election's term.
pub fn compare_of(c: &PbCompare) -> Option<Result<Compare<AccountId>, Status>> {
	if span(&c.key, &c.range_end) == Span::Outside {
		return None;
	}
	let refuse = || {
		Status::invalid_argument(
			"regchain: under /_registry/ a txn compares only the version of \
			 /_registry/elections/NAME, which is the election's term",
		)
	};
	let Some(name) = c
		.key
		.strip_prefix(ELECTIONS)
		.filter(|n| !n.is_empty() && c.range_end.is_empty())
	else {
		return Some(Err(refuse()));
	};
	let term = match (c.target, &c.target_union) {
		(0, Some(etcd_client::proto::PbTargetUnion::Version(v))) => u64::try_from(*v).unwrap_or(0),
		(0, None) => 0,
		_ => return Some(Err(refuse())),
	};
	Some(compare_result(c.result).map(|result| Compare::ElectionTerm {
		election: name.to_vec(),
		result,
		term,
	}))
}

fn text(bytes: &[u8]) -> String {
	regchain_client::Bytes(bytes.to_vec()).display()
}

fn candidate_json(c: &Candidate) -> Value {
	json!({ "who": c.who, "value": text(&c.value.0), "lease": c.lease, "joined_at_ms": c.joined_at_ms })
}

/// An instance as the view shows it: the registry RPC's fields, bytes as text.
fn instance_json(i: &Instance) -> Value {
	json!({
		"service": text(&i.service.0),
		"instance_id": text(&i.instance_id.0),
		"owner": i.owner,
		"endpoint": text(&i.endpoint.0),
		"tags": i.tags.iter().map(|t| text(&t.0)).collect::<Vec<_>>(),
		"metadata": i.metadata.iter().map(|(k, v)| json!([text(&k.0), text(&v.0)])).collect::<Vec<_>>(),
		"lease": i.lease,
		"health": i.health,
		"registered_at_ms": i.registered_at_ms,
		"updated_at_ms": i.updated_at_ms,
	})
}

/// An election as the view shows it.
fn election_json(e: &ElectionState) -> Value {
	json!({
		"name": text(&e.name.0),
		"term": e.term,
		"leader": e.leader.as_ref().map(candidate_json),
		"candidates": e.candidates.iter().map(candidate_json).collect::<Vec<_>>(),
	})
}

fn kv(key: Vec<u8>, value: &Value, version: u64, lease: u64) -> PbKeyValue {
	PbKeyValue {
		key,
		value: value.to_string().into_bytes(),
		create_revision: 0,
		mod_revision: 0,
		version: crate::convert::int(version),
		lease: crate::convert::int(lease),
	}
}

fn instance_key(i: &Instance) -> Vec<u8> {
	[SERVICES, &i.service.0, b"/", &i.instance_id.0].concat()
}

impl Api {
	/// Reads `[key, range_end)`, a range inside the view, at `at`; `limit`, `keys_only` and
	/// `count_only` as in [`Api::read`].
	pub(crate) async fn read_view(
		&self,
		key: &[u8],
		range_end: &[u8],
		at: ReadAt,
		limit: u64,
		keys_only: bool,
		count_only: bool,
	) -> Result<Read, Status> {
		let block = match at {
			ReadAt::Revision(_) => {
				return Err(Status::invalid_argument(
					"regchain: the typed registry under /_registry/ is read at the current revision only",
				))
			},
			ReadAt::Linearizable => self.read_index().await?,
			ReadAt::Finalized => AtBlock::Finalized,
		};
		// One block for every call below, so that the answer is one consistent state.
		let revision = self.backend.revision(&block).await.map_err(status_of)?;
		let block = AtBlock::Hash(revision.at.hash);
		let mut kvs = Vec::new();
		if touches(key, range_end, ELECTIONS) {
			let names = match key.strip_prefix(ELECTIONS).filter(|_| range_end.is_empty()) {
				Some(name) => vec![name.to_vec()],
				None => self.backend.elections(&block).await.map_err(status_of)?,
			};
			for name in names {
				let election_key = [ELECTIONS, &name].concat();
				if !in_range(&election_key, key, range_end) {
					continue;
				}
				let answer = self.backend.election(&name, &block).await.map_err(status_of)?;
				if let Some(election) = answer.filter(|e| e.term > 0) {
					kvs.push(kv(election_key, &election_json(&election), election.term, 0));
				}
			}
		}
		if touches(key, range_end, SERVICES) {
			let services = self.backend.services(&block).await.map_err(status_of)?;
			for service in services {
				let keys = [SERVICES, &service.name.0, b"/"].concat();
				if !touches(key, range_end, &keys) {
					continue;
				}
				let instances =
					self.backend.instances(&service.name.0, &block).await.map_err(status_of)?;
				for instance in instances {
					let instance_key = instance_key(&instance);
					if in_range(&instance_key, key, range_end) {
						kvs.push(kv(instance_key, &instance_json(&instance), 1, instance.lease));
					}
				}
			}
		}
		kvs.sort_by(|a, b| a.key.cmp(&b.key));
		let count = kvs.len() as u64;
		let mut more = false;
		if let Ok(limit) = usize::try_from(limit) {
			if limit > 0 && kvs.len() > limit {
				kvs.truncate(limit);
				more = true;
			}
		}
		if keys_only {
			kvs.iter_mut().for_each(|kv| kv.value.clear());
		}
		if count_only {
			kvs.clear();
		}
		Ok(Read { revision: revision.revision, kvs, more, count })
	}
}

/// Whether `[key, range_end)` holds a key starting with `prefix`.
fn touches(key: &[u8], range_end: &[u8], prefix: &[u8]) -> bool {
	let prefix_stop = prefix_end(prefix);
	match range_end {
		[] => key.starts_with(prefix),
		[0] => prefix_stop.is_empty() || key < prefix_stop.as_slice(),
		end => end > prefix && (prefix_stop.is_empty() || key < prefix_stop.as_slice()),
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use pallet_service_registry::CompareResult;

	#[test]
	fn ranges_are_placed_with_respect_to_the_view() {
		assert_eq!(span(b"/_registry/services/web/1", b""), Span::Inside);
		assert_eq!(span(b"/_registry", b""), Span::Outside);
		assert_eq!(span(b"/_registry/", b"/_registry0"), Span::Inside);
		assert_eq!(span(b"/_registry/services/web/", b"/_registry/services/web0"), Span::Inside);
		assert_eq!(span(b"/", b"0"), Span::Across);
		assert_eq!(span(b"/", &[0]), Span::Across);
		assert_eq!(span(b"/_registry/x", &[0]), Span::Across);
		assert_eq!(span(b"/a", b"/_registry/"), Span::Outside);
		assert_eq!(span(b"/_registry0", &[0]), Span::Outside);
		assert_eq!(span(b"/svc/", b"/svc0"), Span::Outside);
	}

	#[test]
	fn prefixes_are_touched_as_etcd_ranges_say() {
		assert!(touches(b"/_registry/", b"/_registry0", SERVICES));
		assert!(touches(b"/_registry/", b"/_registry0", ELECTIONS));
		assert!(touches(b"/_registry/services/web/", b"/_registry/services/web0", SERVICES));
		assert!(!touches(b"/_registry/services/web/", b"/_registry/services/web0", ELECTIONS));
		assert!(!touches(b"/_registry/services/", b"/_registry/services0", ELECTIONS));
		assert!(touches(b"/_registry/elections/a", b"", ELECTIONS));
	}

	#[test]
	fn only_the_term_of_an_election_can_be_compared() {
		let term = |v: i64, target: i32| PbCompare {
			key: b"/_registry/elections/leader".to_vec(),
			result: 0,
			target,
			target_union: Some(etcd_client::proto::PbTargetUnion::Version(v)),
			range_end: vec![],
		};
		assert_eq!(
			compare_of(&term(7, 0)).unwrap().unwrap(),
			Compare::ElectionTerm {
				election: b"leader".to_vec(),
				result: CompareResult::Equal,
				term: 7
			}
		);
		assert!(compare_of(&PbCompare { key: b"/svc/a".to_vec(), ..term(7, 0) }).is_none());
		let on_instance = PbCompare { key: b"/_registry/services/web/1".to_vec(), ..term(1, 0) };
		assert_eq!(
			compare_of(&on_instance).unwrap().unwrap_err().code(),
			tonic::Code::InvalidArgument
		);
		let value = PbCompare {
			target: 3,
			target_union: Some(etcd_client::proto::PbTargetUnion::Value(b"x".to_vec())),
			..term(0, 0)
		};
		assert!(compare_of(&value).unwrap().is_err());
		assert!(check_write(b"/_registry/services/web/1", b"").is_err());
		assert!(check_write(b"/", b"0").is_ok());
	}
}
