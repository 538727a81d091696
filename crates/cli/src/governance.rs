//! `clusterwise governance check`: evaluates a meeting record against a constitution and prints
//! the computed quorum and outcome of each item as JSON. File formats: docs/GOVERNANCE.md.

use anyhow::{Context, Result, bail};
use domain::governance::meeting::{Attendance, Attendee, Declaration, Item, Motion, evaluate};
use domain::governance::{ChairRule, Choice, Constitution, GoverningModel, QuorumRule, Seat, SeatKind, SeatStatus};
use domain::ids::{PersonId, Urn};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// A constitution file: a preset, then any rule overridden.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConstitutionFile {
    /// `norfolk`, `welsh`, `federation` or `reporting_only`.
    preset: String,
    name: Option<String>,
    /// `percent:50`, `half_of_filled`, or `fixed:N`.
    quorum: Option<String>,
    casting_vote: Option<bool>,
    /// `elected_annually`, `appointed_annually`, `rotating_yearly`, `rotating_per_meeting`.
    chair: Option<String>,
    min_meetings_per_term: Option<u32>,
    minutes_within_days: Option<u32>,
    review_every_months: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MeetingFile {
    #[serde(default)]
    seats: Vec<SeatRow>,
    #[serde(default)]
    attendance: Vec<AttendanceRow>,
    #[serde(default)]
    items: Vec<ItemRow>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeatRow {
    kind: String,
    school: Option<String>,
    person: Option<i64>,
    #[serde(default)]
    suspended: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AttendanceRow {
    person: i64,
    status: String,
    substitute_for: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemRow {
    number: String,
    title: String,
    #[serde(default)]
    declarations: Vec<DeclarationRow>,
    motion: Option<MotionRow>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeclarationRow {
    person: i64,
    #[serde(default)]
    withdraws: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MotionRow {
    text: String,
    proposer: i64,
    seconder: i64,
    /// School URN → `for`, `against` or `abstain`.
    #[serde(default)]
    votes: BTreeMap<String, String>,
    casting_vote: Option<String>,
}

#[derive(Debug, Serialize)]
struct ItemJson {
    item: String,
    quorum_required: u32,
    present_voting: u32,
    quorate: bool,
    voting_schools: Vec<String>,
    withdrawn: Vec<i64>,
    outcome: Option<&'static str>,
    votes_for: Option<u32>,
    votes_against: Option<u32>,
    abstentions: Option<u32>,
    error: Option<String>,
}

#[derive(Debug, Serialize)]
struct ReportJson {
    constitution: String,
    quorum_rule: String,
    casting_vote: bool,
    items: Vec<ItemJson>,
}

fn urn(field: &str, s: &str) -> Result<Urn> {
    Urn::parse(s).map_err(|e| anyhow::anyhow!("{field}: {e}"))
}

fn constitution(file: ConstitutionFile) -> Result<Constitution> {
    let mut c = match file.preset.as_str() {
        "norfolk" => Constitution::norfolk(),
        "welsh" => Constitution::welsh_joint_committee(),
        "federation" => Constitution::federation(),
        "reporting_only" => Constitution::reporting_only(),
        other => bail!("preset: {other:?} is not one of norfolk, welsh, federation, reporting_only"),
    };
    if let Some(n) = file.name {
        c.name = n;
    }
    if let Some(q) = file.quorum {
        c.quorum = match q.split_once(':') {
            Some(("percent", p)) => QuorumRule::PercentOfVotingMembers {
                percent: p
                    .parse()
                    .ok()
                    .filter(|p| (1..=100).contains(p))
                    .context("quorum: percent:N needs N from 1 to 100")?,
            },
            Some(("fixed", n)) => QuorumRule::Fixed {
                members: n.parse().context("quorum: fixed:N needs a whole number")?,
            },
            None if q == "half_of_filled" => QuorumRule::HalfOfFilledSeatsRoundedUp,
            _ => bail!("quorum: {q:?} is not percent:N, half_of_filled or fixed:N"),
        };
    }
    if let Some(v) = file.casting_vote {
        c.casting_vote = v;
    }
    if let Some(chair) = file.chair {
        c.chair = match chair.as_str() {
            "elected_annually" => ChairRule::ElectedAnnually,
            "appointed_annually" => ChairRule::AppointedAnnually,
            "rotating_yearly" => ChairRule::RotatingYearly,
            "rotating_per_meeting" => ChairRule::RotatingPerMeeting,
            other => bail!("chair: {other:?} is not a chair rule"),
        };
    }
    if let Some(v) = file.min_meetings_per_term {
        c.min_meetings_per_term = v;
    }
    if let Some(v) = file.minutes_within_days {
        c.minutes_within_days = v;
    }
    if let Some(v) = file.review_every_months {
        c.review_every_months = v;
    }
    Ok(c)
}

/// Runs the check; returns the JSON text.
pub fn check(constitution_path: &Path, meeting_path: &Path) -> Result<String> {
    let read = |p: &Path| std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()));
    let cfile: ConstitutionFile = toml::from_str(&read(constitution_path)?)
        .with_context(|| format!("{} is not a valid constitution file", constitution_path.display()))?;
    let mfile: MeetingFile = toml::from_str(&read(meeting_path)?)
        .with_context(|| format!("{} is not a valid meeting file", meeting_path.display()))?;
    let c = constitution(cfile)?;
    let mut seats = Vec::new();
    for (i, s) in mfile.seats.iter().enumerate() {
        let field = format!("seats[{i}]");
        let kind =
            SeatKind::from_code(&s.kind).with_context(|| format!("{field}.kind: {:?} is not a seat kind", s.kind))?;
        let school = s
            .school
            .as_deref()
            .map(|u| urn(&format!("{field}.school"), u))
            .transpose()?;
        let status = match (s.person, s.suspended) {
            (None, _) => SeatStatus::Vacant,
            (Some(p), false) => SeatStatus::Filled(PersonId(p)),
            (Some(p), true) => SeatStatus::Suspended(PersonId(p)),
        };
        seats.push(Seat {
            kind,
            school,
            status,
            term_from: None,
            term_to: None,
        });
    }
    let mut attendees = Vec::new();
    for (i, a) in mfile.attendance.iter().enumerate() {
        let field = format!("attendance[{i}]");
        attendees.push(Attendee {
            person: PersonId(a.person),
            attendance: Attendance::parse(&a.status)
                .with_context(|| format!("{field}.status: {:?} is not present, apologies or absent", a.status))?,
            substitute_for: a
                .substitute_for
                .as_deref()
                .map(|u| urn(&format!("{field}.substitute_for"), u))
                .transpose()?,
        });
    }
    let mut items = Vec::new();
    for (i, it) in mfile.items.iter().enumerate() {
        let field = format!("items[{i}]");
        let motion = match &it.motion {
            None => None,
            Some(m) => {
                let mut votes = Vec::new();
                for (school, choice) in &m.votes {
                    votes.push((
                        urn(&format!("{field}.motion.votes"), school)?,
                        Choice::parse(choice).with_context(|| {
                            format!("{field}.motion.votes.{school}: {choice:?} is not for, against or abstain")
                        })?,
                    ));
                }
                Some(Motion {
                    text: m.text.clone(),
                    proposer: PersonId(m.proposer),
                    seconder: PersonId(m.seconder),
                    votes,
                    casting_vote: m
                        .casting_vote
                        .as_deref()
                        .map(|c| {
                            Choice::parse(c)
                                .with_context(|| format!("{field}.motion.casting_vote: {c:?} is not for or against"))
                        })
                        .transpose()?,
                })
            }
        };
        items.push(Item {
            number: it.number.clone(),
            title: it.title.clone(),
            declarations: it
                .declarations
                .iter()
                .map(|d| Declaration {
                    person: PersonId(d.person),
                    withdraws: d.withdraws,
                })
                .collect(),
            motion,
        });
    }
    if c.model == GoverningModel::ReportingOnly {
        bail!("the constitution is reporting-only: there is no committee whose meetings could be checked");
    }
    let results = evaluate(&c, &seats, &attendees, &items).map_err(|e| anyhow::anyhow!("{e}"))?;
    let report = ReportJson {
        constitution: c.name.clone(),
        quorum_rule: c.quorum.describe(),
        casting_vote: c.casting_vote,
        items: results
            .into_iter()
            .map(|r| ItemJson {
                item: r.number,
                quorum_required: r.quorum.required,
                present_voting: r.quorum.present,
                quorate: r.quorum.quorate,
                voting_schools: r.voting_schools.iter().map(ToString::to_string).collect(),
                withdrawn: r.withdrawn.iter().map(|p| p.0).collect(),
                outcome: r.outcome.map(|o| o.0.code()),
                votes_for: r.outcome.map(|o| o.1.for_votes),
                votes_against: r.outcome.map(|o| o.1.against),
                abstentions: r.outcome.map(|o| o.1.abstain),
                error: r.error,
            })
            .collect(),
    };
    Ok(serde_json::to_string_pretty(&report)?)
}
