//! The evaluator on policy fixtures.

use serde_json::json;

use super::*;

const ACCOUNT: &str = "111122223333";
const SECRET: &str = "arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/db-AbCdEf";
const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd";

fn policy(source: &str, statements: Value) -> Policy {
    Policy {
        source: source.into(),
        document: json!({ "Version": "2012-10-17", "Statement": statements }),
    }
}

fn role(name: &str, policies: Vec<Policy>) -> Principal {
    Principal {
        arn: format!("arn:aws:iam::{ACCOUNT}:role/{name}"),
        account: ACCOUNT.into(),
        identity_policies: policies,
        ..Principal::default()
    }
}

fn secret() -> Secret {
    Secret {
        arn: SECRET.into(),
        account: ACCOUNT.into(),
        tags: BTreeMap::from([("team".to_string(), "payments".to_string())]),
        resource_policy: None,
        key: Key::AwsManaged,
    }
}

fn allow(action: &str, resource: &str) -> Value {
    json!({ "Sid": "Read", "Effect": "Allow", "Action": action, "Resource": resource })
}

#[test]
fn an_identity_allow_grants_and_names_its_statement() {
    let app = role(
        "app",
        vec![policy(
            "inline policy read of role app",
            json!([allow("secretsmanager:GetSecretValue", SECRET)]),
        )],
    );
    let verdict = can_read(&app, &secret());
    assert_eq!(verdict.reach, Reach::Yes);
    assert_eq!(
        verdict.granted_by,
        ["statement \"Read\" of inline policy read of role app"]
    );
    let other = role(
        "other",
        vec![policy(
            "p",
            json!([allow("secretsmanager:DescribeSecret", "*")]),
        )],
    );
    assert_eq!(can_read(&other, &secret()).reach, Reach::No);
}

#[test]
fn wildcards_in_actions_and_resources_match_as_iam_matches_them() {
    for (action, resource, reach) in [
        ("secretsmanager:Get*", "*", Reach::Yes),
        ("SecretsManager:getsecretvalue", SECRET, Reach::Yes),
        (
            "secretsmanager:*",
            "arn:aws:secretsmanager:*:*:secret:prod/*",
            Reach::Yes,
        ),
        (
            "*",
            "arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/db-??????",
            Reach::Yes,
        ),
        (
            "secretsmanager:*",
            "arn:aws:secretsmanager:*:*:secret:dev/*",
            Reach::No,
        ),
        // Resource ARNs are case-sensitive.
        (
            "secretsmanager:*",
            "arn:aws:secretsmanager:*:*:secret:PROD/*",
            Reach::No,
        ),
    ] {
        let app = role("app", vec![policy("p", json!([allow(action, resource)]))]);
        assert_eq!(
            can_read(&app, &secret()).reach,
            reach,
            "{action} on {resource}"
        );
    }
}

#[test]
fn an_explicit_deny_wins_wherever_it_is() {
    let deny = json!({ "Effect": "Deny", "Action": "secretsmanager:*", "Resource": SECRET });
    let app = role(
        "app",
        vec![
            policy(
                "arn:aws:iam::aws:policy/SecretsManagerReadWrite",
                json!([allow("secretsmanager:*", "*")]),
            ),
            policy("inline policy guard of role app", json!([deny])),
        ],
    );
    let verdict = can_read(&app, &secret());
    assert_eq!(verdict.reach, Reach::No);
    assert_eq!(
        verdict.reasons,
        ["explicitly denied by statement #1 of inline policy guard of role app"]
    );
    // In the secret's resource policy, aimed at everyone.
    let mut guarded = secret();
    guarded.resource_policy = Some(json!({ "Statement": [{
        "Effect": "Deny", "Principal": "*", "Action": "secretsmanager:GetSecretValue",
        "Resource": "*", "Condition": { "StringNotEquals": { "aws:PrincipalTag/team": "payments" } }
    }] }));
    let reader = role(
        "reader",
        vec![policy("p", json!([allow("secretsmanager:*", "*")]))],
    );
    assert_eq!(can_read(&reader, &guarded).reach, Reach::No);
    let mut payments = reader.clone();
    payments.tags.insert("team".into(), "payments".into());
    assert_eq!(can_read(&payments, &guarded).reach, Reach::Yes);
}

#[test]
fn not_action_and_not_resource_grant_everything_they_do_not_name() {
    let everything_but_deletes = json!([{ "Effect": "Allow",
        "NotAction": ["secretsmanager:DeleteSecret", "iam:*"], "Resource": "*" }]);
    let app = role("app", vec![policy("p", everything_but_deletes)]);
    assert_eq!(can_read(&app, &secret()).reach, Reach::Yes);
    let not_reads =
        json!([{ "Effect": "Allow", "NotAction": "secretsmanager:Get*", "Resource": "*" }]);
    assert_eq!(
        can_read(&role("a", vec![policy("p", not_reads)]), &secret()).reach,
        Reach::No
    );
    let all_but_prod = json!([{ "Effect": "Allow", "Action": "secretsmanager:*",
        "NotResource": "arn:aws:secretsmanager:*:*:secret:prod/*" }]);
    assert_eq!(
        can_read(&role("a", vec![policy("p", all_but_prod)]), &secret()).reach,
        Reach::No
    );
}

#[test]
fn a_resource_policy_naming_the_role_grants_within_the_account_and_across_it_only_with_iam() {
    let mut shared = secret();
    shared.resource_policy = Some(json!({ "Statement": [{
        "Sid": "Partner", "Effect": "Allow",
        "Principal": { "AWS": ["arn:aws:iam::111122223333:role/app", "arn:aws:iam::444455556666:role/partner"] },
        "Action": "secretsmanager:GetSecretValue", "Resource": "*"
    }] }));
    let app = role("app", Vec::new());
    assert_eq!(can_read(&app, &shared).reach, Reach::Yes);
    let mut partner = Principal {
        arn: "arn:aws:iam::444455556666:role/partner".into(),
        account: "444455556666".into(),
        ..Principal::default()
    };
    shared.key = Key::Customer {
        arn: KEY.into(),
        policy: Some(json!({ "Statement": [{ "Effect": "Allow",
            "Principal": { "AWS": "arn:aws:iam::444455556666:root" },
            "Action": "kms:Decrypt", "Resource": "*" }] })),
    };
    let verdict = can_read(&partner, &shared);
    assert_eq!(verdict.reach, Reach::No);
    assert_eq!(verdict.reasons, ["no identity policy of it allows it"]);
    partner.identity_policies = vec![policy(
        "inline policy feed of role partner",
        json!([
            allow("secretsmanager:GetSecretValue", SECRET),
            allow("kms:Decrypt", KEY)
        ]),
    )];
    let verdict = can_read(&partner, &shared);
    assert_eq!(verdict.reach, Reach::Yes, "{verdict:?}");
    assert_eq!(verdict.granted_by.len(), 4, "{:?}", verdict.granted_by);
    // The account's default key cannot be shared with another account.
    shared.key = Key::AwsManaged;
    assert_eq!(can_read(&partner, &shared).reach, Reach::No);
}

#[test]
fn a_key_policy_that_grants_no_decrypt_blocks_reading() {
    let reader = role(
        "reader",
        vec![policy("p", json!([allow("secretsmanager:*", "*")]))],
    );
    let mut encrypted = secret();
    encrypted.key = Key::Customer {
        arn: KEY.into(),
        policy: Some(json!({ "Statement": [{ "Sid": "Admins", "Effect": "Allow",
            "Principal": { "AWS": "arn:aws:iam::111122223333:role/key-admin" },
            "Action": "kms:*", "Resource": "*" }] })),
    };
    let verdict = can_read(&reader, &encrypted);
    assert_eq!(verdict.reach, Reach::No);
    assert!(
        verdict.reasons[0].contains("does not let it kms:Decrypt"),
        "{verdict:?}"
    );
    // A key policy that leaves it to IAM: the role's policy must allow decrypting.
    encrypted.key = Key::Customer {
        arn: KEY.into(),
        policy: Some(json!({ "Statement": [{ "Effect": "Allow",
            "Principal": { "AWS": "arn:aws:iam::111122223333:root" }, "Action": "kms:*", "Resource": "*" }] })),
    };
    assert_eq!(can_read(&reader, &encrypted).reach, Reach::No);
    let decrypting = role(
        "reader",
        vec![policy(
            "p",
            json!([allow("secretsmanager:*", "*"), allow("kms:Decrypt", KEY)]),
        )],
    );
    assert_eq!(can_read(&decrypting, &encrypted).reach, Reach::Yes);
    // An unreadable key policy leaves it open.
    encrypted.key = Key::Customer {
        arn: KEY.into(),
        policy: None,
    };
    assert_eq!(can_read(&decrypting, &encrypted).reach, Reach::Possibly);
}

#[test]
fn condition_keys_are_judged_when_known_and_otherwise_make_it_possible() {
    let on_tags = json!([{ "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
        "Resource": "*", "Condition": { "StringEquals": {
            "secretsmanager:ResourceTag/team": "${aws:PrincipalTag/team}",
            "aws:PrincipalTag/team": ["payments", "ledger"] } } }]);
    let mut payments = role("payments", vec![policy("p", on_tags.clone())]);
    payments.tags.insert("team".into(), "payments".into());
    // A policy variable takes the principal's own value.
    assert_eq!(can_read(&payments, &secret()).reach, Reach::Yes);
    payments.tags.insert("team".into(), "ledger".into());
    assert_eq!(can_read(&payments, &secret()).reach, Reach::No);
    let by_tag = json!([{ "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
        "Resource": "*", "Condition": { "StringEquals": { "secretsmanager:ResourceTag/team": "payments" } } }]);
    assert_eq!(
        can_read(&role("a", vec![policy("p", by_tag.clone())]), &secret()).reach,
        Reach::Yes
    );
    let mut other = secret();
    other.tags.insert("team".into(), "ledger".into());
    assert_eq!(
        can_read(&role("a", vec![policy("p", by_tag)]), &other).reach,
        Reach::No
    );
    let untagged = role(
        "untagged",
        vec![policy(
            "p",
            json!([{ "Effect": "Allow",
        "Action": "secretsmanager:GetSecretValue", "Resource": "*",
        "Condition": { "StringLike": { "aws:PrincipalTag/team": "pay*" } } }]),
        )],
    );
    assert_eq!(can_read(&untagged, &secret()).reach, Reach::No);
    let through_endpoint = role(
        "vpc",
        vec![policy(
            "p",
            json!([{ "Effect": "Allow",
        "Action": "secretsmanager:GetSecretValue", "Resource": "*",
        "Condition": { "StringEquals": { "aws:SourceVpce": "vpce-1a2b3c" } } }]),
        )],
    );
    let verdict = can_read(&through_endpoint, &secret());
    assert_eq!(verdict.reach, Reach::Possibly);
    assert_eq!(
        verdict.reasons,
        ["a condition that depends on the request decides"]
    );
}

#[test]
fn a_permissions_boundary_limits_what_identity_policies_grant() {
    let mut app = role(
        "app",
        vec![policy("p", json!([allow("secretsmanager:*", "*")]))],
    );
    app.boundary = Some(policy(
        "boundary arn:aws:iam::111122223333:policy/no-secrets",
        json!([allow("s3:*", "*")]),
    ));
    let verdict = can_read(&app, &secret());
    assert_eq!(verdict.reach, Reach::No);
    assert!(
        verdict.reasons[0].contains("permissions boundary"),
        "{verdict:?}"
    );
}

#[test]
fn hostile_documents_grant_nothing_and_do_not_panic() {
    for statements in [
        json!("not a list"),
        json!([{ "Effect": "Allow" }]),
        json!([{ "Effect": "allow", "Action": "*", "Resource": "*" }]),
        json!([{ "Effect": "Allow", "Action": 7, "Resource": {"x": 1} }]),
        json!([{ "Effect": "Allow", "Action": "*", "Resource": "*", "Condition": "yes" }]),
    ] {
        let verdict = can_read(&role("a", vec![policy("p", statements.clone())]), &secret());
        assert_ne!(verdict.reach, Reach::Yes, "{statements}");
    }
}

#[test]
fn only_an_unconditional_allow_of_everything_on_everything_grants_every_secret() {
    let admin = role(
        "admin",
        vec![policy(
            "managed policy arn:aws:iam::aws:policy/SecretsManagerReadWrite",
            json!([
                allow("secretsmanager:GetSecretValue", SECRET),
                allow("SecretsManager:*", "*")
            ]),
        )],
    );
    assert_eq!(
        every_secret(&admin).as_deref(),
        Some(
            "statement \"Read\" of managed policy arn:aws:iam::aws:policy/SecretsManagerReadWrite"
        )
    );
    let narrower = [
        allow(
            "secretsmanager:*",
            "arn:aws:secretsmanager:*:*:secret:prod/*",
        ),
        allow("secretsmanager:Get*", "*"),
        json!({ "Effect": "Allow", "Action": "*", "Resource": "*",
                "Condition": { "StringEquals": { "aws:SourceVpce": "vpce-1" } } }),
        json!({ "Effect": "Deny", "Action": "*", "Resource": "*" }),
    ];
    for statement in narrower {
        let principal = role("app", vec![policy("p", json!([statement.clone()]))]);
        assert_eq!(every_secret(&principal), None, "{statement}");
    }
}
