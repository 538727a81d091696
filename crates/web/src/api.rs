//! The JSON API under `/api/v1`: bearer tokens, one error shape, JSON bodies whose errors name
//! the field, and the OpenAPI description (docs/openapi.json, served at `/api/v1/openapi.json`).
//!
//! Authentication: `Authorization: Bearer <token>` (a token made by `clusterwise token create`,
//! acting as its user). A browser never adds that header by itself, so bearer requests need no
//! CSRF token. A request with no bearer token may use the session cookie instead: reads are
//! allowed, and writes must carry the session's CSRF token in an `X-CSRF-Token` header (a custom
//! header another site cannot send without a CORS preflight, which this server never grants);
//! without it a cookie-only write is refused with 403.
//!
//! Every error, from a handler, an extractor, the router (404, 405) or a caught panic, has one
//! shape: `{"status": 422, "code": "invalid", "message": "...", "field": "lines[0].amount_pence"}`
//! (`field` only when one field is at fault).

pub(crate) mod ledger;
pub(crate) mod meetings;
pub(crate) mod register;

use crate::AppState;
use crate::session::{SESSION_COOKIE, cookie};
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use domain::access::User;
use serde::de::DeserializeOwned;
use service::ServiceError;
use service::auth::constant_time_eq;
use service::store::TokenAccess;

/// The OpenAPI description, kept beside the code (a test checks every route is in it).
pub(crate) const OPENAPI: &str = include_str!("../../../docs/openapi.json");

/// Largest JSON body the API accepts.
pub(crate) const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The user a request acts as (from its bearer token or its session).
#[derive(Debug, Clone)]
pub(crate) struct ApiUser(pub User);

/// An error in the API's one shape.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            field: None,
        }
    }
    /// 422 naming the field and the rule.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        let message = message.into();
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: if message.starts_with(&format!("{field}:")) {
                message
            } else {
                format!("{field}: {message}")
            },
            field: Some(field),
        }
    }
    pub fn not_found() -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "there is nothing at this address, or you do not have access to it",
        )
    }
}

/// The short code for a status, part of the error shape.
fn code(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad_request",
        401 => "unauthorised",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        406 => "not_acceptable",
        409 => "conflict",
        413 => "too_large",
        415 => "unsupported_media_type",
        422 => "invalid",
        429 => "too_many_requests",
        503 => "unavailable",
        s if s >= 500 => "internal",
        _ => "error",
    }
}

/// The field a service message names ("memo: enter a value" → "memo"), when it starts with one.
fn field_of(message: &str) -> Option<String> {
    let (head, _) = message.split_once(": ")?;
    let plausible = !head.is_empty()
        && head.len() <= 40
        && head
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b' ' | b'[' | b']' | b'.' | b'-'));
    (plausible && !head.starts_with("rule ")).then(|| head.to_string())
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Invalid(m) => ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                field: field_of(&m),
                message: m,
            },
            ServiceError::NotFound(_) => ApiError::not_found(),
            ServiceError::Forbidden(m) => ApiError::new(StatusCode::FORBIDDEN, m),
            ServiceError::Conflict(m) => ApiError {
                status: StatusCode::CONFLICT,
                field: field_of(&m),
                message: m,
            },
            ServiceError::Unexpected(cause) => {
                tracing::error!(%cause, "unexpected error");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
            }
            // The same words as the HTML page: nothing was saved, free space, no restart.
            ServiceError::DiskFull(cause) => {
                tracing::error!(%cause, "the database disk is full; the write was rolled back");
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, service::error::DISK_FULL)
            }
        }
    }
}

pub(crate) fn error_body(status: StatusCode, message: &str, field: Option<&str>) -> serde_json::Value {
    let mut body = serde_json::json!({
        "status": status.as_u16(),
        "code": code(status),
        "message": message,
    });
    if let Some(f) = field {
        body["field"] = serde_json::Value::from(f);
    }
    body
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // A 503 says why and what to do (a full disk); other 5xx say nothing of the cause.
        let unavailable = self.status == StatusCode::SERVICE_UNAVAILABLE;
        let message = if self.status.is_server_error() && !unavailable {
            "internal error"
        } else {
            self.message.as_str()
        };
        let mut r = json(self.status, &error_body(self.status, message, self.field.as_deref()));
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if unavailable {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
        }
        r
    }
}

/// A JSON response.
pub(crate) fn json(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

pub(crate) fn ok(body: &serde_json::Value) -> Response {
    json(StatusCode::OK, body)
}

/// A JSON request body: `application/json`, at most [`MAX_BODY_BYTES`], every field known, and
/// a parse error names the field (`lines[1].amount_pence`).
#[derive(Debug)]
pub(crate) struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            let status = e.status();
            if status == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(status, format!("the body is too large: at most {MAX_BODY_BYTES} bytes"))
            } else {
                ApiError::new(StatusCode::BAD_REQUEST, "the body could not be read")
            }
        })?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Parses JSON, naming the field at fault.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let what = inner.to_string();
        // serde's message ends with " at line 1 column 9": the position is noise in an API.
        let what = what.split(" at line ").next().unwrap_or(&what).to_string();
        // A missing field is reported at its parent: name the field itself.
        let named = what
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
            .map(|f| {
                if path.is_empty() || path == "." {
                    f.to_string()
                } else {
                    format!("{path}.{f}")
                }
            });
        if let Some(field) = named {
            ApiError::invalid(field, what)
        } else if path.is_empty() || path == "." {
            ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                field: None,
                message: format!("the body is not the JSON this endpoint takes: {what}"),
            }
        } else {
            ApiError::invalid(path, what)
        }
    })
}

/// A positive id from a path segment; anything else is 404 (there is nothing at that address).
pub(crate) fn path_id(s: &str) -> Result<i64, ApiError> {
    s.parse::<i64>()
        .ok()
        .filter(|n| *n > 0 && !s.starts_with('+'))
        .ok_or_else(ApiError::not_found)
}

/// Who is asking: a bearer token (a read-only one only for GET and HEAD), or else a session
/// cookie (writes then need `X-CSRF-Token`).
pub(crate) async fn authenticate(State(app): State<AppState>, mut request: Request, next: Next) -> Response {
    match caller(&app, request.headers(), request.method()).await {
        Ok(user) => {
            request.extensions_mut().insert(ApiUser(user));
            next.run(request).await
        }
        Err(e) => e.into_response(),
    }
}

async fn caller(app: &AppState, headers: &HeaderMap, method: &Method) -> Result<User, ApiError> {
    let unauthorised = |m: &str| ApiError::new(StatusCode::UNAUTHORIZED, m);
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value.to_str().unwrap_or_default().trim();
        let token = match value.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            _ => return Err(unauthorised("Authorization: use the Bearer scheme with an API token")),
        };
        let holder = app
            .service
            .api_token_user(token)
            .await?
            .ok_or_else(|| unauthorised("Authorization: the API token is not valid or was revoked"))?;
        if holder.access == TokenAccess::ReadOnly && !is_read(method) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "this API token is read-only: it may only read (GET); make a token without --read-only to write",
            ));
        }
        return Ok(holder.user);
    }
    let Some(token) = cookie(headers, SESSION_COOKIE) else {
        return Err(unauthorised(
            "send Authorization: Bearer with an API token (clusterwise token create)",
        ));
    };
    let session = app
        .service
        .session(token)
        .await?
        .ok_or_else(|| unauthorised("the session has ended: sign in again or use an API token"))?;
    if !is_read(method) {
        let sent = headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !constant_time_eq(&session.csrf_token, sent) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "a write with a session cookie needs the session's CSRF token in an X-CSRF-Token header; use an API token instead",
            ));
        }
    }
    Ok(session.user)
}

fn is_read(method: &Method) -> bool {
    method == Method::GET || method == Method::HEAD
}

/// Under `/api/`, turns any error response that is not JSON (the router's 404 and 405, a body
/// limit, a caught panic) into the one error shape, keeping its status.
pub(crate) async fn json_errors(request: Request, next: Next) -> Response {
    if !request.uri().path().starts_with("/api/") {
        return next.run(request).await;
    }
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let message = match status {
        StatusCode::NOT_FOUND => "there is nothing at this address, or you do not have access to it".to_string(),
        StatusCode::METHOD_NOT_ALLOWED => "this address does not take that method".to_string(),
        StatusCode::PAYLOAD_TOO_LARGE => format!("the body is too large: at most {MAX_BODY_BYTES} bytes"),
        s if s.is_server_error() => "internal error".to_string(),
        s => s.canonical_reason().unwrap_or("error").to_lowercase(),
    };
    let (mut parts, _) = response.into_parts();
    let body = error_body(status, &message, None).to_string();
    parts
        .headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

/// `GET /api/v1/openapi.json`.
pub(crate) async fn openapi() -> Response {
    let mut r = (StatusCode::OK, OPENAPI).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}
