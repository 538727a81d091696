//! `clusterwise backup` and `clusterwise restore`: the backup file format (see docs/RELIABILITY.md).
//!
//! ```text
//! CLUSTERWISE-BACKUP\n
//! {"format":1,"backend":"sqlite","schema_version":9,"created_at":"…","tables":{"authorities":1,…},
//!  "payload_bytes":N,"payload_sha256":"…","encryption":null}\n
//! <N bytes of payload>
//! ```
//!
//! The payload is JSON: every table's columns (name and kind) and rows, with a row count per table
//! (the manifest a restore is checked against; the header repeats it, so `head -2` shows what a
//! backup holds without the passphrase, and a restore refuses a header and contents that
//! disagree). With `--encrypt` the payload is sealed with
//! XChaCha20-Poly1305 under a key derived by Argon2id from `CLUSTERWISE_BACKUP_PASSPHRASE`, the
//! header's fields as associated data, so neither the rows nor the header can be changed unseen.
//! The SHA-256 in the header is of the payload as stored, so a cut-short or altered file is
//! refused before any passphrase is tried or anything is written.

use anyhow::{Context, Result, anyhow, bail};
use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use store::Dialect;
use store::backup::{Column, ColumnKind, Snapshot, TableRows, Value};

const MAGIC: &[u8] = b"CLUSTERWISE-BACKUP\n";
/// The format this build writes and reads.
pub const FORMAT: u32 = 1;
/// The environment variable the passphrase is read from (never a flag: flags show in `ps`).
pub const PASSPHRASE_VAR: &str = "CLUSTERWISE_BACKUP_PASSPHRASE";
const MIN_PASSPHRASE_CHARS: usize = 12;
const CIPHER: &str = "XChaCha20-Poly1305";
const KDF: &str = "Argon2id";
/// Argon2id at OWASP's recommended minimum (19 MiB, 2 passes): about a tenth of a second.
const MEMORY_KIB: u32 = 19_456;
const ITERATIONS: u32 = 2;
const PARALLELISM: u32 = 1;
const MAX_HEADER_BYTES: usize = 64 * 1024;
/// The most a backup's header may ask Argon2id for (1 GiB, 64 passes, 16 lanes): a damaged or
/// hostile header cannot make a restore exhaust the machine.
const MAX_MEMORY_KIB: u32 = 1 << 20;
const MAX_ITERATIONS: u32 = 64;
const MAX_PARALLELISM: u32 = 16;

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    format: u32,
    backend: String,
    schema_version: i64,
    created_at: String,
    /// Rows per table: the manifest (the payload's counts must agree).
    tables: BTreeMap<String, u64>,
    payload_bytes: u64,
    payload_sha256: String,
    encryption: Option<Encryption>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Encryption {
    cipher: String,
    kdf: String,
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
    salt: String,
    nonce: String,
}

impl Header {
    /// What the cipher authenticates besides the payload.
    fn associated_data(&self) -> Vec<u8> {
        let tables: Vec<String> = self.tables.iter().map(|(t, n)| format!("{t}={n}")).collect();
        format!(
            "clusterwise-backup|{}|{}|{}|{}|{}",
            self.format,
            self.backend,
            self.schema_version,
            self.created_at,
            tables.join(",")
        )
        .into_bytes()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str, what: &str) -> Result<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        bail!("the backup header's {what} is not hexadecimal");
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            s.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .with_context(|| format!("the backup header's {what} is not hexadecimal"))
        })
        .collect()
}

pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn passphrase() -> Result<Option<String>> {
    match std::env::var(PASSPHRASE_VAR) {
        Ok(p) if p.is_empty() => Ok(None),
        Ok(p) => Ok(Some(p)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => bail!("{PASSPHRASE_VAR} is not valid UTF-8"),
    }
}

fn derive_key(passphrase: &str, salt: &[u8], e: &Encryption) -> Result<[u8; 32]> {
    if e.memory_kib > MAX_MEMORY_KIB || e.iterations > MAX_ITERATIONS || e.parallelism > MAX_PARALLELISM {
        bail!(
            "the backup asks for Argon2id with {} KiB, {} passes and {} lanes, beyond what this Clusterwise allows ({MAX_MEMORY_KIB} KiB, {MAX_ITERATIONS}, {MAX_PARALLELISM}); the header is damaged",
            e.memory_kib,
            e.iterations,
            e.parallelism
        );
    }
    let params = Params::new(e.memory_kib, e.iterations, e.parallelism, Some(32))
        .map_err(|err| anyhow!("the backup's key-derivation settings are not valid: {err}"))?;
    let mut key = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase.as_bytes(), salt, &mut key)
        .map_err(|err| anyhow!("cannot derive the backup key: {err}"))?;
    Ok(key)
}

// ---- payload ----

fn encode_payload(s: &Snapshot) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(1 << 20);
    write!(
        out,
        "{{\"backend\":\"{}\",\"schema_version\":{},\"tables\":[",
        s.backend.code(),
        s.schema_version
    )?;
    for (ti, t) in s.tables.iter().enumerate() {
        if ti > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"\n{\"name\":");
        serde_json::to_writer(&mut out, &t.name)?;
        write!(out, ",\"count\":{},\"columns\":[", t.rows.len())?;
        for (ci, c) in t.columns.iter().enumerate() {
            if ci > 0 {
                out.push(b',');
            }
            out.push(b'[');
            serde_json::to_writer(&mut out, &c.name)?;
            write!(out, ",\"{}\"]", c.kind.code())?;
        }
        out.extend_from_slice(b"],\"rows\":[");
        for (ri, row) in t.rows.iter().enumerate() {
            if ri > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"\n[");
            for (vi, v) in row.iter().enumerate() {
                if vi > 0 {
                    out.push(b',');
                }
                match v {
                    Value::Null => out.extend_from_slice(b"null"),
                    Value::Int(i) => write!(out, "{i}")?,
                    Value::Text(text) => serde_json::to_writer(&mut out, text)?,
                }
            }
            out.push(b']');
        }
        out.extend_from_slice(b"]}");
    }
    out.extend_from_slice(b"\n]}\n");
    Ok(out)
}

#[derive(Deserialize)]
struct PayloadDe {
    backend: String,
    schema_version: i64,
    tables: Vec<TableDe>,
}

#[derive(Deserialize)]
struct TableDe {
    name: String,
    count: u64,
    columns: Vec<(String, String)>,
    rows: Vec<Vec<serde_json::Value>>,
}

fn decode_payload(bytes: &[u8]) -> Result<Snapshot> {
    let p: PayloadDe = serde_json::from_slice(bytes).context("the backup's contents cannot be read")?;
    let backend = Dialect::from_code(&p.backend).with_context(|| format!("unknown backend {:?}", p.backend))?;
    let mut tables = Vec::with_capacity(p.tables.len());
    for t in p.tables {
        let columns = t
            .columns
            .into_iter()
            .map(|(name, kind)| {
                let kind = ColumnKind::from_code(&kind)
                    .with_context(|| format!("table {}: column {name} has an unknown kind {kind:?}", t.name))?;
                Ok(Column { name, kind })
            })
            .collect::<Result<Vec<_>>>()?;
        if t.rows.len() as u64 != t.count {
            bail!(
                "the backup's table {} holds {} rows but its manifest says {}",
                t.name,
                t.rows.len(),
                t.count
            );
        }
        let mut rows = Vec::with_capacity(t.rows.len());
        for (ri, row) in t.rows.into_iter().enumerate() {
            if row.len() != columns.len() {
                bail!(
                    "table {} row {}: {} values for {} columns",
                    t.name,
                    ri + 1,
                    row.len(),
                    columns.len()
                );
            }
            let mut out = Vec::with_capacity(row.len());
            for (v, c) in row.into_iter().zip(&columns) {
                out.push(match (v, c.kind) {
                    (serde_json::Value::Null, _) => Value::Null,
                    (serde_json::Value::Number(n), ColumnKind::Int) => Value::Int(n.as_i64().with_context(|| {
                        format!(
                            "table {} row {} column {}: {n} is not a whole number",
                            t.name,
                            ri + 1,
                            c.name
                        )
                    })?),
                    (serde_json::Value::String(s), ColumnKind::Text) => Value::Text(s),
                    (v, k) => bail!(
                        "table {} row {} column {}: {v} is not {}",
                        t.name,
                        ri + 1,
                        c.name,
                        k.code()
                    ),
                });
            }
            rows.push(out);
        }
        tables.push(TableRows {
            name: t.name,
            columns,
            rows,
        });
    }
    Ok(Snapshot {
        backend,
        schema_version: p.schema_version,
        tables,
    })
}

// ---- backup ----

/// How `backup` was asked to run.
#[derive(Debug)]
pub struct BackupArgs<'a> {
    pub db: &'a str,
    pub out: &'a Path,
    pub encrypt: bool,
    /// Test hook (hidden flag): before reading this table, print `hold …` and wait for a line
    /// on standard input, keeping the snapshot open.
    pub hold_before: Option<&'a str>,
}

fn now_rfc3339() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    chrono::DateTime::<chrono::Utc>::from_timestamp(i64::try_from(now.as_secs()).unwrap_or(0), 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

pub async fn backup(args: BackupArgs<'_>) -> Result<()> {
    let passphrase = if args.encrypt {
        let p = passphrase()?
            .with_context(|| format!("--encrypt needs the passphrase in the environment variable {PASSPHRASE_VAR}"))?;
        if p.chars().count() < MIN_PASSPHRASE_CHARS {
            bail!("the passphrase in {PASSPHRASE_VAR} is too short: use at least {MIN_PASSPHRASE_CHARS} characters");
        }
        Some(p)
    } else {
        None
    };
    if args.out.exists() {
        bail!(
            "{} already exists; choose a new file name (a backup never overwrites one)",
            args.out.display()
        );
    }
    let started = std::time::Instant::now();
    let hold = args.hold_before;
    let mut hook = move |table: &str, done: &[TableRows]| {
        if hold == Some(table) {
            let counts: Vec<String> = done.iter().map(|t| format!("{}={}", t.name, t.rows.len())).collect();
            println!("hold {table} {}", counts.join(" "));
            let _ = std::io::stdout().flush();
            let mut line = String::new();
            let _ = std::io::stdin().lock().read_line(&mut line);
        }
    };
    let snapshot = store::backup::snapshot(args.db, &mut hook)
        .await
        .with_context(|| format!("cannot back up {}", store::redact(args.db)))?;
    let plain = encode_payload(&snapshot)?;
    let mut header = Header {
        format: FORMAT,
        backend: snapshot.backend.code().into(),
        schema_version: snapshot.schema_version,
        created_at: now_rfc3339(),
        tables: snapshot
            .tables
            .iter()
            .map(|t| (t.name.clone(), t.rows.len() as u64))
            .collect(),
        payload_bytes: 0,
        payload_sha256: String::new(),
        encryption: None,
    };
    let payload = match &passphrase {
        None => plain,
        Some(p) => {
            let mut salt = [0u8; 16];
            let mut nonce = [0u8; 24];
            rand::rngs::OsRng.fill_bytes(&mut salt);
            rand::rngs::OsRng.fill_bytes(&mut nonce);
            let e = Encryption {
                cipher: CIPHER.into(),
                kdf: KDF.into(),
                memory_kib: MEMORY_KIB,
                iterations: ITERATIONS,
                parallelism: PARALLELISM,
                salt: hex(&salt),
                nonce: hex(&nonce),
            };
            let key = derive_key(p, &salt, &e)?;
            let cipher = XChaCha20Poly1305::new((&key).into());
            let aad = header.associated_data();
            let sealed = cipher
                .encrypt(XNonce::from_slice(&nonce), Payload { msg: &plain, aad: &aad })
                .map_err(|_| anyhow!("cannot encrypt the backup"))?;
            header.encryption = Some(e);
            sealed
        }
    };
    header.payload_bytes = payload.len() as u64;
    header.payload_sha256 = hex(&Sha256::digest(&payload));
    write_atomically(args.out, &header, &payload)?;
    let ledger_entries = snapshot.table("ledger_entries").map_or(0, |t| t.rows.len() as u64);
    let authorities = snapshot.table("authorities").map_or(0, |t| t.rows.len() as u64);
    println!(
        "Backed up {} ({}, schema version {}) to {}: {} rows in {} tables, {} authorit{}, {} ledger entries; {} bytes{}, in {:.1} s.",
        store::redact(args.db),
        snapshot.backend.code(),
        snapshot.schema_version,
        args.out.display(),
        thousands(snapshot.rows()),
        snapshot.tables.len(),
        thousands(authorities),
        if authorities == 1 { "y" } else { "ies" },
        thousands(ledger_entries),
        thousands(header.payload_bytes),
        if passphrase.is_some() {
            ", encrypted (XChaCha20-Poly1305, key from Argon2id)"
        } else {
            ", not encrypted"
        },
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Writes beside the target, flushes to disk, then renames: a backup file is whole or absent.
fn write_atomically(out: &Path, header: &Header, payload: &[u8]) -> Result<()> {
    let name = out
        .file_name()
        .with_context(|| format!("{} is not a file name", out.display()))?
        .to_string_lossy()
        .into_owned();
    let partial: PathBuf = out.with_file_name(format!(".{name}.partial-{}", std::process::id()));
    let result = (|| -> Result<()> {
        let mut f = std::fs::File::create(&partial).with_context(|| format!("cannot create {}", partial.display()))?;
        f.write_all(MAGIC)?;
        serde_json::to_writer(&mut f, header)?;
        f.write_all(b"\n")?;
        f.write_all(payload)?;
        f.sync_all()?;
        std::fs::rename(&partial, out).with_context(|| format!("cannot write {}", out.display()))?;
        if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty())
            && let Ok(d) = std::fs::File::open(dir)
        {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result.with_context(|| format!("cannot write the backup {}", out.display()))
}

// ---- restore ----

/// Reads and checks a backup file: header, length, checksum, decryption, contents.
pub fn read_backup(from: &Path) -> Result<(String, Snapshot)> {
    let bytes = std::fs::read(from).with_context(|| format!("cannot read {}", from.display()))?;
    let name = from.display();
    let rest = bytes.strip_prefix(MAGIC).with_context(|| {
        format!("{name} is not a Clusterwise backup (it does not start with the line CLUSTERWISE-BACKUP)")
    })?;
    let end = rest
        .iter()
        .take(MAX_HEADER_BYTES)
        .position(|b| *b == b'\n')
        .with_context(|| format!("{name} is damaged: its header line is cut short or too long"))?;
    let (header_bytes, payload) = (&rest[..end], &rest[end + 1..]);
    let raw: serde_json::Value = serde_json::from_slice(header_bytes)
        .with_context(|| format!("{name} is damaged: its header is not readable"))?;
    match raw.get("format").and_then(serde_json::Value::as_u64) {
        Some(f) if f == u64::from(FORMAT) => {}
        Some(f) => bail!(
            "{name} is a backup in format {f}; this Clusterwise reads format {FORMAT} (restore it with the version that wrote it)"
        ),
        None => bail!("{name} is damaged: its header has no format version"),
    }
    let header: Header =
        serde_json::from_value(raw).with_context(|| format!("{name} is damaged: its header is not complete"))?;
    let have = payload.len() as u64;
    if have < header.payload_bytes {
        bail!(
            "{name} is truncated: its header promises {} bytes of data but the file holds {} (was the copy cut short?)",
            thousands(header.payload_bytes),
            thousands(have)
        );
    }
    if have > header.payload_bytes {
        bail!(
            "{name} is damaged: it holds {} bytes after the header where {} were expected",
            thousands(have),
            thousands(header.payload_bytes)
        );
    }
    let digest = hex(&Sha256::digest(payload));
    if digest != header.payload_sha256 {
        bail!(
            "{name} is damaged or was altered: its contents' SHA-256 is {digest}, the header says {}",
            header.payload_sha256
        );
    }
    let plain = match &header.encryption {
        None => payload.to_vec(),
        Some(e) => {
            if e.cipher != CIPHER || e.kdf != KDF {
                bail!(
                    "{name} is encrypted with {} / {}, which this Clusterwise does not know",
                    e.cipher,
                    e.kdf
                );
            }
            let p = passphrase()?.with_context(|| {
                format!("{name} is encrypted: set its passphrase in the environment variable {PASSPHRASE_VAR}")
            })?;
            let salt = unhex(&e.salt, "salt")?;
            let nonce = unhex(&e.nonce, "nonce")?;
            if nonce.len() != 24 {
                bail!("{name} is damaged: its nonce is not 24 bytes");
            }
            let key = derive_key(&p, &salt, e)?;
            let aad = header.associated_data();
            XChaCha20Poly1305::new((&key).into())
                .decrypt(XNonce::from_slice(&nonce), Payload { msg: payload, aad: &aad })
                .map_err(|_| {
                    anyhow!(
                        "cannot decrypt {name}: the passphrase in {PASSPHRASE_VAR} is wrong, or the file's header was changed (its contents' checksum is intact)"
                    )
                })?
        }
    };
    let snapshot = decode_payload(&plain).with_context(|| format!("{name} cannot be restored"))?;
    if snapshot.backend.code() != header.backend || snapshot.schema_version != header.schema_version {
        bail!("{name} is damaged: its header and contents disagree about where it came from");
    }
    let counts: BTreeMap<String, u64> = snapshot
        .tables
        .iter()
        .map(|t| (t.name.clone(), t.rows.len() as u64))
        .collect();
    if counts != header.tables || counts.len() != snapshot.tables.len() {
        let differ = header
            .tables
            .keys()
            .chain(counts.keys())
            .find(|t| header.tables.get(*t) != counts.get(*t))
            .map_or_else(|| "a table listed twice".to_string(), |t| format!("the table {t}"));
        bail!("{name} is damaged: its header and contents disagree about {differ}");
    }
    Ok((header.created_at, snapshot))
}

pub async fn restore(db: &str, from: &Path, force: bool) -> Result<()> {
    let started = std::time::Instant::now();
    let (created_at, snapshot) = read_backup(from)?;
    let restored = store::backup::restore(db, &snapshot, force)
        .await
        .with_context(|| format!("nothing was restored into {}", store::redact(db)))?;
    if restored.replaced != store::backup::Occupant::Empty {
        println!(
            "Replaced {} in {}{}.",
            restored.replaced.describe(),
            store::redact(db),
            restored
                .kept_as
                .as_ref()
                .map(|k| format!(" (the previous file is kept as {})", k.display()))
                .unwrap_or_default()
        );
    }
    let entries: u64 = restored.ledgers.iter().map(|(_, a)| a.entries).sum();
    println!(
        "Restored {} (taken {created_at} from {}, schema version {}) into {}: {} rows in {} tables, in {:.1} s.",
        from.display(),
        snapshot.backend.code(),
        snapshot.schema_version,
        store::redact(db),
        thousands(restored.rows),
        restored.tables,
        started.elapsed().as_secs_f64()
    );
    println!(
        "Checked: row counts match the backup's manifest; {}; ledger whole for {} authorit{} ({} entries balanced with all their lines, kept balances equal the journal).",
        restored
            .integrity
            .as_deref()
            .map_or("PostgreSQL committed it in one transaction".to_string(), |i| format!(
                "integrity check {i}"
            )),
        restored.ledgers.len(),
        if restored.ledgers.len() == 1 { "y" } else { "ies" },
        thousands(entries)
    );
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trips() {
        let s = Snapshot {
            backend: Dialect::Sqlite,
            schema_version: 9,
            tables: vec![TableRows {
                name: "t".into(),
                columns: vec![
                    Column {
                        name: "id".into(),
                        kind: ColumnKind::Int,
                    },
                    Column {
                        name: "memo".into(),
                        kind: ColumnKind::Text,
                    },
                ],
                rows: vec![
                    vec![Value::Int(i64::MIN), Value::Text("quote \" newline \n £ ✓".into())],
                    vec![Value::Int(i64::MAX), Value::Null],
                ],
            }],
        };
        assert_eq!(decode_payload(&encode_payload(&s).unwrap()).unwrap(), s);
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(37_431_000), "37,431,000");
    }
}
