//! Builds check static SQL against the query data committed in `.sqlx/`; this checks that
//! data against the migrated schema, so a migration that changes what a query reads or
//! returns fails here, naming the query, until `make sqlx-prepare` refreshes it.

use std::path::Path;

use serde_json::Value;
use sqlx::{Executor, PgPool};

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn the_committed_query_data_is_what_the_migrated_schema_describes(pool: PgPool) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.sqlx");
    let mut checked = 0;
    let mut stale = Vec::new();
    for entry in std::fs::read_dir(&dir).expect(".sqlx/ is in the tree") {
        let path = entry.expect("a readable .sqlx/ entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let data: Value = serde_json::from_slice(&std::fs::read(&path).expect("readable"))
            .unwrap_or_else(|error| panic!("{name} is not JSON: {error}"));
        let query = data["query"].as_str().expect("the query's text");
        // What the query macros themselves ask PostgreSQL when they build online.
        match pool.describe(query).await {
            Ok(described) => {
                if serde_json::to_value(&described).unwrap() != data["describe"] {
                    stale.push(format!("{name}: columns, parameters or nullability differ"));
                }
            }
            Err(error) => stale.push(format!("{name}: {error}")),
        }
        checked += 1;
    }
    assert!(checked > 0, "no query data in {}", dir.display());
    assert!(
        stale.is_empty(),
        "the query data in .sqlx/ no longer matches the migrations; run `make sqlx-prepare`:\n{}",
        stale.join("\n")
    );
}
