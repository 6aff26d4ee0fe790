//! # regchain-client
//!
//! A Rust client for regchain, the permissioned chain that keeps an orchestrator's registry
//! (leases, service instances, leader elections and an etcd-style key space), and the library
//! behind `regchainctl`, its command line.
//!
//! ## What it does
//!
//! - **Connects** ([`Client::connect`]) to a node's JSON-RPC endpoint, `ws://` or `http://`,
//!   and refuses a node whose runtime (spec and transaction version) is not the one this client
//!   was built with: the calls it signs would be refused or, worse, mean something else.
//! - **Signs** with an sr25519 key from a secret URI (`//Alice`), a BIP-39 mnemonic, a `0x` seed
//!   or a key file holding any of these ([`Signer`]).
//! - **Submits** the registry's calls ([`Client::put`], [`Client::grant_lease`],
//!   [`Client::campaign`]...) and follows each transaction until it is in a best block or
//!   finalized, as the caller chooses ([`Wait`]). The result (revision, lease id, term) is read
//!   from the events the extrinsic emitted in that block ([`Receipt`]). A failed call is reported
//!   with the pallet's error name (`ServiceRegistry::LeaseNotFound`); a transaction the pool
//!   refuses, invalidates or drops is an error, never waited on forever (see [`submit`]).
//! - **Reads and watches** through the node's `registry_*` JSON-RPC methods (`docs/rpc.md`):
//!   [`Client::range`], [`Client::instances`], [`Client::election`], [`Client::history`],
//!   [`Client::subscribe_keys`]...
//! - **Recipes** built only from those primitives, as etcd's `concurrency` package is built on
//!   KV, Lease and Watch: [`LeaseKeeper`], [`Election`] (with fenced writes) and a [`Watch`] that
//!   reconnects and resumes from the last revision it saw.
//!
//! ## Why jsonrpsee and not subxt
//!
//! subxt decodes everything from the node's metadata at run time and brings its own large
//! dependency tree (scale-decode, scale-encode, frame-metadata, subxt-core, its own signer). This
//! client lives in the same workspace as the runtime, so it links `regchain-runtime` natively
//! and uses its real types: `RuntimeCall` to build calls, the runtime's `TxExtension` to sign,
//! `RuntimeEvent` and `RuntimeError` to decode results. Nothing has to be generated or looked up,
//! a change to a call is a compile error here rather than a run-time surprise, and the only new
//! dependency is jsonrpsee's client half (the node already uses its server half, at the same
//! version). The price is that a client must be rebuilt with the runtime it talks to, which
//! [`Client::connect`] checks.

#![warn(missing_docs)]

pub mod batch;
mod blocks;
mod client;
pub mod error;
pub mod extrinsic;
pub mod hex;
pub mod reads;
pub mod recipes;
pub mod rpc;
pub mod signer;
pub mod submit;
pub mod txn;

pub use batch::Batcher;
pub use client::{term_is, Client, ConnectOptions, TxnOutcome};
pub use error::Error;
pub use reads::{prefix_range_end, ChangeStream, WatchTarget};
pub use recipes::{
	election::{Election, ElectionTerm},
	lease_keeper::{LeaseKeeper, LeaseStatus},
	watch::Watch,
};
/// The registry RPC's wire types, declared once for the node and its clients.
pub use regchain_rpc_api::types::*;
pub use regchain_rpc_api::{self as rpc_api, error::RevisionUnavailable};
pub use signer::Signer;
pub use submit::{Receipt, Wait};

/// The registry pallet's types (compares, txn operations, health).
pub use pallet_service_registry as registry;
/// The runtime's types this client speaks.
pub use regchain_runtime as runtime;

/// The log target of this crate.
pub const LOG_TARGET: &str = "regchain-client";

/// A lease id.
pub type LeaseId = pallet_service_registry::LeaseId;
/// A key-space revision.
pub type Revision = pallet_service_registry::Revision;
