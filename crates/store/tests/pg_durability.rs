//! PostgreSQL durability at start-up (issue 8, item 1): the store refuses ledger postings when
//! the server runs with `fsync`, `full_page_writes` or `synchronous_commit` off, and names the
//! setting. Runs when `CLUSTERWISE_TEST_POSTGRES_URL` names a server (scripts/test.sh starts one
//! with the durable settings).
#![allow(clippy::unwrap_used)]

use service::Store;

#[tokio::test]
async fn ledger_postings_are_refused_unless_postgres_is_durable() {
    let Ok(admin_url) = std::env::var("CLUSTERWISE_TEST_POSTGRES_URL") else {
        eprintln!("PostgreSQL durability test not run: CLUSTERWISE_TEST_POSTGRES_URL is not set");
        return;
    };
    use sqlx::{Connection, Executor};
    sqlx::any::install_default_drivers();
    let name = format!("cw_durability_{}", std::process::id());
    let mut admin = sqlx::AnyConnection::connect(&admin_url).await.unwrap();
    admin
        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
        .await
        .unwrap();
    admin.execute(format!("CREATE DATABASE {name}").as_str()).await.unwrap();
    let base = admin_url.rsplit_once('/').map_or(admin_url.as_str(), |(b, _)| b);

    // The server as scripts/test.sh starts it: durable, postings allowed.
    let durable = store::connect(&format!("{base}/{name}")).await.unwrap();
    durable.ledger_durability().await.unwrap();
    durable.close().await;

    // The same server, but this client's sessions commit without waiting for the disk.
    let lax = store::connect(&format!("{base}/{name}?options=-c%20synchronous_commit%3Doff"))
        .await
        .unwrap();
    let why = lax.ledger_durability().await.unwrap_err().to_string();
    assert!(
        why.contains("synchronous_commit=off") && why.contains("fsync=on, full_page_writes=on"),
        "{why}"
    );
    lax.close().await;
    admin
        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
        .await
        .unwrap();
}
