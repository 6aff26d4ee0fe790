//! Named genesis presets: `development` (one validator) and `local_testnet` (four).
//!
//! Chain specs are built from these presets (`regchain-node export-chain-spec --chain dev|local`).

use alloc::{vec, vec::Vec};
use serde_json::Value;
use sp_consensus_aura::sr25519::AuthorityId as AuraId;
use sp_consensus_grandpa::AuthorityId as GrandpaId;
use sp_genesis_builder::{self, PresetId};
use sp_keyring::{Ed25519Keyring, Sr25519Keyring};

use crate::{AccountId, Balance, SessionKeys};
use sp_core::OpaquePeerId;

/// The balance given to each endowed account. Balances pay no fee on this chain: an endowed
/// account simply exists, which is what a signer needs.
const ENDOWMENT: Balance = 1 << 60;

/// A well-known node: its peer id (the bytes of a libp2p `PeerId`) and the account that owns it.
type WellKnownNode = (Vec<u8>, AccountId);

/// The genesis of a chain whose orchestrators are `members`, whose validators are `validators`
/// (each a member, with its session keys), whose authorized nodes are `nodes`, and whose sudo
/// key, if any, is `root`. The validator set may not shrink below `min_validators`.
fn testnet_genesis(
	members: Vec<AccountId>,
	validators: Vec<(AccountId, AuraId, GrandpaId)>,
	min_validators: u32,
	nodes: Vec<WellKnownNode>,
	endowed: Vec<AccountId>,
	root: Option<AccountId>,
) -> Value {
	serde_json::json!({
		"balances": {
			"balances": endowed.into_iter().map(|account| (account, ENDOWMENT)).collect::<Vec<_>>(),
		},
		"orchestrators": { "members": members },
		"validatorSet": {
			"validators": validators.iter().map(|(account, _, _)| account.clone()).collect::<Vec<_>>(),
			"minValidators": min_validators,
		},
		// Aura's and GRANDPA's genesis authorities come from the session keys.
		"session": {
			"keys": validators
				.into_iter()
				.map(|(account, aura, grandpa)| (account.clone(), account, SessionKeys { aura, grandpa }))
				.collect::<Vec<_>>(),
		},
		"nodeAuthorization": {
			"nodes": nodes
				.into_iter()
				.map(|(peer, owner)| (OpaquePeerId(peer), owner))
				.collect::<Vec<_>>(),
		},
		"sudo": { "key": root },
	})
}

/// A well-known development validator: its account, Aura key and GRANDPA key.
fn validator(sr: Sr25519Keyring, ed: Ed25519Keyring) -> (AccountId, AuraId, GrandpaId) {
	(sr.to_account_id(), sr.public().into(), ed.public().into())
}

/// The well-known development accounts (Alice to Ferdie, and their stashes) exist from genesis.
/// Only members may transact, but any of them can be made a member at once.
fn dev_accounts() -> Vec<AccountId> {
	Sr25519Keyring::well_known().map(|k| k.to_account_id()).collect()
}

/// The libp2p peer id of the development node key `0x00…0i` (`--node-key`), for i in 1..=4:
/// the nodes of Alice, Bob, Charlie and Dave in the usual multi-node commands.
fn dev_peer_id(i: u8) -> Vec<u8> {
	// An identity multihash (0x00, length 0x24) of a protobuf-encoded ed25519 public key
	// (08 01 12 20, then the 32-byte key).
	let key: [u8; 32] = match i {
		1 => hex_literal::hex!("4cb5abf6ad79fbf5abbccafcc269d85cd2651ed4b885b5869f241aedf0a5ba29"),
		2 => hex_literal::hex!("7422b9887598068e32c4448a949adb290d0f4e35b9e01b0ee5f1a1e600fe2674"),
		3 => hex_literal::hex!("f381626e41e7027ea431bfe3009e94bdd25a746beec468948d6c3c7c5dc9a54b"),
		_ => hex_literal::hex!("fd50b8e3b144ea244fbf7737f550bc8dd0c2650bbc1aada833ca17ff8dbf329b"),
	};
	let mut peer = vec![0x00, 0x24, 0x08, 0x01, 0x12, 0x20];
	peer.extend_from_slice(&key);
	peer
}

/// `development`: Alice alone is the orchestrator, the validator and the sudo key.
pub fn development_config_genesis() -> Value {
	let alice = Sr25519Keyring::Alice.to_account_id();
	testnet_genesis(
		vec![alice.clone()],
		vec![validator(Sr25519Keyring::Alice, Ed25519Keyring::Alice)],
		1,
		vec![],
		dev_accounts(),
		Some(alice),
	)
}

/// `local_testnet`: Alice, Bob, Charlie and Dave are the orchestrators, the validators, the
/// governing collective and the authorized nodes (node keys 0x00…01 to 0x00…04). Four voters let
/// GRANDPA survive one failure (3f + 1 with f = 1), so the set may not shrink below four. There
/// is no sudo key: governance is the collective's.
pub fn local_config_genesis() -> Value {
	let keyrings = [
		(Sr25519Keyring::Alice, Ed25519Keyring::Alice),
		(Sr25519Keyring::Bob, Ed25519Keyring::Bob),
		(Sr25519Keyring::Charlie, Ed25519Keyring::Charlie),
		(Sr25519Keyring::Dave, Ed25519Keyring::Dave),
	];
	testnet_genesis(
		keyrings.iter().map(|(sr, _)| sr.to_account_id()).collect(),
		keyrings.iter().map(|(sr, ed)| validator(*sr, *ed)).collect(),
		4,
		keyrings
			.iter()
			.zip(1u8..)
			.map(|((sr, _), i)| (dev_peer_id(i), sr.to_account_id()))
			.collect(),
		dev_accounts(),
		None,
	)
}

/// The JSON of the preset named `id`, if there is one.
pub fn get_preset(id: &PresetId) -> Option<Vec<u8>> {
	let patch = match id.as_ref() {
		sp_genesis_builder::DEV_RUNTIME_PRESET => development_config_genesis(),
		sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET => local_config_genesis(),
		_ => return None,
	};
	Some(
		serde_json::to_string(&patch)
			.expect("serialization to json is expected to work. qed.")
			.into_bytes(),
	)
}

/// The names of the presets this runtime provides.
pub fn preset_names() -> Vec<PresetId> {
	vec![
		PresetId::from(sp_genesis_builder::DEV_RUNTIME_PRESET),
		PresetId::from(sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET),
	]
}
