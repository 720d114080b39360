//! The step every source shares: one unit of input (a file, an S3 object, a page of
//! LookupEvents) read into records, each typed, normalised and stored in batches, what cannot
//! be read quarantined with a reason, and the source's checkpoint advanced in the same
//! transaction as the unit's last batch.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgPool;

use crate::aws::{CLOUDTRAIL, SECRETS_MANAGER};

use super::checkpoints::Checkpoint;
use super::formats::{Contents, Found};
use super::normalise::normalise;
use super::record::Record;
use super::redact::hide_secret_values;
use super::store::{self, EXCERPT_BYTES, Part, Prepared, Rejection};

/// CloudTrail's calls that change what a trail logs: kept beside Secrets Manager's events,
/// because stopping or narrowing a trail is how reading secrets unseen begins.
pub const TRAIL_CHANGES: [&str; 6] = [
    "CreateTrail",
    "DeleteTrail",
    "StartLogging",
    "StopLogging",
    "UpdateTrail",
    "PutEventSelectors",
];
/// CloudTrail records are far smaller; a larger one is not a record to trust.
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;
/// Events stored per transaction.
pub const BATCH: usize = 5000;

/// What one unit of input held and what became of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Where it came from: a path, an `s3://` URL, a region's LookupEvents.
    pub origin: String,
    /// The detected format, or why the unit could not be read at all.
    pub format: Result<String, String>,
    pub records: u64,
    pub new: u64,
    pub duplicates: u64,
    /// Records of other services.
    pub skipped: u64,
    pub quarantined: u64,
}

impl Summary {
    fn new(origin: &str) -> Self {
        Summary {
            origin: origin.to_string(),
            format: Err("not read yet".into()),
            records: 0,
            new: 0,
            duplicates: 0,
            skipped: 0,
            quarantined: 0,
        }
    }

    fn add(&mut self, stored: store::Stored) {
        self.new += stored.new;
        self.duplicates += stored.duplicates;
        self.quarantined += stored.quarantined;
    }

    /// One line for a person: the format and what became of the records.
    pub fn describe(&self) -> String {
        match &self.format {
            Ok(format) => format!(
                "{format}; {} records: {} new, {} duplicates, {} skipped (not Secrets Manager), \
                 {} quarantined",
                self.records, self.new, self.duplicates, self.skipped, self.quarantined
            ),
            Err(reason) => format!("quarantined: {reason}"),
        }
    }
}

/// Several units' summaries added up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub units: u64,
    pub records: u64,
    pub new: u64,
    pub duplicates: u64,
    pub skipped: u64,
    pub quarantined: u64,
    /// Streams not read because another server holds their claim.
    pub held_elsewhere: u64,
}

impl Totals {
    pub fn add(&mut self, summary: &Summary) {
        self.units += 1;
        self.records += summary.records;
        self.new += summary.new;
        self.duplicates += summary.duplicates;
        self.skipped += summary.skipped;
        self.quarantined += summary.quarantined;
    }

    pub fn merge(&mut self, other: Totals) {
        self.units += other.units;
        self.records += other.records;
        self.new += other.new;
        self.duplicates += other.duplicates;
        self.skipped += other.skipped;
        self.quarantined += other.quarantined;
        self.held_elsewhere += other.held_elsewhere;
    }

    /// What a poll of streams all claimed by other servers comes to.
    pub fn held_elsewhere() -> Self {
        Totals {
            held_elsewhere: 1,
            ..Totals::default()
        }
    }

    /// Whether this process read nothing because other servers hold everything.
    pub fn only_held_elsewhere(&self) -> bool {
        self.units == 0 && self.held_elsewhere > 0
    }
}

/// One unit of input read, typed and normalised: everything but the storing, which is
/// CPU work a source can do for the next unit while the last one is being stored.
pub struct Unit {
    summary: Summary,
    events: Vec<Prepared>,
    rejected: Vec<Rejection>,
    newest: Option<DateTime<Utc>>,
}

/// Types and normalises what one unit of input held. `contents` is the unit as read, or
/// why it could not be (then it is quarantined whole).
pub fn prepare(origin: &str, contents: Result<Contents, String>) -> Unit {
    let mut unit = Unit {
        summary: Summary::new(origin),
        events: Vec::new(),
        rejected: Vec::new(),
        newest: None,
    };
    let contents = match contents {
        Ok(contents) => contents,
        Err(reason) => {
            unit.rejected.push(Rejection {
                position: None,
                reason: reason.clone(),
                excerpt: None,
            });
            unit.summary.format = Err(reason);
            return unit;
        }
    };
    unit.summary.format = Ok(format!(
        "{}{}",
        contents.format,
        if contents.gzip { ", gzip" } else { "" }
    ));
    if let Some(reason) = &contents.truncated {
        unit.rejected.push(Rejection {
            position: Some("end of file".into()),
            reason: reason.clone(),
            excerpt: None,
        });
    }
    for found in contents.found {
        unit.summary.records += 1;
        match found {
            Found::Rejected(position, reason) => unit.rejected.push(Rejection {
                position: Some(position.to_string()),
                reason,
                excerpt: None,
            }),
            Found::Record(position, raw) => match prepare_record(raw) {
                Ok(Some(prepared)) => {
                    unit.newest = unit.newest.max(Some(prepared.record.event_time));
                    unit.events.push(prepared);
                }
                Ok(None) => unit.summary.skipped += 1,
                Err((reason, text)) => unit.rejected.push(Rejection {
                    position: Some(position.to_string()),
                    reason,
                    excerpt: Some(excerpt(&text)),
                }),
            },
        }
    }
    unit
}

/// Stores a prepared unit in batches; `checkpoint`, when given, advances with the last.
pub async fn store_unit(
    pool: &PgPool,
    unit: Unit,
    checkpoint: Option<Checkpoint>,
) -> Result<Summary, sqlx::Error> {
    let Unit {
        mut summary,
        events,
        rejected,
        newest,
    } = unit;
    let checkpoint = checkpoint.map(|checkpoint| Checkpoint {
        newest_event_time: checkpoint.newest_event_time.max(newest),
        ..checkpoint
    });
    // A unit of nothing but rejects (or of nothing) still records them and its progress.
    let mut batches: Vec<&[Prepared]> = events.chunks(BATCH).collect();
    if batches.is_empty() {
        if rejected.is_empty() && checkpoint.is_none() {
            return Ok(summary);
        }
        batches.push(&[]);
    }
    let last = batches.len() - 1;
    for (index, batch) in batches.into_iter().enumerate() {
        let part = Part {
            source: &summary.origin,
            events: batch,
            rejected: if index == 0 { &rejected } else { &[] },
        };
        let checkpoint = if index == last {
            checkpoint.as_ref()
        } else {
            None
        };
        for stored in store::store(pool, &[part], checkpoint).await? {
            summary.add(stored);
        }
    }
    Ok(summary)
}

/// Stores a unit as [`store_unit`] does; should the database refuse it (an error in the
/// data, not a lost connection), the unit is quarantined whole with the database's message
/// and the checkpoint still advances, so one bad unit cannot stall its source for good.
pub async fn store_or_quarantine(
    pool: &PgPool,
    unit: Unit,
    checkpoint: Option<Checkpoint>,
) -> Result<Summary, sqlx::Error> {
    let origin = unit.summary.origin.clone();
    match store_unit(pool, unit, checkpoint.clone()).await {
        Err(sqlx::Error::Database(error)) => {
            tracing::warn!(%origin, %error, "the store refused a unit of input; quarantining it");
            let reason = format!("the store refused it: {}", error.message());
            store_unit(pool, prepare(&origin, Err(reason)), checkpoint).await
        }
        outcome => outcome,
    }
}

/// Stores consecutive units in one transaction, so many small files (a trail delivers one
/// every few minutes per region) do not each pay for one. Several units must hold at most
/// [`BATCH`] events between them; one alone may hold more.
pub async fn store_together(
    pool: &PgPool,
    mut units: Vec<Unit>,
) -> Result<Vec<Summary>, sqlx::Error> {
    if units.len() == 1 {
        let unit = units.pop().expect("one unit");
        return Ok(vec![store_unit(pool, unit, None).await?]);
    }
    let stored = store_group(pool, &units, None).await?;
    Ok(summaries(units, stored))
}

/// Stores consecutive units of one checkpointed stream (each with the checkpoint it
/// would advance to alone) in one transaction, as [`store_together`] does, the checkpoint
/// advancing to the last; should the database refuse them, each is stored on its own as
/// [`store_or_quarantine`] does, so a bad unit is set aside alone.
pub async fn store_together_or_quarantine(
    pool: &PgPool,
    mut units: Vec<(Unit, Checkpoint)>,
) -> Result<Vec<Summary>, sqlx::Error> {
    if units.len() <= 1 {
        let mut summaries = Vec::new();
        if let Some((unit, checkpoint)) = units.pop() {
            summaries.push(store_or_quarantine(pool, unit, Some(checkpoint)).await?);
        }
        return Ok(summaries);
    }
    let (units, checkpoints): (Vec<Unit>, Vec<Checkpoint>) = units.into_iter().unzip();
    let last = checkpoints.last().cloned();
    match store_group(pool, &units, last).await {
        Ok(stored) => Ok(summaries(units, stored)),
        Err(sqlx::Error::Database(error)) => {
            tracing::warn!(
                first = %units[0].summary.origin,
                %error,
                "the store refused a group of units; storing them one at a time"
            );
            let mut summaries = Vec::with_capacity(units.len());
            for (unit, checkpoint) in units.into_iter().zip(checkpoints) {
                summaries.push(store_or_quarantine(pool, unit, Some(checkpoint)).await?);
            }
            Ok(summaries)
        }
        Err(error) => Err(error),
    }
}

/// Stores `units` in one transaction, advancing `checkpoint` (to the newest event time of
/// all of them) with it.
async fn store_group(
    pool: &PgPool,
    units: &[Unit],
    checkpoint: Option<Checkpoint>,
) -> Result<Vec<store::Stored>, sqlx::Error> {
    let checkpoint = checkpoint.map(|checkpoint| Checkpoint {
        newest_event_time: units
            .iter()
            .map(|unit| unit.newest)
            .fold(checkpoint.newest_event_time, Option::max),
        ..checkpoint
    });
    let parts: Vec<Part> = units
        .iter()
        .map(|unit| Part {
            source: &unit.summary.origin,
            events: &unit.events,
            rejected: &unit.rejected,
        })
        .collect();
    store::store(pool, &parts, checkpoint.as_ref()).await
}

/// Each unit's summary with what became of it.
fn summaries(units: Vec<Unit>, stored: Vec<store::Stored>) -> Vec<Summary> {
    units
        .into_iter()
        .zip(stored)
        .map(|(unit, stored)| {
            let mut summary = unit.summary;
            summary.add(stored);
            summary
        })
        .collect()
}

/// Consecutive units gathered for one transaction: up to [`BATCH`] events between them, or
/// one larger unit alone (stored a batch at a time).
pub struct Group<T> {
    items: Vec<T>,
    events: usize,
}

impl<T> Default for Group<T> {
    fn default() -> Self {
        Group {
            items: Vec::new(),
            events: 0,
        }
    }
}

impl<T> Group<T> {
    /// Adds an item holding `events` events; when it would take the group past a batch,
    /// returns the group gathered so far (to store now) and starts the next with it.
    pub fn add(&mut self, item: T, events: usize) -> Option<Vec<T>> {
        let full = (!self.items.is_empty() && self.events + events > BATCH)
            .then(|| std::mem::take(self).items);
        self.events += events;
        self.items.push(item);
        full
    }

    /// What is gathered, to store last.
    pub fn finish(self) -> Vec<T> {
        self.items
    }
}

impl Unit {
    /// Events it holds.
    pub fn events(&self) -> usize {
        self.events.len()
    }
}

/// CloudTrail's launch: no real record is older.
const CLOUDTRAIL_LAUNCH: &str = "2013-11-01T00:00:00Z";

/// Whether an event's time could be real: not before CloudTrail existed, and not more than a
/// day ahead of this clock. A hostile or corrupt time would otherwise make a month's
/// partition for year 0 or 9999 (and fail), or hundreds of them.
pub fn plausible_time(time: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), String> {
    let launch = DateTime::parse_from_rfc3339(CLOUDTRAIL_LAUNCH)
        .expect("a valid time")
        .to_utc();
    let latest = now + chrono::Duration::days(1);
    if time < launch {
        return Err(format!(
            "eventTime {} is before CloudTrail existed ({CLOUDTRAIL_LAUNCH})",
            time.to_rfc3339()
        ));
    }
    if time > latest {
        return Err(format!(
            "eventTime {} is more than a day ahead of this server's clock ({})",
            time.to_rfc3339(),
            now.to_rfc3339()
        ));
    }
    Ok(())
}

/// Whether an event is one Trailkeeper stores: Secrets Manager's; of other services' only
/// CloudTrail's own [`TRAIL_CHANGES`] (the rest are counted and skipped).
pub fn is_kept(event_source: &str, event_name: &str) -> bool {
    event_source == SECRETS_MANAGER
        || (event_source == CLOUDTRAIL && TRAIL_CHANGES.contains(&event_name))
}

fn excerpt(text: &str) -> String {
    let mut end = text.len().min(EXCERPT_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

/// A record to store, `None` for another service's, or why it cannot be stored (with its
/// text for the quarantine).
fn prepare_record(mut raw: Value) -> Result<Option<Prepared>, (String, String)> {
    hide_secret_values(&mut raw);
    let text = jsonb_text(&raw);
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
    let record = match Record::parse(raw) {
        Ok(record) => record,
        Err(reason) => return Err((reason, text)),
    };
    if let Err(reason) = plausible_time(record.event_time, Utc::now()) {
        return Err((reason, text));
    }
    if !is_kept(&record.event_source, &record.event_name) {
        return Ok(None);
    }
    let normalised = normalise(&record);
    Ok(Some(Prepared {
        record,
        normalised,
        raw: text,
    }))
}

/// A record as JSON text with each object's keys in `jsonb`'s order (shorter first, then
/// bytewise): PostgreSQL sorts a `jsonb`'s keys as it reads them, and then finds them sorted
/// already — a twentieth of its work in an ingest, where `serde_json`'s bytewise order left
/// it every object to sort.
fn jsonb_text(value: &Value) -> String {
    let mut text = Vec::with_capacity(4096);
    write_in_jsonb_order(value, &mut text);
    String::from_utf8(text).expect("serde_json writes UTF-8")
}

fn write_in_jsonb_order(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|(a, _), (b, _)| a.len().cmp(&b.len()).then(a.cmp(b)));
            out.push(b'{');
            for (index, (key, value)) in entries.into_iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_json(key, out);
                out.push(b':');
                write_in_jsonb_order(value, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_in_jsonb_order(item, out);
            }
            out.push(b']');
        }
        scalar => write_json(scalar, out),
    }
}

fn write_json<T: serde::Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) {
    serde_json::to_writer(out, value).expect("writing to memory cannot fail");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_times_outside_cloudtrails_life_are_implausible() {
        let now = DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let at = |time: &str| DateTime::parse_from_rfc3339(time).unwrap().to_utc();
        assert!(plausible_time(at("2026-11-30T12:00:00Z"), now).is_ok());
        assert!(plausible_time(at("2013-11-01T00:00:00Z"), now).is_ok());
        assert!(plausible_time(at("2026-12-01T23:00:00Z"), now).is_ok());
        let ancient = plausible_time(at("0000-01-01T00:00:00Z"), now).unwrap_err();
        assert!(ancient.contains("before CloudTrail existed"), "{ancient}");
        let future = plausible_time(at("9999-12-31T23:59:59Z"), now).unwrap_err();
        assert!(future.contains("ahead of this server's clock"), "{future}");
    }

    #[test]
    fn records_are_written_with_their_keys_in_jsonbs_order() {
        let record = serde_json::json!({
            "eventName": "GetSecretValue",
            "awsRegion": "eu-west-1",
            "requestParameters": { "secretId": "prod/db", "versionStage": "AWSCURRENT" },
            "resources": [{ "ARN": "arn", "type": "AWS::SecretsManager::Secret" }],
            "errorMessage": "a \"quoted\" line\nand a NUL \u{0}",
            "readOnly": true,
            "b": 1.5,
            "a": null,
        });
        let text = jsonb_text(&record);
        assert!(
            text.starts_with(
                r#"{"a":null,"b":1.5,"readOnly":true,"awsRegion":"eu-west-1","eventName""#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"{"secretId":"prod/db","versionStage":"AWSCURRENT"}"#),
            "{text}"
        );
        assert!(
            text.contains(r#"[{"ARN":"arn","type":"AWS::SecretsManager::Secret"}]"#),
            "{text}"
        );
        assert!(
            text.contains(r#"\u0000"#),
            "a NUL stays escaped, for the check that refuses it"
        );
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), record);
    }

    #[test]
    fn a_group_closes_before_a_unit_would_take_it_past_a_batch() {
        let mut group = Group::default();
        assert_eq!(group.add("a", 3000), None);
        assert_eq!(group.add("b", 2000), None, "exactly a batch fits");
        assert_eq!(group.add("c", 1), Some(vec!["a", "b"]));
        // A unit larger than a batch goes alone.
        assert_eq!(group.add("huge", BATCH * 3), Some(vec!["c"]));
        assert_eq!(group.add("d", 1), Some(vec!["huge"]));
        assert_eq!(group.finish(), ["d"]);
    }

    #[test]
    fn of_other_services_only_cloudtrails_trail_changes_are_kept() {
        assert!(is_kept(SECRETS_MANAGER, "GetSecretValue"));
        assert!(is_kept(CLOUDTRAIL, "StopLogging"));
        assert!(is_kept(CLOUDTRAIL, "PutEventSelectors"));
        // Reading trails (Trailkeeper's own sync among them) is not a change.
        assert!(!is_kept(CLOUDTRAIL, "LookupEvents"));
        assert!(!is_kept(CLOUDTRAIL, "DescribeTrails"));
        assert!(!is_kept("kms.amazonaws.com", "Decrypt"));
        assert!(!is_kept("s3.amazonaws.com", "StopLogging"));
    }
}
