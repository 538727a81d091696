//! HTTP tests of the JSON API (`/api/v1`) through `Router::oneshot` on the Norfolk demo: bearer
//! tokens and revocation, the cookie-and-CSRF rule, idempotent ledger postings (201, replay 200,
//! 409, 422 naming the field, 403), the ledger's balances and keys, votes as an idempotent upsert
//! with the tally, one error shape everywhere, a caught panic, and the OpenAPI description
//! naming every route.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use domain::access::Scope;
use domain::ids::ClusterId;
use serde_json::{Value, json};
use service::store::TokenAccess;
use service::{Service, SystemClock};
use std::collections::BTreeSet;
use std::sync::Arc;
use support::{Reply, send};

const NORFOLK: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/real/norfolk_schools_spc_2022_23.csv"
));

struct Demo {
    router: Router,
    service: Service,
    clerk: String,
    officer: String,
    head: String,
    own: ClusterId,
    other: ClusterId,
}

async fn demo() -> Demo {
    let store = store::connect_in_memory().await.unwrap();
    let service = Service::new(Arc::new(store), Arc::new(SystemClock));
    service.build_demo(NORFOLK).await.unwrap();
    let token = async |who: &str| {
        service
            .create_api_token(
                &format!("{who}@demo.clusterwise.test"),
                "test",
                30,
                TokenAccess::ReadWrite,
            )
            .await
            .unwrap()
            .token
    };
    let (clerk_user, _) = service
        .store()
        .user_credentials("clerk@demo.clusterwise.test")
        .await
        .unwrap()
        .unwrap();
    let Scope::Cluster(own) = clerk_user.scope else {
        panic!("the clerk is cluster-scoped")
    };
    let today = service.clock().today();
    let other = service
        .store()
        .list_clusters(clerk_user.authority, today)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.cluster.id)
        .find(|c| *c != own)
        .unwrap();
    Demo {
        router: web::router(service.clone(), web::WebConfig::default()),
        clerk: token("clerk").await,
        officer: token("officer").await,
        head: token("head").await,
        service,
        own,
        other,
    }
}

fn request(method: &str, path: &str, token: Option<&str>, body: Option<&Value>, key: Option<&str>) -> Request<Body> {
    let mut r = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        r = r.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    if let Some(k) = key {
        r = r.header("idempotency-key", k);
    }
    match body {
        Some(b) => r
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(b.to_string()))
            .unwrap(),
        None => r.body(Body::empty()).unwrap(),
    }
}

fn body(r: &Reply) -> Value {
    assert_eq!(
        r.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()),
        Some("application/json"),
        "not JSON: {} {}",
        r.status,
        r.body
    );
    serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.body))
}

/// An error in the one shape: status, code and message, and the field when one is at fault.
fn error(r: &Reply, status: StatusCode) -> Value {
    assert_eq!(r.status, status, "{}", r.body);
    let b = body(r);
    assert_eq!(b["status"], status.as_u16(), "{b}");
    assert!(b["code"].is_string() && b["message"].is_string(), "{b}");
    b
}

fn line(account: &str, holder: &str, side: &str, pence: i64) -> Value {
    json!({"account": account, "stream": "Cluster admin funding", "phase": "all", "holder": holder, "side": side, "amount_pence": pence})
}

fn receipt(pence: i64) -> Value {
    json!({"kind": "receipt", "date": "2026-09-01", "memo": "Receipt (test)", "lines": [
        line("funding", "central", "credit", pence), line("available", "central", "debit", pence)]})
}

fn allocation(urn: &str, pence: i64) -> Value {
    json!({"kind": "allocation", "date": "2026-09-02", "memo": "Top-up (test)", "lines": [
        line("available", "central", "credit", pence), line("available", urn, "debit", pence)]})
}

#[tokio::test]
async fn ledger_postings_are_idempotent_and_refusals_name_the_field_and_rule() {
    let d = demo().await;
    let entries = format!("/api/v1/clusters/{}/ledger/entries", d.own);
    let host = d
        .service
        .store()
        .user_credentials("head@demo.clusterwise.test")
        .await
        .unwrap()
        .unwrap()
        .0;
    let Scope::School(host) = host.scope else { panic!() };
    let host = host.to_string();
    let before = body(
        &send(
            &d.router,
            request(
                "GET",
                &format!("/api/v1/clusters/{}/ledger", d.own),
                Some(&d.clerk),
                None,
                None,
            ),
        )
        .await,
    );
    assert_eq!(before["sum_pence"], 0);
    assert_eq!(before["balanced"], true);

    // The officer's receipt: 201, then the same key and content again: 200, the same id, replayed.
    let first = send(
        &d.router,
        request(
            "POST",
            &entries,
            Some(&d.officer),
            Some(&receipt(10_000)),
            Some("api-test-r1"),
        ),
    )
    .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let first = body(&first);
    assert_eq!(first["replayed"], false);
    let again = send(
        &d.router,
        request(
            "POST",
            &entries,
            Some(&d.officer),
            Some(&receipt(10_000)),
            Some("api-test-r1"),
        ),
    )
    .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    let again = body(&again);
    assert_eq!(again["replayed"], true);
    assert_eq!(again["id"], first["id"]);
    // The same key with other content: 409, nothing written.
    let reused = send(
        &d.router,
        request(
            "POST",
            &entries,
            Some(&d.officer),
            Some(&receipt(10_001)),
            Some("api-test-r1"),
        ),
    )
    .await;
    error(&reused, StatusCode::CONFLICT);

    // The clerk's allocation from it.
    let posted = send(
        &d.router,
        request(
            "POST",
            &entries,
            Some(&d.clerk),
            Some(&allocation(&host, 2_500)),
            Some("api-test-a1"),
        ),
    )
    .await;
    assert_eq!(posted.status, StatusCode::CREATED, "{}", posted.body);

    // Refusals: each names the field and the rule; nothing is written.
    let cases: Vec<(Value, Option<&str>, &str, &str)> = vec![
        (allocation(&host, 2_500), None, "Idempotency-Key", "send this header"),
        (allocation(&host, 2_500), Some("short"), "Idempotency-Key", "8 to 100"),
        (
            json!({"kind": "allocation"}),
            Some("api-test-x1"),
            "date",
            "missing field",
        ),
        (
            json!({"kind": "gift", "date": "2026-09-02", "memo": "x", "lines": []}),
            Some("api-test-x2"),
            "kind",
            "one of receipt",
        ),
        (
            {
                let mut e = allocation(&host, 1);
                e["lines"][1]["amount_pence"] = json!("1");
                e
            },
            Some("api-test-x3"),
            "lines[1].amount_pence",
            "invalid type",
        ),
        (
            {
                let mut e = allocation(&host, 1);
                e["lines"][0]["holder"] = json!(" 136515");
                e
            },
            Some("api-test-x4"),
            "lines[0].holder",
            "URN",
        ),
        (
            {
                let mut e = allocation(&host, 1);
                e["surprise"] = json!(1);
                e
            },
            Some("api-test-x5"),
            "surprise",
            "unknown field",
        ),
        (
            {
                let mut e = allocation(&host, 100);
                e["lines"][1]["amount_pence"] = json!(101);
                e
            },
            Some("api-test-x6"),
            "lines",
            "rule balanced-entry",
        ),
        (
            allocation(&host, 100_000_000),
            Some("api-test-x7"),
            "lines",
            "rule no-overspend",
        ),
        (
            allocation("999999", 1),
            Some("api-test-x8"),
            "lines",
            "rule cluster-members",
        ),
        (
            {
                let mut e = allocation(&host, 1);
                e["date"] = json!("2026-13-01");
                e
            },
            Some("api-test-x9"),
            "date",
            "a date like",
        ),
    ];
    for (entry, key, field, rule) in cases {
        let r = send(&d.router, request("POST", &entries, Some(&d.clerk), Some(&entry), key)).await;
        let b = error(&r, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(b["field"], field, "{entry}: {b}");
        assert!(b["message"].as_str().unwrap().contains(rule), "{entry}: {b}");
    }
    // Not JSON: 415.
    let mut not_json = request("POST", &entries, Some(&d.clerk), None, Some("api-test-x10"));
    *not_json.body_mut() = Body::from("kind=receipt");
    error(&send(&d.router, not_json).await, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // Who may post: a head never (403, before the body is read); the clerk not in another
    // cluster; the officer not an allocation.
    for (token, path, entry) in [
        (&d.head, entries.clone(), allocation(&host, 1)),
        (&d.head, entries.clone(), json!({})),
        (
            &d.clerk,
            format!("/api/v1/clusters/{}/ledger/entries", d.other),
            allocation(&host, 1),
        ),
        (&d.officer, entries.clone(), allocation(&host, 1)),
    ] {
        let r = send(
            &d.router,
            request("POST", &path, Some(token), Some(&entry), Some("api-test-f1")),
        )
        .await;
        error(&r, StatusCode::FORBIDDEN);
    }
    // No cluster there: 404 in the same shape.
    error(
        &send(
            &d.router,
            request(
                "POST",
                "/api/v1/clusters/999999/ledger/entries",
                Some(&d.clerk),
                Some(&receipt(1)),
                Some("api-test-n1"),
            ),
        )
        .await,
        StatusCode::NOT_FOUND,
    );

    // The ledger: two more entries, still balanced and reconciled, every key exactly once.
    let after = body(
        &send(
            &d.router,
            request(
                "GET",
                &format!("/api/v1/clusters/{}/ledger", d.own),
                Some(&d.clerk),
                None,
                None,
            ),
        )
        .await,
    );
    assert_eq!(
        after["entries"].as_i64().unwrap(),
        before["entries"].as_i64().unwrap() + 2
    );
    assert_eq!(after["sum_pence"], 0);
    assert_eq!(after["reconciles"], true);
    let held = |v: &Value, urn: &str| {
        v["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["holder"] == urn && a["account"] == "available")
            .map_or(0, |a| a["balance_pence"].as_i64().unwrap())
    };
    assert_eq!(held(&after, &host) - held(&before, &host), 2_500);
    let all = body(&send(&d.router, request("GET", &entries, Some(&d.clerk), None, None)).await);
    let keys: Vec<&str> = all["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["idempotency_key"].as_str())
        .collect();
    assert_eq!(keys.len(), all["total"].as_u64().unwrap() as usize);
    for k in ["api-test-r1", "api-test-a1"] {
        assert_eq!(keys.iter().filter(|x| **x == k).count(), 1, "{k} exactly once");
        let one = body(
            &send(
                &d.router,
                request("GET", &format!("{entries}?key={k}"), Some(&d.clerk), None, None),
            )
            .await,
        );
        assert_eq!(one["total"], 1);
        assert_eq!(one["entries"][0]["idempotency_key"], k);
    }
    let none = body(
        &send(
            &d.router,
            request("GET", &format!("{entries}?key=api-test-x6"), Some(&d.clerk), None, None),
        )
        .await,
    );
    assert_eq!(none["total"], 0, "a refused posting left nothing");
    // Parameters are checked: unknown or out of range is 422 naming it.
    for (q, field) in [
        ("?limit=0", "limit"),
        ("?offset=-1", "offset"),
        ("?colour=red", "colour"),
        ("?key=a&key=b", "key"),
    ] {
        let b = error(
            &send(
                &d.router,
                request("GET", &format!("{entries}{q}"), Some(&d.clerk), None, None),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
        );
        assert_eq!(b["field"], field, "{q}: {b}");
    }
    // A head sees only their school's accounts.
    let theirs = body(
        &send(
            &d.router,
            request(
                "GET",
                &format!("/api/v1/clusters/{}/ledger", d.own),
                Some(&d.head),
                None,
                None,
            ),
        )
        .await,
    );
    assert!(
        theirs["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["holder"] == host.as_str()),
        "{theirs}"
    );
    assert_eq!(theirs["sum_pence"], 0);
}

#[tokio::test]
async fn tokens_cookies_and_errors_follow_one_rule_each() {
    let d = demo().await;
    let ledger = format!("/api/v1/clusters/{}/ledger", d.own);
    // No token, a malformed one, an unknown one: 401 with WWW-Authenticate, in the one shape.
    for auth in [
        None,
        Some("Basic abc"),
        Some("Bearer cwt_0000"),
        Some(&*format!("Bearer cwt_{}", "0".repeat(64))),
    ] {
        let mut r = Request::get(&ledger);
        if let Some(a) = auth {
            r = r.header(header::AUTHORIZATION, a);
        }
        let reply = send(&d.router, r.body(Body::empty()).unwrap()).await;
        error(&reply, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.headers.get(header::WWW_AUTHENTICATE).unwrap(), "Bearer");
    }
    // A revoked token stops working at once.
    let made = d
        .service
        .create_api_token("adviser@demo.clusterwise.test", "to revoke", 30, TokenAccess::ReadWrite)
        .await
        .unwrap();
    assert_eq!(
        send(&d.router, request("GET", &ledger, Some(&made.token), None, None))
            .await
            .status,
        StatusCode::OK
    );
    d.service.revoke_api_token(made.id).await.unwrap();
    error(
        &send(&d.router, request("GET", &ledger, Some(&made.token), None, None)).await,
        StatusCode::UNAUTHORIZED,
    );
    assert!(d.service.revoke_api_token(made.id).await.is_err(), "revoked once");
    let listed = d.service.api_tokens().await.unwrap();
    assert!(listed.iter().any(|t| t.id == made.id && t.revoked_at.is_some()));
    // A read-only token reads as its user does and is refused every write, whatever the user
    // may do: the officer's read-write token posts the same receipt.
    let reader = d
        .service
        .create_api_token("officer@demo.clusterwise.test", "dashboard", 30, TokenAccess::ReadOnly)
        .await
        .unwrap();
    assert_eq!(reader.access, TokenAccess::ReadOnly);
    assert_eq!(
        send(&d.router, request("GET", &ledger, Some(&reader.token), None, None))
            .await
            .status,
        StatusCode::OK
    );
    let entries = format!("{ledger}/entries");
    let refused = error(
        &send(
            &d.router,
            request(
                "POST",
                &entries,
                Some(&reader.token),
                Some(&receipt(100)),
                Some("read-only-1"),
            ),
        )
        .await,
        StatusCode::FORBIDDEN,
    );
    assert!(refused["message"].as_str().unwrap().contains("read-only"), "{refused}");
    assert_eq!(
        send(
            &d.router,
            request(
                "POST",
                &entries,
                Some(&d.officer),
                Some(&receipt(100)),
                Some("read-only-1")
            )
        )
        .await
        .status,
        StatusCode::CREATED,
        "nothing was stored under the refused key"
    );
    let listed = d.service.api_tokens().await.unwrap();
    assert!(
        listed
            .iter()
            .any(|t| t.id == reader.id && t.access == TokenAccess::ReadOnly)
    );
    assert!(
        listed
            .iter()
            .any(|t| t.id == made.id && t.access == TokenAccess::ReadWrite)
    );
    // Every token expires: 30 days from now here, and never more than 366.
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    assert!((made.expires_at - now - 30 * 86_400).abs() < 60, "{}", made.expires_at);
    for days in [0, 367] {
        let refused = d
            .service
            .create_api_token(
                "adviser@demo.clusterwise.test",
                "too long",
                days,
                TokenAccess::ReadWrite,
            )
            .await
            .unwrap_err();
        assert!(
            refused.to_string().contains("days: a token lives from 1 to 366 days"),
            "{refused}"
        );
    }

    // A session cookie reads; its writes need X-CSRF-Token (403 without, accepted with).
    let (cookie, csrf) = support::sign_in(&d.router, "clerk@demo.clusterwise.test", service::demo::DEMO_PASSWORD).await;
    let with_cookie = |method: &str, csrf: Option<&str>| {
        let mut r = Request::builder()
            .method(method)
            .uri(format!("{ledger}/entries"))
            .header(header::COOKIE, &cookie)
            .header(header::CONTENT_TYPE, "application/json")
            .header("idempotency-key", "api-cookie-1");
        if let Some(c) = csrf {
            r = r.header("x-csrf-token", c);
        }
        r.body(Body::from(json!({}).to_string())).unwrap()
    };
    assert_eq!(send(&d.router, with_cookie("GET", None)).await.status, StatusCode::OK);
    error(&send(&d.router, with_cookie("POST", None)).await, StatusCode::FORBIDDEN);
    error(
        &send(&d.router, with_cookie("POST", Some("0123"))).await,
        StatusCode::FORBIDDEN,
    );
    // With the token it reaches validation (the empty body is refused naming a field).
    error(
        &send(&d.router, with_cookie("POST", Some(&csrf))).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    );

    // The router's own errors are in the one shape too: no route, wrong method, bad id.
    error(
        &send(&d.router, request("GET", "/api/v1/nothing", Some(&d.clerk), None, None)).await,
        StatusCode::NOT_FOUND,
    );
    let wrong = send(&d.router, request("DELETE", &ledger, Some(&d.clerk), None, None)).await;
    error(&wrong, StatusCode::METHOD_NOT_ALLOWED);
    for bad in ["abc", "0", "-1", "+9", "99999999999999999999999"] {
        let r = send(
            &d.router,
            request("GET", &format!("/api/v1/clusters/{bad}"), Some(&d.clerk), None, None),
        )
        .await;
        error(&r, StatusCode::NOT_FOUND);
    }
    // The register reads.
    let schools = body(
        &send(
            &d.router,
            request(
                "GET",
                "/api/v1/schools?phase=secondary&per_page=5&sort=pupils&dir=desc",
                Some(&d.head),
                None,
                None,
            ),
        )
        .await,
    );
    assert_eq!(schools["schools"].as_array().unwrap().len(), 5);
    assert!(schools["total"].as_u64().unwrap() > 5);
    error(
        &send(
            &d.router,
            request("GET", "/api/v1/schools?phase=castle", Some(&d.head), None, None),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    );
    let cluster = body(
        &send(
            &d.router,
            request("GET", &format!("/api/v1/clusters/{}", d.own), Some(&d.head), None, None),
        )
        .await,
    );
    assert!(!cluster["members"].as_array().unwrap().is_empty());
    let alloc = body(
        &send(
            &d.router,
            request(
                "GET",
                &format!("/api/v1/clusters/{}/allocation", d.own),
                Some(&d.clerk),
                None,
                None,
            ),
        )
        .await,
    );
    let pots: Vec<&Value> = alloc["streams"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["pots"].as_array().unwrap())
        .collect();
    assert!(
        !pots.is_empty() && pots.iter().all(|p| p["reconciles"] == true),
        "{alloc}"
    );
    // The clerk sees every school's lines; the head only their own school's.
    let head_alloc = body(
        &send(
            &d.router,
            request(
                "GET",
                &format!("/api/v1/clusters/{}/allocation", d.own),
                Some(&d.head),
                None,
                None,
            ),
        )
        .await,
    );
    assert_eq!(head_alloc["schools"].as_array().unwrap().len(), 1, "{head_alloc}");
    assert!(alloc["schools"].as_array().unwrap().len() > 1);
}

#[tokio::test]
async fn votes_are_one_per_school_an_upsert_and_the_tally_follows() {
    let d = demo().await;
    let meetings = body(
        &send(
            &d.router,
            request(
                "GET",
                &format!("/api/v1/clusters/{}/meetings", d.own),
                Some(&d.clerk),
                None,
                None,
            ),
        )
        .await,
    );
    // A held meeting whose minutes are still a draft: open for business.
    let open = meetings["meetings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["held"] == true && m["minutes"] == "draft")
        .expect("a held meeting with draft minutes")["id"]
        .as_i64()
        .unwrap();
    let m = body(
        &send(
            &d.router,
            request("GET", &format!("/api/v1/meetings/{open}"), Some(&d.clerk), None, None),
        )
        .await,
    );
    let voters: Vec<(i64, String)> = m["attendance"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| Some((a["person"].as_i64()?, a["votes_for"].as_str()?.to_string())))
        .collect();
    assert!(voters.len() >= 3, "{m}");
    let motion = json!({"title": "API test motion", "text": "That the committee tests the API.", "proposer": voters[0].0, "seconder": voters[1].0});
    let added = send(
        &d.router,
        request(
            "POST",
            &format!("/api/v1/meetings/{open}/motions"),
            Some(&d.clerk),
            Some(&motion),
            None,
        ),
    )
    .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    let n = body(&added)["motion"].as_i64().unwrap();
    let votes = format!("/api/v1/meetings/{open}/motions/{n}/votes");
    let vote = |school: &str, choice: &str| json!({"school": school, "choice": choice});

    let (a, b) = (voters[0].1.clone(), voters[1].1.clone());
    let r = body(
        &send(
            &d.router,
            request("POST", &votes, Some(&d.clerk), Some(&vote(&a, "for")), None),
        )
        .await,
    );
    assert_eq!(r["changed"], true);
    let r = body(
        &send(
            &d.router,
            request("POST", &votes, Some(&d.clerk), Some(&vote(&a, "for")), None),
        )
        .await,
    );
    assert_eq!(r["changed"], false, "the same vote again changes nothing");
    let r = body(
        &send(
            &d.router,
            request("POST", &votes, Some(&d.clerk), Some(&vote(&b, "against")), None),
        )
        .await,
    );
    assert_eq!(r["tally"]["tally"], json!({"for": 1, "against": 1, "abstain": 0}));
    // A school changes its vote: replaced, never counted twice.
    let r = body(
        &send(
            &d.router,
            request("POST", &votes, Some(&d.clerk), Some(&vote(&b, "for")), None),
        )
        .await,
    );
    assert_eq!(r["tally"]["tally"], json!({"for": 2, "against": 0, "abstain": 0}));
    let t = body(&send(&d.router, request("GET", &votes, Some(&d.head), None, None)).await);
    let schools: BTreeSet<&str> = t["votes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["school"].as_str().unwrap())
        .collect();
    assert_eq!(schools.len(), 2);
    assert_eq!(t["outcome"], "carried");
    assert_eq!(t["recorded_outcome"], Value::Null);

    // Refusals: a school that may not vote, a bad choice, a bad URN, a declared item (409),
    // a head recording (403), no such motion (404).
    let e = error(
        &send(
            &d.router,
            request("POST", &votes, Some(&d.clerk), Some(&vote("999999", "for")), None),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    );
    assert_eq!(e["field"], "school");
    let e = error(
        &send(
            &d.router,
            request("POST", &votes, Some(&d.clerk), Some(&vote(&a, "maybe")), None),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    );
    assert_eq!(e["field"], "choice");
    let e = error(
        &send(
            &d.router,
            request("POST", &votes, Some(&d.clerk), Some(&vote(" 12345", "for")), None),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    );
    assert_eq!(e["field"], "school");
    let declared = m["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| !i["recorded_outcome"].is_null())
        .expect("a declared item")["number"]
        .as_i64()
        .unwrap();
    error(
        &send(
            &d.router,
            request(
                "POST",
                &format!("/api/v1/meetings/{open}/motions/{declared}/votes"),
                Some(&d.clerk),
                Some(&vote(&a, "against")),
                None,
            ),
        )
        .await,
        StatusCode::CONFLICT,
    );
    error(
        &send(
            &d.router,
            request("POST", &votes, Some(&d.head), Some(&vote(&a, "against")), None),
        )
        .await,
        StatusCode::FORBIDDEN,
    );
    error(
        &send(
            &d.router,
            request(
                "GET",
                &format!("/api/v1/meetings/{open}/motions/999/votes"),
                Some(&d.clerk),
                None,
                None,
            ),
        )
        .await,
        StatusCode::NOT_FOUND,
    );
    // A motion's proposer must differ from its seconder.
    let same = json!({"title": "x", "text": "y", "proposer": voters[0].0, "seconder": voters[0].0});
    let e = error(
        &send(
            &d.router,
            request(
                "POST",
                &format!("/api/v1/meetings/{open}/motions"),
                Some(&d.clerk),
                Some(&same),
                None,
            ),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    );
    assert_eq!(e["field"], "seconder");
}

async fn boom() -> &'static str {
    let detail = std::hint::black_box("secret detail 1234");
    if detail.len() > 1 {
        panic!("{detail}");
    }
    "unreachable"
}

#[tokio::test]
async fn a_panic_is_a_bare_500_and_the_server_goes_on() {
    use axum::routing::get;
    let router = web::outer_layers(
        Router::new()
            .route("/api/v1/boom", get(boom))
            .route("/boom", get(boom))
            .route("/api/v1/fine", get(|| async { "fine" })),
        1024,
    );
    let r = send(&router, Request::get("/api/v1/boom").body(Body::empty()).unwrap()).await;
    let b = error(&r, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(b["message"], "internal error");
    assert!(!r.body.contains("secret"));
    let r = send(&router, Request::get("/boom").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!r.body.contains("secret") && r.body.contains("<html"), "{}", r.body);
    assert!(r.headers.contains_key(header::CONTENT_SECURITY_POLICY));
    let r = send(&router, Request::get("/api/v1/fine").body(Body::empty()).unwrap()).await;
    assert_eq!((r.status, r.body.as_str()), (StatusCode::OK, "fine"));
}

/// Every `/api` route of the router (read from its source) is in docs/openapi.json with the same
/// methods, the description names nothing else, and the server serves exactly that file.
#[tokio::test]
async fn the_openapi_description_names_every_api_route_and_nothing_else() {
    let doc: Value = serde_json::from_str(include_str!("../../../docs/openapi.json")).unwrap();
    assert_eq!(doc["openapi"], "3.0.3");
    let mut described = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            described.insert((method.to_uppercase(), path.clone()));
        }
    }
    let source = include_str!("../src/lib.rs");
    let mut routed = BTreeSet::new();
    for (start, _) in source.match_indices(".route(") {
        let call = &source[start + ".route(".len()..];
        let path = call.split('"').nth(1).unwrap();
        if !path.starts_with("/api/") {
            continue;
        }
        let handlers = call.split('"').nth(2).unwrap();
        let handlers = &handlers[..handlers.find(".route(").unwrap_or(handlers.len())];
        for (needle, method) in [("get(", "GET"), ("post(", "POST")] {
            if handlers.contains(needle) {
                routed.insert((method.to_string(), path.to_string()));
            }
        }
    }
    assert!(routed.len() >= 12, "{routed:?}");
    assert_eq!(routed, described, "routes and the OpenAPI description differ");
    let d = demo().await;
    let served = send(&d.router, request("GET", "/api/v1/openapi.json", None, None, None)).await;
    assert_eq!(served.status, StatusCode::OK);
    assert_eq!(body(&served), doc);
}
