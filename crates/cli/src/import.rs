//! `clusterwise import` and `clusterwise export`: files in, report out.

use anyhow::{Context, Result, bail};
use domain::NaiveDate;
use domain::ids::LaCode;
use serde::Serialize;
use service::Service;
use service::import::{ImportKind, ImportOptions, ImportReport, ImportTarget};
use std::path::Path;

/// The `--json` summary.
#[derive(Debug, Serialize)]
struct JsonReport<'a> {
    kind: &'a str,
    rows_read: u64,
    inserted: u64,
    updated: u64,
    census_rows: u64,
    clusters_created: u64,
    skipped: u64,
    written: bool,
    rejected: Vec<JsonRowError<'a>>,
}

#[derive(Debug, Serialize)]
struct JsonRowError<'a> {
    line: u64,
    column: &'a str,
    value: &'a str,
    rule: &'a str,
}

/// The census date a DfE file name implies: `…2022_23…` or `…202223…` is the spring census of
/// 2023, taken on the third Thursday of January.
pub fn census_date_from_file_name(path: &Path) -> Option<NaiveDate> {
    let name = path.file_stem()?.to_str()?;
    let b = name.as_bytes();
    for i in 0..b.len() {
        let digits = |from: usize, n: usize| b.get(from..from + n).filter(|s| s.iter().all(u8::is_ascii_digit));
        let Some(first) = digits(i, 4) else { continue };
        let first_year: i32 = std::str::from_utf8(first).ok()?.parse().ok()?;
        let (sep, next) = match b.get(i + 4) {
            Some(b'_' | b'-') => (1, digits(i + 5, 2)),
            _ => (0, digits(i + 4, 2)),
        };
        let Some(next) = next else { continue };
        let next: i32 = std::str::from_utf8(next).ok()?.parse().ok()?;
        let before = i.checked_sub(1).and_then(|j| b.get(j)).is_some_and(u8::is_ascii_digit);
        let after = b.get(i + 4 + sep + 2).is_some_and(u8::is_ascii_digit);
        if !before && !after && (2000..2100).contains(&first_year) && (first_year + 1) % 100 == next {
            return third_thursday_of_january(first_year + 1);
        }
    }
    None
}

fn third_thursday_of_january(year: i32) -> Option<NaiveDate> {
    NaiveDate::from_weekday_of_month_opt(year, 1, chrono_weekday_thursday(), 3)
}

fn chrono_weekday_thursday() -> domain::Weekday {
    domain::Weekday::Thu
}

pub struct ImportArgs<'a> {
    pub kind: ImportKind,
    pub file: &'a Path,
    pub authority: Option<&'a str>,
    pub skip_invalid: bool,
    pub json: bool,
    pub census_date: Option<NaiveDate>,
    pub effective: Option<NaiveDate>,
}

/// Runs an import. Returns whether it was clean (nothing rejected, or rejected rows skipped).
pub async fn run_import(service: &Service, args: ImportArgs<'_>) -> Result<bool> {
    let bytes = std::fs::read(args.file).with_context(|| format!("cannot read {}", args.file.display()))?;
    let target = match args.authority {
        None => ImportTarget::ByLaCode,
        Some(code) => {
            let la = LaCode::parse(code).map_err(|e| anyhow::anyhow!("--authority: {e}"))?;
            match service.store().authority_by_code(la).await? {
                Some(a) => ImportTarget::Authority(a.id),
                None if args.kind != ImportKind::Clusters => {
                    ImportTarget::Authority(service.store().create_authority(la, &format!("LA {la}")).await?.id)
                }
                None => bail!("no authority with LA code {la} is on the register: import its schools first"),
            }
        }
    };
    let census_date = args.census_date.or_else(|| match args.kind {
        ImportKind::Census => census_date_from_file_name(args.file),
        _ => None,
    });
    let options = ImportOptions {
        skip_invalid: args.skip_invalid,
        census_date,
        effective: args.effective,
        illustrative: false,
    };
    let report = service
        .import(target, args.kind, &bytes, &options)
        .await
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.file.display()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&json(&report))?);
    } else {
        print_human(&report, args.file);
    }
    Ok(report.written)
}

fn json(r: &ImportReport) -> JsonReport<'_> {
    JsonReport {
        kind: r.kind.code(),
        rows_read: r.rows_read,
        inserted: r.counts.inserted,
        updated: r.counts.updated,
        census_rows: r.counts.census_rows,
        clusters_created: r.counts.clusters_created,
        skipped: r.skipped,
        written: r.written,
        rejected: r
            .rejected
            .iter()
            .map(|e| JsonRowError {
                line: e.line,
                column: &e.column,
                value: &e.value,
                rule: &e.rule,
            })
            .collect(),
    }
}

fn print_human(r: &ImportReport, file: &Path) {
    for e in &r.rejected {
        eprintln!("{}: {e}", file.display());
    }
    if r.written {
        println!(
            "Imported {} ({}): {} rows read, {} new, {} updated, {} census returns, {} clusters created, {} rows rejected and left out, {} not schools a cluster holds (skipped).",
            file.display(),
            r.kind.label(),
            r.rows_read,
            r.counts.inserted,
            r.counts.updated,
            r.counts.census_rows,
            r.counts.clusters_created,
            r.rejected.len(),
            r.skipped
        );
    } else {
        eprintln!(
            "Nothing was written: {} of {} rows were rejected. Fix them, or pass --skip-invalid to import the other rows.",
            r.rejected.len(),
            r.rows_read
        );
    }
}

/// `clusterwise export schools`.
pub async fn run_export_schools(service: &Service, authority: Option<&str>, out: Option<&Path>) -> Result<()> {
    let authorities = service.store().list_authorities().await?;
    let chosen = match authority {
        Some(code) => {
            let la = LaCode::parse(code).map_err(|e| anyhow::anyhow!("--authority: {e}"))?;
            authorities
                .into_iter()
                .find(|a| a.la_code == la)
                .with_context(|| format!("no authority with LA code {la} is on the register"))?
        }
        None => match authorities.len() {
            0 => {
                // An empty register exports just the header.
                let bytes = b"urn,laestab,name,phase,pupils,fsm_pct,easting,northing,district,cluster\n".to_vec();
                return write_out(out, &bytes);
            }
            1 => authorities.into_iter().next().context("no authority")?,
            _ => bail!(
                "the register holds {} authorities: choose one with --authority (LA codes: {})",
                authorities.len(),
                authorities
                    .iter()
                    .map(|a| a.la_code.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
    };
    let bytes = service.export_schools_csv(chosen.id).await?;
    write_out(out, &bytes)
}

fn write_out(out: Option<&Path>, bytes: &[u8]) -> Result<()> {
    match out {
        Some(path) => {
            // Write beside the target and rename, so a failed export never leaves half a file.
            let tmp = path.with_extension("csv.partial");
            std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
            std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
            Ok(())
        }
        None => {
            use std::io::Write;
            std::io::stdout()
                .write_all(bytes)
                .context("cannot write to standard output")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn census_dates_come_from_dfe_file_names() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
        assert_eq!(
            census_date_from_file_name(Path::new("norfolk_schools_spc_2022_23.csv")),
            d("2023-01-19")
        );
        assert_eq!(
            census_date_from_file_name(Path::new("spc_school_level_202324.csv")),
            d("2024-01-18")
        );
        assert_eq!(census_date_from_file_name(Path::new("schools.csv")), None);
        assert_eq!(census_date_from_file_name(Path::new("x_2022_24.csv")), None);
    }
}
