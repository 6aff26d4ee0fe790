//! Signed extrinsics of the regchain runtime, built and signed off-chain for tests and probes.
//!
//! The builder lives in `regchain-client` (one copy for the client, `regchainctl` and the
//! tests); this module re-exports it with the helpers tests use.

use regchain_runtime::RuntimeCall;

pub use regchain_client::{
	extrinsic::signed,
	hex::{from_hex, parse_hash, to_hex},
};

/// A `system.remark` carrying `data`.
pub fn remark(data: Vec<u8>) -> RuntimeCall {
	RuntimeCall::System(frame_system::Call::remark { remark: data })
}
