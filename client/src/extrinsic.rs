//! Signed extrinsics of the regchain runtime, built and signed off-chain.
//!
//! The runtime's transaction extensions come first with `CheckMember` (membership of the
//! orchestrators, checked at the pool's door), then the usual FRAME checks. There are no fees,
//! hence no payment extension.

use codec::Encode;
use regchain_runtime::{
	Nonce, RuntimeCall, SignedPayload, TxExtension, UncheckedExtrinsic, VERSION,
};
use sp_core::{crypto::Pair as _, sr25519, H256};
use sp_runtime::generic::Era;

/// Signs `call` with `signer` at `nonce`, as an immortal transaction of the chain whose genesis
/// hash is `genesis`, for its runtime at `spec_version` (the node's: it changes with every
/// runtime upgrade) and the transaction format this crate was built with. Returns the
/// SCALE-encoded extrinsic, ready for `author_submitExtrinsic`.
pub fn signed(
	call: RuntimeCall,
	signer: &sr25519::Pair,
	nonce: Nonce,
	genesis: H256,
	spec_version: u32,
) -> Vec<u8> {
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
	let implicit = ((), (), spec_version, VERSION.transaction_version, genesis, genesis, (), ());
	let payload = SignedPayload::from_raw(call.clone(), tx_ext.clone(), implicit);
	let signature = payload.using_encoded(|bytes| signer.sign(bytes));
	let account: regchain_runtime::AccountId = signer.public().into();
	UncheckedExtrinsic::new_signed(call, account.into(), signature.into(), tx_ext).encode()
}
