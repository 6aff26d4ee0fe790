//! Signed extrinsics of the regchain runtime, built and signed off-chain for tests and probes.

use codec::Encode;
use regchain_runtime::{
	Nonce, RuntimeCall, SignedPayload, TxExtension, UncheckedExtrinsic, VERSION,
};
use sp_core::{crypto::Pair as _, sr25519, H256};
use sp_runtime::generic::Era;

/// Signs `call` with `signer` at `nonce`, as an immortal transaction of the chain whose genesis
/// hash is `genesis`. Returns the SCALE-encoded extrinsic, ready for `author_submitExtrinsic`.
pub fn signed(call: RuntimeCall, signer: &sr25519::Pair, nonce: Nonce, genesis: H256) -> Vec<u8> {
	let tx_ext: TxExtension = (
		regchain_runtime::permissions::CheckMember::new(),
		frame_system::CheckNonZeroSender::new(),
		frame_system::CheckSpecVersion::new(),
		frame_system::CheckTxVersion::new(),
		frame_system::CheckGenesis::new(),
		frame_system::CheckEra::from(Era::Immortal),
		frame_system::CheckNonce::from(nonce),
		frame_system::CheckWeight::new(),
	);
	let implicit =
		((), (), VERSION.spec_version, VERSION.transaction_version, genesis, genesis, (), ());
	let payload = SignedPayload::from_raw(call.clone(), tx_ext.clone(), implicit);
	let signature = payload.using_encoded(|bytes| signer.sign(bytes));
	let account: regchain_runtime::AccountId = signer.public().into();
	UncheckedExtrinsic::new_signed(call, account.into(), signature.into(), tx_ext).encode()
}

/// A `system.remark` carrying `data`.
pub fn remark(data: Vec<u8>) -> RuntimeCall {
	RuntimeCall::System(frame_system::Call::remark { remark: data })
}

/// `0x`-prefixed hex of `bytes`, as JSON-RPC expects.
pub fn to_hex(bytes: &[u8]) -> String {
	format!("0x{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// Parses `0x`-prefixed (or bare) hex, as JSON-RPC returns bytes.
pub fn from_hex(text: &str) -> anyhow::Result<Vec<u8>> {
	let digits = text.trim_start_matches("0x");
	anyhow::ensure!(digits.len() % 2 == 0, "odd number of hex digits: {text}");
	(0..digits.len() / 2)
		.map(|i| Ok(u8::from_str_radix(&digits[2 * i..2 * i + 2], 16)?))
		.collect()
}

/// Parses a `0x`-prefixed 32-byte hash.
pub fn parse_hash(text: &str) -> anyhow::Result<H256> {
	let bytes: [u8; 32] = from_hex(text)?
		.try_into()
		.map_err(|_| anyhow::anyhow!("not a 32-byte hash: {text}"))?;
	Ok(H256(bytes))
}
