//! The etcd v3 API of the node (`--etcd-listen`), served by the `regchain-etcd` crate.

use std::{
	net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
	path::PathBuf,
	sync::Arc,
	time::Duration,
};

use regchain_client::{Client, ConnectOptions, Signer};
use regchain_etcd::{Api, EtcdConfig, RemoteBackend, Tls};
use sc_network::multiaddr::{Multiaddr, Protocol};
use sc_service::{error::Error as ServiceError, SpawnTaskHandle};

use crate::etcd_backend::NodeBackend;

/// Where `--dev` serves the etcd API unless told otherwise: etcd's own client port.
pub const DEV_LISTEN: ([u8; 4], u16) = ([127, 0, 0, 1], 2379);

/// The etcd v3 API's options, named after etcd's where etcd has one.
#[derive(Debug, Clone, clap::Args)]
pub struct EtcdParams {
	/// Serve the etcd v3 API (gRPC) on this address.
	///
	/// `--dev` serves it on 127.0.0.1:2379 unless that port is taken. A non-loopback address
	/// needs TLS with client certificates (`--etcd-cert-file`, `--etcd-key-file`,
	/// `--etcd-trusted-ca-file`, `--etcd-client-cert-auth`): every write made through the API
	/// is signed by this node's account.
	#[arg(long, value_name = "ADDR")]
	pub etcd_listen: Option<SocketAddr>,

	/// The client URL that MemberList gives for this validator (etcd's
	/// `--advertise-client-urls`). Default: `http://`, or `https://` with TLS, and the
	/// `--etcd-listen` address.
	#[arg(long, value_name = "URL")]
	pub etcd_advertise_client_url: Option<String>,

	/// The etcd API's TLS certificate chain, PEM (etcd's `--cert-file`). Serves TLS only.
	#[arg(long, value_name = "PATH", requires = "etcd_key_file")]
	pub etcd_cert_file: Option<PathBuf>,

	/// The private key of `--etcd-cert-file`, PEM (etcd's `--key-file`).
	#[arg(long, value_name = "PATH", requires = "etcd_cert_file")]
	pub etcd_key_file: Option<PathBuf>,

	/// The CA that signs client certificates, PEM (etcd's `--trusted-ca-file`).
	#[arg(long, value_name = "PATH", requires = "etcd_cert_file")]
	pub etcd_trusted_ca_file: Option<PathBuf>,

	/// Refuse clients without a certificate signed by `--etcd-trusted-ca-file` (etcd's
	/// `--client-cert-auth`).
	#[arg(long, requires = "etcd_trusted_ca_file")]
	pub etcd_client_cert_auth: bool,

	/// A file holding the secret of the orchestrator account that signs every write made
	/// through the etcd API: a secret URI, a mnemonic, a `0x` seed, or a node keystore file.
	///
	/// Default with `--dev` or `--alice` to `--dave`: that development account.
	#[arg(long, value_name = "PATH")]
	pub etcd_signer_file: Option<PathBuf>,

	/// Host names the HTTP/JSON gateway answers besides `localhost` and IP addresses, comma
	/// separated (etcd's `--host-whitelist`); `*` allows any.
	///
	/// A request naming another host is refused with 421, so that a web page cannot reach the
	/// gateway through a name pointed at this machine (DNS rebinding). Checked on a plaintext
	/// port only, as etcd does.
	#[arg(long, value_name = "HOSTS", value_delimiter = ',')]
	pub etcd_host_whitelist: Vec<String>,

	/// Browser origins allowed to call the HTTP/JSON gateway, comma separated, such as
	/// `https://dashboard.example` (etcd's `--cors`); `*` allows any.
	///
	/// By default a request with an `Origin` header (which browsers send, and command-line
	/// clients do not) is refused with 403: a web page could otherwise write through the
	/// gateway, signed by this node's account.
	#[arg(long, value_name = "ORIGINS", value_delimiter = ',')]
	pub etcd_cors: Vec<String>,
}

/// What the node knows that the etcd API needs.
pub struct NodeContext {
	/// Whether the node runs with `--dev`.
	pub dev: bool,
	/// The development account's seed (`--dev`, `--alice`...).
	pub dev_key_seed: Option<String>,
	/// Where the node's own JSON-RPC server listens, as it bound them
	/// (`RpcHandlers::listen_addresses`).
	pub rpc_listen: Vec<Multiaddr>,
	/// The node's name.
	pub name: String,
	/// The client, for the finalized state.
	pub client: Arc<crate::types::FullClient>,
	/// The registry RPC's handler, which answers the etcd API's reads in this process.
	pub registry: Arc<crate::registry_rpc::Registry>,
	/// The read index, for linearizable reads.
	pub read_index: Arc<crate::read_index::ReadIndex>,
}

fn error(message: String) -> ServiceError {
	ServiceError::Other(message)
}

/// Starts the etcd API if `--etcd-listen` (or `--dev`) asks for it.
///
/// An explicit `--etcd-listen` that cannot bind, or has no account to sign with, fails the
/// node; the implicit `--dev` address only warns.
pub fn start(
	params: &EtcdParams,
	node: NodeContext,
	spawn: &SpawnTaskHandle,
) -> Result<(), ServiceError> {
	let (addr, explicit) = match params.etcd_listen {
		Some(addr) => (addr, true),
		None if node.dev => (SocketAddr::from(DEV_LISTEN), false),
		None => return Ok(()),
	};
	let tls = tls(params)?;
	if !addr.ip().is_loopback() && !tls.as_ref().is_some_and(|t| t.client_cert_auth) {
		return Err(error(format!(
			"--etcd-listen {addr}: beyond loopback the etcd API needs TLS with client \
			 certificates (--etcd-cert-file, --etcd-key-file, --etcd-trusted-ca-file and \
			 --etcd-client-cert-auth), since every write through it is signed by this node's account"
		)));
	}
	let signer = match (&params.etcd_signer_file, &node.dev_key_seed) {
		(Some(path), _) => {
			if let Some(warning) = Signer::key_file_warning(path) {
				log::warn!("--etcd-signer-file: {warning}");
			}
			Signer::from_file(path)
				.map_err(|e| error(format!("--etcd-signer-file {}: {e}", path.display())))?
		},
		(None, Some(seed)) => {
			Signer::from_uri(seed).map_err(|e| error(format!("the development key: {e}")))?
		},
		(None, None) => {
			return Err(error(
				"--etcd-listen needs an orchestrator account to sign writes with: pass \
				 --etcd-signer-file, or run with --dev or --alice to --dave"
					.into(),
			))
		},
	};
	let listener = match std::net::TcpListener::bind(addr).and_then(|l| {
		l.set_nonblocking(true)?;
		Ok(l)
	}) {
		Ok(listener) => listener,
		Err(e) if !explicit => {
			log::warn!(
				"etcd API not started: cannot listen on {addr} ({e}); pass --etcd-listen to choose \
				 another address"
			);
			return Ok(());
		},
		Err(e) => return Err(error(format!("--etcd-listen {addr}: {e}"))),
	};
	let scheme = if tls.is_some() { "https" } else { "http" };
	let client_url = params
		.etcd_advertise_client_url
		.clone()
		.unwrap_or_else(|| format!("{scheme}://{addr}"));
	let account = signer.ss58();
	let Some(rpc) = rpc_target(&node.rpc_listen) else {
		let why =
			format!("the node's JSON-RPC server listens on no TCP address ({:?})", node.rpc_listen);
		if !explicit {
			log::warn!("etcd API not started: {why}");
			return Ok(());
		}
		return Err(error(format!(
			"--etcd-listen {addr}: the etcd API needs the node's JSON-RPC server, but {why}"
		)));
	};
	let rpc = format!("ws://{rpc}");
	let (name, node_client) = (node.name, node.client);
	let (registry, read_index) = (node.registry, node.read_index);
	let access = regchain_etcd::access::Access {
		hosts: params.etcd_host_whitelist.clone(),
		origins: params.etcd_cors.clone(),
		tls: tls.is_some(),
	};
	spawn.spawn("etcd-api", Some("etcd"), async move {
		let listener = match tokio::net::TcpListener::from_std(listener) {
			Ok(listener) => listener,
			Err(e) => return log::error!("etcd API not started: {e}"),
		};
		let Some(client) = connect(&rpc, signer).await else { return };
		log::info!("etcd v3 API on {addr} ({client_url}), writes signed by {account}");
		let remote = RemoteBackend::new(client);
		let backend = NodeBackend::new(node_client, registry, read_index, remote);
		let api = Api::with_backend(Arc::new(backend), EtcdConfig { client_url, name, access });
		if let Err(e) = regchain_etcd::serve(api, listener, tls, futures::future::pending()).await {
			log::error!("etcd API stopped: {e}");
		}
	});
	Ok(())
}

/// The TLS configuration the options ask for, read and checked now so that a bad file fails the
/// node at start-up.
fn tls(params: &EtcdParams) -> Result<Option<Tls>, ServiceError> {
	let (Some(cert), Some(key)) = (&params.etcd_cert_file, &params.etcd_key_file) else {
		return Ok(None);
	};
	let read = |option: &str, path: &PathBuf| {
		std::fs::read(path).map_err(|e| error(format!("{option} {}: {e}", path.display())))
	};
	let (cert_pem, key_pem) = (read("--etcd-cert-file", cert)?, read("--etcd-key-file", key)?);
	let client_ca = match (&params.etcd_trusted_ca_file, params.etcd_client_cert_auth) {
		(Some(ca), true) => Some(read("--etcd-trusted-ca-file", ca)?),
		(Some(_), false) => {
			log::warn!("--etcd-trusted-ca-file is only used with --etcd-client-cert-auth");
			None
		},
		(None, _) => None,
	};
	Tls::from_pem(&cert_pem, &key_pem, client_ca.as_deref())
		.map(Some)
		.map_err(|e| error(format!("etcd API TLS (--etcd-cert-file, --etcd-key-file): {e}")))
}

/// The address through which the etcd API reaches the node's own JSON-RPC server: the first one
/// the server actually bound (with no `--rpc-port`, Substrate moves to a random port when 9944 is
/// taken, and 9944 may then be another node's), an unspecified IP replaced by loopback.
fn rpc_target(listen: &[Multiaddr]) -> Option<SocketAddr> {
	listen.iter().find_map(|addr| {
		let mut parts = addr.iter();
		let ip = match parts.next()? {
			Protocol::Ip4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
			Protocol::Ip4(ip) => IpAddr::V4(ip),
			Protocol::Ip6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
			Protocol::Ip6(ip) => IpAddr::V6(ip),
			_ => return None,
		};
		match parts.next()? {
			Protocol::Tcp(port) => Some(SocketAddr::new(ip, port)),
			_ => None,
		}
	})
}

/// A client of the node's own RPC server, which starts alongside this task.
async fn connect(rpc: &str, signer: Signer) -> Option<Client> {
	let options = ConnectOptions { connect_timeout: Duration::from_secs(2), ..Default::default() };
	let mut last = None;
	for _ in 0..30 {
		match Client::connect(rpc, Some(signer.clone()), options.clone()).await {
			Ok(client) => return Some(client),
			Err(e) => last = Some(e),
		}
		tokio::time::sleep(Duration::from_secs(1)).await;
	}
	log::error!(
		"etcd API not started: cannot reach this node's RPC server at {rpc} ({}); the etcd API \
		 needs the node's RPC server on its default interface",
		last.map(|e| e.to_string()).unwrap_or_default()
	);
	None
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn the_etcd_api_uses_the_rpc_address_the_server_bound() {
		let addr = |s: &str| s.parse::<Multiaddr>().unwrap();
		assert_eq!(
			rpc_target(&[addr("/ip4/127.0.0.1/tcp/41234"), addr("/ip6/::1/tcp/41234")]),
			Some("127.0.0.1:41234".parse().unwrap())
		);
		assert_eq!(
			rpc_target(&[addr("/ip4/0.0.0.0/tcp/9944")]),
			Some("127.0.0.1:9944".parse().unwrap())
		);
		assert_eq!(rpc_target(&[addr("/ip6/::/tcp/9944")]), Some("[::1]:9944".parse().unwrap()));
		assert_eq!(rpc_target(&[addr("/dns/example.invalid/tcp/9944")]), None);
		assert_eq!(rpc_target(&[]), None);
	}
}
