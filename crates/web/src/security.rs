//! Security headers on every response, early refusal of oversized requests, a panic caught as a
//! plain 500 page, and safe names for downloads.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::WebError;

/// 20971520 → "20 MiB"; 2000 → "2,000 bytes".
fn human_size(bytes: usize) -> String {
    const MIB: usize = 1024 * 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{} bytes", crate::format::int(bytes as u64))
    }
}

pub(crate) const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub(crate) async fn headers(request: Request, next: Next) -> Response {
    let is_asset = request.uri().path().starts_with("/assets/");
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    if !is_asset {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Refuses a request whose declared length is over the limit before reading any of it (413).
pub(crate) async fn refuse_oversized(State(limit): State<usize>, request: Request<Body>, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        let mut r = WebError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "The file is too large: this server accepts uploads up to {}.",
                human_size(limit)
            ),
        )
        .into_response();
        r.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return r;
    }
    next.run(request).await
}

/// A handler that panics answers 500 with the ordinary error page, never the panic's text.
///
/// The payload is not logged either: a panic message can quote the value that caused it (a
/// pupil's name in an `expect`), and the log must hold no personal data. Rust's panic hook
/// still prints where it happened to standard error.
fn panic_response(_payload: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked; answered 500");
    WebError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
}

type PanicHandler = fn(Box<dyn std::any::Any + Send + 'static>) -> Response;

pub(crate) fn catch_panic() -> tower_http::catch_panic::CatchPanicLayer<PanicHandler> {
    tower_http::catch_panic::CatchPanicLayer::custom(panic_response as PanicHandler)
}

/// `attachment; filename="…"` with a name that cannot climb directories, break out of the
/// quotes or split the header: only ASCII letters, digits, `.`, `_` and `-` survive (anything
/// else becomes `_`), no leading dot, no `..`, at most 100 characters.
pub(crate) fn attachment(file_name: &str) -> HeaderValue {
    let mut name: String = file_name
        .chars()
        .take(100)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    while name.contains("..") {
        name = name.replace("..", ".");
    }
    let name = name.trim_start_matches('.');
    let name = if name.is_empty() { "download" } else { name };
    HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use axum::Router;
    use axum::routing::get;
    use tower::ServiceExt;

    #[test]
    fn download_names_cannot_climb_or_break_the_header() {
        for (given, sent) in [
            ("statement-120001.csv", "statement-120001.csv"),
            ("../../etc/passwd", "_._etc_passwd"),
            ("..\\..\\boot.ini", "_._boot.ini"),
            ("a\"; filename=evil.exe", "a___filename_evil.exe"),
            ("line\r\nSet-Cookie: x=1", "line__Set-Cookie__x_1"),
            (".hidden", "hidden"),
            ("", "download"),
            ("Élève.csv", "_l_ve.csv"),
        ] {
            assert_eq!(
                attachment(given),
                format!("attachment; filename=\"{sent}\""),
                "{given:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_panicking_handler_gets_a_plain_500_with_the_headers() {
        async fn boom() -> &'static str {
            panic!("pupil Jane Doe (UPN A123) broke it")
        }
        let app = Router::new()
            .route("/boom", get(boom))
            .layer(catch_panic())
            .layer(axum::middleware::from_fn(headers));
        let r = app
            .oneshot(axum::http::Request::get("/boom").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(r.headers().contains_key(header::CONTENT_SECURITY_POLICY));
        let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        let body = String::from_utf8_lossy(&body);
        assert!(body.contains("Sorry, there is a problem with the service"), "{body}");
        assert!(
            !body.contains("Jane") && !body.contains("panicked") && !body.contains(".rs"),
            "{body}"
        );
    }
}
