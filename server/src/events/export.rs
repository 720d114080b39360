//! Exports of the events an [`EventQuery`] matches, as CSV or JSON Lines, streamed: rows go
//! from PostgreSQL to the response as they are read, through a small bounded channel, so an
//! export of a million events holds a few rows in memory, not the million.

use axum::body::{Body, Bytes};
use chrono::{DateTime, Utc};
use futures::{SinkExt, StreamExt};
use sqlx::{PgPool, QueryBuilder};
use trailkeeper_app::api::events::{EventQuery, EventRecord, EventSummary};

use super::read::{EVENT_COLUMNS, RecordRow, push_filters, secret_arns};

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

fn csv_line(fields: &[&str]) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer
        .write_record(fields)
        .expect("writing to memory cannot fail");
    writer.into_inner().unwrap_or_default()
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
    let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
    csv_line(&fields)
}

/// A response body that streams every event matching `query` (its cursor and limit
/// ignored), newest first.
pub fn stream(pool: PgPool, query: EventQuery, format: ExportFormat, now: DateTime<Utc>) -> Body {
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
        let secrets = match secret_arns(&pool, &query).await {
            Ok(secrets) => secrets,
            Err(error) => {
                tracing::error!(%error, "an export could not look its secret up");
                let _ = sender
                    .send(Err(std::io::Error::other("reading the events failed")))
                    .await;
                return;
            }
        };
        push_filters(&mut sql, &query, now, &secrets);
        sql.push(" ORDER BY event_time DESC, event_id DESC");
        let mut rows = sql
            .build_query_as::<RecordRow>()
            .persistent(false)
            .fetch(&pool);
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
