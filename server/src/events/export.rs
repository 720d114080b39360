//! Exports of the events an [`EventQuery`] matches, as CSV or JSON Lines, streamed: rows go
//! from PostgreSQL to the response as they are read, through a small bounded channel, so an
//! export of a million events holds a few rows in memory, not the million.

use axum::body::{Body, Bytes};
use chrono::{DateTime, Utc};
use futures::{SinkExt, StreamExt};
use sqlx::QueryBuilder;

use crate::db::Reader;
use trailkeeper_app::api::events::{EventQuery, EventRecord, EventSummary};

use super::read::{EVENT_COLUMNS, RecordRow, SecretMatch, push_filters, secret_arns};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    JsonLines,
}

impl ExportFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::JsonLines => "application/x-ndjson",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::JsonLines => "jsonl",
        }
    }
}

/// The CSV header: the derived fields, then nothing of the record itself (JSON Lines has
/// the whole record).
const CSV_HEADER: [&str; 20] = [
    "event_time",
    "event_id",
    "event_name",
    "event_type",
    "region",
    "account_id",
    "secret_arn",
    "secret_ref",
    "principal",
    "session_name",
    "principal_account",
    "principal_type",
    "source_ip",
    "source_service",
    "user_agent",
    "user_agent_family",
    "error_code",
    "error_message",
    "read_only",
    "ingested_from",
];

/// One CSV line for a person's spreadsheet: every cell made safe to open (see
/// [`spreadsheet_cell`]).
pub fn csv_line<S: AsRef<str>>(fields: &[S]) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer
        .write_record(
            fields
                .iter()
                .map(|field| spreadsheet_cell(field.as_ref()).into_owned()),
        )
        .expect("writing to memory cannot fail");
    writer.into_inner().unwrap_or_default()
}

/// A cell that a spreadsheet program would run as a formula (it starts with `=`, `+`, `-`,
/// `@`, a tab or a carriage return: OWASP's CSV injection) gets a leading `'`, so it shows
/// as the text it is. CloudTrail fields such as `userAgent` are whatever the caller sent.
pub fn spreadsheet_cell(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

fn csv_row(event: &EventSummary) -> Vec<u8> {
    let time = event.event_time.to_rfc3339();
    let read_only = event.read_only.map(|value| value.to_string());
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    let fields = [
        time,
        event.event_id.clone(),
        event.event_name.clone(),
        text(&event.event_type),
        text(&event.region),
        text(&event.account_id),
        text(&event.secret_arn),
        text(&event.secret_ref),
        text(&event.principal),
        text(&event.session_name),
        text(&event.principal_account),
        text(&event.principal_type),
        text(&event.source_ip),
        text(&event.source_service),
        text(&event.user_agent),
        text(&event.user_agent_family),
        text(&event.error_code),
        text(&event.error_message),
        read_only.unwrap_or_default(),
        event.ingested_from.clone(),
    ];
    csv_line(&fields)
}

/// A response body that streams every event matching `query` (its cursor and limit
/// ignored), newest first.
pub fn stream(reader: Reader, query: EventQuery, format: ExportFormat, now: DateTime<Utc>) -> Body {
    let (mut sender, receiver) =
        futures::channel::mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    tokio::spawn(async move {
        if format == ExportFormat::Csv
            && sender
                .send(Ok(Bytes::from(csv_line(&CSV_HEADER))))
                .await
                .is_err()
        {
            return;
        }
        let mut sql = QueryBuilder::new(format!("SELECT {EVENT_COLUMNS}, raw FROM events"));
        let query = EventQuery {
            limit: None,
            ..query.first_page()
        };
        let looked_up = match reader.read().await {
            Ok(mut db) => secret_arns(&mut db, &query)
                .await
                .map(|secrets| (db, secrets)),
            Err(error) => Err(error),
        };
        let (mut db, secrets) = match looked_up {
            Ok(found) => found,
            Err(error) => {
                tracing::error!(%error, "an export could not look its secret up");
                let _ = sender
                    .send(Err(std::io::Error::other("reading the events failed")))
                    .await;
                return;
            }
        };
        push_filters(&mut sql, &query, now, &secrets, SecretMatch::Either);
        sql.push(" ORDER BY event_time DESC, event_id DESC");
        let mut rows = sql
            .build_query_as::<RecordRow>()
            .persistent(false)
            .fetch(&mut *db);
        while let Some(row) = rows.next().await {
            let chunk = match row {
                Ok(row) => {
                    let record = EventRecord::from(row);
                    Ok(Bytes::from(match format {
                        ExportFormat::Csv => csv_row(&record.event),
                        ExportFormat::JsonLines => {
                            let mut line = serde_json::to_vec(&record).unwrap_or_default();
                            line.push(b'\n');
                            line
                        }
                    }))
                }
                Err(error) => {
                    // The client sees a cut-off download rather than a silently short one.
                    tracing::error!(%error, "an event export failed part way");
                    Err(std::io::Error::other("reading the events failed"))
                }
            };
            let failed = chunk.is_err();
            if sender.send(chunk).await.is_err() || failed {
                return;
            }
        }
    });
    Body::from_stream(receiver)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_a_spreadsheet_would_run_are_written_as_text() {
        let line = csv_line(&[
            "=HYPERLINK(\"http://evil.test\")",
            "+1",
            "-2+3",
            "@SUM(A1)",
            "\tx",
            "aws-cli/2.17",
        ]);
        assert_eq!(
            String::from_utf8(line).unwrap(),
            "\"'=HYPERLINK(\"\"http://evil.test\"\")\",'+1,'-2+3,'@SUM(A1),'\tx,aws-cli/2.17\n"
        );
    }
}
