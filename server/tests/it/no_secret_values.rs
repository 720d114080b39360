//! Trailkeeper never reads or writes a secret's value: no code path may call `GetSecretValue`,
//! `BatchGetSecretValue` or `PutSecretValue`. This scans every Rust source of the server and the app (tests
//! excepted, which create secrets with values and never read them).

use std::path::{Path, PathBuf};

use crate::common::rust_sources;

#[test]
fn no_code_path_reads_a_secret_value() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let files: Vec<PathBuf> = ["server/src", "app/src"]
        .into_iter()
        .flat_map(|dir| rust_sources(&root.join(dir)))
        .collect();
    assert!(files.len() > 20, "the scan found the sources");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for forbidden in [
            "get_secret_value",
            "batch_get_secret_value",
            "GetSecretValueInput",
            "put_secret_value",
        ] {
            assert!(
                !text.contains(forbidden),
                "{} mentions {forbidden}: Trailkeeper must never read or write secret values",
                file.display()
            );
        }
    }
}
