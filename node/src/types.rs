//! The node's concrete types and defaults that its components share: the one place they take
//! them from, so that no component imports the assembly (`service.rs`) or the command line
//! (`command.rs`).

use regchain_runtime::{apis::RuntimeApi, opaque::Block, HOURS};

/// The client: the chain's database, its runtime and the native host functions.
pub type FullClient = sc_service::TFullClient<
	Block,
	RuntimeApi,
	sc_executor::WasmExecutor<sp_io::SubstrateHostFunctions>,
>;

/// The database backend.
pub type FullBackend = sc_service::TFullBackend<Block>;

/// The state history a new database keeps unless told otherwise: one hour of blocks.
///
/// Older states are pruned; later layers (watch replay, etcd's compaction) use this window as
/// their horizon. `--state-pruning archive` keeps everything.
pub const DEFAULT_STATE_HISTORY: u32 = HOURS;
