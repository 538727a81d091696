//! The draft minutes, written from the meeting's record: who attended and for which school,
//! the quorum, each item's declarations, motion, votes and outcome, elections round by round,
//! and the actions with their owners. Restricted items are named only as restricted: the
//! minutes go to every governing body.

use super::business::{Evaluated, MeetingCtx};
use super::{person_roles, school_name};
use domain::NaiveDate;
use domain::governance::meeting::Attendance;
use domain::governance::{Decided, ElectionRound, ElectionStatus, RoundRecord, run_election};
use std::fmt::Write;

fn day(d: NaiveDate) -> String {
    d.format("%-d %B %Y").to_string()
}

pub(crate) fn draft(ctx: &MeetingCtx, ev: &Evaluated) -> String {
    let m = &ctx.record;
    let reg = &ctx.register;
    let name = |p| reg.name_of(p);
    let mut out = String::new();
    let _ = writeln!(out, "Minutes of the {} committee", ctx.cluster_name);
    let _ = writeln!(out, "{}", m.title);
    let place = if m.location.is_empty() {
        String::new()
    } else {
        format!(" at {}", m.location)
    };
    let _ = writeln!(out, "Held on {}{place}.", day(m.held_on));
    if let Some(v) = &ctx.version {
        let _ = writeln!(
            out,
            "Constitution: {} (version {}, in force from {}).",
            v.constitution.name,
            v.version,
            day(v.effective_from)
        );
    }
    let list = |status: Attendance| -> Vec<String> {
        m.attendance
            .iter()
            .filter(|a| a.status == status)
            .map(|a| {
                let capacity = match a.substitute_for {
                    Some(u) => format!("substitute for {}", school_name(&ctx.members, u)),
                    None => person_roles(reg, &ctx.members, a.person),
                };
                format!("{} ({capacity})", name(a.person))
            })
            .collect()
    };
    let _ = writeln!(out, "\nPresent:");
    for p in list(Attendance::Present) {
        let _ = writeln!(out, "- {p}");
    }
    let apologies = list(Attendance::Apologies);
    if !apologies.is_empty() {
        let _ = writeln!(out, "\nApologies:");
        for p in apologies {
            let _ = writeln!(out, "- {p}");
        }
    }
    let absent = list(Attendance::Absent);
    if !absent.is_empty() {
        let _ = writeln!(out, "\nAbsent:");
        for p in absent {
            let _ = writeln!(out, "- {p}");
        }
    }
    let q = ev.quorum;
    let _ = writeln!(
        out,
        "\nThe meeting was {}: {} of {} member schools represented by a voting member ({} needed).",
        if q.quorate { "quorate" } else { "not quorate" },
        q.present,
        ctx.members.len(),
        q.required
    );
    for (i, (item, r)) in m.items.iter().zip(&ev.items).enumerate() {
        let n = i + 1;
        if item.restricted {
            let _ = writeln!(
                out,
                "\n{n}. Restricted item. Its record is kept by the clerk and shown only to those entitled to see it."
            );
            continue;
        }
        let _ = writeln!(out, "\n{n}. {}", item.title);
        if !item.papers.is_empty() {
            let titles: Vec<&str> = item.papers.iter().map(|p| p.title.as_str()).collect();
            let _ = writeln!(out, "Papers: {}.", titles.join("; "));
        }
        for d in &item.declarations {
            let _ = writeln!(
                out,
                "{} declared an interest ({}){}.",
                name(d.person),
                d.interest,
                if d.withdraws {
                    " and left the meeting for this item"
                } else {
                    " and remained"
                }
            );
        }
        if !item.declarations.iter().any(|d| d.withdraws) && item.motion.is_none() {
            continue;
        }
        let _ = writeln!(
            out,
            "Quorum for this item: {} of {} needed ({}).",
            r.quorum.present,
            r.quorum.required,
            if r.quorum.quorate { "quorate" } else { "not quorate" }
        );
        if let Some(mo) = &item.motion {
            let _ = writeln!(
                out,
                "Motion: \"{}\", proposed by {} and seconded by {}.",
                mo.text,
                name(mo.proposer),
                name(mo.seconder)
            );
            match (item.recorded_outcome, r.outcome) {
                (Some(o), Some((_, t))) => {
                    let _ = writeln!(
                        out,
                        "Votes (one per school): {} for, {} against, {} abstaining. {}.",
                        t.for_votes,
                        t.against,
                        t.abstain,
                        o.label()
                    );
                }
                _ => {
                    let _ = writeln!(out, "No vote was recorded.");
                }
            }
        }
    }
    if !m.elections.is_empty() {
        let _ = writeln!(out, "\nElections");
        for e in &m.elections {
            let rounds: Vec<RoundRecord> = e
                .rounds
                .iter()
                .map(|r| RoundRecord {
                    ballots: r.ballots.clone(),
                    chair_pick: r.chair_pick,
                })
                .collect();
            let _ = writeln!(
                out,
                "{}: candidates {}; ties settled by {}.",
                e.office.label(),
                e.candidates.iter().map(|c| name(*c)).collect::<Vec<_>>().join(", "),
                e.tie_rule.describe()
            );
            let Ok((results, status)) = run_election(&e.candidates, &rounds, e.tie_rule) else {
                continue;
            };
            for r in results {
                let line = match &r.count {
                    ElectionRound::Elected { person, votes, cast } => {
                        format!("{} elected with {votes} of {cast} votes", name(*person))
                    }
                    ElectionRound::Eliminated { person, votes } => {
                        format!(
                            "{} had fewest votes ({votes}) and withdrew from the count",
                            name(*person)
                        )
                    }
                    ElectionRound::TieForFirst(tied) | ElectionRound::TieForLast(tied) => {
                        let names: Vec<String> = tied.iter().map(|p| name(*p)).collect();
                        match r.decision {
                            Some((p, true, by)) => format!(
                                "tie between {}; {} elected by {}",
                                names.join(" and "),
                                name(p),
                                how(by)
                            ),
                            Some((p, false, by)) => format!(
                                "tie for fewest votes between {}; {} withdrew by {}",
                                names.join(" and "),
                                name(p),
                                how(by)
                            ),
                            None => format!("tie between {}", names.join(" and ")),
                        }
                    }
                    ElectionRound::NoCandidates => "no candidates".into(),
                };
                let _ = writeln!(out, "- Round {}: {line}.", r.round);
            }
            match status {
                ElectionStatus::Elected { person, .. } => {
                    let _ = writeln!(out, "{} is elected {}.", name(person), e.office.label().to_lowercase());
                }
                _ => {
                    let _ = writeln!(out, "No one was elected.");
                }
            }
        }
    }
    if !m.actions.is_empty() {
        let _ = writeln!(out, "\nActions");
        for a in &m.actions {
            let _ = writeln!(out, "- {} (owner: {}; due {}).", a.text, name(a.owner), day(a.due_on));
        }
    }
    out
}

fn how(by: Decided) -> &'static str {
    match by {
        Decided::Lot => "drawing lots",
        Decided::Chair => "the chair's decision",
        Decided::Majority => "majority",
        Decided::Unopposed => "standing unopposed",
        Decided::FewestVotes => "fewest votes",
    }
}
