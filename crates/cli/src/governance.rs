//! `clusterwise governance check`: evaluates a meeting record against a constitution and prints
//! the computed quorum and outcome of each item as JSON. File formats: docs/GOVERNANCE.md; the
//! files are read by `service::governance_file`.

use anyhow::{Context, Result, bail};
use domain::governance::GoverningModel;
use domain::governance::meeting::evaluate;
use serde::Serialize;
use service::governance_file::{MeetingRecord, parse_constitution, parse_meeting};
use std::path::Path;

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

/// Runs the check; returns the JSON text.
pub fn check(constitution_path: &Path, meeting_path: &Path) -> Result<String> {
    let read = |p: &Path| std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()));
    let c = parse_constitution(&read(constitution_path)?)
        .with_context(|| format!("{} is not a valid constitution file", constitution_path.display()))?;
    let MeetingRecord {
        seats,
        attendees,
        items,
    } = parse_meeting(&read(meeting_path)?)
        .with_context(|| format!("{} is not a valid meeting file", meeting_path.display()))?;
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
