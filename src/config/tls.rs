//! `tls` tables: `[nats.tls]` (TLS on the NATS client port, with nats-server's flags
//! `--tls`, `--tlscert`, `--tlskey`, `--tlsverify`, `--tlscacert` and its meaning of them:
//! INFO in the clear with `tls_required`, then the client starts TLS), and `[api.tls]`,
//! `[websocket.tls]`, `[monitor.tls]` (HTTPS and WSS on those listeners).

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::{DurationFile, Problems};

/// nats-server's default TLS handshake timeout (`tls { timeout: 2 }`).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// TLS settings after validation; present only when TLS is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// The server's certificate chain (PEM).
    pub cert_file: PathBuf,
    /// Its private key (PEM).
    pub key_file: PathBuf,
    /// CA bundle (PEM) client certificates are verified against.
    pub ca_file: Option<PathBuf>,
    /// Clients must present a certificate signed by `ca_file` (mutual TLS).
    pub verify: bool,
    /// The client certificate's subject (`CN=alice,O=Acme`, RFC 2253 order) is the user
    /// name, with no password: users are looked up by it.
    pub verify_and_map: bool,
    /// Time a client has to complete the handshake.
    pub timeout: Duration,
}

/// The file form of `[nats.tls]` (flags write into it too).
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct TlsFile {
    /// `--tls`: turn TLS on (the file turns it on by naming a certificate).
    #[serde(skip)]
    pub(crate) enabled: Option<bool>,
    pub(crate) cert_file: Option<PathBuf>,
    pub(crate) key_file: Option<PathBuf>,
    pub(crate) ca_file: Option<PathBuf>,
    pub(crate) verify: Option<bool>,
    pub(crate) verify_and_map: Option<bool>,
    timeout: Option<DurationFile>,
}

/// Validates a `tls` table (`key` is where it is, e.g. `nats.tls`); `None` when TLS is off.
pub(super) fn build(p: &mut Problems, key: &str, f: TlsFile) -> Option<TlsConfig> {
    let verify_and_map = f.verify_and_map.unwrap_or(false);
    let verify = f.verify.unwrap_or(false) || verify_and_map;
    let on = f.enabled.unwrap_or(false) || f.cert_file.is_some() || f.key_file.is_some() || verify;
    if !on {
        return None;
    }
    let (Some(cert_file), Some(key_file)) = (f.cert_file, f.key_file) else {
        p.add(
            key,
            "TLS needs cert_file and key_file (--tlscert, --tlskey)",
        );
        return None;
    };
    if verify && f.ca_file.is_none() {
        p.add(
            &format!("{key}.ca_file"),
            "required to verify client certificates (--tlscacert)",
        );
    }
    let timeout = p.positive(&format!("{key}.timeout"), f.timeout, DEFAULT_TIMEOUT);
    Some(TlsConfig {
        cert_file,
        key_file,
        ca_file: f.ca_file,
        verify,
        verify_and_map,
        timeout,
    })
}
