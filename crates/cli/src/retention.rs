//! `clusterwise retention run`: applies the casework retention schedule to every authority in the
//! database and reports what it removed (by pseudonymous id only: no pupil data is printed).

use anyhow::Result;
use domain::privacy::retention::RecordKind;
use service::Service;

/// Runs the schedule; prints a summary (or JSON) and returns how many records were removed.
pub(crate) async fn run(service: &Service, json: bool) -> Result<usize> {
    let reports = service.run_retention_everywhere().await?;
    let removed: usize = reports.iter().map(|r| r.removed.len()).sum();
    if json {
        let body = serde_json::json!({
            "removed": removed,
            "authorities": reports.iter().map(|r| serde_json::json!({
                "authority_id": r.authority.0,
                "run_on": r.today.to_string(),
                "removed": r.removed.iter().map(|x| serde_json::json!({
                    "kind": x.kind.code(), "id": x.id, "pupil": x.pupil.to_string(),
                    "school_urn": x.school.to_string(), "retention_from": x.event.to_string(),
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&body)?);
        return Ok(removed);
    }
    for r in &reports {
        println!(
            "Authority {} (run on {}): {} records removed.",
            r.authority.0,
            r.today,
            r.removed.len()
        );
        for kind in RecordKind::ALL {
            let n = r.count(kind);
            if n > 0 {
                println!("  {}: {n}", kind.label());
            }
        }
        for x in &r.removed {
            println!(
                "  - {} {} (pupil {}, school {}; retention ran from {})",
                x.kind.code(),
                x.id,
                x.pupil,
                x.school,
                x.event
            );
        }
    }
    if reports.is_empty() {
        println!("No authorities in this database: nothing to do.");
    }
    Ok(removed)
}
