//! The single `clusterwise` binary: serve, demo, migrate, import, export, backup, restore, config.
//! Exit codes are decided in one place ([`main`]): 0 success, 1 error, 2 usage, 3 rows rejected, 4 no valid cluster map.

mod allocate;
mod backup;
mod config;
mod design;
mod governance;
mod import;
mod ledger_soak;
mod retention;
mod token;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use config::Config;
use domain::NaiveDate;
use service::import::ImportKind;
use service::{Service, SystemClock};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// mimalloc: the system allocator takes a lock on most allocations once a second thread exists,
/// which made it a quarter to a third of parallel import time (see BENCHMARKS.md). A server
/// turns transparent huge pages off for itself first (`server_memory`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "clusterwise",
    version,
    about = "Form, fund, govern and evaluate clusters of schools"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build a fresh demo database from the real Norfolk census and serve it.
    Demo {
        /// The demo database file (replaced if it exists).
        #[arg(long, default_value = "clusterwise-demo.db")]
        db: PathBuf,
        #[arg(long)]
        bind: Option<String>,
        /// The Norfolk census CSV (default: shared/data/real/norfolk_schools_spc_2022_23.csv).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Build the database and exit without serving.
        #[arg(long)]
        no_serve: bool,
    },
    /// Serve the web interface on an existing database.
    Serve {
        #[arg(long)]
        db: Option<String>,
        #[arg(long)]
        bind: Option<String>,
    },
    /// Create or update the database schema.
    Migrate {
        #[arg(long)]
        db: Option<String>,
    },
    /// Import a census, GIAS or cluster membership file (all-or-nothing).
    Import {
        kind: KindArg,
        file: PathBuf,
        #[arg(long)]
        db: Option<String>,
        /// Import the good rows even when some are rejected.
        #[arg(long)]
        skip_invalid: bool,
        /// Print a JSON summary on standard output.
        #[arg(long)]
        json: bool,
        /// The authority's LA code (required for cluster files; otherwise each row goes to its own LA).
        #[arg(long)]
        authority: Option<String>,
        /// Census day (YYYY-MM-DD) when the file does not say (default: from the file name).
        #[arg(long, value_parser = parse_date)]
        census_date: Option<NaiveDate>,
        /// Day cluster memberships start (YYYY-MM-DD; default today).
        #[arg(long, value_parser = parse_date)]
        effective: Option<NaiveDate>,
    },
    /// Export the register.
    Export {
        what: ExportWhat,
        #[arg(long)]
        db: Option<String>,
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long)]
        authority: Option<String>,
    },
    /// Create a user (the password is read from CLUSTERWISE_NEW_PASSWORD).
    CreateUser {
        #[arg(long)]
        db: Option<String>,
        #[arg(long)]
        authority: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "authority_officer")]
        role: String,
    },
    /// Allocate funding to schools from a policy file (see docs/POLICY.md).
    Allocate(allocate::AllocateArgs),
    /// Propose a cluster map under hard constraints (the boundary planner).
    Design(Box<design::DesignArgs>),
    /// Governance tools.
    Governance {
        #[command(subcommand)]
        command: GovernanceCommand,
    },
    /// Reliability harness: posts a deterministic run of ledger entries, one `ack` line each
    /// (crates/cli/tests/ledger_kill.rs kills it mid-run and checks the ledger).
    #[command(hide = true)]
    LedgerSoak {
        #[arg(long)]
        db: String,
        /// Post the entries with keys soak-000000 up to this count.
        #[arg(long)]
        entries: u32,
        /// Start at this entry (earlier ones are already posted or retried elsewhere).
        #[arg(long, default_value_t = 0)]
        from: u32,
    },
    /// Back up the whole database to one file while it keeps serving.
    ///
    /// Writes every table as it stood at one moment (changes made while the backup runs are
    /// not in it, and are not held up by it). Works on SQLite and PostgreSQL; a backup of
    /// either restores into either. The file's first two lines say what it holds, table by
    /// table; the rest is checksummed, and sealed with a passphrase when --encrypt is given.
    /// See docs/RELIABILITY.md, "Backups and restore".
    ///
    /// Examples:
    ///   clusterwise backup --db clusterwise.db --out /backups/clusterwise-2026-12-01.cwbackup
    ///   CLUSTERWISE_BACKUP_PASSPHRASE='…' clusterwise backup --db postgres://cw@db/clusterwise --out nightly.cwbackup --encrypt
    #[command(verbatim_doc_comment)]
    Backup {
        /// The database to back up: an SQLite file or a postgres:// URL (default: the configured database).
        #[arg(long)]
        db: Option<String>,
        /// The backup file to write; it must not exist yet (a backup never overwrites a file).
        #[arg(long)]
        out: PathBuf,
        /// Encrypt it (XChaCha20-Poly1305, key from Argon2id) with the passphrase in the environment
        /// variable CLUSTERWISE_BACKUP_PASSPHRASE (at least 12 characters; keep it apart from the backups).
        #[arg(long)]
        encrypt: bool,
        /// Test hook: hold the snapshot open before reading this table until a line arrives on stdin.
        #[arg(long, hide = true)]
        hold_before: Option<String>,
    },
    /// Restore a backup into an empty database, check it, and only then switch it in.
    ///
    /// Reads the whole file first (refusing one that is cut short, altered, of a newer version,
    /// or whose passphrase is wrong), then loads every table in one transaction and checks it
    /// before committing: row counts equal the backup's, every authority's ledger balances to
    /// the penny, and on SQLite the integrity and foreign-key checks pass. If anything fails,
    /// nothing is changed. SQLite is written to a new file beside the target and renamed in;
    /// for PostgreSQL, create an empty database first. Stop `clusterwise serve` before
    /// restoring over a database it is using.
    ///
    /// Examples:
    ///   clusterwise restore --db restored.db --from /backups/clusterwise-2026-12-01.cwbackup
    ///   CLUSTERWISE_BACKUP_PASSPHRASE='…' clusterwise restore --db postgres://cw@db/clusterwise_new --from nightly.cwbackup
    #[command(verbatim_doc_comment)]
    Restore {
        /// The database to restore into: an SQLite file or a postgres:// URL (default: the configured database).
        /// It must be empty unless --force is given.
        #[arg(long)]
        db: Option<String>,
        /// The backup file (an encrypted one needs its passphrase in CLUSTERWISE_BACKUP_PASSPHRASE).
        #[arg(long)]
        from: PathBuf,
        /// Replace a database that already holds data (the previous SQLite file is kept beside it,
        /// named ….replaced-<time>).
        #[arg(long)]
        force: bool,
    },
    /// Pupil-data retention.
    Retention {
        #[command(subcommand)]
        command: RetentionCommand,
    },
    /// API tokens for the JSON API (/api/v1): each acts as one user.
    Token {
        #[command(subcommand)]
        command: token::TokenCommand,
    },
    /// Configuration.
    Config {
        /// Print a commented default clusterwise.toml.
        #[arg(long)]
        example: bool,
    },
}

#[derive(Debug, Subcommand)]
enum GovernanceCommand {
    /// Evaluate a meeting record against a constitution; print each item's quorum and outcome as JSON.
    Check {
        #[arg(long)]
        constitution: PathBuf,
        #[arg(long)]
        meeting: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum RetentionCommand {
    /// Delete casework records past their retention date and report what was removed.
    Run {
        #[arg(long)]
        db: Option<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum KindArg {
    Census,
    Gias,
    Clusters,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ExportWhat {
    Schools,
}

fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| format!("{s:?} is not a date like 2023-01-19"))
}

/// What went wrong, for the exit code.
enum Outcome {
    Ok,
    Rejected,
    Infeasible,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CLUSTERWISE_LOG").unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        // Colours only on a terminal: a log file or a journal gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Rejected) => ExitCode::from(3),
        Ok(Outcome::Infeasible) => ExitCode::from(4),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn open(db: &str) -> Result<Service> {
    let store = store::connect(db).await.context("opening the database")?;
    Ok(Service::new(Arc::new(store), Arc::new(SystemClock)))
}

async fn run(cli: Cli) -> Result<Outcome> {
    if let Command::Governance {
        command: GovernanceCommand::Check { constitution, meeting },
    } = &cli.command
    {
        println!("{}", governance::check(constitution, meeting)?);
        return Ok(Outcome::Ok);
    }
    if let Command::Design(args) = &cli.command {
        return Ok(if design::run(args)? {
            Outcome::Ok
        } else {
            Outcome::Infeasible
        });
    }
    if let Command::Allocate(args) = &cli.command {
        allocate::run(args)?;
        return Ok(Outcome::Ok);
    }
    let config = Config::load()?;
    match cli.command {
        Command::Governance { .. } | Command::Allocate(_) | Command::Design(_) => {}
        Command::Retention {
            command: RetentionCommand::Run { db, json },
        } => {
            let service = open(&db.unwrap_or(config.db)).await?;
            retention::run(&service, json).await?;
        }
        Command::Config { example } => {
            if example {
                print!("{}", config::EXAMPLE);
            } else {
                println!("db = {:?}", store::redact(&config.db));
                println!("bind = {:?}", config.bind);
                println!("secure_cookies = {}", config.secure_cookies);
                println!("max_upload_mib = {}", config.max_upload_mib);
                println!("max_in_flight = {}", config.max_in_flight);
                println!("queue_wait_ms = {}", config.queue_wait_ms);
            }
        }
        Command::Token { command } => {
            token::run(command, &config.db).await?;
        }
        Command::Backup {
            db,
            out,
            encrypt,
            hold_before,
        } => {
            backup::backup(backup::BackupArgs {
                db: &db.unwrap_or(config.db),
                out: &out,
                encrypt,
                hold_before: hold_before.as_deref(),
            })
            .await?;
        }
        Command::Restore { db, from, force } => {
            backup::restore(&db.unwrap_or(config.db), &from, force).await?;
        }
        Command::LedgerSoak { db, entries, from } => {
            let service = open(&db).await?;
            ledger_soak::run(&service, entries, from).await?;
        }
        Command::Migrate { db } => {
            let db = db.unwrap_or(config.db);
            open(&db).await?;
            println!("The database {} is up to date.", store::redact(&db));
        }
        Command::Serve { db, bind } => {
            server_memory();
            let db = db.unwrap_or_else(|| config.db.clone());
            let service = open(&db).await?;
            serve(service, bind.as_deref().unwrap_or(&config.bind), &config, None).await?;
        }
        Command::Demo {
            db,
            bind,
            data,
            no_serve,
        } => {
            if !no_serve {
                server_memory();
            }
            let data = match data {
                Some(d) => d,
                None => find_demo_data()?,
            };
            let bytes = std::fs::read(&data).with_context(|| format!("cannot read {}", data.display()))?;
            for suffix in ["", "-wal", "-shm"] {
                let p = PathBuf::from(format!("{}{suffix}", db.display()));
                if p.exists() {
                    std::fs::remove_file(&p).with_context(|| format!("cannot replace {}", p.display()))?;
                }
            }
            let service = open(&db.display().to_string()).await?;
            let summary = service.build_demo(&bytes).await?;
            println!(
                "Clusterwise demo: {} Norfolk schools from the January 2023 school census ({}).",
                summary.schools,
                data.display()
            );
            println!(
                "{} illustrative clusters (each state-funded secondary with its nearest schools; not a proposal).",
                summary.clusters
            );
            println!("Database: {}", db.display());
            println!();
            println!("Demo accounts (password for all: {}):", service::demo::DEMO_PASSWORD);
            for a in &summary.accounts {
                println!("  {:<24} {:<38} {}", a.role.label(), a.email, a.scope);
            }
            if !no_serve {
                let hint = format!(
                    "This is the demo. Sign in as officer@demo.clusterwise.test with the password {} to see everything; the other roles' accounts are printed where you started it.",
                    service::demo::DEMO_PASSWORD
                );
                serve(service, bind.as_deref().unwrap_or(&config.bind), &config, Some(hint)).await?;
            }
        }
        Command::Import {
            kind,
            file,
            db,
            skip_invalid,
            json,
            authority,
            census_date,
            effective,
        } => {
            let service = open(&db.unwrap_or(config.db)).await?;
            let kind = match kind {
                KindArg::Census => ImportKind::Census,
                KindArg::Gias => ImportKind::Gias,
                KindArg::Clusters => ImportKind::Clusters,
            };
            let written = import::run_import(
                &service,
                import::ImportArgs {
                    kind,
                    file: &file,
                    authority: authority.as_deref(),
                    skip_invalid,
                    json,
                    census_date,
                    effective,
                },
            )
            .await?;
            if !written {
                return Ok(Outcome::Rejected);
            }
        }
        Command::Export {
            what,
            db,
            out,
            authority,
        } => {
            let service = open(&db.unwrap_or(config.db)).await?;
            match what {
                ExportWhat::Schools => {
                    import::run_export_schools(&service, authority.as_deref(), out.as_deref()).await?
                }
            }
        }
        Command::CreateUser {
            db,
            authority,
            email,
            name,
            role,
        } => {
            let service = open(&db.unwrap_or(config.db)).await?;
            let la = domain::ids::LaCode::parse(&authority).map_err(|e| anyhow::anyhow!("--authority: {e}"))?;
            let authority = service
                .store()
                .authority_by_code(la)
                .await?
                .with_context(|| format!("no authority with LA code {la}"))?;
            let role = domain::access::UserRole::from_code(&role).with_context(|| {
                format!(
                    "--role must be one of: {}",
                    domain::access::UserRole::ALL.map(|r| r.code()).join(", ")
                )
            })?;
            if role.natural_scope_kind() != domain::access::ScopeKind::Authority {
                bail!("create-user makes authority-wide users; other roles are created in the web interface");
            }
            let password = std::env::var("CLUSTERWISE_NEW_PASSWORD")
                .context("set CLUSTERWISE_NEW_PASSWORD to the new user's password")?;
            let user = service
                .create_user(
                    authority.id,
                    &email,
                    &name,
                    role,
                    domain::access::Scope::Authority,
                    &password,
                )
                .await?;
            println!("Created {} ({}).", user.email, user.role.label());
        }
    }
    Ok(Outcome::Ok)
}

/// The demo data: beside the working directory's repository, or beside this crate at build time.
fn find_demo_data() -> Result<PathBuf> {
    const NAME: &str = "shared/data/real/norfolk_schools_spc_2022_23.csv";
    let candidates = [
        PathBuf::from("..").join(NAME),
        PathBuf::from(NAME),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..").join(NAME),
    ];
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .with_context(|| format!("cannot find the Norfolk census file ({NAME}); pass it with --data FILE"))
}

/// Turns transparent huge pages off for this process before a server starts. mimalloc's arena is
/// eligible for them, and the kernel's khugepaged, once its scan reaches the arena (about ten
/// minutes after start on this machine), backs each partly used 2 MiB range with a whole huge
/// page: resident memory then steps up by 15-30 MiB and never comes down, with no more live data
/// (docs/RELIABILITY.md, Load). Batch commands (import, allocate) keep huge pages: there they
/// save page faults and a run ends long before the scan. If the kernel refuses, the server still
/// runs, and says so.
fn server_memory() {
    #[cfg(target_os = "linux")]
    if let Err(e) = nix::sys::prctl::set_thp_disable(true) {
        eprintln!("warning: could not turn transparent huge pages off ({e}); resident memory may grow");
    }
}

async fn serve(service: Service, bind: &str, config: &Config, sign_in_hint: Option<String>) -> Result<()> {
    let web_config = web::WebConfig {
        secure_cookies: config.secure_cookies,
        max_upload_bytes: config.max_upload_mib.saturating_mul(1024 * 1024),
        sign_in_hint,
        max_in_flight: config.max_in_flight,
        queue_wait: std::time::Duration::from_millis(config.queue_wait_ms),
    };
    let app = web::router(service, web_config);
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("cannot listen on {bind}"))?;
    let addr = listener.local_addr().context("listener address")?;
    println!();
    println!("Serving on http://{addr}  (Ctrl-C to stop)");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("the web server stopped")?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
