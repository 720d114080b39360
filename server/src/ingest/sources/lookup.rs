//! CloudTrail's `LookupEvents`, per region, for accounts without a trail in S3 (it covers
//! the last 90 days): `trailkeeper ingest --lookup` and `TRAILKEEPER_LOOKUP_INTERVAL`.
//! Each window is asked for Secrets Manager's events and for each of CloudTrail's trail
//! changes: seven requests at least.
//!
//! A poll reads from the stored checkpoint (less an overlap, for events CloudTrail makes
//! available late; storing them again is harmless) up to now, one day-long window at a time,
//! oldest window first. The checkpoint moves to a window's end with its last page, so a long
//! backfill stopped half way resumes at the window it was in. LookupEvents answers about two
//! requests per second per region: requests are spaced to that, and a `ThrottlingException`
//! is retried with exponential backoff by the SDK (see `aws::cloudtrail`).

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_cloudtrail::Client;
use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::PgPool;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::{EventSource, Report, SourceError};
use crate::aws::SECRETS_MANAGER;
use crate::aws::accounts::Account;
use crate::db::claims::Claims;
use crate::ingest::checkpoints::{self, Checkpoint};
use crate::ingest::formats::{Contents, Format, Position, lookup_event};
use crate::ingest::load::{TRAIL_CHANGES, Totals, prepare, store_or_quarantine};

/// How far before the checkpoint each poll starts again: CloudTrail usually makes an event
/// visible within about five minutes of the call, and does not promise that.
pub const OVERLAP: chrono::TimeDelta = chrono::TimeDelta::minutes(15);
/// How far back LookupEvents reaches, and so where a source without a checkpoint starts.
pub const HISTORY: chrono::TimeDelta = chrono::TimeDelta::days(90);
/// The span each checkpoint covers during a backfill.
const WINDOW: chrono::TimeDelta = chrono::TimeDelta::days(1);
/// LookupEvents' rate limit is 2 requests per second per account and region.
const REQUEST_SPACING: Duration = Duration::from_millis(500);

pub struct Lookup {
    client: Client,
    region: String,
    /// The account read through an assumed role; `None`: the credentials' own.
    account: Option<String>,
    /// Where to start instead of the checkpoint (`ingest --lookup --since`).
    since: Option<DateTime<Utc>>,
    last_request: Mutex<Option<Instant>>,
    claims: Claims,
}

impl Lookup {
    pub fn new(client: Client, region: &str, since: Option<DateTime<Utc>>) -> Self {
        Lookup {
            client,
            region: region.to_string(),
            account: None,
            since,
            last_request: Mutex::new(None),
            claims: Claims::unshared(),
        }
    }

    /// Reads only while no other server reads this account and region: two readers would
    /// share its two requests a second.
    pub fn with_claims(self, claims: Claims) -> Self {
        Lookup { claims, ..self }
    }

    /// One source per account and region, each through the account's own credentials.
    pub fn everywhere(
        accounts: &[Account],
        regions: &[String],
        since: Option<DateTime<Utc>>,
    ) -> Vec<Lookup> {
        let mut sources = Vec::with_capacity(accounts.len() * regions.len());
        for account in accounts {
            for region in regions {
                let mut source = Lookup::new(
                    crate::aws::cloudtrail(&account.config, region),
                    region,
                    since,
                );
                source.account = account.id.clone();
                sources.push(source);
            }
        }
        sources
    }

    /// The checkpoint's name: one per account and region.
    pub fn checkpoint_source(&self) -> String {
        match &self.account {
            Some(account) => format!("lookup:{account}:{}", self.region),
            None => format!("lookup:{}", self.region),
        }
    }

    /// Where it reads, for people.
    fn place(&self) -> String {
        match &self.account {
            Some(account) => format!("{account} {}", self.region),
            None => self.region.clone(),
        }
    }

    /// Waits until the next request keeps to the rate limit.
    async fn pace(&self) {
        let mut last = self.last_request.lock().await;
        if let Some(last) = *last {
            tokio::time::sleep_until(last + REQUEST_SPACING).await;
        }
        *last = Some(Instant::now());
    }

    async fn start(&self, pool: &PgPool, now: DateTime<Utc>) -> Result<DateTime<Utc>, SourceError> {
        if let Some(since) = self.since {
            return Ok(since);
        }
        let checkpoint = checkpoints::position(pool, &self.checkpoint_source()).await?;
        Ok(checkpoint
            .and_then(|position| DateTime::parse_from_rfc3339(&position).ok())
            .map(|position| position.with_timezone(&Utc) - OVERLAP)
            .unwrap_or(now - HISTORY))
    }

    /// Stores everything from where the source stands up to now.
    async fn read_to_now(&self, pool: &PgPool, report: Report<'_>) -> Result<Totals, SourceError> {
        // Whole seconds: the checkpoint is stored to the second.
        let now = DateTime::from_timestamp(Utc::now().timestamp(), 0).expect("now is a time");
        let mut from = self.start(pool, now).await?;
        let mut totals = Totals::default();
        while from < now {
            let until = (from + WINDOW).min(now);
            totals.merge(self.read_window(pool, from, until, report).await?);
            from = until;
        }
        Ok(totals)
    }

    /// Stores every event of one window, page by page: Secrets Manager's, then each of
    /// CloudTrail's trail changes (LookupEvents takes one attribute a request). The checkpoint
    /// moves to the window's end with the last page.
    async fn read_window(
        &self,
        pool: &PgPool,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        report: Report<'_>,
    ) -> Result<Totals, SourceError> {
        let mut totals = Totals::default();
        let mut page_number = 0;
        let asked = wanted();
        for (index, attribute) in asked.iter().enumerate() {
            let last_attribute = index + 1 == asked.len();
            let mut next_token: Option<String> = None;
            loop {
                page_number += 1;
                self.pace().await;
                let page = self
                    .client
                    .lookup_events()
                    .lookup_attributes(attribute.clone())
                    .start_time(aws_time(from))
                    .end_time(aws_time(until))
                    .max_results(50)
                    .set_next_token(next_token.take())
                    .send()
                    .await
                    .map_err(|error| SourceError::aws("CloudTrail", "LookupEvents", &error))?;
                let found = page
                    .events()
                    .iter()
                    .enumerate()
                    .map(|(index, event)| {
                        lookup_event(Position::Item(index + 1), event.cloud_trail_event())
                    })
                    .collect();
                next_token = page
                    .next_token()
                    .filter(|token| !token.is_empty())
                    .map(str::to_string);
                let checkpoint = (last_attribute && next_token.is_none()).then(|| Checkpoint {
                    source: self.checkpoint_source(),
                    position: until.to_rfc3339_opts(SecondsFormat::Secs, true),
                    newest_event_time: None,
                });
                let contents = Contents {
                    format: Format::LookupEvents,
                    gzip: false,
                    found,
                    truncated: None,
                };
                let origin = format!(
                    "LookupEvents in {} from {} to {}, page {page_number}",
                    self.place(),
                    from.to_rfc3339_opts(SecondsFormat::Secs, true),
                    until.to_rfc3339_opts(SecondsFormat::Secs, true)
                );
                let summary =
                    store_or_quarantine(pool, prepare(&origin, Ok(contents)), checkpoint).await?;
                totals.add(&summary);
                report(&summary);
                if next_token.is_none() {
                    break;
                }
            }
        }
        Ok(totals)
    }
}

/// What each window asks for: Secrets Manager's events by their source, CloudTrail's trail
/// changes by name (asking for CloudTrail's source would bring back every LookupEvents call,
/// this source's own included).
fn wanted() -> Vec<LookupAttribute> {
    let attribute = |key, value: &str| {
        LookupAttribute::builder()
            .attribute_key(key)
            .attribute_value(value)
            .build()
            .expect("key and value are set")
    };
    std::iter::once(attribute(LookupAttributeKey::EventSource, SECRETS_MANAGER))
        .chain(
            TRAIL_CHANGES
                .iter()
                .map(|name| attribute(LookupAttributeKey::EventName, name)),
        )
        .collect()
}

#[async_trait]
impl EventSource for Lookup {
    fn name(&self) -> String {
        format!("LookupEvents in {}", self.place())
    }

    async fn poll(&self, pool: &PgPool, report: Report<'_>) -> Result<Totals, SourceError> {
        let read = self.read_to_now(pool, report);
        Ok(self
            .claims
            .run(&self.checkpoint_source(), read)
            .await?
            .unwrap_or_else(Totals::held_elsewhere))
    }
}

fn aws_time(time: DateTime<Utc>) -> aws_sdk_cloudtrail::primitives::DateTime {
    aws_sdk_cloudtrail::primitives::DateTime::from_secs(time.timestamp())
}
