//! A workload spec for `polyroute decide`: parsing and validation, then what the command does
//! with a valid spec: the recommendation, every report format and the emitted config, which
//! the router's config parser must accept.

#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use polyroute::Config;
use polyroute_decision::emit::{emit, Backends};
use polyroute_decision::render::{render, Format};
use polyroute_decision::{recommend, Spec};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let spec = match Spec::from_yaml_str(text) {
        Ok(spec) => spec,
        Err(err) => {
            for problem in err.problems() {
                let _ = problem.to_string();
            }
            let _ = err.to_string();
            return;
        }
    };
    let recommendation = recommend(&spec);
    for format in [
        Format::Table,
        Format::Markdown,
        Format::Json,
        Format::Mermaid,
    ] {
        let _ = render(&spec, &recommendation, format);
    }
    let _ = emit(&spec, &recommendation, Backends::Production);
    let emitted = emit(&spec, &recommendation, Backends::Embedded);
    if let Err(err) =
        Config::from_toml_str_with_env(&emitted, "fuzz-base-does-not-exist", &BTreeMap::new())
    {
        panic!("the emitted config does not parse: {err}\n{emitted}");
    }
});
