//! The commands.

use std::{io::Read, process::ExitCode, sync::Arc};

use anyhow::{anyhow, bail, Context as _};
use regchain_client::{
	registry::TxnOp, txn, AtBlock, Bytes, Client, Election, ElectionTerm, HistoryRequest,
	HistorySubject, InstanceFilter, LeaseKeeper, LeaseStatus, RangeRequest, Wait, Watch,
	WatchTarget,
};
use serde_json::{json, Value};

use crate::{
	output::{emit, history_text, merge, receipt_json, receipt_text, watch_item_text},
	Command, Context, DelArgs, ElectCmd, GetArgs, HistoryArgs, HistoryKind, LeaseCmd, PutArgs,
	ServiceCmd, TxnArgs, WatchArgs,
};

/// Runs one command; the exit code on success.
pub async fn run(ctx: &Context, command: Command) -> anyhow::Result<ExitCode> {
	match command {
		Command::Status => status(ctx).await,
		Command::Lease(cmd) => lease(ctx, cmd).await,
		Command::Service(cmd) => service(ctx, cmd).await,
		Command::Elect(cmd) => elect(ctx, cmd).await,
		Command::Put(args) => put(ctx, args).await,
		Command::Get(args) => get(ctx, args).await,
		Command::Del(args) => del(ctx, args).await,
		Command::Txn(args) => txn_cmd(ctx, args).await,
		Command::Watch(args) => watch(ctx, args).await,
		Command::History(args) => history(ctx, args).await,
		Command::Agent(args) => crate::agent::run(ctx, args).await,
	}
}

/// SIGINT and SIGTERM, listened to from the moment this is made, so that a signal arriving
/// while the command is busy is not lost.
pub struct Shutdown {
	term: Option<tokio::signal::unix::Signal>,
	int: Option<tokio::signal::unix::Signal>,
}

impl Shutdown {
	/// Starts listening.
	pub fn listen() -> Self {
		use tokio::signal::unix::{signal, SignalKind};
		Shutdown {
			term: signal(SignalKind::terminate()).ok(),
			int: signal(SignalKind::interrupt()).ok(),
		}
	}

	/// Resolves when the process is asked to stop.
	pub async fn wait(&mut self) {
		let term = async {
			match &mut self.term {
				Some(s) => {
					s.recv().await;
				},
				None => std::future::pending().await,
			}
		};
		let int = async {
			match &mut self.int {
				Some(s) => {
					s.recv().await;
				},
				None => std::future::pending().await,
			}
		};
		tokio::select! {
			_ = term => {},
			_ = int => {},
		}
	}
}

/// `--meta KEY=VALUE` entries as the pallet's metadata pairs.
pub(crate) fn parse_metadata(entries: &[String]) -> anyhow::Result<Vec<(Vec<u8>, Vec<u8>)>> {
	entries
		.iter()
		.map(|entry| {
			entry
				.split_once('=')
				.map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
				.ok_or_else(|| anyhow!("--meta takes KEY=VALUE, got `{entry}`"))
		})
		.collect()
}

/// The block `--at` names; `linearizable` asks the node for a read point a quorum of
/// validators confirmed (`registry_readIndex`).
async fn at_block(client: &Client, at: &str) -> anyhow::Result<AtBlock> {
	Ok(match at {
		"finalized" => AtBlock::Finalized,
		"best" => AtBlock::Best,
		"linearizable" => AtBlock::Hash(client.read_index().await?.hash),
		hash => AtBlock::Hash(hash.to_string()),
	})
}

fn range_of(key: &str, range_end: Option<String>, prefix: bool) -> (Vec<u8>, Vec<u8>) {
	let key = key.as_bytes().to_vec();
	if prefix {
		let end = regchain_client::prefix_range_end(&key);
		(key, end)
	} else {
		(key, range_end.map(String::into_bytes).unwrap_or_default())
	}
}

async fn status(ctx: &Context) -> anyhow::Result<ExitCode> {
	let client = ctx.reader().await?;
	let chain: String = client.rpc().request("system_chain", vec![]).await?;
	let health: Value = client.rpc().request("system_health", vec![]).await?;
	let version: Value = client.rpc().request("state_getRuntimeVersion", vec![]).await?;
	let best = client.best_number().await?;
	let finalized = client.finalized_number().await?;
	let revision = client.revision(&AtBlock::Finalized).await;
	let peers = health["peers"].as_u64().unwrap_or_default();
	let syncing = health["isSyncing"].as_bool().unwrap_or_default();
	let rev_text = match &revision {
		Ok(r) => r.revision.to_string(),
		Err(e) => format!("unavailable ({e})"),
	};
	emit(
		ctx,
		|| {
			format!(
				"endpoint: {}\nchain: {chain}\nruntime: {} v{}\nbest: #{best}\nfinalized: \
				 #{finalized}\npeers: {peers}{}\nrevision: {rev_text}",
				client.url(),
				version["specName"].as_str().unwrap_or("?"),
				version["specVersion"],
				if syncing { " (syncing)" } else { "" },
			)
		},
		json!({
			"endpoint": client.url(),
			"chain": chain,
			"runtime": { "spec_name": version["specName"], "spec_version": version["specVersion"],
						 "transaction_version": version["transactionVersion"] },
			"best": best,
			"finalized": finalized,
			"peers": peers,
			"syncing": syncing,
			"revision": revision.as_ref().ok().map(|r| r.revision),
		}),
	);
	Ok(ExitCode::SUCCESS)
}

async fn lease(ctx: &Context, cmd: LeaseCmd) -> anyhow::Result<ExitCode> {
	match cmd {
		LeaseCmd::Grant { ttl } => {
			let client = ctx.writer().await?;
			let (id, granted, receipt) = client.grant_lease(ttl, ctx.wait).await?;
			emit(
				ctx,
				|| format!("lease {id} granted with TTL {granted}s, {}", receipt_text(&receipt)),
				merge(json!({ "lease": id, "ttl_secs": granted }), receipt_json(&receipt)),
			);
		},
		LeaseCmd::KeepAlive { id, once } => {
			let client = Arc::new(ctx.writer().await?);
			if once {
				let (until, receipt) = client.keep_alive(id, ctx.wait).await?;
				emit(
					ctx,
					|| {
						format!(
							"lease {id} kept alive until {until} ms, {}",
							receipt_text(&receipt)
						)
					},
					merge(json!({ "lease": id, "expires_at_ms": until }), receipt_json(&receipt)),
				);
				return Ok(ExitCode::SUCCESS);
			}
			let lease = client
				.lease(id, &AtBlock::Best)
				.await?
				.lease
				.ok_or_else(|| anyhow!("lease {id} not found (expired or revoked)"))?;
			let mut shutdown = Shutdown::listen();
			let keeper = LeaseKeeper::start(client.clone(), id, lease.ttl_secs);
			let mut status = keeper.subscribe();
			loop {
				tokio::select! {
					_ = shutdown.wait() => return Ok(ExitCode::SUCCESS),
					changed = status.changed() => {
						if changed.is_err() { bail!("the lease keeper stopped"); }
						let now = status.borrow_and_update().clone();
						match now {
							LeaseStatus::Alive { expires_at_ms } => emit(
								ctx,
								|| format!("lease {id} kept alive until {expires_at_ms} ms"),
								json!({ "lease": id, "expires_at_ms": expires_at_ms }),
							),
							LeaseStatus::Lost { reason } => bail!(reason),
						}
					},
				}
			}
		},
		LeaseCmd::Revoke { id } => {
			let client = ctx.writer().await?;
			let receipt = client.revoke_lease(id, ctx.wait).await?;
			let revision = receipt.revision();
			emit(
				ctx,
				|| {
					let rev = revision
						.map(|r| format!(", keys deleted at revision {r}"))
						.unwrap_or_default();
					format!("lease {id} revoked{rev}, {}", receipt_text(&receipt))
				},
				merge(json!({ "lease": id, "revision": revision }), receipt_json(&receipt)),
			);
		},
		LeaseCmd::Ttl { id } => {
			let client = ctx.reader().await?;
			let answer = client.lease(id, &AtBlock::Finalized).await?;
			let json = serde_json::to_value(&answer)?;
			match answer.lease {
				None => emit(ctx, || format!("lease {id} not found (expired or revoked)"), json),
				Some(l) => emit(
					ctx,
					|| {
						let list = |items: Vec<String>| {
							if items.is_empty() {
								"none".to_string()
							} else {
								items.join(", ")
							}
						};
						format!(
							"lease {id}: {:.1}s left of TTL {}s (granted by {}, last kept alive by \
							 {})\nkeys: {}\ninstances: {}\nelections: {}",
							l.remaining_ms as f64 / 1000.0,
							l.ttl_secs,
							l.granted_by,
							l.last_kept_alive_by,
							list(l.keys.iter().map(Bytes::display).collect()),
							list(l.instances.iter().map(|(s, i)| format!("{s}/{i}")).collect()),
							list(l.elections.iter().map(Bytes::display).collect()),
						)
					},
					json,
				),
			}
		},
	}
	Ok(ExitCode::SUCCESS)
}

async fn service(ctx: &Context, cmd: ServiceCmd) -> anyhow::Result<ExitCode> {
	match cmd {
		ServiceCmd::Register { service, instance, address, lease, tags, metadata } => {
			let metadata = parse_metadata(&metadata)?;
			let tags = tags.into_iter().map(String::into_bytes).collect();
			let client = ctx.writer().await?;
			let receipt = client
				.register_instance(
					service.as_bytes(),
					instance.as_bytes(),
					address.as_bytes(),
					tags,
					metadata,
					lease,
					ctx.wait,
				)
				.await?;
			emit(
				ctx,
				|| {
					format!(
						"registered {service}/{instance} at {address} under lease {lease}, {}",
						receipt_text(&receipt)
					)
				},
				merge(
					json!({ "service": service, "instance_id": instance, "lease": lease }),
					receipt_json(&receipt),
				),
			);
		},
		ServiceCmd::Deregister { service, instance } => {
			let client = ctx.writer().await?;
			let receipt = client
				.deregister_instance(service.as_bytes(), instance.as_bytes(), ctx.wait)
				.await?;
			emit(
				ctx,
				|| format!("deregistered {service}/{instance}, {}", receipt_text(&receipt)),
				merge(
					json!({ "service": service, "instance_id": instance }),
					receipt_json(&receipt),
				),
			);
		},
		ServiceCmd::Health { service, instance, health } => {
			let client = ctx.writer().await?;
			let receipt = client
				.report_health(service.as_bytes(), instance.as_bytes(), health.into(), ctx.wait)
				.await?;
			emit(
				ctx,
				|| format!("{service}/{instance} is {}, {}", health.name(), receipt_text(&receipt)),
				merge(
					json!({ "service": service, "instance_id": instance, "health": health.name() }),
					receipt_json(&receipt),
				),
			);
		},
		ServiceCmd::List { service: None, at, .. } => {
			let client = ctx.reader().await?;
			let answer = client.services(&at_block(&client, &at).await?).await?;
			emit(
				ctx,
				|| {
					answer
						.services
						.iter()
						.map(|s| format!("{}\t{} instance(s)", s.name, s.instances))
						.collect::<Vec<_>>()
						.join("\n")
				},
				serde_json::to_value(&answer)?,
			);
		},
		ServiceCmd::List { service: Some(service), tag, health, at } => {
			let client = ctx.reader().await?;
			let filter = InstanceFilter {
				tag: tag.map(|t| t.as_str().into()),
				health: health.map(|h| h.name().to_string()),
			};
			let answer = client
				.instances(service.as_bytes(), &filter, &at_block(&client, &at).await?)
				.await?;
			emit(
				ctx,
				|| {
					answer
						.instances
						.iter()
						.map(|i| {
							let tags =
								i.tags.iter().map(Bytes::display).collect::<Vec<_>>().join(",");
							format!(
								"{}\t{}\t{}\t{}\tlease {}\t{}\t[{tags}]",
								i.service, i.instance_id, i.endpoint, i.health, i.lease, i.owner
							)
						})
						.collect::<Vec<_>>()
						.join("\n")
				},
				serde_json::to_value(&answer)?,
			);
		},
		ServiceCmd::Watch { service, rev, best } => {
			let target = WatchTarget::Instances { service: service.into_bytes() };
			return stream(ctx, Watch::over(ctx.endpoints(), target, rev).best(best)).await;
		},
	}
	Ok(ExitCode::SUCCESS)
}

/// Prints a watch's items until interrupted.
async fn stream(ctx: &Context, mut watch: Watch) -> anyhow::Result<ExitCode> {
	let mut shutdown = Shutdown::listen();
	loop {
		tokio::select! {
			_ = shutdown.wait() => return Ok(ExitCode::SUCCESS),
			item = watch.next() => {
				let item = item?;
				emit(ctx, || watch_item_text(&item), serde_json::to_value(&item)?);
			},
		}
	}
}

async fn elect(ctx: &Context, cmd: ElectCmd) -> anyhow::Result<ExitCode> {
	match cmd {
		ElectCmd::Campaign { name, value, ttl, lease } => {
			campaign(ctx, name, value, ttl, lease).await
		},
		ElectCmd::Observe { name, rev } => {
			let target = WatchTarget::Election { name: name.into_bytes() };
			stream(ctx, Watch::over(ctx.endpoints(), target, rev)).await
		},
		ElectCmd::Resign { name } => {
			let client = ctx.writer().await?;
			let receipt = client.resign(name.as_bytes(), ctx.wait).await?;
			let term = receipt.leader_changed(name.as_bytes()).map(|(_, t)| t);
			emit(
				ctx,
				|| format!("resigned from {name}, {}", receipt_text(&receipt)),
				merge(json!({ "election": name, "term": term }), receipt_json(&receipt)),
			);
			Ok(ExitCode::SUCCESS)
		},
		ElectCmd::Leader { name } => {
			let client = ctx.reader().await?;
			let answer = client.election(name.as_bytes(), &AtBlock::Finalized).await?;
			let text = match &answer.election {
				None => format!("election {name} has no candidates"),
				Some(e) => match &e.leader {
					None => format!("{name}: no leader (term {})", e.term),
					Some(l) => {
						format!("{name}: leader {} value {} term {}", l.who, l.value, e.term)
					},
				},
			};
			emit(ctx, || text, serde_json::to_value(&answer)?);
			Ok(ExitCode::SUCCESS)
		},
	}
}

async fn campaign(
	ctx: &Context,
	name: String,
	value: String,
	ttl: u32,
	lease: Option<u64>,
) -> anyhow::Result<ExitCode> {
	let mut shutdown = Shutdown::listen();
	let client = Arc::new(ctx.writer().await?);
	let (lease, keeper) = match lease {
		Some(id) => (id, None),
		None => {
			let (id, granted, _) = client.grant_lease(ttl, ctx.wait).await?;
			(id, Some(LeaseKeeper::start(client.clone(), id, granted)))
		},
	};
	// Through the keeper's connection: if the node went away, it is the next endpoint's.
	let live = || keeper.as_ref().map_or_else(|| client.clone(), LeaseKeeper::client);
	let lost = async {
		match &keeper {
			Some(k) => k.lost().await,
			None => std::future::pending().await,
		}
	};
	tokio::pin!(lost);
	let term = tokio::select! {
		term = lead(&client, keeper.as_ref(), &name, &value, lease, ctx.wait) => term?,
		reason = &mut lost => bail!("{reason} before leading {name}"),
		_ = shutdown.wait() => {
			let live = live();
			let _ = Election::new(live.clone(), name.as_bytes()).resign(ctx.wait).await;
			if keeper.is_some() { let _ = live.revoke_lease(lease, ctx.wait).await; }
			return Ok(ExitCode::SUCCESS);
		},
	};
	let me = client.signer().map(|s| s.ss58()).unwrap_or_default();
	emit(
		ctx,
		|| format!("elected: {name} term {} (leader {me}, lease {lease})", term.term),
		json!({ "election": name, "term": term.term, "leader": me, "lease": lease, "value": value }),
	);
	tokio::select! {
		reason = &mut lost => bail!("lost the leadership of {name} (term {}): {reason}", term.term),
		_ = shutdown.wait() => {
			let live = live();
			Election::new(live.clone(), name.as_bytes()).resign(ctx.wait).await.context("resigning")?;
			if keeper.is_some() { live.revoke_lease(lease, ctx.wait).await.context("revoking the lease")?; }
			emit(ctx, || format!("resigned from {name}"), json!({ "election": name, "resigned": true }));
			Ok(ExitCode::SUCCESS)
		},
	}
}

/// Campaigns, then waits to lead through whichever endpoint serves, as etcdctl's waiting
/// campaigner does: when its node goes away, through the keeper's connection (which moves to
/// the next endpoint), or through a new one when the lease is the caller's. The candidacy is on
/// chain, so it is only the waiting that moves.
async fn lead(
	client: &Arc<Client>,
	keeper: Option<&LeaseKeeper>,
	name: &str,
	value: &str,
	lease: u64,
	wait: Wait,
) -> Result<ElectionTerm, regchain_client::Error> {
	let (term, _) = client.campaign(name.as_bytes(), value.as_bytes(), lease, wait).await?;
	if let (Some(term), Wait::Finalized) = (term, wait) {
		return Ok(ElectionTerm { election: name.as_bytes().to_vec(), term });
	}
	let mut live = client.clone();
	loop {
		match Election::new(live.clone(), name.as_bytes()).wait_until_leader().await {
			Err(e) if e.is_transient() => {
				eprintln!("warning: waiting to lead {name}: {e}; retrying")
			},
			done => return done,
		}
		live = next_connection(&live, keeper).await?;
	}
}

/// The connection to go on with after `lost` failed, polled every second: `lost` itself if it
/// is still connected (a timeout), else the keeper's once it has connected again, or a new one
/// to the next endpoint that answers.
async fn next_connection(
	lost: &Arc<Client>,
	keeper: Option<&LeaseKeeper>,
) -> Result<Arc<Client>, regchain_client::Error> {
	loop {
		tokio::time::sleep(std::time::Duration::from_secs(1)).await;
		if lost.rpc().is_connected() {
			return Ok(lost.clone());
		}
		match keeper {
			Some(keeper) => {
				let current = keeper.client();
				if !Arc::ptr_eq(&current, lost) {
					return Ok(current);
				}
			},
			None => match lost.reconnect().await {
				Ok(next) => return Ok(Arc::new(next)),
				Err(e) if e.is_transient() => {},
				Err(e) => return Err(e),
			},
		}
	}
}

async fn put(ctx: &Context, args: PutArgs) -> anyhow::Result<ExitCode> {
	let client = ctx.writer().await?;
	let (revision, receipt) = match &args.fence {
		Some(fence) => {
			let (election, term) = fence
				.rsplit_once(':')
				.ok_or_else(|| anyhow!("--fence takes ELECTION:TERM, got `{fence}`"))?;
			let term: u64 = term.parse().map_err(|_| anyhow!("--fence: `{term}` is not a term"))?;
			client
				.fenced_put(
					election.as_bytes(),
					term,
					args.key.as_bytes(),
					args.value.as_bytes(),
					args.lease,
					ctx.wait,
				)
				.await?
		},
		None => {
			client
				.put(args.key.as_bytes(), args.value.as_bytes(), args.lease, ctx.wait)
				.await?
		},
	};
	emit(
		ctx,
		|| format!("OK revision {revision}, {}", receipt_text(&receipt)),
		merge(json!({ "revision": revision }), receipt_json(&receipt)),
	);
	Ok(ExitCode::SUCCESS)
}

async fn get(ctx: &Context, args: GetArgs) -> anyhow::Result<ExitCode> {
	let client = ctx.reader().await?;
	let (key, range_end) = range_of(&args.key, args.range_end, args.prefix);
	let request = RangeRequest {
		key: key.as_slice().into(),
		range_end: (!range_end.is_empty()).then(|| range_end.as_slice().into()),
		limit: args.limit,
		revision: args.rev,
		keys_only: args.keys_only,
		count_only: args.count_only,
	};
	let answer = client.range(&request, &at_block(&client, &args.at).await?).await?;
	emit(
		ctx,
		|| {
			if args.count_only {
				return answer.count.to_string();
			}
			answer
				.kvs
				.iter()
				.map(|kv| {
					if args.keys_only {
						kv.key.display()
					} else {
						format!("{}\n{}", kv.key, kv.value)
					}
				})
				.collect::<Vec<_>>()
				.join("\n")
		},
		serde_json::to_value(&answer)?,
	);
	Ok(ExitCode::SUCCESS)
}

async fn del(ctx: &Context, args: DelArgs) -> anyhow::Result<ExitCode> {
	let client = ctx.writer().await?;
	let (key, range_end) = range_of(&args.key, args.range_end, args.prefix);
	let (revision, receipt) = client.delete_range(&key, &range_end, ctx.wait).await?;
	emit(
		ctx,
		|| match revision {
			Some(r) => format!("deleted at revision {r}, {}", receipt_text(&receipt)),
			None => format!("no key matched, {}", receipt_text(&receipt)),
		},
		merge(
			json!({ "revision": revision, "deleted": revision.is_some() }),
			receipt_json(&receipt),
		),
	);
	Ok(ExitCode::SUCCESS)
}

async fn txn_cmd(ctx: &Context, args: TxnArgs) -> anyhow::Result<ExitCode> {
	let text = match &args.file {
		Some(path) => {
			std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?
		},
		None => {
			let mut text = String::new();
			std::io::stdin()
				.read_to_string(&mut text)
				.context("reading the txn from stdin")?;
			text
		},
	};
	let spec = txn::parse(&text)?;
	let client = ctx.writer().await?;
	let (outcome, receipt) = client
		.txn(spec.compares, spec.success.clone(), spec.failure.clone(), ctx.wait)
		.await?;
	let branch = if outcome.succeeded { &spec.success } else { &spec.failure };
	// The branch's reads, answered from the state of the txn's block.
	let mut reads = Vec::new();
	for op in branch {
		if let TxnOp::Range { key, range_end } = op {
			let request = RangeRequest {
				key: key.as_slice().into(),
				range_end: (!range_end.is_empty()).then(|| range_end.as_slice().into()),
				..Default::default()
			};
			let at = AtBlock::Hash(format!("{:?}", receipt.block_hash));
			reads.push(ctx.reader().await?.range(&request, &at).await?);
		}
	}
	emit(
		ctx,
		|| {
			let mut lines = vec![format!(
				"{} revision {}, {}",
				if outcome.succeeded { "SUCCESS" } else { "FAILURE" },
				outcome.revision,
				receipt_text(&receipt)
			)];
			for read in &reads {
				for kv in &read.kvs {
					lines.push(format!("{}\n{}", kv.key, kv.value));
				}
			}
			lines.join("\n")
		},
		merge(
			json!({
				"succeeded": outcome.succeeded,
				"wrote": outcome.wrote,
				"revision": outcome.revision,
				"reads": reads,
			}),
			receipt_json(&receipt),
		),
	);
	Ok(ExitCode::SUCCESS)
}

async fn watch(ctx: &Context, args: WatchArgs) -> anyhow::Result<ExitCode> {
	let (key, range_end) = range_of(&args.key, args.range_end, args.prefix);
	let target = WatchTarget::Keys { key, range_end };
	stream(ctx, Watch::over(ctx.endpoints(), target, args.rev).best(args.best)).await
}

async fn history(ctx: &Context, args: HistoryArgs) -> anyhow::Result<ExitCode> {
	let name = args.name.into_bytes();
	let subject = match args.kind {
		HistoryKind::Key => HistorySubject::Key(name),
		HistoryKind::Prefix => HistorySubject::Prefix(name),
		HistoryKind::Service => HistorySubject::Service(name),
		HistoryKind::Election => HistorySubject::Election(name),
	};
	let client = ctx.reader().await?;
	let request = HistoryRequest::new(subject, args.from_rev, args.limit);
	let answer = client.history(&request).await?;
	match ctx.output {
		crate::OutputArg::Text => {
			for item in &answer.items {
				println!("{}", history_text(item));
			}
			if answer.more {
				println!(
					"(more: continue with --from-rev {})",
					answer.items.last().map(|i| i.revision).unwrap_or_default()
				);
			}
		},
		crate::OutputArg::Json => println!("{}", serde_json::to_string(&answer)?),
	}
	Ok(ExitCode::SUCCESS)
}
