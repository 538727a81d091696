//! FADE reports: Focus, Analysis, Develop/Do, Evaluation. The calendar of rounds (December and
//! March by default), a report's sections and its two judgements (the cluster's own and the
//! authority's, either may be missing), and the authority's summary table of judgements like the
//! consortium's FADE 2 table.

use super::AcademicYear;
use super::kappa::{Agreement, Scale, agreement};
use crate::ids::ClusterId;
use chrono::{Datelike, NaiveDate};

/// When FADE reports fall due: one (month, day) per round, in the order they come in a school
/// year (from September).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    due: Vec<(u32, u32)>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("FADE due dates are 1 to 6 days of the year written like 12-31 (month-day), separated by commas")]
    Format,
    #[error("{0} is not a day of the year (write month-day, like 03-31)")]
    NotADay(String),
    #[error("the due date {0} is given twice")]
    Duplicate(String),
}

/// Months from September: September is 0, August 11.
fn school_month(month: u32) -> u32 {
    (month + 12 - 9) % 12
}

impl Default for Calendar {
    /// 31 December and 31 March (the Welsh consortium's December and March reports).
    fn default() -> Self {
        Calendar {
            due: vec![(12, 31), (3, 31)],
        }
    }
}

impl Calendar {
    /// `12-31, 03-31`.
    pub fn parse(s: &str) -> Result<Calendar, CalendarError> {
        let mut due = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (m, d) = part.split_once('-').ok_or(CalendarError::Format)?;
            let (m, d): (u32, u32) = (
                m.trim().parse().map_err(|_| CalendarError::NotADay(part.into()))?,
                d.trim().parse().map_err(|_| CalendarError::NotADay(part.into()))?,
            );
            // 2024 is a leap year: 29 February is allowed (it falls back to the 28th in others).
            if NaiveDate::from_ymd_opt(2024, m, d).is_none() {
                return Err(CalendarError::NotADay(part.into()));
            }
            if due.contains(&(m, d)) {
                return Err(CalendarError::Duplicate(part.into()));
            }
            due.push((m, d));
        }
        if due.is_empty() || due.len() > 6 {
            return Err(CalendarError::Format);
        }
        due.sort_by_key(|&(m, d)| (school_month(m), d));
        Ok(Calendar { due })
    }
    pub fn code(&self) -> String {
        self.due
            .iter()
            .map(|(m, d)| format!("{m:02}-{d:02}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
    fn day_in(year: AcademicYear, (m, d): (u32, u32)) -> NaiveDate {
        let y = i32::from(year.start_year()) + i32::from(m < 9);
        NaiveDate::from_ymd_opt(y, m, d)
            .or_else(|| NaiveDate::from_ymd_opt(y, m, d - 1))
            .unwrap_or_default()
    }
    /// The due dates of one school year, in order.
    pub fn rounds_in(&self, year: AcademicYear) -> Vec<Round> {
        self.due
            .iter()
            .enumerate()
            .map(|(i, &md)| Round {
                due: Self::day_in(year, md),
                number: u32::try_from(i + 1).unwrap_or(1),
                year,
            })
            .collect()
    }
    /// The round a due date belongs to, if it is one of the calendar's.
    pub fn round_on(&self, due: NaiveDate) -> Option<Round> {
        self.rounds_in(AcademicYear::containing(due))
            .into_iter()
            .find(|r| r.due == due)
    }
    /// The round now open: the first due on or after `today`.
    pub fn current(&self, today: NaiveDate) -> Round {
        let year = AcademicYear::containing(today);
        self.rounds_in(year)
            .into_iter()
            .chain(self.rounds_in(year.next()))
            .find(|r| r.due >= today)
            .unwrap_or(Round {
                due: today,
                number: 1,
                year,
            })
    }
    /// The round before `round` (in this or the previous school year).
    pub fn previous(&self, round: &Round) -> Round {
        let mut all = self.rounds_in(round.year.previous());
        all.extend(self.rounds_in(round.year));
        all.into_iter()
            .rev()
            .find(|r| r.due < round.due)
            .unwrap_or_else(|| round.clone())
    }
}

/// One round of FADE reports.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Round {
    pub due: NaiveDate,
    /// 1 for the first report of the school year, 2 for the second, …
    pub number: u32,
    pub year: AcademicYear,
}

impl Round {
    /// "FADE 1, 2024/25 (December)".
    pub fn label(&self) -> String {
        format!("FADE {}, {} ({})", self.number, self.year, self.due.format("%B"))
    }
    /// The first day the round's report covers: the day after the previous round's due date.
    pub fn covers_from(&self, calendar: &Calendar) -> NaiveDate {
        let prev = calendar.previous(self);
        if prev.due < self.due {
            prev.due.succ_opt().unwrap_or(prev.due)
        } else {
            NaiveDate::from_ymd_opt(self.due.year() - 1, self.due.month(), 1).unwrap_or(self.due)
        }
    }
}

/// A judgement: a level of the scale as recorded, who recorded it and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    /// The level's name as recorded (kept even if the scale later changes).
    pub level: String,
    pub by: String,
    pub on: NaiveDate,
    pub comment: String,
}

/// A cluster's FADE report for one round. Narratives are what the cluster writes; the Analysis
/// tables and charts are drawn from the data when the report is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub cluster: ClusterId,
    pub due: NaiveDate,
    pub focus: String,
    pub analysis_notes: String,
    pub develop_do: String,
    pub evaluation: String,
    pub cluster_judgement: Option<Judgement>,
    pub authority_judgement: Option<Judgement>,
}

impl Report {
    pub fn new(cluster: ClusterId, due: NaiveDate) -> Report {
        Report {
            cluster,
            due,
            focus: String::new(),
            analysis_notes: String::new(),
            develop_do: String::new(),
            evaluation: String::new(),
            cluster_judgement: None,
            authority_judgement: None,
        }
    }
}

/// The longest narrative a section holds.
pub const MAX_NARRATIVE_CHARS: usize = 20_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    #[error("{field}: at most {MAX_NARRATIVE_CHARS} characters")]
    TooLong { field: &'static str },
    #[error("{field}: {level:?} is not on the judgement scale ({scale})")]
    NotOnScale {
        field: &'static str,
        level: String,
        scale: String,
    },
}

impl ReportError {
    pub fn field(&self) -> &'static str {
        match self {
            ReportError::TooLong { field } | ReportError::NotOnScale { field, .. } => field,
        }
    }
}

pub fn check_narrative(field: &'static str, text: &str) -> Result<(), ReportError> {
    if text.chars().count() > MAX_NARRATIVE_CHARS {
        Err(ReportError::TooLong { field })
    } else {
        Ok(())
    }
}

/// The level's name as the scale spells it.
pub fn check_level(field: &'static str, level: &str, scale: &Scale) -> Result<String, ReportError> {
    scale
        .index_of(level)
        .and_then(|i| scale.label(i))
        .map(String::from)
        .ok_or_else(|| ReportError::NotOnScale {
            field,
            level: level.to_string(),
            scale: scale.to_string(),
        })
}

/// One row of the summary table: a level and how many clusters each side gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryRow {
    pub level: String,
    pub cluster: u64,
    pub authority: u64,
}

/// The authority's summary of a round, like the consortium's FADE 2 table, with the agreement
/// analysis over the clusters that have both judgements.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub rows: Vec<SummaryRow>,
    /// Clusters with a judgement from each side.
    pub cluster_judged: u64,
    pub authority_judged: u64,
    /// Clusters in the round with no judgement from that side.
    pub cluster_missing: u64,
    pub authority_missing: u64,
    /// Judgements recorded on a level no longer on the scale (left out of the table).
    pub off_scale: u64,
    pub agreement: Agreement,
}

/// Summarises judgements: one (cluster's, authority's) pair of optional levels per cluster.
pub fn summarise(scale: &Scale, judgements: &[(Option<&str>, Option<&str>)]) -> Summary {
    let k = scale.len();
    let mut cluster = vec![0u64; k];
    let mut authority = vec![0u64; k];
    let (mut cluster_missing, mut authority_missing, mut off_scale) = (0, 0, 0);
    let mut pairs = Vec::new();
    for (c, a) in judgements {
        let ci = c.and_then(|l| scale.index_of(l));
        let ai = a.and_then(|l| scale.index_of(l));
        match (c, ci) {
            (None, _) => cluster_missing += 1,
            (Some(_), None) => off_scale += 1,
            (Some(_), Some(i)) => cluster[i] += 1,
        }
        match (a, ai) {
            (None, _) => authority_missing += 1,
            (Some(_), None) => off_scale += 1,
            (Some(_), Some(i)) => authority[i] += 1,
        }
        if let (Some(i), Some(j)) = (ci, ai) {
            pairs.push((i, j));
        }
    }
    Summary {
        rows: scale
            .levels()
            .iter()
            .enumerate()
            .map(|(i, l)| SummaryRow {
                level: l.clone(),
                cluster: cluster[i],
                authority: authority[i],
            })
            .collect(),
        cluster_judged: cluster.iter().sum(),
        authority_judged: authority.iter().sum(),
        cluster_missing,
        authority_missing,
        off_scale,
        agreement: agreement(k, &pairs),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn december_and_march_by_default() {
        let c = Calendar::default();
        let y = AcademicYear::parse("202425").unwrap();
        let rounds = c.rounds_in(y);
        assert_eq!(
            rounds
                .iter()
                .map(|r| (r.due.to_string(), r.label()))
                .collect::<Vec<_>>(),
            vec![
                ("2024-12-31".to_string(), "FADE 1, 2024/25 (December)".to_string()),
                ("2025-03-31".to_string(), "FADE 2, 2024/25 (March)".to_string()),
            ]
        );
        assert_eq!(c.current(day("2024-10-01")).due, day("2024-12-31"));
        assert_eq!(c.current(day("2025-01-01")).due, day("2025-03-31"));
        assert_eq!(c.current(day("2025-04-01")).due, day("2025-12-31"));
        assert_eq!(rounds[1].covers_from(&c), day("2025-01-01"));
        assert_eq!(rounds[0].covers_from(&c), day("2024-04-01"));
        assert_eq!(c.round_on(day("2025-03-31")), Some(rounds[1].clone()));
        assert_eq!(c.round_on(day("2025-03-30")), None);
    }

    #[test]
    fn calendars_are_configurable() {
        let c = Calendar::parse("07-15, 12-15, 03-31").unwrap();
        assert_eq!(c.code(), "12-15, 03-31, 07-15");
        let rounds = c.rounds_in(AcademicYear::parse("202324").unwrap());
        assert_eq!(rounds[2].due, day("2024-07-15"));
        assert_eq!(rounds[2].number, 3);
        let feb = Calendar::parse("02-29").unwrap();
        assert_eq!(
            feb.rounds_in(AcademicYear::parse("202425").unwrap())[0].due,
            day("2025-02-28")
        );
        assert_eq!(Calendar::parse("13-01"), Err(CalendarError::NotADay("13-01".into())));
        assert_eq!(Calendar::parse(""), Err(CalendarError::Format));
        assert_eq!(
            Calendar::parse("12-31,12-31"),
            Err(CalendarError::Duplicate("12-31".into()))
        );
    }

    /// The South East Wales consortium's FADE 2 table (2018): cluster / consortium judgements
    /// Limited 1/1, Satisfactory 3/5, Strong 25/26, Very Good 4/0, of 35 clusters — not every
    /// cluster has both. The table is a summary, not pairs, so kappa cannot be taken from it; the
    /// pairs below are one arrangement consistent with it.
    #[test]
    fn the_fade_2_table_is_reproduced() {
        let l = Some("Limited");
        let s = Some("Satisfactory");
        let st = Some("Strong");
        let vg = Some("Very Good");
        let mut j: Vec<(Option<&str>, Option<&str>)> = Vec::new();
        j.push((l, l));
        j.extend([(s, s); 3]);
        j.extend([(st, st); 22]);
        j.extend([(st, s), (vg, st), (vg, st), (vg, st)]);
        j.extend([(st, None), (st, None), (vg, None)]);
        j.extend([(None, st), (None, s)]);
        assert_eq!(j.len(), 35);
        let sum = summarise(&Scale::default(), &j);
        let table: Vec<(&str, u64, u64)> = sum
            .rows
            .iter()
            .map(|r| (r.level.as_str(), r.cluster, r.authority))
            .collect();
        assert_eq!(
            table,
            vec![
                ("Limited", 1, 1),
                ("Satisfactory", 3, 5),
                ("Strong", 25, 26),
                ("Very Good", 4, 0)
            ]
        );
        assert_eq!((sum.cluster_judged, sum.authority_judged), (33, 32));
        assert_eq!((sum.cluster_missing, sum.authority_missing), (2, 3));
        // Agreement only over the 30 clusters judged by both.
        assert_eq!(sum.agreement.pairs, 30);
        assert_eq!(sum.agreement.exact, 26);
        assert_eq!(sum.agreement.cluster_higher, 4);
        assert!(sum.agreement.linear.is_some());
    }

    #[test]
    fn levels_must_be_on_the_scale() {
        let scale = Scale::default();
        assert_eq!(check_level("cluster_judgement", "strong", &scale), Ok("Strong".into()));
        let e = check_level("authority_judgement", "Outstanding", &scale).unwrap_err();
        assert_eq!(e.field(), "authority_judgement");
        assert!(e.to_string().contains("Limited < Satisfactory"));
        assert!(check_narrative("focus", &"x".repeat(MAX_NARRATIVE_CHARS + 1)).is_err());
        let sum = summarise(&scale, &[(Some("Outstanding"), Some("Strong"))]);
        assert_eq!((sum.off_scale, sum.agreement.pairs), (1, 0));
    }
}
