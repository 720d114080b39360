//! The command line as people type it: each setting parsed, defaulted and refused by name.

use std::path::PathBuf;
use std::time::Duration;

use super::*;
use crate::admin::approvals::Approvals;
use crate::auth::sessions::SessionPolicy;
use crate::aws::accounts::{AccountSettings, Coverage, OrgMember};
use crate::db::DatabaseSource;
use trailkeeper_app::Role;

fn parse(args: &[&str]) -> Result<(Settings, Invocation), ConfigError> {
    parse_from(std::iter::once("trailkeeper").chain(args.iter().copied()))
}

#[test]
fn no_command_serves_on_the_default_address_with_the_embedded_database() {
    // An empty URL counts as unset (the test harness itself sets DATABASE_URL).
    let (settings, invocation) = parse(&["--database-url", "", "--data-dir", "/tmp/tk"]).unwrap();
    assert!(
        matches!(settings.database, DatabaseSource::Embedded { ref data_dir } if data_dir == std::path::Path::new("/tmp/tk"))
    );
    let Invocation::Serve(serve) = invocation else {
        panic!("expected serve")
    };
    assert_eq!(serve.listen.to_string(), "127.0.0.1:3000");
    assert_eq!(serve.sessions, SessionPolicy::default());
    assert_eq!(serve.sync_interval, Duration::from_secs(300));
    assert!(serve.regions.is_empty(), "the SDK's region");
    assert!(serve.tls.is_none());
}

#[test]
fn a_bad_listen_flag_is_named_with_what_is_wrong() {
    let error = parse(&["serve", "--listen", "localhost"]).unwrap_err();
    assert_eq!(error.setting, "--listen");
    assert!(
        error.problem.contains("\"localhost\" is not an address"),
        "{}",
        error.problem
    );
}

#[test]
fn a_secret_key_that_is_not_32_bytes_is_refused_without_echoing_it() {
    let error = parse(&["serve", "--secret-key", "hunter2hunter2"]).unwrap_err();
    assert_eq!(error.setting, "--secret-key");
    assert!(error.problem.contains("32 bytes"), "{}", error.problem);
    assert!(!error.to_string().contains("hunter2"));
}

#[test]
fn a_database_url_of_another_kind_is_refused_without_echoing_it() {
    let error = parse(&["migrate", "--database-url", "mysql://root:hunter2@db/x"]).unwrap_err();
    assert_eq!(error.setting, "--database-url");
    assert!(!error.to_string().contains("hunter2"));
}

#[test]
fn a_postgres_url_selects_the_external_database() {
    let (settings, invocation) = parse(&[
        "migrate",
        "--database-url",
        "postgres://tk@db.internal:6432/audit",
    ])
    .unwrap();
    let DatabaseSource::External {
        serving: options,
        migrating: None,
    } = settings.database
    else {
        panic!("expected an external database migrated by its own role")
    };
    assert_eq!(options.get_host(), "db.internal");
    assert_eq!(options.get_port(), 6432);
    assert!(matches!(invocation, Invocation::Migrate));
}

#[test]
fn detect_backfills_a_range_and_refuses_one_that_ends_before_it_starts() {
    let (_, invocation) =
        parse(&["detect", "--backfill", "--since", "2026-01-01T00:00:00Z"]).unwrap();
    let Invocation::Backfill { since, until } = invocation else {
        panic!("expected a backfill")
    };
    assert_eq!(since.unwrap().to_rfc3339(), "2026-01-01T00:00:00+00:00");
    assert_eq!(until, None);
    let error = parse(&[
        "detect",
        "--backfill",
        "--since",
        "2026-02-01T00:00:00Z",
        "--until",
        "2026-01-01T00:00:00Z",
    ])
    .unwrap_err();
    assert_eq!(error.setting, "--until");
    assert_eq!(
        parse(&["detect", "--backfill", "--until", "soon"])
            .unwrap_err()
            .setting,
        "--until"
    );
}

#[test]
fn ingest_reads_paths_s3_urls_and_lookup_events_from_a_time() {
    let (_, invocation) = parse(&[
        "ingest",
        "exports/",
        "s3://trails/AWSLogs/",
        "--lookup",
        "--since",
        "2026-01-01T00:00:00Z",
        "--regions",
        "eu-west-1",
    ])
    .unwrap();
    let Invocation::Ingest(plan) = invocation else {
        panic!("expected ingest")
    };
    assert_eq!(plan.paths, [PathBuf::from("exports/")]);
    assert_eq!(plan.s3_urls[0].bucket, "trails");
    let lookup = plan.lookup.unwrap();
    assert_eq!(lookup.regions, ["eu-west-1"]);
    assert_eq!(
        lookup.since.unwrap().to_rfc3339(),
        "2026-01-01T00:00:00+00:00"
    );

    let error = parse(&["ingest", "--lookup", "--since", "yesterday"]).unwrap_err();
    assert_eq!(error.setting, "--since");
    assert!(error.problem.contains("RFC 3339"), "{}", error.problem);
    let error = parse(&["ingest", "s3://"]).unwrap_err();
    assert!(
        error.problem.contains("names no bucket"),
        "{}",
        error.problem
    );
}

#[test]
fn serve_reads_lookup_events_every_minute_unless_turned_off() {
    let (_, invocation) = parse(&["serve"]).unwrap();
    let Invocation::Serve(serve) = invocation else {
        panic!("expected serve")
    };
    assert_eq!(serve.lookup_interval, Some(Duration::from_secs(60)));
    let (_, invocation) = parse(&[
        "serve",
        "--lookup-interval",
        "off",
        "--s3-trails",
        "s3://a/AWSLogs/,s3://b/",
    ])
    .unwrap();
    let Invocation::Serve(serve) = invocation else {
        panic!("expected serve")
    };
    assert_eq!(serve.lookup_interval, None);
    assert_eq!(serve.s3_trails.len(), 2);
    let error = parse(&["serve", "--s3-trails", "trails"]).unwrap_err();
    assert_eq!(error.setting, "--s3-trails");
}

#[test]
fn unknown_log_formats_are_refused() {
    let error = parse(&["--log-format", "xml"]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "--log-format: \"xml\" is not a log format; use text or json"
    );
}

#[test]
fn session_lifetimes_and_token_expiries_are_human_durations() {
    let (_, invocation) = parse(&["serve", "--session-idle-timeout", "15m"]).unwrap();
    let Invocation::Serve(serve) = invocation else {
        panic!("expected serve")
    };
    assert_eq!(serve.sessions.idle_timeout, Duration::from_secs(15 * 60));

    let error = parse(&["serve", "--session-lifetime", "forever"]).unwrap_err();
    assert_eq!(error.setting, "--session-lifetime");
    assert!(
        error.problem.contains("\"forever\" is not a duration"),
        "{}",
        error.problem
    );

    let (_, invocation) = parse(&[
        "token",
        "create",
        "ci",
        "--role",
        "viewer",
        "--expires",
        "90d",
    ])
    .unwrap();
    assert!(matches!(
        invocation,
        Invocation::Token(TokenInvocation::Create { valid_for: Some(d), .. })
            if d == Duration::from_secs(90 * 86_400)
    ));
    let error = parse(&[
        "token",
        "create",
        "ci",
        "--role",
        "viewer",
        "--expires",
        "0d",
    ])
    .unwrap_err();
    assert_eq!(error.to_string(), "--expires: must be longer than zero");
}

#[test]
fn single_sign_on_needs_a_client_and_a_role_mapping() {
    let (_, invocation) = parse(&[
        "serve",
        "--oidc-issuer",
        "https://id.example/",
        "--oidc-client-id",
        "trailkeeper",
        "--oidc-roles",
        "admin=secops, viewer=*",
    ])
    .unwrap();
    let Invocation::Serve(serve) = invocation else {
        panic!("expected serve")
    };
    let oidc = serve.oidc.unwrap();
    assert_eq!(oidc.issuer, "https://id.example");
    assert_eq!(oidc.role_claim, "groups");
    assert_eq!(
        oidc.roles,
        [
            (Role::Admin, "secops".to_string()),
            (Role::Viewer, "*".to_string())
        ]
    );

    let error = parse(&["serve", "--oidc-issuer", "https://id.example"]).unwrap_err();
    assert_eq!(error.setting, "TRAILKEEPER_OIDC_CLIENT_ID");
    let error = parse(&[
        "serve",
        "--oidc-issuer",
        "https://id.example",
        "--oidc-client-id",
        "tk",
        "--oidc-roles",
        "boss=everyone",
    ])
    .unwrap_err();
    assert_eq!(error.setting, "--oidc-roles");
    assert!(
        error.problem.contains("\"boss\" is not a role"),
        "{}",
        error.problem
    );
}

#[test]
fn single_sign_on_maps_claim_values_to_scope_terms_and_refuses_hostile_ones() {
    let sso = |scopes: &str| {
        parse(&[
            "serve",
            "--oidc-issuer",
            "https://id.example",
            "--oidc-client-id",
            "tk",
            "--oidc-roles",
            "viewer=*",
            "--oidc-scopes",
            scopes,
        ])
    };
    let (_, invocation) =
        sso("team=payments:payments-engineers, cost=a:b:finance, *:secops-admins").unwrap();
    let Invocation::Serve(serve) = invocation else {
        panic!("expected serve")
    };
    let scopes = serve.oidc.unwrap().scopes.unwrap();
    let entries: Vec<(String, &str)> = scopes
        .iter()
        .map(|(scope, value)| (scope.to_string(), value.as_str()))
        .collect();
    assert_eq!(
        entries,
        [
            ("team=payments".to_string(), "payments-engineers"),
            ("cost=a:b".to_string(), "finance"),
            ("*".to_string(), "secops-admins"),
        ]
    );
    for (hostile, problem) in [
        ("team=payments", "not TERM:VALUE"),
        ("team=payments:", "names no claim value"),
        ("payments:engineers", "neither an account id"),
        ("pay*ments*:engineers", "only the last character"),
    ] {
        let error = sso(hostile).unwrap_err();
        assert_eq!(error.setting, "--oidc-scopes", "{hostile}");
        assert!(
            error.problem.contains(problem),
            "{hostile}: {}",
            error.problem
        );
    }
}

#[test]
fn scopes_on_the_command_line_are_checked_term_by_term() {
    let (_, invocation) = parse(&[
        "token",
        "create",
        "ci",
        "--role",
        "viewer",
        "--scope",
        "team=payments,payments/*",
    ])
    .unwrap();
    assert!(matches!(
        invocation,
        Invocation::Token(TokenInvocation::Create { scope: Some(scope), .. })
            if scope.to_string() == "team=payments,payments/*"
    ));
    let error = parse(&[
        "token", "create", "ci", "--role", "viewer", "--scope", "payments",
    ])
    .unwrap_err();
    assert_eq!(error.setting, "--scope");
    assert!(
        error.problem.contains("\"payments\" is not a scope term"),
        "{}",
        error.problem
    );
}

#[test]
fn accounts_are_the_own_listed_roles_or_the_organisation() {
    let accounts = |args: &[&str]| {
        let (_, invocation) = parse(args).unwrap();
        let Invocation::Sync { accounts, .. } = invocation else {
            panic!("expected sync")
        };
        accounts
    };
    assert_eq!(accounts(&["sync"]), AccountSettings::default());
    let listed = accounts(&[
        "sync",
        "--accounts",
        "arn:aws:iam::111111111111:role/trailkeeper-read, arn:aws:iam::222222222222:role/read",
    ]);
    let Coverage::Roles(roles) = listed.coverage else {
        panic!("expected roles")
    };
    let accounts_of: Vec<&str> = roles.iter().map(|role| role.account()).collect();
    assert_eq!(accounts_of, ["111111111111", "222222222222"]);
    let organisation = accounts(&[
        "sync",
        "--org-role-name",
        "TrailkeeperRead",
        "--org-external-id",
        "trailkeeper-7f3a",
        "--org-exclude",
        "ou-ab12-cd34ef56,333333333333",
        "--sync-account-concurrency",
        "32",
    ]);
    assert_eq!(
        organisation,
        AccountSettings {
            coverage: Coverage::Organization {
                role_name: "TrailkeeperRead".into(),
                include: Vec::new(),
                exclude: vec![
                    OrgMember::Unit("ou-ab12-cd34ef56".into()),
                    OrgMember::Account("333333333333".into())
                ],
            },
            external_id: Some("trailkeeper-7f3a".into()),
            concurrency: 32,
        }
    );
}

#[test]
fn hostile_account_settings_are_named() {
    let refused = |args: &[&str]| parse(args).unwrap_err().to_string();
    assert_eq!(
        refused(&["sync", "--accounts", "arn:aws:iam::1111:role/read"]),
        "--accounts: \"arn:aws:iam::1111:role/read\" is not an IAM role ARN such as \
         arn:aws:iam::111111111111:role/trailkeeper-read"
    );
    assert!(
        refused(&["sync", "--org-role-name", "read;drop"])
            .starts_with("--org-role-name: \"read;drop\" is not an IAM role name")
    );
    assert!(
        refused(&["sync", "--org-role-name", "R", "--org-accounts", "payments"])
            .starts_with("--org-accounts: \"payments\" is neither a 12-digit account id")
    );
    // Clap's own usage errors (printed with the usage, and the process exits).
    let usage = |args: &[&str]| {
        let args = std::iter::once("trailkeeper").chain(args.iter().copied());
        Cli::command()
            .try_get_matches_from(args)
            .unwrap_err()
            .to_string()
    };
    let both = usage(&[
        "sync",
        "--org-role-name",
        "R",
        "--accounts",
        "arn:aws:iam::111111111111:role/read",
    ]);
    assert!(both.contains("cannot be used with"), "{both}");
    let orphan = usage(&["sync", "--org-exclude", "333333333333"]);
    assert!(orphan.contains("--org-role-name"), "{orphan}");
    let none = refused(&["sync", "--sync-account-concurrency", "0"]);
    assert!(none.starts_with("--sync-account-concurrency:"), "{none}");
}

#[test]
fn sync_regions_are_a_list_of_region_names() {
    let (_, invocation) = parse(&["sync", "--regions", "eu-west-1, us-east-1,eu-west-1"]).unwrap();
    let Invocation::Sync { regions, .. } = invocation else {
        panic!("expected sync")
    };
    assert_eq!(regions, ["eu-west-1", "us-east-1"]);
    let error = parse(&["sync", "--regions", "Frankfurt"]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "--regions: \"Frankfurt\" is not an AWS region name such as eu-west-1"
    );
}

#[test]
fn tls_files_must_exist() {
    let error = parse(&[
        "serve",
        "--tls-cert",
        "/nonexistent/cert.pem",
        "--tls-key",
        "/nonexistent/key.pem",
    ])
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "--tls-cert: /nonexistent/cert.pem is not a readable file"
    );
}

#[test]
fn db_run_keeps_the_program_arguments_verbatim() {
    let (_, invocation) = parse(&["db", "run", "--", "psql", "-c", "select 1"]).unwrap();
    let Invocation::DbRun { command } = invocation else {
        panic!("expected db run")
    };
    assert_eq!(command, ["psql", "-c", "select 1"]);
}

#[test]
fn secret_commands_are_the_api_s_changes_and_name_the_flag_at_fault() {
    let (_, invocation) = parse(&[
        "secret",
        "tag",
        "prod/db",
        "--reason",
        "handover",
        "--tag",
        "team=data",
        "--tag",
        "owner=ada",
        "--remove-tag",
        "legacy",
    ])
    .unwrap();
    let Invocation::Secret {
        secret,
        action,
        request,
        approvals,
        ..
    } = invocation
    else {
        panic!("expected a secret change")
    };
    assert_eq!(secret, "prod/db");
    assert_eq!(
        approvals.which,
        Approvals::Off,
        "approvals are off unless asked for"
    );
    assert_eq!(request.reason, "handover");
    assert_eq!(
        action,
        SecretAction::Tags {
            set: [("owner", "ada"), ("team", "data")]
                .map(|(key, value)| (key.to_string(), value.to_string()))
                .into(),
            remove: vec!["legacy".into()],
        }
    );
    let (_, invocation) = parse(&[
        "secret",
        "delete",
        "prod/db",
        "--reason",
        "r",
        "--approvals",
        "destructive",
        "--approval-expiry",
        "2h",
    ])
    .unwrap();
    let Invocation::Secret { approvals, .. } = invocation else {
        panic!("expected a secret change")
    };
    assert_eq!(approvals.which, Approvals::Destructive);
    assert_eq!(approvals.expiry, Duration::from_secs(2 * 3600));
    let refused = |args: &[&str]| parse(args).unwrap_err().to_string();
    assert_eq!(
        refused(&[
            "secret",
            "rotation",
            "prod/db",
            "--reason",
            "r",
            "--schedule",
            "weekly"
        ]),
        "--schedule: \"weekly\" is not a schedule; give rate(N days) with N from 1 to 1000, \
         rate(N hours) with N from 4 to 23, or cron(minutes hours day month weekday year)"
    );
    assert!(
        refused(&["secret", "tag", "prod/db", "--reason", "r", "--tag", "team"])
            .starts_with("--tag: \"team\" is not key=value"),
    );
    assert!(
        refused(&[
            "secret",
            "replicate",
            "prod/db",
            "--reason",
            "r",
            "--region",
            "Mars"
        ])
        .starts_with("--region: \"Mars\" is not an AWS region name"),
    );
    assert!(
        refused(&[
            "secret",
            "policy",
            "prod/db",
            "--reason",
            "r",
            "--file",
            "/nonexistent.json"
        ])
        .starts_with("--file: cannot read /nonexistent.json"),
    );
}
