//! The IAM policies in `iam/` list exactly the Secrets Manager, CloudTrail, IAM and KMS operations
//! Trailkeeper calls: the read-only one what everything but administration calls, the
//! administration one those and the changes.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::common::rust_sources;

/// Every Secrets Manager operation: the SDK's method, and the IAM action it needs.
const SECRETS_MANAGER: [(&str, &str); 23] = [
    ("batch_get_secret_value", "BatchGetSecretValue"),
    ("cancel_rotate_secret", "CancelRotateSecret"),
    ("create_secret", "CreateSecret"),
    ("delete_resource_policy", "DeleteResourcePolicy"),
    ("delete_secret", "DeleteSecret"),
    ("describe_secret", "DescribeSecret"),
    ("get_random_password", "GetRandomPassword"),
    ("get_resource_policy", "GetResourcePolicy"),
    ("get_secret_value", "GetSecretValue"),
    ("list_secret_version_ids", "ListSecretVersionIds"),
    ("list_secrets", "ListSecrets"),
    ("put_resource_policy", "PutResourcePolicy"),
    ("put_secret_value", "PutSecretValue"),
    (
        "remove_regions_from_replication",
        "RemoveRegionsFromReplication",
    ),
    ("replicate_secret_to_regions", "ReplicateSecretToRegions"),
    ("restore_secret", "RestoreSecret"),
    ("rotate_secret", "RotateSecret"),
    ("stop_replication_to_replica", "StopReplicationToReplica"),
    ("tag_resource", "TagResource"),
    ("untag_resource", "UntagResource"),
    ("update_secret", "UpdateSecret"),
    ("update_secret_version_stage", "UpdateSecretVersionStage"),
    ("validate_resource_policy", "ValidateResourcePolicy"),
];

/// The CloudTrail operations that read events and trails (none of CloudTrail's writes).
const CLOUDTRAIL: [(&str, &str); 4] = [
    ("lookup_events", "LookupEvents"),
    ("describe_trails", "DescribeTrails"),
    ("get_trail_status", "GetTrailStatus"),
    ("get_event_selectors", "GetEventSelectors"),
];

/// The IAM actions of `operations` the code in `files` calls.
fn called(files: &[PathBuf], operations: &[(&str, &str)]) -> BTreeSet<String> {
    let text: String = files
        .iter()
        .map(|file| std::fs::read_to_string(file).unwrap())
        .collect();
    operations
        .iter()
        .filter(|(method, _)| text.contains(&format!(".{method}()")))
        .map(|(_, action)| action.to_string())
        .collect()
}

/// The actions of `service` (`secretsmanager:`, `cloudtrail:`) a policy file allows.
fn allowed(file: &str, service: &str) -> BTreeSet<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../iam")
        .join(file);
    let policy: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|statement| statement["Effect"] == "Allow")
        // What Secrets Manager does with a key on the caller's behalf is no call of ours.
        .filter(|statement| {
            !statement["Condition"]
                .to_string()
                .contains("kms:ViaService")
        })
        .flat_map(|statement| statement["Action"].as_array().unwrap().clone())
        .filter_map(|action| action.as_str()?.strip_prefix(service).map(str::to_string))
        .collect()
}

/// The reads of who may read a secret: IAM's policies and the KMS keys'.
const IAM: [(&str, &str); 1] = [(
    "get_account_authorization_details",
    "GetAccountAuthorizationDetails",
)];
const KMS: [(&str, &str); 1] = [("get_key_policy", "GetKeyPolicy")];

#[test]
fn the_iam_policies_allow_exactly_what_the_code_calls() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let (administration, reading): (Vec<PathBuf>, Vec<PathBuf>) = rust_sources(&root)
        .into_iter()
        .partition(|file| file.starts_with(root.join("admin")));
    for (service, operations) in [
        ("secretsmanager:", &SECRETS_MANAGER[..]),
        ("cloudtrail:", &CLOUDTRAIL[..]),
        ("iam:", &IAM[..]),
        ("kms:", &KMS[..]),
    ] {
        let reads = called(&reading, operations);
        let mut everything = reads.clone();
        everything.extend(called(&administration, operations));
        assert!(!reads.is_empty(), "the scan finds the calls of {service}");
        // No code calls an operation on a secret's value: no_secret_values.rs checks that.
        assert_eq!(allowed("trailkeeper-read-only.json", service), reads);
        assert_eq!(
            allowed("trailkeeper-administration.json", service),
            everything
        );
    }
}
