//! Store: events in batches — those not stored yet `COPY`ed into `events`, so each event is
//! stored once however often it arrives — with the secret each names resolved against the
//! inventory, and what could not be read set aside in the quarantine, and the new events
//! through detection, all in one transaction.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Datelike, DurationRound, Utc};
use sqlx::{Connection, PgConnection, PgPool};

use super::checkpoints::{self, Checkpoint};
use super::normalise::{Normalised, Source};
use super::partitions;
use super::record::Record;
use crate::detect::engine;
use crate::detect::{Observed, observed};
use crate::inventory::references::{resolve_waiting_naming, resolved};

/// A record ready to store: typed, normalised, and whole (as JSON text).
pub struct Prepared {
    pub record: Record,
    pub normalised: Normalised,
    pub raw: String,
}

/// Something that could not be read, and where it was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub position: Option<String>,
    pub reason: String,
    pub excerpt: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stored {
    pub new: u64,
    pub duplicates: u64,
    pub quarantined: u64,
}

/// How much of a rejected record the quarantine keeps.
pub const EXCERPT_BYTES: usize = 4096;

const COLUMNS: &str = "event_id, event_time, event_name, event_source, event_type, region, \
    account_id, secret_ref, principal, session_name, principal_account, principal_type, \
    source_ip, source_service, user_agent, user_agent_family, error_code, error_message, \
    read_only, raw, ingested_from, version_stage, version_id";

/// One unit's share of a batch: where it came from (a file's path, an S3 URL…), its events,
/// and what in it could not be read.
pub struct Part<'a> {
    pub source: &'a str,
    pub events: &'a [Prepared],
    pub rejected: &'a [Rejection],
}

/// A newly stored event, with the unit it came from.
#[derive(sqlx::FromRow)]
struct Inserted {
    #[sqlx(flatten)]
    observed: Observed,
    ingested_from: String,
}

/// Stores one batch of `parts` (several small units share one transaction) and advances
/// `checkpoint` with it. Returns what became of each part, in order.
pub async fn store(
    pool: &PgPool,
    parts: &[Part<'_>],
    checkpoint: Option<&Checkpoint>,
) -> Result<Vec<Stored>, sqlx::Error> {
    let months: BTreeSet<(i32, u32)> = parts
        .iter()
        .flat_map(|part| part.events)
        .map(|event| {
            (
                event.record.event_time.year(),
                event.record.event_time.month(),
            )
        })
        .collect();
    for (year, month) in months {
        partitions::create(pool, year, month).await?;
    }

    // What the batch's full ARNs teach comes first, so its events naming the same secrets by
    // name or partial ARN resolve to them, and so do events stored earlier. It is committed
    // on its own, before the batch: true whatever becomes of the batch, and not held while
    // the batch runs, where a concurrent batch learning the same ARN would wait for it. An
    // ARN the inventory knows teaches nothing: the inventory's own ways of naming it are
    // preferred to the learned ones, and its secrets are never deleted.
    let arns: BTreeSet<&str> = parts
        .iter()
        .flat_map(|part| part.events)
        .filter(|event| event.normalised.secret_is_full_arn)
        .filter_map(|event| event.normalised.secret.as_deref())
        .collect();
    if !arns.is_empty() {
        let learned: Vec<String> = sqlx::query_scalar(
            // Known ARNs (nearly all, once a trail has run a while) are passed over by the
            // indexes alone, before the row's checks and generated columns are computed.
            "INSERT INTO event_secret_arns (arn) SELECT taught FROM unnest($1::text[]) AS taught \
             WHERE NOT EXISTS (SELECT FROM secrets synced WHERE synced.arn = taught) \
             AND NOT EXISTS (SELECT FROM event_secret_arns known WHERE known.arn = taught) \
             ON CONFLICT DO NOTHING RETURNING arn",
        )
        .bind(arns.into_iter().collect::<Vec<_>>())
        .fetch_all(pool)
        .await?;
        if !learned.is_empty() {
            resolve_waiting_naming(pool, &learned).await?;
        }
    }

    let mut tx = pool.begin().await?;
    let new = if parts.iter().all(|part| part.events.is_empty()) {
        Vec::new()
    } else {
        match copy_new(&mut tx, parts).await? {
            Some(new) => new,
            None => insert_through_staging(&mut tx, parts).await?,
        }
    };

    let rejected: Vec<(&str, &Rejection)> = parts
        .iter()
        .flat_map(|part| {
            part.rejected
                .iter()
                .map(|rejection| (part.source, rejection))
        })
        .collect();
    if !rejected.is_empty() {
        let sources: Vec<&str> = rejected.iter().map(|(source, _)| *source).collect();
        let positions: Vec<Option<&str>> = rejected
            .iter()
            .map(|(_, r)| r.position.as_deref())
            .collect();
        let reasons: Vec<&str> = rejected.iter().map(|(_, r)| r.reason.as_str()).collect();
        let excerpts: Vec<Option<&str>> =
            rejected.iter().map(|(_, r)| r.excerpt.as_deref()).collect();
        sqlx::query!(
            "INSERT INTO quarantine (source, position, reason, excerpt) \
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) \
             ON CONFLICT DO NOTHING",
            &sources as &[&str],
            &positions as &[Option<&str>],
            &reasons as &[&str],
            &excerpts as &[Option<&str>],
        )
        .execute(&mut *tx)
        .await?;
    }
    if let Some(checkpoint) = checkpoint {
        checkpoints::advance(&mut tx, checkpoint).await?;
    }
    record_coverage(&mut tx, &new).await?;
    let mut new_by_source: HashMap<String, u64> = HashMap::new();
    let mut observed = Vec::with_capacity(new.len());
    for inserted in new {
        *new_by_source.entry(inserted.ingested_from).or_default() += 1;
        observed.push(inserted.observed);
    }
    engine::on_stored(&mut tx, observed).await?;
    tx.commit().await?;

    // A part's new events are those stored from its source (the same source twice in one
    // batch: the first part has them).
    Ok(parts
        .iter()
        .map(|part| {
            let left = new_by_source.entry(part.source.to_string()).or_default();
            let new = (*left).min(part.events.len() as u64);
            *left -= new;
            Stored {
                new,
                duplicates: part.events.len() as u64 - new,
                quarantined: part.rejected.len() as u64,
            }
        })
        .collect())
}

/// The batch copied straight into `events`, with the secret each event names resolved
/// first: what `psql \copy` would do, and what a batch of new events needs. `None` when some
/// are stored already (a file ingested again, or another ingest storing the same events at
/// once) or the role stores under row-level security, where PostgreSQL refuses `COPY`: the
/// caller then stores the batch through staging, which passes over those.
async fn copy_new(
    tx: &mut PgConnection,
    parts: &[Part<'_>],
) -> Result<Option<Vec<Inserted>>, sqlx::Error> {
    // A serving role (`--migrate-database-url` set) is bound by the scoped readers' policies.
    let bound: Option<bool> = sqlx::query_scalar("SELECT row_security_active('events')")
        .fetch_one(&mut *tx)
        .await?;
    if bound != Some(false) {
        return Ok(None);
    }
    // An event twice in the batch is stored from its first part; every batch copies in event
    // ID order, so ingests storing the same events at once wait for each other instead of
    // deadlocking.
    let mut batch = Row::all(parts);
    batch.sort_by(|a, b| a.key().cmp(&b.key()));
    batch.dedup_by(|later, earlier| later.key() == earlier.key());

    // An ARN that AWS wrote names its own secret: the inventory's, or the one its event
    // taught before the batch (`store`). The rule answers the same — save where an
    // inventory secret's partial ARN spells this whole ARN, a different secret — so only the
    // other references are looked up: a batch names thousands of secrets, and looking
    // each up again cost a sixth of the ingest's time in the database.
    let references: BTreeSet<(&str, Option<&str>, Option<&str>)> = batch
        .iter()
        .filter(|row| !row.event.normalised.secret_is_full_arn)
        .filter_map(|row| {
            let record = &row.event.record;
            Some((
                row.event.normalised.secret.as_deref()?,
                record.aws_region.as_deref(),
                record.recipient_account_id.as_deref(),
            ))
        })
        .collect();
    let mut refs = Vec::with_capacity(references.len());
    let mut regions = Vec::with_capacity(references.len());
    let mut accounts = Vec::with_capacity(references.len());
    for (reference, region, account) in references {
        refs.push(reference);
        regions.push(region);
        accounts.push(account);
    }
    let found: Vec<Reference> = if refs.is_empty() {
        Vec::new()
    } else {
        sqlx::query_as(&resolved(
            "SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) \
             AS r (secret_ref, region, account_id)",
        ))
        .bind(&refs)
        .bind(&regions)
        .bind(&accounts)
        .fetch_all(&mut *tx)
        .await?
    };
    // A missing region or account matches an empty one, as the staging path's join does.
    let arns: HashMap<(&str, &str, &str), &str> = found
        .iter()
        .map(|found| {
            (
                (
                    found.secret_ref.as_str(),
                    found.region.as_deref().unwrap_or(""),
                    found.account_id.as_deref().unwrap_or(""),
                ),
                found.arn.as_str(),
            )
        })
        .collect();
    for row in &mut batch {
        let record = &row.event.record;
        if let Some(reference) = &row.event.normalised.secret {
            if row.event.normalised.secret_is_full_arn {
                row.arn = Some(reference.clone());
                continue;
            }
            row.arn = arns
                .get(&(
                    reference.as_str(),
                    record.aws_region.as_deref().unwrap_or(""),
                    record.recipient_account_id.as_deref().unwrap_or(""),
                ))
                .map(|arn| arn.to_string());
        }
    }

    let rows = csv_rows(&batch);
    let mut attempt = tx.begin().await?;
    let copied = async {
        let mut copy = attempt
            .copy_in_raw(&format!(
                "COPY events ({COLUMNS}, secret_arn) FROM STDIN WITH (FORMAT csv)"
            ))
            .await?;
        copy.send(rows).await?;
        copy.finish().await
    }
    .await;
    match copied {
        Ok(_) => attempt.commit().await?,
        Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {
            attempt.rollback().await?;
            return Ok(None);
        }
        Err(error) => return Err(error),
    }
    Ok(Some(
        batch
            .into_iter()
            .map(|row| Inserted {
                observed: observed(row.event, row.arn),
                ingested_from: row.source.to_string(),
            })
            .collect(),
    ))
}

/// A resolved reference, as [`resolved`] answers.
#[derive(sqlx::FromRow)]
struct Reference {
    secret_ref: String,
    region: Option<String>,
    account_id: Option<String>,
    arn: String,
}

/// The batch `COPY`ed into a staging table, then one `INSERT … ON CONFLICT DO NOTHING`
/// resolving each distinct reference once: right however many other ingests store the same
/// events at the same time.
async fn insert_through_staging(
    tx: &mut PgConnection,
    parts: &[Part<'_>],
) -> Result<Vec<Inserted>, sqlx::Error> {
    sqlx::query!(
        "CREATE TEMP TABLE IF NOT EXISTS events_staging \
         (LIKE events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
    )
    .execute(&mut *tx)
    .await?;
    // The batch is sorted whole below (a full batch, raw records included, is about
    // 10 MB): in memory, not in files on disk as under the default 4 MB.
    sqlx::query("SET LOCAL work_mem = '64MB'")
        .execute(&mut *tx)
        .await?;
    // Written before the COPY starts, so the statement lasts no longer than the sending.
    let rows = Row::all(parts);
    let rows = csv_rows(&rows);
    let mut copy = tx
        .copy_in_raw(&format!(
            "COPY events_staging ({COLUMNS}, secret_arn) FROM STDIN WITH (FORMAT csv)"
        ))
        .await?;
    copy.send(rows).await?;
    copy.finish().await?;

    // An event twice in the batch is stored from its first part: the staging table is
    // emptied at each commit and only appended to, so its physical order (ctid) is the order
    // it was copied in. Inserting in event ID order, as `copy_new` copies.
    sqlx::query_as(&format!(
        "WITH refs AS ({}) \
         INSERT INTO events ({COLUMNS}, secret_arn) \
         SELECT DISTINCT ON (st.event_id, st.event_time) {staged}, refs.arn \
         FROM events_staging st \
         LEFT JOIN refs ON refs.secret_ref = st.secret_ref \
             AND COALESCE(refs.region, '') = COALESCE(st.region, '') \
             AND COALESCE(refs.account_id, '') = COALESCE(st.account_id, '') \
         ORDER BY st.event_id, st.event_time, st.ctid \
         ON CONFLICT DO NOTHING \
         RETURNING {observed}, ingested_from",
        resolved(
            "SELECT DISTINCT secret_ref, region, account_id FROM events_staging \
                  WHERE secret_ref IS NOT NULL"
        ),
        staged = COLUMNS
            .split(", ")
            .map(|column| format!("st.{}", column.trim()))
            .collect::<Vec<_>>()
            .join(", "),
        observed = observed::COLUMNS
    ))
    .fetch_all(&mut *tx)
    .await
}

/// What detection sees of an event copied in: what [`observed::COLUMNS`] reads of its row.
fn observed(event: &Prepared, secret_arn: Option<String>) -> Observed {
    let record = &event.record;
    let normalised = &event.normalised;
    let (source_ip, source_service) = sources(&normalised.source);
    Observed {
        event_id: record.event_id.clone(),
        event_time: record.event_time,
        event_name: record.event_name.clone(),
        region: record.aws_region.clone(),
        account_id: record.recipient_account_id.clone(),
        secret_ref: normalised.secret.clone(),
        secret_arn,
        principal: normalised.principal.clone(),
        session_name: normalised.session_name.clone(),
        principal_account: normalised.principal_account.clone(),
        principal_type: record
            .user_identity
            .as_ref()
            .and_then(|identity| identity.kind.clone()),
        source_ip,
        source_service,
        user_agent_family: normalised.user_agent_family.clone(),
        error_code: record.error_code.clone(),
        error_message: record.error_message.clone(),
        version_stage: normalised.version.stage.clone(),
        version_id: normalised.version.id.clone(),
        request: record
            .request_parameters
            .clone()
            .filter(|_| observed::REQUEST_READ_FOR.contains(&record.event_name.as_str())),
    }
}

/// The `source_ip` and `source_service` columns of where a call came from.
fn sources(source: &Source) -> (Option<String>, Option<String>) {
    match source {
        Source::Address(address) => (Some(address.to_string()), None),
        Source::Service(name) | Source::Other(name) => (None, Some(name.clone())),
        Source::Unknown => (None, None),
    }
}

/// Moves each account × region's newest event on to the batch's newest, and counts its new
/// events by hour: what Trail coverage and the arrival rhythm (`ingest_silence`) read.
async fn record_coverage(tx: &mut sqlx::PgConnection, new: &[Inserted]) -> Result<(), sqlx::Error> {
    // In key order, so concurrent ingests lock the rows in the same order.
    let mut newest: BTreeMap<(&str, &str), DateTime<Utc>> = BTreeMap::new();
    let mut hours: BTreeMap<(&str, &str, DateTime<Utc>), i64> = BTreeMap::new();
    for inserted in new {
        let event = &inserted.observed;
        if let (Some(account), Some(region)) = (&event.account_id, &event.region) {
            let at = newest.entry((account, region)).or_insert(event.event_time);
            *at = (*at).max(event.event_time);
            let hour = event
                .event_time
                .duration_trunc(chrono::TimeDelta::hours(1))
                .unwrap_or(event.event_time);
            *hours.entry((account, region, hour)).or_default() += 1;
        }
    }
    if newest.is_empty() {
        return Ok(());
    }
    let accounts: Vec<&str> = newest.keys().map(|(account, _)| *account).collect();
    let regions: Vec<&str> = newest.keys().map(|(_, region)| *region).collect();
    let times: Vec<DateTime<Utc>> = newest.into_values().collect();
    sqlx::query!(
        "INSERT INTO trail_coverage (account_id, region, newest_event_at) \
         SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[]) \
         ON CONFLICT (account_id, region) DO UPDATE SET newest_event_at = \
             greatest(trail_coverage.newest_event_at, EXCLUDED.newest_event_at)",
        &accounts as &[&str],
        &regions as &[&str],
        &times
    )
    .execute(&mut *tx)
    .await?;
    let accounts: Vec<&str> = hours.keys().map(|(account, _, _)| *account).collect();
    let regions: Vec<&str> = hours.keys().map(|(_, region, _)| *region).collect();
    let starts: Vec<DateTime<Utc>> = hours.keys().map(|(_, _, hour)| *hour).collect();
    let counts: Vec<i64> = hours.into_values().collect();
    sqlx::query!(
        "INSERT INTO arrival_hours (account_id, region, hour, events) \
         SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::bigint[]) \
         ON CONFLICT (account_id, region, hour) DO UPDATE SET events = \
             arrival_hours.events + EXCLUDED.events",
        &accounts as &[&str],
        &regions as &[&str],
        &starts,
        &counts
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// An event on its way into `events`: the unit it came from and, once resolved, its secret.
struct Row<'a> {
    source: &'a str,
    event: &'a Prepared,
    arn: Option<String>,
}

impl<'a> Row<'a> {
    /// Every event of the parts, in order, not resolved yet.
    fn all(parts: &'a [Part<'a>]) -> Vec<Row<'a>> {
        parts
            .iter()
            .flat_map(|part| {
                part.events.iter().map(|event| Row {
                    source: part.source,
                    event,
                    arn: None,
                })
            })
            .collect()
    }

    /// The events table's key.
    fn key(&self) -> (&str, DateTime<Utc>) {
        (&self.event.record.event_id, self.event.record.event_time)
    }
}

/// Room for a row's fields besides its raw record, and for the quotes CSV doubles in it.
const CSV_ROW_BYTES: usize = 1024;

/// The rows as CSV of [`COLUMNS`] and `secret_arn`.
fn csv_rows(rows: &[Row]) -> Vec<u8> {
    // A batch's CSV is ~10 MB: grown by doubling, it was copied and its fresh pages faulted
    // in again at each step, a seventh of the ingest process's time.
    let capacity = rows
        .iter()
        .map(|row| row.event.raw.len() + row.event.raw.len() / 8 + CSV_ROW_BYTES)
        .sum();
    let mut writer = csv::Writer::from_writer(Vec::with_capacity(capacity));
    for row in rows {
        let record = &row.event.record;
        let normalised = &row.event.normalised;
        let (address, service) = sources(&normalised.source);
        let identity = record.user_identity.as_ref();
        let time = record.event_time.to_rfc3339();
        let fields: [Option<&str>; 24] = [
            Some(&record.event_id),
            Some(&time),
            Some(&record.event_name),
            Some(&record.event_source),
            record.event_type.as_deref(),
            record.aws_region.as_deref(),
            record.recipient_account_id.as_deref(),
            normalised.secret.as_deref(),
            normalised.principal.as_deref(),
            normalised.session_name.as_deref(),
            normalised.principal_account.as_deref(),
            identity.and_then(|identity| identity.kind.as_deref()),
            address.as_deref(),
            service.as_deref(),
            record.user_agent.as_deref(),
            normalised.user_agent_family.as_deref(),
            record.error_code.as_deref(),
            record.error_message.as_deref(),
            record
                .read_only
                .map(|read_only| if read_only { "true" } else { "false" }),
            Some(&row.event.raw),
            Some(row.source),
            normalised.version.stage.as_deref(),
            normalised.version.id.as_deref(),
            row.arn.as_deref(),
        ];
        // An absent value is an unquoted empty field, which COPY reads as NULL.
        writer
            .write_record(fields.iter().map(|field| field.unwrap_or("")))
            .expect("writing to memory cannot fail");
    }
    writer.into_inner().unwrap_or_default()
}
