//! Submitting calls to a running chain and reading back their events, decoded with the
//! runtime's own types.

use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use codec::{Decode, Encode};
use frame_support::dispatch::GetDispatchInfo;
use regchain_runtime::{Hash, RuntimeCall, RuntimeEvent};
use serde_json::json;
use sp_core::{crypto::Pair as _, sr25519};
use sp_keyring::Sr25519Keyring;

use crate::{
	extrinsic::{from_hex, parse_hash, signed, to_hex},
	wait_for, Rpc,
};

/// The events of one block, as `System::Events` stores them.
type EventRecords = Vec<frame_system::EventRecord<RuntimeEvent, Hash>>;

/// Signs `call` with `signer` at its next nonce and submits it through `rpc`. Returns the hex
/// of the submitted extrinsic, or the pool's refusal (for example "Invalid signing address").
pub fn submit(rpc: &Rpc, signer: &sr25519::Pair, call: RuntimeCall) -> Result<String> {
	let account: regchain_runtime::AccountId = signer.public().into();
	let nonce = rpc
		.call("system_accountNextIndex", json!([account.to_string()]))?
		.as_u64()
		.context("nonce is a number")? as u32;
	let genesis = parse_hash(rpc.block_hash(0)?.as_deref().context("genesis")?)?;
	let xt = to_hex(&signed(call, signer, nonce, genesis, spec_version(rpc)?));
	rpc.call("author_submitExtrinsic", json!([xt]))?;
	Ok(xt)
}

/// The runtime's `spec_version` at the best block, as the runtime reports it (`Core_version`),
/// which a signature covers (it changes with each upgrade).
pub fn spec_version(rpc: &Rpc) -> Result<u32> {
	let raw = rpc.call("state_call", json!(["Core_version", "0x"]))?;
	let bytes = from_hex(raw.as_str().context("state_call answers hex")?)?;
	Ok(sp_version::RuntimeVersion::decode(&mut &bytes[..])?.spec_version)
}

/// Submits `call` and waits until a finalized block includes it. Returns that block's hash and
/// the events the extrinsic emitted; fails if it was not finalized within `timeout`.
pub fn submit_finalized(
	rpc: &Rpc,
	signer: &sr25519::Pair,
	call: RuntimeCall,
) -> Result<(String, Vec<RuntimeEvent>)> {
	let xt = submit(rpc, signer, call)?;
	let mut next = rpc.header_number(json!(rpc.finalized_head()?))? + 1;
	wait_for("the extrinsic to be finalized", Duration::from_secs(30), || {
		let finalized = rpc.header_number(json!(rpc.finalized_head().ok()?)).ok()?;
		while next <= finalized {
			let hash = rpc.block_hash(next).ok()??;
			let block = rpc.call("chain_getBlock", json!([hash])).ok()?;
			let extrinsics = block["block"]["extrinsics"].as_array()?.clone();
			if let Some(index) = extrinsics.iter().position(|x| x.as_str() == Some(xt.as_str())) {
				return Some(events_of(rpc, &hash, index as u32).map(|events| (hash, events)));
			}
			next += 1;
		}
		None
	})?
}

/// The events that extrinsic `index` of block `hash` emitted.
pub fn events_of(rpc: &Rpc, hash: &str, index: u32) -> Result<Vec<RuntimeEvent>> {
	let key = frame_support::storage::storage_prefix(b"System", b"Events");
	let raw = rpc.call("state_getStorage", json!([to_hex(&key), hash]))?;
	let bytes = from_hex(raw.as_str().ok_or_else(|| anyhow!("no events at {hash}"))?)?;
	let records = EventRecords::decode(&mut &bytes[..])?;
	Ok(records
		.into_iter()
		.filter(|r| r.phase == frame_system::Phase::ApplyExtrinsic(index))
		.map(|r| r.event)
		.collect())
}

/// Whether the events include `ExtrinsicSuccess`.
pub fn succeeded(events: &[RuntimeEvent]) -> bool {
	events
		.iter()
		.any(|e| matches!(e, RuntimeEvent::System(frame_system::Event::ExtrinsicSuccess { .. })))
}

/// A well-known development key.
pub fn dev_pair(who: Sr25519Keyring) -> sr25519::Pair {
	who.pair()
}

/// Runs `call` as governance on the `local` chain: Alice proposes it to the collective with a
/// threshold of three, Alice, Bob and Charlie vote aye, Alice closes the motion and releases its
/// place (each member holds at most four open). Returns the result the collective reports in
/// its `Executed` event.
pub fn govern(rpc: &Rpc, call: RuntimeCall) -> Result<sp_runtime::DispatchResult> {
	let alice = dev_pair(Sr25519Keyring::Alice);
	let length_bound = call.encoded_size() as u32;
	let weight_bound = call.get_dispatch_info().call_weight;
	let (_, events) = submit_finalized(
		rpc,
		&alice,
		RuntimeCall::Council(pallet_collective::Call::propose {
			threshold: 3,
			proposal: Box::new(call),
			length_bound,
		}),
	)?;
	let (hash, index) = events
		.iter()
		.find_map(|e| match e {
			RuntimeEvent::Council(pallet_collective::Event::Proposed {
				proposal_hash,
				proposal_index,
				..
			}) => Some((*proposal_hash, *proposal_index)),
			_ => None,
		})
		.ok_or_else(|| anyhow!("the proposal was not recorded: {events:?}"))?;
	for voter in [Sr25519Keyring::Alice, Sr25519Keyring::Bob, Sr25519Keyring::Charlie] {
		let (_, events) = submit_finalized(
			rpc,
			&dev_pair(voter),
			RuntimeCall::Council(pallet_collective::Call::vote {
				proposal: hash,
				index,
				approve: true,
			}),
		)?;
		if !succeeded(&events) {
			bail!("{voter:?}'s vote failed: {events:?}");
		}
	}
	let (_, events) = submit_finalized(
		rpc,
		&alice,
		RuntimeCall::Council(pallet_collective::Call::close {
			proposal_hash: hash,
			index,
			proposal_weight_bound: weight_bound,
			length_bound,
		}),
	)?;
	let executed = executed_result(&events)?;
	let (_, released) = submit_finalized(
		rpc,
		&alice,
		RuntimeCall::Council(pallet_collective::Call::release_proposal_cost {
			proposal_hash: hash,
		}),
	)?;
	if !succeeded(&released) {
		bail!("releasing the motion's place failed: {released:?}");
	}
	Ok(executed)
}

/// The result in a collective's `Executed` event.
pub fn executed_result(events: &[RuntimeEvent]) -> Result<sp_runtime::DispatchResult> {
	events
		.iter()
		.find_map(|e| match e {
			RuntimeEvent::Council(pallet_collective::Event::Executed { result, .. }) => {
				Some(*result)
			},
			_ => None,
		})
		.ok_or_else(|| anyhow!("the motion was not executed: {events:?}"))
}
