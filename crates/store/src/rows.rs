//! Mapping between database rows and domain types, in one place.

use crate::db_err;
use domain::NaiveDate;
use domain::geo::Location;
use domain::ids::{Laestab, Urn};
use domain::school::{AreaRef, Census, Governance, Phase, School, SchoolStatus, SchoolWithCensus, Tenths};
use service::store::{StoreError, StoreResult};
use sqlx::Row;
use sqlx::any::AnyRow;

/// The school columns (alias `s`) then the latest census (alias `c`), in the order
/// [`school_from_row`] reads them.
pub(crate) const SCHOOL_COLUMNS: &str = "s.urn, s.laestab, s.name, s.phase, s.establishment_type, \
    s.governance, s.status, s.opened_on, s.closed_on, s.sex, s.denomination, s.trust, s.postcode, \
    s.easting, s.northing, s.latitude_e6, s.longitude_e6, s.district_code, s.district_name, \
    s.constituency_code, s.constituency_name, s.ward_code, s.ward_name, s.urban_rural, \
    c.census_date, c.pupils, c.pupils_fte_tenths, c.fsm_count, c.fsm_pct_tenths, c.sen_count, \
    c.eal_count, c.stage_early_years, c.stage_nursery, c.stage_ks1, c.stage_ks2, c.stage_ks3, \
    c.stage_ks4, c.stage_ks5";

/// Joins each school (alias `s`) to its latest census (alias `c`).
pub(crate) const LATEST_CENSUS_JOIN: &str = "LEFT JOIN census c ON c.authority_id = s.authority_id \
    AND c.urn = s.urn AND c.census_date = s.latest_census_date";

/// The census columns (alias `c`) in the order [`census_from_row`] reads them.
pub(crate) const CENSUS_COLUMNS: &str = "c.census_date, c.pupils, c.pupils_fte_tenths, c.fsm_count, \
    c.fsm_pct_tenths, c.sen_count, c.eal_count, c.stage_early_years, c.stage_nursery, c.stage_ks1, \
    c.stage_ks2, c.stage_ks3, c.stage_ks4, c.stage_ks5";

fn corrupt(what: &str, value: impl std::fmt::Display) -> StoreError {
    StoreError::Other(format!("stored {what} is not valid: {value}"))
}

pub(crate) fn opt_i64(row: &AnyRow, i: usize) -> StoreResult<Option<i64>> {
    row.try_get::<Option<i64>, _>(i).map_err(db_err)
}
pub(crate) fn opt_text(row: &AnyRow, i: usize) -> StoreResult<Option<String>> {
    row.try_get::<Option<String>, _>(i).map_err(db_err)
}
pub(crate) fn text(row: &AnyRow, i: usize) -> StoreResult<String> {
    row.try_get::<String, _>(i).map_err(db_err)
}
pub(crate) fn int(row: &AnyRow, i: usize) -> StoreResult<i64> {
    row.try_get::<i64, _>(i).map_err(db_err)
}
/// Reads degrees stored as integer millionths.
fn opt_degrees(row: &AnyRow, i: usize) -> StoreResult<Option<f64>> {
    Ok(opt_i64(row, i)?.map(|v| v as f64 / 1e6))
}

/// Degrees to integer millionths (about 0.1 m), for storage.
pub(crate) fn degrees_e6(d: f64) -> Option<i64> {
    let v = (d * 1e6).round();
    (v.is_finite() && v.abs() <= 360e6).then_some(v as i64)
}
fn opt_u32(row: &AnyRow, i: usize) -> StoreResult<Option<u32>> {
    opt_i64(row, i)?
        .map(|v| u32::try_from(v).map_err(|_| corrupt("count", v)))
        .transpose()
}

pub(crate) fn urn(v: i64) -> StoreResult<Urn> {
    u32::try_from(v)
        .ok()
        .and_then(|n| Urn::from_u32(n).ok())
        .ok_or_else(|| corrupt("URN", v))
}

pub(crate) fn date(s: &str) -> StoreResult<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| corrupt("date", s))
}

pub(crate) fn date_text(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

fn area(code: Option<String>, name: Option<String>) -> Option<AreaRef> {
    match (code, name) {
        (None, None) => None,
        (code, name) => Some(AreaRef {
            code: code.unwrap_or_default(),
            name: name.unwrap_or_default(),
        }),
    }
}

/// Reads [`SCHOOL_COLUMNS`] starting at column 0.
pub(crate) fn school_from_row(row: &AnyRow) -> StoreResult<SchoolWithCensus> {
    let laestab = opt_i64(row, 1)?
        .map(|v| Laestab::parse(&v.to_string()).map_err(|_| corrupt("LAESTAB", v)))
        .transpose()?;
    let phase_code = text(row, 3)?;
    let governance_code = text(row, 5)?;
    let status_code = text(row, 6)?;
    let location = match (opt_i64(row, 13)?, opt_i64(row, 14)?) {
        (Some(e), Some(n)) => Some(Location {
            easting: i32::try_from(e).map_err(|_| corrupt("easting", e))?,
            northing: i32::try_from(n).map_err(|_| corrupt("northing", n))?,
            latitude: opt_degrees(row, 15)?,
            longitude: opt_degrees(row, 16)?,
        }),
        _ => None,
    };
    let school = School {
        urn: urn(int(row, 0)?)?,
        laestab,
        name: text(row, 2)?,
        phase: Phase::from_code(&phase_code).ok_or_else(|| corrupt("phase", &phase_code))?,
        establishment_type: text(row, 4)?,
        governance: Governance::from_code(&governance_code).ok_or_else(|| corrupt("governance", &governance_code))?,
        status: SchoolStatus::from_code(&status_code).ok_or_else(|| corrupt("status", &status_code))?,
        opened_on: opt_text(row, 7)?.map(|d| date(&d)).transpose()?,
        closed_on: opt_text(row, 8)?.map(|d| date(&d)).transpose()?,
        sex: opt_text(row, 9)?,
        denomination: opt_text(row, 10)?,
        trust: opt_text(row, 11)?,
        postcode: opt_text(row, 12)?,
        location,
        district: area(opt_text(row, 17)?, opt_text(row, 18)?),
        constituency: area(opt_text(row, 19)?, opt_text(row, 20)?),
        ward: area(opt_text(row, 21)?, opt_text(row, 22)?),
        urban_rural: opt_text(row, 23)?,
    };
    let census = census_from_row(row, 24)?;
    Ok(SchoolWithCensus { school, census })
}

/// Reads [`CENSUS_COLUMNS`] starting at column `at`; `None` when there is no census.
pub(crate) fn census_from_row(row: &AnyRow, at: usize) -> StoreResult<Option<Census>> {
    let Some(day) = opt_text(row, at)? else {
        return Ok(None);
    };
    let pupils = opt_u32(row, at + 1)?.ok_or_else(|| corrupt("pupils", "null"))?;
    let mut stages = [None; 7];
    for (k, stage) in stages.iter_mut().enumerate() {
        *stage = opt_u32(row, at + 7 + k)?;
    }
    Ok(Some(Census {
        census_date: date(&day)?,
        pupils,
        pupils_fte: opt_i64(row, at + 2)?.map(Tenths),
        fsm_count: opt_u32(row, at + 3)?,
        fsm_pct: opt_i64(row, at + 4)?.map(Tenths),
        sen_count: opt_u32(row, at + 5)?,
        eal_count: opt_u32(row, at + 6)?,
        stages,
    }))
}
