//! A router config file: parsing, `${NAME}` interpolation, every store's and entity's checks,
//! and the sidecar's section, as `polyroute check` reads a config before connecting.
//! Any text must give a config or a list of problems, never a panic.

#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use polyroute::Config;
use polyroute_sidecar::SidecarConfig;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let env = BTreeMap::from([
        ("HOST".to_owned(), "localhost".to_owned()),
        ("EMPTY".to_owned(), String::new()),
        ("TOKEN".to_owned(), "s3cret-token-value".to_owned()),
    ]);
    match Config::from_toml_str_with_env(text, "fuzz-base-does-not-exist", &env) {
        Ok(config) => {
            if let Err(err) = SidecarConfig::from_config(&config) {
                assert!(
                    !err.problems().is_empty(),
                    "a rejected sidecar section names no problem"
                );
                let _ = err.to_string();
            }
        }
        Err(err) => {
            // Every problem renders; a rejected config names at least one.
            for problem in err.problems() {
                let _ = problem.to_string();
            }
            let _ = err.to_string();
        }
    }
});
