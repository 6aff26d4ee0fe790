//! The JSON-RPC transport: one WebSocket or HTTP connection to a node.

use std::time::Duration;

use jsonrpsee::{
	core::{
		async_trait,
		client::{BatchResponse, ClientT, Error as RpcError, Subscription, SubscriptionClientT},
		params::{ArrayParams, BatchRequestBuilder},
		traits::ToRpcParams,
	},
	http_client::{HttpClient, HttpClientBuilder},
	ws_client::{WsClient, WsClientBuilder},
};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::{error::one_line, Error};

/// How long a single JSON-RPC request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest answer the client takes: far above a node's own limit (Substrate's
/// `--rpc-max-response-size`, 15 MiB by default), so that the node's limit is the one met, and
/// an answer too large for it fails alone with the node's error. (jsonrpsee's default, 10 MiB,
/// is below the node's: an answer between the two ended the whole WebSocket connection, and with
/// it every later call, watch and write of a client sharing it, as the etcd API does.)
pub const MAX_RESPONSE_SIZE: u32 = 256 * 1024 * 1024;

/// A connection to a node's JSON-RPC endpoint.
pub enum Rpc {
	/// `ws://` or `wss://`: calls and subscriptions.
	Ws(WsClient),
	/// `http://` or `https://`: calls only.
	Http(HttpClient),
}

impl Rpc {
	/// Connects to `url` (`ws://`, `wss://`, `http://` or `https://`). For HTTP, the first call
	/// tells whether the node is reachable; for WebSocket, connecting does.
	pub async fn connect(url: &str, connect_timeout: Duration) -> Result<Self, Error> {
		check_url(url)?;
		let unreachable =
			|reason: String| Error::Unreachable { url: url.to_string(), reason: one_line(&reason) };
		if url.starts_with("ws://") || url.starts_with("wss://") {
			let client = WsClientBuilder::default()
				.connection_timeout(connect_timeout)
				.request_timeout(REQUEST_TIMEOUT)
				.max_response_size(MAX_RESPONSE_SIZE)
				.max_buffer_capacity_per_subscription(64 * 1024)
				.build(url)
				.await
				.map_err(|e| unreachable(e.to_string()))?;
			Ok(Rpc::Ws(client))
		} else {
			let client = HttpClientBuilder::default()
				.request_timeout(REQUEST_TIMEOUT)
				.max_response_size(MAX_RESPONSE_SIZE)
				.build(url)
				.map_err(|e| unreachable(e.to_string()))?;
			Ok(Rpc::Http(client))
		}
	}

	/// Calls `method` with positional `params`.
	pub async fn request<R: DeserializeOwned>(
		&self,
		method: &str,
		params: Vec<Value>,
	) -> Result<R, Error> {
		let params = array(params)?;
		ClientT::request(self, method, params).await.map_err(|e| rpc_error(method, e))
	}

	/// Subscribes with `method` and `params`; `unsubscribe` ends it when dropped.
	pub async fn subscribe<N: DeserializeOwned>(
		&self,
		method: &str,
		params: Vec<Value>,
		unsubscribe: &str,
	) -> Result<Subscription<N>, Error> {
		SubscriptionClientT::subscribe(self, method, array(params)?, unsubscribe)
			.await
			.map_err(|e| rpc_error(method, e))
	}

	/// Whether subscriptions are possible on this connection.
	pub fn is_ws(&self) -> bool {
		matches!(self, Rpc::Ws(_))
	}

	/// Whether a WebSocket connection is still up (HTTP has no connection to lose).
	pub fn is_connected(&self) -> bool {
		match self {
			Rpc::Ws(c) => c.is_connected(),
			Rpc::Http(_) => true,
		}
	}
}

/// Either transport, as one jsonrpsee client: what the methods generated from
/// [`regchain_rpc_api`]'s traits call. Subscriptions over HTTP fail as jsonrpsee's HTTP client
/// fails them.
#[async_trait]
impl ClientT for Rpc {
	async fn notification<Params>(&self, method: &str, params: Params) -> Result<(), RpcError>
	where
		Params: ToRpcParams + Send,
	{
		match self {
			Rpc::Ws(c) => c.notification(method, params).await,
			Rpc::Http(c) => c.notification(method, params).await,
		}
	}

	async fn request<R, Params>(&self, method: &str, params: Params) -> Result<R, RpcError>
	where
		R: DeserializeOwned,
		Params: ToRpcParams + Send,
	{
		match self {
			Rpc::Ws(c) => c.request(method, params).await,
			Rpc::Http(c) => c.request(method, params).await,
		}
	}

	async fn batch_request<'a, R>(
		&self,
		batch: BatchRequestBuilder<'a>,
	) -> Result<BatchResponse<'a, R>, RpcError>
	where
		R: DeserializeOwned + std::fmt::Debug + 'a,
	{
		match self {
			Rpc::Ws(c) => c.batch_request(batch).await,
			Rpc::Http(c) => c.batch_request(batch).await,
		}
	}
}

#[async_trait]
impl SubscriptionClientT for Rpc {
	async fn subscribe<'a, Notif, Params>(
		&self,
		subscribe_method: &'a str,
		params: Params,
		unsubscribe_method: &'a str,
	) -> Result<Subscription<Notif>, RpcError>
	where
		Params: ToRpcParams + Send,
		Notif: DeserializeOwned,
	{
		match self {
			Rpc::Ws(c) => c.subscribe(subscribe_method, params, unsubscribe_method).await,
			Rpc::Http(c) => c.subscribe(subscribe_method, params, unsubscribe_method).await,
		}
	}

	async fn subscribe_to_method<'a, Notif>(
		&self,
		method: &'a str,
	) -> Result<Subscription<Notif>, RpcError>
	where
		Notif: DeserializeOwned,
	{
		match self {
			Rpc::Ws(c) => c.subscribe_to_method(method).await,
			Rpc::Http(c) => c.subscribe_to_method(method).await,
		}
	}
}

/// Refuses an endpoint that is not a `ws://`, `wss://`, `http://` or `https://` URL.
pub(crate) fn check_url(url: &str) -> Result<(), Error> {
	match ["ws://", "wss://", "http://", "https://"]
		.iter()
		.any(|scheme| url.starts_with(scheme))
	{
		true => Ok(()),
		false => Err(Error::BadInput(format!(
			"endpoint {url:?} is not a ws://, wss://, http:// or https:// URL"
		))),
	}
}

fn array(params: Vec<Value>) -> Result<ArrayParams, Error> {
	let mut out = ArrayParams::new();
	for p in params {
		out.insert(p)
			.map_err(|e| Error::BadInput(format!("cannot encode parameter: {e}")))?;
	}
	Ok(out)
}

/// A jsonrpsee error as this crate's, keeping the node's message and data on one line.
pub(crate) fn rpc_error(method: &str, e: RpcError) -> Error {
	match e {
		RpcError::Call(obj) => {
			let mut message = obj.message().to_string();
			let mut structured = None;
			if let Some(data) = obj.data() {
				match serde_json::from_str::<Value>(data.get()) {
					// Text is part of the message; structured data is kept as such.
					Ok(Value::String(text)) if !text.is_empty() => {
						message = format!("{message}: {text}")
					},
					Ok(Value::String(_)) | Ok(Value::Null) => {},
					Ok(value) => structured = Some(value),
					Err(_) => message = format!("{message}: {}", data.get()),
				}
			}
			Error::Rpc {
				method: method.to_string(),
				code: obj.code(),
				message: one_line(&message),
				data: structured,
			}
		},
		RpcError::HttpNotImplemented => Error::NeedsWebSocket(format!("http (for {method})")),
		RpcError::RequestTimeout => Error::Timeout {
			what: format!("the node's answer to {method}"),
			after: REQUEST_TIMEOUT,
		},
		RpcError::ParseError(e) => Error::decode(format!("the answer to {method}"), e),
		other => Error::Connection(one_line(&other.to_string())),
	}
}
