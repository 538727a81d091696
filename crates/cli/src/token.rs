//! `clusterwise token create|list|revoke`: API tokens for the JSON API. The operator holds the
//! database, so these need no sign-in; the token is printed once and only its hash is kept.

use anyhow::Result;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Make a token acting as the user with this e-mail address; prints it once.
    Create {
        #[arg(long)]
        db: Option<String>,
        #[arg(long)]
        email: String,
        /// What the token is for (shown by `token list`).
        #[arg(long, default_value = "")]
        label: String,
    },
    /// List every token (never the token itself).
    List {
        #[arg(long)]
        db: Option<String>,
    },
    /// Revoke a token by its id (from `token create` or `token list`).
    Revoke {
        #[arg(long)]
        db: Option<String>,
        #[arg(long)]
        id: i64,
    },
}

pub(crate) async fn run(command: TokenCommand, default_db: &str) -> Result<()> {
    let db = |d: Option<String>| d.unwrap_or_else(|| default_db.to_string());
    match command {
        TokenCommand::Create { db: d, email, label } => {
            let service = crate::open(&db(d)).await?;
            let made = service.create_api_token(&email, &label).await?;
            // The token alone on stdout, so scripts can take it; the rest on stderr.
            eprintln!(
                "API token {} for {} ({}); it is shown only now:",
                made.id,
                made.user.email,
                made.user.role.label()
            );
            println!("{}", made.token);
        }
        TokenCommand::List { db: d } => {
            let service = crate::open(&db(d)).await?;
            for t in service.api_tokens().await? {
                println!(
                    "{:>5}  {:<38} {:<24} created {}  {}  {}",
                    t.id,
                    t.user.email,
                    t.user.role.label(),
                    t.created_at,
                    t.revoked_at
                        .map_or_else(|| "live".to_string(), |at| format!("revoked {at}")),
                    t.label
                );
            }
        }
        TokenCommand::Revoke { db: d, id } => {
            let service = crate::open(&db(d)).await?;
            service.revoke_api_token(id).await?;
            println!("API token {id} is revoked.");
        }
    }
    Ok(())
}
