//! Who may use the HTTP/JSON gateway: etcd's defences against cross-site requests
//! (CVE-2018-1098) and DNS rebinding (CVE-2018-1099), made the default.
//!
//! A web page cannot speak gRPC to the plaintext port, but it can `POST` to the gateway: a
//! `text/plain` body is a "simple" request that a browser sends without asking first, and the
//! gateway decodes any body as JSON. So the gateway refuses:
//! - a request whose `Origin` is not allowed (`--etcd-cors`, none by default): browsers send
//!   `Origin` with every `POST`, command-line clients (etcdctl, Patroni, curl) send none;
//! - on a plaintext port, a request whose `Host` is a name other than `localhost` or one
//!   allowed (`--etcd-host-whitelist`): a page on `evil.example` whose name the attacker points
//!   at 127.0.0.1 sends `Host: evil.example`. IP literals are always allowed, as no name is
//!   resolved for them. etcd skips this check over TLS, where the certificate names the host,
//!   and so does this gateway.
//!
//! gRPC calls are not checked (etcd checks neither): browsers reach HTTP/2 only over TLS, and
//! there only with a page's own fetch API, which cannot send gRPC's trailers.

use std::net::IpAddr;

use axum::{
	extract::Request,
	http::{
		header::{
			ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
			ACCESS_CONTROL_ALLOW_ORIGIN, HOST, ORIGIN, VARY,
		},
		HeaderValue, Method, StatusCode,
	},
	middleware::Next,
	response::{IntoResponse, Response},
};
use serde_json::json;

/// What the gateway accepts beyond command-line clients on this host.
#[derive(Clone, Debug, Default)]
pub struct Access {
	/// Host names allowed besides `localhost` and IP literals (etcd's `--host-whitelist`);
	/// `*` allows any.
	pub hosts: Vec<String>,
	/// The browser origins allowed to call the gateway (etcd's `--cors`), such as
	/// `https://dashboard.example:8443`; `*` allows any.
	pub origins: Vec<String>,
	/// Whether the port serves TLS: the `Host` check is then skipped, as etcd does.
	pub tls: bool,
}

impl Access {
	/// Whether a request naming `host` (a `Host` header or HTTP/2 authority, port included or
	/// not) may be served.
	pub fn host_allowed(&self, host: &str) -> bool {
		if self.tls || self.hosts.iter().any(|h| h == "*") {
			return true;
		}
		let name = hostname(host).to_ascii_lowercase();
		host.parse::<IpAddr>().is_ok()
			|| name.parse::<IpAddr>().is_ok()
			|| name == "localhost"
			|| name.ends_with(".localhost")
			|| self.hosts.iter().any(|h| h.eq_ignore_ascii_case(&name))
	}

	/// Whether a browser request from `origin` may be served.
	pub fn origin_allowed(&self, origin: &str) -> bool {
		self.origins
			.iter()
			.any(|o| o == "*" || o.trim_end_matches('/').eq_ignore_ascii_case(origin))
	}
}

/// The name in a `Host` value: without its port, and without the brackets of an IPv6 literal.
fn hostname(host: &str) -> &str {
	if let Some(rest) = host.strip_prefix('[') {
		return rest.split(']').next().unwrap_or(rest);
	}
	match host.rsplit_once(':') {
		Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
		_ => host,
	}
}

/// The middleware that applies `access` to every gateway request, and answers CORS preflights
/// from allowed origins.
pub async fn check(
	access: axum::extract::State<std::sync::Arc<Access>>,
	request: Request,
	next: Next,
) -> Response {
	let host =
		request.uri().authority().map(|a| a.as_str().to_string()).or_else(|| {
			request.headers().get(HOST).and_then(|h| h.to_str().ok()).map(str::to_string)
		});
	if let Some(host) = host.filter(|h| !access.host_allowed(h)) {
		log::warn!(
			target: crate::LOG_TARGET,
			"refused an HTTP request for host {host:?}: not a loopback name or IP, nor in --etcd-host-whitelist (DNS rebinding, CVE-2018-1099)"
		);
		return refusal(
			StatusCode::MISDIRECTED_REQUEST,
			format!(
				"regchain: host {host:?} is not allowed: the etcd gateway answers requests for \
				 localhost, IP addresses and the names given to --etcd-host-whitelist"
			),
		);
	}
	let Some(origin) = request.headers().get(ORIGIN).cloned() else {
		return next.run(request).await;
	};
	let text = origin.to_str().unwrap_or_default();
	if !access.origin_allowed(text) {
		log::warn!(
			target: crate::LOG_TARGET,
			"refused an HTTP request from origin {text:?}: not in --etcd-cors (cross-site request, CVE-2018-1098)"
		);
		return refusal(
			StatusCode::FORBIDDEN,
			format!(
				"regchain: origin {text:?} is not allowed: the etcd gateway answers browsers only \
				 from the origins given to --etcd-cors"
			),
		);
	}
	let preflight = request.method() == Method::OPTIONS;
	let mut response =
		if preflight { StatusCode::NO_CONTENT.into_response() } else { next.run(request).await };
	let headers = response.headers_mut();
	headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
	headers.insert(VARY, HeaderValue::from_static("Origin"));
	if preflight {
		headers
			.insert(ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST, OPTIONS"));
		headers.insert(
			ACCESS_CONTROL_ALLOW_HEADERS,
			HeaderValue::from_static("Content-Type, Authorization"),
		);
	}
	response
}

/// A refusal in the gateway's error shape, with gRPC's `PermissionDenied` code.
fn refusal(status: StatusCode, message: String) -> Response {
	let body = json!({ "error": message, "message": message, "code": tonic::Code::PermissionDenied as i32 });
	(status, [(axum::http::header::CONTENT_TYPE, "application/json")], body.to_string())
		.into_response()
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn loopback_names_and_ip_literals_are_allowed_other_names_only_when_listed() {
		let default = Access::default();
		for host in [
			"localhost",
			"localhost:2379",
			"LOCALHOST",
			"a.localhost:1",
			"127.0.0.1:2379",
			"[::1]:2379",
			"::1",
			"10.1.2.3",
		] {
			assert!(default.host_allowed(host), "{host}");
		}
		for host in
			["evil.example", "evil.example:2379", "localhost.evil.example", "127.0.0.1.nip.io"]
		{
			assert!(!default.host_allowed(host), "{host}");
		}
		let listed = Access { hosts: vec!["etcd.internal".into()], ..Default::default() };
		assert!(listed.host_allowed("ETCD.internal:2379"));
		assert!(!listed.host_allowed("evil.example"));
		let any = Access { hosts: vec!["*".into()], ..Default::default() };
		assert!(any.host_allowed("evil.example"));
		let tls = Access { tls: true, ..Default::default() };
		assert!(tls.host_allowed("etcd.example.com"));
	}

	#[test]
	fn origins_are_refused_unless_listed() {
		assert!(!Access::default().origin_allowed("http://localhost:3000"));
		assert!(!Access::default().origin_allowed("null"));
		let listed = Access { origins: vec!["https://dash.example/".into()], ..Default::default() };
		assert!(listed.origin_allowed("https://dash.example"));
		assert!(!listed.origin_allowed("http://dash.example"));
		assert!(!listed.origin_allowed("https://evil.example"));
		let any = Access { origins: vec!["*".into()], ..Default::default() };
		assert!(any.origin_allowed("https://evil.example"));
	}
}
