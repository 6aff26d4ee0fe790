//! The permissioned chain, tested against real node processes: governance by the orchestrators'
//! collective, membership at the transaction pool's door, validators added and removed by
//! governance (a down one too) with Aura's and GRANDPA's authority sets following, and
//! connections only from authorized nodes.

use std::{collections::BTreeSet, time::Duration};

use anyhow::{Context, Result};
use codec::{Decode, Encode};
use regchain_runtime::{AccountId, RuntimeCall, RuntimeEvent, SessionKeys};
use regchain_testing::{
	chain::{dev_pair, executed_result, govern, submit, submit_finalized, succeeded},
	extrinsic::{from_hex, remark, to_hex},
	wait_for, Node, Rpc, Testnet,
};
use serde_json::json;
use sp_keyring::{Ed25519Keyring, Sr25519Keyring};

fn eve() -> AccountId {
	Sr25519Keyring::Eve.to_account_id()
}

fn add_member(who: AccountId) -> RuntimeCall {
	RuntimeCall::Orchestrators(pallet_membership::Call::add_member { who: who.into() })
}

/// The libp2p peer id bytes of the development node key `0x00…0i`.
fn peer_id_bytes(i: u8, dir: &std::path::Path) -> Result<Vec<u8>> {
	let text = regchain_testing::peer_id_of_node_key(&format!("{i:064x}"), dir)?;
	const B58: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
	let mut bytes: Vec<u8> = Vec::new(); // big-endian base-256 digits
	for c in text.bytes() {
		let mut carry = B58.iter().position(|&b| b == c).context("base58")? as u32;
		for byte in bytes.iter_mut().rev() {
			carry += (*byte as u32) * 58;
			*byte = (carry & 0xff) as u8;
			carry >>= 8;
		}
		while carry > 0 {
			bytes.insert(0, (carry & 0xff) as u8);
			carry >>= 8;
		}
	}
	let zeros = text.bytes().take_while(|&c| c == b'1').count();
	Ok([vec![0u8; zeros], bytes].concat())
}

/// The Aura authorities at the best block.
fn aura_authorities(rpc: &Rpc) -> Result<Vec<[u8; 32]>> {
	let raw = rpc.call("state_call", json!(["AuraApi_authorities", "0x"]))?;
	let bytes = from_hex(raw.as_str().context("hex")?)?;
	Ok(Vec::<[u8; 32]>::decode(&mut &bytes[..])?)
}

/// GRANDPA's authority set id and its voters' ed25519 keys, as a user reads them from the
/// runtime at the finalized head (`GrandpaApi_current_set_id`, `GrandpaApi_grandpa_authorities`,
/// a `Vec<(AuthorityId, u64)>` of keys and weights). The id rises by one with each new set; a
/// set read at the finalized head is one the finalized chain has enacted.
fn grandpa_set(rpc: &Rpc) -> Result<(u64, BTreeSet<[u8; 32]>)> {
	let at = rpc.finalized_head()?;
	let call = |method: &str| -> Result<Vec<u8>> {
		let raw = rpc.call("state_call", json!([format!("GrandpaApi_{method}"), "0x", at]))?;
		Ok(from_hex(raw.as_str().context("hex")?)?)
	};
	let set_id = u64::decode(&mut &call("current_set_id")?[..])?;
	let voters = Vec::<([u8; 32], u64)>::decode(&mut &call("grandpa_authorities")?[..])?;
	anyhow::ensure!(voters.iter().all(|(_, weight)| *weight == 1), "unequal weights: {voters:?}");
	Ok((set_id, voters.into_iter().map(|(key, _)| key).collect()))
}

/// The Aura (sr25519) keys of the well-known validators `who`, as the `local` genesis sets them.
fn aura_keys(who: &[Sr25519Keyring]) -> BTreeSet<[u8; 32]> {
	who.iter().map(|k| k.to_raw_public()).collect()
}

/// The GRANDPA (ed25519) keys of the well-known validators `who`, as the `local` genesis sets
/// them.
fn grandpa_keys(who: &[Ed25519Keyring]) -> BTreeSet<[u8; 32]> {
	who.iter().map(|k| k.to_raw_public()).collect()
}

/// Whether the author of one of the last `window` finalized blocks holds `aura_key`.
fn authored_recently(rpc: &Rpc, aura_key: &[u8; 32], window: u32) -> Option<bool> {
	let authorities = aura_authorities(rpc).ok()?;
	let index = authorities.iter().position(|a| a == aura_key)? as u64;
	let last = rpc.header_number(json!(rpc.finalized_head().ok()?)).ok()?;
	Some(
		(last.saturating_sub(window)..=last)
			.filter_map(|n| rpc.aura_slot(n).ok().flatten())
			.any(|slot| slot % authorities.len() as u64 == index),
	)
}

fn finalized(node: &Node) -> u32 {
	node.finalized_number().unwrap_or(0)
}

#[test]
fn non_members_are_refused_until_a_majority_admits_them() -> Result<()> {
	let net = Testnet::start("local")?;
	let rpc = &net.nodes[0].rpc;
	let eve_pair = dev_pair(Sr25519Keyring::Eve);

	// A non-member's registry call is turned away by the pool, with a readable reason, so no
	// block can contain it.
	let refused = submit(rpc, &eve_pair, grant_lease(60)).unwrap_err().to_string();
	assert!(refused.contains("Invalid signing address"), "unexpected refusal: {refused}");

	// One member alone cannot admit Eve: the motion executes with one vote of four, which is no
	// majority, so the call fails and nothing changes.
	let alice = dev_pair(Sr25519Keyring::Alice);
	let call = add_member(eve());
	let length_bound = call.encoded_size() as u32;
	let (_, events) = submit_finalized(
		rpc,
		&alice,
		RuntimeCall::Council(pallet_collective::Call::propose {
			threshold: 1,
			proposal: Box::new(call),
			length_bound,
		}),
	)?;
	// Its origin, one member of four, is no majority: the collective reports `BadOrigin`.
	let executed = executed_result(&events)?;
	assert_eq!(
		executed,
		Err(sp_runtime::DispatchError::BadOrigin),
		"a lone member's motion must not pass"
	);
	let still = submit(rpc, &eve_pair, remark(b"still refused".to_vec()))
		.unwrap_err()
		.to_string();
	assert!(still.contains("Invalid signing address"), "Eve is still no member: {still}");

	// A majority (three of four) admits Eve, and the same call then succeeds.
	govern(rpc, add_member(eve()))?.map_err(|e| anyhow::anyhow!("{e:?}"))?;
	let (_, events) = submit_finalized(rpc, &eve_pair, grant_lease(60))?;
	assert!(succeeded(&events), "{events:?}");
	Ok(())
}

fn grant_lease(ttl_secs: u32) -> RuntimeCall {
	RuntimeCall::ServiceRegistry(pallet_service_registry::Call::grant_lease { ttl_secs })
}

/// The name of the registry error an extrinsic failed with, if it failed with one.
fn registry_error(events: &[RuntimeEvent]) -> Option<&'static str> {
	use frame_support::traits::PalletInfoAccess;
	events.iter().find_map(|e| match e {
		RuntimeEvent::System(frame_system::Event::ExtrinsicFailed {
			dispatch_error: sp_runtime::DispatchError::Module(module),
			..
		}) if module.index as usize == regchain_runtime::ServiceRegistry::index() => {
			pallet_service_registry::Error::<regchain_runtime::Runtime>::decode(
				&mut &module.error[..],
			)
			.ok()
			.map(<&'static str>::from)
		},
		_ => None,
	})
}

/// The registry's runtime API at the best block.
fn runtime_api<R: Decode>(rpc: &Rpc, method: &str, args: impl Encode) -> Result<R> {
	let raw = rpc.call(
		"state_call",
		json!([format!("ServiceRegistryApi_{method}"), to_hex(&args.encode())]),
	)?;
	Ok(R::decode(&mut &from_hex(raw.as_str().context("hex result")?)?[..])?)
}

#[test]
fn a_member_over_its_quota_gets_a_clear_error_and_nothing_changes() -> Result<()> {
	let net = Testnet::start("local")?;
	let rpc = &net.nodes[0].rpc;
	let bob = dev_pair(Sr25519Keyring::Bob);
	let quota = pallet_service_registry::Quota { leases: 1, instances: 1, keys: 1 };
	govern(
		rpc,
		RuntimeCall::ServiceRegistry(pallet_service_registry::Call::set_account_quota {
			who: Sr25519Keyring::Bob.to_account_id(),
			quota: Some(quota),
		}),
	)?
	.map_err(|e| anyhow::anyhow!("{e:?}"))?;

	let (_, events) = submit_finalized(rpc, &bob, grant_lease(60))?;
	assert!(succeeded(&events), "{events:?}");
	let leases: Vec<u64> = runtime_api(rpc, "leases", ())?;
	let (_, events) = submit_finalized(rpc, &bob, grant_lease(60))?;
	assert_eq!(registry_error(&events), Some("LeaseQuotaExceeded"));
	assert_eq!(runtime_api::<Vec<u64>>(rpc, "leases", ())?, leases);

	let put = |key: &[u8]| {
		RuntimeCall::ServiceRegistry(pallet_service_registry::Call::put {
			key: key.to_vec(),
			value: b"v".to_vec(),
			lease: None,
		})
	};
	let (_, events) = submit_finalized(rpc, &bob, put(b"/bob/1"))?;
	assert!(succeeded(&events), "{events:?}");
	let (_, events) = submit_finalized(rpc, &bob, put(b"/bob/2"))?;
	assert_eq!(registry_error(&events), Some("KeyQuotaExceeded"));
	let range: pallet_service_registry::RangeResponse = runtime_api(
		rpc,
		"range",
		pallet_service_registry::RangeRequest {
			key: b"/bob/".to_vec(),
			range_end: pallet_service_registry::prefix_end(b"/bob/"),
			..Default::default()
		},
	)?;
	assert_eq!(
		range.kvs.iter().map(|kv| kv.key.clone()).collect::<Vec<_>>(),
		vec![b"/bob/1".to_vec()]
	);

	// What Bob holds and may hold, as any client reads it.
	let account: pallet_service_registry::AccountQuota =
		runtime_api(rpc, "account_quota", Sr25519Keyring::Bob.to_account_id())?;
	assert_eq!(account.quota, quota);
	assert_eq!(account.usage, pallet_service_registry::Usage { leases: 1, instances: 0, keys: 1 });
	Ok(())
}

/// Governance adds Eve as a fifth validator and removes her again, then removes Dave while his
/// node is down. Proven against real nodes:
/// - once Eve has registered her session keys, both consensus sets follow: her Aura key is among
///   Aura's authorities, and GRANDPA's set at the finalized head is the four genesis voters and
///   her GRANDPA key under a higher set id; she authors finalized blocks, and with Dave down
///   finality goes on only because her vote counts;
/// - once she is removed, she is out of both sets, GRANDPA's under a higher id again, and
///   finality continues after her node stops;
/// - the set cannot shrink below its minimum of four, even by a validator that is down;
/// - once governance lowers the minimum to three, Dave is removed while down: the old set
///   (three of its four voters up) finalizes the change, Aura's and GRANDPA's sets are then Alice,
///   Bob and Charlie, GRANDPA's under a higher id, and the three go on finalizing.
#[test]
fn governance_adds_and_removes_a_validator() -> Result<()> {
	use Ed25519Keyring as Ed;
	use Sr25519Keyring as Sr;
	let mut net = Testnet::start("local")?;
	let rpc = net.nodes[0].rpc.clone();
	for node in &net.nodes {
		wait_for("the testnet to finalize", Duration::from_secs(60), || {
			(finalized(node) >= 5).then_some(())
		})?;
	}
	let genesis_voters = grandpa_keys(&[Ed::Alice, Ed::Bob, Ed::Charlie, Ed::Dave]);
	let (genesis_set_id, voters) = grandpa_set(&rpc)?;
	assert_eq!(voters, genesis_voters, "GRANDPA's genesis voters are the four validators");

	// Governance makes Eve a member (which gives her account a provider), authorizes her node
	// (node key 0x00…05) and adds her to the validator set.
	let eve_peer = peer_id_bytes(5, net.dir.path())?;
	let ok = |r: sp_runtime::DispatchResult| r.map_err(|e| anyhow::anyhow!("{e:?}"));
	ok(govern(&rpc, add_member(eve()))?)?;
	ok(govern(
		&rpc,
		RuntimeCall::NodeAuthorization(pallet_node_authorization::Call::add_well_known_node {
			node: sp_core::OpaquePeerId(eve_peer),
			owner: eve().into(),
		}),
	)?)?;
	ok(govern(
		&rpc,
		RuntimeCall::ValidatorSet(pallet_validator_set::Call::add_validator { who: eve() }),
	)?)?;

	// Eve's node generates session keys with an ownership proof for her account, and she
	// registers them from her own account.
	let eve_node = net.start_extra("eve", 5, &["--validator"])?;
	let generated = eve_node
		.rpc
		.call("author_rotateKeysWithOwner", json!([to_hex(&eve().encode())]))?;
	let keys_bytes = from_hex(generated["keys"].as_str().context("keys")?)?;
	let proof = from_hex(generated["proof"].as_str().context("proof")?)?;
	let keys = SessionKeys::decode(&mut &keys_bytes[..])?;
	let eve_aura: [u8; 32] = keys.aura.encode().try_into().expect("32-byte sr25519 key");
	let eve_grandpa: [u8; 32] = keys.grandpa.encode().try_into().expect("32-byte ed25519 key");
	let (_, events) = submit_finalized(
		&rpc,
		&dev_pair(Sr25519Keyring::Eve),
		RuntimeCall::Session(pallet_session::Call::set_keys { keys, proof }),
	)?;
	assert!(succeeded(&events), "set_keys failed: {events:?}");

	// Within three sessions (30 s), Eve is an authority of both Aura and GRANDPA, and GRANDPA's
	// new set (a higher id) is enacted at the finalized head.
	let mut with_eve = genesis_voters.clone();
	with_eve.insert(eve_grandpa);
	let eve_set_id =
		wait_for("Eve to join Aura's and GRANDPA's sets", Duration::from_secs(120), || {
			let (set_id, voters) = grandpa_set(&rpc).ok()?;
			(aura_authorities(&rpc).ok()?.contains(&eve_aura)
				&& voters == with_eve
				&& set_id > genesis_set_id)
				.then_some(set_id)
		})?;
	// And she authors finalized blocks.
	wait_for("Eve to author a finalized block", Duration::from_secs(120), || {
		authored_recently(&rpc, &eve_aura, 12).filter(|authored| *authored)
	})?;

	// With five voters GRANDPA needs four: killing Dave leaves exactly four, Eve among them,
	// so finality continues only because her votes count.
	net.nodes[3].kill();
	let before = net.nodes[0].finalized_number()?;
	wait_for("finality with Dave down and Eve voting", Duration::from_secs(60), || {
		(finalized(&net.nodes[0]) >= before + 10).then_some(())
	})?;

	// Governance removes Eve: within three sessions she is no longer an authority of Aura or
	// GRANDPA, whose set at the finalized head is the genesis one again, under a higher id.
	ok(govern(
		&rpc,
		RuntimeCall::ValidatorSet(pallet_validator_set::Call::remove_validator { who: eve() }),
	)?)?;
	let without_eve_set_id =
		wait_for("Eve to leave Aura's and GRANDPA's sets", Duration::from_secs(120), || {
			let authorities: BTreeSet<_> = aura_authorities(&rpc).ok()?.into_iter().collect();
			let (set_id, voters) = grandpa_set(&rpc).ok()?;
			(!authorities.contains(&eve_aura)
				&& authorities.len() == 4
				&& voters == genesis_voters
				&& set_id > eve_set_id)
				.then_some(set_id)
		})?;
	// The finalized chain has enacted the set without her: her node may stop, and Alice, Bob
	// and Charlie (three of four, Dave still down) finalize.
	drop(eve_node);
	let after_removal = net.nodes[0].finalized_number()?;
	wait_for("finality without Eve", Duration::from_secs(60), || {
		(finalized(&net.nodes[0]) >= after_removal + 10).then_some(())
	})?;
	assert!(!aura_authorities(&rpc)?.contains(&eve_aura), "Eve is no authority any more");

	// The set may not shrink below its minimum of four, not even by a validator that is down.
	let dave = Sr::Dave.to_account_id();
	let refused = govern(
		&rpc,
		RuntimeCall::ValidatorSet(pallet_validator_set::Call::remove_validator {
			who: dave.clone(),
		}),
	)?;
	let error = match refused {
		Err(sp_runtime::DispatchError::Module(module)) => {
			use frame_support::traits::PalletInfoAccess;
			assert_eq!(
				module.index as usize,
				regchain_runtime::ValidatorSet::index(),
				"{module:?}"
			);
			pallet_validator_set::Error::<regchain_runtime::Runtime>::decode(
				&mut &module.error[..],
			)?
		},
		other => anyhow::bail!(
			"removing below the minimum must fail with the validator set's error: {other:?}"
		),
	};
	assert!(matches!(error, pallet_validator_set::Error::TooFewValidators), "{error:?}");

	// Governance lowers the minimum to three and removes Dave, whose node is still down: the
	// old set (three of four voting) enacts the new one, and within three sessions Aura's and
	// GRANDPA's sets are Alice, Bob and Charlie, GRANDPA's under a higher id.
	ok(govern(
		&rpc,
		RuntimeCall::ValidatorSet(pallet_validator_set::Call::set_min_validators { min: 3 }),
	)?)?;
	ok(govern(
		&rpc,
		RuntimeCall::ValidatorSet(pallet_validator_set::Call::remove_validator { who: dave }),
	)?)?;
	let three_aura = aura_keys(&[Sr::Alice, Sr::Bob, Sr::Charlie]);
	let three_voters = grandpa_keys(&[Ed::Alice, Ed::Bob, Ed::Charlie]);
	wait_for("Dave to leave Aura's and GRANDPA's sets", Duration::from_secs(120), || {
		let authorities: BTreeSet<_> = aura_authorities(&rpc).ok()?.into_iter().collect();
		let (set_id, voters) = grandpa_set(&rpc).ok()?;
		(authorities == three_aura && voters == three_voters && set_id > without_eve_set_id)
			.then_some(())
	})?;
	// The three finalize on, every one of them: a set of three needs all three votes.
	let after_dave = net.nodes[0].finalized_number()?;
	for node in &net.nodes[..3] {
		wait_for("finality without Dave", Duration::from_secs(120), || {
			(finalized(node) >= after_dave + 10).then_some(())
		})?;
	}
	Ok(())
}

#[test]
fn an_unauthorized_node_cannot_sync_until_authorized() -> Result<()> {
	let net = Testnet::start("local")?;
	let rpc = net.nodes[0].rpc.clone();
	wait_for("the testnet to finalize", Duration::from_secs(60), || {
		(finalized(&net.nodes[0]) >= 5).then_some(())
	})?;

	// A stranger (node key 0x00…06) boots from Alice but is refused: no peers, no blocks.
	let stranger = net.start_extra("stranger", 6, &[])?;
	// A fixed wait, as the claim is that nothing happens: the stranger gets no peer, no block.
	std::thread::sleep(Duration::from_secs(15));
	let health = stranger.rpc.call("system_health", json!([]))?;
	assert_eq!(health["peers"], json!(0), "the stranger must see no peers: {health}");
	assert_eq!(stranger.best_number()?, 0, "the stranger must import no block");

	// Once governance authorizes it, it syncs.
	let peer = peer_id_bytes(6, net.dir.path())?;
	govern(
		&rpc,
		RuntimeCall::NodeAuthorization(pallet_node_authorization::Call::add_well_known_node {
			node: sp_core::OpaquePeerId(peer),
			owner: Sr25519Keyring::Ferdie.to_account_id().into(),
		}),
	)?
	.map_err(|e| anyhow::anyhow!("{e:?}"))?;
	wait_for("the authorized node to sync", Duration::from_secs(90), || {
		(stranger.best_number().ok()? > 5).then_some(())
	})?;
	Ok(())
}

/// The built runtime with its announced `spec_version` raised by one, compressed as a chain
/// stores code. The node, `frame_system` (which refuses code whose version does not increase)
/// and polkadot.js read a runtime's version from its `runtime_version` custom section, which
/// is what this rewrites; the code itself, and so what it checks signatures against
/// (`Core_version`), is unchanged. A runtime built with a raised `spec_version` changes both,
/// at the cost of a second runtime build. Returns the code and the announced version.
fn next_runtime() -> Result<(Vec<u8>, u32)> {
	const LIMIT: usize = 64 << 20;
	let compressed =
		regchain_runtime::WASM_BINARY.context("the runtime was built without its wasm")?;
	let mut wasm = sp_maybe_compressed_blob::decompress(compressed, LIMIT)?.into_owned();
	let leb = |bytes: &[u8], at: &mut usize| -> Result<usize> {
		let (mut value, mut shift) = (0usize, 0);
		loop {
			let byte = *bytes.get(*at).context("truncated wasm")?;
			*at += 1;
			value |= usize::from(byte & 0x7f) << shift;
			if byte & 0x80 == 0 {
				return Ok(value);
			}
			shift += 7;
		}
	};
	// Sections follow the 8-byte header: an id, a LEB128 size, the contents; a custom section
	// (id 0) starts with its name.
	let mut at = 8;
	while at < wasm.len() {
		let id = wasm[at];
		at += 1;
		let size = leb(&wasm, &mut at)?;
		let end = at + size;
		if id == 0 {
			let mut name_at = at;
			let name_len = leb(&wasm, &mut name_at)?;
			if &wasm[name_at..name_at + name_len] == b"runtime_version" {
				let contents = name_at + name_len..end;
				let mut version = sp_version::RuntimeVersion::decode(&mut &wasm[contents.clone()])?;
				assert_eq!(version.spec_version, regchain_runtime::VERSION.spec_version);
				version.spec_version += 1;
				let encoded = version.encode();
				anyhow::ensure!(encoded.len() == contents.len(), "the version's size changed");
				wasm[contents].copy_from_slice(&encoded);
				let code = sp_maybe_compressed_blob::compress_strongly(&wasm, LIMIT)
					.context("compressing the runtime")?;
				return Ok((code, version.spec_version));
			}
		}
		at = end;
	}
	anyhow::bail!("the runtime has no runtime_version section")
}

/// `specVersion` as the node reports it (`state_getRuntimeVersion`).
fn spec_version(node: &Node) -> Option<u64> {
	node.rpc.call("state_getRuntimeVersion", json!([])).ok()?["specVersion"].as_u64()
}

#[test]
fn a_two_thirds_motion_upgrades_the_runtime_of_a_running_testnet() -> Result<()> {
	let net = Testnet::start_with_etcd("local")?;
	let rpc = net.nodes[0].rpc.clone();
	for node in &net.nodes {
		wait_for("the testnet to finalize", Duration::from_secs(60), || {
			(finalized(node) >= 5).then_some(())
		})?;
	}
	let (code, next_version) = next_runtime()?;
	let code_hash = <sp_runtime::traits::BlakeTwo256 as sp_runtime::traits::Hash>::hash(&code);

	// Clients connected before the upgrade: the etcd API of Bob's node (the node's own client
	// signs its writes) and a registry client signing as Charlie.
	let tokio = tokio::runtime::Runtime::new()?;
	let endpoint = net.nodes[1].etcd_endpoint().context("etcd endpoint")?;
	let mut etcd = tokio.block_on(etcd_client::Client::connect([endpoint.as_str()], None))?;
	tokio.block_on(etcd.put("/upgrade/before", "1", None))?;
	let registry = tokio.block_on(regchain_client::Client::connect(
		&net.nodes[2].ws_url(),
		Some(regchain_client::Signer::from_uri("//Charlie")?),
		regchain_client::ConnectOptions::default(),
	))?;

	// Without a motion, the authorized code cannot be applied.
	let apply =
		RuntimeCall::System(frame_system::Call::apply_authorized_upgrade { code: code.clone() });
	let (_, events) = submit_finalized(&rpc, &dev_pair(Sr25519Keyring::Alice), apply.clone())?;
	let failed = events.iter().find_map(|e| match e {
		RuntimeEvent::System(frame_system::Event::ExtrinsicFailed { dispatch_error, .. }) => {
			Some(*dispatch_error)
		},
		_ => None,
	});
	let nothing_authorized: sp_runtime::DispatchError =
		frame_system::Error::<regchain_runtime::Runtime>::NothingAuthorized.into();
	assert_eq!(
		failed,
		Some(nothing_authorized),
		"code applied without an authorization: {events:?}"
	);
	assert_eq!(
		spec_version(&net.nodes[0]),
		Some(u64::from(regchain_runtime::VERSION.spec_version))
	);

	// Three of four members (two thirds) authorize the code's hash as root; anyone then supplies
	// the code.
	let authorize = RuntimeCall::Supermajority(pallet_supermajority::Call::dispatch_as_root {
		call: Box::new(RuntimeCall::System(frame_system::Call::authorize_upgrade { code_hash })),
	});
	govern(&rpc, authorize)?.map_err(|e| anyhow::anyhow!("the motion failed: {e:?}"))?;
	let (_, events) = submit_finalized(&rpc, &dev_pair(Sr25519Keyring::Alice), apply)?;
	assert!(
		events
			.iter()
			.any(|e| matches!(e, RuntimeEvent::System(frame_system::Event::CodeUpdated { .. }))),
		"the authorized code was not applied: {events:?}"
	);

	// Every validator runs the new version, and blocks keep being finalized under it.
	for node in &net.nodes {
		wait_for("the new runtime version", Duration::from_secs(30), || {
			(spec_version(node) == Some(u64::from(next_version))).then_some(())
		})?;
	}
	let upgraded_at = net.nodes[0].finalized_number()?;
	for node in &net.nodes {
		wait_for("finality under the new runtime", Duration::from_secs(60), || {
			(finalized(node) >= upgraded_at + 10).then_some(())
		})?;
	}

	// Clients connected before the upgrade keep writing.
	tokio.block_on(etcd.put("/upgrade/after", "2", None))?;
	let answer = tokio
		.block_on(etcd.get("/upgrade/", Some(etcd_client::GetOptions::new().with_prefix())))?;
	let keys: Vec<&[u8]> = answer.kvs().iter().map(|kv| kv.key()).collect();
	assert_eq!(keys, [&b"/upgrade/after"[..], b"/upgrade/before"]);
	// A client whose idea of the version is stale (as after a real upgrade, which changes the
	// version signatures cover) has its signature refused, reads the runtime's version again
	// and signs for it.
	let current = regchain_runtime::VERSION.spec_version;
	registry.assume_spec_version(current - 1);
	tokio.block_on(registry.put(
		b"/upgrade/client",
		b"3",
		None,
		regchain_client::Wait::Finalized,
	))?;
	assert_eq!(registry.spec_version(), current);
	// Governance goes on too.
	govern(&rpc, add_member(eve()))?.map_err(|e| anyhow::anyhow!("{e:?}"))?;
	Ok(())
}
