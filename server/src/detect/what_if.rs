//! What-if: detection over the last days' stored events with proposed settings, beside the
//! same run with the stored settings, touching neither stored findings nor the detectors'
//! memory: the findings the change would add and those it would drop. Both runs start from
//! nothing at the window's start (learning periods included), so they differ only by the
//! settings.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;
use trailkeeper_app::api::findings::FindingKind;
use trailkeeper_app::api::settings::{KindChange, WhatIf};

use super::backfill::CHUNK;
use super::engine::{self, Judge};
use super::settings::{self, SettingsError};
use super::{DetectionSettings, observed};
use crate::findings::{Incident, Verdict, assign};

/// Titles shown per kind.
const EXAMPLES: usize = 3;

/// A finding as the store would keep it: kind × principal × its first secret (an incident
/// lists more).
type FindingKey = (FindingKind, Option<String>, Option<String>);

/// Runs detection over the events from `since` (by default, the stored `what_if_days`
/// before now) with the stored settings and with `proposed`, and compares what each finds.
pub async fn what_if(
    pool: &PgPool,
    proposed: &DetectionSettings,
    since: Option<DateTime<Utc>>,
) -> Result<WhatIf, SettingsError> {
    let stored = settings::load(pool).await?;
    let since = since.unwrap_or_else(|| Utc::now() - Duration::days(stored.what_if_days));
    let mut db = pool.acquire().await?;
    let windows = [stored.incident_minutes, proposed.incident_minutes].map(Duration::minutes);
    let mut now_judged = Judge::new(stored);
    let mut then_judged = Judge::new(proposed.clone());
    let mut current: Vec<Incident> = Vec::new();
    let mut changed: Vec<Incident> = Vec::new();
    let mut events_read = 0;
    let mut after: (DateTime<Utc>, String) = (since, String::new());
    loop {
        let events = observed::read_after(&mut db, Some(&after), CHUNK).await?;
        let Some(last) = events.last() else {
            break;
        };
        after = (last.event_time, last.event_id.clone());
        events_read += events.len() as u64;
        let context = engine::context(&mut db, &events).await?;
        for ((judge, found), window) in [
            (&mut now_judged, &mut current),
            (&mut then_judged, &mut changed),
        ]
        .into_iter()
        .zip(windows)
        {
            let drafts = judge
                .judge(&events, &context)
                .into_iter()
                .filter_map(|verdict| match verdict {
                    Verdict::Finding(draft) => Some(draft),
                    Verdict::Resolve { .. } => None,
                });
            assign(found, drafts.collect(), window);
            // Only the first draft's title is shown.
            for incident in found.iter_mut() {
                incident.drafts.truncate(1);
            }
        }
    }
    let [current, changed] = [current, changed].map(|found| {
        found
            .into_iter()
            .filter_map(|incident| {
                let title = incident.drafts.into_iter().next()?.title;
                let first = incident.secrets.into_iter().next();
                Some(((incident.kind, incident.principal, first), title))
            })
            .collect::<BTreeMap<FindingKey, String>>()
    });
    Ok(WhatIf {
        since,
        events: events_read,
        added: by_kind(&changed, &current),
        dropped: by_kind(&current, &changed),
    })
}

/// The findings of `found` that `other` does not have, by kind, with a few titles each.
fn by_kind(
    found: &BTreeMap<FindingKey, String>,
    other: &BTreeMap<FindingKey, String>,
) -> Vec<KindChange> {
    let mut kinds: HashMap<FindingKind, KindChange> = HashMap::new();
    for (key, title) in found {
        if other.contains_key(key) {
            continue;
        }
        let change = kinds.entry(key.0).or_insert_with(|| KindChange {
            kind: key.0,
            findings: 0,
            examples: Vec::new(),
        });
        change.findings += 1;
        if change.examples.len() < EXAMPLES {
            change.examples.push(title.clone());
        }
    }
    let mut changes: Vec<KindChange> = kinds.into_values().collect();
    changes.sort_by(|a, b| {
        b.findings
            .cmp(&a.findings)
            .then(a.kind.as_str().cmp(b.kind.as_str()))
    });
    changes
}
