//! regchain validator node.

#![warn(missing_docs)]

mod chain_spec;
mod cli;
mod command;
mod etcd;
mod etcd_backend;
mod read_index;
mod registry_rpc;
mod rpc;
mod service;
mod types;

fn main() {
	if let Err(error) = command::run() {
		// One readable line, not a debug dump: `regchain-node --chain nonsense` must say what is
		// wrong and exit non-zero.
		eprintln!("Error: {error}");
		std::process::exit(1);
	}
}
