//! The `[api]` table: the HTTP gateway listener (publish, request, Server-Sent Events, the
//! `/v1/ws` and `/nats` WebSockets, plugins, OpenAPI) and its limits.

use serde::Deserialize;

use super::limits::{RateLimit, RateLimitFile, build_rate};
use super::{Problems, TlsConfig, tls, us};

const DEFAULT_API_PORT: u16 = 8080;

/// The HTTP gateway API listener. Unlike the monitor it is on by default: it is one of the
/// three front-ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiConfig {
    /// Address to bind; defaults to the NATS host, like the monitor.
    pub host: String,
    /// Port to bind; 0 asks the OS for a free port (`--api_port -1`).
    pub port: u16,
    /// HTTPS and WSS (`[api.tls]`); plain HTTP when `None`.
    pub tls: Option<TlsConfig>,
    /// Open TCP connections one client IP may hold; 0 means unlimited. Behind a proxy every
    /// connection comes from the proxy's address, hence no limit by default.
    pub max_connections_per_ip: usize,
    /// Requests per second per user (per IP when anonymous); `None` means unlimited.
    pub rate_limit: Option<RateLimit>,
}

/// The file form of `[api]`.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct ApiFile {
    host: Option<String>,
    pub(crate) port: Option<i64>,
    tls: tls::TlsFile,
    max_connections_per_ip: Option<u64>,
    rate_limit: Option<RateLimitFile>,
}

/// The API is on unless its port is 0; -1 picks a free port. It binds the client host unless
/// told otherwise, like the monitor.
pub(super) fn build(p: &mut Problems, f: ApiFile, nats_host: &str) -> Option<ApiConfig> {
    if let Some(host) = &f.host {
        p.host("api.host", host);
    }
    let port = match f.port {
        None => Some(DEFAULT_API_PORT),
        Some(0) => None,
        Some(n) => p.port("api.port", n),
    }?;
    Some(ApiConfig {
        host: f.host.unwrap_or_else(|| nats_host.to_string()),
        port,
        tls: tls::build(p, "api.tls", f.tls),
        max_connections_per_ip: us(f.max_connections_per_ip.unwrap_or(0)),
        rate_limit: build_rate(p, "api.rate_limit", f.rate_limit),
    })
}
