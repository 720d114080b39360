//! How the engine drives a detector, whatever it remembers: the typed [`Detector`] behind
//! one object-safe [`Run`], its memory read from and written back to the stored JSON.

use foldhash::{HashMap, HashMapExt};

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{DetectionSettings, Detector, Known, Observed};
use crate::findings::Verdict;

/// The memories a batch needs, as stored: (memory name, key) → state.
pub type Stored = HashMap<(String, String), Value>;

/// What a detector concluded over a batch: each verdict with the index of its event, and
/// the memory it now holds per key, with the time of the newest event that touched it.
pub struct Ran {
    pub verdicts: Vec<(usize, Verdict)>,
    pub memory: Vec<(String, Value, DateTime<Utc>)>,
}

/// A detector as the engine drives it, whatever it remembers.
pub trait Run: Send + Sync {
    fn name(&self) -> &'static str;
    fn keys(&self, events: &[Observed]) -> Vec<Option<String>>;
    fn forget_after(&self, settings: &DetectionSettings) -> Option<chrono::Duration>;
    /// Observes `events` in order.
    fn run(
        &self,
        events: &[Observed],
        keys: &[Option<String>],
        known: &[Known],
        stored: &Stored,
    ) -> Ran;
}

impl<D: Detector> Run for D {
    fn name(&self) -> &'static str {
        D::NAME
    }

    fn keys(&self, events: &[Observed]) -> Vec<Option<String>> {
        events.iter().map(|event| self.key(event)).collect()
    }

    fn forget_after(&self, settings: &DetectionSettings) -> Option<chrono::Duration> {
        Detector::forget_after(self, settings)
    }

    fn run(
        &self,
        events: &[Observed],
        keys: &[Option<String>],
        known: &[Known],
        stored: &Stored,
    ) -> Ran {
        let mut states: HashMap<&str, (D::State, DateTime<Utc>)> = HashMap::new();
        let mut verdicts = Vec::new();
        let mut found = Vec::new();
        for (index, event) in events.iter().enumerate() {
            let Some(key) = keys[index].as_deref() else {
                continue;
            };
            let (state, seen) = states
                .entry(key)
                .or_insert_with(|| (recall(D::NAME, key, stored), event.event_time));
            self.observe(event, &known[index], state, &mut found);
            *seen = event.event_time;
            verdicts.extend(found.drain(..).map(|verdict| (index, verdict)));
        }
        let memory = if remembers::<D>() {
            states
                .into_iter()
                .map(|(key, (state, seen))| {
                    let value = serde_json::to_value(state).expect("detector state serialises");
                    (key.to_string(), value, seen)
                })
                .collect()
        } else {
            Vec::new()
        };
        Ran { verdicts, memory }
    }
}

/// A detector whose state is `()` keeps nothing in the store.
fn remembers<D: Detector>() -> bool {
    std::mem::size_of::<D::State>() != 0
}

/// A memory as stored, or a fresh one. A memory that no longer reads (written by another
/// version) starts afresh rather than stopping detection.
pub(super) fn recall<T: serde::de::DeserializeOwned + Default>(
    name: &str,
    key: &str,
    stored: &Stored,
) -> T {
    match stored.get(&(name.to_string(), key.to_string())) {
        None => T::default(),
        Some(value) => T::deserialize(value).unwrap_or_else(|error| {
            tracing::warn!(memory = name, key, %error, "detector memory unreadable; starting it afresh");
            T::default()
        }),
    }
}
