//! Signing keys: a secret URI, a mnemonic, a seed or a key file holding one of them.

use std::path::Path;

use regchain_runtime::AccountId;
use sp_core::{
	crypto::{Pair as _, Ss58Codec},
	sr25519,
};

use crate::Error;

/// An sr25519 signing key and the account it signs for.
#[derive(Clone)]
pub struct Signer {
	pair: sr25519::Pair,
}

impl std::fmt::Debug for Signer {
	fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
		write!(f, "Signer({})", self.ss58())
	}
}

impl Signer {
	/// A key from a secret URI: a development name with derivations (`//Alice`), a BIP-39
	/// mnemonic (optionally followed by `//hard/soft` derivations and `///password`), or a
	/// `0x`-prefixed 32-byte seed.
	pub fn from_uri(uri: &str) -> Result<Self, Error> {
		let uri = uri.trim();
		if uri.is_empty() {
			return Err(Error::Key("empty secret URI".into()));
		}
		sr25519::Pair::from_string(uri, None)
			.map(|pair| Signer { pair })
			// Never echo the secret in the error.
			.map_err(|e| Error::Key(format!("not a secret URI, mnemonic or seed ({e:?})")))
	}

	/// A key from a key file: a file holding a secret URI, a mnemonic or a `0x` seed (surrounding
	/// white space ignored), like `regchain-node key insert --suri` takes, or a node's keystore
	/// file (`<base-path>/chains/<chain>/keystore/<key type><public key>`), which holds the same
	/// as a JSON string.
	pub fn from_file(path: &Path) -> Result<Self, Error> {
		let text = std::fs::read_to_string(path)
			.map_err(|e| Error::Key(format!("cannot read key file {}: {e}", path.display())))?;
		let secret = match serde_json::from_str::<String>(text.trim()) {
			Ok(unquoted) => unquoted,
			Err(_) => text,
		};
		Self::from_uri(&secret).map_err(|e| match e {
			Error::Key(reason) => Error::Key(format!("{}: {reason}", path.display())),
			other => other,
		})
	}

	/// A warning to show when the key file at `path` may be read by users other than its owner,
	/// as ssh refuses such a private key: anyone who reads it can sign as its account. `None` if
	/// only its owner may (or where file modes do not apply).
	pub fn key_file_warning(path: &Path) -> Option<String> {
		#[cfg(unix)]
		{
			use std::os::unix::fs::PermissionsExt;
			let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
			if mode & 0o077 != 0 {
				return Some(format!(
					"key file {} may be read by other users (mode {mode:03o}): whoever reads it can \
					 sign as its account; make it private with `chmod 600 {}`",
					path.display(),
					path.display()
				));
			}
		}
		#[cfg(not(unix))]
		let _ = path;
		None
	}

	/// The key pair.
	pub fn pair(&self) -> &sr25519::Pair {
		&self.pair
	}

	/// The account it signs for.
	pub fn account(&self) -> AccountId {
		self.pair.public().into()
	}

	/// The account as SS58 (prefix 42), as the node's JSON-RPC shows accounts.
	pub fn ss58(&self) -> String {
		self.account().to_ss58check()
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	const ALICE: &str = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";

	#[cfg(unix)]
	#[test]
	fn a_key_file_others_may_read_is_warned_about() {
		use std::os::unix::fs::PermissionsExt;
		let path = std::env::temp_dir().join(format!("regchain-key-{}", std::process::id()));
		std::fs::write(&path, "//Alice").unwrap();
		std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
		let warning = Signer::key_file_warning(&path).expect("a warning for mode 644");
		assert!(warning.contains("mode 644") && warning.contains("chmod 600"), "{warning}");
		std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
		assert_eq!(Signer::key_file_warning(&path), None);
		std::fs::remove_file(&path).unwrap();
	}

	#[test]
	fn dev_uri_mnemonic_and_seed_give_keys() {
		assert_eq!(Signer::from_uri("//Alice").unwrap().ss58(), ALICE);
		let phrase = "bottom drive obey lake curtain smoke basket hold race lonely fit walk";
		assert_eq!(Signer::from_uri(&format!("{phrase}//Alice")).unwrap().ss58(), ALICE);
		// Alice's mini-secret seed.
		let seed = "0xe5be9a5092b81bca64be81d212e7f2f9eba183bb7a90954f7b76361f6edb5c0a";
		assert_eq!(Signer::from_uri(seed).unwrap().ss58(), ALICE);
		assert!(Signer::from_uri("not a key").is_err());
	}

	#[test]
	fn key_files_hold_a_uri() {
		let dir = std::env::temp_dir().join(format!("regchain-key-{}", std::process::id()));
		std::fs::write(&dir, "  //Alice\n").unwrap();
		assert_eq!(Signer::from_file(&dir).unwrap().ss58(), ALICE);
		// A node keystore file holds the secret as a JSON string.
		std::fs::write(&dir, "\"//Alice\"").unwrap();
		assert_eq!(Signer::from_file(&dir).unwrap().ss58(), ALICE);
		std::fs::remove_file(&dir).unwrap();
	}
}
