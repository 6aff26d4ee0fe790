//! Named genesis presets: `development` (one validator) and `local_testnet` (four).
//!
//! Chain specs are built from these presets (`regchain-node export-chain-spec --chain dev|local`).

use alloc::{vec, vec::Vec};
use serde_json::Value;
use sp_consensus_aura::sr25519::AuthorityId as AuraId;
use sp_consensus_grandpa::AuthorityId as GrandpaId;
use sp_genesis_builder::{self, PresetId};
use sp_keyring::{Ed25519Keyring, Sr25519Keyring};

use crate::{AccountId, Balance};

/// The balance given to each endowed account. Balances pay no fee on this chain: an endowed
/// account simply exists, which is what a signer needs.
const ENDOWMENT: Balance = 1 << 60;

/// The genesis of a chain whose validators are `authorities`, whose endowed accounts are
/// `endowed` and whose sudo key, if any, is `root`.
fn testnet_genesis(
	authorities: Vec<(AuraId, GrandpaId)>,
	endowed: Vec<AccountId>,
	root: Option<AccountId>,
) -> Value {
	serde_json::json!({
		"balances": {
			"balances": endowed.into_iter().map(|account| (account, ENDOWMENT)).collect::<Vec<_>>(),
		},
		"aura": {
			"authorities": authorities.iter().map(|(aura, _)| aura.clone()).collect::<Vec<_>>(),
		},
		"grandpa": {
			"authorities": authorities.into_iter().map(|(_, grandpa)| (grandpa, 1u64)).collect::<Vec<_>>(),
		},
		"sudo": { "key": root },
	})
}

/// The session keys of a well-known development validator.
fn authority_keys(sr: Sr25519Keyring, ed: Ed25519Keyring) -> (AuraId, GrandpaId) {
	(sr.public().into(), ed.public().into())
}

/// The well-known development accounts (Alice to Ferdie, and their stashes): each can sign at
/// once.
fn dev_accounts() -> Vec<AccountId> {
	Sr25519Keyring::well_known().map(|k| k.to_account_id()).collect()
}

/// `development`: Alice alone authors and finalizes, and holds the sudo key.
pub fn development_config_genesis() -> Value {
	testnet_genesis(
		vec![authority_keys(Sr25519Keyring::Alice, Ed25519Keyring::Alice)],
		dev_accounts(),
		Some(Sr25519Keyring::Alice.to_account_id()),
	)
}

/// `local_testnet`: Alice, Bob, Charlie and Dave validate. Four voters let GRANDPA survive one
/// failure (3f + 1 with f = 1); three would tolerate none.
pub fn local_config_genesis() -> Value {
	testnet_genesis(
		vec![
			authority_keys(Sr25519Keyring::Alice, Ed25519Keyring::Alice),
			authority_keys(Sr25519Keyring::Bob, Ed25519Keyring::Bob),
			authority_keys(Sr25519Keyring::Charlie, Ed25519Keyring::Charlie),
			authority_keys(Sr25519Keyring::Dave, Ed25519Keyring::Dave),
		],
		dev_accounts(),
		Some(Sr25519Keyring::Alice.to_account_id()),
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
