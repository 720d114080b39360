//! Trailkeeper never reads a secret's value: no code path may call `GetSecretValue` or
//! `BatchGetSecretValue`. This scans every Rust source of the server and the app (tests
//! excepted, which create secrets with values and never read them).

use std::path::{Path, PathBuf};

fn sources(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, found);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn no_code_path_reads_a_secret_value() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut files = Vec::new();
    for dir in ["server/src", "app/src"] {
        sources(&root.join(dir), &mut files);
    }
    assert!(files.len() > 20, "the scan found the sources");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for forbidden in [
            "get_secret_value",
            "batch_get_secret_value",
            "GetSecretValueInput",
        ] {
            assert!(
                !text.contains(forbidden),
                "{} mentions {forbidden}: Trailkeeper must never read secret values",
                file.display()
            );
        }
    }
}
