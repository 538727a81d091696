//! Infeasibility found before searching: which hard constraint cannot be met, where, and what
//! would relax it. Every check here is a proof that no valid map exists, never a guess.

use super::problem::Problem;
use super::{DesignError, DistrictRule, Infeasibility};

fn school_list(p: &Problem, schools: &[usize]) -> String {
    let mut names: Vec<String> = schools
        .iter()
        .take(4)
        .map(|&i| format!("{} ({})", p.schools[i].name, p.schools[i].urn))
        .collect();
    if schools.len() > 4 {
        names.push(format!("and {} more", schools.len() - 4));
    }
    names.join(", ")
}

fn describe_component(p: &Problem, units: &[usize]) -> String {
    let schools: Vec<usize> = units.iter().flat_map(|&u| p.units[u].schools.iter().copied()).collect();
    if schools.len() == 1 {
        format!("isolated school {}", school_list(p, &schools))
    } else {
        format!(
            "group of {} schools cut off from the rest: {}",
            schools.len(),
            school_list(p, &schools)
        )
    }
}

pub(crate) fn check(p: &Problem) -> Result<(), DesignError> {
    let mut found = Vec::new();
    let (min, max) = (p.min_pupils, p.max_pupils);
    let (a, b) = (p.min_clusters as u64, p.max_clusters as u64);

    for unit in &p.units {
        if unit.pupils > max {
            found.push(Infeasibility {
                constraint: "pupil ceiling",
                place: format!("schools that must stay together: {}", school_list(p, &unit.schools)),
                detail: format!("together they have {} pupils, above the ceiling of {max}", unit.pupils),
                relax: format!(
                    "raise the ceiling to at least {}, or release them from staying together",
                    unit.pupils
                ),
            });
        }
        if p.request.constraints.districts == DistrictRule::Hard && unit.districts.len() > 1 {
            found.push(Infeasibility {
                constraint: "district boundaries (hard)",
                place: format!("schools that must stay together: {}", school_list(p, &unit.schools)),
                detail: format!("they lie in {} districts", unit.districts.len()),
                relax: "make districts soft, or release them from staying together".into(),
            });
        }
        let mut locks: Vec<&str> = unit
            .schools
            .iter()
            .filter_map(|&i| p.schools[i].lock.as_deref())
            .collect();
        locks.sort_unstable();
        locks.dedup();
        if locks.len() > 1 {
            found.push(Infeasibility {
                constraint: "locked schools",
                place: format!("schools that must stay together: {}", school_list(p, &unit.schools)),
                detail: format!("they are locked to different clusters: {}", locks.join(", ")),
                relax: "lock them to one cluster, or release them from staying together".into(),
            });
        }
    }
    let total = p.total_pupils;
    if total < min * a {
        found.push(Infeasibility {
            constraint: "pupil floor × fewest clusters",
            place: "the whole map".into(),
            detail: format!("{total} pupils cannot fill {a} clusters of at least {min}"),
            relax: format!(
                "lower the floor to {} or the fewest clusters to {}",
                total / a.max(1),
                total / min.max(1)
            ),
        });
    }
    if total > max * b {
        found.push(Infeasibility {
            constraint: "pupil ceiling × most clusters",
            place: "the whole map".into(),
            detail: format!("{total} pupils do not fit in {b} clusters of at most {max}"),
            relax: format!(
                "raise the ceiling to {} or the most clusters to {}",
                total.div_ceil(b),
                total.div_ceil(max.max(1))
            ),
        });
    }
    let hub_units = p.units.iter().filter(|u| !u.hubs.is_empty()).count() as u64;
    if hub_units < a {
        found.push(Infeasibility {
            constraint: "a secondary school in every cluster",
            place: "the whole map".into(),
            detail: format!(
                "only {hub_units} separable groups hold a state-funded secondary or all-through school, fewer than the {a} clusters required"
            ),
            relax: format!("lower the fewest clusters to {hub_units}"),
        });
    }
    let mut locks: Vec<u32> = p.units.iter().filter_map(|u| u.lock).collect();
    locks.sort_unstable();
    locks.dedup();
    if locks.len() as u64 > b {
        found.push(Infeasibility {
            constraint: "locked schools",
            place: "the whole map".into(),
            detail: format!("{} different locked clusters but at most {b} clusters", locks.len()),
            relax: format!("raise the most clusters to {}", locks.len()),
        });
    }

    // Per component of the neighbour graph.
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); p.components];
    for (u, &c) in p.component.iter().enumerate() {
        members[c].push(u);
    }
    let (mut low_sum, mut high_sum) = (0u64, 0u64);
    let cut = if p.request.constraints.districts == DistrictRule::Hard {
        " (districts are hard, so each district is planned on its own)"
    } else {
        ""
    };
    for units in &members {
        let pupils: u64 = units.iter().map(|&u| p.units[u].pupils).sum();
        let hubs = units.iter().filter(|&&u| !p.units[u].hubs.is_empty()).count() as u64;
        let place = describe_component(p, units);
        if hubs == 0 {
            found.push(Infeasibility {
                constraint: "a secondary school in every cluster",
                place: place.clone(),
                detail: format!("no state-funded secondary school can reach them through the neighbour graph{cut}"),
                relax: "supply neighbour pairs linking them to a secondary, loosen edge pruning, make districts soft, or leave these schools out".into(),
            });
            continue;
        }
        if pupils < min {
            found.push(Infeasibility {
                constraint: "pupil floor",
                place: place.clone(),
                detail: format!("only {pupils} pupils, below the floor of {min}{cut}"),
                relax: format!("lower the floor to {pupils}, or link them to their neighbours"),
            });
            continue;
        }
        let low = pupils.div_ceil(max);
        let high = hubs.min(pupils / min);
        if low > high {
            found.push(Infeasibility {
                constraint: "pupil ceiling",
                place: place.clone(),
                detail: format!(
                    "{pupils} pupils need at least {low} clusters of at most {max}, but only {high} can be formed ({hubs} groups with a secondary, floor {min})"
                ),
                relax: format!("raise the ceiling to {}", pupils.div_ceil(high.max(1))),
            });
            continue;
        }
        low_sum += low;
        high_sum += high;
    }
    if found.is_empty() {
        if low_sum > b {
            found.push(Infeasibility {
                constraint: "most clusters",
                place: format!("{} separate parts of the neighbour graph", p.components),
                detail: format!("the parts need at least {low_sum} clusters between them{cut}"),
                relax: format!("raise the most clusters to {low_sum}"),
            });
        }
        if high_sum < a {
            found.push(Infeasibility {
                constraint: "fewest clusters",
                place: format!("{} separate parts of the neighbour graph", p.components),
                detail: format!("at most {high_sum} clusters can be formed between them"),
                relax: format!("lower the fewest clusters to {high_sum}"),
            });
        }
    }
    if found.is_empty() {
        Ok(())
    } else {
        Err(DesignError::Infeasible(found))
    }
}
