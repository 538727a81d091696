//! API tokens (bearer tokens for the JSON API).

use crate::rows::{int, opt_i64, text};
use crate::{SqlStore, db_err};
use service::store::{ApiTokenRecord, NewApiToken, StoreResult, TokenAccess, TokenHolder};

const USER_COLUMNS: &str =
    "u.id, u.authority_id, u.email, u.display_name, u.role, u.scope_kind, u.scope_cluster, u.scope_urn";

pub(crate) async fn create(store: &SqlStore, t: &NewApiToken) -> StoreResult<i64> {
    let row = sqlx::query(
        "INSERT INTO api_tokens (token_hash, user_id, label, created_at, revoked_at, expires_at, read_only) \
         VALUES ($1, $2, $3, $4, NULL, $5, $6) RETURNING id",
    )
    .bind(t.token_hash.clone())
    .bind(t.user.0)
    .bind(t.label.clone())
    .bind(t.created_at)
    .bind(t.expires_at)
    .bind(i64::from(t.access == TokenAccess::ReadOnly))
    .fetch_one(store.pool())
    .await
    .map_err(db_err)?;
    int(&row, 0)
}

fn access(row: &sqlx::any::AnyRow, i: usize) -> StoreResult<TokenAccess> {
    Ok(if int(row, i)? == 0 {
        TokenAccess::ReadWrite
    } else {
        TokenAccess::ReadOnly
    })
}

pub(crate) async fn user(store: &SqlStore, token_hash: &str, now: i64) -> StoreResult<Option<TokenHolder>> {
    let sql = format!(
        "SELECT {USER_COLUMNS}, t.read_only FROM api_tokens t JOIN users u ON u.id = t.user_id \
         WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > $2"
    );
    sqlx::query(&sql)
        .bind(token_hash)
        .bind(now)
        .fetch_optional(store.pool())
        .await
        .map_err(db_err)?
        .map(|r| {
            Ok(TokenHolder {
                user: crate::users::user_from_row(&r)?,
                access: access(&r, 8)?,
            })
        })
        .transpose()
}

pub(crate) async fn list(store: &SqlStore) -> StoreResult<Vec<ApiTokenRecord>> {
    let sql = format!(
        "SELECT {USER_COLUMNS}, t.id, t.label, t.created_at, t.revoked_at, t.expires_at, t.read_only \
         FROM api_tokens t JOIN users u ON u.id = t.user_id ORDER BY t.id DESC"
    );
    sqlx::query(&sql)
        .fetch_all(store.pool())
        .await
        .map_err(db_err)?
        .iter()
        .map(|r| {
            Ok(ApiTokenRecord {
                user: crate::users::user_from_row(r)?,
                id: int(r, 8)?,
                label: text(r, 9)?,
                created_at: int(r, 10)?,
                revoked_at: opt_i64(r, 11)?,
                expires_at: int(r, 12)?,
                access: access(r, 13)?,
            })
        })
        .collect()
}

pub(crate) async fn revoke(store: &SqlStore, id: i64, at: i64) -> StoreResult<bool> {
    let done = sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(at)
        .bind(id)
        .execute(store.pool())
        .await
        .map_err(db_err)?;
    Ok(done.rows_affected() == 1)
}
