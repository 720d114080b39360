//! CloudTrail events as the explorer and the JSON API see them: the query that filters them
//! (it lives in the URL, so a view can be shared and exported), one page of them, a count per
//! hour or day over the range, and one event with its whole record.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::admin::TrailkeeperChange;
use super::query::{self, QueryError};
use crate::AppError;

/// One stored event with the fields Trailkeeper derived from its record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EventSummary {
    /// CloudTrail's `eventID`.
    pub event_id: String,
    pub event_time: DateTime<Utc>,
    pub event_name: String,
    /// `AwsApiCall`, `AwsServiceEvent`, …
    pub event_type: Option<String>,
    pub region: Option<String>,
    /// The account the event was delivered to.
    pub account_id: Option<String>,
    /// The secret as the record named it: a name, a partial or a full ARN.
    pub secret_ref: Option<String>,
    /// The inventory's ARN it resolved to.
    pub secret_arn: Option<String>,
    /// The caller: an assumed-role session as its role's ARN, an IAM user, an AWS service.
    pub principal: Option<String>,
    /// The assumed-role session's name, kept apart from the principal.
    pub session_name: Option<String>,
    /// The caller's account.
    pub principal_account: Option<String>,
    /// `AssumedRole`, `IAMUser`, `AWSService`, `Root`, …
    pub principal_type: Option<String>,
    pub source_ip: Option<String>,
    /// The AWS service that called, such as `lambda.amazonaws.com`.
    pub source_service: Option<String>,
    pub user_agent: Option<String>,
    /// `AWS SDK for Java`, `AWS CLI`, `AWS console`, …
    pub user_agent_family: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub read_only: Option<bool>,
    /// Where it was ingested from first: a file, an S3 object, LookupEvents.
    pub ingested_from: String,
}

/// One event and its whole CloudTrail record, as the API and the event page give it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EventRecord {
    #[serde(flatten)]
    pub event: EventSummary,
    /// The record exactly as CloudTrail wrote it.
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub raw: serde_json::Value,
    /// Made by a person through Trailkeeper (under its AWS role): who, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub through_trailkeeper: Option<TrailkeeperChange>,
}

/// The time span the explorer shows, ending now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TimeRange {
    LastHour,
    LastDay,
    LastWeek,
    LastMonth,
    LastQuarter,
    All,
}

impl TimeRange {
    pub const ALL: [TimeRange; 6] = [
        TimeRange::LastHour,
        TimeRange::LastDay,
        TimeRange::LastWeek,
        TimeRange::LastMonth,
        TimeRange::LastQuarter,
        TimeRange::All,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TimeRange::LastHour => "1h",
            TimeRange::LastDay => "24h",
            TimeRange::LastWeek => "7d",
            TimeRange::LastMonth => "30d",
            TimeRange::LastQuarter => "90d",
            TimeRange::All => "all",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            TimeRange::LastHour => "last hour",
            TimeRange::LastDay => "last 24 hours",
            TimeRange::LastWeek => "last 7 days",
            TimeRange::LastMonth => "last 30 days",
            TimeRange::LastQuarter => "last 90 days",
            TimeRange::All => "all time",
        }
    }

    pub fn span(self) -> Option<Duration> {
        match self {
            TimeRange::LastHour => Some(Duration::hours(1)),
            TimeRange::LastDay => Some(Duration::days(1)),
            TimeRange::LastWeek => Some(Duration::days(7)),
            TimeRange::LastMonth => Some(Duration::days(30)),
            TimeRange::LastQuarter => Some(Duration::days(90)),
            TimeRange::All => None,
        }
    }
}

/// Which events have an error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorFilter {
    /// Any error at all.
    Any,
    /// Only calls that succeeded.
    None,
    /// This error code.
    Code(String),
}

/// Reads or writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AccessKind {
    Read,
    Write,
}

/// Which events to show, newest first: the explorer's URL query, the API's query parameters
/// and the export's are all this.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EventQuery {
    /// A span ending now; `since`/`until` take its place when given.
    pub range: Option<TimeRange>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// A secret's name, partial ARN or ARN.
    pub secret: Option<String>,
    /// A principal's ARN, or part of it (or a session name).
    pub principal: Option<String>,
    pub event_name: Option<String>,
    /// An address or a CIDR block, such as `10.0.0.0/8`.
    pub source_ip: Option<String>,
    pub error: Option<ErrorFilter>,
    pub access: Option<AccessKind>,
    /// Part of the user agent.
    pub user_agent: Option<String>,
    pub account: Option<String>,
    pub region: Option<String>,
    pub event_id: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

impl EventQuery {
    /// Reads URL query parameters: `range` (`1h`, `24h`, `7d`, `30d`, `90d`, `all`), `since`,
    /// `until` (RFC 3339), `secret`, `principal`, `event_name`, `source_ip` (address or
    /// CIDR), `error_code` (`any`, `none` or a code), `access` (`read` or `write`),
    /// `user_agent`, `account`, `region`, `event_id`, `cursor`, `limit`. Empty values are
    /// ignored; a value a parameter does not accept is an error that names it.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<EventQuery, QueryError> {
        let mut query = EventQuery::default();
        for (name, value) in pairs {
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            let invalid = |accepted: &str| query::invalid(name, value, accepted);
            let text = Some(value.to_string());
            match name {
                "range" => {
                    query.range = Some(
                        TimeRange::ALL
                            .into_iter()
                            .find(|range| range.as_str() == value)
                            .ok_or_else(|| invalid("1h, 24h, 7d, 30d, 90d, all"))?,
                    )
                }
                "since" => query.since = Some(query::time(name, value)?),
                "until" => query.until = Some(query::time(name, value)?),
                "secret" => query.secret = text,
                "principal" => query.principal = text,
                "event_name" => query.event_name = text,
                "source_ip" => {
                    if !is_address_or_block(value) {
                        return Err(invalid(
                            "an IP address or a CIDR block such as 10.0.0.0/8 or 2001:db8::/48",
                        ));
                    }
                    query.source_ip = text
                }
                "error_code" => {
                    query.error = Some(match value {
                        "any" => ErrorFilter::Any,
                        "none" => ErrorFilter::None,
                        code => ErrorFilter::Code(code.to_string()),
                    })
                }
                "access" => {
                    query.access = Some(match value {
                        "read" => AccessKind::Read,
                        "write" => AccessKind::Write,
                        _ => return Err(invalid("read, write")),
                    })
                }
                "user_agent" => query.user_agent = text,
                "account" => query.account = text,
                "region" => query.region = text,
                "event_id" => query.event_id = text,
                "cursor" => query.cursor = text,
                "limit" => query.limit = Some(query::limit(name, value)?),
                _ => {}
            }
        }
        query::in_order(query.since, query.until)?;
        Ok(query)
    }

    /// Reads a URL query string (without the `?`), as [`EventQuery::from_pairs`] does.
    pub fn parse(text: &str) -> Result<EventQuery, QueryError> {
        EventQuery::from_pairs(query::pairs(text).iter().map(query::as_strs))
    }

    /// The URL query that [`EventQuery::parse`] reads back into this query.
    pub fn to_query_string(&self) -> String {
        let since = self.since.map(|time| time.to_rfc3339());
        let until = self.until.map(|time| time.to_rfc3339());
        let error = self.error.as_ref().map(|error| match error {
            ErrorFilter::Any => "any",
            ErrorFilter::None => "none",
            ErrorFilter::Code(code) => code.as_str(),
        });
        let access = self.access.map(|access| match access {
            AccessKind::Read => "read",
            AccessKind::Write => "write",
        });
        let limit = self.limit.map(|limit| limit.to_string());
        query::write([
            ("range", self.range.map(TimeRange::as_str)),
            ("since", since.as_deref()),
            ("until", until.as_deref()),
            ("secret", self.secret.as_deref()),
            ("principal", self.principal.as_deref()),
            ("event_name", self.event_name.as_deref()),
            ("source_ip", self.source_ip.as_deref()),
            ("error_code", error),
            ("access", access),
            ("user_agent", self.user_agent.as_deref()),
            ("account", self.account.as_deref()),
            ("region", self.region.as_deref()),
            ("event_id", self.event_id.as_deref()),
            ("cursor", self.cursor.as_deref()),
            ("limit", limit.as_deref()),
        ])
    }

    /// The same filters from the first page.
    pub fn first_page(&self) -> EventQuery {
        EventQuery {
            cursor: None,
            ..self.clone()
        }
    }

    /// The time bounds the query stands for at `now`: `since`/`until` when given, else the
    /// range ending now.
    pub fn bounds(&self, now: DateTime<Utc>) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        if self.since.is_some() || self.until.is_some() {
            return (self.since, self.until);
        }
        match self.range.and_then(TimeRange::span) {
            Some(span) => (Some(now - span), None),
            None => (None, None),
        }
    }
}

fn is_address_or_block(value: &str) -> bool {
    let (address, prefix) = match value.split_once('/') {
        Some((address, prefix)) => (address, Some(prefix)),
        None => (value, None),
    };
    let Ok(address) = address.parse::<std::net::IpAddr>() else {
        return false;
    };
    let most = if address.is_ipv4() { 32 } else { 128 };
    prefix.is_none_or(|prefix| prefix.parse::<u8>().is_ok_and(|bits| bits <= most))
}

/// How wide each bar of the histogram is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Bucket {
    Hour,
    Day,
}

impl Bucket {
    /// How long one bar spans.
    pub fn step(self) -> Duration {
        match self {
            Bucket::Hour => Duration::hours(1),
            Bucket::Day => Duration::days(1),
        }
    }
}

impl fmt::Display for Bucket {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Bucket::Hour => "hour",
            Bucket::Day => "day",
        })
    }
}

/// Matching events counted per hour or day, oldest first, between `from` and `to`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    pub bucket: Bucket,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// The start of each bucket that has events, and how many.
    pub bars: Vec<(DateTime<Utc>, i64)>,
}

impl Histogram {
    pub fn total(&self) -> i64 {
        self.bars.iter().map(|(_, count)| count).sum()
    }
}

/// One page of events: `next` continues it when there is more.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EventPage {
    pub items: Vec<EventRecord>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next: Option<String>,
}

/// The explorer's data: a page of events (without their records) and the histogram.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventListing {
    pub items: Vec<EventSummary>,
    pub next: Option<String>,
    pub histogram: Option<Histogram>,
}

/// Who used one secret over a period: what an audit review of a secret asks for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AccessReport {
    pub secret_arn: String,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// The busiest first.
    pub principals: Vec<PrincipalAccess>,
}

/// One principal's use of a secret over the report's period.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PrincipalAccess {
    /// The principal's ARN, or the AWS service that acted.
    pub principal: String,
    pub principal_account: Option<String>,
    pub events: i64,
    pub reads: i64,
    pub writes: i64,
    pub errors: i64,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
    /// Up to ten addresses (or calling services) it came from.
    pub sources: Vec<String>,
    /// Up to ten client families it used.
    pub user_agents: Vec<String>,
    pub error_codes: Vec<String>,
}

/// The access report of a secret (its ARN); `query` is an events query whose time range
/// (`range`, `since`, `until`) sets the period.
#[server(endpoint = "secret_access")]
pub async fn secret_access(
    #[server(default)] secret_arn: String,
    #[server(default)] query: String,
) -> Result<AccessReport, AppError> {
    let backend = super::backend_for::<SecretAccess>()?;
    let query = EventQuery::parse(&query)?;
    backend.access_report(secret_arn, query).await
}

/// Lists events; `query` is the explorer's URL query (see [`EventQuery::parse`]).
#[server(endpoint = "events")]
pub async fn list_events(#[server(default)] query: String) -> Result<EventListing, AppError> {
    let backend = super::backend_for::<ListEvents>()?;
    let query = EventQuery::parse(&query)?;
    backend.events(query).await
}

/// One event by its CloudTrail `eventID`, with its record.
#[server(endpoint = "event")]
pub async fn get_event(
    #[server(default)] event_id: String,
) -> Result<Option<EventRecord>, AppError> {
    super::backend_for::<GetEvent>()?.event(event_id).await
}

/// The last part of a principal's ARN, which is what people call it: `payments-api-task`
/// for `arn:aws:iam::111122223333:role/service/payments-api-task`; a service stays whole.
pub fn principal_name(principal: &str) -> &str {
    match principal.rsplit_once('/') {
        Some((_, name)) if principal.starts_with("arn:") && !name.is_empty() => name,
        _ => principal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_survives_the_round_trip_through_the_url() {
        let query = EventQuery {
            range: None,
            since: Some("2026-10-01T00:00:00Z".parse().unwrap()),
            until: Some("2026-10-02T12:30:00Z".parse().unwrap()),
            secret: Some("prod/payments/db".into()),
            principal: Some("arn:aws:iam::111122223333:role/app".into()),
            event_name: Some("GetSecretValue".into()),
            source_ip: Some("10.0.0.0/8".into()),
            error: Some(ErrorFilter::Code("AccessDenied".into())),
            access: Some(AccessKind::Read),
            user_agent: Some("aws-cli & more".into()),
            account: Some("111122223333".into()),
            region: Some("eu-west-1".into()),
            event_id: Some("abc".into()),
            cursor: Some("next".into()),
            limit: Some(100),
        };
        assert_eq!(EventQuery::parse(&query.to_query_string()), Ok(query));
        let ranged = EventQuery {
            range: Some(TimeRange::LastDay),
            error: Some(ErrorFilter::Any),
            ..EventQuery::default()
        };
        assert_eq!(EventQuery::parse(&ranged.to_query_string()), Ok(ranged));
    }

    #[test]
    fn values_a_parameter_does_not_accept_are_named() {
        let error = EventQuery::parse("source_ip=10.0.0.300").unwrap_err();
        assert!(error.0.starts_with("source_ip=\"10.0.0.300\""), "{error}");
        assert!(EventQuery::parse("source_ip=10.0.0.0/33").is_err());
        assert!(EventQuery::parse("source_ip=2001:db8::/48").is_ok());
        let error = EventQuery::parse("since=yesterday").unwrap_err();
        assert!(error.0.contains("RFC 3339"), "{error}");
        let error =
            EventQuery::parse("since=2026-10-02T00:00:00Z&until=2026-10-01T00:00:00Z").unwrap_err();
        assert!(error.0.contains("must be before"), "{error}");
        assert!(EventQuery::parse("range=forever").is_err());
    }

    #[test]
    fn a_range_ends_now_and_explicit_times_take_its_place() {
        let now: DateTime<Utc> = "2026-11-24T12:00:00Z".parse().unwrap();
        let day = EventQuery::parse("range=24h").unwrap();
        assert_eq!(
            day.bounds(now),
            (Some("2026-11-23T12:00:00Z".parse().unwrap()), None)
        );
        let both = EventQuery::parse("range=24h&since=2026-01-01T00:00:00Z").unwrap();
        assert_eq!(
            both.bounds(now).0,
            Some("2026-01-01T00:00:00Z".parse().unwrap())
        );
        assert_eq!(EventQuery::default().bounds(now), (None, None));
    }
}
