//! The benign month: what the estate does every day, week and rotation.

use super::*;

pub(crate) fn benign(writer: &mut Writer, estate: &Estate, start: DateTime<Utc>) {
    for day in 0..DAYS {
        let date = start + Duration::days(day);
        workloads(writer, estate, date, day);
        for (index, (app, _, _, rotates)) in APPS.iter().enumerate() {
            // Each rotating secret rotates weekly, on its own weekday. The orders database's
            // rotation in the fourth week fails (an incident, written there); the search
            // database's stops being started after the second (its schedule lost: overdue).
            let stopped = (*app == "orders" && day >= 21) || (*app == "search" && day >= 14);
            if *rotates && day % 7 == index as i64 % 7 && !stopped {
                let begin = date + Duration::minutes(4 * 60 + 10 + index as i64);
                rotation(writer, &estate.apps[index].0, app, begin, false);
                if *app == "payments" {
                    change_over(writer, &estate.apps[index].0, begin);
                }
            }
        }
        if date.weekday().num_days_from_monday() < 5 {
            people(writer, estate, date);
        }
    }
    trail_upkeep(writer, start);
    for week in 0..4 {
        terraform_apply(writer, start + Duration::days(week * 7 + 3), week);
    }
}

/// A verifier that, for an hour after each rotation of the payments database, also reads
/// `AWSPREVIOUS` (to accept sessions opened with the old value): a change-over, not a
/// consumer left behind.
fn change_over(writer: &mut Writer, secret: &Secret, rotated: DateTime<Utc>) {
    let verifier = Identity::role("payments-verifier", "verifier");
    for minutes in [5, 35] {
        writer.write(Call {
            at: rotated + Duration::minutes(minutes),
            name: "GetSecretValue",
            who: &verifier,
            from: "10.30.1.12",
            agent: JAVA,
            secret: Some(secret),
            request: Some(json!({ "secretId": secret.arn, "versionStage": "AWSPREVIOUS" })),
            error: None,
        });
    }
}

pub(crate) fn terraform() -> Identity {
    Identity::role("platform-deploy", "terraform")
}

/// A weekly infrastructure-as-code run: Terraform creates two dozen new secrets with values,
/// and reads each one back seconds later (its data sources and outputs): reading values it set
/// itself, no sweep and no first-time reader.
pub(crate) fn terraform_apply(writer: &mut Writer, date: DateTime<Utc>, week: i64) {
    let platform = terraform();
    let begin = date + Duration::hours(14);
    for n in 0..24 {
        let secret = Secret::new(&format!("svc/w{week}/s{n:02}"));
        let created = begin + Duration::seconds(n * 6);
        writer.write(Call {
            at: created,
            name: "CreateSecret",
            who: &platform,
            from: "10.40.2.15",
            agent: GO,
            secret: Some(&secret),
            request: Some(json!({ "name": format!("svc/w{week}/s{n:02}"),
                                  "secretString": "HIDDEN_DUE_TO_SECURITY_REASONS" })),
            error: None,
        });
        writer.read(
            created + Duration::seconds(3),
            &platform,
            "10.40.2.15",
            GO,
            &secret,
        );
    }
}

/// The platform team's infrastructure-as-code applying the audit trail's settings, as it
/// does now and then: nothing it changes narrows what is logged.
fn trail_upkeep(writer: &mut Writer, start: DateTime<Utc>) {
    let platform = Identity::role("platform-deploy", "terraform");
    for week in 0..4 {
        let at = start + Duration::days(week * 7 + 2) + Duration::hours(13);
        let changes = [
            (
                "UpdateTrail",
                json!({ "name": "org-audit", "isMultiRegionTrail": true,
                        "enableLogFileValidation": true, "s3BucketName": "org-audit-logs" }),
            ),
            (
                "PutEventSelectors",
                json!({ "trailName": "org-audit", "eventSelectors": [
                    { "readWriteType": "All", "includeManagementEvents": true } ] }),
            ),
            ("StartLogging", json!({ "name": "org-audit" })),
        ];
        for (offset, (name, request)) in changes.into_iter().enumerate() {
            writer.write(Call {
                at: at + Duration::seconds(offset as i64 * 4),
                name,
                who: &platform,
                from: "10.40.2.15",
                agent: GO,
                secret: None,
                request: Some(request),
                error: None,
            });
        }
    }
}

/// The applications' roles reading their secrets (busier by day), the nightly report, the
/// weekly export, the partner's feed, the CI runner, and a notifier refused now and then.
fn workloads(writer: &mut Writer, estate: &Estate, date: DateTime<Utc>, day: i64) {
    for (index, (app, busiest, agent, _)) in APPS.iter().enumerate() {
        let (db, key) = &estate.apps[index];
        let role = format!("{app}-task");
        // Autoscaled: three tasks a day, each a session of its own.
        let sessions: Vec<Identity> = (0..3)
            .map(|task| {
                Identity::role(
                    &role,
                    &format!(
                        "{app}-{:08x}",
                        writer.rng.random::<u32>() ^ (day as u32 * 7 + task)
                    ),
                )
            })
            .collect();
        for hour in 0..24 {
            let rate = if (8..20).contains(&hour) {
                *busiest
            } else {
                (*busiest * 2 / 5).max(1)
            };
            let reads = writer.rng.random_range(rate / 2..=rate);
            for _ in 0..reads {
                let at = date
                    + Duration::hours(hour)
                    + Duration::seconds(writer.rng.random_range(0..3600));
                let session = &sessions[writer.rng.random_range(0..3)];
                let address = format!(
                    "10.{}.{}.{}",
                    20 + index,
                    writer.rng.random_range(1..=3),
                    writer.rng.random_range(10..200)
                );
                let secret = if writer.rng.random_bool(0.7) { db } else { key };
                writer.read(at, session, &address, agent, secret);
            }
        }
    }
    let reports = Identity::role("reports-task", "nightly-report");
    for _ in 0..writer.rng.random_range(150..=200) {
        let at = date + Duration::hours(2) + Duration::seconds(writer.rng.random_range(0..3600));
        writer.read(at, &reports, "10.29.1.40", PYTHON, &estate.app("reports").0);
    }
    // The weekly export reads the ledger a few times a day to check it, and thousands of
    // times every Sunday night: part of its own baseline.
    let export = Identity::role("warehouse-export", "export-job");
    let sunday = date.weekday() == Weekday::Sun;
    for _ in 0..if sunday {
        writer.rng.random_range(2000..=2500)
    } else {
        3
    } {
        let at = date + Duration::hours(3) + Duration::seconds(writer.rng.random_range(0..3600));
        writer.read(at, &export, "10.50.1.12", PYTHON, &estate.app("ledger").0);
    }
    let partner = Identity::Role {
        account: PARTNER,
        role: "partner-sync".into(),
        session: "feed".into(),
    };
    for hour in 0..24 {
        for _ in 0..writer.rng.random_range(2..=4) {
            let at =
                date + Duration::hours(hour) + Duration::seconds(writer.rng.random_range(0..3600));
            writer.read(at, &partner, "52.94.10.31", PYTHON, &estate.partner_feed);
        }
    }
    // The standby in the second region checks its replica every ten minutes; its reads are
    // logged only by the multi-region audit trail, until that is stopped.
    let standby = Identity::role("payments-dr", "standby");
    for minutes in (0..24 * 60).step_by(10) {
        let at =
            date + Duration::minutes(minutes) + Duration::seconds(writer.rng.random_range(0..60));
        if at < org_trail_stops(date - Duration::days(day)) {
            writer.read(at, &standby, "10.60.1.5", GO, &estate.payments_replica);
        }
    }
    let ci = Identity::role("ci-runner", "build");
    let listed = date
        + Duration::hours(writer.rng.random_range(6..22))
        + Duration::minutes(writer.rng.random_range(0..50));
    writer.list(listed, &ci, "10.40.1.8", PYTHON);
    for n in 0..writer.rng.random_range(3..=5) {
        let at = listed + Duration::minutes(n * 2 + 1);
        writer.read(at, &ci, "10.40.1.8", PYTHON, &estate.app("catalog").1);
    }
    let notify = Identity::role("notify-task", "notifier");
    for hour in (0..24).step_by(3) {
        for _ in 0..writer.rng.random_range(0..=2) {
            let at =
                date + Duration::hours(hour) + Duration::seconds(writer.rng.random_range(0..3600));
            let secret = &estate.app("payments").0;
            writer.write(Call {
                at, name: "GetSecretValue", who: &notify, from: "10.31.2.9", agent: PYTHON, secret: Some(secret), request: None,
                error: Some(("AccessDenied", format!("User: arn:aws:sts::{ACCOUNT}:assumed-role/notify-task/notifier is not authorized to perform: secretsmanager:GetSecretValue on resource: {}", secret.arn))),
            });
        }
    }
}

/// A rotation Lambda's four steps between `RotationStarted` and its end.
pub(crate) fn rotation(
    writer: &mut Writer,
    secret: &Secret,
    app: &str,
    begin: DateTime<Utc>,
    fails: bool,
) {
    let function = format!("SecretsManagerRotation-{app}-db");
    let lambda = Identity::role(&format!("{app}-rotation"), &function);
    let token = writer.id();
    writer.service_event(begin, "RotationStarted", secret, None);
    let steps: [(&str, &[&str]); 4] = [
        (
            "createSecret",
            &[
                "DescribeSecret",
                "GetSecretValue",
                "GetRandomPassword",
                "PutSecretValue",
            ],
        ),
        ("setSecret", &["GetSecretValue", "GetSecretValue"]),
        ("testSecret", &["GetSecretValue"]),
        (
            "finishSecret",
            &["DescribeSecret", "UpdateSecretVersionStage"],
        ),
    ];
    let mut at = begin;
    for (step, calls) in steps {
        for name in calls {
            at += Duration::seconds(writer.rng.random_range(1..4));
            let request = match *name {
                "GetRandomPassword" => Some(json!({ "passwordLength": 32 })),
                "PutSecretValue" => Some(
                    json!({ "secretId": secret.arn, "clientRequestToken": token, "versionStages": ["AWSPENDING"] }),
                ),
                "UpdateSecretVersionStage" => Some(
                    json!({ "secretId": secret.arn, "versionStage": "AWSCURRENT", "moveToVersionId": token }),
                ),
                _ => None,
            };
            let target = (*name != "GetRandomPassword").then_some(secret);
            writer.write(Call {
                at,
                name,
                who: &lambda,
                from: "lambda.amazonaws.com",
                agent: PYTHON,
                secret: target,
                request,
                error: None,
            });
        }
        if fails && step == "setSecret" {
            writer
                .pending
                .insert(secret.arn.clone(), (token.clone(), begin));
            let message = format!(
                "Error when executing lambda arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function} during setSecret step"
            );
            writer.service_event(
                at + Duration::seconds(30),
                "RotationFailed",
                secret,
                Some(message),
            );
            return;
        }
    }
    writer.service_event(at + Duration::seconds(2), "RotationSucceeded", secret, None);
}

pub(crate) fn alice() -> Identity {
    Identity::role("Admin", "alice@example.com")
}

/// Alice (console, through the Admin role) and Bob (an IAM user with the CLI), every
/// working hour of every weekday: looking secrets up, and reading the few they own.
fn people(writer: &mut Writer, estate: &Estate, date: DateTime<Utc>) {
    let bob = Identity::User("bob");
    let people = [
        (
            alice(),
            "203.0.113.10",
            CONSOLE,
            [&estate.app("payments").1, &estate.app("checkout").1],
        ),
        (
            bob,
            "203.0.113.11",
            CLI,
            [&estate.app("billing").1, &estate.app("billing").1],
        ),
    ];
    for (who, from, agent, own) in &people {
        for hour in 9..17 {
            for _ in 0..writer.rng.random_range(1..=3) {
                let at = date
                    + Duration::hours(hour)
                    + Duration::seconds(writer.rng.random_range(0..3600));
                match writer.rng.random_range(0..4) {
                    0 => writer.list(at, who, from, agent),
                    1 => {
                        let secret = own[writer.rng.random_range(0..2)];
                        writer.read(at, who, from, agent, secret)
                    }
                    _ => {
                        let (db, _) = &estate.apps[writer.rng.random_range(0..APPS.len())];
                        writer.write(Call {
                            at,
                            name: "DescribeSecret",
                            who,
                            from,
                            agent,
                            secret: Some(db),
                            request: None,
                            error: None,
                        });
                    }
                }
            }
        }
    }
}
