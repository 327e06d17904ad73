//! Error answers of the gateway API: `application/problem+json` bodies (RFC 9457) with the
//! status codes of the design's HTTP conventions, and the mapping from axum's extractor
//! rejections so that no error leaves the API as plain text.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::frontend::limits::RateLimited;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem document, as the API sends it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URN naming the kind of problem, stable across versions (`urn:sluice:problem:no-responders`).
    #[serde(rename = "type")]
    #[schema(example = "urn:sluice:problem:bad-subject")]
    pub kind: String,
    /// A short summary of the kind of problem.
    #[schema(example = "Invalid subject")]
    pub title: String,
    /// The HTTP status code, repeated.
    #[schema(example = 400)]
    pub status: u16,
    /// What went wrong with this request.
    #[schema(example = "\"orders..new\" is not a valid subject for publishing")]
    pub detail: String,
}

/// The kinds of problem the API reports; each has one status code and one type URN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// 400: the subject (or queue group) in the path or query is not valid here.
    BadSubject,
    /// 400: a malformed query, header or path.
    BadRequest,
    /// 401: credentials missing or wrong.
    Unauthorized,
    /// 403: the identity may not use this subject.
    Forbidden,
    /// 404: no such route.
    NotFound,
    /// 405: the route exists with another method.
    MethodNotAllowed,
    /// 413: headers plus payload exceed `max_payload`.
    TooLarge,
    /// 503: a request matched no subscriber.
    NoResponders,
    /// 503: an SSE client fell too far behind; sent as the stream's last event.
    SlowConsumer,
    /// 504: no reply within the request's timeout.
    Timeout,
    /// 409: a stream refused the message because a `Nats-Expected-*` header did not hold.
    Conflict,
    /// 503: the stream could not store the message (limits with discard new, disk errors).
    StoreUnavailable,
    /// 422: a plugin rejected the message.
    Rejected,
    /// 415: the body is not of the content type the route takes.
    UnsupportedMediaType,
    /// 503: upstream mode, and no server of the upstream cluster is reachable.
    UpstreamUnavailable,
    /// 429: the caller used up its request budget (`rate_limit`); `Retry-After` says when
    /// the next request passes.
    RateLimited,
    /// 429: the client's IP already holds `max_connections_per_ip` connections; answered on
    /// the extra connection, which is then closed.
    TooManyConnections,
}

impl ProblemKind {
    /// The HTTP status code.
    pub fn status(self) -> StatusCode {
        match self {
            ProblemKind::BadSubject | ProblemKind::BadRequest => StatusCode::BAD_REQUEST,
            ProblemKind::Unauthorized => StatusCode::UNAUTHORIZED,
            ProblemKind::Forbidden => StatusCode::FORBIDDEN,
            ProblemKind::NotFound => StatusCode::NOT_FOUND,
            ProblemKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ProblemKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ProblemKind::NoResponders | ProblemKind::SlowConsumer => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ProblemKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
            ProblemKind::Conflict => StatusCode::CONFLICT,
            ProblemKind::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ProblemKind::Rejected => StatusCode::UNPROCESSABLE_ENTITY,
            ProblemKind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ProblemKind::UpstreamUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ProblemKind::RateLimited | ProblemKind::TooManyConnections => {
                StatusCode::TOO_MANY_REQUESTS
            }
        }
    }

    /// The last part of the type URN.
    pub fn slug(self) -> &'static str {
        match self {
            ProblemKind::BadSubject => "bad-subject",
            ProblemKind::BadRequest => "bad-request",
            ProblemKind::Unauthorized => "unauthorized",
            ProblemKind::Forbidden => "permission-denied",
            ProblemKind::NotFound => "not-found",
            ProblemKind::MethodNotAllowed => "method-not-allowed",
            ProblemKind::TooLarge => "payload-too-large",
            ProblemKind::NoResponders => "no-responders",
            ProblemKind::SlowConsumer => "slow-consumer",
            ProblemKind::Timeout => "timeout",
            ProblemKind::Conflict => "expectation-failed",
            ProblemKind::StoreUnavailable => "store-unavailable",
            ProblemKind::Rejected => "rejected-by-plugin",
            ProblemKind::UnsupportedMediaType => "unsupported-media-type",
            ProblemKind::UpstreamUnavailable => "upstream-unavailable",
            ProblemKind::RateLimited => "rate-limited",
            ProblemKind::TooManyConnections => "too-many-connections",
        }
    }

    /// The problem document's `title`.
    pub fn title(self) -> &'static str {
        match self {
            ProblemKind::BadSubject => "Invalid subject",
            ProblemKind::BadRequest => "Bad request",
            ProblemKind::Unauthorized => "Authentication required",
            ProblemKind::Forbidden => "Permission denied",
            ProblemKind::NotFound => "Not found",
            ProblemKind::MethodNotAllowed => "Method not allowed",
            ProblemKind::TooLarge => "Payload too large",
            ProblemKind::NoResponders => "No responders",
            ProblemKind::SlowConsumer => "Slow consumer",
            ProblemKind::Timeout => "Request timed out",
            ProblemKind::Conflict => "Stream expectation failed",
            ProblemKind::StoreUnavailable => "Stream cannot store the message",
            ProblemKind::Rejected => "Rejected by a plugin",
            ProblemKind::UnsupportedMediaType => "Unsupported media type",
            ProblemKind::UpstreamUnavailable => "Upstream cluster unavailable",
            ProblemKind::RateLimited => "Too many requests",
            ProblemKind::TooManyConnections => "Too many connections",
        }
    }
}

/// An error a handler returns; it renders as a [`Problem`].
#[derive(Debug, Clone)]
pub struct ApiError {
    kind: ProblemKind,
    detail: String,
    /// `WWW-Authenticate` value for 401 answers.
    challenge: Option<&'static str>,
    /// `Retry-After` seconds for 429 answers.
    retry_after: Option<u64>,
}

impl ApiError {
    /// A problem of `kind` explained by `detail`.
    pub fn new(kind: ProblemKind, detail: impl Into<String>) -> Self {
        ApiError {
            kind,
            detail: detail.into(),
            challenge: None,
            retry_after: None,
        }
    }

    /// A 429 for a caller over its request budget, retrying after `limited` says.
    pub fn rate_limited(limited: RateLimited) -> Self {
        let secs = limited.retry_after_secs();
        ApiError::new(
            ProblemKind::RateLimited,
            format!("request rate limit reached; retry in {secs} s"),
        )
        .retry_after(secs)
    }

    /// Adds a `Retry-After` header of `secs` seconds.
    pub fn retry_after(self, secs: u64) -> Self {
        ApiError {
            retry_after: Some(secs),
            ..self
        }
    }

    /// A 401 that tells the client which scheme to use.
    pub fn unauthorized(detail: impl Into<String>, challenge: &'static str) -> Self {
        ApiError {
            challenge: Some(challenge),
            ..ApiError::new(ProblemKind::Unauthorized, detail)
        }
    }

    /// What kind of problem this is.
    pub fn kind(&self) -> ProblemKind {
        self.kind
    }

    /// The document sent to the client.
    pub fn problem(&self) -> Problem {
        Problem {
            kind: format!("urn:sluice:problem:{}", self.kind.slug()),
            title: self.kind.title().to_string(),
            status: self.kind.status().as_u16(),
            detail: self.detail.clone(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        let mut resp = (self.kind.status(), body).into_response();
        let headers = resp.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(challenge) = self.challenge {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        resp
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::new(ProblemKind::BadRequest, r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::new(ProblemKind::BadRequest, r.body_text())
    }
}

/// The answer for unknown routes.
pub async fn not_found() -> ApiError {
    ApiError::new(ProblemKind::NotFound, "no such route; see /openapi.json")
}

/// The answer for a known route with the wrong method.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ProblemKind::MethodNotAllowed,
        "this route does not accept that method; see /openapi.json",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_carry_type_title_status_detail() {
        let e = ApiError::new(ProblemKind::NoResponders, "nobody listens on a.b");
        let v = serde_json::to_value(e.problem()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "type": "urn:sluice:problem:no-responders",
                "title": "No responders",
                "status": 503,
                "detail": "nobody listens on a.b",
            })
        );
    }

    #[test]
    fn rate_limited_says_when_to_retry() {
        let wait = std::time::Duration::from_millis(2500);
        let resp = ApiError::rate_limited(RateLimited { wait }).into_response();
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(resp.headers()[header::RETRY_AFTER], "3");
        assert_eq!(resp.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
    }

    #[test]
    fn unauthorized_sets_the_challenge_and_media_type() {
        let resp =
            ApiError::unauthorized("no credentials", "Bearer realm=\"sluice\"").into_response();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(resp.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        assert_eq!(
            resp.headers()[header::WWW_AUTHENTICATE],
            "Bearer realm=\"sluice\""
        );
    }
}
