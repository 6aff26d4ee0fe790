fn main() {
	// The block time (`MILLISECS_PER_BLOCK`); rustc tracks it for the native build, and the wasm
	// build inherits it.
	println!("cargo:rerun-if-env-changed=REGCHAIN_BLOCK_MS");
	#[cfg(feature = "std")]
	substrate_wasm_builder::WasmBuilder::build_using_defaults();
}
