//! Detection: each detector looks at the stored events one at a time in event-time order,
//! with what it remembers about their principal or secret, and concludes findings.
//!
//! Live, detection runs in the transaction that stores a batch, over the batch's newly
//! stored events (`ingest::store`), so a batch's events, the detectors' memory and the
//! findings commit together and a restart loses nothing. A backfill (`backfill`) feeds the
//! stored events through the same path in event-time order, so it concludes what watching
//! them live would have: every window, learning period and baseline is measured in event
//! time, and a detector's memory carries from one batch to the next exactly as from one event
//! to the next. That holds for batches that commit in event-time order; an event arriving
//! after newer ones is judged with the memory as it stands when it arrives, as live.

pub mod backfill;
pub mod conditions;
pub mod detectors;
pub mod engine;
pub mod history;
pub mod observed;
mod run;
pub mod settings;
pub mod what_if;

use foldhash::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use trailkeeper_app::api::events::principal_name;
use trailkeeper_app::api::findings::{FindingKind, Severity};

use crate::findings::{Draft, Verdict};
pub use observed::Observed;
pub use settings::DetectionSettings;

/// One detector: a small rule over one event at a time and the memory it keeps per key.
pub trait Detector: Send + Sync + 'static {
    /// Names its memory in `detector_state`.
    const NAME: &'static str;
    /// What it remembers per key; a detector that remembers nothing uses `()`.
    type State: Default + Serialize + DeserializeOwned + Send;

    /// The key of the memory `event` needs (a principal, a principal and a secret…), or
    /// `None` when the detector has nothing to do with the event. A detector without
    /// memory returns an empty key for the events it looks at.
    fn key(&self, event: &Observed) -> Option<String>;

    /// Looks at one event, after every earlier one, with what is known before it.
    fn observe(
        &self,
        event: &Observed,
        known: &Known,
        state: &mut Self::State,
        verdicts: &mut Vec<Verdict>,
    );

    /// How long after the last event that touched a memory it can still matter; past that,
    /// housekeeping forgets it (`engine::forget`). `None`: a memory is kept for good.
    fn forget_after(&self, _settings: &DetectionSettings) -> Option<Duration> {
        None
    }
}

/// What is known when an event is looked at: the settings, the event's place in the
/// history before it, and the inventory's facts about its secret.
#[derive(Clone, Debug)]
pub struct Known<'a> {
    pub settings: &'a DetectionSettings,
    /// The first event of the event's account, and of its principal.
    pub account_since: Option<DateTime<Utc>>,
    pub principal_since: Option<DateTime<Utc>>,
    /// The principal's first successful read of the secret, before this event.
    pub first_read: Option<DateTime<Utc>>,
    /// When the principal last set the secret's value, before this event.
    pub last_set_value: Option<DateTime<Utc>>,
    /// The call is the secret's own rotation function working during a rotation: expected,
    /// so behaviour detectors neither judge it nor learn from it.
    pub by_rotation: bool,
    /// The secret's name as the inventory knows it.
    pub secret_name: Option<&'a str>,
    /// The Organization's names of the accounts, by id.
    pub account_names: &'a HashMap<String, String>,
}

impl Known<'_> {
    fn learning(&self) -> Duration {
        Duration::days(self.settings.learning_days)
    }

    /// Past the account's learning period (its first days of history) at `at`.
    pub fn account_learned(&self, at: DateTime<Utc>) -> bool {
        self.account_since
            .is_some_and(|since| at >= since + self.learning())
    }

    /// The principal reads, at `at`, a value it set itself moments before: what
    /// infrastructure as code does after creating or updating a secret, which reveals nothing
    /// it did not have.
    pub fn reads_back_own_value(&self, at: DateTime<Utc>) -> bool {
        self.last_set_value.is_some_and(|set| {
            at >= set && at - set <= Duration::minutes(self.settings.readback_minutes)
        })
    }

    /// Past both the account's and the principal's learning periods at `at`.
    pub fn principal_learned(&self, at: DateTime<Utc>) -> bool {
        self.account_learned(at)
            && self
                .principal_since
                .is_some_and(|since| at >= since + self.learning())
    }
}

/// A finding about one event, with its secret, principal, account and region.
pub fn draft(
    kind: FindingKind,
    severity: Severity,
    event: &Observed,
    known: &Known,
    title: String,
    explanation: String,
    detail: Value,
) -> Draft {
    Draft {
        kind,
        severity,
        title,
        explanation,
        secret_arn: event.secret().map(str::to_string),
        secret_name: known.secret_name.map(str::to_string).or_else(|| {
            event
                .secret()
                .map(|id| observed::secret_name(id).to_string())
        }),
        principal: event.principal.clone(),
        account_id: event.account_id.clone(),
        region: event.region.clone(),
        first_seen: event.event_time,
        last_seen: event.event_time,
        count: 1,
        evidence: vec![event.event_id.clone()],
        detail,
    }
}

/// The principal as a sentence names it: a role or user name, with the session when there
/// is one.
pub fn who(event: &Observed) -> String {
    let name = event
        .principal
        .as_deref()
        .map(principal_name)
        .unwrap_or("an unknown caller");
    match &event.session_name {
        Some(session) => format!("{name} (session {session})"),
        None => name.to_string(),
    }
}

/// An account as a sentence names it: `prod (111111111111)`, or its id alone.
pub fn which_account(account: &str, known: &Known<'_>) -> String {
    trailkeeper_app::api::secrets::account_label(
        account,
        known.account_names.get(account).map(String::as_str),
    )
}

/// The secret as a sentence names it.
pub fn which_secret<'a>(event: &'a Observed, known: &Known<'a>) -> &'a str {
    known
        .secret_name
        .or_else(|| event.secret().map(observed::secret_name))
        .unwrap_or("a secret")
}

/// Where a call came from, as a sentence says it.
pub fn from_where(event: &Observed) -> String {
    match (&event.source_ip, &event.source_service) {
        (Some(address), _) => address.clone(),
        (None, Some(service)) => service.clone(),
        (None, None) => "an unknown source".into(),
    }
}

pub fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

#[cfg(test)]
pub(crate) mod testing {
    //! Events and a fold for detectors' unit tests: no database, just the rule.

    use chrono::{DateTime, TimeZone, Utc};

    use super::history::History;
    use super::{DetectionSettings, Detector, Observed};
    use crate::findings::Verdict;

    pub const ACCOUNT: &str = "111122223333";

    pub fn at(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap()
            + chrono::Duration::days(i64::from(day) - 1)
            + chrono::Duration::hours(i64::from(hour))
            + chrono::Duration::minutes(i64::from(minute))
    }

    pub fn secret_arn(name: &str) -> String {
        format!("arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:{name}-AbCdEf")
    }

    pub fn role(name: &str) -> String {
        format!("arn:aws:iam::{ACCOUNT}:role/{name}")
    }

    /// A successful `GetSecretValue` of `secret` by the role `principal` from a private
    /// address.
    pub fn read(id: &str, when: DateTime<Utc>, principal: &str, secret: &str) -> Observed {
        Observed {
            event_id: id.into(),
            event_time: when,
            event_name: "GetSecretValue".into(),
            region: Some("us-east-1".into()),
            account_id: Some(ACCOUNT.into()),
            secret_ref: Some(secret.into()),
            secret_arn: Some(secret_arn(secret)),
            principal: Some(role(principal)),
            session_name: Some(format!("{principal}-1")),
            principal_account: Some(ACCOUNT.into()),
            principal_type: Some("AssumedRole".into()),
            source_ip: Some("10.0.1.5".into()),
            source_service: None,
            user_agent_family: Some("aws-sdk-java".into()),
            error_code: None,
            error_message: None,
            version_stage: None,
            version_id: None,
            request: None,
        }
    }

    pub fn call(id: &str, when: DateTime<Utc>, name: &str, principal: &str) -> Observed {
        Observed {
            event_name: name.into(),
            secret_ref: None,
            secret_arn: None,
            ..read(id, when, principal, "none")
        }
    }

    /// Runs `detector` over `events` in order, as the engine does, with one memory per key
    /// and an account whose history began at `account_since`.
    pub fn run<D: Detector>(
        detector: &D,
        settings: &DetectionSettings,
        account_since: DateTime<Utc>,
        events: &[Observed],
    ) -> Vec<Verdict> {
        let mut history = History::default();
        history.accounts.insert(ACCOUNT.into(), account_since);
        // The events' own account has a name from Organizations; others are known by id.
        let names = foldhash::HashMap::from_iter([(ACCOUNT.to_string(), "prod".to_string())]);
        let mut states = std::collections::HashMap::<String, D::State>::new();
        let mut verdicts = Vec::new();
        for event in events {
            let known = history.known(event, settings, None, &names);
            if let Some(key) = detector.key(event) {
                let state = states.entry(key).or_default();
                detector.observe(event, &known, state, &mut verdicts);
            }
            history.learn(event, known.by_rotation);
        }
        verdicts
    }

    pub fn findings(verdicts: &[Verdict]) -> Vec<&crate::findings::Draft> {
        verdicts
            .iter()
            .filter_map(|verdict| match verdict {
                Verdict::Finding(draft) => Some(draft),
                Verdict::Resolve { .. } => None,
            })
            .collect()
    }
}
