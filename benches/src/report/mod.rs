//! The report of a run: Markdown tables, a JSON file of every measurement, and one SVG plot
//! per scenario (median latency against size, both axes logarithmic, one line per side and
//! query).
//!
//! The Markdown report keeps what people wrote: the runner replaces only the text between
//! `<!-- results:begin -->` and `<!-- results:end -->`.

mod machine;
mod plot;
mod tables;

use std::path::Path;

use anyhow::Context;

pub use machine::Machine;
pub use tables::tables;

use crate::RunResult;

const BEGIN: &str = "<!-- results:begin -->";
const END: &str = "<!-- results:end -->";

/// Writes the JSON of `result` to `json`, the plots to a folder beside `markdown` named after
/// it, and the results section of `markdown` (created with a stub around it if missing).
pub fn write(result: &RunResult, markdown: &Path, json: &Path) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(result)?;
    std::fs::write(json, text + "\n")
        .with_context(|| format!("cannot write {}", json.display()))?;
    let stem = markdown
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("benchmarks");
    let folder = markdown.with_file_name(stem);
    std::fs::create_dir_all(&folder)
        .with_context(|| format!("cannot create {}", folder.display()))?;
    let mut plots = Vec::new();
    for scenario in &result.scenarios {
        let file = folder.join(format!("{}.svg", scenario.name));
        plot::latency_by_size(scenario, &file)?;
        plots.push((
            scenario.name.clone(),
            format!("{stem}/{}.svg", scenario.name),
        ));
    }
    let section = format!("{BEGIN}\n{}\n{END}", tables::section(result, &plots));
    let existing = std::fs::read_to_string(markdown).unwrap_or_default();
    let updated = match (existing.find(BEGIN), existing.find(END)) {
        (Some(begin), Some(end)) if begin < end => {
            format!(
                "{}{section}{}",
                &existing[..begin],
                &existing[end + END.len()..]
            )
        }
        _ => format!("# Benchmarks\n\n{section}\n"),
    };
    std::fs::write(markdown, updated)
        .with_context(|| format!("cannot write {}", markdown.display()))
}
