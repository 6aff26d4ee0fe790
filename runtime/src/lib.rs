//! # The regchain runtime
//!
//! A permissioned chain whose validators are the orchestrator nodes themselves. Blocks are
//! authored by Aura, one author per slot, and finalized by GRANDPA, which tolerates fewer than
//! a third of the validators being Byzantine.
//!
//! The chain charges no transaction fees: there is no transaction-payment pallet, and
//! `pallet-balances` is present only so that accounts have a provider (a fee-less chain still
//! refuses transactions from accounts that do not exist).
//!
//! Time on this chain is driven by one constant, [`MILLISECS_PER_BLOCK`]; every other duration
//! and the block weight limits are derived from it in [`configs`].

#![cfg_attr(not(feature = "std"), no_std)]
// `construct_runtime!` does a lot of recursion and requires us to increase the limit.
#![recursion_limit = "256"]

#[cfg(feature = "std")]
include!(concat!(env!("OUT_DIR"), "/wasm_binary.rs"));

extern crate alloc;

pub mod apis;
pub mod configs;
pub mod genesis_config_presets;
pub mod permissions;
#[cfg(test)]
mod tests;

use alloc::{borrow::Cow, vec::Vec};
use sp_runtime::{
	generic, impl_opaque_keys,
	traits::{BlakeTwo256, IdentifyAccount, Verify},
	MultiAddress, MultiSignature,
};
use sp_version::RuntimeVersion;

pub use frame_system::Call as SystemCall;
pub use pallet_balances::Call as BalancesCall;
pub use pallet_timestamp::Call as TimestampCall;
#[cfg(any(feature = "std", test))]
pub use sp_runtime::BuildStorage;

/// Block time, in milliseconds: the Aura slot duration. 250 unless the build sets
/// `REGCHAIN_BLOCK_MS` (from 50 to 1000).
///
/// This is the one time constant of the chain. Block weight limits, the minimum timestamp
/// period and every conversion between time and blocks follow from it (see [`configs`]).
/// It cannot change on a running chain: a different value is a different chain. To build a
/// runtime for a slower network, build with, for example, `REGCHAIN_BLOCK_MS=1000`;
/// `scripts/block-time-sweep.sh` builds several to compare them.
pub const MILLISECS_PER_BLOCK: u64 = match option_env!("REGCHAIN_BLOCK_MS") {
	Some(millis) => parse_block_millis(millis),
	None => 250,
};

/// `REGCHAIN_BLOCK_MS`, checked at compile time.
const fn parse_block_millis(text: &str) -> u64 {
	let digits = text.as_bytes();
	assert!(!digits.is_empty() && digits.len() <= 4, "REGCHAIN_BLOCK_MS: from 50 to 1000 (ms)");
	let mut millis = 0u64;
	let mut i = 0;
	while i < digits.len() {
		assert!(digits[i].is_ascii_digit(), "REGCHAIN_BLOCK_MS: a number of milliseconds");
		millis = millis * 10 + (digits[i] - b'0') as u64;
		i += 1;
	}
	// At least one block a second keeps `SECONDS` and the session length whole.
	assert!(millis >= 50 && millis <= 1000, "REGCHAIN_BLOCK_MS: from 50 to 1000 (ms)");
	millis
}

/// The Aura slot duration. Equal to the block time: Aura has at most one author per slot.
pub const SLOT_DURATION: u64 = MILLISECS_PER_BLOCK;

/// The period of session boundaries, in blocks (10 s with no skipped slot). A session ends at a
/// boundary only while a validator or session-key change is under way, which then takes effect
/// about two boundaries after governance decides it (`pallet_validator_set::RotateOnChange`).
pub const SESSION_PERIOD: BlockNumber = 10 * SECONDS;

/// Conversions between wall-clock time and a number of blocks, derived from
/// [`MILLISECS_PER_BLOCK`]. They assume no skipped slot: use them for sizes (history windows,
/// block-hash counts), never to measure time, which the chain reads from its timestamp.
pub const SECONDS: BlockNumber = (1_000 / MILLISECS_PER_BLOCK) as BlockNumber;
/// One minute of blocks.
pub const MINUTES: BlockNumber = (60_000 / MILLISECS_PER_BLOCK) as BlockNumber;
/// One hour of blocks.
pub const HOURS: BlockNumber = MINUTES * 60;
/// One day of blocks.
pub const DAYS: BlockNumber = HOURS * 24;

/// The runtime's version.
#[sp_version::runtime_version]
pub const VERSION: RuntimeVersion = RuntimeVersion {
	spec_name: Cow::Borrowed("regchain"),
	impl_name: Cow::Borrowed("regchain"),
	authoring_version: 1,
	spec_version: 105,
	impl_version: 1,
	apis: apis::RUNTIME_API_VERSIONS,
	transaction_version: 1,
	system_version: 1,
};

/// An index to a block.
pub type BlockNumber = u32;
/// Signature of a transaction: sr25519, ed25519 or ecdsa.
pub type Signature = MultiSignature;
/// An account identifier: the public key of the account's signing scheme.
pub type AccountId = <<Signature as Verify>::Signer as IdentifyAccount>::AccountId;
/// Balance of an account. Balances exist only to give accounts a provider: there are no fees.
pub type Balance = u128;
/// Index of a transaction in the chain.
pub type Nonce = u32;
/// A hash of some data used by the chain.
pub type Hash = sp_core::H256;

/// Opaque types, used by the node without knowing the runtime's concrete extrinsic format.
pub mod opaque {
	use super::*;
	pub use sp_runtime::OpaqueExtrinsic as UncheckedExtrinsic;

	/// Opaque block header type.
	pub type Header = generic::Header<BlockNumber, BlakeTwo256>;
	/// Opaque block type.
	pub type Block = generic::Block<Header, UncheckedExtrinsic>;
	/// Opaque block identifier type.
	pub type BlockId = generic::BlockId<Block>;
}

impl_opaque_keys! {
	/// The session keys of a validator: an Aura key to author, a GRANDPA key to vote.
	pub struct SessionKeys {
		pub aura: Aura,
		pub grandpa: Grandpa,
	}
}

/// The address format for describing accounts.
pub type Address = MultiAddress<AccountId, ()>;
/// Block header type as expected by this runtime.
pub type Header = generic::Header<BlockNumber, BlakeTwo256>;
/// Block type as expected by this runtime.
pub type Block = generic::Block<Header, UncheckedExtrinsic>;

/// The transaction extensions: membership first, then the usual FRAME checks, with no fee
/// payment.
pub type TxExtension = (
	permissions::CheckMember<permissions::IsOrchestrator>,
	frame_system::CheckNonZeroSender<Runtime>,
	frame_system::CheckSpecVersion<Runtime>,
	frame_system::CheckTxVersion<Runtime>,
	frame_system::CheckGenesis<Runtime>,
	frame_system::CheckEra<Runtime>,
	frame_system::CheckNonce<Runtime>,
	frame_system::CheckWeight<Runtime>,
);

/// Unchecked extrinsic type as expected by this runtime.
pub type UncheckedExtrinsic =
	generic::UncheckedExtrinsic<Address, RuntimeCall, Signature, TxExtension>;
/// The payload being signed in transactions.
pub type SignedPayload = generic::SignedPayload<RuntimeCall, TxExtension>;

/// All migrations of the runtime, aside from the ones declared in the pallets.
#[allow(unused_parens)]
type Migrations = (pallet_service_registry::migrations::v1::MigrateV0ToV1<Runtime>,);

/// Executive: dispatches calls to the pallets.
pub type Executive = frame_executive::Executive<
	Runtime,
	Block,
	frame_system::ChainContext<Runtime>,
	Runtime,
	AllPalletsWithSystem,
	Migrations,
>;

#[frame_support::runtime]
mod runtime {
	#[runtime::runtime]
	#[runtime::derive(
		RuntimeCall,
		RuntimeEvent,
		RuntimeError,
		RuntimeOrigin,
		RuntimeFreezeReason,
		RuntimeHoldReason,
		RuntimeSlashReason,
		RuntimeLockId,
		RuntimeTask,
		RuntimeViewFunction
	)]
	pub struct Runtime;

	#[runtime::pallet_index(0)]
	pub type System = frame_system;

	#[runtime::pallet_index(1)]
	pub type Timestamp = pallet_timestamp;

	/// Balances only give accounts a provider: there are no fees.
	#[runtime::pallet_index(2)]
	pub type Balances = pallet_balances;

	// The validator set and sessions come before Aura and GRANDPA, whose authorities they set.

	/// The validator set, chosen by governance.
	#[runtime::pallet_index(3)]
	pub type ValidatorSet = pallet_validator_set;

	/// Session keys and rotation; Aura's and GRANDPA's authorities follow it.
	#[runtime::pallet_index(4)]
	pub type Session = pallet_session;

	#[runtime::pallet_index(5)]
	pub type Aura = pallet_aura;

	#[runtime::pallet_index(6)]
	pub type Grandpa = pallet_grandpa;

	/// The orchestrators: the accounts that may write, and whose collective governs.
	#[runtime::pallet_index(7)]
	pub type Orchestrators = pallet_membership<Instance1>;

	/// The orchestrators' collective: a majority of it acts as governance.
	#[runtime::pallet_index(8)]
	pub type Council = pallet_collective<Instance1>;

	/// The peer ids allowed to connect to the validators.
	#[runtime::pallet_index(9)]
	pub type NodeAuthorization = pallet_node_authorization;

	/// Sudo: only the `development` preset sets a key.
	#[runtime::pallet_index(10)]
	pub type Sudo = pallet_sudo;

	/// The registry: leases, service instances, leader elections and the etcd-style key space.
	/// Declared after Aura, whose `on_initialize` stores the slot the registry's clock reads.
	#[runtime::pallet_index(11)]
	pub type ServiceRegistry = pallet_service_registry;

	/// Batches of calls under one signature (the etcd API's group commit).
	#[runtime::pallet_index(12)]
	pub type Utility = pallet_utility;

	/// Root for a two-thirds motion of the collective: runtime upgrades without sudo.
	#[runtime::pallet_index(13)]
	pub type Supermajority = pallet_supermajority;
}
