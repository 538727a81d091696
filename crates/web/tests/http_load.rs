//! Load shedding through the real router: with no place free, every route but `/health` answers
//! 503 at once with `Retry-After`, the usual security headers and a GOV.UK page (JSON under
//! `/api/`); `/health` still answers. (The limit's queueing and recovery are unit-tested in
//! `crates/web/src/shed.rs`; the measured behaviour under real overload is `scripts/load.sh`.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use axum::Router;
use axum::http::{StatusCode, header};
use service::{Service, SystemClock};
use std::sync::Arc;
use std::time::Duration;
use support::{get, post_form, send};

async fn app(max_in_flight: usize) -> Router {
    let store = store::connect_in_memory().await.unwrap();
    let service = Service::new(Arc::new(store), Arc::new(SystemClock));
    web::router(
        service,
        web::WebConfig {
            max_in_flight,
            queue_wait: Duration::from_millis(5),
            ..web::WebConfig::default()
        },
    )
}

#[tokio::test]
async fn a_full_server_refuses_with_503_and_retry_after_but_health_answers() {
    let router = app(0).await;
    for path in [
        "/",
        "/sign-in",
        "/schools",
        "/clusters/1",
        "/assets/clusterwise.css",
        "/no-such-page",
    ] {
        let r = send(&router, get(path, None)).await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert_eq!(r.headers[header::RETRY_AFTER], "1", "{path}");
        let csp = r.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(
            csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"),
            "{path}"
        );
        assert_eq!(r.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{path}");
        assert!(
            r.headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{path}"
        );
        assert!(r.body.contains("Sorry, the service is busy"), "{path}: {}", r.body);
        assert!(r.body.contains("govuk-heading-l"), "{path}");
    }
    let r = send(&router, post_form("/sign-in", None, &[("email", "a@b.test")])).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    let r = send(&router, get("/api/v1/clusters/1/ledger", None)).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.headers[header::RETRY_AFTER], "1");
    assert!(
        r.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(body["error"], "busy");
    let r = send(&router, get("/health", None)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.headers.get(header::RETRY_AFTER).is_none());
}

#[tokio::test]
async fn with_places_free_nothing_is_refused() {
    let router = app(web::DEFAULT_MAX_IN_FLIGHT).await;
    for path in ["/sign-in", "/health", "/no-such-page"] {
        let r = send(&router, get(path, None)).await;
        assert_ne!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert!(r.headers.get(header::RETRY_AFTER).is_none(), "{path}");
    }
}
