//! A Mermaid flowchart: each entity points to its system of record (solid) and to the
//! projections serving some of its accesses (dotted, labelled with the ops).

use polyroute_adapters::StoreKind;

use crate::recommend::Recommendation;

/// `recommendation` as a Mermaid `flowchart LR`.
pub fn render(recommendation: &Recommendation) -> String {
    let mut out = String::from("flowchart LR\n");
    let mut kinds: Vec<StoreKind> = Vec::new();
    for entity in &recommendation.entities {
        for kind in std::iter::once(entity.primary).chain(entity.projections()) {
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
    }
    for entity in &recommendation.entities {
        out.push_str(&format!("    e_{0}[\"{0}\"]\n", entity.name));
    }
    for kind in &kinds {
        out.push_str(&format!("    s_{0}[(\"{0}\")]\n", kind.as_str()));
    }
    for entity in &recommendation.entities {
        out.push_str(&format!(
            "    e_{} -->|system of record| s_{}\n",
            entity.name,
            entity.primary.as_str()
        ));
        for kind in entity.projections() {
            let mut ops: Vec<&str> = entity
                .routes
                .iter()
                .filter(|route| route.served_by == kind)
                .map(|route| route.op.name())
                .collect();
            ops.dedup();
            out.push_str(&format!(
                "    e_{} -.->|{}| s_{}\n",
                entity.name,
                ops.join(", "),
                kind.as_str()
            ));
        }
    }
    out
}
