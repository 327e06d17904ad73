//! Who an HTTP request comes from, and what it may do.
//!
//! When the server has auth configured, each request carries its credentials:
//! `Authorization: Bearer <token>` for token auth, `Authorization: Basic <user:pass>` for
//! users. They are checked by the same [`Authenticator`](crate::auth::Authenticator) as NATS
//! clients, and the resulting permissions apply exactly as they do over NATS. Without auth
//! configured every request is allowed.
//!
//! Exchanges that last (an SSE stream, a JSON WebSocket) get a [`Session`] instead of a
//! bare identity: a reload (SIGHUP) re-checks it, as it re-checks NATS connections.
//!
//! Every authenticated route is also where `[api] rate_limit` charges the request: to the
//! user it authenticated as, to the token holder under token auth, and to the client IP when
//! anonymous or when authentication failed (so guessing passwords is rate limited too, and a
//! stranger can never use up a real user's budget). Over the budget the answer is 429 with
//! `Retry-After`, whatever the credentials.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::{HeaderMap, header};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::problem::{ApiError, ProblemKind};
use crate::auth::{Authenticator, Identity, SavedCredentials};
use crate::frontend::limits::RateKey;
use crate::reload::Session;
use crate::server::Shared;

const BEARER_CHALLENGE: &str = "Bearer realm=\"sluice\"";
const BASIC_CHALLENGE: &str = "Basic realm=\"sluice\", charset=\"UTF-8\"";

/// Credentials taken from the `Authorization` header.
#[derive(Debug, Default, PartialEq, Eq)]
struct Presented {
    user: Option<String>,
    pass: Option<String>,
    token: Option<String>,
}

/// Authenticates a request from `peer` and charges it to the rate limit; `Ok` holds the
/// identity whose permissions apply.
pub async fn identify(
    shared: &Arc<Shared>,
    headers: &HeaderMap,
    peer: SocketAddr,
) -> Result<Identity, ApiError> {
    identify_with(shared, headers, None, peer).await
}

/// Authenticates a read-only request (an SSE stream, the stats): the `Authorization` header,
/// else the [`TOKEN_COOKIE`] cookie, because `EventSource` cannot send headers. Routes that
/// change something never take the cookie, so a cross-site form cannot act with it.
pub async fn identify_read(
    shared: &Arc<Shared>,
    headers: &HeaderMap,
    peer: SocketAddr,
) -> Result<Identity, ApiError> {
    let cookie = token_cookie(headers).map(|token| Presented {
        token: Some(token),
        ..Presented::default()
    });
    identify_with(shared, headers, cookie, peer).await
}

/// Credentials a browser can send on a WebSocket upgrade, which cannot carry an
/// `Authorization` header: query parameters, or the `sluice_token` cookie.
#[derive(Debug, Default)]
pub struct UpgradeCredentials {
    /// `?token=`.
    pub token: Option<String>,
    /// `?user=`.
    pub user: Option<String>,
    /// `?pass=`.
    pub pass: Option<String>,
}

/// The cookie a page can set (same site as the API) to authenticate WebSocket upgrades.
pub const TOKEN_COOKIE: &str = "sluice_token";

/// The query parameters when there are any, else the cookie.
fn upgrade_presented(headers: &HeaderMap, query: UpgradeCredentials) -> Option<Presented> {
    if query.token.is_some() || query.user.is_some() || query.pass.is_some() {
        Some(Presented {
            user: query.user,
            pass: query.pass,
            token: query.token,
        })
    } else {
        token_cookie(headers).map(|token| Presented {
            token: Some(token),
            ..Presented::default()
        })
    }
}

/// [`identify_read`] for an SSE stream: a session that reloads keep current.
pub async fn session_read(
    shared: &Arc<Shared>,
    headers: &HeaderMap,
    peer: SocketAddr,
) -> Result<Arc<Session>, ApiError> {
    let cookie = token_cookie(headers).map(|token| Presented {
        token: Some(token),
        ..Presented::default()
    });
    Ok(check(shared, headers, cookie, peer).await?.open(shared))
}

/// Authenticates a WebSocket upgrade (a JSON WebSocket): the `Authorization` header when
/// present, else the query parameters, else the [`TOKEN_COOKIE`] cookie. The session is
/// kept current by reloads.
pub async fn session_upgrade(
    shared: &Arc<Shared>,
    headers: &HeaderMap,
    query: UpgradeCredentials,
    peer: SocketAddr,
) -> Result<Arc<Session>, ApiError> {
    let presented = upgrade_presented(headers, query);
    Ok(check(shared, headers, presented, peer).await?.open(shared))
}

/// What a credential check gave: the identity, and what a lasting session needs to be
/// checked again by a reload.
struct Checked {
    identity: Identity,
    credentials: SavedCredentials,
    auth: Arc<Authenticator>,
}

impl Checked {
    fn open(self, shared: &Shared) -> Arc<Session> {
        (shared.sessions).open(shared, self.credentials, self.identity, &self.auth)
    }
}

/// The `Authorization` header wins; `fallback` is used only without one.
async fn identify_with(
    shared: &Arc<Shared>,
    headers: &HeaderMap,
    fallback: Option<Presented>,
    peer: SocketAddr,
) -> Result<Identity, ApiError> {
    Ok(check(shared, headers, fallback, peer).await?.identity)
}

/// Charges one request to `[api] rate_limit`; `identity` is `None` when authentication
/// failed. A 429 when the budget is used up.
pub fn charge(
    shared: &Shared,
    identity: Option<&Identity>,
    peer: SocketAddr,
) -> Result<(), ApiError> {
    let key = RateKey::of(shared.auth().required(), identity, peer.ip());
    shared
        .api_limits
        .check(&key)
        .map_err(ApiError::rate_limited)
}

/// Authenticates, then charges the request to the rate limit (see the module docs).
async fn check(
    shared: &Arc<Shared>,
    headers: &HeaderMap,
    fallback: Option<Presented>,
    peer: SocketAddr,
) -> Result<Checked, ApiError> {
    let checked = authenticate(shared, headers, fallback).await;
    charge(shared, checked.as_ref().ok().map(|c| &c.identity), peer)?;
    checked
}

async fn authenticate(
    shared: &Arc<Shared>,
    headers: &HeaderMap,
    fallback: Option<Presented>,
) -> Result<Checked, ApiError> {
    // One authenticator for the whole check, whatever a reload does meanwhile.
    let auth = Arc::clone(&*shared.auth());
    if !auth.required() {
        return Ok(Checked {
            identity: Identity::default(),
            credentials: SavedCredentials::default(),
            auth,
        });
    }
    let challenge = if shared.config().auth.token.is_some() {
        BEARER_CHALLENGE
    } else {
        BASIC_CHALLENGE
    };
    let invalid = || ApiError::unauthorized("invalid credentials", challenge);
    let presented = match (headers.get(header::AUTHORIZATION), fallback) {
        (Some(value), _) => value
            .to_str()
            .ok()
            .and_then(parse_authorization)
            .ok_or_else(invalid)?,
        (None, Some(presented)) => presented,
        (None, None) => {
            return Err(ApiError::unauthorized(
                "this server requires credentials: Authorization: Bearer <token> or Basic <user:pass>",
                challenge,
            ));
        }
    };
    let credentials = SavedCredentials {
        user: presented.user,
        pass: presented.pass,
        token: presented.token,
        certificate: None,
        // No nonce over HTTP: nkey users cannot sign in here (see `auth`).
        nkey: None,
    };
    // bcrypt takes milliseconds of CPU on purpose; keep it off the I/O threads.
    let identity = if auth.is_expensive() {
        let (auth, credentials) = (auth.clone(), credentials.clone());
        tokio::task::spawn_blocking(move || auth.authenticate(credentials.as_credentials()))
            .await
            .ok()
            .flatten()
    } else {
        auth.authenticate(credentials.as_credentials())
    };
    Ok(Checked {
        identity: identity.ok_or_else(invalid)?,
        credentials,
        auth,
    })
}

/// The value of the [`TOKEN_COOKIE`] cookie, from any `Cookie` header.
fn token_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == TOKEN_COOKIE)
        .map(|(_, value)| value.trim_matches('"').to_string())
}

/// `Bearer <token>` or `Basic <base64(user:pass)>`; the scheme is case-insensitive.
fn parse_authorization(value: &str) -> Option<Presented> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(Presented {
            token: Some(rest.to_string()),
            ..Presented::default()
        });
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = String::from_utf8(STANDARD.decode(rest).ok()?).ok()?;
        let (user, pass) = decoded.split_once(':')?;
        return Some(Presented {
            user: Some(user.to_string()),
            pass: Some(pass.to_string()),
            token: None,
        });
    }
    None
}

/// 403 unless `identity` may publish to the literal `subject`.
pub fn check_publish(identity: &Identity, subject: &str) -> Result<(), ApiError> {
    match &identity.permissions {
        Some(p) if !p.publish.allows_literal(subject.as_bytes()) => Err(ApiError::new(
            ProblemKind::Forbidden,
            format!("not permitted to publish to \"{subject}\""),
        )),
        _ => Ok(()),
    }
}

/// 403 unless `identity` may subscribe to `pattern`.
pub fn check_subscribe(identity: &Identity, pattern: &str) -> Result<(), ApiError> {
    match &identity.permissions {
        Some(p) if !p.subscribe.allows_pattern(pattern.as_bytes()) => Err(ApiError::new(
            ProblemKind::Forbidden,
            format!("not permitted to subscribe to \"{pattern}\""),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_and_basic_are_parsed() {
        let bearer = parse_authorization("bearer s3cret").unwrap();
        assert_eq!(bearer.token.as_deref(), Some("s3cret"));
        // "alice:p:w" — passwords may contain colons, user names may not.
        let basic = parse_authorization("Basic YWxpY2U6cDp3").unwrap();
        assert_eq!(
            (basic.user.as_deref(), basic.pass.as_deref()),
            (Some("alice"), Some("p:w"))
        );
        for bad in ["", "Bearer", "Basic !!!", "Basic YWxpY2U=", "Digest x"] {
            assert_eq!(parse_authorization(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_token_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            "a=1; sluice_token=s3cret; b=2".parse().unwrap(),
        );
        assert_eq!(token_cookie(&h).as_deref(), Some("s3cret"));
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, "not_sluice_token=x".parse().unwrap());
        assert_eq!(token_cookie(&h), None);
    }
}
