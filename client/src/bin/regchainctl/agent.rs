//! `regchainctl agent`: the sidecar that keeps one service instance registered.

use std::{process::ExitCode, sync::Arc, time::Duration};

use anyhow::{anyhow, bail};
use clap::Args;
use regchain_client::{registry::Health, LeaseKeeper};
use serde_json::json;

use crate::{
	commands::{parse_metadata, Shutdown},
	output::emit,
	Context,
};

/// The agent's arguments.
#[derive(Args, Debug)]
pub struct AgentArgs {
	/// The service.
	#[arg(long)]
	service: String,
	/// The instance id.
	#[arg(long)]
	instance: String,
	/// Where the instance is reached, HOST:PORT.
	#[arg(long)]
	address: String,
	/// Time to live of the instance's lease, in seconds: how long the instance outlives its
	/// agent if the agent dies without deregistering.
	#[arg(long, default_value_t = 10)]
	ttl: u32,
	/// A shell command whose exit status is the instance's health (0: passing, else critical).
	#[arg(long)]
	health_cmd: Option<String>,
	/// Seconds between health checks.
	#[arg(long, default_value_t = 5)]
	health_interval: u64,
	/// A tag (repeatable).
	#[arg(long = "tag")]
	tags: Vec<String>,
	/// A metadata entry KEY=VALUE (repeatable).
	#[arg(long = "meta")]
	metadata: Vec<String>,
}

/// Registers, keeps alive, reports health, and deregisters on SIGTERM/SIGINT. Fails (non-zero
/// exit) when the lease is lost: the instance is then no longer registered.
pub async fn run(ctx: &Context, args: AgentArgs) -> anyhow::Result<ExitCode> {
	let mut shutdown = Shutdown::listen();
	let metadata = parse_metadata(&args.metadata)?;
	let tags: Vec<Vec<u8>> = args.tags.iter().map(|t| t.as_bytes().to_vec()).collect();
	let (service, instance) = (args.service.as_bytes(), args.instance.as_bytes());
	let name = format!("{}/{}", args.service, args.instance);

	let client = Arc::new(ctx.writer().await?);
	let (lease, ttl, _) = client.grant_lease(args.ttl, ctx.wait).await?;
	if let Err(e) = client
		.register_instance(
			service,
			instance,
			args.address.as_bytes(),
			tags,
			metadata,
			lease,
			ctx.wait,
		)
		.await
	{
		let _ = client.revoke_lease(lease, ctx.wait).await;
		return Err(anyhow!(e).context(format!("registering {name}")));
	}
	emit(
		ctx,
		|| format!("registered {name} at {} under lease {lease} (TTL {ttl}s)", args.address),
		json!({ "event": "registered", "service": args.service, "instance_id": args.instance,
		        "address": args.address, "lease": lease, "ttl_secs": ttl }),
	);
	let keeper = LeaseKeeper::start(client.clone(), lease, ttl);

	let interval = Duration::from_secs(args.health_interval.max(1));
	let mut ticker = tokio::time::interval(interval);
	ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
	let mut reported: Option<Health> = None;
	loop {
		tokio::select! {
			_ = shutdown.wait() => break,
			reason = keeper.lost() =>
				bail!("{reason}: {name} is no longer registered"),
			_ = ticker.tick(), if args.health_cmd.is_some() => {
				let cmd = args.health_cmd.as_deref().unwrap_or_default();
				let health = check(cmd, interval).await;
				if reported != Some(health) {
					// Through the keeper's connection: if the node went away, the keeper
					// connects again through another endpoint, and the next check reports.
					match keeper.client().report_health(service, instance, health, ctx.wait).await {
						Ok(_) => {},
						Err(e) if e.is_transient() => {
							eprintln!("warning: reporting {name}'s health failed, retrying at the next check: {e}");
							continue;
						},
						Err(e) => return Err(e.into()),
					}
					reported = Some(health);
					let word = format!("{health:?}").to_lowercase();
					emit(
						ctx,
						|| format!("{name} is {word}"),
						json!({ "event": "health", "service": args.service,
								"instance_id": args.instance, "health": word }),
					);
				}
			},
		}
	}

	// Asked to stop: deregister at once rather than waiting for the lease to run out. The lease
	// is kept alive until the deregistration is final, so that a short TTL cannot run out while
	// it waits for finality.
	let client = keeper.client();
	let deregistered = client.deregister_instance(service, instance, ctx.wait).await;
	keeper.stop();
	let revoked = client.revoke_lease(lease, ctx.wait).await;
	// Gone either way: the lease ran out before the deregistration landed.
	let gone = |r: &Result<regchain_client::Receipt, regchain_client::Error>, name: &str| {
		r.as_ref().is_err_and(|e| e.is_registry_error(name))
	};
	let expired = gone(&deregistered, "InstanceNotFound") && gone(&revoked, "LeaseNotFound");
	match (deregistered, revoked) {
		_ if expired => {
			emit(
				ctx,
				|| {
					format!(
						"{name} was already gone: lease {lease} ran out before the deregistration"
					)
				},
				json!({ "event": "deregistered", "service": args.service,
				        "instance_id": args.instance, "lease": lease, "expired": true }),
			);
			Ok(ExitCode::SUCCESS)
		},
		(Ok(_), _) | (_, Ok(_)) => {
			emit(
				ctx,
				|| format!("deregistered {name} and revoked lease {lease}"),
				json!({ "event": "deregistered", "service": args.service,
				        "instance_id": args.instance, "lease": lease }),
			);
			Ok(ExitCode::SUCCESS)
		},
		(Err(e), Err(_)) => Err(anyhow!(e).context(format!("deregistering {name}"))),
	}
}

/// Runs the health command (`sh -c`), bounded by `timeout`: exit status 0 is passing, anything
/// else (a failure, a timeout, a command that cannot start) critical.
async fn check(cmd: &str, timeout: Duration) -> Health {
	let child = tokio::process::Command::new("sh")
		.arg("-c")
		.arg(cmd)
		.stdin(std::process::Stdio::null())
		.stdout(std::process::Stdio::null())
		.stderr(std::process::Stdio::null())
		.kill_on_drop(true)
		.status();
	match tokio::time::timeout(timeout, child).await {
		Ok(Ok(status)) if status.success() => Health::Passing,
		_ => Health::Critical,
	}
}
