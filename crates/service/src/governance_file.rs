//! The TOML constitution and meeting files of `clusterwise governance check` (documented in
//! docs/GOVERNANCE.md) read into the domain's [`Constitution`] and meeting record. Pure: text in,
//! domain values or an error naming the field out, so the CLI and the fuzz targets share one reader.

use domain::governance::meeting::{Attendance, Attendee, Declaration, Item, Motion};
use domain::governance::{ChairRule, Choice, Constitution, QuorumRule, Seat, SeatKind, SeatStatus};
use domain::ids::{PersonId, Urn};
use serde::Deserialize;
use std::collections::BTreeMap;

/// Why a constitution or meeting file was refused.
#[derive(Debug, thiserror::Error)]
pub enum GovernanceFileError {
    /// Not TOML of the file's shape (an unknown field, a wrong type, a syntax error); the message
    /// names the line and column.
    #[error("{0}")]
    Toml(toml::de::Error),
    /// A field broke a rule; the message names the field (`items[2].motion.votes`) and the rule.
    #[error("{0}")]
    Invalid(String),
}

type Result<T> = std::result::Result<T, GovernanceFileError>;

fn invalid(message: String) -> GovernanceFileError {
    GovernanceFileError::Invalid(message)
}

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

/// A meeting file read: the committee's seats, who attended, and the agenda items.
#[derive(Debug, Clone, PartialEq)]
pub struct MeetingRecord {
    pub seats: Vec<Seat>,
    pub attendees: Vec<Attendee>,
    pub items: Vec<Item>,
}

fn urn(field: &str, s: &str) -> Result<Urn> {
    Urn::parse(s).map_err(|e| invalid(format!("{field}: {e}")))
}

/// Reads a constitution file.
pub fn parse_constitution(text: &str) -> Result<Constitution> {
    let file: ConstitutionFile = toml::from_str(text).map_err(GovernanceFileError::Toml)?;
    let mut c = match file.preset.as_str() {
        "norfolk" => Constitution::norfolk(),
        "welsh" => Constitution::welsh_joint_committee(),
        "federation" => Constitution::federation(),
        "reporting_only" => Constitution::reporting_only(),
        other => {
            return Err(invalid(format!(
                "preset: {other:?} is not one of norfolk, welsh, federation, reporting_only"
            )));
        }
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
                    .ok_or_else(|| invalid("quorum: percent:N needs N from 1 to 100".into()))?,
            },
            Some(("fixed", n)) => QuorumRule::Fixed {
                members: n
                    .parse()
                    .map_err(|_| invalid("quorum: fixed:N needs a whole number".into()))?,
            },
            None if q == "half_of_filled" => QuorumRule::HalfOfFilledSeatsRoundedUp,
            _ => {
                return Err(invalid(format!(
                    "quorum: {q:?} is not percent:N, half_of_filled or fixed:N"
                )));
            }
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
            other => return Err(invalid(format!("chair: {other:?} is not a chair rule"))),
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

/// Reads a meeting file.
pub fn parse_meeting(text: &str) -> Result<MeetingRecord> {
    let mfile: MeetingFile = toml::from_str(text).map_err(GovernanceFileError::Toml)?;
    let mut seats = Vec::new();
    for (i, s) in mfile.seats.iter().enumerate() {
        let field = format!("seats[{i}]");
        let kind = SeatKind::from_code(&s.kind)
            .ok_or_else(|| invalid(format!("{field}.kind: {:?} is not a seat kind", s.kind)))?;
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
            attendance: Attendance::parse(&a.status).ok_or_else(|| {
                invalid(format!(
                    "{field}.status: {:?} is not present, apologies or absent",
                    a.status
                ))
            })?,
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
                        Choice::parse(choice).ok_or_else(|| {
                            invalid(format!(
                                "{field}.motion.votes.{school}: {choice:?} is not for, against or abstain"
                            ))
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
                            Choice::parse(c).ok_or_else(|| {
                                invalid(format!("{field}.motion.casting_vote: {c:?} is not for or against"))
                            })
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
    Ok(MeetingRecord {
        seats,
        attendees,
        items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_examples_read() {
        let c = parse_constitution(include_str!("../../../docs/examples/governance/norfolk.toml")).unwrap();
        assert_eq!(c.quorum, Constitution::norfolk().quorum);
        let m = parse_meeting(include_str!("../../../docs/examples/governance/meeting.toml")).unwrap();
        assert!(!m.seats.is_empty() && !m.items.is_empty());
    }

    #[test]
    fn bad_fields_are_named() {
        let err = |r: Result<Constitution>| r.unwrap_err().to_string();
        assert!(err(parse_constitution("preset = \"x\"")).starts_with("preset:"));
        assert!(err(parse_constitution("preset = \"norfolk\"\nquorum = \"percent:0\"")).starts_with("quorum:"));
        assert!(err(parse_constitution("preset = \"norfolk\"\nbogus = 1")).contains("line 2"));
        let m = parse_meeting("[[seats]]\nkind = \"voting_governor\"\nschool = \"12\"").unwrap_err();
        assert!(m.to_string().starts_with("seats[0].school:"), "{m}");
    }
}
