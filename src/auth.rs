//! Authentication (token, users with plain or bcrypt passwords, or users with nkeys) and
//! per-user subject permissions.
//!
//! This lives beside the core, not in the NATS front-end, so HTTP and WebSocket clients are
//! checked against the same users and the same rules. The rules follow nats-server: an empty
//! allow list allows everything, deny wins over allow, a wildcard subscription is allowed when
//! every subject it can match is allowed, and deny entries that only overlap a wildcard
//! subscription are enforced per message at delivery time.
//!
//! An nkey user proves it holds the private key by signing the nonce the NATS INFO carried
//! (nats-server's challenge), so only the NATS protocol, over TCP or WebSocket, can carry
//! it; HTTP and the JSON WebSocket have no nonce and no nkey users.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use bytes::Bytes;
use subtle::ConstantTimeEq;
use tracing::debug;

use crate::config::{self, AuthConfig};
use crate::core::router::Subscription;
use crate::core::subject::{is_subset_match, subject_matches, subjects_overlap};

/// Who a connection authenticated as, and what it may do.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    /// The user name (an nkey user's public key); `None` for token or anonymous connections.
    pub user: Option<String>,
    /// `None` means no restrictions.
    pub permissions: Option<Arc<Permissions>>,
    /// May manage plugins: the token holder under token auth, users marked `admin`.
    pub admin: bool,
}

/// Credentials as a client presented them (CONNECT fields, HTTP headers, ...).
#[derive(Debug, Clone, Copy, Default)]
pub struct Credentials<'a> {
    /// `user` in CONNECT.
    pub user: Option<&'a str>,
    /// `pass` in CONNECT.
    pub pass: Option<&'a str>,
    /// `auth_token` in CONNECT.
    pub token: Option<&'a str>,
    /// TLS `verify_and_map`: the names the client's verified certificate stands for; the
    /// first that is a configured user is the identity, and no password is asked.
    pub certificate: Option<&'a [String]>,
    /// `nkey` and `sig` in CONNECT, with the nonce this connection was sent.
    pub nkey: Option<NkeyProof<'a>>,
}

/// A client's claim to hold an nkey: its public key and its signature of the INFO nonce.
#[derive(Debug, Clone, Copy)]
pub struct NkeyProof<'a> {
    /// CONNECT `nkey`: the user's public key (`U...`).
    pub public_key: &'a str,
    /// CONNECT `sig`: the ed25519 signature of the nonce, base64 (URL-safe without padding,
    /// or standard with padding, which nats-server also takes and nats.py sends).
    pub signature: &'a str,
    /// The nonce sent to this connection in INFO (see [`new_nonce`]).
    pub nonce: &'a str,
}

/// Random bytes in a nonce: nats-server's `nonceRawLen`.
const NONCE_RAW_LEN: usize = 11;

/// Go's `base64.RawURLEncoding` and `StdEncoding` decoders: like them, tolerant of non-zero
/// trailing bits, so every signature nats-server accepts is accepted here.
const RAW_URL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);
const STD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical)
        .with_decode_allow_trailing_bits(true),
);

/// A fresh nonce for one connection's INFO: 11 random bytes in unpadded URL-safe base64
/// (15 characters), as nats-server makes them. Clients sign its text, not the bytes.
pub fn new_nonce() -> String {
    use rand::RngCore;
    let mut raw = [0u8; NONCE_RAW_LEN];
    // ThreadRng is a CSPRNG seeded from the OS; a nonce must not be predictable, or a
    // recorded signature could be replayed.
    rand::rng().fill_bytes(&mut raw);
    RAW_URL.encode(raw)
}

/// Credentials a connection presented, kept for its lifetime so a reload can check them
/// against the new configuration (as nats-server keeps CONNECT's options).
#[derive(Clone, Default)]
pub struct SavedCredentials {
    /// `user` in CONNECT.
    pub user: Option<String>,
    /// `pass` in CONNECT.
    pub pass: Option<String>,
    /// `auth_token` in CONNECT.
    pub token: Option<String>,
    /// The names a verified client certificate stands for (`verify_and_map`).
    pub certificate: Option<Vec<String>>,
    /// `nkey` and `sig` in CONNECT with the nonce they signed: a reload verifies the
    /// signature again against the new set of nkey users.
    pub nkey: Option<SavedNkey>,
}

/// An [`NkeyProof`] kept for a connection's lifetime.
#[derive(Clone, Debug, Default)]
pub struct SavedNkey {
    /// The user's public key (`U...`).
    pub public_key: String,
    /// Its signature of the nonce.
    pub signature: String,
    /// The nonce this connection was sent.
    pub nonce: String,
}

impl SavedCredentials {
    /// Borrowed, as [`Authenticator::authenticate`] takes them.
    pub fn as_credentials(&self) -> Credentials<'_> {
        Credentials {
            user: self.user.as_deref(),
            pass: self.pass.as_deref(),
            token: self.token.as_deref(),
            certificate: self.certificate.as_deref(),
            nkey: self.nkey.as_ref().map(|n| NkeyProof {
                public_key: &n.public_key,
                signature: &n.signature,
                nonce: &n.nonce,
            }),
        }
    }
}

impl std::fmt::Debug for SavedCredentials {
    // Keeps secrets out of debug logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SavedCredentials")
            .field("user", &self.user)
            .field("certificate", &self.certificate)
            .field("nkey", &self.nkey.as_ref().map(|n| &n.public_key))
            .finish_non_exhaustive()
    }
}

/// Checks credentials against the configured token or users.
#[derive(Debug, Default)]
pub struct Authenticator {
    token: Option<String>,
    users: HashMap<String, UserEntry>,
    /// nkey users by public key.
    nkeys: HashMap<String, NkeyEntry>,
}

#[derive(Debug)]
struct UserEntry {
    password: String,
    permissions: Option<Arc<Permissions>>,
    admin: bool,
}

#[derive(Debug)]
struct NkeyEntry {
    /// The public key, parsed once at start.
    key: nkeys::KeyPair,
    permissions: Option<Arc<Permissions>>,
    admin: bool,
}

impl NkeyEntry {
    /// Does `proof` carry a signature of its nonce by this key? nats-server's checks, in
    /// its order: a signature is present, it is base64 (URL-safe raw, else standard), and
    /// it verifies.
    fn verifies(&self, proof: NkeyProof<'_>) -> bool {
        let nkey = proof.public_key;
        // A connection sent no nonce (nkeys were not configured when it was greeted) cannot
        // use one: a signature of the empty nonce would be valid forever.
        if proof.nonce.is_empty() {
            debug!(%nkey, "Nkey presented without a nonce.");
            return false;
        }
        if proof.signature.is_empty() {
            debug!(%nkey, "Nkey signature missing.");
            return false;
        }
        let decoded = RAW_URL
            .decode(proof.signature)
            .or_else(|_| STD.decode(proof.signature));
        let Ok(signature) = decoded else {
            debug!(%nkey, "Nkey signature not valid base64.");
            return false;
        };
        if self.key.verify(proof.nonce.as_bytes(), &signature).is_err() {
            debug!(%nkey, "Nkey signature not verified.");
            return false;
        }
        true
    }
}

impl Authenticator {
    /// Builds the authenticator from validated configuration.
    pub fn from_config(auth: &AuthConfig) -> Self {
        let default_permissions = auth.default_permissions.as_ref().map(Permissions::compile);
        let compile = |own: &Option<config::Permissions>| match own {
            Some(p) => Some(Arc::new(Permissions::compile(p))),
            None => default_permissions.clone().map(Arc::new),
        };
        let users = auth
            .users
            .iter()
            .map(|u| {
                let entry = UserEntry {
                    password: u.password.clone(),
                    permissions: compile(&u.permissions),
                    admin: u.admin,
                };
                (u.user.clone(), entry)
            })
            .collect();
        // Validation already refused keys that do not parse; one that still fails is left
        // out (nobody can authenticate as it) rather than trusted.
        let nkeys = auth
            .nkeys
            .iter()
            .filter_map(|u| {
                let key = nkeys::KeyPair::from_public_key(&u.nkey).ok()?;
                let entry = NkeyEntry {
                    key,
                    permissions: compile(&u.permissions),
                    admin: u.admin,
                };
                Some((u.nkey.clone(), entry))
            })
            .collect();
        Authenticator {
            token: auth.token.clone(),
            users,
            nkeys,
        }
    }

    /// Whether clients must present credentials (and INFO says `auth_required`).
    pub fn required(&self) -> bool {
        self.token.is_some() || !self.users.is_empty() || !self.nkeys.is_empty()
    }

    /// Whether INFO must carry a nonce for clients to sign: nkey users are configured.
    pub fn nonce_required(&self) -> bool {
        !self.nkeys.is_empty()
    }

    /// Whether checking may be slow (bcrypt), so callers can move it off the I/O threads.
    pub fn is_expensive(&self) -> bool {
        self.token.as_deref().is_some_and(is_bcrypt)
            || self.users.values().any(|u| is_bcrypt(&u.password))
    }

    /// The identity for these credentials, or `None` when they are wrong.
    pub fn authenticate(&self, creds: Credentials<'_>) -> Option<Identity> {
        if let Some(token) = &self.token {
            let given = creds.token?;
            let operator = Identity {
                admin: true,
                ..Identity::default()
            };
            return compare_password(token, given).then_some(operator);
        }
        if self.users.is_empty() && self.nkeys.is_empty() {
            return Some(Identity::default());
        }
        // As nats-server: a CONNECT naming an nkey is judged by that key alone, before
        // certificates and passwords; an unknown key is refused.
        if let Some(proof) = creds.nkey.filter(|_| !self.nkeys.is_empty()) {
            let entry = self.nkeys.get(proof.public_key)?;
            return entry.verifies(proof).then(|| Identity {
                user: Some(proof.public_key.to_string()),
                permissions: entry.permissions.clone(),
                admin: entry.admin,
            });
        }
        if let Some(names) = creds.certificate {
            let (name, entry) = names
                .iter()
                .find_map(|n| self.users.get(n.as_str()).map(|e| (n, e)))?;
            return Some(Identity {
                user: Some(name.clone()),
                permissions: entry.permissions.clone(),
                admin: entry.admin,
            });
        }
        let name = creds.user?;
        let entry = self.users.get(name)?;
        if !compare_password(&entry.password, creds.pass.unwrap_or("")) {
            return None;
        }
        Some(Identity {
            user: Some(name.to_string()),
            permissions: entry.permissions.clone(),
            admin: entry.admin,
        })
    }
}

impl Authenticator {
    /// The identity that credentials `previous` accepted have under this (reloaded)
    /// configuration, or `None` when they are no longer valid. A password or token that is
    /// configured unchanged is not verified again: the connection proved it already, and
    /// bcrypt for every open connection would stall a reload.
    pub fn reauthenticate(
        &self,
        previous: &Authenticator,
        creds: Credentials<'_>,
    ) -> Option<Identity> {
        let unchanged = match (&self.token, creds.user) {
            (Some(token), _) => previous.token.as_ref() == Some(token),
            (None, _)
                if self.users.is_empty() || creds.certificate.is_some() || creds.nkey.is_some() =>
            {
                false
            }
            (None, Some(name)) => match (self.users.get(name), previous.users.get(name)) {
                (Some(now), Some(before)) => now.password == before.password,
                _ => false,
            },
            (None, None) => false,
        };
        if !unchanged {
            return self.authenticate(creds);
        }
        // Same secret: build the identity without comparing it again.
        if self.token.is_some() {
            return Some(Identity {
                admin: true,
                ..Identity::default()
            });
        }
        let name = creds.user?;
        let entry = self.users.get(name)?;
        Some(Identity {
            user: Some(name.to_string()),
            permissions: entry.permissions.clone(),
            admin: entry.admin,
        })
    }
}

/// nats-server's rule: a configured password starting with `$2a$`, `$2b$` or `$2y$` is a hash.
fn is_bcrypt(password: &str) -> bool {
    ["$2a$", "$2b$", "$2y$", "$2x$"]
        .iter()
        .any(|p| password.starts_with(p))
}

fn compare_password(configured: &str, given: &str) -> bool {
    if is_bcrypt(configured) {
        bcrypt::verify(given, configured).unwrap_or(false)
    } else {
        configured.as_bytes().ct_eq(given.as_bytes()).into()
    }
}

/// Allow and deny patterns for one direction (publish or subscribe).
#[derive(Debug, Clone, Default)]
pub struct SubjectFilter {
    /// `None` = everything allowed unless denied.
    allow: Option<Vec<Bytes>>,
    deny: Vec<Bytes>,
}

impl SubjectFilter {
    fn compile(rule: &config::SubjectRule) -> Self {
        let to_bytes = |v: &Vec<String>| v.iter().map(|s| Bytes::from(s.clone())).collect();
        SubjectFilter {
            allow: (!rule.allow.is_empty()).then(|| to_bytes(&rule.allow)),
            deny: to_bytes(&rule.deny),
        }
    }

    /// May a message be published to the literal `subject`?
    pub fn allows_literal(&self, subject: &[u8]) -> bool {
        let allowed = match &self.allow {
            None => true,
            Some(allow) => allow.iter().any(|p| subject_matches(p, subject)),
        };
        allowed && !self.deny.iter().any(|p| subject_matches(p, subject))
    }

    /// May a subscription on `pattern` be created? Every subject it can match must be
    /// allowed, and it must not be wholly inside a deny entry.
    pub fn allows_pattern(&self, pattern: &[u8]) -> bool {
        let allowed = match &self.allow {
            None => true,
            Some(allow) => allow.iter().any(|p| is_subset_match(pattern, p)),
        };
        // nats-server matches the SUB subject against the deny list with its wildcards taken
        // as plain tokens, so a denied `foo.*` also refuses `foo.>`; refuse in both cases.
        allowed
            && !self
                .deny
                .iter()
                .any(|p| is_subset_match(pattern, p) || subject_matches(p, pattern))
    }

    /// Does some deny entry overlap `pattern`, so deliveries must be checked one by one?
    pub fn deny_overlaps(&self, pattern: &[u8]) -> bool {
        self.deny.iter().any(|p| subjects_overlap(p, pattern))
    }

    /// Is the literal `subject` denied?
    pub fn denies(&self, subject: &[u8]) -> bool {
        self.deny.iter().any(|p| subject_matches(p, subject))
    }

    fn is_unrestricted(&self) -> bool {
        self.allow.is_none() && self.deny.is_empty()
    }
}

/// The right to publish to reply subjects of requests the user received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseRule {
    /// Replies allowed per request (0 = unlimited).
    pub max: usize,
    /// How long after the request the reply may be sent (zero = no limit).
    pub expires: Duration,
}

/// A user's compiled permissions.
#[derive(Debug, Clone, Default)]
pub struct Permissions {
    /// Subjects the user may publish to.
    pub publish: SubjectFilter,
    /// Subjects the user may subscribe to.
    pub subscribe: SubjectFilter,
    /// `allow_responses`.
    pub responses: Option<ResponseRule>,
}

impl Permissions {
    /// Compiles the configuration form.
    pub fn compile(p: &config::Permissions) -> Self {
        Permissions {
            publish: SubjectFilter::compile(&p.publish),
            subscribe: SubjectFilter::compile(&p.subscribe),
            responses: p.allow_responses.as_ref().map(|r| ResponseRule {
                max: r.max,
                expires: r.expires,
            }),
        }
    }

    /// Must a message on `subject` be kept from `sub`? Deny rules that only overlap a
    /// wildcard or queue subscription are enforced per message, as nats-server does.
    pub fn denies_delivery(&self, sub: &Subscription, subject: &[u8]) -> bool {
        (sub.queue.is_some() || sub.is_wildcard()) && self.subscribe.denies(subject)
    }

    /// True when publishing is unrestricted (the hot path skips all checks).
    pub fn publish_unrestricted(&self) -> bool {
        self.publish.is_unrestricted()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(allow: &[&str], deny: &[&str]) -> config::SubjectRule {
        config::SubjectRule {
            allow: allow.iter().map(|s| s.to_string()).collect(),
            deny: deny.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn publish_allow_and_deny() {
        let f = SubjectFilter::compile(&rule(&["orders.>"], &["orders.secret"]));
        assert!(f.allows_literal(b"orders.new"));
        assert!(!f.allows_literal(b"orders.secret"));
        assert!(!f.allows_literal(b"billing.x"));
    }

    #[test]
    fn subscription_patterns_use_subset_semantics() {
        let f = SubjectFilter::compile(&rule(&["orders.*"], &["orders.secret"]));
        assert!(f.allows_pattern(b"orders.new"));
        assert!(f.allows_pattern(b"orders.*"));
        assert!(!f.allows_pattern(b"orders.>"));
        assert!(!f.allows_pattern(b"orders.secret"));
        assert!(f.deny_overlaps(b"orders.*"));
        let wide = SubjectFilter::compile(&rule(&[], &["orders.*"]));
        assert!(
            !wide.allows_pattern(b"orders.>"),
            "as nats-server refuses it"
        );
        assert!(wide.allows_pattern(b"billing.>"));
        assert!(f.denies(b"orders.secret"));
    }

    #[test]
    fn token_and_users() {
        let auth = Authenticator::from_config(&AuthConfig {
            token: Some("t0k".into()),
            ..Default::default()
        });
        assert!(auth.required());
        let ok = Credentials {
            token: Some("t0k"),
            ..Default::default()
        };
        assert!(auth.authenticate(ok).is_some());
        let bad = Credentials {
            token: Some("nope"),
            ..Default::default()
        };
        assert!(auth.authenticate(bad).is_none());
        assert!(auth.authenticate(Credentials::default()).is_none());
    }

    #[test]
    fn bcrypt_passwords() {
        let hash = bcrypt::hash("pw", 4).expect("hashing works");
        let auth = Authenticator::from_config(&AuthConfig {
            users: vec![config::UserConfig {
                user: "alice".into(),
                password: hash,
                permissions: None,
                admin: false,
            }],
            ..Default::default()
        });
        assert!(auth.is_expensive());
        let id = auth
            .authenticate(Credentials {
                user: Some("alice"),
                pass: Some("pw"),
                token: None,
                certificate: None,
                nkey: None,
            })
            .expect("right password");
        assert_eq!(id.user.as_deref(), Some("alice"));
        assert!(
            auth.authenticate(Credentials {
                user: Some("alice"),
                pass: Some("nope"),
                token: None,
                certificate: None,
                nkey: None,
            })
            .is_none()
        );
    }

    /// An authenticator with one nkey user (publish only to `nk.>`) and one password user.
    fn nkey_and_password_users(public_key: &str) -> Authenticator {
        Authenticator::from_config(&AuthConfig {
            users: vec![config::UserConfig {
                user: "bob".into(),
                password: "pw".into(),
                permissions: None,
                admin: false,
            }],
            nkeys: vec![config::NkeyUserConfig {
                nkey: public_key.to_string(),
                permissions: Some(config::Permissions {
                    publish: rule(&["nk.>"], &[]),
                    ..Default::default()
                }),
                admin: true,
            }],
            ..Default::default()
        })
    }

    fn with_nkey(proof: NkeyProof<'_>) -> Credentials<'_> {
        Credentials {
            nkey: Some(proof),
            ..Default::default()
        }
    }

    #[test]
    fn nonces_look_like_nats_servers() {
        let (a, b) = (new_nonce(), new_nonce());
        assert_eq!(a.len(), 15, "{a}");
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_ne!(a, b);
    }

    #[test]
    fn nkey_signatures_of_the_nonce() {
        let kp = nkeys::KeyPair::new_user();
        let public_key = kp.public_key();
        let auth = nkey_and_password_users(&public_key);
        assert!(auth.required() && auth.nonce_required() && !auth.is_expensive());
        let nonce = new_nonce();
        let sig = kp.sign(nonce.as_bytes()).expect("a seed signs");
        let url = RAW_URL.encode(&sig);
        let std = base64::engine::general_purpose::STANDARD.encode(&sig);
        let proof = |signature, nonce| NkeyProof {
            public_key: &public_key,
            signature,
            nonce,
        };
        for encoded in [&url, &std] {
            let id = auth.authenticate(with_nkey(proof(encoded, &nonce)));
            let id = id.expect("a signature of the nonce, either encoding");
            assert_eq!(id.user.as_deref(), Some(public_key.as_str()));
            assert!(id.admin);
            let perms = id.permissions.expect("its own permissions");
            assert!(perms.publish.allows_literal(b"nk.a") && !perms.publish.allows_literal(b"x"));
        }
        let other = new_nonce();
        let refused = [
            proof(&url, &other),
            proof("", &nonce),
            proof(&url, ""),
            proof("not base64!", &nonce),
            proof(&url[..20], &nonce),
        ];
        for bad in refused {
            assert!(auth.authenticate(with_nkey(bad)).is_none(), "{bad:?}");
        }
        // Another key's signature, under this key or under a key nobody configured.
        let stranger = nkeys::KeyPair::new_user();
        let forged = RAW_URL.encode(stranger.sign(nonce.as_bytes()).expect("signs"));
        assert!(
            auth.authenticate(with_nkey(proof(&forged, &nonce)))
                .is_none()
        );
        let unknown = NkeyProof {
            public_key: &stranger.public_key(),
            signature: &forged,
            nonce: &nonce,
        };
        assert!(auth.authenticate(with_nkey(unknown)).is_none());
    }

    #[test]
    fn an_nkey_in_connect_is_judged_alone() {
        let kp = nkeys::KeyPair::new_user();
        let auth = nkey_and_password_users(&kp.public_key());
        let password = Credentials {
            user: Some("bob"),
            pass: Some("pw"),
            ..Default::default()
        };
        let id = auth
            .authenticate(password)
            .expect("password users still work");
        assert_eq!(id.user.as_deref(), Some("bob"));
        // A right password does not rescue a wrong nkey, as in nats-server.
        let unknown = nkeys::KeyPair::new_user().public_key();
        let with_bad_nkey = Credentials {
            nkey: Some(NkeyProof {
                public_key: &unknown,
                signature: "x",
                nonce: "n",
            }),
            ..password
        };
        assert!(auth.authenticate(with_bad_nkey).is_none());
        // Without nkey users, an nkey in CONNECT is ignored like any unknown field.
        let plain = Authenticator::from_config(&AuthConfig::default());
        assert!(!plain.nonce_required());
        assert!(plain.authenticate(with_bad_nkey).is_some());
    }

    #[test]
    fn nkey_users_fall_back_to_default_permissions() {
        let kp = nkeys::KeyPair::new_user();
        let public_key = kp.public_key();
        let auth = Authenticator::from_config(&AuthConfig {
            nkeys: vec![config::NkeyUserConfig {
                nkey: public_key.clone(),
                permissions: None,
                admin: false,
            }],
            default_permissions: Some(config::Permissions {
                subscribe: rule(&["s.>"], &[]),
                ..Default::default()
            }),
            ..Default::default()
        });
        let nonce = new_nonce();
        let sig = RAW_URL.encode(kp.sign(nonce.as_bytes()).expect("signs"));
        let id = auth.authenticate(with_nkey(NkeyProof {
            public_key: &public_key,
            signature: &sig,
            nonce: &nonce,
        }));
        let id = id.expect("signed");
        assert!(!id.admin);
        let perms = id.permissions.expect("the defaults");
        assert!(perms.subscribe.allows_pattern(b"s.x") && !perms.subscribe.allows_pattern(b"t"));
    }
}
