//! The request helpers every HTTP test file shares: send a request through `Router::oneshot`,
//! build GET and form POST requests, read a page's CSRF token, and sign in.
//!
//! Each test file is its own crate and uses only some of these, hence the `dead_code` allowance.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// A response with its body read to the end.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    /// The `Location` header, or "" when there is none.
    pub fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// The whole `Set-Cookie` header (value and attributes) that sets the cookie `name`.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with(&format!("{name}=")))
            .map(str::to_string)
    }

    /// Just `name=value` of the cookie `name`, ready for a `Cookie` header.
    pub fn cookie_pair(&self, name: &str) -> Option<String> {
        self.cookie(name)
            .map(|c| c.split(';').next().unwrap_or_default().to_string())
    }
}

/// Sends one request through the router and reads the whole body.
pub async fn send(router: &Router, request: Request<Body>) -> Reply {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// A GET, with the `Cookie` header when there is one.
pub fn get(path: &str, cookie: Option<&str>) -> Request<Body> {
    let mut r = Request::get(path);
    if let Some(c) = cookie {
        r = r.header(header::COOKIE, c);
    }
    r.body(Body::empty()).unwrap()
}

/// A url-encoded form POST, with the `Cookie` header when there is one.
pub fn post_form(path: &str, cookie: Option<&str>, form: &[(&str, &str)]) -> Request<Body> {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let mut r = Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(c) = cookie {
        r = r.header(header::COOKIE, c);
    }
    r.body(Body::from(body)).unwrap()
}

/// The value of the first hidden `csrf_token` input in a page.
pub fn csrf_in(page: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = page.find(marker).expect("a csrf_token field") + marker.len();
    page[start..start + page[start..].find('"').unwrap()].to_string()
}

/// Signs in through the sign-in form; returns the session cookie (`name=value`) and the
/// session's CSRF token (read from the home page).
pub async fn sign_in(router: &Router, email: &str, password: &str) -> (String, String) {
    let form = send(router, get("/sign-in", None)).await;
    let pre = form.cookie_pair("clusterwise_sign_in").unwrap();
    let r = send(
        router,
        post_form(
            "/sign-in",
            Some(&pre),
            &[
                ("csrf_token", &csrf_in(&form.body)),
                ("email", email),
                ("password", password),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{email} signs in: {}", r.body);
    let cookie = r.cookie_pair("clusterwise_session").unwrap();
    let home = send(router, get("/", Some(&cookie))).await;
    assert_eq!(home.status, StatusCode::OK, "{email}'s home page");
    (cookie, csrf_in(&home.body))
}
