//! Parse + validate timing for the import benchmark (bench/import_bench.sh runs it beside
//! pandas): the median of N runs over each file, with the file already in memory, printed as JSON.
//! `cargo bench -p domain --bench import -- RUNS [census|gias]`.

use domain::import::census::{CensusOptions, parse as parse_census};
use domain::import::gias::parse as parse_gias;
use std::time::Instant;

/// The same allocator as the `clusterwise` binary, so the figures are the product's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Times `f`; its result is freed after the clock stops, as pandas' timing frees the previous
/// DataFrame only after its next `read_csv` returns. Returns (median, fastest) in ms and rows.
fn time_ms<T>(runs: usize, mut f: impl FnMut() -> T, rows_of: impl Fn(&T) -> usize) -> (f64, f64, usize) {
    let mut times = Vec::with_capacity(runs);
    let mut rows = 0;
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let result = f();
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        rows = rows_of(&result);
        drop(result);
    }
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], times[0], rows)
}

fn read(name: &str) -> Vec<u8> {
    let path = format!("{}/../../bench/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e} (run bench/make_data.py first)"))
}

fn main() {
    // `cargo bench` passes `--bench`; the first number is the run count, a word picks one file.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runs: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(15);
    let only = |kind: &str| !args.iter().any(|a| a == "census" || a == "gias") || args.iter().any(|a| a == kind);
    let mut out = Vec::new();
    if only("census") {
        let census = read("census_england_2022_23.csv");
        let options = CensusOptions {
            census_date: domain::NaiveDate::from_ymd_opt(2023, 1, 19),
        };
        let (median, fastest, rows) = time_ms(
            runs,
            || parse_census(&census, &options).expect("parses"),
            |p| {
                assert!(p.errors.is_empty(), "{:?}", p.errors.first());
                p.rows.len()
            },
        );
        out.push(format!(
            "\"census\":{{\"rows\":{rows},\"median_ms\":{median:.2},\"fastest_ms\":{fastest:.2}}}"
        ));
    }
    if only("gias") {
        let gias = read("edubasealldata_50k.csv");
        let (median, fastest, rows) = time_ms(
            runs,
            || parse_gias(&gias).expect("parses"),
            |p| {
                assert!(p.errors.is_empty(), "{:?}", p.errors.first());
                p.rows.len()
            },
        );
        out.push(format!(
            "\"gias\":{{\"rows\":{rows},\"median_ms\":{median:.2},\"fastest_ms\":{fastest:.2}}}"
        ));
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("{{\"runs\":{runs},\"threads\":{threads},{}}}", out.join(","));
}
