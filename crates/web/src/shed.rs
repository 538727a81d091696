//! Load shedding: at most `max_in_flight` requests are handled at once; a request that finds
//! them all busy waits at most `queue_wait` for a place, and at most `4 × max_in_flight`
//! requests wait at a time. Anything beyond gets 503 with `Retry-After` at once, so an overload
//! never builds an unbounded queue (of tasks, of pool waiters or of memory) and the server
//! recovers as soon as the excess stops. `/health` is never shed, so a monitor still sees the
//! server answering.
//!
//! Hand-written over tokio's semaphore (about forty lines) rather than tower's
//! `ConcurrencyLimit` + `LoadShed`: those shed at once with no bounded wait (a burst of a few
//! requests over the limit would be refused though a place frees in a millisecond), and their
//! error has to be turned back into a response through `HandleErrorLayer`.
//!
//! Refusals are logged as a warning at most once a second, with how many there were since the
//! last warning, so an operator sees when and how hard the server shed without a line per
//! request.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

use crate::error::WebError;

/// Seconds a refused client is told to wait before trying again.
pub(crate) const RETRY_AFTER_SECONDS: &str = "1";

/// The gate every request but `/health` passes.
#[derive(Debug)]
pub(crate) struct Gate {
    places: Semaphore,
    waiting: AtomicUsize,
    max_waiting: usize,
    queue_wait: Duration,
    /// Refusals not yet reported.
    refused: AtomicU64,
    /// The second (since `started`) of the last warning, or `u64::MAX` before the first.
    reported_at: AtomicU64,
    started: Instant,
}

impl Gate {
    pub(crate) fn new(max_in_flight: usize, queue_wait: Duration) -> Self {
        Gate {
            places: Semaphore::new(max_in_flight.min(Semaphore::MAX_PERMITS)),
            waiting: AtomicUsize::new(0),
            max_waiting: max_in_flight.saturating_mul(4),
            queue_wait,
            refused: AtomicU64::new(0),
            reported_at: AtomicU64::new(u64::MAX),
            started: Instant::now(),
        }
    }

    /// Counts a refusal and, if no warning went out this second, reports every refusal since
    /// the last one. Returns the number reported (0 when it is left for a later warning).
    fn refuse(&self) -> u64 {
        self.refused.fetch_add(1, Ordering::AcqRel);
        let now = self.started.elapsed().as_secs();
        let last = self.reported_at.load(Ordering::Acquire);
        if last == now
            || self
                .reported_at
                .compare_exchange(last, now, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
        {
            return 0;
        }
        let n = self.refused.swap(0, Ordering::AcqRel);
        if n > 0 {
            tracing::warn!(
                refused = n,
                queue_wait_ms = self.queue_wait.as_millis(),
                "busy: requests refused with 503 since the last warning"
            );
        }
        n
    }
}

/// Leaves the waiting count however the wait ends (a dropped connection included).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

pub(crate) async fn shed(State(gate): State<Arc<Gate>>, request: Request, next: Next) -> Response {
    if request.uri().path() == "/health" {
        return next.run(request).await;
    }
    let _place = match gate.places.try_acquire() {
        Ok(place) => place,
        Err(_) => {
            if gate.waiting.fetch_add(1, Ordering::AcqRel) >= gate.max_waiting {
                gate.waiting.fetch_sub(1, Ordering::AcqRel);
                gate.refuse();
                return busy(request.uri().path());
            }
            let _waiting = Waiting(&gate.waiting);
            match tokio::time::timeout(gate.queue_wait, gate.places.acquire()).await {
                Ok(Ok(place)) => place,
                _ => {
                    gate.refuse();
                    return busy(request.uri().path());
                }
            }
        }
    };
    next.run(request).await
}

/// 503 with `Retry-After`: JSON for the API, a GOV.UK page for everything else.
fn busy(path: &str) -> Response {
    let mut response = if path.starts_with("/api/") {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({
                "error": "busy",
                "message": "The service is busy. Try again in a few seconds.",
            })),
        )
            .into_response()
    } else {
        WebError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Too many people are using Clusterwise at the moment. Try again in a few seconds.",
        )
        .into_response()
    };
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECONDS));
    response
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    fn app(max_in_flight: usize, wait_ms: u64, work_ms: u64) -> Router {
        let gate = Arc::new(Gate::new(max_in_flight, Duration::from_millis(wait_ms)));
        Router::new()
            .route(
                "/slow",
                get(move || async move {
                    tokio::time::sleep(Duration::from_millis(work_ms)).await;
                    "done"
                }),
            )
            .route("/health", get(|| async { "ok" }))
            .layer(axum::middleware::from_fn_with_state(gate, shed))
    }

    async fn status(app: &Router, path: &str) -> (StatusCode, Option<String>) {
        let r = app
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let retry = r
            .headers()
            .get(header::RETRY_AFTER)
            .map(|v| v.to_str().unwrap().to_string());
        (r.status(), retry)
    }

    #[tokio::test]
    async fn beyond_the_places_and_the_queue_requests_get_503_with_retry_after_and_health_still_answers() {
        // 2 places, 8 may wait 20 ms; each request takes 200 ms: of 30 at once, 2 are served
        // and 28 refused (the 8 waiters after their 20 ms, the rest at once).
        let app = app(2, 20, 200);
        let all: Vec<_> = (0..30)
            .map(|_| {
                let app = app.clone();
                tokio::spawn(async move { status(&app, "/slow").await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(status(&app, "/health").await.0, StatusCode::OK);
        let mut ok = 0;
        for h in all {
            match h.await.unwrap() {
                (StatusCode::OK, None) => ok += 1,
                (StatusCode::SERVICE_UNAVAILABLE, Some(r)) => assert_eq!(r, RETRY_AFTER_SECONDS),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(ok, 2);
        // Recovered: the places are free again.
        assert_eq!(status(&app, "/slow").await.0, StatusCode::OK);
    }

    #[test]
    fn refusals_are_reported_at_most_once_a_second_and_none_is_lost() {
        let gate = Gate::new(1, Duration::from_millis(1));
        // The first refusal is reported at once; the next ones that second wait.
        assert_eq!(gate.refuse(), 1);
        assert_eq!((0..99).map(|_| gate.refuse()).sum::<u64>(), 0);
        // A second later the next refusal reports all 100 since the first warning.
        std::thread::sleep(Duration::from_millis(1_050));
        assert_eq!(gate.refuse(), 100);
    }

    #[tokio::test]
    async fn a_short_burst_waits_for_a_place_instead_of_being_refused() {
        // 1 place, requests take 5 ms, may wait 1 s: 4 at once are all served in turn.
        let app = app(1, 1000, 5);
        let all: Vec<_> = (0..4)
            .map(|_| {
                let app = app.clone();
                tokio::spawn(async move { status(&app, "/slow").await })
            })
            .collect();
        for h in all {
            assert_eq!(h.await.unwrap().0, StatusCode::OK);
        }
    }
}
