//! One error type for every handler: the caller's fault shows its message; ours shows "internal
//! error" and the cause goes to the log, never to the page.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use service::ServiceError;

#[derive(Debug)]
pub(crate) struct WebError {
    status: StatusCode,
    message: String,
    /// A heading of its own (else one for the status).
    heading: Option<&'static str>,
}

impl WebError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        WebError {
            status,
            message: message.into(),
            heading: None,
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }
    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "There is no page at this address, or you do not have access to it.",
        )
    }
}

impl From<ServiceError> for WebError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Invalid(m) => WebError::new(StatusCode::UNPROCESSABLE_ENTITY, m),
            // Not found, and never "exists but not yours": existence is not revealed.
            ServiceError::NotFound(_) => WebError::not_found(),
            ServiceError::Forbidden(m) => WebError::forbidden(m),
            ServiceError::Conflict(m) => WebError::new(StatusCode::CONFLICT, m),
            ServiceError::Unexpected(cause) => {
                tracing::error!(%cause, "unexpected error");
                WebError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
            }
            // Shown as it is: it names no internals and tells the person what to do.
            ServiceError::DiskFull(cause) => {
                tracing::error!(%cause, "the database disk is full; the write was rolled back");
                WebError {
                    heading: Some("The database disk is full"),
                    ..WebError::new(StatusCode::SERVICE_UNAVAILABLE, service::error::DISK_FULL)
                }
            }
        }
    }
}

impl From<askama::Error> for WebError {
    fn from(e: askama::Error) -> Self {
        tracing::error!(cause = %e, "template error");
        WebError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    heading: &'a str,
    message: &'a str,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let heading = self.heading.unwrap_or(match self.status {
            StatusCode::NOT_FOUND => "Page not found",
            StatusCode::FORBIDDEN => "You cannot do that",
            StatusCode::UNAUTHORIZED => "Sign in first",
            StatusCode::PAYLOAD_TOO_LARGE => "The file is too large",
            StatusCode::SERVICE_UNAVAILABLE => "Sorry, the service is busy",
            s if s.is_server_error() => "Sorry, there is a problem with the service",
            _ => "There is a problem",
        });
        // A 503 says why and what to do (a full disk); other 5xx say nothing of the cause.
        let unavailable = self.status == StatusCode::SERVICE_UNAVAILABLE;
        let message = if self.status.is_server_error() && !unavailable {
            "Try again later. If it keeps happening, tell your system administrator."
        } else {
            self.message.as_str()
        };
        let body = ErrorPage { heading, message }
            .render()
            .unwrap_or_else(|_| format!("{heading}: {message}"));
        let mut response = (self.status, Html(body)).into_response();
        if unavailable {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("60"),
            );
        }
        response
    }
}
