//! `clusterwise token create|list|revoke`: API tokens for the JSON API. The operator holds the
//! database, so these need no sign-in; the token is printed once and only its hash is kept.

use anyhow::Result;
use clap::Subcommand;
use service::store::TokenAccess;

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
        /// How many days the token lives (1 to 366).
        #[arg(long, default_value_t = service::tokens::DEFAULT_TOKEN_DAYS)]
        days: u32,
        /// The token may only read (GET): every write with it is refused with 403.
        #[arg(long)]
        read_only: bool,
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
        TokenCommand::Create {
            db: d,
            email,
            label,
            days,
            read_only,
        } => {
            let service = crate::open(&db(d)).await?;
            let access = if read_only {
                TokenAccess::ReadOnly
            } else {
                TokenAccess::ReadWrite
            };
            let made = service.create_api_token(&email, &label, days, access).await?;
            // The token alone on stdout, so scripts can take it; the rest on stderr.
            eprintln!(
                "API token {} for {} ({}), {}, live until {}; it is shown only now:",
                made.id,
                made.user.email,
                made.user.role.label(),
                made.access.label(),
                when(made.expires_at)
            );
            println!("{}", made.token);
        }
        TokenCommand::List { db: d } => {
            let service = crate::open(&db(d)).await?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
            for t in service.api_tokens().await? {
                let state = match t.revoked_at {
                    Some(at) => format!("revoked {}", when(at)),
                    None if t.expires_at <= now => format!("expired {}", when(t.expires_at)),
                    None => format!("live until {}", when(t.expires_at)),
                };
                println!(
                    "{:>5}  {:<38} {:<24} {:<14} created {}  {}  {}",
                    t.id,
                    t.user.email,
                    t.user.role.label(),
                    t.access.label(),
                    when(t.created_at),
                    state,
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

/// Unix seconds as a UTC date and time.
fn when(at: i64) -> String {
    chrono::DateTime::from_timestamp(at, 0)
        .map_or_else(|| at.to_string(), |t| t.format("%Y-%m-%d %H:%M UTC").to_string())
}
