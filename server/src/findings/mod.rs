//! Findings: what detection concluded, stored once per kind × principal × secret while
//! active (new evidence adds to it), with triage by people and suppression rules.

pub mod read;
pub mod store;
pub mod triage;

use chrono::{DateTime, Utc};
use serde_json::Value;
use trailkeeper_app::api::findings::{FindingKind, Severity};

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

/// What identifies an active finding.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    pub kind: FindingKind,
    pub principal: Option<String>,
    pub secret_arn: Option<String>,
}

impl Draft {
    pub fn key(&self) -> Key {
        Key {
            kind: self.kind,
            principal: self.principal.clone(),
            secret_arn: self.secret_arn.clone(),
        }
    }

    /// Adds a later draft with the same key: its events, and its words and numbers, which
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

/// Verdicts in order, with consecutive findings of the same key merged into one, so a batch
/// writes each active finding once. A resolution keeps its place: a finding opened, resolved
/// and opened again within one batch stays two findings.
pub fn coalesce(verdicts: impl IntoIterator<Item = Verdict>) -> Vec<Verdict> {
    let mut merged: Vec<Verdict> = Vec::new();
    let mut open: std::collections::HashMap<Key, usize> = std::collections::HashMap::new();
    for verdict in verdicts {
        match verdict {
            Verdict::Finding(draft) => {
                let key = draft.key();
                match open.get(&key) {
                    Some(&at) => {
                        if let Verdict::Finding(earlier) = &mut merged[at] {
                            earlier.absorb(draft);
                        }
                    }
                    None => {
                        open.insert(key, merged.len());
                        merged.push(Verdict::Finding(draft));
                    }
                }
            }
            Verdict::Resolve {
                kind,
                principal,
                secret_arn,
                at,
                reason,
            } => {
                open.remove(&Key {
                    kind,
                    principal: principal.clone(),
                    secret_arn: secret_arn.clone(),
                });
                merged.push(Verdict::Resolve {
                    kind,
                    principal,
                    secret_arn,
                    at,
                    reason,
                });
            }
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn draft(kind: FindingKind, minute: u32, evidence: &str) -> Draft {
        let at = Utc.with_ymd_and_hms(2026, 3, 1, 10, minute, 0).unwrap();
        Draft {
            kind,
            severity: Severity::Medium,
            title: format!("at {minute}"),
            explanation: String::new(),
            secret_arn: Some("arn:s".into()),
            secret_name: Some("s".into()),
            principal: Some("arn:p".into()),
            account_id: None,
            region: None,
            first_seen: at,
            last_seen: at,
            count: 1,
            evidence: vec![evidence.into()],
            detail: Value::Null,
        }
    }

    #[test]
    fn findings_with_one_key_merge_in_order_and_keep_the_latest_words() {
        let mut high = draft(FindingKind::DeniedBurst, 5, "b");
        high.severity = Severity::High;
        let merged = coalesce([
            Verdict::Finding(draft(FindingKind::DeniedBurst, 1, "a")),
            Verdict::Finding(draft(FindingKind::ReadSpike, 2, "x")),
            Verdict::Finding(high),
            Verdict::Finding(draft(FindingKind::DeniedBurst, 9, "c")),
        ]);
        assert_eq!(merged.len(), 2);
        let Verdict::Finding(burst) = &merged[0] else {
            panic!("a finding first")
        };
        assert_eq!(burst.count, 3);
        assert_eq!(burst.evidence, ["a", "b", "c"]);
        assert_eq!(burst.severity, Severity::High);
        assert_eq!(burst.title, "at 9");
        assert_eq!(burst.first_seen.format("%M").to_string(), "01");
        assert_eq!(burst.last_seen.format("%M").to_string(), "09");
    }

    #[test]
    fn a_resolution_between_two_findings_keeps_them_apart() {
        let failed = || Verdict::Finding(draft(FindingKind::RotationFailed, 1, "f"));
        let merged = coalesce([
            failed(),
            Verdict::Resolve {
                kind: FindingKind::RotationFailed,
                principal: Some("arn:p".into()),
                secret_arn: Some("arn:s".into()),
                at: Utc::now(),
                reason: "rotated".into(),
            },
            failed(),
        ]);
        assert_eq!(merged.len(), 3);
    }

    #[test]
    fn evidence_stops_at_the_cap_while_the_count_goes_on() {
        let mut first = draft(FindingKind::ReadSpike, 0, "0");
        for index in 1..80 {
            first.absorb(draft(FindingKind::ReadSpike, 1, &index.to_string()));
        }
        assert_eq!(first.count, 80);
        assert_eq!(first.evidence.len(), EVIDENCE_CAP);
    }
}
