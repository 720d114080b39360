//! The local file source: `trailkeeper ingest PATH...` for backfills and for exports handed
//! to a reviewer. Directories are walked; each file's format is detected on its own. Files
//! have no checkpoint: reading one again stores nothing twice.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use futures::{SinkExt, StreamExt};
use sqlx::PgPool;

use super::{EventSource, Report, SourceError};
use crate::ingest::formats;
use crate::ingest::load::{Group, Summary, Totals, Unit, prepare, store_together, store_unit};

/// Files and directories given on the command line.
pub struct Files {
    files: Vec<PathBuf>,
    max_file_bytes: u64,
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
        Ok(Files {
            files,
            max_file_bytes: formats::DEFAULT_MAX_FILE_BYTES,
        })
    }

    /// Reads no file's content past `max_file_bytes` (see [`formats::read`]).
    pub fn with_max_file_bytes(self, max_file_bytes: u64) -> Self {
        Files {
            max_file_bytes,
            ..self
        }
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// Transactions at once: two keep two PostgreSQL backends busy; more would contend on a
/// small machine.
const STORING: usize = 2;

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

    /// Files are read and typed on blocking threads while the store takes them in groups
    /// of consecutive files, `STORING` transactions at once; the reports come in the files'
    /// order.
    async fn poll(&self, pool: &PgPool, report: Report<'_>) -> Result<Totals, SourceError> {
        let (groups, read) = futures::channel::mpsc::channel::<Vec<Unit>>(0);
        let reader = tokio::spawn(read_in_groups(
            self.files.clone(),
            self.max_file_bytes,
            groups,
        ));
        let mut stored = read
            .map(|group| store_together(pool, group))
            .buffered(STORING);
        let mut totals = Totals::default();
        while let Some(summaries) = stored.next().await {
            for summary in summaries? {
                totals.add(&summary);
                report(&summary);
            }
        }
        reader.await.expect("the reader does not panic");
        Ok(totals)
    }
}

/// Reads `files` (several at once, on blocking threads) and hands them to the store in
/// groups of consecutive files holding up to a batch of events: each transaction's fixed
/// costs are paid for thousands of events, not for the dozen a trail file often holds.
async fn read_in_groups(
    files: Vec<PathBuf>,
    max_file_bytes: u64,
    mut groups: futures::channel::mpsc::Sender<Vec<Unit>>,
) {
    let reading = std::thread::available_parallelism().map_or(2, |cores| cores.get().min(4));
    let mut units = futures::stream::iter(files)
        .map(|path| tokio::task::spawn_blocking(move || read_file(&path, max_file_bytes)))
        .buffered(reading);
    let mut group = Group::default();
    while let Some(unit) = units.next().await {
        let unit = unit.expect("reading a file does not panic");
        let events = unit.events();
        if let Some(full) = group.add(unit, events)
            && groups.send(full).await.is_err()
        {
            return;
        }
    }
    let group = group.finish();
    if !group.is_empty() {
        // The store stopped early only on an error, which it reports.
        let _ = groups.send(group).await;
    }
}

/// Reads and types one file; a file that cannot be read becomes a unit quarantined whole.
fn read_file(path: &Path, max_file_bytes: u64) -> Unit {
    let contents = read_at_most(path, max_file_bytes)
        .map_err(|error| format!("cannot be read: {error}"))
        .and_then(|bytes| formats::read(&bytes, max_file_bytes).map_err(|error| error.to_string()));
    prepare(&path.display().to_string(), contents)
}

/// Reads, types and stores one file.
pub async fn ingest_file(pool: &PgPool, path: &Path) -> Result<Summary, sqlx::Error> {
    store_unit(pool, read_file(path, formats::DEFAULT_MAX_FILE_BYTES), None).await
}

/// A file's bytes, but never more than one past the limit (enough to tell it is over).
fn read_at_most(path: &Path, max_file_bytes: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(max_file_bytes.saturating_add(1))
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}
