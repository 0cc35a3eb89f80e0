//! Top-level sections the router does not read itself but passes on, checked only as a table
//! with `${NAME}` replaced, to the component that owns them: `[sidecar]` belongs to the HTTP
//! sidecar, which checks its keys and reports each problem with its path.
//!
//! Keeping the owner's section in the same file means one config per service, checked by one
//! command, while the router stays free of the sidecar's settings.

use std::fmt;

use toml::Value;

use super::walk::Walker;

/// The top-level sections passed through, by name.
pub const PASS_THROUGH_SECTIONS: &[&str] = &["sidecar"];

/// A passed-through section: its table as JSON, every string interpolated from the environment.
///
/// `Debug` shows the key names only: the values may hold secrets such as tokens.
#[derive(Clone, PartialEq)]
pub struct Section {
    json: serde_json::Value,
}

impl Section {
    /// The section's table as a JSON object.
    pub fn as_json(&self) -> &serde_json::Value {
        &self.json
    }
}

impl fmt::Debug for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<&str> = self
            .json
            .as_object()
            .map(|map| map.keys().map(String::as_str).collect())
            .unwrap_or_default();
        f.debug_struct("Section").field("keys", &keys).finish()
    }
}

/// Reads passed-through section `name`: it must be a table; its strings are interpolated.
pub(crate) fn parse_section(walker: &mut Walker<'_>, name: &str, value: &Value) -> Option<Section> {
    walker.table(name, value)?;
    let mut secrets = Vec::new();
    let json = walker.json(name, value, &mut secrets)?;
    Some(Section { json })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn a_section_is_interpolated_and_hidden_from_debug() {
        let env = BTreeMap::from([("TOKEN".to_owned(), "s3cret".to_owned())]);
        let mut walker = Walker::new(&env);
        let value: Value = toml::from_str("bind = \"127.0.0.1:1\"\ntoken = \"${TOKEN}\"").unwrap();
        let section = parse_section(&mut walker, "sidecar", &value).unwrap();
        assert_eq!(section.as_json()["token"], "s3cret");
        let debug = format!("{section:?}");
        assert!(
            debug.contains("token") && !debug.contains("s3cret"),
            "{debug}"
        );
    }

    #[test]
    fn the_config_passes_the_sidecar_section_through_and_still_rejects_strangers() {
        let base = "[stores.kv]\nkind = \"key_value\"\n[entities.s]\nstore = \"kv\"\n";
        let env = BTreeMap::new();
        let text = format!("{base}[sidecar]\nbind = \"127.0.0.1:1\"\n");
        let config = crate::Config::from_toml_str_with_env(&text, ".", &env).unwrap();
        assert_eq!(config.section("sidecar").unwrap()["bind"], "127.0.0.1:1");
        assert!(config.section("other").is_none());
        let text = format!("{base}[sidecars]\nbind = 1\n");
        let error = crate::Config::from_toml_str_with_env(&text, ".", &env).unwrap_err();
        let problem = &error.problems()[0];
        assert_eq!(problem.path, "sidecars");
        assert!(problem.to_string().contains("sidecar"), "{problem}");
        let text = format!("sidecar = 3\n{base}");
        let error = crate::Config::from_toml_str_with_env(&text, ".", &env).unwrap_err();
        assert_eq!(error.problems()[0].path, "sidecar");
    }

    #[test]
    fn a_section_must_be_a_table() {
        let env = BTreeMap::new();
        let mut walker = Walker::new(&env);
        assert!(parse_section(&mut walker, "sidecar", &Value::Integer(1)).is_none());
        let problems = walker.into_problems();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].path, "sidecar");
    }
}
