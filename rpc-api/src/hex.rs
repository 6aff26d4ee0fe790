//! Hex as the registry RPC carries bytes (`0x`-prefixed), and bytes as people read them.

/// `0x`-prefixed lower-case hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
	const DIGITS: &[u8; 16] = b"0123456789abcdef";
	let mut out = String::with_capacity(2 + 2 * bytes.len());
	out.push_str("0x");
	for b in bytes {
		out.push(char::from(DIGITS[usize::from(b >> 4)]));
		out.push(char::from(DIGITS[usize::from(b & 0xf)]));
	}
	out
}

/// Why hex did not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HexError {
	/// No `0x` prefix where one is required.
	NoPrefix,
	/// An odd number of digits.
	OddLength,
	/// A character that is not a hex digit (a sign, a space, a non-ASCII character...).
	NotHex,
}

impl std::fmt::Display for HexError {
	fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
		f.write_str(match self {
			HexError::NoPrefix => "expected 0x-prefixed hex",
			HexError::OddLength => "odd number of hex digits",
			HexError::NotHex => "not a hex digit",
		})
	}
}

impl std::error::Error for HexError {}

/// Decodes hex digits, without a prefix: the one rule for every hex this workspace reads.
/// Digits only, upper or lower case: no sign (Rust's `from_str_radix` takes a leading `+`),
/// no space, and any other input is an error, never a panic.
pub fn decode_digits(digits: &str) -> Result<Vec<u8>, HexError> {
	fn nibble(c: u8) -> Result<u8, HexError> {
		match c {
			b'0'..=b'9' => Ok(c - b'0'),
			b'a'..=b'f' => Ok(c - b'a' + 10),
			b'A'..=b'F' => Ok(c - b'A' + 10),
			_ => Err(HexError::NotHex),
		}
	}
	let bytes = digits.as_bytes();
	if bytes.len() % 2 != 0 {
		// A non-ASCII character makes the length odd or even: say what is wrong with it first.
		return Err(if digits.is_ascii() { HexError::OddLength } else { HexError::NotHex });
	}
	bytes
		.chunks_exact(2)
		.map(|pair| Ok(nibble(pair[0])? << 4 | nibble(pair[1])?))
		.collect()
}

/// Decodes `0x`-prefixed hex, as the registry RPC requires it in requests.
pub fn decode_prefixed(text: &str) -> Result<Vec<u8>, HexError> {
	decode_digits(text.strip_prefix("0x").ok_or(HexError::NoPrefix)?)
}

/// Decodes hex with or without its `0x` prefix, as answers and people write it.
pub fn decode_lenient(text: &str) -> Result<Vec<u8>, HexError> {
	decode_digits(text.strip_prefix("0x").unwrap_or(text))
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
		assert_eq!(decode_prefixed("0x00ff61").unwrap(), b"\x00\xffa");
		assert_eq!(decode_prefixed("0x").unwrap(), b"");
		assert_eq!(decode_prefixed(""), Err(HexError::NoPrefix));
		assert_eq!(decode_prefixed("00"), Err(HexError::NoPrefix));
		assert_eq!(decode_prefixed("0X00"), Err(HexError::NoPrefix));
		assert_eq!(decode_prefixed("0x0"), Err(HexError::OddLength));
		assert_eq!(decode_prefixed("0xzz"), Err(HexError::NotHex));
		assert_eq!(decode_prefixed("0xAbCd").unwrap(), [0xab, 0xcd]);
		for text in ["0x+a", "0x+a+b", "0x-1", "0x 1", "0xé", "0xéé", "0x0é"] {
			assert!(decode_prefixed(text).is_err(), "{text:?}");
		}
		assert_eq!(decode_digits("+a"), Err(HexError::NotHex));
		assert_eq!(decode_digits("abc"), Err(HexError::OddLength));
		assert_eq!(decode_digits("é"), Err(HexError::NotHex));
		assert_eq!(decode_lenient("0a").unwrap(), [0x0a]);
		assert_eq!(decode_lenient("0x0a").unwrap(), [0x0a]);
		assert_eq!(decode_lenient("0x0"), Err(HexError::OddLength));
	}

	#[test]
	fn bytes_display_as_text_when_printable() {
		assert_eq!(display_bytes(b"/svc/a"), "/svc/a");
		assert_eq!(display_bytes(b"\x00\x01"), "0x0001");
		assert_eq!(display_bytes(b"a\nb"), "0x610a62");
	}
}
