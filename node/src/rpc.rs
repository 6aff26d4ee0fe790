//! The node's JSON-RPC extensions, beside the methods Substrate's service provides.

#![warn(missing_docs)]

use std::sync::Arc;

use jsonrpsee::RpcModule;
use regchain_runtime::{opaque::Block, AccountId, Nonce};
use sc_transaction_pool_api::TransactionPool;
use sp_api::ProvideRuntimeApi;
use sp_block_builder::BlockBuilder;
use sp_blockchain::{Error as BlockChainError, HeaderBackend, HeaderMetadata};

/// What the RPC extensions need from the node.
pub struct FullDeps<C, P> {
	/// The client instance to use.
	pub client: Arc<C>,
	/// Transaction pool instance.
	pub pool: Arc<P>,
	/// The registry's `registry_*` methods.
	pub registry: crate::registry_rpc::Registry,
	/// `registry_readIndex`, for linearizable reads.
	pub read_index: Arc<crate::read_index::ReadIndex>,
}

/// Builds the RPC extensions: `system_accountNextIndex` and friends, and the place where the
/// registry's `registry_*` methods are merged.
pub fn create_full<C, P>(
	deps: FullDeps<C, P>,
) -> Result<RpcModule<()>, Box<dyn std::error::Error + Send + Sync>>
where
	C: ProvideRuntimeApi<Block>
		+ HeaderBackend<Block>
		+ HeaderMetadata<Block, Error = BlockChainError>
		+ Send
		+ Sync
		+ 'static,
	C::Api: substrate_frame_rpc_system::AccountNonceApi<Block, AccountId, Nonce>,
	C::Api: BlockBuilder<Block>,
	P: TransactionPool + 'static,
{
	use substrate_frame_rpc_system::{System, SystemApiServer};

	let mut module = RpcModule::new(());
	let FullDeps { client, pool, registry, read_index } = deps;

	module.merge(System::new(client, pool).into_rpc())?;

	// The registry RPC (`registry_*` methods and subscriptions); see `docs/rpc.md`.
	{
		use regchain_rpc_api::RegistryApiServer;
		module.merge(registry.into_rpc())?;
	}
	{
		use crate::read_index::ReadIndexRpc;
		use regchain_rpc_api::ReadIndexApiServer;
		module.merge(ReadIndexRpc(read_index).into_rpc())?;
	}

	Ok(module)
}
