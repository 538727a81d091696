//! `clusterwise allocate`: a policy file, a census file and (optionally) cluster memberships and
//! per-school facts in; a statement CSV (`cluster,urn,stream,phase,component,amount_pence`) and a
//! reconciliation report out. The TOML policy format (documented in docs/POLICY.md) is read by
//! `service::policy_file`; the domain never sees TOML. Same inputs, byte-identical
//! output; a bad policy is refused with the field named and nothing is written.

use anyhow::{Context, Result, anyhow, bail};
use domain::NaiveDate;
use domain::cluster::MembershipRole;
use domain::funding::{ClusterInput, Factor, FundingPolicy, SchoolData, allocate_policy};
use domain::ids::Urn;
use rust_decimal::Decimal;
use serde::Serialize;
use service::policy_file::{PolicyFileError, parse_policy};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct AllocateArgs {
    /// The policy file (TOML; see docs/POLICY.md).
    #[arg(long)]
    pub policy: PathBuf,
    /// The schools: a DfE census CSV (the layout of shared/data/real).
    #[arg(long)]
    pub schools: PathBuf,
    /// Cluster memberships `urn,cluster[,role]` (default: every school in one cluster, "all").
    #[arg(long)]
    pub clusters: Option<PathBuf>,
    /// Extra facts per school, by header: urn, inspection_grade, hosts_lsu, low_attainment, sen,
    /// unauthorised_absence, exclusions, boys, strands (separated by `;`).
    #[arg(long)]
    pub facts: Option<PathBuf>,
    /// The statement CSV to write.
    #[arg(long)]
    pub out: PathBuf,
    /// The reconciliation report (JSON) to write.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Print each line's arithmetic on standard output.
    #[arg(long)]
    pub explain: bool,
    /// Print how long reading, allocating and writing took on standard error.
    #[arg(long, hide = true)]
    pub timings: bool,
}

// ---- The policy file -------------------------------------------------------------------------

/// The policy file's text in the domain's types (the reader is `service::policy_file`, shared
/// with the app); a TOML error is reported under the file's name.
fn policy(text: &str, path: &Path) -> Result<FundingPolicy> {
    parse_policy(text).map_err(|e| match e {
        PolicyFileError::Toml(t) => {
            anyhow::Error::new(t).context(format!("{} is not a valid policy file", path.display()))
        }
        PolicyFileError::Invalid(message) => anyhow!(message),
    })
}

fn urn(field: &str, s: &str) -> Result<Urn> {
    Urn::parse(s.trim()).map_err(|e| anyhow!("{field}: {e}"))
}

// ---- Inputs ----------------------------------------------------------------------------------

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

fn schools(path: &Path) -> Result<Vec<SchoolData>> {
    let census_date = crate::import::census_date_from_file_name(path).or(NaiveDate::from_ymd_opt(2023, 1, 19));
    let parsed = domain::import::census::parse(&read(path)?, &domain::import::census::CensusOptions { census_date })
        .map_err(|e| anyhow!("{}: {e}", path.display()))?;
    if let Some(e) = parsed.errors.first() {
        bail!("{}: {} bad row(s); first: {e}", path.display(), parsed.errors.len());
    }
    Ok(parsed
        .rows
        .into_iter()
        .map(|r| {
            let c = r.census.as_ref();
            SchoolData {
                state_funded: r.school.is_state_funded(),
                pupils_fte: c.and_then(|c| c.pupils_fte),
                fsm: c.and_then(|c| c.fsm_count),
                stages: c.map_or([None; 7], |c| c.stages),
                ..SchoolData::new(r.school.urn, r.school.phase, c.map_or(0, |c| c.pupils))
            }
        })
        .collect())
}

fn apply_facts(path: &Path, by_urn: &mut HashMap<Urn, SchoolData>) -> Result<()> {
    let bytes = read(path)?;
    let mut r = csv::Reader::from_reader(bytes.as_slice());
    let headers: Vec<String> = r
        .headers()
        .with_context(|| format!("{}: no header line", path.display()))?
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let urn_col = col("urn").with_context(|| format!("{}: no urn column", path.display()))?;
    for h in &headers {
        let known = ["urn", "inspection_grade", "hosts_lsu", "strands"].contains(&h.as_str())
            || Factor::SUPPLIED.iter().any(|f| f.code() == h);
        if !known {
            bail!(
                "{}: column {h:?} is not one of urn, inspection_grade, hosts_lsu, strands, low_attainment, sen, unauthorised_absence, exclusions, boys",
                path.display()
            );
        }
    }
    for (i, rec) in r.records().enumerate() {
        let line = i + 2;
        let rec = rec.with_context(|| format!("{}: line {line}", path.display()))?;
        let at = |k: &str| format!("{}: line {line}, {k}", path.display());
        let u = urn(&at("urn"), rec.get(urn_col).unwrap_or_default())?;
        let s = by_urn
            .get_mut(&u)
            .with_context(|| format!("{}: school {u} is not in the schools file", at("urn")))?;
        let get = |name: &str| {
            col(name)
                .and_then(|c| rec.get(c))
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        if let Some(g) = get("inspection_grade") {
            s.inspection_grade = Some(
                g.parse::<u8>()
                    .ok()
                    .filter(|g| (1..=7).contains(g))
                    .with_context(|| format!("{}: {g:?} must be 1 to 7", at("inspection_grade")))?,
            );
        }
        if let Some(v) = get("hosts_lsu") {
            s.hosts_lsu = match v.to_ascii_lowercase().as_str() {
                "yes" | "true" | "1" => true,
                "no" | "false" | "0" => false,
                _ => bail!("{}: {v:?} must be yes or no", at("hosts_lsu")),
            };
        }
        if let Some(v) = get("strands") {
            s.strands = Some(
                v.split(';')
                    .map(|x| x.trim().to_string())
                    .filter(|x| !x.is_empty())
                    .collect(),
            );
        }
        for (k, f) in Factor::SUPPLIED.iter().enumerate() {
            if let Some(v) = get(f.code()) {
                let d: Decimal = v
                    .parse()
                    .map_err(|_| anyhow!("{}: {v:?} is not a number", at(f.code())))?;
                if d.is_sign_negative() {
                    bail!("{}: {v:?} is negative", at(f.code()));
                }
                s.factors[k] = Some(d);
            }
        }
    }
    Ok(())
}

fn clusters(args: &AllocateArgs, all: Vec<SchoolData>) -> Result<Vec<ClusterInput>> {
    let mut by_urn: HashMap<Urn, SchoolData> = all.into_iter().map(|s| (s.urn, s)).collect();
    if let Some(path) = &args.facts {
        apply_facts(path, &mut by_urn)?;
    }
    let mut out: BTreeMap<String, Vec<SchoolData>> = BTreeMap::new();
    match &args.clusters {
        Some(path) => {
            let m = domain::import::membership::parse(&read(path)?).map_err(|e| anyhow!("{}: {e}", path.display()))?;
            if let Some(e) = m.errors.first() {
                bail!("{}: {} bad row(s); first: {e}", path.display(), m.errors.len());
            }
            for r in m.rows {
                let mut s = by_urn.get(&r.urn).cloned().with_context(|| {
                    format!(
                        "{}: line {}: school {} is not in {}",
                        path.display(),
                        r.line,
                        r.urn,
                        args.schools.display()
                    )
                })?;
                s.role = r.role;
                out.entry(r.cluster).or_default().push(s);
            }
        }
        None => {
            let mut v: Vec<SchoolData> = by_urn.into_values().collect();
            for s in &mut v {
                s.role = MembershipRole::Feeder;
            }
            out.insert("all".into(), v);
        }
    }
    Ok(out
        .into_iter()
        .map(|(name, mut schools)| {
            schools.sort_by_key(|s| s.urn);
            ClusterInput { name, schools }
        })
        .collect())
}

// ---- Outputs ---------------------------------------------------------------------------------

#[derive(Serialize)]
struct ReportRow<'a> {
    cluster: &'a str,
    stream: &'a str,
    phase: &'a str,
    budget_pence: i64,
    top_slice_pence: i64,
    allocated_pence: i64,
    /// Held centrally beyond the top-slice (no share component, or pence below the unit).
    unallocated_pence: i64,
}

/// Writes `bytes` beside `path` and renames it into place, so a reader never sees half a file.
/// The hidden file beside `path` that is written first and renamed in.
fn temp_path(path: &Path) -> Result<PathBuf> {
    let name = path
        .file_name()
        .with_context(|| format!("{} is not a file name", path.display()))?;
    Ok(path.with_file_name(format!(".{}.{}.partial", name.to_string_lossy(), std::process::id())))
}

fn write_temp(path: &Path, bytes: &[u8]) -> Result<PathBuf> {
    let tmp = temp_path(path)?;
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    Ok(tmp)
}

/// Text is gathered up to this size, then written out, so the statement never sits in memory whole.
const FLUSH_BYTES: usize = 1 << 20;

/// Appends one CSV field: as is when it is plain, otherwise quoted and defused by the register's
/// rule (the same as every other export).
fn csv_field(out: &mut String, value: &str) {
    let plain = !value.starts_with(['=', '+', '-', '@', '\t', '\r']) && !value.contains([',', '"', '\n', '\r']);
    if plain {
        out.push_str(value);
    } else {
        out.push_str(&service::register::csv_field(value));
    }
}

pub fn run(args: &AllocateArgs) -> Result<()> {
    let t0 = Instant::now();
    let text = String::from_utf8(read(&args.policy)?)
        .with_context(|| format!("{} is not UTF-8 text", args.policy.display()))?;
    let policy = policy(&text, &args.policy)?;
    let clusters = clusters(args, schools(&args.schools)?)?;
    let t1 = Instant::now();
    let result = allocate_policy(&policy, &clusters).map_err(|e| anyhow!("{e}"))?;
    let t2 = Instant::now();

    // The statement goes to a hidden file beside the target as it is made; any failure removes it,
    // and only a whole statement (and report) is renamed in.
    let tmp_out = temp_path(&args.out)?;
    let file = std::fs::File::create(&tmp_out).with_context(|| format!("cannot write {}", tmp_out.display()))?;
    let mut sink = std::io::BufWriter::new(file);
    let mut out = String::with_capacity(FLUSH_BYTES + 4096);
    out.push_str("cluster,urn,stream,phase,component,amount_pence\n");
    let mut report = Vec::with_capacity(result.len());
    let mut explain = String::new();
    let written = (|| -> Result<()> {
        for r in &result {
            let cluster = clusters[r.cluster].name.as_str();
            let (stream, phase) = (&*r.ring_fence.stream, &*r.ring_fence.phase);
            let a = &r.allocation;
            if !a.reconciles() {
                bail!("internal error: {cluster} {stream} ({phase}) does not reconcile");
            }
            let allocated = a.allocated().pence();
            report.push(ReportRow {
                cluster,
                stream,
                phase,
                budget_pence: a.budget.pence(),
                top_slice_pence: a.top_slice.pence(),
                allocated_pence: allocated,
                unallocated_pence: a.budget.pence() - a.top_slice.pence() - allocated,
            });
            for l in &a.lines {
                csv_field(&mut out, cluster);
                out.push(',');
                if let Some(u) = l.urn {
                    let _ = write!(out, "{u}");
                }
                out.push(',');
                csv_field(&mut out, stream);
                out.push(',');
                csv_field(&mut out, phase);
                out.push(',');
                csv_field(&mut out, &l.component);
                let _ = writeln!(out, ",{}", l.amount.pence());
                if args.explain {
                    let who = l.urn.map_or_else(|| "central".to_string(), |u| u.to_string());
                    let _ = writeln!(
                        explain,
                        "{cluster} · {stream} ({phase}) · {who} · {}: {}",
                        l.component, l.explanation
                    );
                }
            }
            if args.explain {
                let mut urns: Vec<Urn> = a.lines.iter().filter_map(|l| l.urn).collect();
                urns.sort_unstable();
                urns.dedup();
                for u in urns {
                    let _ = writeln!(
                        explain,
                        "{cluster} · {stream} ({phase}) · {u} · total: {}",
                        a.school_summary(u)
                    );
                }
            }
            if out.len() >= FLUSH_BYTES {
                sink.write_all(out.as_bytes())
                    .with_context(|| format!("cannot write {}", tmp_out.display()))?;
                out.clear();
            }
        }
        sink.write_all(out.as_bytes())
            .and_then(|()| sink.flush())
            .with_context(|| format!("cannot write {}", tmp_out.display()))
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp_out);
        return Err(e);
    }
    drop(sink);
    let report_json = serde_json::to_string_pretty(&report)? + "\n";
    // Both files go in by rename, and only once both are whole.
    let tmp_report = match &args.report {
        Some(path) => match write_temp(path, report_json.as_bytes()) {
            Ok(t) => Some((t, path)),
            Err(e) => {
                let _ = std::fs::remove_file(&tmp_out);
                return Err(e);
            }
        },
        None => None,
    };
    std::fs::rename(&tmp_out, &args.out).with_context(|| format!("cannot write {}", args.out.display()))?;
    if let Some((tmp, path)) = tmp_report {
        std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if args.explain {
        print!("{explain}");
    }
    if args.timings {
        let t3 = Instant::now();
        let lines: usize = result.iter().map(|r| r.allocation.lines.len()).sum();
        eprintln!(
            "read {:.1} ms, allocate {:.1} ms ({} clusters, {} pots, {lines} lines), write {:.1} ms",
            (t1 - t0).as_secs_f64() * 1e3,
            (t2 - t1).as_secs_f64() * 1e3,
            clusters.len(),
            result.len(),
            (t3 - t2).as_secs_f64() * 1e3
        );
    }
    Ok(())
}
