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

/// jemalloc, as Polkadot's node uses: glibc's malloc keeps freed memory in per-thread arenas, and
/// an idle validator's anonymous memory grew about twice as high with it (docs/results.md, "A
/// validator over hours").
#[cfg(all(feature = "jemalloc", target_os = "linux"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
	if let Err(error) = command::run() {
		// One readable line, not a debug dump: `regchain-node --chain nonsense` must say what is
		// wrong and exit non-zero.
		eprintln!("Error: {error}");
		std::process::exit(1);
	}
}
