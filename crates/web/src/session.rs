//! Sign-in, sign-out, the session layer and CSRF checks.
//!
//! The session cookie holds a random token (the store keeps only its SHA-256); a new token is
//! issued on every sign-in, so a planted cookie is never promoted (no session fixation). Forms
//! carry the session's CSRF token, compared in constant time.
//!
//! The sign-in form has no session yet, and an unprotected one allows login CSRF (another site
//! signs you in to *its* account, and what you then upload lands there). It uses a double-submit
//! token: a fresh random value both in a `SameSite=Strict; HttpOnly` cookie and in the form, and
//! the POST must carry the same value in both. We chose this over checking `Origin`: it needs no
//! JavaScript, does not depend on a header that privacy proxies and some browsers omit on
//! same-origin posts, and another site can neither read the value nor (with `SameSite=Strict`)
//! make the browser send the cookie.

use crate::AppState;
use crate::error::WebError;
use askama::Template;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use serde::Deserialize;
use service::ServiceError;
use service::auth::{CurrentSession, SESSION_SECONDS, constant_time_eq, new_token};

pub(crate) const SESSION_COOKIE: &str = "clusterwise_session";
const SIGN_IN_CSRF_COOKIE: &str = "clusterwise_sign_in";

/// The value of a cookie in the request, if present.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn set_cookie(name: &str, value: &str, max_age: i64, same_site: &str, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite={same_site}; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

/// Requires a live session: HTML GETs go to the sign-in page, anything else gets 401.
pub(crate) async fn require_session(State(app): State<AppState>, mut request: Request, next: Next) -> Response {
    let token = cookie(request.headers(), SESSION_COOKIE).map(str::to_string);
    let session = match token {
        Some(t) => match app.service.session(&t).await {
            Ok(s) => s,
            Err(e) => return WebError::from(e).into_response(),
        },
        None => None,
    };
    match session {
        Some(s) => {
            request.extensions_mut().insert(s);
            next.run(request).await
        }
        None if request.method() == Method::GET || request.method() == Method::HEAD => {
            Redirect::to("/sign-in").into_response()
        }
        None => WebError::new(StatusCode::UNAUTHORIZED, "Your session has ended: sign in again.").into_response(),
    }
}

/// Refuses a POST whose CSRF token is not the session's.
pub(crate) fn check_csrf(session: &CurrentSession, token: &str) -> Result<(), WebError> {
    if constant_time_eq(&session.csrf_token, token) {
        Ok(())
    } else {
        Err(WebError::forbidden(
            "This form has expired or did not come from Clusterwise. Go back, reload the page and try again.",
        ))
    }
}

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    hint: Option<String>,
    csrf_token: String,
    email: String,
    error: Option<String>,
}

fn sign_in_page(app: &AppState, status: StatusCode, email: &str, error: Option<String>) -> Result<Response, WebError> {
    let token = new_token();
    let body = SignInPage {
        hint: app.config.sign_in_hint.clone(),
        csrf_token: token.clone(),
        email: email.to_string(),
        error,
    }
    .render()?;
    let mut r = (status, Html(body)).into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SIGN_IN_CSRF_COOKIE, &token, 3600, "Strict", app.config.secure_cookies),
    );
    Ok(r)
}

/// The sign-in page; someone already signed in goes straight to the overview.
pub(crate) async fn sign_in_form(State(app): State<AppState>, headers: HeaderMap) -> Result<Response, WebError> {
    if let Some(token) = cookie(&headers, SESSION_COOKIE)
        && app.service.session(token).await?.is_some()
    {
        return Ok(Redirect::to("/").into_response());
    }
    sign_in_page(&app, StatusCode::OK, "", None)
}

#[derive(Deserialize)]
pub(crate) struct SignInForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

pub(crate) async fn sign_in(
    State(app): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Result<Response, WebError> {
    let expected = cookie(&headers, SIGN_IN_CSRF_COOKIE).unwrap_or_default();
    if expected.is_empty() || !constant_time_eq(expected, &form.csrf_token) {
        // Refused (403), with a fresh form so a person whose page sat open too long can go on.
        return sign_in_page(
            &app,
            StatusCode::FORBIDDEN,
            &form.email,
            Some("This sign-in form had expired or did not come from Clusterwise. Enter your email address and password again".into()),
        );
    }
    if form.email.trim().is_empty() || form.password.is_empty() {
        return sign_in_page(
            &app,
            StatusCode::UNPROCESSABLE_ENTITY,
            &form.email,
            Some("Enter your email address and password".into()),
        );
    }
    match app.service.sign_in(&form.email, &form.password).await {
        Ok(signed) => {
            // A session this browser already had ends: one browser, one session.
            if let Some(old) = cookie(&headers, SESSION_COOKIE) {
                app.service.sign_out(old).await?;
            }
            let mut r = Redirect::to("/").into_response();
            let h = r.headers_mut();
            h.append(
                header::SET_COOKIE,
                set_cookie(
                    SESSION_COOKIE,
                    &signed.token,
                    SESSION_SECONDS,
                    "Lax",
                    app.config.secure_cookies,
                ),
            );
            h.append(
                header::SET_COOKIE,
                set_cookie(SIGN_IN_CSRF_COOKIE, "", 0, "Strict", app.config.secure_cookies),
            );
            Ok(r)
        }
        // Throttled: 429 with the window's length, so clients and proxies back off.
        Err(ServiceError::Forbidden(message)) if message == service::auth::SIGN_IN_THROTTLED => {
            let mut r = sign_in_page(&app, StatusCode::TOO_MANY_REQUESTS, &form.email, Some(message))?;
            r.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(service::auth::THROTTLE_WINDOW_SECONDS),
            );
            Ok(r)
        }
        Err(ServiceError::Forbidden(message)) => {
            sign_in_page(&app, StatusCode::UNAUTHORIZED, &form.email, Some(message))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub(crate) struct CsrfForm {
    #[serde(default)]
    pub csrf_token: String,
}

pub(crate) async fn sign_out(
    State(app): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    check_csrf(&session, &form.csrf_token)?;
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        app.service.sign_out(token).await?;
    }
    let mut r = Redirect::to("/sign-in").into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, "", 0, "Lax", app.config.secure_cookies),
    );
    Ok(r)
}
