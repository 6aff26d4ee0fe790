//! The etcd API against a real etcd 3.4 server (Debian's `etcd-server`): the same seeded random
//! sequence of KV, Txn and Lease operations goes to both through the `etcd-client` crate, and
//! the normalised answers must be equal. This tests etcd's behaviour, not our idea of it.
//!
//! Normalised: revisions become deltas from each server's revision at the start, lease ids
//! become the order in which they were granted, errors keep their gRPC code and message.

use std::{collections::HashMap, time::Duration};

use anyhow::{Context, Result};
use etcd_client::{
	Client, Compare, CompareOp, DeleteOptions, GetOptions, KeyValue, LeaseTimeToLiveOptions,
	PutOptions, SortOrder, SortTarget, Txn, TxnOp, TxnOpResponse,
};
use regchain_testing::{start_etcd, Node, NodeConfig};
use serde_json::{json, Value};

/// One side of the comparison: a client and what normalises its answers.
struct Side {
	client: Client,
	base: i64,
	leases: Vec<i64>,
}

impl Side {
	async fn connect(endpoint: &str) -> Result<Self> {
		let mut client = Client::connect([endpoint], None).await?;
		let base = client.get("/", None).await?.header().context("header")?.revision();
		Ok(Side { client, base, leases: Vec::new() })
	}

	fn rev(&self, revision: i64) -> i64 {
		if revision == 0 {
			0
		} else {
			revision - self.base
		}
	}

	fn lease(&self, id: i64) -> Value {
		match self.leases.iter().position(|l| *l == id) {
			_ if id == 0 => json!(0),
			Some(i) => json!(format!("lease-{i}")),
			None => json!(format!("unknown lease {id}")),
		}
	}

	fn kv(&self, kv: &KeyValue) -> Value {
		json!({
			"key": String::from_utf8_lossy(kv.key()),
			"value": String::from_utf8_lossy(kv.value()),
			"create": self.rev(kv.create_revision()),
			"mod": self.rev(kv.mod_revision()),
			"version": kv.version(),
			"lease": self.lease(kv.lease()),
		})
	}

	fn kvs(&self, kvs: &[KeyValue]) -> Value {
		Value::Array(kvs.iter().map(|kv| self.kv(kv)).collect())
	}

	fn error(err: etcd_client::Error) -> Value {
		match err {
			etcd_client::Error::GRpcStatus(status) => {
				json!({ "error": format!("{:?}", status.code()), "message": status.message() })
			},
			other => json!({ "error": other.to_string() }),
		}
	}

	/// Runs `op` and returns its normalised answer.
	async fn run(&mut self, op: &Op) -> Value {
		let answer = self.answer(op).await;
		answer.unwrap_or_else(Side::error)
	}

	async fn answer(&mut self, op: &Op) -> Result<Value, etcd_client::Error> {
		Ok(match op {
			Op::Put { key, value, lease } => {
				let mut options = PutOptions::new().with_prev_key();
				if let Some(i) = lease {
					let id = self.leases.get(*i).copied().unwrap_or(12345);
					options = options.with_lease(id);
				}
				let r = self.client.put(key.as_str(), value.as_str(), Some(options)).await?;
				json!({
					"rev": self.rev(r.header().map_or(0, |h| h.revision())),
					"prev": r.prev_key().map(|kv| self.kv(kv)),
				})
			},
			Op::Get { key, prefix, limit, sort, at } => {
				let mut options = GetOptions::new().with_limit(*limit);
				if *prefix {
					options = options.with_prefix();
				}
				if let Some((target, order)) = sort {
					options = options.with_sort(*target, *order);
				}
				if let Some(delta) = at {
					options = options.with_revision(self.base + delta);
				}
				let r = self.client.get(key.as_str(), Some(options)).await?;
				json!({
					"rev": self.rev(r.header().map_or(0, |h| h.revision())),
					"kvs": self.kvs(r.kvs()),
					"more": r.more(),
					"count": r.count(),
				})
			},
			Op::Delete { key, prefix } => {
				let mut options = DeleteOptions::new().with_prev_key();
				if *prefix {
					options = options.with_prefix();
				}
				let r = self.client.delete(key.as_str(), Some(options)).await?;
				json!({
					"rev": self.rev(r.header().map_or(0, |h| h.revision())),
					"deleted": r.deleted(),
					"prev": self.kvs(r.prev_kvs()),
				})
			},
			Op::Txn { compare, success, failure } => {
				let compare = match compare {
					Cmp::Version(key, op, v) => Compare::version(key.as_str(), *op, *v),
					Cmp::Value(key, op, v) => Compare::value(key.as_str(), *op, v.as_str()),
					Cmp::Created(key, op, delta) => {
						Compare::create_revision(key.as_str(), *op, self.base + delta)
					},
					Cmp::Modified(key, op, delta) => {
						Compare::mod_revision(key.as_str(), *op, self.base + delta)
					},
				};
				let ops = |list: &[TOp]| -> Vec<TxnOp> {
					list.iter()
						.map(|op| match op {
							TOp::Put(k, v) => TxnOp::put(
								k.as_str(),
								v.as_str(),
								Some(PutOptions::new().with_prev_key()),
							),
							TOp::Get(k) => {
								TxnOp::get(k.as_str(), Some(GetOptions::new().with_prefix()))
							},
							TOp::Delete(k) => TxnOp::delete(
								k.as_str(),
								Some(DeleteOptions::new().with_prefix().with_prev_key()),
							),
						})
						.collect()
				};
				let txn = Txn::new().when([compare]).and_then(ops(success)).or_else(ops(failure));
				let r = self.client.txn(txn).await?;
				let responses: Vec<Value> = r
					.op_responses()
					.into_iter()
					.map(|op| match op {
						TxnOpResponse::Put(p) => {
							json!({ "prev": p.prev_key().map(|kv| self.kv(kv)) })
						},
						TxnOpResponse::Get(g) => {
							json!({ "kvs": self.kvs(g.kvs()), "count": g.count() })
						},
						TxnOpResponse::Delete(d) => {
							json!({ "deleted": d.deleted(), "prev": self.kvs(d.prev_kvs()) })
						},
						TxnOpResponse::Txn(_) => json!("nested"),
					})
					.collect();
				json!({
					"rev": self.rev(r.header().map_or(0, |h| h.revision())),
					"succeeded": r.succeeded(),
					"responses": responses,
				})
			},
			Op::TooManyOps => {
				let puts: Vec<TxnOp> =
					(0..129).map(|i| TxnOp::put(format!("/d/many/{i}"), "x", None)).collect();
				let r = self.client.txn(Txn::new().and_then(puts)).await?;
				json!({ "succeeded": r.succeeded() })
			},
			Op::Grant { ttl } => {
				let r = self.client.lease_grant(*ttl, None).await?;
				self.leases.push(r.id());
				json!({ "ttl": r.ttl(), "rev": self.rev(r.header().map_or(0, |h| h.revision())) })
			},
			Op::Revoke { lease } => {
				let id = self.leases.get(*lease).copied().unwrap_or(12345);
				let r = self.client.lease_revoke(id).await?;
				json!({ "rev": self.rev(r.header().map_or(0, |h| h.revision())) })
			},
			Op::TimeToLive { lease } => {
				let id = self.leases.get(*lease).copied().unwrap_or(12345);
				let r = self
					.client
					.lease_time_to_live(id, Some(LeaseTimeToLiveOptions::new().with_keys()))
					.await?;
				let mut keys: Vec<String> =
					r.keys().iter().map(|k| String::from_utf8_lossy(k).into_owned()).collect();
				keys.sort();
				// The remaining TTL depends on timing: only whether the lease is alive is compared.
				json!({ "alive": r.ttl() > 0, "granted": r.granted_ttl(), "keys": keys })
			},
		})
	}
}

#[derive(Clone, Debug)]
enum Cmp {
	Version(String, CompareOp, i64),
	Value(String, CompareOp, String),
	Created(String, CompareOp, i64),
	Modified(String, CompareOp, i64),
}

#[derive(Clone, Debug)]
enum TOp {
	Put(String, String),
	Get(String),
	Delete(String),
}

#[derive(Clone, Debug)]
enum Op {
	Put {
		key: String,
		value: String,
		lease: Option<usize>,
	},
	Get {
		key: String,
		prefix: bool,
		limit: i64,
		sort: Option<(SortTarget, SortOrder)>,
		at: Option<i64>,
	},
	Delete {
		key: String,
		prefix: bool,
	},
	Txn {
		compare: Cmp,
		success: Vec<TOp>,
		failure: Vec<TOp>,
	},
	TooManyOps,
	Grant {
		ttl: i64,
	},
	Revoke {
		lease: usize,
	},
	TimeToLive {
		lease: usize,
	},
}

/// A small deterministic generator (no extra dependency): xorshift64*.
struct Rng(u64);

impl Rng {
	fn next(&mut self) -> u64 {
		self.0 ^= self.0 >> 12;
		self.0 ^= self.0 << 25;
		self.0 ^= self.0 >> 27;
		self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
	}

	fn below(&mut self, n: u64) -> u64 {
		self.next() % n
	}

	fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
		&items[self.below(items.len() as u64) as usize]
	}
}

/// Keys of different lengths that share prefixes.
const KEYS: [&str; 6] = ["/d/a", "/d/ab", "/d/abc", "/d/b", "/d/c", "/d/ca"];
const PREFIXES: [&str; 4] = ["/d/", "/d/a", "/d/ab", "/d/c"];

fn ops(seed: u64, count: usize) -> Vec<Op> {
	let mut rng = Rng(seed);
	let mut ops = vec![Op::Grant { ttl: 60 }, Op::Grant { ttl: 90 }];
	let mut written: i64 = 0;
	for _ in 0..count {
		let key = rng.pick(&KEYS).to_string();
		let value = format!("v{}", rng.below(4));
		let cmp_op = *rng.pick(&[
			CompareOp::Equal,
			CompareOp::Greater,
			CompareOp::Less,
			CompareOp::NotEqual,
		]);
		let op = match rng.below(20) {
			0..=5 => {
				let lease = match rng.below(6) {
					0 => Some(0),
					1 => Some(1),
					2 => Some(7), // never granted: "requested lease not found"
					_ => None,
				};
				written += 1;
				Op::Put { key, value, lease }
			},
			6..=9 => {
				let sort = match rng.below(4) {
					0 => Some((
						*rng.pick(&[
							SortTarget::Key,
							SortTarget::Version,
							SortTarget::Create,
							SortTarget::Mod,
							SortTarget::Value,
						]),
						*rng.pick(&[SortOrder::Ascend, SortOrder::Descend]),
					)),
					_ => None,
				};
				let at = (rng.below(4) == 0 && written > 0)
					.then(|| 1 + rng.below(written as u64) as i64);
				let prefix = rng.below(2) == 0;
				let key = if prefix { rng.pick(&PREFIXES).to_string() } else { key };
				Op::Get { key, prefix, limit: rng.below(4) as i64, sort, at }
			},
			10..=11 => {
				let prefix = rng.below(3) == 0;
				let key = if prefix { rng.pick(&PREFIXES).to_string() } else { key };
				written += 1;
				Op::Delete { key, prefix }
			},
			12..=16 => {
				let compare = match rng.below(4) {
					0 => Cmp::Version(key.clone(), cmp_op, rng.below(3) as i64),
					1 => Cmp::Value(key.clone(), cmp_op, value.clone()),
					2 => Cmp::Created(key.clone(), cmp_op, rng.below(written as u64 + 2) as i64),
					_ => Cmp::Modified(key.clone(), cmp_op, rng.below(written as u64 + 2) as i64),
				};
				let branch = |rng: &mut Rng| -> Vec<TOp> {
					(0..rng.below(3))
						.map(|i| match (i, rng.below(3)) {
							// Distinct keys per branch: etcd refuses a key written twice.
							(i, 0) => TOp::Put(
								format!("{}{}", rng.pick(&KEYS), "/t".repeat(i as usize + 1)),
								format!("t{i}"),
							),
							(_, 1) => TOp::Get(rng.pick(&PREFIXES).to_string()),
							(i, _) => TOp::Delete(format!(
								"{}{}",
								rng.pick(&KEYS),
								"/t".repeat(i as usize + 1)
							)),
						})
						.collect()
				};
				let success = branch(&mut rng);
				let failure = branch(&mut rng);
				written += 1;
				Op::Txn { compare, success, failure }
			},
			17 => Op::TimeToLive { lease: rng.below(2) as usize },
			18 => Op::TooManyOps,
			_ => Op::TimeToLive { lease: 5 },
		};
		ops.push(op);
	}
	ops.push(Op::Revoke { lease: 0 });
	ops.push(Op::Get { key: "/d/".into(), prefix: true, limit: 0, sort: None, at: None });
	ops.push(Op::Revoke { lease: 0 });
	ops
}

#[tokio::test(flavor = "multi_thread")]
async fn kv_txn_and_lease_answers_match_a_real_etcd() -> Result<()> {
	let dir = tempfile::tempdir()?;
	let (_etcd, etcd_url) = start_etcd(dir.path())?;
	let node = Node::start_finalized(NodeConfig::new("dev", dir.path(), &["--dev"]).with_etcd())?;
	let listen = node.etcd_endpoint().context("an etcd endpoint")?;

	let connect = |url: String| async move {
		for _ in 0..100 {
			if let Ok(side) = Side::connect(&url).await {
				return Ok(side);
			}
			tokio::time::sleep(Duration::from_millis(300)).await;
		}
		anyhow::bail!("cannot reach {url}")
	};
	let mut etcd = connect(etcd_url).await?;
	let mut regchain = connect(format!("http://{listen}")).await?;

	let mut differences = Vec::new();
	let mut seen: HashMap<String, usize> = HashMap::new();
	for (i, op) in ops(0x5eed_2026, 120).iter().enumerate() {
		let expected = etcd.run(op).await;
		let got = regchain.run(op).await;
		*seen
			.entry(format!("{op:?}").split([' ', '{']).next().unwrap_or("").to_string())
			.or_default() += 1;
		if expected != got {
			differences.push(format!("#{i} {op:?}\n  etcd:     {expected}\n  regchain: {got}"));
		}
	}
	assert!(
		differences.is_empty(),
		"{} answers differ:\n{}",
		differences.len(),
		differences.join("\n")
	);
	// The sequence exercised every kind of operation.
	for kind in ["Put", "Get", "Delete", "Txn", "TooManyOps", "Grant", "Revoke", "TimeToLive"] {
		assert!(seen.contains_key(kind), "no {kind} in the sequence: {seen:?}");
	}
	Ok(())
}
