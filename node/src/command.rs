//! Parses the command line and runs the node or the chosen subcommand.

use crate::{
	chain_spec,
	cli::{Cli, Subcommand},
	service,
};
use regchain_runtime::opaque::Block;
use sc_cli::SubstrateCli;
use sc_service::{Configuration, PartialComponents, PruningMode};

impl SubstrateCli for Cli {
	fn impl_name() -> String {
		"regchain node".into()
	}

	fn impl_version() -> String {
		env!("SUBSTRATE_CLI_IMPL_VERSION").into()
	}

	fn description() -> String {
		env!("CARGO_PKG_DESCRIPTION").into()
	}

	fn author() -> String {
		env!("CARGO_PKG_AUTHORS").into()
	}

	fn support_url() -> String {
		"https://github.com/regchain/regchain/issues".into()
	}

	fn copyright_start_year() -> i32 {
		2026
	}

	fn load_spec(&self, id: &str) -> Result<Box<dyn sc_service::ChainSpec>, String> {
		Ok(match id {
			"dev" => Box::new(chain_spec::development_chain_spec()?),
			"" | "local" => Box::new(chain_spec::local_chain_spec()?),
			path => Box::new(
				chain_spec::ChainSpec::from_json_file(std::path::PathBuf::from(path)).map_err(
					|e| {
						format!("--chain {path}: not `dev` or `local`, nor a valid chain spec file: {e}")
					},
				)?,
			),
		})
	}
}

use crate::types::DEFAULT_STATE_HISTORY;

/// Applies [`DEFAULT_STATE_HISTORY`] when `--state-pruning` is absent and the database is new.
///
/// An existing database keeps the mode it was created with, as in any Substrate node: forcing a
/// window on an archive database would make it refuse to open.
fn default_state_pruning(mut config: Configuration) -> Configuration {
	let database_exists = config.database.path().is_some_and(|path| path.exists());
	if config.state_pruning.is_none() && !database_exists {
		config.state_pruning = Some(PruningMode::blocks_pruning(DEFAULT_STATE_HISTORY));
	}
	config
}

/// With an explicit `--rpc-port`, the JSON-RPC server listens on that port or the node does not
/// start, as etcd does with `--listen-client-urls`. Substrate would otherwise move to a random
/// port without a word when the port is taken, and every client configured with it (regchainctl,
/// the etcd API's gateway, a load balancer) would silently miss the node.
fn strict_rpc_port(mut config: Configuration, explicit: bool) -> Configuration {
	if explicit {
		for endpoint in config.rpc.addr.iter_mut().flatten() {
			endpoint.retry_random_port = false;
		}
	}
	config
}

/// The network backend the node uses unless `--network-backend` says otherwise: libp2p, not
/// Substrate's default litep2p, which left a restarted validator's link to a reserved peer
/// down for over a minute in 2 of 21 restarts measured here (docs/guide.md, "Validator
/// connectivity").
const DEFAULT_NETWORK_BACKEND: &str = "libp2p";

/// The transaction pool the node uses unless `--pool-type` says otherwise: the single-state
/// pool, not Substrate's default fork-aware one. Under `etcdctl check perf --load=s` through
/// four validators it left fewer writes over 500 ms (79 against 122 in three runs each) and a
/// lower standard deviation, and it has none of the fork-aware pool's races between a
/// submission and a new view (docs/results.md, "The tail under load").
const DEFAULT_POOL_TYPE: &str = "single-state";

/// The shared trie cache the node keeps unless `--trie-cache-size` says otherwise: 64 MiB, not
/// Substrate's 1 GiB. Every block writes new trie nodes, and the cache keeps them until it is
/// full, so an idle validator's memory grew for hours towards that 1 GiB; a control-plane
/// registry's hot state fits in far less (docs/results.md, "A validator over hours").
const DEFAULT_TRIE_CACHE_BYTES: &str = "67108864";

/// The command line, parsed as [`SubstrateCli::from_args`] does, with regchain's default
/// network backend, transaction pool and trie cache.
fn parse() -> Cli {
	use clap::{CommandFactory, FromArgMatches};
	let command = Cli::setup_command(Cli::command())
		.mut_arg("network_backend", |arg| {
			arg.default_value(DEFAULT_NETWORK_BACKEND).long_help(
				"Network backend used for P2P networking: libp2p (regchain's default) or litep2p \
				 (Substrate's). With litep2p, a restarted validator's link to a reserved peer stayed \
				 down for over a minute in 2 of 21 restarts measured (docs/guide.md, \"Validator \
				 connectivity\").",
			)
		})
		.mut_arg("pool_type", |arg| {
			arg.default_value(DEFAULT_POOL_TYPE).long_help(
				"The transaction pool: single-state (regchain's default) or fork-aware \
				 (Substrate's). Under load the single-state pool left fewer writes waiting an \
				 extra block (docs/results.md, \"The tail under load\").",
			)
		})
		.mut_arg("trie_cache_size", |arg| {
			arg.default_value(DEFAULT_TRIE_CACHE_BYTES).long_help(
				"The shared trie cache, in bytes: 64 MiB by default (Substrate's is 1 GiB). Every \
				 block adds trie nodes to it until it is full, so this bounds how far an idle \
				 validator's memory grows (docs/results.md, \"A validator over hours\"). 0 \
				 disables it.",
			)
		});
	let matches = command.get_matches();
	Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

/// Parses the command line and runs it.
pub fn run() -> sc_cli::Result<()> {
	let cli = parse();

	match &cli.subcommand {
		Some(Subcommand::Key(cmd)) => cmd.run(&cli),
		Some(Subcommand::ExportChainSpec(cmd)) => {
			let chain_spec = cli.load_spec(&cmd.chain)?;
			cmd.run(chain_spec)
		},
		Some(Subcommand::BuildSpec(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.sync_run(|config| cmd.run(config.chain_spec, config.network))
		},
		Some(Subcommand::CheckBlock(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.async_run(|config| {
				let PartialComponents { client, task_manager, import_queue, .. } =
					service::new_partial(&config)?;
				Ok((cmd.run(client, import_queue), task_manager))
			})
		},
		Some(Subcommand::ExportBlocks(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.async_run(|config| {
				let PartialComponents { client, task_manager, .. } = service::new_partial(&config)?;
				Ok((cmd.run(client, config.database), task_manager))
			})
		},
		Some(Subcommand::ExportState(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.async_run(|config| {
				let PartialComponents { client, task_manager, .. } = service::new_partial(&config)?;
				Ok((cmd.run(client, config.chain_spec), task_manager))
			})
		},
		Some(Subcommand::ImportBlocks(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.async_run(|config| {
				let PartialComponents { client, task_manager, import_queue, .. } =
					service::new_partial(&config)?;
				Ok((cmd.run(client, import_queue), task_manager))
			})
		},
		Some(Subcommand::PurgeChain(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.sync_run(|config| cmd.run(config.database))
		},
		Some(Subcommand::Revert(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.async_run(|config| {
				let PartialComponents { client, task_manager, backend, .. } =
					service::new_partial(&config)?;
				let aux_revert = Box::new(|client, _, blocks| {
					sc_consensus_grandpa::revert(client, blocks)?;
					Ok(())
				});
				Ok((cmd.run(client, backend, Some(aux_revert)), task_manager))
			})
		},
		Some(Subcommand::ChainInfo(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.sync_run(|config| cmd.run::<Block>(&config))
		},
		None => {
			let runner = cli.create_runner(&cli.run.base)?;
			let consensus = cli.run.consensus.clone();
			let etcd = cli.run.etcd.clone();
			let dev = cli.run.base.shared_params.is_dev();
			let explicit_rpc_port = cli.run.base.rpc_params.rpc_port.is_some();
			runner.run_node_until_exit(|config| async move {
				let config = strict_rpc_port(default_state_pruning(config), explicit_rpc_port);
				match config.network.network_backend {
					sc_network::config::NetworkBackendType::Libp2p => {
						service::new_full::<
							sc_network::NetworkWorker<
								Block,
								<Block as sp_runtime::traits::Block>::Hash,
							>,
						>(config, consensus, etcd, dev)
					},
					sc_network::config::NetworkBackendType::Litep2p => {
						service::new_full::<sc_network::Litep2pNetworkBackend>(
							config, consensus, etcd, dev,
						)
					},
				}
				.map_err(sc_cli::Error::Service)
			})
		},
	}
}
