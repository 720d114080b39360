//! The account as the month leaves it.

use super::*;

/// The account at the month's end, and what it holds that no event shows: the secrets the
/// estate had and the month created, less those it deleted, with their rotations and last
/// reads; a role per workload allowed the secrets it reads, the rotation functions theirs,
/// people's admin role everything (reading two), a reporting role granted the legacy tokens
/// it never reads; the audit trail as the incidents left it (stopped, changes only), and the
/// trail the month's files come from, which records only its own region.
pub(crate) fn account(writer: &Writer, estate: &Estate, start: DateTime<Utc>) -> Account {
    // The estate moved to this account six weeks before the month; the legacy tokens and the
    // old relay's password are older, never rotated, and were last read long before it. The
    // rotating databases rotate weekly; the inventory database's rotation was switched on and
    // never ran.
    let moved_in = start - Duration::days(45);
    let legacy: HashSet<&str> = estate.legacy.iter().map(|s| s.arn.as_str()).collect();
    let never_rotated = &estate.app("inventory").0;
    let rotation_days = |secret: &Secret| {
        let rotates = APPS
            .iter()
            .zip(&estate.apps)
            .any(|((.., rotates), (db, _))| *rotates && db.arn == secret.arn);
        if rotates {
            Some(7)
        } else {
            (secret.arn == never_rotated.arn).then_some(30)
        }
    };
    let mut secrets: Vec<Held> = estate
        .secrets()
        .map(|secret| {
            let old = legacy.contains(secret.arn.as_str()) || secret.arn == estate.forgotten.arn;
            let mut held = secret.held(if old {
                start - Duration::days(400)
            } else {
                moved_in
            });
            held.rotation_days = rotation_days(secret);
            if old {
                held.last_accessed_at = Some(start - Duration::days(120));
            }
            held
        })
        .chain(writer.created.iter().cloned())
        .collect();
    secrets.retain(|held| !writer.deleted.contains(&held.arn));
    for held in &mut secrets {
        held.last_rotated_at = writer.last_rotated.get(&held.arn).copied();
        held.pending = writer.pending.get(&held.arn).cloned();
        // AWS keeps the date of the last read, not its time.
        if let Some(read) = writer.last_read.get(&held.arn) {
            held.last_accessed_at = read.duration_trunc(Duration::days(1)).ok();
        }
    }

    let allow = |actions: &[&str], resource: String| {
        json!({ "Version": "2012-10-17", "Statement": [
            { "Sid": "Secrets", "Effect": "Allow", "Action": actions, "Resource": resource } ] })
    };
    let read = [
        "secretsmanager:GetSecretValue",
        "secretsmanager:DescribeSecret",
    ];
    let under = |region: &str, prefix: &str| {
        format!("arn:aws:secretsmanager:{region}:{ACCOUNT}:secret:{prefix}*")
    };
    let mut roles: Vec<Role> = APPS
        .iter()
        .map(|(app, ..)| Role {
            name: format!("{app}-task"),
            policy: allow(&read, under(REGION, &format!("prod/{app}/"))),
        })
        .collect();
    for (index, (app, _, _, rotates)) in APPS.iter().enumerate() {
        if *rotates {
            let rotate = [
                "secretsmanager:GetSecretValue",
                "secretsmanager:DescribeSecret",
                "secretsmanager:PutSecretValue",
                "secretsmanager:UpdateSecretVersionStage",
            ];
            roles.push(Role {
                name: format!("{app}-rotation"),
                policy: allow(&rotate, estate.apps[index].0.arn.clone()),
            });
        }
    }
    let exactly = |role: &str, secret: &Secret| Role {
        name: role.to_string(),
        policy: allow(&read, secret.arn.clone()),
    };
    roles.push(exactly("warehouse-export", &estate.app("ledger").0));
    roles.push(exactly("ci-runner", &estate.app("catalog").1));
    roles.push(Role {
        name: "payments-dr".into(),
        policy: allow(&read, under(DR_REGION, "prod/payments/")),
    });
    roles.push(Role {
        name: "legacy-reporting".into(),
        policy: allow(&read, under(REGION, "prod/legacy/")),
    });
    roles.push(Role {
        name: "Admin".into(),
        policy: json!({ "Version": "2012-10-17", "Statement": [
            { "Sid": "AdministratorAccess", "Effect": "Allow", "Action": "*", "Resource": "*" } ] }),
    });

    let trails = vec![
        Trail {
            name: ORG_TRAIL,
            home_region: REGION,
            multi_region: true,
            logging: false,
            records_reads: false,
        },
        Trail {
            name: "security-lake",
            home_region: REGION,
            multi_region: false,
            logging: true,
            records_reads: true,
        },
    ];

    let about = |scenario, kind, principal: Option<String>, subject: Option<String>| Label {
        scenario,
        kind,
        principal,
        secret_arn: None,
        subject,
    };
    let role = |name: &str| Identity::role(name, "any").principal();
    let second_region = Some(format!("{ACCOUNT}/{DR_REGION}"));
    let of_secret = |scenario, kind, secret: &Secret| label(scenario, kind, None, Some(secret));
    let mut labels = vec![
        of_secret(
            "the failed rotation leaves its pending version behind",
            "rotation_stuck",
            &estate.app("orders").0,
        ),
        of_secret(
            "a weekly rotation that stopped being started",
            "rotation_overdue",
            &estate.app("search").0,
        ),
        of_secret(
            "rotation switched on and never run",
            "rotation_never_ran",
            never_rotated,
        ),
        about(
            "the stopped audit trail stays stopped",
            "trail_stopped",
            None,
            Some(trail_arn(ORG_TRAIL)),
        ),
        about(
            "with the audit trail stopped, nothing records the second region's reads",
            "trail_gap",
            None,
            second_region.clone(),
        ),
        about(
            "the second region's steady reads stop arriving",
            "ingest_silence",
            None,
            second_region,
        ),
        about(
            "a reporting role granted sixteen tokens it never reads",
            "unused_grant",
            role("legacy-reporting"),
            None,
        ),
        about(
            "the search database's rotation function, no longer started, reads nothing",
            "unused_grant",
            role("search-rotation"),
            None,
        ),
        about(
            "the admin role can read every secret, and reads two",
            "unused_grant",
            role("Admin"),
            None,
        ),
        about(
            "the admin role can read every secret",
            "broad_grant",
            role("Admin"),
            None,
        ),
    ];
    for old in estate.legacy.iter().chain([&estate.forgotten]) {
        if writer.deleted.contains(&old.arn) {
            continue;
        }
        labels.push(of_secret(
            "an old secret never rotated",
            "rotation_neglected",
            old,
        ));
        if !writer.last_read.contains_key(&old.arn) {
            labels.push(of_secret(
                "an old secret nobody reads any more",
                "secret_unused",
                old,
            ));
        }
    }
    Account {
        secrets,
        roles,
        trails,
        labels,
    }
}
