//! Users, sessions and sign-in attempts.

use crate::rows::{int, opt_i64, text, urn};
use crate::{SqlStore, db_err};
use domain::access::{Scope, User, UserRole};
use domain::ids::{AuthorityId, ClusterId, UserId};
use service::store::{NewUser, SessionRecord, StoreError, StoreResult};
use sqlx::any::AnyRow;

const USER_COLUMNS: &str =
    "u.id, u.authority_id, u.email, u.display_name, u.role, u.scope_kind, u.scope_cluster, u.scope_urn";

pub(crate) fn user_from_row(r: &AnyRow) -> StoreResult<User> {
    let role = text(r, 4)?;
    let scope_kind = text(r, 5)?;
    let scope = match scope_kind.as_str() {
        "authority" => Scope::Authority,
        "cluster" => Scope::Cluster(ClusterId(
            opt_i64(r, 6)?.ok_or_else(|| StoreError::Other("cluster scope without a cluster".into()))?,
        )),
        "school" => Scope::School(urn(
            opt_i64(r, 7)?.ok_or_else(|| StoreError::Other("school scope without a school".into()))?
        )?),
        other => return Err(StoreError::Other(format!("stored scope {other:?} is not valid"))),
    };
    Ok(User {
        id: UserId(int(r, 0)?),
        authority: AuthorityId(int(r, 1)?),
        email: text(r, 2)?,
        display_name: text(r, 3)?,
        role: UserRole::from_code(&role)
            .ok_or_else(|| StoreError::Other(format!("stored role {role:?} is not valid")))?,
        scope,
    })
}

pub(crate) async fn create_user(store: &SqlStore, u: NewUser) -> StoreResult<User> {
    let (kind, cluster, school) = match u.scope {
        Scope::Authority => ("authority", None, None),
        Scope::Cluster(c) => ("cluster", Some(c.0), None),
        Scope::School(s) => ("school", None, Some(i64::from(s.get()))),
    };
    let row = sqlx::query(
        "INSERT INTO users (authority_id, email, display_name, role, scope_kind, scope_cluster, scope_urn, password_hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(u.authority.0)
    .bind(u.email.clone())
    .bind(u.display_name.clone())
    .bind(u.role.code())
    .bind(kind)
    .bind(cluster)
    .bind(school)
    .bind(u.password_hash)
    .fetch_one(store.pool())
    .await
    .map_err(|e| match crate::db_err(e) {
        StoreError::Conflict(_) => StoreError::Conflict(format!("a user with email {} already exists", u.email)),
        other => other,
    })?;
    Ok(User {
        id: UserId(int(&row, 0)?),
        authority: u.authority,
        email: u.email,
        display_name: u.display_name,
        role: u.role,
        scope: u.scope,
    })
}

pub(crate) async fn user_credentials(store: &SqlStore, email: &str) -> StoreResult<Option<(User, String)>> {
    let sql = format!("SELECT {USER_COLUMNS}, u.password_hash FROM users u WHERE u.email = $1");
    sqlx::query(&sql)
        .bind(email.trim().to_ascii_lowercase())
        .fetch_optional(store.pool())
        .await
        .map_err(db_err)?
        .map(|r| Ok((user_from_row(&r)?, text(&r, 8)?)))
        .transpose()
}

pub(crate) async fn create_session(store: &SqlStore, s: &SessionRecord) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(s.token_hash.clone())
    .bind(s.user.0)
    .bind(s.csrf_token.clone())
    .bind(s.created_at)
    .bind(s.expires_at)
    .execute(store.pool())
    .await
    .map_err(db_err)?;
    Ok(())
}

pub(crate) async fn session(
    store: &SqlStore,
    token_hash: &str,
    now: i64,
) -> StoreResult<Option<(SessionRecord, User)>> {
    let sql = format!(
        "SELECT {USER_COLUMNS}, x.token_hash, x.csrf_token, x.created_at, x.expires_at \
         FROM sessions x JOIN users u ON u.id = x.user_id WHERE x.token_hash = $1 AND x.expires_at > $2"
    );
    sqlx::query(&sql)
        .bind(token_hash)
        .bind(now)
        .fetch_optional(store.pool())
        .await
        .map_err(db_err)?
        .map(|r| {
            let user = user_from_row(&r)?;
            Ok((
                SessionRecord {
                    token_hash: text(&r, 8)?,
                    user: user.id,
                    csrf_token: text(&r, 9)?,
                    created_at: int(&r, 10)?,
                    expires_at: int(&r, 11)?,
                },
                user,
            ))
        })
        .transpose()
}

pub(crate) async fn delete_session(store: &SqlStore, token_hash: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(token_hash)
        .execute(store.pool())
        .await
        .map_err(db_err)?;
    Ok(())
}

pub(crate) async fn record_sign_in_attempt(store: &SqlStore, email: &str, at: i64, success: bool) -> StoreResult<()> {
    sqlx::query("INSERT INTO sign_in_attempts (email, at, success) VALUES ($1, $2, $3)")
        .bind(email)
        .bind(at)
        .bind(i64::from(success))
        .execute(store.pool())
        .await
        .map_err(db_err)?;
    Ok(())
}

pub(crate) async fn failed_sign_ins_since(store: &SqlStore, email: &str, since: i64) -> StoreResult<u64> {
    // Failures since the later of `since` and the last success.
    let row = sqlx::query(
        "SELECT COUNT(*) FROM sign_in_attempts a WHERE a.email = $1 AND a.success = 0 AND a.at >= $2 \
         AND a.at >= COALESCE((SELECT MAX(b.at) FROM sign_in_attempts b WHERE b.email = $1 AND b.success = 1), $2)",
    )
    .bind(email)
    .bind(since)
    .fetch_one(store.pool())
    .await
    .map_err(db_err)?;
    Ok(u64::try_from(int(&row, 0)?).unwrap_or(0))
}
