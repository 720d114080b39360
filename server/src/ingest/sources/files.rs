//! The local file source: `trailkeeper ingest PATH...` for backfills and for exports handed
//! to a reviewer. Directories are walked; each file's format is detected on its own. Files
//! have no checkpoint: reading one again stores nothing twice.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use futures::StreamExt;
use sqlx::PgPool;

use super::{EventSource, Report, SourceError};
use crate::ingest::formats;
use crate::ingest::load::{Summary, Totals, Unit, prepare, store_unit};

/// Files and directories given on the command line.
pub struct Files {
    files: Vec<PathBuf>,
}

impl Files {
    /// Every file under `paths` (directories recursively, in name order); a path that does
    /// not exist is an error before anything is read.
    pub fn new(paths: &[PathBuf]) -> Result<Self, SourceError> {
        let mut files = Vec::new();
        for path in paths {
            walk(path, &mut files).map_err(|error| SourceError::Io {
                path: path.clone(),
                error,
            })?;
        }
        Ok(Files { files })
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// Files stored at once. Files have no checkpoint, so their order does not matter, and
/// two at a time keep two PostgreSQL backends (and the parsing) busy; more would contend on
/// a small machine.
const AT_ONCE: usize = 2;

fn walk(path: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?
            .map(|entry| entry.map(|entry| entry.path()))
            .collect::<Result<_, _>>()?;
        entries.sort();
        for entry in entries {
            walk(&entry, found)?;
        }
    } else if path.exists() {
        found.push(path.to_path_buf());
    } else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "it does not exist",
        ));
    }
    Ok(())
}

#[async_trait]
impl EventSource for Files {
    fn name(&self) -> String {
        format!("{} local files", self.files.len())
    }

    /// Files are read and typed on blocking threads and stored `AT_ONCE` at a time; the
    /// reports come in the files' order.
    async fn poll(&self, pool: &PgPool, report: Report<'_>) -> Result<Totals, SourceError> {
        let mut stored = futures::stream::iter(self.files.iter().cloned())
            .map(|path| async move {
                let unit = tokio::task::spawn_blocking(move || read_file(&path))
                    .await
                    .expect("reading a file does not panic");
                store_unit(pool, unit, None).await
            })
            .buffered(AT_ONCE);
        let mut totals = Totals::default();
        while let Some(summary) = stored.next().await {
            let summary = summary?;
            totals.add(&summary);
            report(&summary);
        }
        Ok(totals)
    }
}

/// Reads and types one file; a file that cannot be read becomes a unit quarantined whole.
fn read_file(path: &Path) -> Unit {
    let contents = std::fs::read(path)
        .map_err(|error| format!("cannot be read: {error}"))
        .and_then(|bytes| formats::read(&bytes).map_err(|error| error.to_string()));
    prepare(&path.display().to_string(), contents)
}

/// Reads, types and stores one file.
pub async fn ingest_file(pool: &PgPool, path: &Path) -> Result<Summary, sqlx::Error> {
    store_unit(pool, read_file(path), None).await
}
