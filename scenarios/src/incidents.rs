//! The labelled incidents in the month's events.

use super::*;

pub(crate) fn label(
    scenario: &'static str,
    kind: &'static str,
    principal: Option<String>,
    secret: Option<&Secret>,
) -> Label {
    Label {
        scenario,
        kind,
        principal,
        secret_arn: secret.map(|secret| secret.arn.clone()),
        subject: None,
    }
}

/// The incidents, from the fourth week on (after every learning period and baseline).
pub(crate) fn incidents(writer: &mut Writer, estate: &Estate, start: DateTime<Utc>) -> Vec<Label> {
    writer.injecting = true;
    let day = |day: i64, hour: i64, minute: i64| {
        start + Duration::days(day) + Duration::hours(hour) + Duration::minutes(minute)
    };
    let mut labels = Vec::new();

    let orders_db = &estate.app("orders").0;
    // The orders database rotates on day 6 of each week (its index in APPS).
    let orders_day = 27;
    rotation(writer, orders_db, "orders", day(orders_day, 4, 16), true);
    labels.push(label(
        "rotation fails at setSecret",
        "rotation_failed",
        None,
        Some(orders_db),
    ));

    // The identity database rotates on day 1 of each week; a cache deployed pinned to
    // AWSPREVIOUS keeps reading the old value for two days after the rotation of day 22.
    let identity_db = &estate.app("identity").0;
    let cache = Identity::role("identity-cache", "cache-7");
    let rotated = day(22, 4, 19);
    for hour in (0..10 * 24).step_by(2) {
        let at = day(14, 0, 7) + Duration::hours(hour);
        let request = (at > rotated)
            .then(|| json!({ "secretId": identity_db.arn, "versionStage": "AWSPREVIOUS" }));
        writer.write(Call {
            at,
            name: "GetSecretValue",
            who: &cache,
            from: "10.36.4.20",
            agent: GO,
            secret: Some(identity_db),
            request,
            error: None,
        });
    }
    labels.push(label(
        "a consumer keeps reading the old version after a rotation",
        "rotation_stale_consumer",
        cache.principal(),
        Some(identity_db),
    ));

    let bob = Identity::User("bob");
    let billing_db = &estate.app("billing").0;
    writer.write(Call {
        at: day(22, 10, 15),
        name: "CancelRotateSecret",
        who: &bob,
        from: "203.0.113.11",
        agent: CLI,
        secret: Some(billing_db),
        request: None,
        error: None,
    });
    labels.push(label(
        "rotation switched off",
        "rotation_cancelled",
        bob.principal(),
        Some(billing_db),
    ));

    let search = Identity::role("search-task", "search-7f3a");
    let payments_db = &estate.app("payments").0;
    for minute in [20, 21, 25] {
        writer.read(day(23, 11, minute), &search, "10.24.2.77", GO, payments_db);
    }
    labels.push(label(
        "a workload reads another application's secret",
        "first_time_reader",
        search.principal(),
        Some(payments_db),
    ));

    let checkout = Identity::role("checkout-task", "checkout-0a1b2c3d");
    let checkout_db = &estate.app("checkout").0;
    for minute in 40..45 {
        writer.read(
            day(24, 14, minute),
            &checkout,
            "198.51.100.23",
            JAVA,
            checkout_db,
        );
    }
    labels.push(label(
        "a workload's credentials used from a public address",
        "unfamiliar_network",
        checkout.principal(),
        Some(checkout_db),
    ));

    // The nightly report's credentials, from its own address at its own hour, but through
    // the AWS CLI it never used: someone on its host.
    let reports = Identity::role("reports-task", "nightly-report");
    let reports_db = &estate.app("reports").0;
    writer.read(day(24, 2, 30), &reports, "10.29.1.40", CLI, reports_db);
    labels.push(label(
        "a workload's credentials used with a client it never used",
        "unfamiliar_client",
        reports.principal(),
        Some(reports_db),
    ));

    let catalog = Identity::role("catalog-task", "catalog-5e6f7a8b");
    let catalog_db = &estate.app("catalog").0;
    for n in 0..1500 {
        writer.read(
            day(25, 15, 0) + Duration::milliseconds(n * 2300),
            &catalog,
            "10.25.1.50",
            GO,
            catalog_db,
        );
    }
    labels.push(label(
        "a workload reads its secret 1 500 times in an hour",
        "read_spike",
        catalog.principal(),
        Some(catalog_db),
    ));

    let ci = Identity::role("ci-runner", "build");
    writer.list(day(26, 1, 30), &ci, "10.40.1.8", PYTHON);
    let sweep: Vec<&Secret> = estate
        .legacy
        .iter()
        .chain(estate.apps.iter().map(|(db, _)| db))
        .take(25)
        .collect();
    for (n, secret) in sweep.into_iter().enumerate() {
        writer.read(
            day(26, 1, 31) + Duration::seconds(n as i64 * 8),
            &ci,
            "10.40.1.8",
            PYTHON,
            secret,
        );
    }
    labels.push(label(
        "the CI runner lists and reads 25 secrets in minutes",
        "bulk_retrieval",
        ci.principal(),
        None,
    ));

    let contractor = Identity::role("contractor-readonly", "dave");
    for n in 0..30 {
        let secret = &estate.apps[n % APPS.len()].0;
        writer.write(Call {
            at: day(27, 9, 0) + Duration::seconds(n as i64 * 40), name: "GetSecretValue", who: &contractor, from: "198.51.100.77", agent: CLI, secret: Some(secret), request: None,
            error: Some(("AccessDenied", format!("User: arn:aws:sts::{ACCOUNT}:assumed-role/contractor-readonly/dave is not authorized to perform: secretsmanager:GetSecretValue on resource: {}", secret.arn))),
        });
    }
    labels.push(label(
        "30 refused reads in 20 minutes",
        "denied_burst",
        contractor.principal(),
        None,
    ));

    let stranger = Identity::Role {
        account: STRANGER,
        role: "data-broker".into(),
        session: "pull".into(),
    };
    for minute in [0, 3] {
        writer.read(
            day(27, 16, minute),
            &stranger,
            "192.0.2.200",
            PYTHON,
            &estate.partner_feed,
        );
    }
    labels.push(label(
        "an unknown account reads the partner feed",
        "cross_account_reader",
        stranger.principal(),
        Some(&estate.partner_feed),
    ));

    let payments_key = &estate.app("payments").1;
    let public = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"secretsmanager:GetSecretValue","Resource":"*"}]}"#;
    writer.write(Call { at: day(28, 10, 5), name: "PutResourcePolicy", who: &bob, from: "203.0.113.11", agent: CLI, secret: Some(payments_key), request: Some(json!({ "secretId": payments_key.arn, "resourcePolicy": public, "blockPublicPolicy": false })), error: None });
    labels.push(label(
        "a policy lets anyone read a key",
        "policy_opened",
        bob.principal(),
        Some(payments_key),
    ));

    let doomed = &estate.legacy[LEGACY - 1];
    writer.write(Call {
        at: day(28, 10, 30),
        name: "DeleteSecret",
        who: &bob,
        from: "203.0.113.11",
        agent: CLI,
        secret: Some(doomed),
        request: Some(json!({ "secretId": doomed.arn, "forceDeleteWithoutRecovery": true })),
        error: None,
    });
    labels.push(label(
        "a secret deleted without recovery",
        "secret_deleted",
        bob.principal(),
        Some(doomed),
    ));

    // A teardown script force-deletes seven legacy secrets in three minutes: one incident,
    // one critical finding listing all seven, not seven alerts.
    let teardown = Identity::role("legacy-teardown", "cleanup");
    let torn_down = &estate.legacy[8..LEGACY - 1];
    for (n, secret) in torn_down.iter().enumerate() {
        writer.write(Call {
            at: day(29, 10, 0) + Duration::seconds(n as i64 * 30),
            name: "DeleteSecret",
            who: &teardown,
            from: "10.40.3.9",
            agent: PYTHON,
            secret: Some(secret),
            request: Some(json!({ "secretId": secret.arn, "forceDeleteWithoutRecovery": true })),
            error: None,
        });
    }
    labels.push(label(
        "a teardown force-deletes seven secrets in minutes: one incident",
        "secret_deleted",
        teardown.principal(),
        Some(&torn_down[torn_down.len() - 1]),
    ));

    // The rest of the risky changes: a policy removed, a replica cut loose.
    let shipping_db = &estate.app("shipping").0;
    writer.write(Call {
        at: day(28, 10, 50),
        name: "DeleteResourcePolicy",
        who: &bob,
        from: "203.0.113.11",
        agent: CLI,
        secret: Some(shipping_db),
        request: Some(json!({ "secretId": shipping_db.arn })),
        error: None,
    });
    labels.push(label(
        "a secret's resource policy deleted",
        "policy_deleted",
        bob.principal(),
        Some(shipping_db),
    ));
    let notify_db = &estate.app("notify").0;
    writer.write(Call {
        at: day(28, 11, 20),
        name: "RemoveRegionsFromReplication",
        who: &bob,
        from: "203.0.113.11",
        agent: CLI,
        secret: Some(notify_db),
        request: Some(json!({ "secretId": notify_db.arn, "removeReplicaRegions": ["eu-west-1"] })),
        error: None,
    });
    labels.push(label(
        "a secret's replica removed",
        "replication_removed",
        bob.principal(),
        Some(notify_db),
    ));

    let billing_key = &estate.app("billing").1;
    writer.write(Call { at: day(28, 10, 40), name: "UpdateSecret", who: &bob, from: "203.0.113.11", agent: CLI, secret: Some(billing_key), request: Some(json!({ "secretId": billing_key.arn, "kmsKeyId": format!("arn:aws:kms:{REGION}:{STRANGER}:key/0f1e2d3c") })), error: None });
    labels.push(label(
        "a secret re-encrypted with another account's key",
        "kms_key_changed",
        bob.principal(),
        Some(billing_key),
    ));

    writer.write(Call {
        at: day(28, 11, 0),
        name: "DescribeSecret",
        who: &Identity::Root,
        from: "203.0.113.99",
        agent: CONSOLE,
        secret: Some(payments_db),
        request: None,
        error: None,
    });
    labels.push(label(
        "the root user at work",
        "root_used",
        Identity::Root.principal(),
        Some(payments_db),
    ));

    // A Tuesday: Alice's history then covers the four weeks her usual hours are taken from.
    writer.read(
        day(29, 3, 10),
        &alice(),
        "203.0.113.10",
        CONSOLE,
        payments_key,
    );
    labels.push(label(
        "a person reads a key at 3 in the morning",
        "off_hours_access",
        alice().principal(),
        Some(payments_key),
    ));

    let mut catch_all = Call {
        at: day(29, 2, 30),
        name: "BatchGetSecretValue",
        who: &bob,
        from: "203.0.113.11",
        agent: CLI,
        secret: None,
        request: None,
        error: None,
    };
    catch_all.request =
        Some(json!({ "filters": [{ "key": "tag-key", "values": ["!tagKeyThatWillNeverExist"] }] }));
    writer.write(catch_all);
    labels.push(label(
        "a batch read with a filter that matches everything",
        "bulk_retrieval",
        bob.principal(),
        None,
    ));

    // Terraform's own credentials, in the middle of a weekly apply that reads back what it
    // creates, also read twenty-two secrets it never set: still a sweep.
    writer.injecting = false;
    terraform_apply(writer, day(28, 0, 0), 4);
    writer.injecting = true;
    let platform = terraform();
    let swept: Vec<&Secret> = estate
        .apps
        .iter()
        .flat_map(|(db, key)| [db, key])
        .take(22)
        .collect();
    for (n, secret) in swept.iter().enumerate() {
        writer.read(
            day(28, 14, 1) + Duration::seconds(n as i64 * 5),
            &platform,
            "10.40.2.15",
            GO,
            secret,
        );
    }
    labels.push(label(
        "infrastructure as code's credentials sweep secrets mid-apply",
        "bulk_retrieval",
        platform.principal(),
        None,
    ));
    labels.push(label(
        "infrastructure as code's credentials read a secret they never set",
        "first_time_reader",
        platform.principal(),
        Some(swept[0]),
    ));

    // Covering tracks: the audit trail stopped late at night, and a region's trail narrowed
    // to changes so that reads go unlogged.
    writer.write(Call {
        at: org_trail_stops(start),
        name: "StopLogging",
        who: &bob,
        from: "203.0.113.11",
        agent: CLI,
        secret: None,
        request: Some(json!({ "name": trail_arn(ORG_TRAIL) })),
        error: None,
    });
    labels.push(label(
        "the audit trail stopped",
        "logging_stopped",
        bob.principal(),
        None,
    ));
    writer.write(Call {
        at: day(29, 0, 5),
        name: "PutEventSelectors",
        who: &ci,
        from: "10.40.1.8",
        agent: PYTHON,
        secret: None,
        request: Some(json!({ "trailName": "org-audit", "eventSelectors": [
            { "readWriteType": "WriteOnly", "includeManagementEvents": true } ] })),
        error: None,
    });
    labels.push(label(
        "the audit trail narrowed to changes",
        "logging_narrowed",
        ci.principal(),
        None,
    ));

    writer.injecting = false;
    labels
}
