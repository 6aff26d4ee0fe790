//! Command-line options: Substrate's usual ones plus regchain's consensus tuning.

use std::time::Duration;

/// Consensus options tuned for orchestrators on a LAN.
#[derive(Debug, Clone, clap::Args)]
pub struct ConsensusParams {
	/// How many blocks behind the best block GRANDPA votes.
	///
	/// 0 votes for the best block itself: with Aura's single author per slot, on a LAN, this
	/// lets finality trail the best block by at most one block. Substrate's default is 2.
	#[arg(long, value_name = "BLOCKS", default_value_t = 0)]
	pub grandpa_vote_lag: u32,

	/// How often GRANDPA gossips its votes, in milliseconds.
	///
	/// 20 ms suits a LAN with 250 ms blocks; Substrate's template uses 333 ms.
	#[arg(long, value_name = "MS", default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
	pub grandpa_gossip_ms: u64,

	/// For tests only: answer peers' read-index requests as a Byzantine voter would.
	///
	/// Each answer claims the height `u32::MAX` and is flawed in turn: validly signed, signed for
	/// another chain, signed over the previous request's nonce, and signed for the next
	/// authority set. Honest nodes must refuse every one (docs/architecture.md, threat model).
	/// Hidden from `--help`: it gives an operator nothing a modified binary would not.
	#[arg(long, hide = true)]
	pub unsafe_read_index_lies: bool,
}

impl ConsensusParams {
	/// GRANDPA's gossip period.
	pub fn gossip_duration(&self) -> Duration {
		Duration::from_millis(self.grandpa_gossip_ms)
	}
}

/// Runs the node: Substrate's `run` options plus [`ConsensusParams`].
#[derive(Debug, clap::Parser)]
pub struct RunCmd {
	#[allow(missing_docs)]
	#[clap(flatten)]
	pub base: sc_cli::RunCmd,

	#[allow(missing_docs)]
	#[clap(flatten)]
	pub consensus: ConsensusParams,

	#[allow(missing_docs)]
	#[clap(flatten)]
	pub etcd: crate::etcd::EtcdParams,
}

/// The regchain node's command line.
#[derive(Debug, clap::Parser)]
pub struct Cli {
	/// A subcommand; without one, the node runs.
	#[command(subcommand)]
	pub subcommand: Option<Subcommand>,

	#[allow(missing_docs)]
	#[clap(flatten)]
	pub run: RunCmd,
}

/// The subcommands of `regchain-node`.
#[derive(Debug, clap::Subcommand)]
#[allow(clippy::large_enum_variant)]
pub enum Subcommand {
	/// Key management commands.
	#[command(subcommand)]
	Key(sc_cli::KeySubcommand),

	/// Export a chain spec for `--chain`, from a preset (`dev`, `local`) or a spec file.
	ExportChainSpec(sc_cli::ExportChainSpecCmd),

	/// Build a chain specification (deprecated: use `export-chain-spec`).
	BuildSpec(sc_cli::BuildSpecCmd),

	/// Validate blocks.
	CheckBlock(sc_cli::CheckBlockCmd),

	/// Export blocks.
	ExportBlocks(sc_cli::ExportBlocksCmd),

	/// Export the state of a given block into a chain spec.
	ExportState(sc_cli::ExportStateCmd),

	/// Import blocks.
	ImportBlocks(sc_cli::ImportBlocksCmd),

	/// Remove the whole chain.
	PurgeChain(sc_cli::PurgeChainCmd),

	/// Revert the chain to a previous state.
	Revert(sc_cli::RevertCmd),

	/// Database meta columns information.
	ChainInfo(sc_cli::ChainInfoCmd),
}
