//! The `[upstream]` table: upstream mode, where sluice is a stateless gateway in front of a
//! real NATS cluster that does the routing and the persistence (see `crate::upstream`).

use std::path::PathBuf;

use serde::Deserialize;

use super::{Problems, SizeFile, us};

/// Publishes held while no upstream server is reachable, unless configured.
const DEFAULT_MAX_BUFFER: u64 = 64 * 1024 * 1024;

/// `[upstream]` after validation; present only when upstream mode is on.
#[derive(Clone, PartialEq, Eq)]
pub struct UpstreamConfig {
    /// Server URLs (`nats://host:port`, `tls://host:port`); the client also learns the
    /// cluster's other nodes from INFO.
    pub servers: Vec<String>,
    /// Connection name the cluster shows in its `/connz`.
    pub name: String,
    /// Token for the cluster, if it wants one.
    pub token: Option<String>,
    /// User and password for the cluster, if it wants them.
    pub user: Option<(String, String)>,
    /// TLS towards the cluster.
    pub tls: UpstreamTls,
    /// Bytes of publishes held while the cluster is unreachable; beyond that they are refused.
    pub max_buffer: usize,
}

/// Secrets stay out of debug output (and so out of logs).
impl std::fmt::Debug for UpstreamConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamConfig")
            .field("servers", &self.servers_redacted())
            .field("name", &self.name)
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .field("user", &self.user.as_ref().map(|(u, _)| u))
            .field("tls", &self.tls)
            .field("max_buffer", &self.max_buffer)
            .finish()
    }
}

/// TLS settings for the upstream connection; all optional (`tls://` URLs alone use the
/// system's roots).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UpstreamTls {
    /// Require TLS even for `nats://` URLs.
    pub required: bool,
    /// CA bundle (PEM) to verify the cluster's certificates with.
    pub ca_file: Option<PathBuf>,
    /// Client certificate (PEM) for clusters that verify clients.
    pub cert_file: Option<PathBuf>,
    /// The client certificate's key (PEM).
    pub key_file: Option<PathBuf>,
}

/// The file form of `[upstream]`.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct UpstreamFile {
    pub(crate) servers: Vec<String>,
    name: Option<String>,
    token: Option<String>,
    user: Option<String>,
    password: Option<String>,
    max_buffer: Option<SizeFile>,
    tls: Option<UpstreamTlsFile>,
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct UpstreamTlsFile {
    required: Option<bool>,
    ca_file: Option<PathBuf>,
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
}

/// Validates `[upstream]`; `None` when no server is configured (embedded mode).
pub(super) fn build(
    p: &mut Problems,
    f: UpstreamFile,
    server_name: &str,
) -> Option<UpstreamConfig> {
    if f.servers.is_empty() {
        let set = f.name.is_some() || f.token.is_some() || f.user.is_some() || f.tls.is_some();
        if set {
            p.add(
                "upstream.servers",
                "required when other [upstream] keys are set",
            );
        }
        return None;
    }
    for (i, url) in f.servers.iter().enumerate() {
        if let Err(why) = check_url(url) {
            p.add(&format!("upstream.servers[{i}]"), why);
        }
    }
    if f.token.is_some() && f.user.is_some() {
        p.add("upstream", "token and user are exclusive");
    }
    let user = match (f.user, f.password) {
        (Some(u), Some(pw)) => Some((u, pw)),
        (None, None) => None,
        _ => {
            p.add("upstream", "user and password go together");
            None
        }
    };
    let tls_file = f.tls.unwrap_or_default();
    if tls_file.cert_file.is_some() != tls_file.key_file.is_some() {
        p.add("upstream.tls", "cert_file and key_file go together");
    }
    let max_buffer = us(p.size("upstream.max_buffer", f.max_buffer, DEFAULT_MAX_BUFFER));
    Some(UpstreamConfig {
        servers: f.servers,
        name: f.name.unwrap_or_else(|| server_name.to_string()),
        token: f.token,
        user,
        tls: UpstreamTls {
            required: tls_file.required.unwrap_or(false),
            ca_file: tls_file.ca_file,
            cert_file: tls_file.cert_file,
            key_file: tls_file.key_file,
        },
        max_buffer,
    })
}

impl UpstreamConfig {
    /// The server URLs with any `user:password@` replaced, for logs and `/varz`.
    pub fn servers_redacted(&self) -> Vec<String> {
        self.servers.iter().map(|u| redact_url(u)).collect()
    }
}

/// `nats://user:pw@host:4222` becomes `nats://[redacted]@host:4222`.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (Some(s), r),
        None => (None, url),
    };
    let (authority, path) = rest
        .split_once('/')
        .map_or((rest, None), |(a, p)| (a, Some(p)));
    let authority = match authority.rsplit_once('@') {
        Some((_, host)) => format!("[redacted]@{host}"),
        None => authority.to_string(),
    };
    let mut out = String::new();
    if let Some(s) = scheme {
        out.push_str(s);
        out.push_str("://");
    }
    out.push_str(&authority);
    if let Some(p) = path {
        out.push('/');
        out.push_str(p);
    }
    out
}

/// `nats://`, `tls://` (or a bare `host:port`) with a host and a port that parses.
fn check_url(url: &str) -> Result<(), String> {
    let rest = match url.split_once("://") {
        Some(("nats" | "tls", rest)) => rest,
        Some((scheme, _)) => return Err(format!("{url:?}: unsupported scheme {scheme:?}")),
        None => url,
    };
    let authority = rest
        .rsplit('@')
        .next()
        .unwrap_or(rest)
        .trim_end_matches('/');
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    if host.is_empty() || host.contains(['/', ' ', '?', '#']) {
        return Err(format!("{url:?} has no valid host"));
    }
    if port.is_some_and(|p| p.parse::<u16>().map_or(true, |n| n == 0)) {
        return Err(format!("{url:?} has an invalid port"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        for ok in [
            "nats://a:4222",
            "tls://b.example:4443",
            "c:4222",
            "nats://u:p@d:1",
            "e",
        ] {
            assert!(check_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://a:1",
            "nats://:4222",
            "nats://a:0",
            "nats://a:x",
            "nats://a b:1",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn credentials_in_urls_are_redacted() {
        assert_eq!(redact_url("nats://u:p@h:1"), "nats://[redacted]@h:1");
        assert_eq!(redact_url("tls://tok@h"), "tls://[redacted]@h");
        assert_eq!(redact_url("nats://h:1"), "nats://h:1");
        assert_eq!(redact_url("h:1"), "h:1");
    }

    #[test]
    fn secrets_are_not_debug_printed() {
        let c = UpstreamConfig {
            servers: vec!["nats://a:1".into()],
            name: "g".into(),
            token: Some("s3cret".into()),
            user: Some(("bob".into(), "hunter2".into())),
            tls: UpstreamTls::default(),
            max_buffer: 1,
        };
        let text = format!("{c:?}");
        assert!(
            !text.contains("s3cret") && !text.contains("hunter2"),
            "{text}"
        );
    }
}
