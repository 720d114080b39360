//! Findings: what detection concluded, stored once per kind × principal × secret while
//! active (new evidence adds to it) — or, for what a principal does to many secrets at once,
//! once per incident listing every secret — with triage by people and suppression rules.

pub mod read;
pub mod store;
pub mod triage;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use trailkeeper_app::api::events::principal_name;
use trailkeeper_app::api::findings::{FindingKind, FindingSecret, Severity};

/// How many evidence event ids a finding keeps; its count has the full number.
pub const EVIDENCE_CAP: usize = 50;

/// A finding as a detector makes it, before the store merges it into an active one.
#[derive(Clone, Debug, PartialEq)]
pub struct Draft {
    pub kind: FindingKind,
    pub severity: Severity,
    pub title: String,
    pub explanation: String,
    pub secret_arn: Option<String>,
    pub secret_name: Option<String>,
    pub principal: Option<String>,
    pub account_id: Option<String>,
    pub region: Option<String>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub count: i64,
    pub evidence: Vec<String>,
    /// The numbers behind the explanation and the settings used.
    pub detail: Value,
}

/// What a detector concludes from an event.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Open a finding, or add to the active one with the same key.
    Finding(Draft),
    /// The problem went away: resolve the active finding with this key, if any.
    Resolve {
        kind: FindingKind,
        principal: Option<String>,
        secret_arn: Option<String>,
        at: DateTime<Utc>,
        /// Why, in a sentence, for the finding's history.
        reason: String,
    },
}

impl Draft {
    /// Adds a later draft of the same finding: its events, and its words and numbers, which
    /// describe the finding as it now stands.
    pub fn absorb(&mut self, later: Draft) {
        self.severity = self.severity.max(later.severity);
        self.title = later.title;
        self.explanation = later.explanation;
        self.detail = later.detail;
        self.first_seen = self.first_seen.min(later.first_seen);
        self.last_seen = self.last_seen.max(later.last_seen);
        self.count += later.count;
        let room = EVIDENCE_CAP.saturating_sub(self.evidence.len());
        self.evidence.extend(later.evidence.into_iter().take(room));
    }
}

/// An active finding as grouping sees it, with the drafts a batch adds to it.
#[derive(Clone, Debug, PartialEq)]
pub struct Incident {
    /// `None` until stored.
    pub id: Option<i64>,
    pub kind: FindingKind,
    pub principal: Option<String>,
    /// The secrets it touched, first first; none for a finding about no secret.
    pub secrets: Vec<String>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// What this batch adds, in event order.
    pub drafts: Vec<Draft>,
}

impl Incident {
    /// Whether `draft` adds to this finding: of its kind and principal, and either about a
    /// secret it already has (or, about no secret, it has none), or — for a kind that groups
    /// into incidents — about another secret within `window` of it.
    fn takes(&self, draft: &Draft, window: Duration) -> Option<Joins> {
        if self.kind != draft.kind || self.principal != draft.principal {
            return None;
        }
        match &draft.secret_arn {
            None => self.secrets.is_empty().then_some(Joins::Same),
            Some(secret) if self.secrets.contains(secret) => Some(Joins::Same),
            Some(_) => (draft.kind.groups_into_incidents()
                && draft.principal.is_some()
                && !self.secrets.is_empty()
                && draft.first_seen <= self.last_seen + window
                && draft.last_seen >= self.first_seen - window)
                .then_some(Joins::Nearby),
        }
    }

    fn add(&mut self, draft: Draft) {
        if let Some(secret) = &draft.secret_arn
            && !self.secrets.contains(secret)
        {
            self.secrets.push(secret.clone());
        }
        self.first_seen = self.first_seen.min(draft.first_seen);
        self.last_seen = self.last_seen.max(draft.last_seen);
        self.drafts.push(draft);
    }

    /// What this batch adds, as one draft: the first secret's, with every event and the
    /// latest words.
    pub fn added(&self) -> Option<Draft> {
        let mut drafts = self.drafts.iter().cloned();
        let mut total = drafts.next()?;
        for later in drafts {
            total.absorb(later);
        }
        Some(total)
    }

    /// What this batch adds per secret, first secret first.
    pub fn added_per_secret(&self) -> Vec<Draft> {
        let mut per_secret: Vec<Draft> = Vec::new();
        for draft in self
            .drafts
            .iter()
            .filter(|draft| draft.secret_arn.is_some())
        {
            match per_secret
                .iter_mut()
                .find(|earlier| earlier.secret_arn == draft.secret_arn)
            {
                Some(earlier) => earlier.absorb(draft.clone()),
                None => per_secret.push(draft.clone()),
            }
        }
        per_secret
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Joins {
    Nearby,
    Same,
}

/// Adds `drafts`, in event order, to the active findings they belong to (`incidents`, as
/// stored), opening new ones where none does: one finding per kind × principal × secret,
/// and for kinds that group into incidents one finding for everything a principal did
/// within `window` of the last time. Each draft's place depends only on those before it, so
/// batches cut anywhere group alike.
pub fn assign(incidents: &mut Vec<Incident>, drafts: Vec<Draft>, window: Duration) {
    for draft in drafts {
        let joins = incidents
            .iter()
            .enumerate()
            .filter_map(|(at, incident)| {
                Some((incident.takes(&draft, window)?, incident.last_seen, at))
            })
            .max();
        match joins {
            Some((_, _, at)) => incidents[at].add(draft),
            None => incidents.push(Incident {
                id: None,
                kind: draft.kind,
                principal: draft.principal.clone(),
                secrets: draft.secret_arn.iter().cloned().collect(),
                first_seen: draft.first_seen,
                last_seen: draft.last_seen,
                drafts: vec![draft],
            }),
        }
    }
}

/// How many secrets an incident's words name before "and N more".
const NAMED: usize = 10;

/// The words of a finding about several secrets (`secrets`, first first, at least two):
/// what happened to how many, by whom, over what span, and which; then the detector's words
/// about the first.
pub fn incident_words(
    kind: FindingKind,
    principal: Option<&str>,
    secrets: &[FindingSecret],
    first_explanation: &str,
) -> (String, String) {
    let who = principal.map_or("an unknown caller", principal_name);
    let first = secrets.iter().map(|secret| secret.first_seen).min();
    let last = secrets.iter().map(|secret| secret.last_seen).max();
    let (Some(first), Some(last), Some(leader)) = (first, last, secrets.first()) else {
        return (kind.label().to_string(), first_explanation.to_string());
    };
    let minutes = (last - first).num_minutes();
    let span = match minutes {
        0 => "within a minute".to_string(),
        1 => "within a minute or two".to_string(),
        2..120 => format!("within {minutes} minutes"),
        _ => format!("over {} hours", minutes / 60),
    };
    let label = kind.label();
    let mut capitalised = label.chars();
    let label = capitalised
        .next()
        .map(|initial| {
            initial
                .to_uppercase()
                .chain(capitalised)
                .collect::<String>()
        })
        .unwrap_or_default();
    let name = |secret: &FindingSecret| secret.name.clone().unwrap_or_else(|| secret.arn.clone());
    let mut names: Vec<String> = secrets.iter().take(NAMED).map(name).collect();
    if secrets.len() > NAMED {
        names.push(format!("{} more", secrets.len() - NAMED));
    }
    let listed = match names.split_last() {
        Some((tail, head)) if !head.is_empty() => format!("{} and {tail}", head.join(", ")),
        _ => names.join(""),
    };
    let title = format!("{label}: {} secrets {span} by {who}", secrets.len());
    let explanation = format!(
        "One incident: {who}, {} secrets between {} and {} UTC, each within minutes of the one \
         before — {listed}. The first, {}: {first_explanation}",
        secrets.len(),
        first.format("%Y-%m-%d %H:%M"),
        last.format("%Y-%m-%d %H:%M"),
        name(leader),
    );
    (title, explanation)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn draft(kind: FindingKind, minute: i64, secret: &str) -> Draft {
        let at = Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap() + Duration::minutes(minute);
        Draft {
            kind,
            severity: Severity::Medium,
            title: format!("{secret} at {minute}"),
            explanation: format!("about {secret}"),
            secret_arn: Some(format!("arn:{secret}")),
            secret_name: Some(secret.into()),
            principal: Some("arn:p".into()),
            account_id: None,
            region: None,
            first_seen: at,
            last_seen: at,
            count: 1,
            evidence: vec![format!("{secret}-{minute}")],
            detail: Value::Null,
        }
    }

    fn grouped(batches: &[&[Draft]]) -> Vec<Vec<String>> {
        let mut incidents = Vec::new();
        for batch in batches {
            assign(&mut incidents, batch.to_vec(), Duration::minutes(15));
        }
        incidents
            .into_iter()
            .map(|incident| incident.secrets)
            .collect()
    }

    #[test]
    fn findings_about_one_secret_merge_and_keep_the_latest_words_and_highest_severity() {
        let mut high = draft(FindingKind::DeniedBurst, 5, "s");
        high.severity = Severity::High;
        let mut incidents = Vec::new();
        assign(
            &mut incidents,
            vec![
                draft(FindingKind::DeniedBurst, 1, "s"),
                draft(FindingKind::ReadSpike, 2, "s"),
                high,
                draft(FindingKind::DeniedBurst, 300, "s"),
            ],
            Duration::minutes(15),
        );
        assert_eq!(incidents.len(), 2);
        let burst = incidents[0].added().unwrap();
        assert_eq!(burst.count, 3);
        assert_eq!(burst.evidence, ["s-1", "s-5", "s-300"]);
        assert_eq!(burst.severity, Severity::High);
        assert_eq!(burst.title, "s at 300");
        assert_eq!(
            incidents[0].first_seen,
            draft(FindingKind::DeniedBurst, 1, "s").first_seen
        );
    }

    #[test]
    fn one_principal_deleting_secrets_minutes_apart_is_one_incident_until_a_pause() {
        let deleted = |minute, secret| draft(FindingKind::SecretDeleted, minute, secret);
        let incidents = grouped(&[&[
            deleted(0, "a"),
            deleted(5, "b"),
            deleted(19, "c"),
            deleted(40, "d"),
        ]]);
        assert_eq!(incidents, [vec!["arn:a", "arn:b", "arn:c"], vec!["arn:d"]]);
        let mut someone_else = deleted(1, "e");
        someone_else.principal = Some("arn:q".into());
        assert_eq!(grouped(&[&[deleted(0, "a"), someone_else]]).len(), 2);
    }

    #[test]
    fn a_secrets_standing_state_stays_one_finding_per_secret() {
        let failed = |minute, secret| draft(FindingKind::RotationFailed, minute, secret);
        assert_eq!(grouped(&[&[failed(0, "a"), failed(1, "b")]]).len(), 2);
    }

    #[test]
    fn batches_cut_anywhere_group_alike() {
        let deleted = |minute, secret| draft(FindingKind::SecretDeleted, minute, secret);
        let events = [
            deleted(0, "a"),
            deleted(50, "b"),
            deleted(60, "a"),
            deleted(62, "c"),
        ];
        let whole = grouped(&[&events]);
        assert_eq!(whole, [vec!["arn:a", "arn:c"], vec!["arn:b"]]);
        for cut in 1..events.len() {
            assert_eq!(
                grouped(&[&events[..cut], &events[cut..]]),
                whole,
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn an_incident_says_how_many_secrets_which_and_what_of_the_first() {
        let secrets: Vec<FindingSecret> = (0..12)
            .map(|n| {
                let at = Utc.with_ymd_and_hms(2026, 3, 1, 10, n, 0).unwrap();
                FindingSecret {
                    arn: format!("arn:s{n}"),
                    name: Some(format!("prod/s{n:02}")),
                    first_seen: at,
                    last_seen: at,
                    count: 1,
                }
            })
            .collect();
        let (title, explanation) = incident_words(
            FindingKind::SecretDeleted,
            Some("arn:aws:iam::111122223333:role/teardown"),
            &secrets,
            "teardown deleted prod/s00 without recovery.",
        );
        assert_eq!(
            title,
            "Secret deleted: 12 secrets within 11 minutes by teardown"
        );
        assert!(
            explanation.contains(
                "prod/s00, prod/s01, prod/s02, prod/s03, prod/s04, prod/s05, \
                 prod/s06, prod/s07, prod/s08, prod/s09 and 2 more."
            ),
            "{explanation}"
        );
        assert!(
            explanation
                .ends_with("The first, prod/s00: teardown deleted prod/s00 without recovery."),
            "{explanation}"
        );
    }

    #[test]
    fn evidence_stops_at_the_cap_while_the_count_goes_on() {
        let mut first = draft(FindingKind::ReadSpike, 0, "s");
        for index in 1..80 {
            first.absorb(draft(FindingKind::ReadSpike, index, "s"));
        }
        assert_eq!(first.count, 80);
        assert_eq!(first.evidence.len(), EVIDENCE_CAP);
    }
}
