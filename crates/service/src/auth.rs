//! Sign-in, sessions and users. Passwords are hashed with Argon2id; session cookies carry a
//! random token of which only the SHA-256 is stored; each session has its own CSRF token.

use crate::store::{NewUser, SessionRecord};
use crate::{Service, ServiceError, ServiceResult};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use domain::access::{Scope, User, UserRole, check_role_scope};
use domain::ids::AuthorityId;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// How long a session lasts without signing in again (8 hours: a working day).
pub const SESSION_SECONDS: i64 = 8 * 60 * 60;
/// Sign-in is refused after this many failures for one e-mail within [`THROTTLE_WINDOW_SECONDS`].
pub const THROTTLE_FAILURES: u64 = 10;
pub const THROTTLE_WINDOW_SECONDS: i64 = 5 * 60;
/// The refusal of a throttled sign-in (the web layer answers it with 429 and `Retry-After`).
pub const SIGN_IN_THROTTLED: &str =
    "Too many failed sign-in attempts for this email address. Wait 5 minutes and try again";
pub const MIN_PASSWORD_CHARS: usize = 10;

/// A new session: the token goes into the cookie, never into the database.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub token: String,
    pub csrf_token: String,
    pub user: User,
    pub expires_at: i64,
}

/// The session behind a cookie.
#[derive(Debug, Clone)]
pub struct CurrentSession {
    pub user: User,
    pub csrf_token: String,
}

/// A fresh random token (32 bytes, hex), e.g. for a pre-session CSRF cookie.
pub fn new_token() -> String {
    random_hex(32)
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    hex(&buf)
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// SHA-256 of a session token, as stored.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// Hashes a password with Argon2id and a random salt.
pub fn hash_password(password: &str) -> ServiceResult<String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ServiceError::Unexpected(format!("password hashing failed: {e}")))
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
        .unwrap_or(false)
}

/// Compares two strings in time independent of where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

const SIGN_IN_REFUSED: &str = "The email address or password is not right";

impl Service {
    /// Creates a user after checking the e-mail, the password length and that role and scope agree.
    pub async fn create_user(
        &self,
        authority: AuthorityId,
        email: &str,
        display_name: &str,
        role: UserRole,
        scope: Scope,
        password: &str,
    ) -> ServiceResult<User> {
        let email = email.trim().to_ascii_lowercase();
        if !email.contains('@') || email.len() > 254 || email.starts_with('@') || email.ends_with('@') {
            return Err(ServiceError::Invalid(format!(
                "email {email:?} must be an address like name@example.org"
            )));
        }
        if password.chars().count() < MIN_PASSWORD_CHARS {
            return Err(ServiceError::Invalid(format!(
                "a password must be at least {MIN_PASSWORD_CHARS} characters"
            )));
        }
        check_role_scope(role, scope).map_err(|e| ServiceError::Invalid(e.to_string()))?;
        let password_hash = hash_password(password)?;
        Ok(self
            .store
            .create_user(NewUser {
                authority,
                email,
                display_name: display_name.trim().to_string(),
                role,
                scope,
                password_hash,
            })
            .await?)
    }

    /// Checks the password and opens a session. Throttled per e-mail address.
    pub async fn sign_in(&self, email: &str, password: &str) -> ServiceResult<SignedIn> {
        let email = email.trim().to_ascii_lowercase();
        let now = self.clock.now();
        let failures = self
            .store
            .failed_sign_ins_since(&email, now - THROTTLE_WINDOW_SECONDS)
            .await?;
        if failures >= THROTTLE_FAILURES {
            return Err(ServiceError::Forbidden(SIGN_IN_THROTTLED.into()));
        }
        let found = self.store.user_credentials(&email).await?;
        let ok_user = match &found {
            Some((user, hash)) if verify_password(password, hash) => Some(user.clone()),
            Some(_) => None,
            None => {
                // Spend the same time as a real check so response time does not reveal accounts.
                let _ = verify_password(password, DUMMY_HASH);
                None
            }
        };
        self.store
            .record_sign_in_attempt(&email, now, ok_user.is_some())
            .await?;
        let user = ok_user.ok_or_else(|| ServiceError::Forbidden(SIGN_IN_REFUSED.into()))?;
        let token = random_hex(32);
        let csrf_token = random_hex(32);
        let record = SessionRecord {
            token_hash: token_hash(&token),
            user: user.id,
            csrf_token: csrf_token.clone(),
            created_at: now,
            expires_at: now + SESSION_SECONDS,
        };
        self.store.create_session(&record).await?;
        Ok(SignedIn {
            token,
            csrf_token,
            user,
            expires_at: record.expires_at,
        })
    }

    /// The session for a cookie token, if it is live.
    pub async fn session(&self, token: &str) -> ServiceResult<Option<CurrentSession>> {
        if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let found = self.store.session(&token_hash(token), self.clock.now()).await?;
        Ok(found.map(|(s, user)| CurrentSession {
            user,
            csrf_token: s.csrf_token,
        }))
    }

    pub async fn sign_out(&self, token: &str) -> ServiceResult<()> {
        Ok(self.store.delete_session(&token_hash(token)).await?)
    }
}

/// A valid Argon2id hash of a random string, used to equalise timing for unknown accounts.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0Vn3RHtx/tEXpGRBQJ3HMnBKwG1+3EEaDyc6PxNjtUo";
