//! One SVG per scenario: median latency against size, both axes logarithmic, one line per side
//! and query.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::anyhow;
use plotters::prelude::*;

use crate::measure::Mode;
use crate::ScenarioResult;

const COLORS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// Draws `scenario`'s medians to `file`.
pub fn latency_by_size(scenario: &ScenarioResult, file: &Path) -> anyhow::Result<()> {
    let mut lines: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for size in &scenario.sizes {
        for m in size.measurements.iter().filter(|m| m.mode == Mode::Closed) {
            lines
                .entry(format!("{} — {}", m.side, m.query))
                .or_default()
                .push((size.size as f64, m.summary.p50_us.max(0.01)));
        }
    }
    let xs = lines.values().flatten().map(|p| p.0);
    let ys = lines.values().flatten().map(|p| p.1);
    let (x_min, x_max) = bounds(xs);
    let (y_min, y_max) = bounds(ys);
    let root = SVGBackend::new(file, (900, 560)).into_drawing_area();
    let draw = |e: &dyn std::fmt::Display| anyhow!("cannot draw {}: {e}", file.display());
    root.fill(&WHITE).map_err(|e| draw(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("{} — median latency by size", scenario.name),
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(
            (x_min / 2.0..x_max * 2.0).log_scale(),
            (y_min / 2.0..y_max * 2.0).log_scale(),
        )
        .map_err(|e| draw(&e))?;
    chart
        .configure_mesh()
        .x_desc(scenario.unit.as_str())
        .y_desc("p50 latency")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| crate::report::tables::latency(*y))
        .draw()
        .map_err(|e| draw(&e))?;
    for (i, (label, points)) in lines.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
            .map_err(|e| draw(&e))?
            .label(label.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
        chart
            .draw_series(points.iter().map(|p| Circle::new(*p, 3, color.filled())))
            .map_err(|e| draw(&e))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(|e| draw(&e))?;
    root.present().map_err(|e| draw(&e))?;
    Ok(())
}

fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        (1.0, 10.0)
    } else {
        (lo.max(1e-3), hi.max(lo * 10.0))
    }
}
