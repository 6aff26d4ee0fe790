//! A minimal JSON-RPC client over HTTP/1.1, enough for tests and probes.
//!
//! The node serves JSON-RPC over HTTP and WebSocket on the same port; plain HTTP keeps this
//! harness free of an async runtime.

use std::{
	io::{Read, Write},
	net::TcpStream,
	time::Duration,
};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};

/// A node's JSON-RPC endpoint on 127.0.0.1.
#[derive(Clone, Debug)]
pub struct Rpc {
	/// The port.
	pub port: u16,
}

impl Rpc {
	/// The endpoint on `127.0.0.1:port`.
	pub fn new(port: u16) -> Self {
		Self { port }
	}

	/// Calls `method` with `params`; a JSON-RPC error becomes an `Err` with its message.
	pub fn call(&self, method: &str, params: Value) -> Result<Value> {
		let reply = self.reply(method, params)?;
		if let Some(error) = reply.get("error") {
			let message = error.get("message").and_then(Value::as_str).unwrap_or("error");
			match error.get("data") {
				Some(data) => bail!("{method}: {message}: {data}"),
				None => bail!("{method}: {message}"),
			}
		}
		Ok(reply.get("result").cloned().unwrap_or(Value::Null))
	}

	/// Calls `method` and returns its JSON-RPC error object (`code`, `message`); fails if the
	/// call succeeded.
	pub fn call_error(&self, method: &str, params: Value) -> Result<Value> {
		let reply = self.reply(method, params)?;
		reply
			.get("error")
			.cloned()
			.ok_or_else(|| anyhow!("{method} succeeded where an error was expected: {reply}"))
	}

	/// The whole JSON-RPC reply to `method` with `params`.
	pub fn reply(&self, method: &str, params: Value) -> Result<Value> {
		let body =
			json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params }).to_string();
		let mut stream = TcpStream::connect(("127.0.0.1", self.port))
			.with_context(|| format!("connecting to 127.0.0.1:{}", self.port))?;
		stream.set_read_timeout(Some(Duration::from_secs(10)))?;
		write!(
			stream,
			"POST / HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\n\
			 Content-Length: {}\r\nConnection: close\r\n\r\n{}",
			self.port,
			body.len(),
			body
		)?;
		let mut raw = Vec::new();
		stream.read_to_end(&mut raw)?;
		let text = String::from_utf8(raw)?;
		let (head, payload) =
			text.split_once("\r\n\r\n").ok_or_else(|| anyhow!("malformed HTTP response"))?;
		let payload = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
			dechunk(payload)?
		} else {
			payload.to_string()
		};
		serde_json::from_str(&payload)
			.with_context(|| format!("{method}: response is not JSON: {payload}"))
	}

	/// The number of the header `hash` (`null` for the best block).
	pub fn header_number(&self, hash: Value) -> Result<u32> {
		let header = self.call("chain_getHeader", json!([hash]))?;
		parse_hex_u32(&header["number"])
	}

	/// The hash of block `number` on this node's best chain, if it has one.
	pub fn block_hash(&self, number: u32) -> Result<Option<String>> {
		let hash = self.call("chain_getBlockHash", json!([number]))?;
		Ok(hash.as_str().map(str::to_string))
	}

	/// The Aura slot of block `number` on this node's best chain, read from the block's
	/// pre-runtime digest; `None` if there is no such block or digest.
	pub fn aura_slot(&self, number: u32) -> Result<Option<u64>> {
		let Some(hash) = self.block_hash(number)? else { return Ok(None) };
		let header = self.call("chain_getHeader", json!([hash]))?;
		let logs = header["digest"]["logs"].as_array().cloned().unwrap_or_default();
		// A pre-runtime digest: 0x06, engine "aura" (61757261), length 8 (0x20), slot as u64 LE.
		for log in logs.iter().filter_map(Value::as_str) {
			if let Some(slot) = log.strip_prefix("0x066175726120") {
				let bytes: [u8; 8] = crate::extrinsic::from_hex(slot)?
					.try_into()
					.map_err(|_| anyhow!("malformed Aura digest in block {number}"))?;
				return Ok(Some(u64::from_le_bytes(bytes)));
			}
		}
		Ok(None)
	}

	/// The finalized head's hash.
	pub fn finalized_head(&self) -> Result<String> {
		let hash = self.call("chain_getFinalizedHead", json!([]))?;
		hash.as_str().map(str::to_string).ok_or_else(|| anyhow!("no finalized head"))
	}
}

/// Parses a `0x`-prefixed hexadecimal number, as block numbers appear in headers.
pub fn parse_hex_u32(value: &Value) -> Result<u32> {
	let text = value.as_str().ok_or_else(|| anyhow!("expected a hex string, got {value}"))?;
	Ok(u32::from_str_radix(text.trim_start_matches("0x"), 16)?)
}

fn dechunk(mut body: &str) -> Result<String> {
	let mut out = String::new();
	loop {
		let (size, rest) = body.split_once("\r\n").ok_or_else(|| anyhow!("bad chunk"))?;
		let size = usize::from_str_radix(size.trim(), 16)?;
		if size == 0 {
			return Ok(out);
		}
		out.push_str(rest.get(..size).ok_or_else(|| anyhow!("short chunk"))?);
		body = rest.get(size + 2..).unwrap_or("");
	}
}
