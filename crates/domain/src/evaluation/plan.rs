//! A cluster improvement plan for one school year: priorities, activities (lead school, strand,
//! participating schools, a budget line from a funding stream, dates, success criteria) and
//! targets. Each item is checked as it is added; errors name the form field.

use super::AcademicYear;
use super::metrics::Catalogue;
use super::targets::{Target, TargetLevel, check_target};
use crate::NaiveDate;
use crate::ids::{ClusterId, Urn};
use crate::money::Money;

/// The strands an activity can belong to: the Excellence Cluster strands and the initiatives
/// that run through the same partnerships.
pub const STRANDS: [(&str, &str); 8] = [
    ("gt", "Gifted and talented"),
    ("mentor_lsu", "Learning mentors and learning support units"),
    ("tailored", "Tailored (the cluster's own priorities)"),
    ("admin", "Cluster administration"),
    ("lig", "Leadership Incentive Grant"),
    ("bip", "Behaviour Improvement Programme"),
    ("clc", "City Learning Centre"),
    ("other", "Other"),
];

pub fn strand_label(code: &str) -> &str {
    STRANDS.iter().find(|(c, _)| *c == code).map_or(code, |(_, l)| l)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Priority {
    pub title: String,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    pub title: String,
    /// The priority it serves (its position in the plan, from 0).
    pub priority: usize,
    pub lead_school: Urn,
    pub strand: String,
    /// Schools taking part (the lead school is always one of them).
    pub participating: Vec<Urn>,
    /// The funding stream the budget line comes from, by name.
    pub funding_stream: String,
    pub budget: Money,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub success_criteria: String,
    /// The measure whose change shows whether it works (for the before/after check).
    pub measure: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub cluster: ClusterId,
    pub year: AcademicYear,
    pub priorities: Vec<Priority>,
    pub activities: Vec<Activity>,
    pub targets: Vec<Target>,
}

impl Plan {
    pub fn new(cluster: ClusterId, year: AcademicYear) -> Plan {
        Plan {
            cluster,
            year,
            priorities: Vec::new(),
            activities: Vec::new(),
            targets: Vec::new(),
        }
    }
    /// The sum of the activities' budget lines (`None` on overflow).
    pub fn budget_total(&self) -> Option<Money> {
        Money::sum(self.activities.iter().map(|a| &a.budget))
    }
}

/// A rule an item broke, with the form field it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PlanError {
    pub field: &'static str,
    pub message: String,
}

fn err(field: &'static str, message: impl Into<String>) -> PlanError {
    PlanError {
        field,
        message: message.into(),
    }
}

fn text(field: &'static str, label: &str, v: &str, max: usize, required: bool) -> Result<(), PlanError> {
    if required && v.trim().is_empty() {
        return Err(err(field, format!("Enter {label}")));
    }
    if v.chars().count() > max {
        return Err(err(
            field,
            format!("{} must be {max} characters or fewer", capital(label)),
        ));
    }
    Ok(())
}

fn capital(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

pub const MAX_PRIORITIES: usize = 12;
pub const MAX_ACTIVITIES: usize = 60;
pub const MAX_TARGETS: usize = 60;

pub fn check_priority(plan: &Plan, p: &Priority) -> Result<(), PlanError> {
    if plan.priorities.len() >= MAX_PRIORITIES {
        return Err(err("title", format!("A plan has at most {MAX_PRIORITIES} priorities")));
    }
    text("title", "a title for the priority", &p.title, 200, true)?;
    text("detail", "the detail", &p.detail, 4_000, false)
}

/// Checks an activity against the plan and the cluster's current members.
pub fn check_activity(plan: &Plan, a: &Activity, members: &[Urn], catalogue: &Catalogue) -> Result<(), PlanError> {
    if plan.activities.len() >= MAX_ACTIVITIES {
        return Err(err("title", format!("A plan has at most {MAX_ACTIVITIES} activities")));
    }
    text("title", "a title for the activity", &a.title, 200, true)?;
    if a.priority >= plan.priorities.len() {
        return Err(err(
            "priority",
            "Choose the priority this activity serves (add a priority first)",
        ));
    }
    if !members.contains(&a.lead_school) {
        return Err(err("lead_school", "The lead school must be a school in this cluster"));
    }
    if !STRANDS.iter().any(|(c, _)| *c == a.strand) {
        return Err(err("strand", "Choose a strand from the list"));
    }
    if let Some(outside) = a.participating.iter().find(|u| !members.contains(u)) {
        return Err(err(
            "participating",
            format!("School {outside} is not in this cluster: only member schools can take part"),
        ));
    }
    text(
        "funding_stream",
        "the funding stream the budget comes from",
        &a.funding_stream,
        200,
        true,
    )?;
    if a.budget.is_negative() {
        return Err(err("budget", "The budget must be £0 or more"));
    }
    if a.ends_on < a.starts_on {
        return Err(err("ends_on", "The end date must be on or after the start date"));
    }
    text(
        "success_criteria",
        "the success criteria",
        &a.success_criteria,
        4_000,
        true,
    )?;
    if let Some(m) = &a.measure
        && catalogue.get(m).is_none()
    {
        return Err(err("measure", "Choose a measure from the list"));
    }
    Ok(())
}

/// Checks a target against the plan, the cluster's members and the measure catalogue.
pub fn check_plan_target(plan: &Plan, t: &Target, members: &[Urn], catalogue: &Catalogue) -> Result<(), PlanError> {
    if plan.targets.len() >= MAX_TARGETS {
        return Err(err("measure", format!("A plan has at most {MAX_TARGETS} targets")));
    }
    let Some(def) = catalogue.get(&t.measure) else {
        return Err(err("measure", "Choose a measure from the list"));
    };
    if let TargetLevel::School(urn) = t.level
        && !members.contains(&urn)
    {
        return Err(err(
            "level",
            "A school-level target must be for a school in this cluster",
        ));
    }
    check_target(t, def.unit, def.higher_is_better).map_err(|e| err(e.field(), capital(&e.to_string())))?;
    if plan
        .targets
        .iter()
        .any(|o| o.measure == t.measure && o.group == t.group && o.level == t.level)
    {
        return Err(err(
            "measure",
            "The plan already has a target for this measure, group and school: change that one instead",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::PupilGroup;
    use super::super::metrics::{Number, default_measures};
    use super::*;

    fn urn(n: u32) -> Urn {
        Urn::from_u32(n).unwrap()
    }
    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn activity() -> Activity {
        Activity {
            title: "Reading recovery in Year 3".into(),
            priority: 0,
            lead_school: urn(120001),
            strand: "tailored".into(),
            participating: vec![urn(120001), urn(120002)],
            funding_stream: "Tailored (primary)".into(),
            budget: Money::from_pence(1_250_000),
            starts_on: day("2024-09-01"),
            ends_on: day("2025-07-18"),
            success_criteria: "FSM pupils' KS2 reading at the expected standard up 5 points".into(),
            measure: Some("ks2_rwm_expected".into()),
        }
    }

    #[test]
    fn each_rule_names_its_field() {
        let cat = Catalogue::new(default_measures());
        let members = [urn(120001), urn(120002)];
        let mut plan = Plan::new(ClusterId(1), AcademicYear::parse("202425").unwrap());
        assert_eq!(
            check_activity(&plan, &activity(), &members, &cat).unwrap_err().field,
            "priority"
        );
        let p = Priority {
            title: "Close the FSM gap in reading".into(),
            detail: String::new(),
        };
        check_priority(&plan, &p).unwrap();
        plan.priorities.push(p);
        check_activity(&plan, &activity(), &members, &cat).unwrap();
        let cases: Vec<(Activity, &str)> = vec![
            (
                Activity {
                    title: " ".into(),
                    ..activity()
                },
                "title",
            ),
            (
                Activity {
                    lead_school: urn(130000),
                    ..activity()
                },
                "lead_school",
            ),
            (
                Activity {
                    strand: "fun".into(),
                    ..activity()
                },
                "strand",
            ),
            (
                Activity {
                    participating: vec![urn(130000)],
                    ..activity()
                },
                "participating",
            ),
            (
                Activity {
                    budget: Money::from_pence(-1),
                    ..activity()
                },
                "budget",
            ),
            (
                Activity {
                    ends_on: day("2024-08-31"),
                    ..activity()
                },
                "ends_on",
            ),
            (
                Activity {
                    success_criteria: String::new(),
                    ..activity()
                },
                "success_criteria",
            ),
            (
                Activity {
                    measure: Some("vibes".into()),
                    ..activity()
                },
                "measure",
            ),
        ];
        for (a, field) in cases {
            assert_eq!(check_activity(&plan, &a, &members, &cat).unwrap_err().field, field);
        }
        plan.activities.push(activity());
        plan.activities.push(activity());
        assert_eq!(plan.budget_total(), Some(Money::from_pence(2_500_000)));
        assert_eq!(strand_label("gt"), "Gifted and talented");
    }

    #[test]
    fn targets_are_checked_against_the_measure_and_the_plan() {
        let cat = Catalogue::new(default_measures());
        let members = [urn(120001)];
        let mut plan = Plan::new(ClusterId(1), AcademicYear::parse("202425").unwrap());
        let t = Target {
            measure: "persistent_absence".into(),
            group: PupilGroup::Fsm,
            level: TargetLevel::Cluster,
            baseline: Number::parse("24.5").unwrap(),
            baseline_year: AcademicYear::parse("202223").unwrap(),
            target: Number::parse("20").unwrap(),
            target_year: AcademicYear::parse("202425").unwrap(),
        };
        check_plan_target(&plan, &t, &members, &cat).unwrap();
        plan.targets.push(t.clone());
        assert_eq!(
            check_plan_target(&plan, &t, &members, &cat).unwrap_err().field,
            "measure"
        );
        let up = Target {
            target: Number::parse("30").unwrap(),
            group: PupilGroup::All,
            ..t.clone()
        };
        let e = check_plan_target(&plan, &up, &members, &cat).unwrap_err();
        assert_eq!(
            (e.field, e.message.as_str()),
            (
                "target",
                "The target must be below the baseline for a measure where lower is better"
            )
        );
        let elsewhere = Target {
            level: TargetLevel::School(urn(130000)),
            ..t
        };
        assert_eq!(
            check_plan_target(&plan, &elsewhere, &members, &cat).unwrap_err().field,
            "level"
        );
    }
}
