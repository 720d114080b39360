//! What every detector may ask about an event's past: when its account's and its
//! principal's history began, when the principal first read the secret and last set its
//! value, and whether a rotation of the secret is under way. Kept in `detector_state` like a detector's memory,
//! and learned from each event after the detectors have looked at it.

use foldhash::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::{DetectionSettings, Known, Observed};
use crate::events::rotations::LONGEST_ROTATION;

/// The memories' names in `detector_state`.
pub const ACCOUNTS: &str = "history.accounts";
pub const PRINCIPALS: &str = "history.principals";
pub const READERS: &str = "history.readers";
pub const WRITERS: &str = "history.writers";
pub const ROTATIONS: &str = "history.rotations";

/// The inventory's facts about a secret that detection uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SecretFacts {
    pub name: String,
    /// The rotation Lambda's function name (the session name its calls carry).
    pub rotation_function: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rotation {
    pub started: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, Default)]
pub struct History {
    pub accounts: HashMap<String, DateTime<Utc>>,
    pub principals: HashMap<String, DateTime<Utc>>,
    pub readers: HashMap<String, DateTime<Utc>>,
    /// When each principal last set each secret's value.
    pub writers: HashMap<String, DateTime<Utc>>,
    pub rotations: HashMap<String, Rotation>,
}

/// The keys of an event's history in each memory.
pub fn keys(event: &Observed) -> [(&'static str, Option<String>); 5] {
    [
        (ACCOUNTS, event.account_id.clone()),
        (PRINCIPALS, event.principal.clone()),
        (READERS, reader_key(event)),
        (WRITERS, reader_key(event)),
        (ROTATIONS, event.secret().map(str::to_string)),
    ]
}

fn reader_key(event: &Observed) -> Option<String> {
    Some(format!(
        "{}\u{1f}{}",
        event.principal.as_deref()?,
        event.secret()?
    ))
}

impl History {
    /// What is known before `event`.
    pub fn known<'a>(
        &self,
        event: &Observed,
        settings: &'a DetectionSettings,
        secret: Option<&'a SecretFacts>,
        account_names: &'a HashMap<String, String>,
    ) -> Known<'a> {
        let lookup = |map: &HashMap<String, DateTime<Utc>>, key: Option<&str>| {
            key.and_then(|key| map.get(key)).copied()
        };
        Known {
            settings,
            account_since: lookup(&self.accounts, event.account_id.as_deref()),
            principal_since: lookup(&self.principals, event.principal.as_deref()),
            first_read: lookup(&self.readers, reader_key(event).as_deref()),
            last_set_value: lookup(&self.writers, reader_key(event).as_deref()),
            by_rotation: self.by_rotation(event, secret),
            secret_name: secret.map(|facts| facts.name.as_str()),
            account_names,
        }
    }

    /// The secret's rotation function calling while its rotation is under way. The function
    /// is known by its name (the session name of its role's calls); when the inventory does
    /// not name one, any Lambda-made call during the rotation is taken for it.
    fn by_rotation(&self, event: &Observed, secret: Option<&SecretFacts>) -> bool {
        let Some(started) = event
            .secret()
            .and_then(|arn| self.rotations.get(arn))
            .and_then(|rotation| rotation.started)
        else {
            return false;
        };
        let under_way = event.event_time >= started
            && event.event_time - started <= Duration::hours(LONGEST_ROTATION);
        let by_function = match secret.and_then(|facts| facts.rotation_function.as_deref()) {
            Some(function) => event.session_name.as_deref() == Some(function),
            None => event.source_service.as_deref() == Some("lambda.amazonaws.com"),
        };
        under_way && by_function
    }

    /// Learns from `event`, after the detectors have looked at it.
    pub fn learn(&mut self, event: &Observed, by_rotation: bool) {
        let at = event.event_time;
        if let Some(account) = &event.account_id {
            self.accounts.entry(account.clone()).or_insert(at);
        }
        if let Some(principal) = &event.principal {
            self.principals.entry(principal.clone()).or_insert(at);
        }
        if event.is_secret_read()
            && !by_rotation
            && let Some(key) = reader_key(event)
        {
            self.readers.entry(key).or_insert(at);
        }
        if event.sets_value()
            && let Some(key) = reader_key(event)
        {
            self.writers.insert(key, at);
        }
        if let Some(secret) = event.secret() {
            match event.event_name.as_str() {
                "RotationStarted" => {
                    self.rotations
                        .insert(secret.to_string(), Rotation { started: Some(at) });
                }
                "RotationSucceeded" | "RotationFailed" | "RotationAbandoned" => {
                    self.rotations
                        .insert(secret.to_string(), Rotation { started: None });
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::testing::{at, read};

    #[test]
    fn the_rotation_function_reading_during_a_rotation_is_expected() {
        let settings = DetectionSettings::default();
        let facts = SecretFacts {
            name: "prod/db".into(),
            rotation_function: Some("rotate-prod-db".into()),
        };
        let mut history = History::default();
        let mut started = read("s", at(1, 3, 0), "rotation-role", "prod/db");
        started.event_name = "RotationStarted".into();
        started.principal = None;
        history.learn(&started, false);

        let mut by_function = read("r", at(1, 3, 1), "rotation-role", "prod/db");
        by_function.session_name = Some("rotate-prod-db".into());
        assert!(
            history
                .known(&by_function, &settings, Some(&facts), &HashMap::default())
                .by_rotation
        );
        let someone_else = read("o", at(1, 3, 1), "payments-task", "prod/db");
        assert!(
            !history
                .known(&someone_else, &settings, Some(&facts), &HashMap::default())
                .by_rotation
        );

        let mut succeeded = started.clone();
        succeeded.event_name = "RotationSucceeded".into();
        succeeded.event_time = at(1, 3, 2);
        history.learn(&succeeded, false);
        by_function.event_time = at(1, 3, 5);
        assert!(
            !history
                .known(&by_function, &settings, Some(&facts), &HashMap::default())
                .by_rotation
        );
    }

    #[test]
    fn reading_back_a_value_one_set_moments_ago_is_told_apart() {
        let settings = DetectionSettings::default();
        let mut history = History::default();
        let mut put = read("p", at(9, 14, 0), "platform-deploy", "svc/new");
        put.event_name = "PutSecretValue".into();
        history.learn(&put, false);
        // A description changed is no value of the caller's choosing.
        let mut described = read("d", at(9, 14, 0), "platform-deploy", "svc/other");
        described.event_name = "UpdateSecret".into();
        described.request = Some(serde_json::json!({ "description": "new words" }));
        history.learn(&described, false);

        let names = HashMap::default();
        let soon = read("r", at(9, 14, 2), "platform-deploy", "svc/new");
        assert!(
            history
                .known(&soon, &settings, None, &names)
                .reads_back_own_value(soon.event_time)
        );
        let later = read("l", at(9, 15, 0), "platform-deploy", "svc/new");
        assert!(
            !history
                .known(&later, &settings, None, &names)
                .reads_back_own_value(later.event_time)
        );
        let someone_else = read("s", at(9, 14, 2), "intruder", "svc/new");
        assert!(
            !history
                .known(&someone_else, &settings, None, &names)
                .reads_back_own_value(someone_else.event_time)
        );
        let other = read("o", at(9, 14, 2), "platform-deploy", "svc/other");
        assert!(
            !history
                .known(&other, &settings, None, &names)
                .reads_back_own_value(other.event_time)
        );
    }

    #[test]
    fn first_reads_and_beginnings_are_remembered_from_the_first_event() {
        let settings = DetectionSettings::default();
        let mut history = History::default();
        let first = read("1", at(1, 9, 0), "payments-task", "prod/db");
        assert_eq!(
            history
                .known(&first, &settings, None, &HashMap::default())
                .first_read,
            None
        );
        history.learn(&first, false);
        let later = read("2", at(2, 9, 0), "payments-task", "prod/db");
        let names = HashMap::default();
        let known = history.known(&later, &settings, None, &names);
        assert_eq!(known.first_read, Some(at(1, 9, 0)));
        assert_eq!(known.account_since, Some(at(1, 9, 0)));
        assert_eq!(known.principal_since, Some(at(1, 9, 0)));
    }
}
