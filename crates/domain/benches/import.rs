//! Parse + validate timing for the import benchmark (bench/import_bench.sh runs it beside
//! pandas): the median of N runs over each file, printed as JSON.

use domain::import::census::{CensusOptions, parse as parse_census};
use domain::import::gias::parse as parse_gias;
use std::time::Instant;

/// Times `f`; its result is freed after the clock stops, as pandas' timing frees the previous
/// DataFrame only after its next `read_csv` returns.
fn median_ms<T>(runs: usize, mut f: impl FnMut() -> T, rows_of: impl Fn(&T) -> usize) -> (f64, usize) {
    let mut times = Vec::with_capacity(runs);
    let mut rows = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let result = f();
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        rows = rows_of(&result);
        drop(result);
    }
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], rows)
}

fn main() {
    // `cargo bench` passes `--bench`; the first number on the line is the run count.
    let runs: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(10);
    let census = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../bench/data/census_england_2022_23.csv"
    ))
    .expect("run bench/make_data.py first");
    let gias = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../bench/data/edubasealldata_50k.csv"
    ))
    .expect("run bench/make_data.py first");
    let options = CensusOptions {
        census_date: domain::NaiveDate::from_ymd_opt(2023, 1, 19),
    };
    let (census_ms, census_rows) = median_ms(
        runs,
        || parse_census(&census, &options).expect("parses"),
        |p| {
            assert!(p.errors.is_empty());
            p.rows.len()
        },
    );
    let only_census = std::env::args().any(|a| a == "census");
    let (gias_ms, gias_rows) = median_ms(
        if only_census { 1 } else { runs },
        || parse_gias(&gias).expect("parses"),
        |p| {
            assert!(p.errors.is_empty(), "{:?}", p.errors.first());
            p.rows.len()
        },
    );
    println!(
        "{{\"census\":{{\"rows\":{census_rows},\"median_ms\":{census_ms:.2}}},\"gias\":{{\"rows\":{gias_rows},\"median_ms\":{gias_ms:.2}}}}}"
    );
}
