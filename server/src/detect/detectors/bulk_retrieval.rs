//! Bulk retrieval: one principal reading many secrets in a short time — many distinct secrets
//! within minutes (Elastic's rapid secret retrieval rule), `ListSecrets` followed by reads of
//! several secrets (Stratus Red Team's `secretsmanager-retrieve-secrets`), or
//! `BatchGetSecretValue` used often in a day or with a filter that matches everything
//! (Panther; Stratus `secretsmanager-batch-retrieve-secrets`). Reads of values the principal
//! set itself moments before are not counted.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use trailkeeper_app::api::findings::{FindingKind, Severity};

use crate::detect::{Detector, Known, Observed, draft, from_where, time, who};
use crate::findings::{Draft, Verdict};

pub struct BulkRetrieval;

/// A principal's recent reads: each secret with its latest read (time, event id), the
/// secrets read since its last `ListSecrets`, and its recent `BatchGetSecretValue` calls.
#[derive(Default, Serialize, Deserialize)]
pub struct Recent {
    reads: BTreeMap<String, (DateTime<Utc>, String)>,
    listed_at: Option<DateTime<Utc>>,
    after_list: BTreeMap<String, (DateTime<Utc>, String)>,
    batch_calls: Vec<(DateTime<Utc>, String)>,
}

impl Detector for BulkRetrieval {
    const NAME: &'static str = "bulk_retrieval";
    type State = Recent;

    fn key(&self, event: &Observed) -> Option<String> {
        let relevant = event.is_secret_read()
            || (event.succeeded()
                && matches!(
                    event.event_name.as_str(),
                    "ListSecrets" | "BatchGetSecretValue"
                ));
        event.principal.clone().filter(|_| relevant)
    }

    fn observe(
        &self,
        event: &Observed,
        known: &Known,
        recent: &mut Recent,
        verdicts: &mut Vec<Verdict>,
    ) {
        if known.by_rotation {
            return;
        }
        let settings = known.settings;
        let at = event.event_time;
        match event.event_name.as_str() {
            "ListSecrets" => {
                recent.listed_at = Some(at);
                recent.after_list.clear();
            }
            "BatchGetSecretValue" => {
                let day = Duration::days(1);
                recent.batch_calls.retain(|(call, _)| at - *call < day);
                recent.batch_calls.push((at, event.event_id.clone()));
                let calls = recent.batch_calls.len() as i64;
                let catch_all = event.request.as_ref().is_some_and(matches_everything);
                if catch_all || calls >= settings.batch_calls_per_day {
                    let why = if catch_all {
                        "with a filter that matches every secret".to_string()
                    } else {
                        format!("{calls} times in 24 hours")
                    };
                    let mut finding = bulk(
                        event,
                        known,
                        format!(
                            "{} called BatchGetSecretValue {why} (latest at {} from {}): each \
                             call returns the values of many secrets at once.",
                            who(event),
                            time(at),
                            from_where(event)
                        ),
                        json!({ "pattern": "batch", "calls_in_day": calls, "catch_all": catch_all,
                                "settings": { "batch_calls_per_day": settings.batch_calls_per_day } }),
                    );
                    if !catch_all && calls == settings.batch_calls_per_day {
                        finding.count = calls;
                        finding.evidence = recent
                            .batch_calls
                            .iter()
                            .map(|(_, id)| id.clone())
                            .collect();
                    }
                    verdicts.push(Verdict::Finding(finding));
                }
            }
            _ => {
                let Some(secret) = event.secret() else {
                    return;
                };
                // Infrastructure as code reading back the values it just set is not a sweep
                // of other people's secrets; whatever else it reads still counts.
                if known.reads_back_own_value(at) {
                    return;
                }
                let window = Duration::minutes(settings.bulk_window_minutes);
                recent.reads.retain(|_, (read, _)| at - *read < window);
                let new = recent
                    .reads
                    .insert(secret.to_string(), (at, event.event_id.clone()))
                    .is_none();
                let distinct = recent.reads.len() as i64;
                let many = new && distinct >= settings.bulk_secrets;
                if many {
                    let mut finding = bulk(
                        event,
                        known,
                        format!(
                            "{} read {distinct} different secrets within {} minutes (the latest \
                             at {} from {}); findings start at {}.",
                            who(event),
                            settings.bulk_window_minutes,
                            time(at),
                            from_where(event),
                            settings.bulk_secrets
                        ),
                        json!({ "pattern": "many_secrets", "distinct_secrets": distinct,
                                "settings": { "bulk_secrets": settings.bulk_secrets,
                                              "bulk_window_minutes": settings.bulk_window_minutes } }),
                    );
                    if distinct == settings.bulk_secrets {
                        stands_for(&mut finding, &recent.reads);
                    }
                    verdicts.push(Verdict::Finding(finding));
                }

                let after_list = Duration::minutes(settings.list_then_read_minutes);
                if let Some(listed) = recent.listed_at
                    && at - listed <= after_list
                {
                    let new = recent
                        .after_list
                        .insert(secret.to_string(), (at, event.event_id.clone()))
                        .is_none();
                    let distinct = recent.after_list.len() as i64;
                    // A read already counted as one of many is not counted twice.
                    if new && distinct > settings.list_then_read_secrets && !many {
                        let mut finding = bulk(
                            event,
                            known,
                            format!(
                                "{} listed the account's secrets at {} and then read {distinct} \
                                 of them within {} minutes (the latest at {} from {}): the \
                                 pattern of someone collecting secrets.",
                                who(event),
                                time(listed),
                                settings.list_then_read_minutes,
                                time(at),
                                from_where(event)
                            ),
                            json!({ "pattern": "list_then_read", "distinct_secrets": distinct,
                                    "listed_at": listed,
                                    "settings": { "list_then_read_secrets": settings.list_then_read_secrets,
                                                  "list_then_read_minutes": settings.list_then_read_minutes } }),
                        );
                        if distinct == settings.list_then_read_secrets + 1 {
                            stands_for(&mut finding, &recent.after_list);
                        }
                        verdicts.push(Verdict::Finding(finding));
                    }
                }
            }
        }
    }
}

/// A bulk retrieval finding: about the principal, not one secret.
fn bulk(event: &Observed, known: &Known, explanation: String, detail: Value) -> Draft {
    let mut finding = draft(
        FindingKind::BulkRetrieval,
        Severity::High,
        event,
        known,
        format!("{} retrieved secrets in bulk", who(event)),
        explanation,
        detail,
    );
    finding.secret_arn = None;
    finding.secret_name = None;
    finding
}

/// The read that crossed the line stands for every read in the window.
fn stands_for(finding: &mut Draft, reads: &BTreeMap<String, (DateTime<Utc>, String)>) {
    let mut ordered: Vec<&(DateTime<Utc>, String)> = reads.values().collect();
    ordered.sort();
    finding.count = ordered.len() as i64;
    finding.first_seen = ordered.first().map_or(finding.first_seen, |(at, _)| *at);
    finding.evidence = ordered.into_iter().map(|(_, id)| id.clone()).collect();
}

/// A `BatchGetSecretValue` filter that selects every secret: a negated value (`!…`, which
/// matches everything without it), or no filter and no list at all.
fn matches_everything(request: &Value) -> bool {
    let filters = request
        .get("filters")
        .or_else(|| request.get("Filters"))
        .and_then(Value::as_array);
    let listed = request
        .get("secretIdList")
        .or_else(|| request.get("SecretIdList"))
        .and_then(Value::as_array)
        .is_some_and(|list| !list.is_empty());
    match filters {
        Some(filters) if !filters.is_empty() => filters.iter().any(|filter| {
            filter
                .get("values")
                .or_else(|| filter.get("Values"))
                .and_then(Value::as_array)
                .is_some_and(|values| {
                    values
                        .iter()
                        .filter_map(Value::as_str)
                        .any(|value| value.starts_with('!'))
                })
        }),
        _ => !listed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::DetectionSettings;
    use crate::detect::testing::{at, call, findings, read, run};

    #[test]
    fn reading_back_values_just_set_is_no_sweep_but_other_secrets_in_the_same_run_are() {
        let mut events = Vec::new();
        for n in 0..25 {
            let created = at(3, 2, 0) + Duration::seconds(n * 6);
            let mut create = read(&format!("c{n}"), created, "terraform", &format!("svc/{n}"));
            create.event_name = "CreateSecret".into();
            create.request = Some(json!({ "name": format!("svc/{n}"),
                                          "secretString": "HIDDEN_DUE_TO_SECURITY_REASONS" }));
            events.push(create);
            events.push(read(
                &format!("r{n}"),
                created + Duration::seconds(2),
                "terraform",
                &format!("svc/{n}"),
            ));
        }
        let applied = findings(&run(
            &BulkRetrieval,
            &DetectionSettings::default(),
            at(1, 0, 0),
            &events,
        ))
        .len();
        assert_eq!(applied, 0);

        // The same run then reads twenty secrets it did not set.
        events.extend((0..20).map(|n| {
            read(
                &format!("o{n}"),
                at(3, 2, 3) + Duration::seconds(n * 5),
                "terraform",
                &format!("app/{n}"),
            )
        }));
        let verdicts = run(
            &BulkRetrieval,
            &DetectionSettings::default(),
            at(1, 0, 0),
            &events,
        );
        let found = findings(&verdicts);
        assert_eq!(found.len(), 1);
        assert!(found[0].evidence.iter().all(|id| id.starts_with('o')));
    }

    #[test]
    fn twenty_secrets_in_six_minutes_is_one_finding_for_all_of_them() {
        let events: Vec<Observed> = (0..25)
            .map(|n| {
                read(
                    &format!("r{n}"),
                    at(3, 2, 0) + Duration::seconds(n * 10),
                    "ci-runner",
                    &format!("app/{n}"),
                )
            })
            .collect();
        let verdicts = run(
            &BulkRetrieval,
            &DetectionSettings::default(),
            at(1, 0, 0),
            &events,
        );
        let found = findings(&verdicts);
        assert_eq!(found.len(), 6);
        assert_eq!(found[0].count, 20);
        assert_eq!(found[0].evidence.len(), 20);
        assert_eq!(found[0].secret_arn, None);
        assert_eq!(found.iter().map(|draft| draft.count).sum::<i64>(), 25);
    }

    #[test]
    fn reads_spread_over_an_hour_are_not_bulk() {
        let events: Vec<Observed> = (0..30)
            .map(|n| {
                read(
                    &format!("r{n}"),
                    at(3, 2, 0) + Duration::minutes(n * 2),
                    "ci-runner",
                    &format!("app/{n}"),
                )
            })
            .collect();
        let verdicts = run(
            &BulkRetrieval,
            &DetectionSettings::default(),
            at(1, 0, 0),
            &events,
        );
        assert!(findings(&verdicts).is_empty());
    }

    #[test]
    fn listing_then_reading_six_secrets_is_found() {
        let mut events = vec![call("l", at(3, 2, 0), "ListSecrets", "intruder")];
        events.extend((0..6).map(|n| {
            read(
                &format!("r{n}"),
                at(3, 2, 1 + n),
                "intruder",
                &format!("app/{n}"),
            )
        }));
        let verdicts = run(
            &BulkRetrieval,
            &DetectionSettings::default(),
            at(1, 0, 0),
            &events,
        );
        let found = findings(&verdicts);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].count, 6);
        assert_eq!(found[0].detail["pattern"], "list_then_read");
    }

    #[test]
    fn a_catch_all_batch_filter_is_found_at_once_and_a_named_list_is_not() {
        let mut catch_all = call("b", at(3, 2, 0), "BatchGetSecretValue", "intruder");
        catch_all.request =
            Some(json!({ "filters": [{ "key": "tag-key", "values": ["!nothing"] }] }));
        let mut named = call("n", at(3, 2, 1), "BatchGetSecretValue", "app");
        named.request = Some(json!({ "secretIdList": ["a", "b"] }));
        let verdicts = run(
            &BulkRetrieval,
            &DetectionSettings::default(),
            at(1, 0, 0),
            &[catch_all, named],
        );
        let found = findings(&verdicts);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].detail["catch_all"], true);
    }

    #[test]
    fn the_fifth_batch_call_in_a_day_stands_for_all_five() {
        let events: Vec<Observed> = (0..5)
            .map(|n| {
                let mut batch = call(
                    &format!("b{n}"),
                    at(3, 1 + n as u32, 0),
                    "BatchGetSecretValue",
                    "app",
                );
                batch.request = Some(json!({ "secretIdList": ["a", "b"] }));
                batch
            })
            .collect();
        let verdicts = run(
            &BulkRetrieval,
            &DetectionSettings::default(),
            at(1, 0, 0),
            &events,
        );
        let found = findings(&verdicts);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].count, 5);
        assert_eq!(found[0].evidence, ["b0", "b1", "b2", "b3", "b4"]);
    }
}
