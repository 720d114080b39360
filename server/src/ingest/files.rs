//! The local file source: `trailkeeper ingest PATH...` for backfills and for exports handed
//! to a reviewer. Directories are walked; each file's format is detected on its own.

use std::path::{Path, PathBuf};

use serde_json::Value;
use sqlx::PgPool;

use super::formats::{self, Found};
use super::normalise::normalise;
use super::record::Record;
use super::store::{self, EXCERPT_BYTES, Prepared, Rejection};

/// The service whose events Trailkeeper keeps; others in a file are counted and skipped.
pub const SECRETS_MANAGER: &str = "secretsmanager.amazonaws.com";
/// CloudTrail records are far smaller; a larger one is not a record to trust.
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;
/// Events stored per transaction.
const BATCH: usize = 5000;

/// What one file held and what became of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileSummary {
    pub path: PathBuf,
    /// The detected format, or why the file could not be read at all.
    pub format: Result<String, String>,
    pub records: u64,
    pub new: u64,
    pub duplicates: u64,
    /// Records of other services.
    pub skipped: u64,
    pub quarantined: u64,
}

/// Every file under `paths` (directories recursively, in name order).
pub fn files(paths: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for path in paths {
        walk(path, &mut found)?;
    }
    Ok(found)
}

fn walk(path: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?
            .map(|entry| entry.map(|entry| entry.path()))
            .collect::<Result<_, _>>()?;
        entries.sort();
        for entry in entries {
            walk(&entry, found)?;
        }
    } else {
        found.push(path.to_path_buf());
    }
    Ok(())
}

fn excerpt(text: &str) -> String {
    let mut end = text.len().min(EXCERPT_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

/// Reads, types and stores one file; a file that cannot be read is quarantined whole.
pub async fn ingest_file(pool: &PgPool, path: &Path) -> Result<FileSummary, sqlx::Error> {
    let source = path.display().to_string();
    let mut summary = FileSummary {
        path: path.to_path_buf(),
        format: Err("not read yet".into()),
        records: 0,
        new: 0,
        duplicates: 0,
        skipped: 0,
        quarantined: 0,
    };
    let contents = std::fs::read(path)
        .map_err(|error| format!("cannot be read: {error}"))
        .and_then(|bytes| formats::read(&bytes).map_err(|error| error.to_string()));
    let contents = match contents {
        Ok(contents) => contents,
        Err(reason) => {
            let rejection = Rejection {
                position: None,
                reason: reason.clone(),
                excerpt: None,
            };
            let stored = store::store(pool, &source, &[], &[rejection]).await?;
            summary.quarantined = stored.quarantined;
            summary.format = Err(reason);
            return Ok(summary);
        }
    };
    summary.format = Ok(format!(
        "{}{}",
        contents.format,
        if contents.gzip { ", gzip" } else { "" }
    ));
    let mut events = Vec::new();
    let mut rejected = Vec::new();
    if let Some(reason) = &contents.truncated {
        rejected.push(Rejection {
            position: Some("end of file".into()),
            reason: reason.clone(),
            excerpt: None,
        });
    }
    for found in contents.found {
        summary.records += 1;
        match found {
            Found::Rejected(position, reason) => rejected.push(Rejection {
                position: Some(position.to_string()),
                reason,
                excerpt: None,
            }),
            Found::Record(position, raw) => match prepare(raw) {
                Ok(Some(prepared)) => events.push(prepared),
                Ok(None) => summary.skipped += 1,
                Err((reason, text)) => rejected.push(Rejection {
                    position: Some(position.to_string()),
                    reason,
                    excerpt: Some(excerpt(&text)),
                }),
            },
        }
        if events.len() >= BATCH {
            add(
                &mut summary,
                store::store(pool, &source, &events, &rejected).await?,
            );
            events.clear();
            rejected.clear();
        }
    }
    if !events.is_empty() || !rejected.is_empty() {
        add(
            &mut summary,
            store::store(pool, &source, &events, &rejected).await?,
        );
    }
    Ok(summary)
}

fn add(summary: &mut FileSummary, stored: store::Stored) {
    summary.new += stored.new;
    summary.duplicates += stored.duplicates;
    summary.quarantined += stored.quarantined;
}

/// A record to store, `None` for another service's, or why it cannot be stored (with its
/// text for the quarantine).
fn prepare(raw: Value) -> Result<Option<Prepared>, (String, String)> {
    let text = raw.to_string();
    if text.len() > MAX_RECORD_BYTES {
        return Err((
            format!(
                "the record is {} bytes, over the {MAX_RECORD_BYTES}-byte limit",
                text.len()
            ),
            text,
        ));
    }
    // PostgreSQL stores no NUL character, in text or in jsonb.
    if text.contains("\\u0000") {
        return Err(("the record contains a NUL character".into(), text));
    }
    let record = Record::parse(&raw).map_err(|reason| (reason, text.clone()))?;
    if record.event_source != SECRETS_MANAGER {
        return Ok(None);
    }
    let normalised = normalise(&record);
    Ok(Some(Prepared {
        record,
        normalised,
        raw,
    }))
}
