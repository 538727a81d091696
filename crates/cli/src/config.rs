//! Configuration, read only here: defaults, then `clusterwise.toml`, then `CLUSTERWISE_*`
//! environment variables, then command-line flags. Secrets are never printed.

use anyhow::{Context, Result};
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Database: a file path or `sqlite://…` (embedded default) or `postgres://…`.
    pub db: String,
    /// Address the web server listens on.
    pub bind: String,
    /// Mark the session cookie `Secure` (keep on unless serving plain HTTP beyond localhost).
    pub secure_cookies: bool,
    /// Largest upload accepted, in MiB.
    pub max_upload_mib: usize,
    /// Requests handled at once before others wait (then 503 with Retry-After).
    pub max_in_flight: usize,
    /// Longest a request waits for a place, in milliseconds.
    pub queue_wait_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            db: "clusterwise.db".into(),
            bind: "127.0.0.1:8080".into(),
            secure_cookies: true,
            max_upload_mib: 20,
            max_in_flight: web::DEFAULT_MAX_IN_FLIGHT,
            queue_wait_ms: web::DEFAULT_QUEUE_WAIT_MS,
        }
    }
}

pub const EXAMPLE: &str = r#"# clusterwise.toml — every setting with its default.
# Environment variables override this file: CLUSTERWISE_DB, CLUSTERWISE_BIND,
# CLUSTERWISE_SECURE_COOKIES, CLUSTERWISE_MAX_UPLOAD_MIB, CLUSTERWISE_MAX_IN_FLIGHT,
# CLUSTERWISE_QUEUE_WAIT_MS. Command-line flags override both.

# The database: a file path or sqlite://path for the embedded SQLite database (created and
# migrated on first run), or postgres://user:password@host/dbname for PostgreSQL.
db = "clusterwise.db"

# Where the web server listens. Keep it on 127.0.0.1 behind a TLS-terminating proxy.
bind = "127.0.0.1:8080"

# Mark the session cookie Secure. Browsers accept Secure cookies from http://127.0.0.1 and
# http://localhost, so this stays on for local use too.
secure_cookies = true

# Largest file an import page accepts, in MiB (larger uploads get 413).
max_upload_mib = 20

# Load shedding: at most this many requests are handled at once; a request that finds them all
# busy waits up to queue_wait_ms for a place (at most 4 x max_in_flight wait) and is otherwise
# answered 503 with Retry-After. /health is never refused. (docs/RELIABILITY.md, "Load".)
max_in_flight = 32
queue_wait_ms = 100
"#;

impl Config {
    /// Defaults, then `clusterwise.toml` in the working directory if present, then the environment.
    pub fn load() -> Result<Config> {
        Self::load_from(Path::new("clusterwise.toml"), |k| std::env::var(k).ok())
    }

    pub fn load_from(file: &Path, env: impl Fn(&str) -> Option<String>) -> Result<Config> {
        let mut config = if file.exists() {
            let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
            toml::from_str(&text).with_context(|| format!("{} is not a valid configuration", file.display()))?
        } else {
            Config::default()
        };
        if let Some(v) = env("CLUSTERWISE_DB") {
            config.db = v;
        }
        if let Some(v) = env("CLUSTERWISE_BIND") {
            config.bind = v;
        }
        if let Some(v) = env("CLUSTERWISE_SECURE_COOKIES") {
            config.secure_cookies = parse_bool(&v).context("CLUSTERWISE_SECURE_COOKIES must be true or false")?;
        }
        if let Some(v) = env("CLUSTERWISE_MAX_UPLOAD_MIB") {
            config.max_upload_mib = v.parse().context("CLUSTERWISE_MAX_UPLOAD_MIB must be a whole number")?;
        }
        if let Some(v) = env("CLUSTERWISE_MAX_IN_FLIGHT") {
            config.max_in_flight = v.parse().context("CLUSTERWISE_MAX_IN_FLIGHT must be a whole number")?;
        }
        if let Some(v) = env("CLUSTERWISE_QUEUE_WAIT_MS") {
            config.queue_wait_ms = v.parse().context("CLUSTERWISE_QUEUE_WAIT_MS must be a whole number")?;
        }
        if config.max_in_flight == 0 {
            anyhow::bail!("max_in_flight must be at least 1 (it is the number of requests handled at once)");
        }
        Ok(config)
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_example_is_the_default() {
        let parsed: Config = toml::from_str(EXAMPLE).unwrap();
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn environment_overrides_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("clusterwise.toml");
        std::fs::write(&file, "db = \"from-file.db\"\nbind = \"127.0.0.1:9000\"\n").unwrap();
        let c = Config::load_from(&file, |k| (k == "CLUSTERWISE_DB").then(|| "from-env.db".to_string())).unwrap();
        assert_eq!(c.db, "from-env.db");
        assert_eq!(c.bind, "127.0.0.1:9000");
        std::fs::write(&file, "colour = \"blue\"\n").unwrap();
        assert!(Config::load_from(&file, |_| None).is_err());
    }
}
