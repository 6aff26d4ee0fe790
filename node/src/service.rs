//! Assembles the node: database and client, import queue, network, RPC, Aura authoring and the
//! GRANDPA voter.

use std::sync::Arc;

use futures::FutureExt;
use regchain_runtime::{apis::RuntimeApi, opaque::Block};
use sc_client_api::{Backend, BlockBackend};
use sc_consensus_aura::{ImportQueueParams, SlotProportion, StartAuraParams};
use sc_consensus_grandpa::SharedVoterState;
use sc_service::{error::Error as ServiceError, Configuration, TaskManager, WarpSyncConfig};
use sc_telemetry::{Telemetry, TelemetryWorker};
use sc_transaction_pool_api::OffchainTransactionPoolFactory;
use sp_consensus_aura::sr25519::{AuthorityId as AuraId, AuthorityPair as AuraPair};

use crate::cli::ConsensusParams;

use crate::types::{FullBackend, FullClient};
type FullSelectChain = sc_consensus::LongestChain<FullBackend, Block>;

/// The period, in blocks, at which GRANDPA justifications are generated and imported.
const GRANDPA_JUSTIFICATION_PERIOD: u32 = 512;

/// The parts of the node that subcommands (check-block, revert, …) also need.
pub type Service = sc_service::PartialComponents<
	FullClient,
	FullBackend,
	FullSelectChain,
	sc_consensus::DefaultImportQueue<Block>,
	sc_transaction_pool::TransactionPoolHandle<Block, FullClient>,
	(
		sc_consensus_grandpa::GrandpaBlockImport<FullBackend, Block, FullClient, FullSelectChain>,
		sc_consensus_grandpa::LinkHalf<Block, FullClient, FullSelectChain>,
		Option<Telemetry>,
	),
>;

/// Builds the client, the transaction pool and the import queue.
pub fn new_partial(config: &Configuration) -> Result<Service, ServiceError> {
	let telemetry = config
		.telemetry_endpoints
		.clone()
		.filter(|x| !x.is_empty())
		.map(|endpoints| -> Result<_, sc_telemetry::Error> {
			let worker = TelemetryWorker::new(16)?;
			let telemetry = worker.handle().new_telemetry(endpoints);
			Ok((worker, telemetry))
		})
		.transpose()?;

	let executor = sc_service::new_wasm_executor::<sp_io::SubstrateHostFunctions>(&config.executor);
	let (client, backend, keystore_container, task_manager) =
		sc_service::new_full_parts::<Block, RuntimeApi, _>(
			config,
			telemetry.as_ref().map(|(_, telemetry)| telemetry.handle()),
			executor,
			Vec::new(),
		)?;
	let client = Arc::new(client);

	let telemetry = telemetry.map(|(worker, telemetry)| {
		task_manager.spawn_handle().spawn("telemetry", None, worker.run());
		telemetry
	});

	let select_chain = sc_consensus::LongestChain::new(backend.clone());

	let transaction_pool = Arc::from(
		sc_transaction_pool::Builder::new(
			task_manager.spawn_essential_handle(),
			client.clone(),
			config.role.is_authority().into(),
		)
		.with_options(config.transaction_pool.clone())
		.with_prometheus(config.prometheus_registry())
		.build(),
	);

	let (grandpa_block_import, grandpa_link) = sc_consensus_grandpa::block_import(
		client.clone(),
		GRANDPA_JUSTIFICATION_PERIOD,
		&client,
		select_chain.clone(),
		telemetry.as_ref().map(|x| x.handle()),
	)?;

	let cidp_client = client.clone();
	let import_queue = sc_consensus_aura::import_queue::<AuraPair, _, _, _, _, _>(
		ImportQueueParams {
			block_import: grandpa_block_import.clone(),
			justification_import: Some(Box::new(grandpa_block_import.clone())),
			client: client.clone(),
			create_inherent_data_providers: move |parent_hash, _| {
				let cidp_client = cidp_client.clone();
				async move {
					let slot_duration = sc_consensus_aura::standalone::slot_duration_at(
						&*cidp_client,
						parent_hash,
					)?;
					let timestamp = sp_timestamp::InherentDataProvider::from_system_time();
					let slot = sp_consensus_aura::inherents::InherentDataProvider::from_timestamp_and_slot_duration(
						*timestamp,
						slot_duration,
					);
					Ok((slot, timestamp))
				}
			},
			spawner: &task_manager.spawn_essential_handle(),
			registry: config.prometheus_registry(),
			check_for_equivocation: Default::default(),
			telemetry: telemetry.as_ref().map(|x| x.handle()),
			compatibility_mode: Default::default(),
		},
	)?;

	Ok(sc_service::PartialComponents {
		client,
		backend,
		task_manager,
		import_queue,
		keystore_container,
		select_chain,
		transaction_pool,
		other: (grandpa_block_import, grandpa_link, telemetry),
	})
}

/// GRANDPA's voting rule: vote `lag` blocks behind the best block.
///
/// With `lag == 0` the rule is empty and votes target the best block: Aura has one author per
/// slot, so on a LAN the best block is rarely contested and finality trails it by at most one
/// block. A positive lag restores Substrate's behaviour (its default is 2), which also never
/// votes beyond three quarters of the unfinalized chain.
fn voting_rule(
	lag: u32,
) -> impl sc_consensus_grandpa::VotingRule<Block, FullClient> + Clone + Send + Sync + 'static {
	let builder = sc_consensus_grandpa::VotingRulesBuilder::new();
	if lag == 0 {
		builder.build()
	} else {
		builder
			.add(sc_consensus_grandpa::BeforeBestBlockBy(lag))
			.add(sc_consensus_grandpa::ThreeQuartersOfTheUnfinalizedChain)
			.build()
	}
}

/// A JSON-RPC server that could not bind reported as the one line an operator needs (which
/// address, and why), not as Substrate's `Application(Os { code: 98, .. })`.
fn rpc_bind_error(e: ServiceError, addrs: &[String]) -> ServiceError {
	match e {
		ServiceError::Application(inner) if inner.downcast_ref::<std::io::Error>().is_some() => {
			ServiceError::Other(format!(
				"the JSON-RPC server cannot listen on {}: {inner}; choose another port with --rpc-port",
				addrs.join(", ")
			))
		},
		other => other,
	}
}

/// Builds and starts a full node: a validator when `--validator` (or `--dev`) is given.
pub fn new_full<
	N: sc_network::NetworkBackend<Block, <Block as sp_runtime::traits::Block>::Hash>,
>(
	mut config: Configuration,
	consensus: ConsensusParams,
	etcd: crate::etcd::EtcdParams,
	dev: bool,
) -> Result<TaskManager, ServiceError> {
	// The development keys (`--alice`...) go in the keystore here, as seeds, instead of being
	// left to `spawn_tasks` (see `insert_dev_keys`).
	let dev_key_seed = config.dev_key_seed.take();
	let sc_service::PartialComponents {
		client,
		backend,
		mut task_manager,
		import_queue,
		keystore_container,
		select_chain,
		transaction_pool,
		other: (block_import, grandpa_link, mut telemetry),
	} = new_partial(&config)?;

	if let Some(seed) = &dev_key_seed {
		insert_dev_keys(&keystore_container.keystore(), seed)?;
	}

	let mut net_config = sc_network::config::FullNetworkConfiguration::<
		Block,
		<Block as sp_runtime::traits::Block>::Hash,
		N,
	>::new(&config.network, config.prometheus_registry().cloned());
	let metrics = N::register_notification_metrics(config.prometheus_registry());

	let peer_store_handle = net_config.peer_store_handle();
	let genesis_hash = client
		.block_hash(0)
		.ok()
		.flatten()
		.ok_or_else(|| ServiceError::Other("the database holds no genesis block".into()))?;
	let grandpa_protocol_name =
		sc_consensus_grandpa::protocol_standard_name(&genesis_hash, &config.chain_spec);
	let (grandpa_protocol_config, grandpa_notification_service) =
		sc_consensus_grandpa::grandpa_peers_set_config::<_, N>(
			grandpa_protocol_name.clone(),
			metrics.clone(),
			peer_store_handle,
		);
	net_config.add_notification_protocol(grandpa_protocol_config);

	let (read_index_config, read_index_requests) =
		crate::read_index::protocol_config::<N>(&genesis_hash);
	net_config.add_request_response_protocol(read_index_config);

	let warp_sync = Arc::new(sc_consensus_grandpa::warp_proof::NetworkProvider::new(
		backend.clone(),
		grandpa_link.shared_authority_set().clone(),
		Vec::default(),
	));

	let (network, system_rpc_tx, tx_handler_controller, sync_service, _bitswap) =
		sc_service::build_network(sc_service::BuildNetworkParams {
			config: &config,
			net_config,
			client: client.clone(),
			transaction_pool: transaction_pool.clone(),
			spawn_handle: task_manager.spawn_handle(),
			spawn_essential_handle: task_manager.spawn_essential_handle(),
			import_queue,
			block_announce_validator_builder: None,
			warp_sync_config: Some(WarpSyncConfig::WithProvider(warp_sync)),
			block_relay: None,
			metrics,
			gap_sync_body_policy: None,
		})?;

	if config.offchain_worker.enabled {
		let offchain_workers =
			sc_offchain::OffchainWorkers::new(sc_offchain::OffchainWorkerOptions {
				runtime_api_provider: client.clone(),
				is_validator: config.role.is_authority(),
				keystore: Some(keystore_container.keystore()),
				offchain_db: backend.offchain_storage(),
				transaction_pool: Some(OffchainTransactionPoolFactory::new(
					transaction_pool.clone(),
				)),
				network_provider: Arc::new(network.clone()),
				enable_http_requests: false,
				custom_extensions: |_| vec![],
			})?;
		task_manager.spawn_handle().spawn(
			"offchain-workers-runner",
			"offchain-worker",
			offchain_workers.run(client.clone(), task_manager.spawn_handle()).boxed(),
		);
	}

	// Aura's slot duration, read once from the runtime: for authoring, and the read index's clock.
	let slot_duration = sc_consensus_aura::slot_duration::<AuraId, _, _>(&*client)?;

	// Linearizable reads (`registry_readIndex`), confirmed by the GRANDPA voters.
	let (read_index, reads) = crate::read_index::ReadIndex::new(
		client.clone(),
		network.clone(),
		sync_service.clone(),
		keystore_container.keystore(),
		grandpa_link.shared_authority_set().clone(),
		genesis_hash,
		slot_duration,
		consensus.unsafe_read_index_lies,
	);
	task_manager.spawn_handle().spawn(
		"read-index",
		Some("registry"),
		read_index.clone().serve(read_index_requests),
	);
	task_manager.spawn_handle().spawn(
		"read-index-rounds",
		Some("registry"),
		read_index.clone().run_rounds(reads),
	);

	let role = config.role;
	let force_authoring = config.force_authoring;
	let name = config.network.node_name.clone();
	let enable_grandpa = !config.disable_grandpa;
	let prometheus_registry = config.prometheus_registry().cloned();

	// The registry's revision/event index, filled as blocks are finalized, for `registry_*`.
	let registry_index = crate::registry_rpc::index::Index::new(
		client.clone(),
		backend.clone(),
		crate::registry_rpc::index::history_window(config.state_pruning.as_ref()),
	);
	task_manager.spawn_handle().spawn_blocking(
		"registry-indexer",
		Some("registry"),
		registry_index.clone().run(),
	);

	// The etcd API reads through the same handler as the registry RPC, in this process.
	let etcd_registry =
		Arc::new(crate::registry_rpc::Registry::new(client.clone(), registry_index.clone()));
	let etcd_read_index = read_index.clone();

	let rpc_extensions_builder = {
		let client = client.clone();
		let pool = transaction_pool.clone();

		Box::new(move |_| {
			let deps = crate::rpc::FullDeps {
				client: client.clone(),
				pool: pool.clone(),
				registry: crate::registry_rpc::Registry::new(
					client.clone(),
					registry_index.clone(),
				),
				read_index: read_index.clone(),
			};
			crate::rpc::create_full(deps).map_err(Into::into)
		})
	};

	let node_name = config.network.node_name.clone();
	let rpc_addrs: Vec<String> = (config.rpc.addr.iter().flatten())
		.filter(|endpoint| !endpoint.is_optional)
		.map(|endpoint| endpoint.listen_addr.to_string())
		.collect();
	let rpc_handlers = sc_service::spawn_tasks(sc_service::SpawnTasksParams {
		network: network.clone(),
		client: client.clone(),
		keystore: keystore_container.keystore(),
		task_manager: &mut task_manager,
		transaction_pool: transaction_pool.clone(),
		rpc_builder: rpc_extensions_builder,
		backend,
		system_rpc_tx,
		tx_handler_controller,
		sync_service: sync_service.clone(),
		config,
		telemetry: telemetry.as_mut(),
		tracing_execute_block: None,
	})
	.map_err(|e| rpc_bind_error(e, &rpc_addrs))?;

	let etcd_node = crate::etcd::NodeContext {
		dev,
		dev_key_seed: dev_key_seed.clone(),
		rpc_listen: rpc_handlers.listen_addresses().to_vec(),
		name: node_name,
		client: client.clone(),
		registry: etcd_registry,
		read_index: etcd_read_index,
	};
	crate::etcd::start(&etcd, etcd_node, &task_manager.spawn_handle())?;

	if role.is_authority() {
		let proposer_factory = sc_basic_authorship::ProposerFactory::new(
			task_manager.spawn_handle(),
			client.clone(),
			transaction_pool.clone(),
			prometheus_registry.as_ref(),
			telemetry.as_ref().map(|x| x.handle()),
		);

		let aura = sc_consensus_aura::start_aura::<AuraPair, _, _, _, _, _, _, _, _, _, _>(
			StartAuraParams {
				slot_duration,
				client,
				select_chain,
				block_import,
				proposer_factory,
				create_inherent_data_providers: move |_, ()| async move {
					let timestamp = sp_timestamp::InherentDataProvider::from_system_time();
					let slot = sp_consensus_aura::inherents::InherentDataProvider::from_timestamp_and_slot_duration(
						*timestamp,
						slot_duration,
					);
					Ok((slot, timestamp))
				},
				force_authoring,
				backoff_authoring_blocks: Option::<()>::None,
				keystore: keystore_container.keystore(),
				sync_oracle: sync_service.clone(),
				justification_sync_link: sync_service.clone(),
				block_proposal_slot_portion: SlotProportion::new(2f32 / 3f32),
				max_block_proposal_slot_portion: None,
				telemetry: telemetry.as_ref().map(|x| x.handle()),
				compatibility_mode: Default::default(),
			},
		)?;

		// Authoring is essential: if it fails, the node stops.
		task_manager
			.spawn_essential_handle()
			.spawn_blocking("aura", Some("block-authoring"), aura);
	}

	if enable_grandpa {
		// Only an authority votes, so only it needs the keystore.
		let keystore = if role.is_authority() { Some(keystore_container.keystore()) } else { None };

		let grandpa_config = sc_consensus_grandpa::Config {
			gossip_duration: consensus.gossip_duration(),
			justification_generation_period: GRANDPA_JUSTIFICATION_PERIOD,
			name: Some(name),
			observer_enabled: false,
			keystore,
			local_role: role,
			telemetry: telemetry.as_ref().map(|x| x.handle()),
			protocol_name: grandpa_protocol_name,
		};

		let grandpa_params = sc_consensus_grandpa::GrandpaParams {
			config: grandpa_config,
			link: grandpa_link,
			network,
			sync: sync_service,
			notification_service: grandpa_notification_service,
			voting_rule: voting_rule(consensus.grandpa_vote_lag),
			prometheus_registry,
			shared_voter_state: SharedVoterState::empty(),
			telemetry: telemetry.as_ref().map(|x| x.handle()),
			offchain_tx_pool_factory: OffchainTransactionPoolFactory::new(transaction_pool),
		};

		// The voter is essential: if it fails, the node stops.
		task_manager.spawn_essential_handle().spawn_blocking(
			"grandpa-voter",
			None,
			sc_consensus_grandpa::run_grandpa_voter(grandpa_params)?,
		);
	}

	Ok(task_manager)
}

/// Puts the Aura and GRANDPA keys of the development secret URI `seed` (`//Alice` for
/// `--alice`) in the keystore, as the raw seeds they derive to.
///
/// Substrate would insert `seed` itself, and its keystore derives a key again from what it
/// holds at every signature: from `//Alice` that is BIP-39's 2,048 rounds of PBKDF2-SHA-512 each
/// time, for every Aura block and every GRANDPA vote. That was about a quarter of an idle
/// validator's CPU here (docs/results.md, "Where the CPU goes"). A URI with only soft
/// derivations has no seed of its own and is inserted as it is.
fn insert_dev_keys(keystore: &sp_keystore::KeystorePtr, seed: &str) -> Result<(), ServiceError> {
	use sp_core::{crypto::key_types, ed25519, sr25519, Pair};
	fn insert<P: Pair>(
		keystore: &sp_keystore::KeystorePtr,
		key_type: sp_core::crypto::KeyTypeId,
		uri: &str,
	) -> Result<(), ServiceError> {
		let bad = |e: String| ServiceError::Other(format!("development key {uri}: {e}"));
		let (pair, seed) =
			P::from_string_with_seed(uri, None).map_err(|e| bad(format!("{e:?}")))?;
		let suri = match seed {
			Some(seed) => sp_core::bytes::to_hex(seed.as_ref(), false),
			None => uri.to_string(),
		};
		keystore
			.insert(key_type, &suri, pair.public().as_ref())
			.map_err(|()| bad("the keystore refused it".into()))
	}
	insert::<sr25519::Pair>(keystore, key_types::AURA, seed)?;
	insert::<ed25519::Pair>(keystore, key_types::GRANDPA, seed)
}
