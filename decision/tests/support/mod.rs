//! Where the example workloads and their reports live.

use std::path::PathBuf;

/// The workspace's root folder.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every example spec, by file stem, in name order.
#[allow(dead_code)] // not every test binary lists the examples
pub fn examples() -> Vec<(String, PathBuf)> {
    let mut found: Vec<(String, PathBuf)> = std::fs::read_dir(root().join("examples/workloads"))
        .expect("examples/workloads exists")
        .map(|entry| entry.expect("readable folder").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .map(|path| {
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            (stem, path)
        })
        .collect();
    found.sort();
    found
}
