//! `regchain-probe`: measures a running chain through one node's JSON-RPC.
//!
//! For `--seconds` it submits a signed `system.remark` from Alice every `--interval-ms`, and
//! reports:
//! - blocks per minute (best block),
//! - finality lag (best minus finalized, sampled every poll),
//! - the time from submission to the finality of the block that includes each remark.
//!
//! Usage: `regchain-probe [--rpc-port 9944] [--seconds 60] [--interval-ms 500]`

use std::{
	collections::HashMap,
	time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use regchain_testing::{
	extrinsic::{parse_hash, remark, signed, to_hex},
	Rpc,
};
use serde_json::json;
use sp_core::{crypto::Pair as _, sr25519};

struct Args {
	rpc_port: u16,
	seconds: u64,
	interval: Duration,
}

fn parse_args() -> Result<Args> {
	let mut args = Args { rpc_port: 9944, seconds: 60, interval: Duration::from_millis(500) };
	let mut it = std::env::args().skip(1);
	while let Some(flag) = it.next() {
		let value = it.next().with_context(|| format!("{flag} needs a value"))?;
		match flag.as_str() {
			"--rpc-port" => args.rpc_port = value.parse()?,
			"--seconds" => args.seconds = value.parse()?,
			"--interval-ms" => args.interval = Duration::from_millis(value.parse()?),
			other => bail!("unknown option {other}; see the header of testing/src/bin/probe.rs"),
		}
	}
	Ok(args)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
	if sorted.is_empty() {
		return f64::NAN;
	}
	let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
	sorted[rank.min(sorted.len() - 1)]
}

fn main() -> Result<()> {
	let args = parse_args()?;
	let rpc = Rpc::new(args.rpc_port);
	let alice = sr25519::Pair::from_string("//Alice", None).expect("a valid dev seed");
	let alice_ss58 = sp_core::crypto::Ss58Codec::to_ss58check(&alice.public());
	let genesis = parse_hash(rpc.block_hash(0)?.as_deref().context("no genesis")?)?;
	let mut nonce: u32 = rpc
		.call("system_accountNextIndex", json!([alice_ss58]))?
		.as_u64()
		.context("nonce")? as u32;

	let spec_version = regchain_testing::chain::spec_version(&rpc)?;
	let start = Instant::now();
	let end = start + Duration::from_secs(args.seconds);
	let first_best = rpc.header_number(serde_json::Value::Null)?;
	let mut last_finalized = rpc.header_number(json!(rpc.finalized_head()?))?;
	let mut pending: HashMap<String, Instant> = HashMap::new();
	let mut latencies_ms: Vec<f64> = Vec::new();
	let mut lags: Vec<u32> = Vec::new();
	let mut submitted = 0usize;
	let mut next_submit = start;

	while Instant::now() < end
		|| (!pending.is_empty() && Instant::now() < end + Duration::from_secs(10))
	{
		let now = Instant::now();
		if now >= next_submit && now < end {
			let xt = to_hex(&signed(
				remark(format!("probe {submitted}").into_bytes()),
				&alice,
				nonce,
				genesis,
				spec_version,
			));
			rpc.call("author_submitExtrinsic", json!([xt]))?;
			pending.insert(xt, Instant::now());
			nonce += 1;
			submitted += 1;
			next_submit += args.interval;
		}
		let best = rpc.header_number(serde_json::Value::Null)?;
		let finalized_hash = rpc.finalized_head()?;
		let finalized = rpc.header_number(json!(finalized_hash))?;
		lags.push(best.saturating_sub(finalized));
		if finalized > last_finalized {
			let seen = Instant::now();
			for number in last_finalized + 1..=finalized {
				let hash = rpc.block_hash(number)?;
				let block = rpc.call("chain_getBlock", json!([hash]))?;
				for xt in block["block"]["extrinsics"].as_array().into_iter().flatten() {
					if let Some(sent) = xt.as_str().and_then(|x| pending.remove(x)) {
						latencies_ms.push((seen - sent).as_secs_f64() * 1000.0);
					}
				}
			}
			last_finalized = finalized;
		}
		std::thread::sleep(Duration::from_millis(5));
	}

	let elapsed = start.elapsed().as_secs_f64();
	let last_best = rpc.header_number(serde_json::Value::Null)?;
	latencies_ms.sort_by(|a, b| a.total_cmp(b));
	let lag_max = lags.iter().copied().max().unwrap_or(0);
	let lag_avg = lags.iter().map(|&l| l as f64).sum::<f64>() / lags.len().max(1) as f64;
	println!("duration_s            {elapsed:.1}");
	println!("blocks_per_minute     {:.1}", (last_best - first_best) as f64 * 60.0 / elapsed);
	println!(
		"finality_lag_blocks   avg {lag_avg:.2} max {lag_max} (best - finalized, {} samples)",
		lags.len()
	);
	println!(
		"submit_to_final_ms    p50 {:.0} p90 {:.0} max {:.0} ({} of {} remarks finalized)",
		percentile(&latencies_ms, 50.0),
		percentile(&latencies_ms, 90.0),
		latencies_ms.last().copied().unwrap_or(f64::NAN),
		latencies_ms.len(),
		submitted
	);
	if latencies_ms.len() < submitted {
		bail!("{} remarks were not finalized", submitted - latencies_ms.len());
	}
	Ok(())
}
