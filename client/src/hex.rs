//! Hex as JSON-RPC carries bytes (`0x`-prefixed), and bytes as people read them.

use sp_core::H256;

use crate::Error;

/// `0x`-prefixed lower-case hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
	let mut out = String::with_capacity(2 + 2 * bytes.len());
	out.push_str("0x");
	for b in bytes {
		out.push_str(&format!("{b:02x}"));
	}
	out
}

/// Parses `0x`-prefixed (or bare) hex.
pub fn from_hex(text: &str) -> Result<Vec<u8>, Error> {
	let digits = text.strip_prefix("0x").unwrap_or(text);
	if digits.len() % 2 != 0 {
		return Err(Error::decode("hex", format!("odd number of hex digits: {text}")));
	}
	(0..digits.len() / 2)
		.map(|i| {
			u8::from_str_radix(&digits[2 * i..2 * i + 2], 16)
				.map_err(|_| Error::decode("hex", format!("not hex: {text}")))
		})
		.collect()
}

/// Parses a `0x`-prefixed 32-byte hash.
pub fn parse_hash(text: &str) -> Result<H256, Error> {
	let bytes: [u8; 32] = from_hex(text)?
		.try_into()
		.map_err(|_| Error::decode("a block hash", format!("not 32 bytes: {text}")))?;
	Ok(H256(bytes))
}

/// `bytes` as text when they are UTF-8 without control characters, else as `0x` hex.
pub fn display_bytes(bytes: &[u8]) -> String {
	match std::str::from_utf8(bytes) {
		Ok(text) if !text.chars().any(|c| c.is_control()) => text.to_string(),
		_ => to_hex(bytes),
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn hex_round_trips() {
		assert_eq!(to_hex(b"\x00\xffa"), "0x00ff61");
		assert_eq!(from_hex("0x00ff61").unwrap(), b"\x00\xffa");
		assert_eq!(from_hex("").unwrap(), b"");
		assert!(from_hex("0x0").is_err());
		assert!(from_hex("0xzz").is_err());
	}

	#[test]
	fn bytes_display_as_text_when_printable() {
		assert_eq!(display_bytes(b"/svc/a"), "/svc/a");
		assert_eq!(display_bytes(b"\x00\x01"), "0x0001");
		assert_eq!(display_bytes(b"a\nb"), "0x610a62");
	}
}
