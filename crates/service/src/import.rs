//! Imports: parse with the domain, then save all-or-nothing. One bad row means nothing is
//! written unless the caller asked to skip invalid rows; the report lists every bad row.

use crate::store::WriteCounts;
use crate::{Service, ServiceError, ServiceResult};
use domain::NaiveDate;
use domain::ids::{AuthorityId, LaCode};
use domain::import::census::CensusOptions;
use domain::import::{FileError, RowError, SchoolRecord, census, gias, membership};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportKind {
    Census,
    Gias,
    Clusters,
}

impl ImportKind {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "census" => Some(ImportKind::Census),
            "gias" => Some(ImportKind::Gias),
            "clusters" => Some(ImportKind::Clusters),
            _ => None,
        }
    }
    pub fn code(self) -> &'static str {
        match self {
            ImportKind::Census => "census",
            ImportKind::Gias => "gias",
            ImportKind::Clusters => "clusters",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            ImportKind::Census => "School census (DfE school-level CSV)",
            ImportKind::Gias => "GIAS establishments (edubasealldata CSV)",
            ImportKind::Clusters => "Cluster memberships (urn,cluster[,role])",
        }
    }
}

/// Whose register the rows go into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportTarget {
    /// One authority: rows for any other LA are rejected (the web import).
    Authority(AuthorityId),
    /// Each row to the authority of its own LA code, created when new (the command line).
    ByLaCode,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOptions {
    pub skip_invalid: bool,
    pub census_date: Option<NaiveDate>,
    /// For membership files: the day the memberships start (default today).
    pub effective: Option<NaiveDate>,
    /// For membership files: mark the clusters as an illustrative map.
    pub illustrative: bool,
}

/// What an import did: counts and every rejected row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    pub kind: ImportKind,
    pub rows_read: u64,
    pub counts: WriteCounts,
    pub rejected: Vec<RowError>,
    /// Rows left out by design (not schools a cluster holds; closed and never on the register).
    pub skipped: u64,
    /// False when rows were rejected and nothing was written.
    pub written: bool,
}

impl Service {
    /// Parses and saves a file. A file-level problem (empty, binary, wrong encoding, missing
    /// columns) is `Invalid` with the reason; row problems are in the report.
    pub async fn import(
        &self,
        target: ImportTarget,
        kind: ImportKind,
        bytes: &[u8],
        options: &ImportOptions,
    ) -> ServiceResult<ImportReport> {
        let invalid = |e: FileError| ServiceError::Invalid(e.to_string());
        match kind {
            ImportKind::Census | ImportKind::Gias => {
                let parsed = match kind {
                    ImportKind::Census => census::parse(
                        bytes,
                        &CensusOptions {
                            census_date: options.census_date,
                        },
                    ),
                    _ => gias::parse(bytes),
                }
                .map_err(invalid)?;
                let mut rejected = parsed.errors;
                let mut by_authority: BTreeMap<LaCode, (String, Vec<SchoolRecord>)> = BTreeMap::new();
                let mut accepted = Vec::with_capacity(parsed.rows.len());
                match target {
                    ImportTarget::Authority(id) => {
                        let authority = self.store.authority(id).await?;
                        for r in parsed.rows {
                            if r.la_code == authority.la_code {
                                accepted.push(r);
                            } else {
                                rejected.push(RowError {
                                    line: r.line,
                                    column: "la_code".into(),
                                    value: r.la_code.to_string(),
                                    rule: format!(
                                        "this school belongs to LA {} ({}), not to {} ({})",
                                        r.la_code, r.la_name, authority.la_code, authority.name
                                    ),
                                });
                            }
                        }
                    }
                    ImportTarget::ByLaCode => accepted = parsed.rows,
                }
                rejected.sort_by(|a, b| (a.line, &a.column).cmp(&(b.line, &b.column)));
                let mut report = ImportReport {
                    kind,
                    rows_read: parsed.rows_read,
                    counts: WriteCounts::default(),
                    written: false,
                    skipped: parsed.skipped.len() as u64,
                    rejected,
                };
                if !report.rejected.is_empty() && !options.skip_invalid {
                    return Ok(report);
                }
                for r in accepted {
                    let entry = by_authority
                        .entry(r.la_code)
                        .or_insert_with(|| (r.la_name.clone(), Vec::new()));
                    entry.1.push(r);
                }
                for (la_code, (la_name, rows)) in by_authority {
                    let authority = match self.store.authority_by_code(la_code).await? {
                        Some(a) => a,
                        None => self.store.create_authority(la_code, &la_name).await?,
                    };
                    // A closed school we hold is marked closed; one we never held is left out.
                    let rows = if rows.iter().any(|r| !r.school.status.is_open()) {
                        let held: std::collections::HashSet<_> = self
                            .store
                            .all_schools(authority.id)
                            .await?
                            .into_iter()
                            .map(|s| s.school.urn)
                            .collect();
                        let before = rows.len();
                        let kept: Vec<SchoolRecord> = rows
                            .into_iter()
                            .filter(|r| r.school.status.is_open() || held.contains(&r.school.urn))
                            .collect();
                        report.skipped += (before - kept.len()) as u64;
                        kept
                    } else {
                        rows
                    };
                    if rows.is_empty() {
                        continue;
                    }
                    let c = self.store.save_school_import(authority.id, &rows).await?;
                    report.counts.inserted += c.inserted;
                    report.counts.updated += c.updated;
                    report.counts.census_rows += c.census_rows;
                }
                report.written = true;
                Ok(report)
            }
            ImportKind::Clusters => {
                let ImportTarget::Authority(authority) = target else {
                    return Err(ServiceError::Invalid(
                        "a cluster membership file needs an authority: name it with --authority".into(),
                    ));
                };
                let parsed = membership::parse(bytes).map_err(invalid)?;
                self.import_memberships(authority, parsed, options).await
            }
        }
    }

    async fn import_memberships(
        &self,
        authority: AuthorityId,
        parsed: domain::import::Parsed<domain::import::MembershipRecord>,
        options: &ImportOptions,
    ) -> ServiceResult<ImportReport> {
        let known: std::collections::HashSet<_> = self
            .store
            .all_schools(authority)
            .await?
            .into_iter()
            .map(|s| s.school.urn)
            .collect();
        let mut rejected = parsed.errors;
        let mut accepted = Vec::with_capacity(parsed.rows.len());
        for r in parsed.rows {
            if known.contains(&r.urn) {
                accepted.push(r);
            } else {
                rejected.push(RowError {
                    line: r.line,
                    column: "urn".into(),
                    value: r.urn.to_string(),
                    rule: "no school with this URN is on this authority's register (import the census first)".into(),
                });
            }
        }
        rejected.sort_by(|a, b| (a.line, &a.column).cmp(&(b.line, &b.column)));
        let mut report = ImportReport {
            kind: ImportKind::Clusters,
            rows_read: parsed.rows_read,
            counts: WriteCounts::default(),
            written: false,
            skipped: 0,
            rejected,
        };
        if !report.rejected.is_empty() && !options.skip_invalid {
            return Ok(report);
        }
        let effective = options.effective.unwrap_or_else(|| self.clock.today());
        report.counts = self
            .store
            .save_memberships(authority, &accepted, effective, options.illustrative)
            .await?;
        report.written = true;
        Ok(report)
    }
}
