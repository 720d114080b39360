//! The engine: runs every detector over a batch of events in event-time order, with the
//! memory each needs loaded for the batch's keys and saved after it, and records their
//! verdicts as findings — all inside the caller's transaction. One batch detects at a time
//! (an advisory lock held to the commit), so each sees the memory the previous one left.

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgConnection;

use super::history::{self, History, Rotation, SecretFacts};
use super::run::{Ran, Run, Stored, recall};
use super::{DetectionSettings, Observed, detectors, settings};
use crate::activity::ACTIVITY;
use crate::findings::Verdict;
use crate::findings::store::{self, Recorded};

/// The advisory lock that lets one batch detect at a time ("detect" in ASCII).
pub(crate) const DETECTION_LOCK: i64 = 0x6465_7465_6374;

/// Which events' verdicts become findings: those at or after `since` and before `until`,
/// either end open. The detectors learn from every event either way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Recording {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

impl Recording {
    fn covers(&self, at: DateTime<Utc>) -> bool {
        self.since.is_none_or(|since| at >= since) && self.until.is_none_or(|until| at < until)
    }
}

/// Detects over newly stored `events` inside the caller's transaction, with the stored
/// settings, when live detection is on.
pub async fn on_stored(
    db: &mut PgConnection,
    events: Vec<Observed>,
) -> Result<Recorded, sqlx::Error> {
    let started = std::time::Instant::now();
    let recorded = run(db, events, None, Recording::default()).await?;
    ACTIVITY.detected(started.elapsed());
    Ok(recorded)
}

/// Runs every detector over `events` with `settings` and records the verdicts about events
/// `recording` covers.
pub async fn detect(
    db: &mut PgConnection,
    events: Vec<Observed>,
    settings: &DetectionSettings,
    recording: Recording,
) -> Result<Recorded, sqlx::Error> {
    run(db, events, Some(settings), recording).await
}

/// A batch costs four round trips besides its findings (five when it reads the stored
/// settings): the secrets' facts, the lock, the memories, and saving them.
async fn run(
    db: &mut PgConnection,
    mut events: Vec<Observed>,
    given: Option<&DetectionSettings>,
    recording: Recording,
) -> Result<Recorded, sqlx::Error> {
    if events.is_empty() {
        return Ok(Recorded::default());
    }
    // What other batches do not change is read before waiting for the lock.
    let loaded;
    let settings = match given {
        Some(settings) => settings,
        None => {
            loaded = settings::in_force(&mut *db).await?;
            if !loaded.live {
                return Ok(Recorded::default());
            }
            &loaded
        }
    };
    events.sort_by(|a, b| (a.event_time, &a.event_id).cmp(&(b.event_time, &b.event_id)));
    let detectors = detectors::all();
    let keys = detector_keys(&detectors, &events);
    let history_keys: Vec<_> = events.iter().map(history::keys).collect();
    let wanted = wanted(&history_keys, &detectors, &keys);
    let context = context(db, &events).await?;
    sqlx::query!("SELECT pg_advisory_xact_lock($1)", DETECTION_LOCK)
        .execute(&mut *db)
        .await?;
    let stored = memories(db, &wanted).await?;

    let Judged {
        verdicts,
        mut memories,
    } = judge(&events, settings, &context, &detectors, &keys, &stored);
    memories.retain(|memory| {
        stored.get(&(memory.name.clone(), memory.key.clone())) != Some(&memory.state)
    });
    save(db, memories).await?;

    let verdicts = verdicts
        .into_iter()
        .filter(|(index, _)| recording.covers(events[*index].event_time))
        .map(|(_, verdict)| verdict)
        .collect();
    store::record(
        db,
        verdicts,
        chrono::Duration::minutes(settings.incident_minutes),
    )
    .await
}

/// Each detector's key for each event.
fn detector_keys(detectors: &[Box<dyn Run>], events: &[Observed]) -> Vec<Vec<Option<String>>> {
    detectors.iter().map(|d| d.keys(events)).collect()
}

/// The memories a batch needs: its events' history and each detector's, by key.
fn wanted<'a>(
    history_keys: &'a [[(&'static str, Option<String>); 5]],
    detectors: &[Box<dyn Run>],
    keys: &'a [Vec<Option<String>>],
) -> HashSet<(&'a str, &'a str)> {
    let mut wanted = HashSet::new();
    for event_keys in history_keys {
        for (name, key) in event_keys {
            if let Some(key) = key {
                wanted.insert((*name, key.as_str()));
            }
        }
    }
    for (detector, detector_keys) in detectors.iter().zip(keys) {
        for key in detector_keys.iter().flatten() {
            wanted.insert((detector.name(), key.as_str()));
        }
    }
    wanted
}

/// What detection knows of a batch's surroundings: its secrets' facts, the accounts' names.
pub(crate) struct Context {
    facts: HashMap<String, SecretFacts>,
    account_names: HashMap<String, String>,
}

pub(crate) async fn context(
    db: &mut PgConnection,
    events: &[Observed],
) -> Result<Context, sqlx::Error> {
    let facts = facts(db, events).await?;
    let account_names =
        sqlx::query!(r#"SELECT id, name AS "name!" FROM accounts WHERE name IS NOT NULL"#)
            .fetch_all(&mut *db)
            .await?
            .into_iter()
            .map(|account| (account.id, account.name))
            .collect();
    Ok(Context {
        facts,
        account_names,
    })
}

/// Every detector's verdicts over a batch, with the index of the event each is about, in
/// event order; and every memory as it stands after the batch (history's included).
struct Judged {
    verdicts: Vec<(usize, Verdict)>,
    memories: Vec<Memory>,
}

/// One memory after a batch: whose, under which key, what it holds, and the time of the
/// newest event it learned from (history's: the batch's newest).
struct Memory {
    name: String,
    key: String,
    state: Value,
    seen: DateTime<Utc>,
}

/// Runs every detector over `events` (in event-time order) from the memories `stored`.
fn judge(
    events: &[Observed],
    settings: &DetectionSettings,
    context: &Context,
    detectors: &[Box<dyn Run>],
    keys: &[Vec<Option<String>>],
    stored: &Stored,
) -> Judged {
    let mut history = recall_history(stored);
    let mut known = Vec::with_capacity(events.len());
    for event in events {
        let secret = event
            .secret_arn
            .as_ref()
            .and_then(|arn| context.facts.get(arn));
        let this = history.known(event, settings, secret, &context.account_names);
        history.learn(event, this.by_rotation);
        known.push(this);
    }

    let mut verdicts: Vec<(usize, usize, Verdict)> = Vec::new();
    let mut memories = match events.last() {
        Some(newest) => history_rows(&history, newest.event_time),
        None => Vec::new(),
    };
    for (order, (detector, detector_keys)) in detectors.iter().zip(keys).enumerate() {
        let Ran {
            verdicts: found,
            memory,
        } = detector.run(events, detector_keys, &known, stored);
        verdicts.extend(
            found
                .into_iter()
                .map(|(index, verdict)| (index, order, verdict)),
        );
        memories.extend(memory.into_iter().map(|(key, state, seen)| Memory {
            name: detector.name().to_string(),
            key,
            state,
            seen,
        }));
    }
    verdicts.sort_by_key(|(index, order, _)| (*index, *order));
    Judged {
        verdicts: verdicts
            .into_iter()
            .map(|(index, _, verdict)| (index, verdict))
            .collect(),
        memories,
    }
}

/// Detection whose memories are kept here rather than in `detector_state`, for runs that
/// must leave the store as it is (what-if): the same detectors, judging the same way.
pub(crate) struct Judge {
    settings: DetectionSettings,
    detectors: Vec<Box<dyn Run>>,
    memories: Stored,
}

impl Judge {
    pub(crate) fn new(settings: DetectionSettings) -> Judge {
        Judge {
            settings,
            detectors: detectors::all(),
            memories: Stored::new(),
        }
    }

    /// Judges `events`, which follow those judged before in event-time order: the
    /// verdicts, in event order.
    pub(crate) fn judge(&mut self, events: &[Observed], context: &Context) -> Vec<Verdict> {
        let keys = detector_keys(&self.detectors, events);
        let history_keys: Vec<_> = events.iter().map(history::keys).collect();
        let stored: Stored = wanted(&history_keys, &self.detectors, &keys)
            .into_iter()
            .filter_map(|(name, key)| {
                let wanted = (name.to_string(), key.to_string());
                let state = self.memories.get(&wanted)?.clone();
                Some((wanted, state))
            })
            .collect();
        let judged = judge(
            events,
            &self.settings,
            context,
            &self.detectors,
            &keys,
            &stored,
        );
        for memory in judged.memories {
            self.memories
                .insert((memory.name, memory.key), memory.state);
        }
        judged
            .verdicts
            .into_iter()
            .map(|(_, verdict)| verdict)
            .collect()
    }
}

/// The inventory's facts about the events' secrets.
async fn facts(
    db: &mut PgConnection,
    events: &[Observed],
) -> Result<HashMap<String, SecretFacts>, sqlx::Error> {
    let arns: HashSet<&str> = events
        .iter()
        .filter_map(|e| e.secret_arn.as_deref())
        .collect();
    let arns: Vec<&str> = arns.into_iter().collect();
    let rows = sqlx::query!(
        "SELECT arn, name, rotation_lambda_arn FROM secrets WHERE arn = ANY($1)",
        &arns as &[&str]
    )
    .fetch_all(&mut *db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let rotation_function = row
                .rotation_lambda_arn
                .as_deref()
                .and_then(function_name)
                .map(str::to_string);
            (
                row.arn,
                SecretFacts {
                    name: row.name,
                    rotation_function,
                },
            )
        })
        .collect())
}

/// The memories `wanted`, as stored.
async fn memories(
    db: &mut PgConnection,
    wanted: &HashSet<(&str, &str)>,
) -> Result<Stored, sqlx::Error> {
    let (names, keys): (Vec<&str>, Vec<&str>) = wanted.iter().copied().unzip();
    let rows = sqlx::query!(
        "SELECT s.detector, s.key, s.state FROM detector_state s \
         JOIN unnest($1::text[], $2::text[]) AS w (detector, key) USING (detector, key)",
        &names as &[&str],
        &keys as &[&str]
    )
    .fetch_all(&mut *db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| ((row.detector, row.key), row.state))
        .collect())
}

/// Writes the memories that changed, in key order.
async fn save(db: &mut PgConnection, mut rows: Vec<Memory>) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    rows.sort_by(|a, b| (&a.name, &a.key).cmp(&(&b.name, &b.key)));
    let mut names = Vec::with_capacity(rows.len());
    let mut keys = Vec::with_capacity(rows.len());
    let mut states = Vec::with_capacity(rows.len());
    let mut seen = Vec::with_capacity(rows.len());
    for memory in rows {
        names.push(memory.name);
        keys.push(memory.key);
        states.push(memory.state);
        seen.push(memory.seen);
    }
    // A late event does not make a memory look older than it is.
    sqlx::query(
        "INSERT INTO detector_state (detector, key, state, seen) \
         SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::timestamptz[]) \
         ON CONFLICT (detector, key) DO UPDATE SET state = EXCLUDED.state, \
             seen = greatest(detector_state.seen, EXCLUDED.seen)",
    )
    .bind(&names)
    .bind(&keys)
    .bind(&states)
    .bind(&seen)
    .execute(&mut *db)
    .await?;
    Ok(())
}

/// Forgets the memories that can no longer matter (`Detector::forget_after`), counting back
/// from the newest stored event — or from now, should an event claim a time to come.
/// Returns how many were forgotten.
pub async fn forget(
    db: &mut PgConnection,
    settings: &DetectionSettings,
) -> Result<u64, sqlx::Error> {
    let mut forgotten = 0;
    for detector in detectors::all() {
        let Some(after) = detector.forget_after(settings) else {
            continue;
        };
        forgotten += sqlx::query(
            "DELETE FROM detector_state WHERE detector = $1 \
             AND seen < (SELECT least(max(event_time), now()) FROM events) \
                 - make_interval(secs => $2)",
        )
        .bind(detector.name())
        .bind(after.num_seconds() as f64)
        .execute(&mut *db)
        .await?
        .rows_affected();
    }
    Ok(forgotten)
}

fn recall_history(stored: &Stored) -> History {
    let mut history = History::default();
    for (name, key) in stored.keys() {
        match name.as_str() {
            history::ACCOUNTS => {
                history
                    .accounts
                    .insert(key.clone(), recall(name, key, stored));
            }
            history::PRINCIPALS => {
                history
                    .principals
                    .insert(key.clone(), recall(name, key, stored));
            }
            history::READERS => {
                history
                    .readers
                    .insert(key.clone(), recall(name, key, stored));
            }
            history::WRITERS => {
                history
                    .writers
                    .insert(key.clone(), recall(name, key, stored));
            }
            history::ROTATIONS => {
                history
                    .rotations
                    .insert(key.clone(), recall::<Rotation>(name, key, stored));
            }
            _ => {}
        }
    }
    history
}

fn history_rows(history: &History, seen: DateTime<Utc>) -> Vec<Memory> {
    let memory = |name: &str, key: &String, state: Value| Memory {
        name: name.to_string(),
        key: key.clone(),
        state,
        seen,
    };
    let times = |name: &str, map: &HashMap<String, DateTime<Utc>>| {
        map.iter()
            .map(|(key, at)| memory(name, key, serde_json::json!(at)))
            .collect::<Vec<_>>()
    };
    let mut rows = times(history::ACCOUNTS, &history.accounts);
    rows.extend(times(history::PRINCIPALS, &history.principals));
    rows.extend(times(history::READERS, &history.readers));
    rows.extend(times(history::WRITERS, &history.writers));
    rows.extend(history.rotations.iter().map(|(key, rotation)| {
        memory(
            history::ROTATIONS,
            key,
            serde_json::to_value(rotation).expect("rotation serialises"),
        )
    }));
    rows
}

/// `arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]` → `NAME`.
fn function_name(arn: &str) -> Option<&str> {
    arn.split(':').nth(6).filter(|name| !name.is_empty())
}

#[cfg(test)]
mod tests {
    use super::function_name;

    #[test]
    fn a_rotation_lambda_is_named_by_its_arn() {
        assert_eq!(
            function_name("arn:aws:lambda:us-east-1:1:function:rotate-db:live"),
            Some("rotate-db")
        );
        assert_eq!(function_name("not-an-arn"), None);
    }
}
