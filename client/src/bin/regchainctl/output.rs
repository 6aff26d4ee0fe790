//! Printing results: text for people, JSON for scripts.

use regchain_client::{hex::display_bytes, Change, Receipt, WatchItem};
use serde_json::{json, Value};

use crate::{Context, OutputArg};

/// Prints `text()` or `json`, as the context asks.
pub fn emit(ctx: &Context, text: impl FnOnce() -> String, json: Value) {
	match ctx.output {
		OutputArg::Text => {
			let text = text();
			if !text.is_empty() {
				println!("{text}");
			}
		},
		OutputArg::Json => println!("{}", serde_json::to_string(&json).unwrap_or_default()),
	}
}

/// Where a write landed, as JSON fields.
pub fn receipt_json(receipt: &Receipt) -> Value {
	json!({
		"block": format!("{:?}", receipt.block_hash),
		"block_number": receipt.block_number,
		"finalized": receipt.finalized,
	})
}

/// Merges `extra` into `base` (both objects).
pub fn merge(mut base: Value, extra: Value) -> Value {
	if let (Value::Object(b), Value::Object(e)) = (&mut base, extra) {
		b.extend(e);
	}
	base
}

/// Where a write landed, for people.
pub fn receipt_text(receipt: &Receipt) -> String {
	format!(
		"block #{} {}",
		receipt.block_number,
		if receipt.finalized { "(finalized)" } else { "(best, not yet final)" }
	)
}

/// A hex field of a change as text.
fn field(change: &Change, name: &str) -> String {
	change
		.fields
		.get(name)
		.and_then(Value::as_str)
		.map(|hex| {
			regchain_client::hex::from_hex(hex)
				.map(|b| display_bytes(&b))
				.unwrap_or(hex.into())
		})
		.unwrap_or_default()
}

/// One watch item, for people: etcdctl's `PUT`/`DELETE` lines for keys, one line otherwise.
pub fn watch_item_text(item: &WatchItem) -> String {
	let change = match item {
		WatchItem::Retracted { retracted } => {
			return format!("RETRACTED block #{} {}", retracted.number, retracted.hash)
		},
		WatchItem::Change(c) => c,
	};
	let who = change.who.clone().unwrap_or_else(|| "the chain".into());
	let pending = if change.finalized { "" } else { " (not final)" };
	match change.kind.as_str() {
		"put" => format!(
			"PUT\n{}\n{}\n(revision {}, block #{}, by {who}){pending}",
			field(change, "key"),
			field(change, "value"),
			change.revision,
			change.block_number
		),
		"delete" => format!(
			"DELETE\n{}\n(revision {}, block #{}, by {who}){pending}",
			field(change, "key"),
			change.revision,
			change.block_number
		),
		kind if change.fields.contains_key("instance_id") => {
			let endpoint = change
				.instance()
				.map(|i| format!(" {} {}", i.endpoint, i.health))
				.unwrap_or_default();
			format!(
				"{} {}/{}{endpoint} (block #{}, by {who}){pending}",
				kind.to_uppercase(),
				field(change, "service"),
				field(change, "instance_id"),
				change.block_number
			)
		},
		kind => format!(
			"{} {} leader {} term {} (block #{}, by {who}){pending}",
			kind.to_uppercase(),
			field(change, "election"),
			change.leader().unwrap_or_else(|| "none".into()),
			change.term().map(|t| t.to_string()).unwrap_or_else(|| "?".into()),
			change.block_number
		),
	}
}

/// One history item, for people.
pub fn history_text(change: &Change) -> String {
	let subject = match change.kind.as_str() {
		"put" => format!("{} = {}", field(change, "key"), field(change, "value")),
		"delete" => field(change, "key"),
		_ if change.fields.contains_key("instance_id") => {
			format!("{}/{}", field(change, "service"), field(change, "instance_id"))
		},
		_ => format!(
			"{} leader {} term {}",
			field(change, "election"),
			change.leader().unwrap_or_else(|| "none".into()),
			change.term().unwrap_or_default()
		),
	};
	format!(
		"revision {} block #{} time {} by {}: {} {}",
		change.revision,
		change.block_number,
		change.time_ms().map(|t| t.to_string()).unwrap_or_else(|| "?".into()),
		change.who.clone().unwrap_or_else(|| "the chain".into()),
		change.kind,
		subject
	)
}
