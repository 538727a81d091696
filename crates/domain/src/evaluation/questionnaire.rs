//! The evaluation questionnaire: the inspection criteria for clusters, sent to each headteacher
//! before a review and summarised per cluster. Answers are on the judgement scale (or "don't
//! know"); the summary's counts are counts of people, so they go through the suppression rule,
//! and the typical answer (the median) is shown only when at least the threshold have answered.

use super::kappa::Scale;
use super::publish::{CountsOf, publish};
use crate::NaiveDate;
use crate::ids::{ClusterId, Urn};
use crate::privacy::suppress::SuppressedTable;

/// One criterion: a stable code and the question as asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Criterion {
    pub code: &'static str,
    pub question: &'static str,
}

const fn c(code: &'static str, question: &'static str) -> Criterion {
    Criterion { code, question }
}

/// The inspection criteria for clusters.
pub const CRITERIA: [Criterion; 9] = [
    c("planning", "Planning, ways of working and use of resources"),
    c(
        "teaching",
        "The quality of teaching and learning in the cluster's programmes",
    ),
    c("partnership", "How productive the partnerships between schools are"),
    c("management", "Management, monitoring and evaluation"),
    c("objectives", "Whether the programmes meet their objectives"),
    c(
        "connections",
        "How well the programmes connect with other improvement work",
    ),
    c("standards", "Whether the programmes raise standards"),
    c("inclusion", "Whether the programmes promote inclusion"),
    c("value", "Whether the programmes are cost effective"),
];

/// A questionnaire sent to the heads of a cluster's schools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Questionnaire {
    pub id: i64,
    pub cluster: ClusterId,
    pub title: String,
    pub sent_on: NaiveDate,
    pub closes_on: NaiveDate,
    /// The schools whose heads were asked.
    pub schools: Vec<Urn>,
}

/// One head's answers: a level position per criterion (in [`CRITERIA`] order), `None` for
/// "don't know".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub school: Urn,
    pub answers: Vec<Option<usize>>,
    pub comment: String,
    pub submitted_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuestionnaireError {
    #[error("{field}: choose an answer from the scale or \"don't know\"")]
    Answer { field: &'static str },
    #[error("the comment must be 4,000 characters or fewer")]
    Comment,
    #[error("the questionnaire closed on {0}")]
    Closed(NaiveDate),
    #[error("enter a title of 1 to 200 characters")]
    Title,
    #[error("the closing date must be on or after the day it is sent")]
    Dates,
}

impl QuestionnaireError {
    pub fn field(&self) -> &'static str {
        match self {
            QuestionnaireError::Answer { field } => field,
            QuestionnaireError::Comment => "comment",
            QuestionnaireError::Closed(_) => "answers",
            QuestionnaireError::Title => "title",
            QuestionnaireError::Dates => "closes_on",
        }
    }
}

pub fn check_questionnaire(title: &str, sent_on: NaiveDate, closes_on: NaiveDate) -> Result<(), QuestionnaireError> {
    let n = title.trim().chars().count();
    if n == 0 || n > 200 {
        return Err(QuestionnaireError::Title);
    }
    if closes_on < sent_on {
        return Err(QuestionnaireError::Dates);
    }
    Ok(())
}

pub fn check_response(q: &Questionnaire, r: &Response, scale: &Scale) -> Result<(), QuestionnaireError> {
    if r.submitted_on > q.closes_on {
        return Err(QuestionnaireError::Closed(q.closes_on));
    }
    if r.answers.len() != CRITERIA.len() {
        return Err(QuestionnaireError::Answer {
            field: CRITERIA[0].code,
        });
    }
    for (a, criterion) in r.answers.iter().zip(CRITERIA) {
        if a.is_some_and(|i| i >= scale.len()) {
            return Err(QuestionnaireError::Answer { field: criterion.code });
        }
    }
    if r.comment.chars().count() > 4_000 {
        return Err(QuestionnaireError::Comment);
    }
    Ok(())
}

/// The cluster's summary of one questionnaire.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub asked: usize,
    pub answered: usize,
    /// Criteria (rows) × scale levels (columns), suppressed as counts of people.
    pub counts: SuppressedTable,
    /// The median answer per criterion, when at least `threshold` heads gave one.
    pub medians: Vec<Option<String>>,
}

/// The lower median of answer positions.
fn median(mut v: Vec<usize>) -> Option<usize> {
    v.sort_unstable();
    if v.is_empty() { None } else { Some(v[(v.len() - 1) / 2]) }
}

pub fn summarise(q: &Questionnaire, responses: &[Response], scale: &Scale, threshold: u64) -> Summary {
    let k = scale.len();
    let mut counts = vec![vec![0u64; k]; CRITERIA.len()];
    let mut by_criterion: Vec<Vec<usize>> = vec![Vec::new(); CRITERIA.len()];
    for r in responses {
        for (i, a) in r.answers.iter().enumerate().take(CRITERIA.len()) {
            if let Some(level) = a.filter(|&l| l < k) {
                counts[i][level] += 1;
                by_criterion[i].push(level);
            }
        }
    }
    let medians = by_criterion
        .into_iter()
        .map(|answers| {
            if (answers.len() as u64) < threshold.max(1) {
                None
            } else {
                median(answers).and_then(|m| scale.label(m)).map(String::from)
            }
        })
        .collect();
    Summary {
        asked: q.schools.len(),
        answered: responses.len(),
        counts: publish(&counts, CountsOf::People, threshold),
        medians,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privacy::suppress::Cell;

    fn urn(n: u32) -> Urn {
        Urn::from_u32(n).unwrap()
    }
    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn summaries_suppress_small_counts_and_hide_medians_of_few() {
        let q = Questionnaire {
            id: 1,
            cluster: ClusterId(1),
            title: "Spring review".into(),
            sent_on: day("2025-01-06"),
            closes_on: day("2025-02-07"),
            schools: (0..8).map(|i| urn(120_000 + i)).collect(),
        };
        let scale = Scale::default();
        // Six heads answer: five say Strong to everything, one Satisfactory; the last criterion
        // has only four answers (two don't know).
        let responses: Vec<Response> = (0..6)
            .map(|i| {
                let mut answers = vec![Some(if i == 0 { 1 } else { 2 }); CRITERIA.len()];
                if i >= 4 {
                    answers[8] = None;
                }
                Response {
                    school: urn(120_000 + i),
                    answers,
                    comment: String::new(),
                    submitted_on: day("2025-01-20"),
                }
            })
            .collect();
        for r in &responses {
            check_response(&q, r, &scale).unwrap();
        }
        let s = summarise(&q, &responses, &scale, 5);
        assert_eq!((s.asked, s.answered), (8, 6));
        assert_eq!(s.medians[0].as_deref(), Some("Strong"));
        assert_eq!(s.medians[8], None, "only four answered");
        // The 1 Satisfactory is suppressed, and so its row's complement (the 5 Strong).
        assert_eq!(s.counts.cells[0][1], Cell::Suppressed);
        assert!(s.counts.cells[0][2].is_suppressed());
        assert!(!s.counts.has_recoverable_cell());
        let late = Response {
            submitted_on: day("2025-02-08"),
            ..responses[0].clone()
        };
        assert_eq!(
            check_response(&q, &late, &scale),
            Err(QuestionnaireError::Closed(day("2025-02-07")))
        );
        let bad = Response {
            answers: vec![Some(9); CRITERIA.len()],
            ..responses[0].clone()
        };
        assert_eq!(check_response(&q, &bad, &scale).unwrap_err().field(), "planning");
        assert_eq!(
            check_questionnaire("", day("2025-01-06"), day("2025-01-06")),
            Err(QuestionnaireError::Title)
        );
        assert_eq!(
            check_questionnaire("x", day("2025-01-06"), day("2025-01-05")),
            Err(QuestionnaireError::Dates)
        );
    }
}
