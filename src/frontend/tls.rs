//! TLS (rustls): the server configuration built from a `tls` table, the names a client
//! certificate stands for (`verify_and_map` on the NATS port), and the acceptor of the HTTP
//! listeners (API, WebSocket, monitor; see [`super::accept`]).
//!
//! The names follow nats-server's order: e-mail addresses and DNS names from the subject
//! alternative names, then the subject as an RFC 2253 string (`CN=alice,O=Acme`, last RDN
//! first, as Go's `pkix.Name.String` writes it); the first that names a configured user is
//! the client's identity.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate, X509Name};

use crate::config::TlsConfig;

/// The rustls server configuration for `[nats.tls]`; errors name the file at fault.
pub fn server_config(cfg: &TlsConfig) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cfg.cert_file)
        .and_then(|it| it.collect())
        .with_context(|| format!("nats.tls.cert_file {}", cfg.cert_file.display()))?;
    if certs.is_empty() {
        anyhow::bail!(
            "nats.tls.cert_file {}: no certificate in it",
            cfg.cert_file.display()
        );
    }
    let key = PrivateKeyDer::from_pem_file(&cfg.key_file)
        .with_context(|| format!("nats.tls.key_file {}", cfg.key_file.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?;
    let builder = match (&cfg.ca_file, cfg.verify) {
        (Some(ca), true) => {
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(ca)
                .with_context(|| format!("nats.tls.ca_file {}", ca.display()))?
            {
                let cert = cert.with_context(|| format!("nats.tls.ca_file {}", ca.display()))?;
                roots
                    .add(cert)
                    .with_context(|| format!("nats.tls.ca_file {}", ca.display()))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .context("client certificate verifier")?;
            builder.with_client_cert_verifier(verifier)
        }
        _ => builder.with_no_client_auth(),
    };
    let config = builder
        .with_single_cert(certs, key)
        .context("nats.tls: the key does not match the certificate")?;
    Ok(Arc::new(config))
}

/// TLS for an HTTP listener: the acceptor built from its `tls` table, and the handshake
/// timeout.
pub struct HttpTls {
    pub(super) acceptor: TlsAcceptor,
    pub(super) timeout: Duration,
}

impl HttpTls {
    /// Loads the certificate and key; errors name the file at fault.
    pub fn new(cfg: &TlsConfig) -> anyhow::Result<Self> {
        Ok(HttpTls {
            acceptor: TlsAcceptor::from(server_config(cfg)?),
            timeout: cfg.timeout,
        })
    }
}

/// The names the client's certificate stands for, in the order they are tried.
pub fn certificate_names(conn: &rustls::ServerConnection) -> Vec<String> {
    let Some(der) = conn.peer_certificates().and_then(|c| c.first()) else {
        return Vec::new();
    };
    let Ok((_, cert)) = X509Certificate::from_der(der.as_ref()) else {
        return Vec::new();
    };
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for kind in [0, 1] {
            for name in &san.value.general_names {
                match (kind, name) {
                    (0, GeneralName::RFC822Name(email)) => names.push(email.to_string()),
                    (1, GeneralName::DNSName(dns)) => names.push(dns.to_string()),
                    _ => {}
                }
            }
        }
    }
    names.push(rfc2253(cert.subject()));
    names
}

/// `CN=alice,OU=ops,O=Acme`: RDNs last first, attributes of one RDN joined by `+`.
fn rfc2253(name: &X509Name<'_>) -> String {
    let rdns: Vec<String> = name
        .iter_rdn()
        .map(|rdn| {
            rdn.iter()
                .map(|attr| {
                    let value = attr.as_str().map(escape).unwrap_or_else(|_| {
                        let hex: String =
                            attr.as_slice().iter().map(|b| format!("{b:02x}")).collect();
                        format!("#{hex}")
                    });
                    format!("{}={value}", short_name(&attr.attr_type().to_id_string()))
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    rdns.into_iter().rev().collect::<Vec<_>>().join(",")
}

fn short_name(oid: &str) -> String {
    match oid {
        "2.5.4.3" => "CN",
        "2.5.4.5" => "SERIALNUMBER",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "STREET",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.17" => "POSTALCODE",
        "0.9.2342.19200300.100.1.1" => "UID",
        "0.9.2342.19200300.100.1.25" => "DC",
        other => other,
    }
    .to_string()
}

/// RFC 2253 escaping: the separators and quotes get a backslash, as do a leading `#` or
/// space and a trailing space.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && matches!(c, '#' | ' '))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_written_as_go_writes_them() {
        let mut params = rcgen::CertificateParams::new(vec!["client.example".into()]).unwrap();
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::OrganizationName, "Acme, Inc");
        dn.push(rcgen::DnType::OrganizationalUnitName, "ops");
        dn.push(rcgen::DnType::CommonName, "alice");
        params.distinguished_name = dn;
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let (_, parsed) = X509Certificate::from_der(cert.der()).unwrap();
        assert_eq!(rfc2253(parsed.subject()), "CN=alice,OU=ops,O=Acme\\, Inc");
        assert_eq!(escape(" a#b "), "\\ a#b\\ ");
    }
}
