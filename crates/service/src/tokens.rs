//! API tokens: bearer tokens for the JSON API. A token acts as one user, with that user's role and
//! scope, so every check the service makes for a signed-in person applies to it unchanged. The
//! token is shown once when made; only its SHA-256 is stored (as for sessions). Tokens are made
//! and revoked by the operator (`clusterwise token create|revoke|list`), who holds the database.
//! Every token expires: 90 days after it is made unless the operator chooses 1 to 366. A token
//! may be made read-only: it then reads as its user does and is refused every write (the web
//! layer answers 403), so a dashboard or an export job need not hold a key that can post.

use crate::auth::token_hash;
use crate::store::{ApiTokenRecord, NewApiToken, TokenAccess, TokenHolder};
use crate::{Service, ServiceError, ServiceResult};
use domain::access::User;

/// Every API token starts with this, so a leaked one is recognisable (and a session token never
/// passes for one).
pub const TOKEN_PREFIX: &str = "cwt_";

/// How long a token lives unless the operator says otherwise, and the longest it may.
pub const DEFAULT_TOKEN_DAYS: u32 = 90;
pub const MAX_TOKEN_DAYS: u32 = 366;

/// A token just made: `token` is shown once and never stored.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub id: i64,
    pub token: String,
    pub user: User,
    /// Unix seconds.
    pub expires_at: i64,
    pub access: TokenAccess,
}

fn well_formed(token: &str) -> bool {
    token
        .strip_prefix(TOKEN_PREFIX)
        .is_some_and(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))
}

impl Service {
    /// Makes a token acting as the user with this e-mail address, live for `days` days.
    pub async fn create_api_token(
        &self,
        email: &str,
        label: &str,
        days: u32,
        access: TokenAccess,
    ) -> ServiceResult<NewToken> {
        let email = email.trim().to_ascii_lowercase();
        let label = label.trim();
        if !(1..=MAX_TOKEN_DAYS).contains(&days) {
            return Err(ServiceError::Invalid(format!(
                "days: a token lives from 1 to {MAX_TOKEN_DAYS} days, not {days}"
            )));
        }
        if label.chars().count() > 200 || label.chars().any(char::is_control) {
            return Err(ServiceError::Invalid(
                "label: at most 200 characters, with no control characters".into(),
            ));
        }
        let (user, _) = self
            .store
            .user_credentials(&email)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("a user with email {email}")))?;
        let token = format!("{TOKEN_PREFIX}{}", crate::auth::new_token());
        let now = self.clock.now();
        let expires_at = now + i64::from(days) * 86_400;
        let id = self
            .store
            .create_api_token(&NewApiToken {
                token_hash: token_hash(&token),
                user: user.id,
                label: label.to_string(),
                created_at: now,
                expires_at,
                access,
            })
            .await?;
        Ok(NewToken {
            id,
            token,
            user,
            expires_at,
            access,
        })
    }

    /// The user a bearer token acts as and what it may do, if it is a live token (not revoked,
    /// not expired).
    pub async fn api_token_user(&self, token: &str) -> ServiceResult<Option<TokenHolder>> {
        if !well_formed(token) {
            return Ok(None);
        }
        Ok(self.store.api_token_user(&token_hash(token), self.clock.now()).await?)
    }

    /// Every token (never the token itself), newest first.
    pub async fn api_tokens(&self) -> ServiceResult<Vec<ApiTokenRecord>> {
        Ok(self.store.api_tokens().await?)
    }

    /// Revokes a token by its id; requests carrying it are refused from then on.
    pub async fn revoke_api_token(&self, id: i64) -> ServiceResult<()> {
        if self.store.revoke_api_token(id, self.clock.now()).await? {
            Ok(())
        } else {
            Err(ServiceError::NotFound(format!("a live API token with id {id}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_prefixed_64_hex_tokens_are_looked_up() {
        assert!(well_formed(&format!("cwt_{}", "a".repeat(64))));
        assert!(!well_formed(&"a".repeat(64)));
        assert!(!well_formed(&format!("cwt_{}", "g".repeat(64))));
        assert!(!well_formed("cwt_"));
    }
}
