//! `regchainctl`: regchain's command line, what etcdctl is to etcd.
//!
//! Every command connects to one node (the first of `--endpoint` that answers), reads through
//! the node's `registry_*` JSON-RPC, and writes by signing the registry's calls with
//! `--key`/`--keyfile` (or `REGCHAIN_KEY`), waiting for inclusion or finality (`--wait`).
//! Output is for people by default and JSON with `--output json` (one object per line for
//! streams). Errors are one line on stderr and a non-zero exit status.

mod agent;
mod commands;
mod output;

use std::{path::PathBuf, process::ExitCode, time::Duration};

use clap::{Args, Parser, Subcommand, ValueEnum};
use regchain_client::{Client, ConnectOptions, Signer, Wait};

/// The endpoint when none is given: a node on this machine with the default RPC port.
pub const DEFAULT_ENDPOINT: &str = "ws://127.0.0.1:9944";

#[derive(Parser, Debug)]
#[command(
	name = "regchainctl",
	version,
	about = "Register, discover, elect, watch and audit on a regchain node",
	long_about = "regchainctl talks to one regchain node over its JSON-RPC: the first of --endpoint \
	that can be reached. A watch, an agent or a lease keep-alive that loses its node goes on \
	through the next one.\n\n\
	Reads (get, service list, elect leader, lease ttl, watch, history) need no key. Writes sign \
	the registry's calls and need a key: --key SECRET_URI (a development name such as //Alice, \
	a BIP-39 mnemonic or a 0x seed), --keyfile FILE (a file holding one of these) or the \
	REGCHAIN_KEY environment variable. There is no default key; on a development chain \
	(`regchain-node --dev`) use --key //Alice, its only orchestrator.\n\n\
	Keys and values on the command line are UTF-8 strings. Text output prints them as text \
	when they are printable UTF-8, else as 0x hex; --output json prints JSON with bytes in 0x \
	hex, as the node's RPC does."
)]
struct Cli {
	/// The node's JSON-RPC URL (ws:// for watches and transactions; http:// works for reads and
	/// for writes, which are then followed by polling). Several, comma-separated (or the option
	/// repeated): each command uses the first that can be reached, and a watch, an agent or a
	/// lease keep-alive that loses its node goes on through the next.
	#[arg(
		long,
		visible_alias = "endpoints",
		value_name = "URL[,URL...]",
		global = true,
		env = "REGCHAIN_ENDPOINT",
		value_delimiter = ',',
		default_value = DEFAULT_ENDPOINT
	)]
	endpoint: Vec<String>,

	/// The signing key: a secret URI (//Alice), a BIP-39 mnemonic or a 0x seed.
	#[arg(
		long = "key",
		id = "signing_key",
		value_name = "SECRET_URI",
		global = true,
		env = "REGCHAIN_KEY",
		hide_env_values = true,
		conflicts_with = "keyfile"
	)]
	key: Option<String>,

	/// A file holding the signing key (a secret URI, a mnemonic or a 0x seed), or a node's
	/// keystore file (`<base-path>/chains/<chain>/keystore/<key type><public key>`, a JSON string).
	#[arg(long, value_name = "FILE", global = true, env = "REGCHAIN_KEYFILE")]
	keyfile: Option<PathBuf>,

	/// Wait until a write is in the best block, or until it is finalized.
	#[arg(long, global = true, value_enum, default_value_t = WaitArg::Finalized)]
	wait: WaitArg,

	/// Output for people, or JSON for scripts.
	#[arg(long, global = true, value_enum, default_value_t = OutputArg::Text)]
	output: OutputArg,

	/// Seconds to wait for a transaction before giving up.
	#[arg(long, global = true, default_value_t = 60)]
	timeout: u64,

	#[command(subcommand)]
	command: Command,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum WaitArg {
	/// In a best block.
	Best,
	/// In a finalized block.
	Finalized,
}

/// The output format.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum OutputArg {
	/// For people.
	Text,
	/// JSON, one object per line.
	Json,
}

#[derive(Subcommand, Debug)]
enum Command {
	/// The node, its chain and the registry's revision.
	Status,
	/// Grant, keep alive, revoke or inspect leases.
	#[command(subcommand)]
	Lease(LeaseCmd),
	/// Register, deregister, list, report the health of and watch service instances.
	#[command(subcommand)]
	Service(ServiceCmd),
	/// Campaign in, observe, resign from and read leader elections.
	#[command(subcommand)]
	Elect(ElectCmd),
	/// Put a value under a key.
	Put(PutArgs),
	/// Read a key, a range or a prefix.
	Get(GetArgs),
	/// Delete a key, a range or a prefix.
	Del(DelArgs),
	/// Apply a txn read from stdin (or --file).
	#[command(long_about = TXN_HELP)]
	Txn(TxnArgs),
	/// Watch a key, a range or a prefix.
	Watch(WatchArgs),
	/// Who changed a key, a prefix, a service's instances or an election, when and how:
	/// `history key|prefix|service|election NAME`.
	History(HistoryArgs),
	/// Run as a service instance's sidecar: register it under a lease, keep the lease alive,
	/// report health, deregister on SIGTERM/SIGINT.
	Agent(agent::AgentArgs),
}

const TXN_HELP: &str = "Apply a txn read from stdin (or --file), in etcdctl's interactive format.

Three blocks, each ended by an empty line: the compares, the operations applied if every \
compare holds (success), and the operations applied otherwise (failure); an empty success branch \
is two empty lines in a row. One compare or operation a line; `#` starts a comment line. Keys and values are UTF-8, bare or in double quotes (\\\" and \\\\ \
escape).

Compares, TARGET(\"key\") OP VALUE, OP one of = != > <:
  val(\"k\") = \"v\"      the value (also `value`)
  ver(\"k\") > 1        the version (puts since creation; 0 for a missing key)
  create(\"k\") = 5     the create revision
  mod(\"k\") < 9        the mod revision
  lease(\"k\") = 0      the lease (0: none)
  term(\"e\") = 7       election e's term: fences a leader's writes
  leader(\"e\") = 5Grw… election e's leader account, or `none` (= and != only)

Operations:
  put KEY VALUE [--lease ID]
  del KEY [RANGE_END]   |  del --prefix KEY
  get KEY [RANGE_END]   |  get --prefix KEY

Example (printf 'mod(\"/cfg\") = 12\\n\\nput /cfg v2\\n\\nget /cfg\\n' | regchainctl txn):
  mod(\"/cfg\") = 12

  put /cfg v2

  get /cfg

Prints SUCCESS or FAILURE, the revision, and the keys the executed branch's `get`s read at the \
txn's block. A txn whose compares fail is not an error (exit status 0), as in etcd.";

#[derive(Subcommand, Debug)]
enum LeaseCmd {
	/// Grant a lease of TTL seconds; prints its id and the time to live really granted.
	Grant {
		/// Time to live, in seconds (raised to the chain's minimum).
		ttl: u32,
	},
	/// Keep a lease alive: every third of its time to live until interrupted, or once.
	KeepAlive {
		/// The lease id.
		id: u64,
		/// Keep it alive once and exit.
		#[arg(long)]
		once: bool,
	},
	/// Revoke a lease: its keys, instances and candidacies go with it.
	Revoke {
		/// The lease id.
		id: u64,
	},
	/// A lease's remaining time to live and attachments.
	Ttl {
		/// The lease id.
		id: u64,
	},
}

#[derive(Subcommand, Debug)]
enum ServiceCmd {
	/// Register a service instance under a lease.
	Register {
		/// The service.
		service: String,
		/// The instance id.
		instance: String,
		/// Where it is reached (HOST:PORT or a URL).
		address: String,
		/// The lease it hangs on.
		#[arg(long)]
		lease: u64,
		/// A tag (repeatable).
		#[arg(long = "tag")]
		tags: Vec<String>,
		/// A metadata entry KEY=VALUE (repeatable).
		#[arg(long = "meta")]
		metadata: Vec<String>,
	},
	/// Deregister a service instance (its owner only).
	Deregister {
		/// The service.
		service: String,
		/// The instance id.
		instance: String,
	},
	/// List the services, or one service's live instances.
	List {
		/// The service (all services when absent).
		service: Option<String>,
		/// Only instances with this tag.
		#[arg(long)]
		tag: Option<String>,
		/// Only instances in this health.
		#[arg(long, value_enum)]
		health: Option<HealthArg>,
		/// Read at `finalized` (default), `linearizable` (a finalized block that a quorum of
		/// validators confirmed to hold every acknowledged write), `best`, or a block hash.
		#[arg(long, default_value = "finalized")]
		at: String,
	},
	/// Report an instance's health (its owner only).
	Health {
		/// The service.
		service: String,
		/// The instance id.
		instance: String,
		/// The health.
		#[arg(value_enum)]
		health: HealthArg,
	},
	/// Watch a service's instances.
	Watch {
		/// The service.
		service: String,
		/// Replay the changes from this revision on first.
		#[arg(long)]
		rev: Option<u64>,
		/// Stream best blocks (not yet final; reorgs are retracted).
		#[arg(long)]
		best: bool,
	},
}

/// An instance's health.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum HealthArg {
	/// Not reported.
	Unknown,
	/// Healthy.
	Passing,
	/// Degraded.
	Warning,
	/// Failing.
	Critical,
}

impl HealthArg {
	fn name(self) -> &'static str {
		match self {
			HealthArg::Unknown => "unknown",
			HealthArg::Passing => "passing",
			HealthArg::Warning => "warning",
			HealthArg::Critical => "critical",
		}
	}
}

impl From<HealthArg> for regchain_client::registry::Health {
	fn from(h: HealthArg) -> Self {
		use regchain_client::registry::Health;
		match h {
			HealthArg::Unknown => Health::Unknown,
			HealthArg::Passing => Health::Passing,
			HealthArg::Warning => Health::Warning,
			HealthArg::Critical => Health::Critical,
		}
	}
}

#[derive(Subcommand, Debug)]
enum ElectCmd {
	/// Campaign: wait until this key's account leads, print the term, hold the leadership until
	/// SIGINT/SIGTERM (then resign). Exits non-zero if the leadership's lease is lost.
	Campaign {
		/// The election.
		name: String,
		/// The value to proclaim while leading (e.g. an address).
		value: String,
		/// Time to live of the lease granted for the candidacy, in seconds.
		#[arg(long, default_value_t = 10)]
		ttl: u32,
		/// Campaign with this existing lease instead (not kept alive nor revoked here).
		#[arg(long)]
		lease: Option<u64>,
	},
	/// Print every change of an election's leadership.
	Observe {
		/// The election.
		name: String,
		/// Replay the changes from this revision on first.
		#[arg(long)]
		rev: Option<u64>,
	},
	/// Leave an election (a leader hands over to the next candidate).
	Resign {
		/// The election.
		name: String,
	},
	/// An election's leader, value and term.
	Leader {
		/// The election.
		name: String,
	},
}

#[derive(Args, Debug)]
struct PutArgs {
	/// The key.
	key: String,
	/// The value.
	value: String,
	/// Attach the key to this lease.
	#[arg(long)]
	lease: Option<u64>,
	/// Fence the write with an election's term (ELECTION:TERM): it is refused if the election
	/// has moved past that term.
	#[arg(long, value_name = "ELECTION:TERM")]
	fence: Option<String>,
}

#[derive(Args, Debug)]
struct GetArgs {
	/// The key (or the prefix, with --prefix).
	key: String,
	/// The end of the range (exclusive).
	range_end: Option<String>,
	/// Every key starting with KEY.
	#[arg(long, conflicts_with = "range_end")]
	prefix: bool,
	/// Read the key space as it was at this revision.
	#[arg(long)]
	rev: Option<u64>,
	/// At most this many keys.
	#[arg(long)]
	limit: Option<u64>,
	/// Only the keys.
	#[arg(long)]
	keys_only: bool,
	/// Only the count.
	#[arg(long)]
	count_only: bool,
	/// Read at `finalized` (default), `linearizable` (a finalized block that a quorum of
	/// validators confirmed to hold every acknowledged write), `best`, or a block hash.
	#[arg(long, default_value = "finalized")]
	at: String,
}

#[derive(Args, Debug)]
struct DelArgs {
	/// The key (or the prefix, with --prefix).
	key: String,
	/// The end of the range (exclusive).
	range_end: Option<String>,
	/// Every key starting with KEY.
	#[arg(long, conflicts_with = "range_end")]
	prefix: bool,
}

#[derive(Args, Debug)]
struct TxnArgs {
	/// Read the txn from this file instead of stdin.
	#[arg(long)]
	file: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct WatchArgs {
	/// The key (or the prefix, with --prefix).
	key: String,
	/// The end of the range (exclusive).
	range_end: Option<String>,
	/// Every key starting with KEY.
	#[arg(long, conflicts_with = "range_end")]
	prefix: bool,
	/// Replay the changes from this revision on first, then go live.
	#[arg(long)]
	rev: Option<u64>,
	/// Stream best blocks (not yet final; reorgs are retracted).
	#[arg(long)]
	best: bool,
}

/// What `history` reads.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum HistoryKind {
	/// One key.
	Key,
	/// Every key under a prefix.
	Prefix,
	/// A service's instances.
	Service,
	/// An election.
	Election,
}

#[derive(Args, Debug)]
struct HistoryArgs {
	/// What to read the history of.
	#[arg(value_enum)]
	kind: HistoryKind,
	/// The key, prefix, service or election.
	name: String,
	/// From this revision on.
	#[arg(long)]
	from_rev: Option<u64>,
	/// At most this many items (the node gives at most 10,000).
	#[arg(long)]
	limit: Option<u32>,
}

/// What every command needs: the arguments and a way to connect.
pub struct Context {
	endpoints: Vec<String>,
	key: Option<String>,
	/// Whether `--key` was given on the command line, where `ps` shows it to every user.
	key_on_command_line: bool,
	keyfile: Option<PathBuf>,
	/// How long to wait for a write.
	pub wait: Wait,
	/// The output format.
	pub output: OutputArg,
	timeout: Duration,
}

impl Context {
	/// The endpoints, in the order they are tried.
	pub fn endpoints(&self) -> &[String] {
		&self.endpoints
	}

	/// Connects without a key, for reads.
	pub async fn reader(&self) -> anyhow::Result<Client> {
		Ok(Client::connect_any(&self.endpoints, None, self.options()).await?)
	}

	/// Connects with the key, for writes.
	pub async fn writer(&self) -> anyhow::Result<Client> {
		let signer = match (&self.key, &self.keyfile) {
			(Some(uri), _) => {
				let signer = Signer::from_uri(uri)?;
				// A development name (//Alice) is no secret; any other key is.
				if self.key_on_command_line && !uri.starts_with("//") {
					eprintln!(
						"warning: a secret given with --key is visible to every user of this \
						 machine (ps, /proc); use REGCHAIN_KEY or --keyfile with a private file"
					);
				}
				signer
			},
			(None, Some(path)) => {
				if let Some(warning) = Signer::key_file_warning(path) {
					eprintln!("warning: {warning}");
				}
				Signer::from_file(path)?
			},
			(None, None) => return Err(regchain_client::Error::NoSigner.into()),
		};
		Ok(Client::connect_any(&self.endpoints, Some(signer), self.options()).await?)
	}

	fn options(&self) -> ConnectOptions {
		ConnectOptions { tx_timeout: self.timeout, ..ConnectOptions::default() }
	}
}

fn main() -> ExitCode {
	let matches = <Cli as clap::CommandFactory>::command().get_matches();
	let cli = match <Cli as clap::FromArgMatches>::from_arg_matches(&matches) {
		Ok(cli) => cli,
		Err(e) => e.format(&mut <Cli as clap::CommandFactory>::command()).exit(),
	};
	let ctx = Context {
		endpoints: cli.endpoint,
		key_on_command_line: matches.value_source("signing_key")
			== Some(clap::parser::ValueSource::CommandLine),
		key: cli.key,
		keyfile: cli.keyfile,
		wait: match cli.wait {
			WaitArg::Best => Wait::Best,
			WaitArg::Finalized => Wait::Finalized,
		},
		output: cli.output,
		timeout: Duration::from_secs(cli.timeout.max(1)),
	};
	let runtime = match tokio::runtime::Builder::new_multi_thread()
		.worker_threads(2)
		.enable_all()
		.build()
	{
		Ok(rt) => rt,
		Err(e) => {
			eprintln!("Error: cannot start the async runtime: {e}");
			return ExitCode::FAILURE;
		},
	};
	let result = runtime.block_on(commands::run(&ctx, cli.command));
	// Do not wait for background tasks (subscriptions, keepers) to notice the end.
	runtime.shutdown_timeout(Duration::from_millis(100));
	match result {
		Ok(code) => code,
		Err(e) => {
			let message = format!("{e:#}");
			eprintln!("Error: {}", message.split_whitespace().collect::<Vec<_>>().join(" "));
			ExitCode::FAILURE
		},
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use clap::CommandFactory;

	#[test]
	fn the_command_line_is_consistent() {
		Cli::command().debug_assert();
	}

	#[test]
	fn positional_keys_do_not_clobber_the_signing_key() {
		let cli =
			Cli::try_parse_from(["regchainctl", "--key", "//Alice", "put", "/a", "1"]).unwrap();
		assert_eq!(cli.key.as_deref(), Some("//Alice"));
		let Command::Put(put) = cli.command else { panic!("not a put") };
		assert_eq!((put.key.as_str(), put.value.as_str()), ("/a", "1"));
		let cli = Cli::try_parse_from(["regchainctl", "get", "/a", "--key", "//Bob"]).unwrap();
		assert_eq!(cli.key.as_deref(), Some("//Bob"));
	}
}
