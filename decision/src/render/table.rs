//! The terminal report: entities, accesses, rules and warnings in aligned columns.

use crate::capacity::human_rate;
use crate::recommend::Recommendation;
use crate::spec::format_duration;

use super::columns;

/// `recommendation` as plain-text tables.
pub fn render(recommendation: &Recommendation) -> String {
    let mut out = format!(
        "{}: {} entities\n\n",
        recommendation.name,
        recommendation.entities.len()
    );
    let rows: Vec<Vec<String>> = recommendation
        .entities
        .iter()
        .map(|entity| {
            let projections: Vec<String> = entity
                .projections()
                .iter()
                .map(|kind| kind.as_str().to_owned())
                .collect();
            let nodes: Vec<String> = entity
                .capacity
                .iter()
                .map(|estimate| format!("{} {}", estimate.nodes, estimate.kind))
                .collect();
            vec![
                entity.name.clone(),
                entity.primary.as_str().to_owned(),
                entity
                    .runner_up
                    .as_ref()
                    .map_or("-".to_owned(), |r| format!("{} ({:.2})", r.kind, r.score)),
                if projections.is_empty() {
                    "-".to_owned()
                } else {
                    projections.join(", ")
                },
                nodes.join(", "),
                entity.warnings.len().to_string(),
            ]
        })
        .collect();
    out.push_str(&columns(
        &[
            "ENTITY",
            "PRIMARY",
            "RUNNER-UP",
            "PROJECTIONS",
            "NODES",
            "WARNINGS",
        ],
        &rows,
    ));

    let mut accesses = Vec::new();
    for entity in &recommendation.entities {
        for route in &entity.routes {
            accesses.push(vec![
                entity.name.clone(),
                route.op.name().to_owned(),
                human_rate(route.rate.per_second),
                route.p99.map_or("-".to_owned(), format_duration),
                route.served_by.as_str().to_owned(),
                route.rule.unwrap_or("primary").to_owned(),
            ]);
        }
    }
    out.push_str("\nACCESSES\n");
    out.push_str(&columns(
        &["ENTITY", "OP", "RATE", "P99", "SERVED BY", "BY RULE"],
        &accesses,
    ));

    out.push_str("\nWHY\n");
    for entity in &recommendation.entities {
        out.push_str(&format!("{}:\n", entity.name));
        for fired in &entity.fired {
            out.push_str(&format!(
                "  {} ({}): {}\n",
                fired.rule,
                fired.kind.name(),
                fired.detail
            ));
        }
        if let Some(runner) = &entity.runner_up {
            out.push_str(&format!("  runner-up {}: {}\n", runner.kind, runner.why));
        }
    }

    let warnings: Vec<String> = recommendation
        .entities
        .iter()
        .flat_map(|entity| {
            entity
                .warnings
                .iter()
                .map(move |w| format!("  {} [{}]: {}\n", entity.name, w.rule, w.message))
        })
        .collect();
    out.push_str(&format!("\nWARNINGS ({})\n", warnings.len()));
    for warning in warnings {
        out.push_str(&warning);
    }
    out
}
