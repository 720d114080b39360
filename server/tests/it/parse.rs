//! Parsing, on the real-shaped samples (the same 15 records in every accepted format): each
//! format detected, split into records and typed with nothing lost or reordered, and each
//! record's secret, principal and source derived.

use std::path::PathBuf;

use trailkeeper::ingest::formats::{self, FileError, Format, Found};
use trailkeeper::ingest::record::Record;

fn sample(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/samples")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

const GZIPPED: &str = "111122223333_CloudTrail_us-east-1_20261003T0815Z_Ab12Cd34Ef56Gh78.json.gz";

fn records(name: &str, format: Format) -> Vec<Record> {
    let contents = formats::read(&sample(name), formats::DEFAULT_MAX_FILE_BYTES).unwrap();
    assert_eq!(contents.format, format, "{name}");
    assert_eq!(contents.truncated, None);
    contents
        .found
        .iter()
        .map(|found| match found {
            Found::Record(_, raw) => {
                Record::parse(raw.clone()).unwrap_or_else(|error| panic!("{error}"))
            }
            Found::Rejected(position, reason) => panic!("{name} {position}: {reason}"),
        })
        .collect()
}

fn ids(records: &[Record]) -> Vec<&str> {
    records
        .iter()
        .map(|record| record.event_id.as_str())
        .collect()
}

#[test]
fn every_format_gives_the_same_records_in_order() {
    let reference = records("trail-file.json", Format::TrailFile);
    assert_eq!(reference.len(), 15);
    for (name, format) in [
        (GZIPPED, Format::TrailFile),
        ("records.jsonl", Format::JsonLines),
        ("eventbridge.jsonl", Format::EventBridge),
    ] {
        let found = records(name, format);
        assert_eq!(ids(&found), ids(&reference), "{name}");
        assert!(
            found == reference,
            "{name}: the records differ from the trail file's"
        );
    }
    assert!(
        formats::read(&sample(GZIPPED), formats::DEFAULT_MAX_FILE_BYTES)
            .unwrap()
            .gzip
    );

    // A LookupEvents response is one page: the first records, the same as in the trail file.
    let page = records("lookup-events-response.json", Format::LookupEvents);
    assert!(!page.is_empty());
    assert!(
        page[..] == reference[..page.len()],
        "the page's records differ"
    );
}

#[test]
fn the_records_carry_what_detection_reads() {
    let records = records("records.jsonl", Format::JsonLines);
    let first = &records[0];
    assert_eq!(first.event_name, "GetSecretValue");
    assert_eq!(first.event_time.to_rfc3339(), "2026-10-03T08:12:41+00:00");
    assert_eq!(first.read_only, Some(true));
    let identity = first.user_identity.as_ref().unwrap();
    assert_eq!(identity.kind.as_deref(), Some("AssumedRole"));
    let issuer = identity
        .session_context
        .as_ref()
        .and_then(|context| context.session_issuer.as_ref())
        .unwrap();
    assert_eq!(
        issuer.arn.as_deref(),
        Some("arn:aws:iam::111122223333:role/payments-api-task")
    );
    let names: Vec<&str> = records
        .iter()
        .map(|record| record.event_name.as_str())
        .collect();
    for expected in ["AccessDenied", "RotationFailed", "RotationAbandoned"] {
        assert!(
            names.contains(&expected)
                || records
                    .iter()
                    .any(|record| record.error_code.as_deref() == Some(expected)),
            "{expected} missing from {names:?}"
        );
    }
}

#[test]
fn a_bare_array_of_records_is_its_own_format() {
    let lines = String::from_utf8(sample("records.jsonl")).unwrap();
    let array = format!("[{}]", lines.trim().lines().collect::<Vec<_>>().join(","));
    let contents = formats::read(array.as_bytes(), formats::DEFAULT_MAX_FILE_BYTES).unwrap();
    assert_eq!(contents.format, Format::JsonArray);
    assert_eq!(contents.found.len(), 15);
}

#[test]
fn a_truncated_gzip_keeps_the_lines_before_the_break() {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(&sample("records.jsonl")).unwrap();
    let whole = encoder.finish().unwrap();
    let cut = &whole[..whole.len() * 2 / 3];

    let contents = formats::read(cut, formats::DEFAULT_MAX_FILE_BYTES).unwrap();
    assert_eq!(contents.format, Format::JsonLines);
    assert!(
        contents
            .truncated
            .as_deref()
            .unwrap()
            .starts_with("the gzip stream ends early"),
        "{:?}",
        contents.truncated
    );
    let good = contents
        .found
        .iter()
        .filter(
            |found| matches!(found, Found::Record(_, raw) if Record::parse(raw.clone()).is_ok()),
        )
        .count();
    assert!(
        (5..15).contains(&good),
        "{good} whole records before the break"
    );

    // A trail file cut short is one broken document: the file is refused with the reason.
    let gzipped = sample(GZIPPED);
    let error = formats::read(
        &gzipped[..gzipped.len() / 2],
        formats::DEFAULT_MAX_FILE_BYTES,
    )
    .unwrap_err();
    assert!(
        matches!(&error, FileError::Unrecognised(reason) if reason.starts_with("the gzip stream ends early")),
        "{error}"
    );
}

#[test]
fn each_record_names_its_secret_its_principal_and_its_source() {
    use trailkeeper::ingest::normalise::{Source, normalise};
    let records = records("records.jsonl", Format::JsonLines);
    let secret = "arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/payments/db-AbCdEf";
    let by_id = |suffix: &str| {
        let record = records
            .iter()
            .find(|record| record.event_id.ends_with(suffix))
            .unwrap();
        (record, normalise(record))
    };

    // An application's role reading by name: the ARN comes from `resources`, the session
    // becomes its role.
    let (_, read) = by_id("0001");
    assert_eq!(read.secret.as_deref(), Some(secret));
    assert_eq!(
        read.principal.as_deref(),
        Some("arn:aws:iam::111122223333:role/payments-api-task")
    );
    assert_eq!(read.session_name.as_deref(), Some("payments-api-7f9c"));
    assert_eq!(read.source, Source::Address("10.20.4.17".parse().unwrap()));
    assert_eq!(read.user_agent_family.as_deref(), Some("aws-sdk-java"));

    // A user denied, naming the secret by ARN in the request.
    let (denied, normalised) = by_id("0002");
    assert_eq!(denied.error_code.as_deref(), Some("AccessDenied"));
    assert_eq!(normalised.secret.as_deref(), Some(secret));
    assert_eq!(
        normalised.principal.as_deref(),
        Some("arn:aws:iam::111122223333:user/jdoe")
    );
    assert_eq!(normalised.user_agent_family.as_deref(), Some("aws-cli"));

    // A batch read by filter names no one secret.
    assert_eq!(by_id("0003").1.secret, None);

    // The service rotating, and its events naming the secret in `additionalEventData`.
    let (_, rotate) = by_id("0004");
    assert_eq!(
        rotate.principal.as_deref(),
        Some("secretsmanager.amazonaws.com")
    );
    assert_eq!(
        rotate.source,
        Source::Service("secretsmanager.amazonaws.com".into())
    );
    let (failed, normalised) = by_id("0009");
    assert_eq!(failed.event_name, "RotationFailed");
    assert_eq!(normalised.secret.as_deref(), Some(secret));

    // The rotation function's role is named by its own session ARN, whatever the issuer says.
    let (_, stage) = by_id("0007");
    assert_eq!(
        stage.principal.as_deref(),
        Some("arn:aws:iam::111122223333:role/payments-db-rotation-role")
    );
    assert_eq!(stage.user_agent_family.as_deref(), Some("boto3"));

    // A role of another account.
    let (_, outside) = by_id("000f");
    assert_eq!(
        outside.principal.as_deref(),
        Some("arn:aws:iam::444455556666:role/ci-deployer")
    );
    assert_eq!(outside.principal_account.as_deref(), Some("444455556666"));
}
