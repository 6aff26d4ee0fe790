//! Hex as JSON-RPC carries bytes (`0x`-prefixed), and bytes as people read them: the rules of
//! [`regchain_rpc_api::hex`], with this crate's errors.

use sp_core::H256;

pub use regchain_rpc_api::hex::{decode_digits, decode_lenient, display_bytes, to_hex, HexError};

use crate::Error;

/// Parses `0x`-prefixed (or bare) hex.
pub fn from_hex(text: &str) -> Result<Vec<u8>, Error> {
	decode_lenient(text).map_err(|e| Error::decode("hex", format!("{e}: {text}")))
}

/// Parses a `0x`-prefixed 32-byte hash.
pub fn parse_hash(text: &str) -> Result<H256, Error> {
	let bytes: [u8; 32] = from_hex(text)?
		.try_into()
		.map_err(|_| Error::decode("a block hash", format!("not 32 bytes: {text}")))?;
	Ok(H256(bytes))
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn bare_and_prefixed_hex_decode_and_bad_hex_is_an_error() {
		assert_eq!(from_hex("0x00ff61").unwrap(), b"\x00\xffa");
		assert_eq!(from_hex("00ff61").unwrap(), b"\x00\xffa");
		assert_eq!(from_hex("").unwrap(), b"");
		assert!(from_hex("0x0").is_err());
		assert!(from_hex("0xzz").is_err());
		assert!(parse_hash("0x00").is_err());
		assert_eq!(parse_hash(&to_hex(&[7; 32])).unwrap(), H256([7; 32]));
	}
}
