//! `/api/v1/events/export.csv` and `/api/v1/events/export.jsonl`: the explorer's current filter as a
//! download, streamed, for auditors and admins; each export is recorded in the audit log
//! with who asked, from where, and the filter.

use crate::db::Reader;
use axum::extract::RawQuery;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use trailkeeper_app::api::events::EventQuery;

use super::api::Requester;
use crate::audit::{Action, Entry};
use crate::events::export::{ExportFormat, stream};
use trailkeeper_app::AppError;

/// Every event the filter matches, newest first, as CSV (the derived fields), streamed.
/// Takes the explorer's filters (see `EventFilterParameters`). Needs the auditor role;
/// recorded in the audit log.
#[utoipa::path(
    get,
    path = "/api/v1/events/export.csv",
    tag = "events",
    responses(
        (status = 200, description = "The events as CSV", content_type = "text/csv"),
        (status = 400, description = "A parameter is not valid", body = trailkeeper_app::error::ApiError),
        (status = 403, description = "The auditor role is needed", body = trailkeeper_app::error::ApiError),
    )
)]
pub async fn csv(
    reader: Reader,
    requester: Requester,
    query: RawQuery,
) -> Result<Response, AppError> {
    export(reader, requester, query, ExportFormat::Csv).await
}

/// Every event the filter matches, newest first, one JSON object per line with its derived
/// fields and its whole record, streamed. Takes the explorer's filters. Needs the auditor
/// role; recorded in the audit log.
#[utoipa::path(
    get,
    path = "/api/v1/events/export.jsonl",
    tag = "events",
    responses(
        (status = 200, description = "The events as JSON Lines", content_type = "application/x-ndjson"),
        (status = 400, description = "A parameter is not valid", body = trailkeeper_app::error::ApiError),
        (status = 403, description = "The auditor role is needed", body = trailkeeper_app::error::ApiError),
    )
)]
pub async fn json_lines(
    reader: Reader,
    requester: Requester,
    query: RawQuery,
) -> Result<Response, AppError> {
    export(reader, requester, query, ExportFormat::JsonLines).await
}

async fn export(
    reader: Reader,
    requester: Requester,
    RawQuery(query): RawQuery,
    format: ExportFormat,
) -> Result<Response, AppError> {
    let text = query.unwrap_or_default();
    let query = EventQuery::parse(&text)?;
    let now = chrono::Utc::now();
    Entry::new(
        &requester.name,
        Action::EventsExported,
        format!(
            "exported events as {}{}",
            format.extension(),
            if text.is_empty() {
                String::new()
            } else {
                format!(" matching {text}")
            }
        ),
    )
    .detail(json!({ "format": format.extension(), "query": query.first_page().to_query_string() }))
    .from_address(Some(&requester.address))
    // No export leaves without its audit entry.
    .record(reader.pool())
    .await?;
    let filename = format!(
        "trailkeeper-events-{}.{}",
        now.format("%Y%m%dT%H%M%SZ"),
        format.extension()
    );
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        stream(reader, query, format, now),
    )
        .into_response())
}
