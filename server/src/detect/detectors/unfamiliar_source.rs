//! Unfamiliar network or client: after its learning period, a principal reads a secret from
//! a network (a /24, a /48, or an AWS service) or with a client family it has not used in
//! the last days. Worse when a workload that calls from private addresses shows up on a
//! public one: that is what stolen credentials look like.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use trailkeeper_app::api::findings::{FindingKind, Severity};

use crate::detect::observed::is_private;
use crate::detect::{Detector, Known, Observed, draft, from_where, time, which_secret, who};
use crate::findings::Verdict;

pub struct UnfamiliarSource;

/// A principal's networks and clients, each with the day (UTC midnight) it was last used;
/// those unused for longer than the setting are forgotten. Days, not instants: the memory
/// changes once a day per network rather than with every call.
#[derive(Default, Serialize, Deserialize)]
pub struct Familiar {
    networks: BTreeMap<String, DateTime<Utc>>,
    clients: BTreeMap<String, DateTime<Utc>>,
}

impl Detector for UnfamiliarSource {
    const NAME: &'static str = "unfamiliar_source";
    type State = Familiar;

    fn key(&self, event: &Observed) -> Option<String> {
        event.principal.clone().filter(|_| event.succeeded())
    }

    fn observe(
        &self,
        event: &Observed,
        known: &Known,
        familiar: &mut Familiar,
        verdicts: &mut Vec<Verdict>,
    ) {
        if known.by_rotation {
            return;
        }
        let at = event.event_time;
        let today = at.duration_trunc(Duration::days(1)).unwrap_or(at);
        let forget_before = today - Duration::days(known.settings.unfamiliar_after_days);
        familiar.networks.retain(|_, last| *last >= forget_before);
        familiar.clients.retain(|_, last| *last >= forget_before);
        let network = event.network();
        let client = event.user_agent_family.clone();
        if event.is_secret_read() && known.principal_learned(at) {
            if let Some(network) = network.as_deref()
                && !familiar.networks.contains_key(network)
            {
                verdicts.push(Verdict::Finding(unfamiliar_network(
                    event, known, network, familiar,
                )));
            }
            if let Some(client) = client.as_deref()
                && !familiar.clients.contains_key(client)
            {
                verdicts.push(Verdict::Finding(unfamiliar_client(
                    event, known, client, familiar,
                )));
            }
        }
        if let Some(network) = network {
            familiar.networks.insert(network, today);
        }
        if let Some(client) = client {
            familiar.clients.insert(client, today);
        }
    }
}

fn listing<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let names: Vec<&str> = names.map(String::as_str).take(5).collect();
    if names.is_empty() {
        "nothing else".into()
    } else {
        names.join(", ")
    }
}

fn unfamiliar_network(
    event: &Observed,
    known: &Known,
    network: &str,
    familiar: &Familiar,
) -> crate::findings::Draft {
    let days = known.settings.unfamiliar_after_days;
    let public = event.address().is_some_and(|address| !is_private(address));
    // A network is "private" when it is a private range or an AWS service.
    let usually_private = !familiar.networks.is_empty()
        && familiar.networks.keys().all(|known| {
            known
                .split('/')
                .next()
                .and_then(|address| address.parse().ok())
                .is_none_or(is_private)
        });
    let workload = event.principal_type.as_deref() == Some("AssumedRole") && !event.is_human();
    let severity = if public && workload && usually_private {
        Severity::High
    } else {
        Severity::Medium
    };
    let secret = which_secret(event, known);
    let mut explanation = format!(
        "{} read {secret} at {} from {} (network {network}), which it has not used in the \
         last {days} days. In that time it called from {}.",
        who(event),
        time(event.event_time),
        from_where(event),
        listing(familiar.networks.keys())
    );
    if severity == Severity::High {
        explanation.push_str(
            " It is a workload that calls from private addresses, and this address is public.",
        );
    }
    draft(
        FindingKind::UnfamiliarNetwork,
        severity,
        event,
        known,
        format!("{} read {secret} from an unfamiliar network", who(event)),
        explanation,
        json!({ "network": network, "public": public,
                "familiar_networks": familiar.networks.keys().collect::<Vec<_>>(),
                "settings": { "unfamiliar_after_days": days,
                              "learning_days": known.settings.learning_days } }),
    )
}

fn unfamiliar_client(
    event: &Observed,
    known: &Known,
    client: &str,
    familiar: &Familiar,
) -> crate::findings::Draft {
    let days = known.settings.unfamiliar_after_days;
    let secret = which_secret(event, known);
    draft(
        FindingKind::UnfamiliarClient,
        Severity::Low,
        event,
        known,
        format!("{} read {secret} with an unfamiliar client", who(event)),
        format!(
            "{} read {secret} at {} with {client}, a client it has not used in the last {days} \
             days. In that time it used {}.",
            who(event),
            time(event.event_time),
            listing(familiar.clients.keys())
        ),
        json!({ "client": client,
                "familiar_clients": familiar.clients.keys().collect::<Vec<_>>(),
                "settings": { "unfamiliar_after_days": days,
                              "learning_days": known.settings.learning_days } }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::DetectionSettings;
    use crate::detect::testing::{at, findings, read, run};

    fn daily_reads() -> Vec<Observed> {
        (1..=20)
            .map(|day| {
                read(
                    &format!("d{day}"),
                    at(day, 10, 0),
                    "payments-task",
                    "prod/db",
                )
            })
            .collect()
    }

    #[test]
    fn a_workload_on_a_public_address_is_high_and_found_once() {
        let mut events = daily_reads();
        let mut stolen = read("x", at(20, 11, 0), "payments-task", "prod/db");
        stolen.source_ip = Some("198.51.100.23".into());
        let mut again = stolen.clone();
        again.event_id = "y".into();
        again.event_time = at(20, 11, 5);
        events.extend([stolen, again]);
        let verdicts = run(
            &UnfamiliarSource,
            &DetectionSettings::default(),
            at(1, 0, 0),
            &events,
        );
        let found = findings(&verdicts);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].kind, FindingKind::UnfamiliarNetwork);
        assert_eq!(found[0].severity, Severity::High);
        assert_eq!(found[0].detail["network"], "198.51.100.0/24");
        assert!(found[0].explanation.contains("10.0.1.0/24"));
    }

    #[test]
    fn a_network_unused_for_longer_than_the_setting_is_unfamiliar_again() {
        let mut events: Vec<Observed> = daily_reads().into_iter().take(7).collect();
        let mut away = read("v", at(8, 10, 0), "payments-task", "prod/db");
        away.source_ip = Some("10.9.9.9".into());
        let back = read("b", at(23, 10, 0), "payments-task", "prod/db");
        events.extend([away, back]);
        let verdicts = run(
            &UnfamiliarSource,
            &DetectionSettings::default(),
            at(1, 0, 0),
            &events,
        );
        let evidence: Vec<_> = findings(&verdicts)
            .iter()
            .map(|draft| (draft.kind, draft.evidence[0].clone()))
            .collect();
        assert_eq!(
            evidence,
            [
                (FindingKind::UnfamiliarNetwork, "v".to_string()),
                // Fifteen days away: the network and the client are both unfamiliar again.
                (FindingKind::UnfamiliarNetwork, "b".to_string()),
                (FindingKind::UnfamiliarClient, "b".to_string())
            ]
        );
    }

    #[test]
    fn a_new_client_is_a_low_finding_and_nothing_is_judged_while_learning() {
        let mut early = read("e", at(2, 10, 0), "payments-task", "prod/db");
        early.source_ip = Some("203.0.113.9".into());
        let mut events = vec![read("0", at(1, 10, 0), "payments-task", "prod/db"), early];
        events.extend(daily_reads().into_iter().skip(2).take(6));
        let mut cli = read("c", at(9, 10, 0), "payments-task", "prod/db");
        cli.user_agent_family = Some("aws-cli".into());
        events.push(cli);
        let verdicts = run(
            &UnfamiliarSource,
            &DetectionSettings::default(),
            at(1, 0, 0),
            &events,
        );
        let found = findings(&verdicts);
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].kind, found[0].severity),
            (FindingKind::UnfamiliarClient, Severity::Low)
        );
    }
}
