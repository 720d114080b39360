//! Whether a trail's event selectors log Secrets Manager's management events: its reads
//! (`GetSecretValue` and the like, which detection watches) and its writes (the changes it
//! reports). Basic selectors say so outright; advanced ones are judged against those events,
//! and a field whose value differs from one call to the next (who called, from which
//! endpoint) leaves the answer at "partly".

use serde::{Deserialize, Serialize};
use trailkeeper_app::api::overview::Logged;

use crate::aws::SECRETS_MANAGER;

/// A trail's event selectors, as `GetEventSelectors` returns them (and as CloudTrail records
/// of `PutEventSelectors` carry them, in `requestParameters`). A trail has one kind or the
/// other; with neither it logs every management event.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Selectors {
    #[serde(default)]
    pub event_selectors: Vec<BasicSelector>,
    #[serde(default)]
    pub advanced_event_selectors: Vec<AdvancedSelector>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BasicSelector {
    /// `All`, `ReadOnly` or `WriteOnly`; AWS's default is `All`.
    pub read_write_type: Option<String>,
    /// AWS's default is true.
    pub include_management_events: Option<bool>,
    #[serde(default)]
    pub exclude_management_event_sources: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdvancedSelector {
    pub name: Option<String>,
    #[serde(default)]
    pub field_selectors: Vec<FieldSelector>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldSelector {
    pub field: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub equals: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub starts_with: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ends_with: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_equals: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_starts_with: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_ends_with: Vec<String>,
}

/// What a trail logs of Secrets Manager's management events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretsManagerLogging {
    pub reads: Logged,
    pub writes: Logged,
}

/// The calls each kind stands for: the reads detection needs, and the writes it reports.
const READS: [&str; 4] = [
    "GetSecretValue",
    "BatchGetSecretValue",
    "DescribeSecret",
    "ListSecrets",
];
const WRITES: [&str; 6] = [
    "PutSecretValue",
    "UpdateSecret",
    "DeleteSecret",
    "PutResourcePolicy",
    "RotateSecret",
    "UpdateSecretVersionStage",
];

impl Selectors {
    pub fn secrets_manager(&self) -> SecretsManagerLogging {
        SecretsManagerLogging {
            reads: self.logged(&READS, true),
            writes: self.logged(&WRITES, false),
        }
    }

    fn logged(&self, calls: &[&str], read_only: bool) -> Logged {
        let each: Vec<Verdict> = calls
            .iter()
            .map(|call| {
                self.logs(&Call {
                    name: call,
                    read_only,
                })
            })
            .collect();
        if each.iter().all(|verdict| *verdict == Verdict::Yes) {
            Logged::All
        } else if each.iter().all(|verdict| *verdict == Verdict::No) {
            Logged::None
        } else {
            Logged::Partly
        }
    }

    fn logs(&self, call: &Call) -> Verdict {
        if !self.advanced_event_selectors.is_empty() {
            // Selectors are alternatives: any one matching logs the event.
            return self
                .advanced_event_selectors
                .iter()
                .map(|selector| selector.matches(call))
                .max()
                .unwrap_or(Verdict::No);
        }
        if self.event_selectors.is_empty() {
            return Verdict::Yes;
        }
        let logged = self.event_selectors.iter().any(|selector| {
            let direction = match selector.read_write_type.as_deref() {
                Some("ReadOnly") => call.read_only,
                Some("WriteOnly") => !call.read_only,
                _ => true,
            };
            selector.include_management_events.unwrap_or(true)
                && direction
                && !selector
                    .exclude_management_event_sources
                    .iter()
                    .any(|source| source == SECRETS_MANAGER)
        });
        if logged { Verdict::Yes } else { Verdict::No }
    }
}

/// One Secrets Manager management call, as a selector sees it.
struct Call<'a> {
    name: &'a str,
    read_only: bool,
}

/// Whether a selector matches a call; `Unknown` when it depends on what only the event
/// itself says (who made it, its resources, its error). Ordered so the best of several
/// alternatives is their maximum.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Verdict {
    No,
    Unknown,
    Yes,
}

impl AdvancedSelector {
    /// Every field selector must match.
    fn matches(&self, call: &Call) -> Verdict {
        self.field_selectors
            .iter()
            .map(|field| field.matches(call))
            .min()
            .unwrap_or(Verdict::Yes)
    }
}

impl FieldSelector {
    fn matches(&self, call: &Call) -> Verdict {
        let value = match self.field.as_str() {
            "eventCategory" => "Management",
            "eventSource" => SECRETS_MANAGER,
            "eventName" => call.name,
            "eventType" => "AwsApiCall",
            "readOnly" => {
                if call.read_only {
                    "true"
                } else {
                    "false"
                }
            }
            _ => return Verdict::Unknown,
        };
        let matched = (self.equals.is_empty() || self.equals.iter().any(|v| value == v))
            && (self.starts_with.is_empty()
                || self
                    .starts_with
                    .iter()
                    .any(|v| value.starts_with(v.as_str())))
            && (self.ends_with.is_empty()
                || self.ends_with.iter().any(|v| value.ends_with(v.as_str())))
            && !self.not_equals.iter().any(|v| value == v)
            && !self
                .not_starts_with
                .iter()
                .any(|v| value.starts_with(v.as_str()))
            && !self
                .not_ends_with
                .iter()
                .any(|v| value.ends_with(v.as_str()));
        if matched { Verdict::Yes } else { Verdict::No }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(read_write: &str, management: bool, excluded: &[&str]) -> Selectors {
        Selectors {
            event_selectors: vec![BasicSelector {
                read_write_type: Some(read_write.into()),
                include_management_events: Some(management),
                exclude_management_event_sources: excluded.iter().map(|s| s.to_string()).collect(),
            }],
            advanced_event_selectors: Vec::new(),
        }
    }

    fn field(field: &str, build: impl FnOnce(&mut FieldSelector)) -> FieldSelector {
        let mut selector = FieldSelector {
            field: field.into(),
            ..FieldSelector::default()
        };
        build(&mut selector);
        selector
    }

    fn advanced(fields: Vec<FieldSelector>) -> AdvancedSelector {
        AdvancedSelector {
            name: None,
            field_selectors: fields,
        }
    }

    fn logging(reads: Logged, writes: Logged) -> SecretsManagerLogging {
        SecretsManagerLogging { reads, writes }
    }

    #[test]
    fn a_trail_without_selectors_logs_every_management_event() {
        assert_eq!(
            Selectors::default().secrets_manager(),
            logging(Logged::All, Logged::All)
        );
    }

    #[test]
    fn basic_selectors_log_the_direction_they_name() {
        assert_eq!(
            basic("All", true, &[]).secrets_manager(),
            logging(Logged::All, Logged::All)
        );
        assert_eq!(
            basic("WriteOnly", true, &[]).secrets_manager(),
            logging(Logged::None, Logged::All)
        );
        assert_eq!(
            basic("ReadOnly", true, &[]).secrets_manager(),
            logging(Logged::All, Logged::None)
        );
        // Data events only: no management event at all.
        assert_eq!(
            basic("All", false, &[]).secrets_manager(),
            logging(Logged::None, Logged::None)
        );
        // Excluding another service's events keeps Secrets Manager's.
        assert_eq!(
            basic("All", true, &["kms.amazonaws.com"]).secrets_manager(),
            logging(Logged::All, Logged::All)
        );
    }

    #[test]
    fn one_of_several_basic_selectors_is_enough() {
        let mut selectors = basic("WriteOnly", true, &[]);
        selectors
            .event_selectors
            .extend(basic("ReadOnly", true, &[]).event_selectors);
        assert_eq!(
            selectors.secrets_manager(),
            logging(Logged::All, Logged::All)
        );
    }

    #[test]
    fn advanced_selectors_of_write_only_management_events_miss_the_reads() {
        let selectors = Selectors {
            event_selectors: Vec::new(),
            advanced_event_selectors: vec![advanced(vec![
                field("eventCategory", |f| f.equals = vec!["Management".into()]),
                field("readOnly", |f| f.equals = vec!["false".into()]),
            ])],
        };
        assert_eq!(
            selectors.secrets_manager(),
            logging(Logged::None, Logged::All)
        );
    }

    #[test]
    fn advanced_selectors_that_leave_out_secrets_manager_log_none_of_it() {
        let selectors = Selectors {
            event_selectors: Vec::new(),
            advanced_event_selectors: vec![advanced(vec![
                field("eventCategory", |f| f.equals = vec!["Management".into()]),
                field("eventSource", |f| {
                    f.not_equals = vec!["secretsmanager.amazonaws.com".into()]
                }),
            ])],
        };
        assert_eq!(
            selectors.secrets_manager(),
            logging(Logged::None, Logged::None)
        );
    }

    #[test]
    fn advanced_selectors_naming_some_calls_log_those_partly() {
        let selectors = Selectors {
            event_selectors: Vec::new(),
            advanced_event_selectors: vec![advanced(vec![
                field("eventCategory", |f| f.equals = vec!["Management".into()]),
                field("eventName", |f| f.starts_with = vec!["Get".into()]),
            ])],
        };
        assert_eq!(
            selectors.secrets_manager(),
            logging(Logged::Partly, Logged::None)
        );
    }

    #[test]
    fn a_condition_on_who_calls_leaves_the_answer_at_partly() {
        let selectors = Selectors {
            event_selectors: Vec::new(),
            advanced_event_selectors: vec![advanced(vec![
                field("eventCategory", |f| f.equals = vec!["Management".into()]),
                field("userIdentity.arn", |f| {
                    f.not_starts_with = vec!["arn:aws:sts::111111111111:assumed-role/ci".into()]
                }),
            ])],
        };
        assert_eq!(
            selectors.secrets_manager(),
            logging(Logged::Partly, Logged::Partly)
        );
        // Another selector logging everything makes it whole again.
        let mut whole = selectors.clone();
        whole
            .advanced_event_selectors
            .push(advanced(vec![field("eventCategory", |f| {
                f.equals = vec!["Management".into()]
            })]));
        assert_eq!(whole.secrets_manager(), logging(Logged::All, Logged::All));
    }

    #[test]
    fn data_event_selectors_log_no_management_event() {
        let selectors = Selectors {
            event_selectors: Vec::new(),
            advanced_event_selectors: vec![advanced(vec![
                field("eventCategory", |f| f.equals = vec!["Data".into()]),
                field("resources.type", |f| {
                    f.equals = vec!["AWS::S3::Object".into()]
                }),
            ])],
        };
        assert_eq!(
            selectors.secrets_manager(),
            logging(Logged::None, Logged::None)
        );
    }

    #[test]
    fn selectors_read_from_a_put_event_selectors_record() {
        let recorded: Selectors = serde_json::from_value(serde_json::json!({
            "trailName": "org-trail",
            "eventSelectors": [{
                "readWriteType": "WriteOnly",
                "includeManagementEvents": true,
                "dataResources": [],
                "excludeManagementEventSources": []
            }]
        }))
        .unwrap();
        assert_eq!(
            recorded.secrets_manager(),
            logging(Logged::None, Logged::All)
        );
    }
}
