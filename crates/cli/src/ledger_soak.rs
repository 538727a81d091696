//! `clusterwise ledger-soak` (hidden, for the reliability tests): posts a deterministic run of
//! multi-line ledger entries to a synthetic cluster, printing `ack KEY ENTRY_ID new|replay` after
//! each posting is committed (or `refused KEY REASON`). Entry `i` always has the key
//! `soak-{i:06}` and the same content, so a run killed at any moment and started again with the
//! same keys must end in exactly the ledger an uninterrupted run gives.

use anyhow::{Context, Result, bail};
use domain::NaiveDate;
use domain::access::{Scope, User, UserRole};
use domain::funding::ledger::{Account, AccountKind, EntryKind, Fence, Holder, Line, NewEntry, simple_lines};
use domain::ids::{AuthorityId, ClusterId, LaCode, Urn, UserId};
use domain::money::Money;
use service::Service;
use service::import::{ImportKind, ImportOptions, ImportTarget};
use service::ledger::{LedgerFailure, PostRequest, ReverseRequest};
use std::io::Write;

/// The synthetic authority the soak posts to.
pub const SOAK_LA: &str = "999";
const SCHOOLS: [(u32, &str); 4] = [
    (999_001, "State-funded secondary"),
    (999_002, "State-funded secondary"),
    (999_003, "State-funded primary"),
    (999_004, "State-funded primary"),
];

fn urn(n: u32) -> Result<Urn> {
    Urn::from_u32(n).map_err(|e| anyhow::anyhow!("{e}"))
}

/// The soak authority and its one cluster, created on first use (each step all-or-nothing, so a
/// run killed during set-up finishes it next time).
pub async fn setup(service: &Service) -> Result<(AuthorityId, ClusterId)> {
    let la = LaCode::parse(SOAK_LA).map_err(|e| anyhow::anyhow!("{e}"))?;
    if service.store().authority_by_code(la).await?.is_none() {
        let mut csv = String::from("urn,la_code,la_name,school_name,phase_type_grouping,pupils_headcount\n");
        for (n, phase) in SCHOOLS {
            csv.push_str(&format!(
                "{n},{SOAK_LA},Soak test authority (synthetic),Soak school {n},{phase},500\n"
            ));
        }
        let report = service
            .import(
                ImportTarget::ByLaCode,
                ImportKind::Census,
                csv.as_bytes(),
                &ImportOptions {
                    census_date: NaiveDate::from_ymd_opt(2023, 1, 19),
                    ..ImportOptions::default()
                },
            )
            .await?;
        if !report.written {
            bail!("the soak schools were refused: {:?}", report.rejected);
        }
    }
    let authority = service
        .store()
        .authority_by_code(la)
        .await?
        .context("the soak authority is missing")?;
    let today = service.clock().today();
    if service.store().list_clusters(authority.id, today).await?.is_empty() {
        let mut csv = String::from("urn,cluster,role\n");
        for (i, (n, _)) in SCHOOLS.iter().enumerate() {
            csv.push_str(&format!(
                "{n},Soak cluster,{}\n",
                if i == 0 { "host" } else { "feeder" }
            ));
        }
        let report = service
            .import(
                ImportTarget::Authority(authority.id),
                ImportKind::Clusters,
                csv.as_bytes(),
                &ImportOptions {
                    effective: NaiveDate::from_ymd_opt(2023, 9, 1),
                    ..ImportOptions::default()
                },
            )
            .await?;
        if !report.written {
            bail!("the soak cluster was refused: {:?}", report.rejected);
        }
    }
    let cluster = service
        .store()
        .list_clusters(authority.id, today)
        .await?
        .first()
        .map(|c| c.cluster.id)
        .context("the soak cluster is missing")?;
    Ok((authority.id, cluster))
}

fn key(i: u32) -> String {
    format!("soak-{i:06}")
}

fn fences() -> Result<[Fence; 2]> {
    Ok([
        Fence::new("Soak stream", "primary").map_err(|e| anyhow::anyhow!("{e}"))?,
        Fence::new("Soak stream", "secondary").map_err(|e| anyhow::anyhow!("{e}"))?,
    ])
}

/// Entry `i`: the same content every time it is asked for. `None` for a reversal (built from
/// the entry it reverses).
fn entry(i: u32) -> Result<Option<NewEntry>> {
    let [p, s] = fences()?;
    let school = |k: usize| -> Result<Holder> { Ok(Holder::School(urn(SCHOOLS[k].0)?)) };
    let pence = |base: i64| Money::from_pence(base + i64::from(i % 97) * 13);
    let c = Holder::Central;
    let lines: Vec<Line> = match i % 10 {
        // A receipt into both phases' central pots: four lines.
        0 => {
            let mut l = simple_lines(EntryKind::Receipt, (&p, c), None, pence(400_000), false)?;
            l.extend(simple_lines(EntryKind::Receipt, (&s, c), None, pence(500_000), false)?);
            l
        }
        // An allocation to all four schools: five lines per phase, one entry.
        1 => {
            let mut l = Vec::new();
            for (fence, a, b) in [(&p, 2, 3), (&s, 0, 1)] {
                let (x, y) = (pence(90_000), pence(60_000));
                l.push(Line::credit(
                    Account::new(AccountKind::Available, fence, c),
                    Money::from_pence(x.pence() + y.pence()),
                ));
                l.push(Line::debit(Account::new(AccountKind::Available, fence, school(a)?), x));
                l.push(Line::debit(Account::new(AccountKind::Available, fence, school(b)?), y));
            }
            l
        }
        2..=5 => {
            let k = (i % 4) as usize;
            let fence = if k >= 2 { &p } else { &s };
            simple_lines(EntryKind::Payment, (fence, school(k)?), None, pence(7_000), false)?
        }
        6 => simple_lines(EntryKind::Commitment, (&s, c), None, pence(20_000), false)?,
        7 => return Ok(None),
        // A virement between two schools and the centre within one ring-fence: three lines.
        8 => vec![
            Line::credit(Account::new(AccountKind::Available, &s, school(0)?), pence(3_000)),
            Line::debit(
                Account::new(AccountKind::Available, &s, school(1)?),
                Money::from_pence(1_000),
            ),
            Line::debit(
                Account::new(AccountKind::Available, &s, c),
                Money::from_pence(pence(3_000).pence() - 1_000),
            ),
        ],
        // Every third claim is far beyond the allocation: refused, the same way every time.
        _ => {
            let amount = if i % 30 == 29 {
                Money::from_pence(100_000_000)
            } else {
                pence(1_500)
            };
            simple_lines(EntryKind::Claim, (&p, school(3)?), None, amount, false)?
        }
    };
    let kind = match i % 10 {
        0 => EntryKind::Receipt,
        1 => EntryKind::Allocation,
        2..=5 => EntryKind::Payment,
        6 => EntryKind::Commitment,
        8 => EntryKind::Virement,
        _ => EntryKind::Claim,
    };
    Ok(Some(NewEntry {
        kind,
        date: NaiveDate::from_ymd_opt(2026, 4, 1)
            .and_then(|d| d.checked_add_days(domain::Days::new(u64::from(i / 10))))
            .unwrap_or_default(),
        memo: format!("Soak entry {i} (synthetic)"),
        lines,
        approval: None,
        exception: None,
        joint_project: false,
        reverses: None,
    }))
}

/// Posts entries `from..entries`, printing one line per entry.
pub async fn run(service: &Service, entries: u32, from: u32) -> Result<()> {
    service
        .store()
        .ledger_durability()
        .await
        .context("the database is not safe for ledger postings")?;
    let (authority, cluster) = setup(service).await?;
    let user = |role, scope| User {
        id: UserId(0),
        authority,
        email: "soak@clusterwise.test".into(),
        display_name: "Ledger soak (synthetic)".into(),
        role,
        scope,
    };
    let officer = user(UserRole::AuthorityOfficer, Scope::Authority);
    let clerk = user(UserRole::ClusterClerk, Scope::Cluster(cluster));
    let mut out = std::io::stdout().lock();
    for i in from..entries {
        let k = key(i);
        let result = match entry(i)? {
            Some(e) => {
                let who = if e.kind == EntryKind::Receipt { &officer } else { &clerk };
                service
                    .post_entry(
                        who,
                        cluster,
                        PostRequest {
                            idempotency_key: k.clone(),
                            entry: e,
                        },
                    )
                    .await
            }
            None => match service.store().ledger_entry_by_key(authority, &key(i - 1)).await? {
                // Reverse the commitment just made (if it was posted).
                Some(original) => {
                    service
                        .reverse_entry(
                            &clerk,
                            cluster,
                            original.entry.id,
                            ReverseRequest {
                                idempotency_key: k.clone(),
                                date: original.entry.body.date,
                                memo: format!("Soak reversal {i} (synthetic)"),
                                approval: None,
                            },
                        )
                        .await
                }
                None => {
                    writeln!(out, "skip {k}")?;
                    continue;
                }
            },
        };
        match result {
            Ok(p) => writeln!(
                out,
                "ack {k} {} {}",
                p.entry.id,
                if p.replayed { "replay" } else { "new" }
            )?,
            Err(LedgerFailure::Rule(e)) => writeln!(out, "refused {k} {e}")?,
            Err(LedgerFailure::Service(e)) => bail!("{k}: {e}"),
        }
        out.flush()?;
    }
    Ok(())
}
