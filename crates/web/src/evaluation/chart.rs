//! Small line charts drawn as inline SVG from our own numbers: no script, no library, no CDN.
//! The template (templates/evaluation/chart.html) draws what this module lays out; every chart
//! has a title and a text description, and the same figures are always in a table beside it.

use domain::evaluation::AcademicYear;
use domain::evaluation::one_decimal;

/// One line: its name, colour, whether it is dashed, the SVG points and the dots with titles.
#[derive(Debug)]
pub(crate) struct Line {
    pub label: String,
    pub colour: &'static str,
    pub dash: bool,
    pub points: String,
    pub dots: Vec<Dot>,
}

#[derive(Debug)]
pub(crate) struct Dot {
    pub x: String,
    pub y: String,
    pub title: String,
}

#[derive(Debug)]
pub(crate) struct Tick {
    pub pos: String,
    pub label: String,
}

#[derive(Debug)]
pub(crate) struct Chart {
    pub id: String,
    pub title: String,
    pub description: String,
    pub width: u32,
    pub height: u32,
    pub left: u32,
    pub right: u32,
    pub bottom: u32,
    pub lines: Vec<Line>,
    pub x_ticks: Vec<Tick>,
    pub y_ticks: Vec<Tick>,
}

pub(crate) const CLUSTER: &str = "#1d70b8";
pub(crate) const REST: &str = "#f47738";
pub(crate) const NATIONAL: &str = "#505a5f";

/// A chart of yearly series (`None` where there is no figure: the line breaks into dots).
pub(crate) fn line_chart(
    id: &str,
    title: &str,
    years: &[AcademicYear],
    series: &[(&str, &'static str, bool, Vec<Option<f64>>)],
    suffix: &str,
) -> Option<Chart> {
    let values: Vec<f64> = series
        .iter()
        .flat_map(|(_, _, _, v)| v.iter().flatten().copied())
        .collect();
    if years.is_empty() || values.is_empty() {
        return None;
    }
    let (width, height) = (640u32, 260u32);
    let (left, right, top, bottom) = (56u32, 596u32, 16u32, 224u32);
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    // A tidy range: a step of 1, 2, 5 × 10^k giving about four intervals.
    let span = (hi - lo).max(1.0);
    let raw = span / 4.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(mag * 10.0);
    let y0 = (lo / step).floor() * step;
    let y1 = ((hi / step).ceil() * step).max(y0 + step);
    let x = |i: usize| {
        if years.len() == 1 {
            f64::from(left + right) / 2.0
        } else {
            f64::from(left) + (f64::from(right - left)) * i as f64 / (years.len() - 1) as f64
        }
    };
    let y = |v: f64| f64::from(bottom) - (v - y0) / (y1 - y0) * f64::from(bottom - top);
    let coord = |c: f64| format!("{c:.1}");
    let lines = series
        .iter()
        .map(|(label, colour, dash, vals)| {
            let mut points = String::new();
            let mut dots = Vec::new();
            for (i, v) in vals.iter().enumerate() {
                if let Some(v) = v {
                    if !points.is_empty() {
                        points.push(' ');
                    }
                    points.push_str(&format!("{},{}", coord(x(i)), coord(y(*v))));
                    dots.push(Dot {
                        x: coord(x(i)),
                        y: coord(y(*v)),
                        title: format!("{label}, {}: {}{suffix}", years[i], one_decimal(*v)),
                    });
                }
            }
            Line {
                label: (*label).to_string(),
                colour,
                dash: *dash,
                points,
                dots,
            }
        })
        .collect();
    let mut y_ticks = Vec::new();
    let mut v = y0;
    while v <= y1 + step / 2.0 {
        y_ticks.push(Tick {
            pos: coord(y(v)),
            label: format!("{}{suffix}", trim(v)),
        });
        v += step;
    }
    let x_ticks = years
        .iter()
        .enumerate()
        .map(|(i, yr)| Tick {
            pos: coord(x(i)),
            label: yr.to_string(),
        })
        .collect();
    let names: Vec<&str> = series.iter().map(|(l, _, _, _)| *l).collect();
    Some(Chart {
        id: id.to_string(),
        title: title.to_string(),
        description: format!(
            "Line chart of {} from {} to {}; the same figures are in the table below.",
            names.join(", "),
            years[0],
            years[years.len() - 1]
        ),
        width,
        height,
        left,
        right,
        bottom,
        lines,
        x_ticks,
        y_ticks,
    })
}

fn trim(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map_or(s.clone(), str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_lay_out_their_points_and_ticks() {
        let years: Vec<AcademicYear> = (2021..2024).map(|y| AcademicYear::starting(y).unwrap()).collect();
        let c = line_chart(
            "c1",
            "KS2",
            &years,
            &[("Cluster", CLUSTER, false, vec![Some(50.0), None, Some(60.0)])],
            "%",
        )
        .unwrap();
        assert_eq!(c.lines[0].dots.len(), 2);
        assert_eq!(c.lines[0].points, "56.0,224.0 596.0,16.0");
        assert_eq!(c.y_ticks.first().map(|t| t.label.as_str()), Some("50%"));
        assert_eq!(c.y_ticks.last().map(|t| t.label.as_str()), Some("60%"));
        assert_eq!(c.x_ticks[1].label, "2022/23");
        assert!(line_chart("c", "t", &years, &[("x", CLUSTER, false, vec![None, None, None])], "").is_none());
    }
}
