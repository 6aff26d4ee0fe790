//! The text form of a txn, as `regchainctl txn` reads it (after etcdctl's interactive `txn`).
//!
//! Three blocks, each ended by an empty line: the compares, the operations of the success
//! branch, the operations of the failure branch (an empty success branch is two empty lines in a
//! row). One compare or operation a line; lines starting
//! with `#` are comments. Keys and values are UTF-8 strings, bare or in double quotes (with `\"`
//! and `\\` escapes).
//!
//! Compares: `TARGET("key") OP VALUE` with OP one of `=`, `!=`, `>`, `<`:
//! - `val("k") = "v"` (or `value`), `ver("k") > 1` (or `version`), `create("k") = 5`
//!   (`create_revision`), `mod("k") < 9` (`mod_revision`), `lease("k") = 0` (0: no lease);
//! - `term("election") = 7`: the election's term, the fencing token of a leader's writes;
//! - `leader("election") = "5Grw…"`, or `= none`: the election's leader (`=` and `!=` only).
//!
//! Operations: `put KEY VALUE [--lease ID]`, `del KEY [RANGE_END]`, `del --prefix KEY`,
//! `get KEY [RANGE_END]`, `get --prefix KEY`.
//!
//! ```text
//! mod("/config") = 12
//! term("primary") = 3
//!
//! put /config "new value"
//! del --prefix /cache/
//!
//! get /config
//! ```

use std::str::FromStr;

use pallet_service_registry::{Compare, CompareResult, KeyTarget, TxnOp};
use regchain_runtime::AccountId;

use crate::{reads::prefix_range_end, Error};

/// A parsed txn.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TxnSpec {
	/// The compares.
	pub compares: Vec<Compare<AccountId>>,
	/// The success branch.
	pub success: Vec<TxnOp>,
	/// The failure branch.
	pub failure: Vec<TxnOp>,
}

/// Parses the text form of a txn.
pub fn parse(text: &str) -> Result<TxnSpec, Error> {
	let mut spec = TxnSpec::default();
	// Each empty line ends a block, so an empty success branch is two empty lines in a row.
	let mut block = 0;
	for (n, raw) in text.lines().enumerate() {
		let line = raw.trim();
		if line.starts_with('#') {
			continue;
		}
		if line.is_empty() {
			block += 1;
			continue;
		}
		let at = |e: Error| Error::BadInput(format!("txn line {}: {e}", n + 1));
		match block {
			0 => spec.compares.push(parse_compare(line).map_err(at)?),
			1 => spec.success.push(parse_op(line).map_err(at)?),
			2 => spec.failure.push(parse_op(line).map_err(at)?),
			_ => {
				return Err(at(Error::BadInput(
					"more than three blocks (compares, success, failure)".into(),
				)))
			},
		}
	}
	Ok(spec)
}

fn bad(what: impl Into<String>) -> Error {
	Error::BadInput(what.into())
}

/// Parses one compare line.
pub fn parse_compare(line: &str) -> Result<Compare<AccountId>, Error> {
	let (target, rest) = line
		.split_once('(')
		.ok_or_else(|| bad(format!("expected TARGET(\"key\") OP VALUE, got `{line}`")))?;
	let target = target.trim().to_ascii_lowercase();
	let (name, rest) = take_token(rest.trim_start())?;
	let rest = rest.trim_start();
	let rest = rest
		.strip_prefix(')')
		.ok_or_else(|| bad(format!("expected `)` after the key in `{line}`")))?
		.trim_start();
	let (result, rest) = parse_op_symbol(rest)?;
	let (value, rest) = take_token(rest.trim_start())?;
	if !rest.trim().is_empty() {
		return Err(bad(format!("unexpected `{}` at the end of `{line}`", rest.trim())));
	}
	let number = |v: &str| {
		v.parse::<u64>()
			.map_err(|_| bad(format!("`{v}` is not a number (in `{line}`)")))
	};
	let key = name.clone().into_bytes();
	let target = match target.as_str() {
		"val" | "value" => KeyTarget::Value(value.into_bytes()),
		"ver" | "version" => KeyTarget::Version(number(&value)?),
		"create" | "create_revision" | "createrevision" => {
			KeyTarget::CreateRevision(number(&value)?)
		},
		"mod" | "mod_revision" | "modrevision" => KeyTarget::ModRevision(number(&value)?),
		"lease" => KeyTarget::Lease(number(&value)?),
		"term" => {
			return Ok(Compare::ElectionTerm { election: key, result, term: number(&value)? })
		},
		"leader" => {
			if !matches!(result, CompareResult::Equal | CompareResult::NotEqual) {
				return Err(bad("a leader compare takes `=` or `!=`"));
			}
			let leader = match value.as_str() {
				"none" | "" => None,
				ss58 => Some(
					AccountId::from_str(ss58)
						.map_err(|_| bad(format!("`{ss58}` is not an SS58 account")))?,
				),
			};
			return Ok(Compare::ElectionLeader { election: key, result, leader });
		},
		other => {
			return Err(bad(format!(
				"unknown compare target `{other}` (val, ver, create, mod, lease, term, leader)"
			)))
		},
	};
	Ok(Compare::Key { key, result, target })
}

fn parse_op_symbol(text: &str) -> Result<(CompareResult, &str), Error> {
	for (symbol, result) in [
		("==", CompareResult::Equal),
		("!=", CompareResult::NotEqual),
		("=", CompareResult::Equal),
		(">", CompareResult::Greater),
		("<", CompareResult::Less),
	] {
		if let Some(rest) = text.strip_prefix(symbol) {
			return Ok((result, rest));
		}
	}
	Err(bad(format!("expected one of = != > < before `{text}`")))
}

/// One token: a double-quoted string (with `\"` and `\\`) or a run of characters up to white
/// space or `)`. Returns it and the rest.
fn take_token(text: &str) -> Result<(String, &str), Error> {
	if let Some(rest) = text.strip_prefix('"') {
		let mut out = String::new();
		let mut chars = rest.char_indices();
		while let Some((i, c)) = chars.next() {
			match c {
				'"' => return Ok((out, &rest[i + 1..])),
				'\\' => match chars.next() {
					Some((_, 'n')) => out.push('\n'),
					Some((_, 't')) => out.push('\t'),
					Some((_, c)) => out.push(c),
					None => break,
				},
				c => out.push(c),
			}
		}
		Err(bad(format!("unterminated quote in `\"{rest}`")))
	} else {
		let end = text.find(|c: char| c.is_whitespace() || c == ')').unwrap_or(text.len());
		if end == 0 {
			return Err(bad("expected a value"));
		}
		Ok((text[..end].to_string(), &text[end..]))
	}
}

/// Splits a line into tokens (bare words or quoted strings).
fn tokens(line: &str) -> Result<Vec<String>, Error> {
	let mut out = Vec::new();
	let mut rest = line.trim_start();
	while !rest.is_empty() {
		let (token, after) = if rest.starts_with('"') {
			take_token(rest)?
		} else {
			let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
			(rest[..end].to_string(), &rest[end..])
		};
		out.push(token);
		rest = after.trim_start();
	}
	Ok(out)
}

/// Parses one operation line.
pub fn parse_op(line: &str) -> Result<TxnOp, Error> {
	let tokens = tokens(line)?;
	let (verb, args) = tokens.split_first().ok_or_else(|| bad("empty operation"))?;
	let prefix = args.iter().any(|a| a == "--prefix");
	let mut lease = None;
	let mut plain: Vec<&String> = Vec::new();
	let mut iter = args.iter();
	while let Some(a) = iter.next() {
		match a.as_str() {
			"--prefix" => {},
			"--lease" => {
				let id = iter.next().ok_or_else(|| bad("--lease needs an id"))?;
				lease = Some(id.parse::<u64>().map_err(|_| bad(format!("bad lease id `{id}`")))?);
			},
			_ => plain.push(a),
		}
	}
	let range = |plain: &[&String]| -> Result<(Vec<u8>, Vec<u8>), Error> {
		match (plain, prefix) {
			([key], true) => Ok((key.as_bytes().to_vec(), prefix_range_end(key.as_bytes()))),
			([key], false) => Ok((key.as_bytes().to_vec(), Vec::new())),
			([key, end], false) => Ok((key.as_bytes().to_vec(), end.as_bytes().to_vec())),
			_ => Err(bad(format!("expected `{verb} KEY [RANGE_END]` or `{verb} --prefix KEY`"))),
		}
	};
	match verb.to_ascii_lowercase().as_str() {
		"put" => match &plain[..] {
			[key, value] if !prefix => Ok(TxnOp::Put {
				key: key.as_bytes().to_vec(),
				value: value.as_bytes().to_vec(),
				lease,
			}),
			_ => Err(bad("expected `put KEY VALUE [--lease ID]`")),
		},
		"del" | "delete" => {
			let (key, range_end) = range(&plain)?;
			Ok(TxnOp::DeleteRange { key, range_end })
		},
		"get" | "range" => {
			let (key, range_end) = range(&plain)?;
			Ok(TxnOp::Range { key, range_end })
		},
		other => Err(bad(format!("unknown operation `{other}` (put, del, get)"))),
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn parses_the_three_blocks() {
		let spec = parse(
			"# fenced update\nmod(\"/config\") = 12\nterm(\"primary\") = 3\n\nput /config \"new value\" --lease 7\ndel --prefix /cache/\n\nget /config\n\n",
		)
		.unwrap();
		assert_eq!(
			spec.compares,
			vec![
				Compare::Key {
					key: b"/config".to_vec(),
					result: CompareResult::Equal,
					target: KeyTarget::ModRevision(12)
				},
				Compare::ElectionTerm {
					election: b"primary".to_vec(),
					result: CompareResult::Equal,
					term: 3
				},
			]
		);
		assert_eq!(
			spec.success,
			vec![
				TxnOp::Put {
					key: b"/config".to_vec(),
					value: b"new value".to_vec(),
					lease: Some(7)
				},
				TxnOp::DeleteRange { key: b"/cache/".to_vec(), range_end: b"/cache0".to_vec() },
			]
		);
		assert_eq!(
			spec.failure,
			vec![TxnOp::Range { key: b"/config".to_vec(), range_end: vec![] }]
		);
		// An empty success branch: two empty lines in a row.
		let spec = parse("ver(a) = 1\n\n\nput b c\n").unwrap();
		assert!(spec.success.is_empty());
		assert_eq!(spec.failure.len(), 1);
		assert!(parse("ver(a) = 1\n\n\n\nput b c\n").is_err());
	}

	#[test]
	fn compares_take_every_target_and_operator() {
		assert!(matches!(
			parse_compare(r#"val("a b") != "x \"y\"""#).unwrap(),
			Compare::Key { result: CompareResult::NotEqual, target: KeyTarget::Value(v), .. } if v == b"x \"y\""
		));
		assert!(matches!(
			parse_compare("ver(/a) > 1").unwrap(),
			Compare::Key { result: CompareResult::Greater, target: KeyTarget::Version(1), .. }
		));
		assert!(matches!(
			parse_compare("leader(\"e\") = none").unwrap(),
			Compare::ElectionLeader { leader: None, .. }
		));
		assert!(parse_compare("leader(\"e\") > none").is_err());
		assert!(parse_compare("size(\"a\") = 1").is_err());
		assert!(parse_compare("mod(\"a\") = x").is_err());
		assert!(parse_op("put onlykey").is_err());
		assert!(parse_op("frob a").is_err());
	}
}
