//! Resource policy analysis on policies as AWS returns them: which statements let anyone,
//! or other accounts, use a secret.

use trailkeeper::inventory::policy::analyse;
use trailkeeper_app::api::secrets::PolicyExposure;

const OWN: &str = "111122223333";

#[test]
fn a_public_statement_is_named_and_explained() {
    let policy = r#"{"Version":"2012-10-17","Statement":[
        {"Sid":"AppRole","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/app"},"Action":"secretsmanager:GetSecretValue","Resource":"*"},
        {"Sid":"Everyone","Effect":"Allow","Principal":"*","Action":"secretsmanager:GetSecretValue","Resource":"*"}]}"#;
    let flags = analyse(policy, OWN).unwrap();
    assert_eq!(flags.len(), 1);
    assert_eq!(flags[0].statement, "\"Everyone\"");
    assert_eq!(flags[0].exposure, PolicyExposure::Public);
    assert_eq!(
        flags[0].reason,
        "statement \"Everyone\" allows anyone (\"Principal\": \"*\") to secretsmanager:GetSecretValue, with no condition that narrows who"
    );
}

#[test]
fn other_accounts_are_flagged_unless_a_condition_narrows_them() {
    let policy = r#"{"Statement":{"Effect":"Allow",
        "Principal":{"AWS":["arn:aws:iam::444455556666:role/reader","555566667777","arn:aws:iam::111122223333:root"]},
        "Action":["secretsmanager:GetSecretValue","secretsmanager:DescribeSecret","secretsmanager:ListSecretVersionIds","secretsmanager:GetResourcePolicy"]}}"#;
    let flags = analyse(policy, OWN).unwrap();
    assert_eq!(
        flags[0].exposure,
        PolicyExposure::CrossAccount {
            accounts: vec!["444455556666".into(), "555566667777".into()]
        }
    );
    assert_eq!(
        flags[0].reason,
        "statement #1 allows account 444455556666, 555566667777 to secretsmanager:GetSecretValue, secretsmanager:DescribeSecret, secretsmanager:ListSecretVersionIds and 1 more actions, with no condition that narrows who"
    );

    let narrowed = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"secretsmanager:GetSecretValue",
        "Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}}]}"#;
    assert_eq!(analyse(narrowed, OWN).unwrap(), []);
}

#[test]
fn denies_services_and_the_own_account_are_not_flagged() {
    let policy = r#"{"Statement":[
        {"Effect":"Deny","Principal":"*","Action":"*"},
        {"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"secretsmanager:GetSecretValue"},
        {"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"secretsmanager:*"}]}"#;
    assert_eq!(analyse(policy, OWN).unwrap(), []);
    assert!(analyse("{not json", OWN).is_err());
}
