//! A month of Secrets Manager CloudTrail for one account, for detection's tests and
//! benchmarks: the benign life of an estate — workloads reading their secrets on daily
//! rhythms from autoscaled sessions, a nightly job, a weekly batch job, rotation Lambdas,
//! people at work on weekdays, a partner account, the odd refused read, the platform team's
//! infrastructure-as-code re-applying the audit trail's settings, a standby in a second
//! region — with labelled incidents on top, at least one for every kind of finding: in its
//! events, and in the account as the month leaves it (rotations, reads, grants, trails). The
//! same seed gives the same month, event IDs included.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, Duration, DurationRound, TimeZone, Utc, Weekday};
use flate2::Compression;
use flate2::write::GzEncoder;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

mod account;
mod benign;
mod incidents;
mod writer;

use account::account;
use benign::{alice, benign, rotation, terraform, terraform_apply};
use incidents::{incidents, label};
use writer::{Call, Estate, Identity, Secret, Writer};

pub const ACCOUNT: &str = "111122223333";
pub const REGION: &str = "us-east-1";
pub const DAYS: i64 = 30;
const PARTNER: &str = "444455556666";
const STRANGER: &str = "999988887777";

const JAVA: &str = "aws-sdk-java/2.25.11 Linux/5.10.210 OpenJDK_64-Bit_Server_VM/17.0.10+7-LTS";
const GO: &str = "aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 api/secretsmanager#1.32.3";
const PYTHON: &str = "Boto3/1.34.144 md/Botocore#1.34.144 ua/2.0 os/linux#5.10 lang/python#3.12.4";
const CLI: &str = "aws-cli/2.17.12 md/awscrt#0.20.11 ua/2.0 os/macos#23.5.0 lang/python#3.11.9";
const CONSOLE: &str = "AWS Internal";

/// Each application: its reads per hour at the busiest, its client, and whether a rotation
/// Lambda rotates its database secret weekly.
const APPS: [(&str, u32, &str, bool); 12] = [
    ("payments", 24, JAVA, true),
    ("checkout", 30, JAVA, false),
    ("ledger", 16, JAVA, true),
    ("billing", 12, JAVA, true),
    ("search", 20, GO, true),
    ("catalog", 18, GO, false),
    ("orders", 22, GO, true),
    ("shipping", 10, PYTHON, false),
    ("identity", 26, GO, true),
    ("reports", 6, PYTHON, false),
    ("inventory", 14, PYTHON, false),
    ("notify", 8, PYTHON, false),
];
/// Secrets nobody reads day to day, which a bulk retrieval sweeps up.
const LEGACY: usize = 16;

/// A second region: the payments database's replica, read by a standby there.
const DR_REGION: &str = "eu-west-1";
/// The multi-region audit trail, which the incidents stop and narrow.
const ORG_TRAIL: &str = "org-audit";

/// An incident the detectors should find: what kind of finding, about whom and which
/// secret (none for findings about a principal's behaviour across secrets), and for a
/// finding about neither, what it is about: a trail's ARN, an account × region.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    pub scenario: &'static str,
    pub kind: &'static str,
    pub principal: Option<String>,
    pub secret_arn: Option<String>,
    pub subject: Option<String>,
}

impl Label {
    /// Whether a stored finding — its kind, principal, subject and secrets (several for an
    /// incident, none for a finding about no secret) — finds this incident.
    pub fn found_by(
        &self,
        kind: &str,
        principal: Option<&str>,
        subject: Option<&str>,
        secrets: &[String],
    ) -> bool {
        self.kind == kind
            && self.principal.as_deref() == principal
            && self
                .subject
                .as_deref()
                .is_none_or(|wanted| subject == Some(wanted))
            && match &self.secret_arn {
                None => secrets.is_empty(),
                Some(secret) => secrets.contains(secret),
            }
    }
}

/// The account as its APIs describe it at the month's end — the secrets it holds (their
/// rotations and last reads; without resource policies, on Secrets Manager's own key), the
/// roles whose policies let them read, its trails — and the incidents only that shows, which
/// no event does: found by the conditions judged after a sync.
pub struct Account {
    pub secrets: Vec<Held>,
    pub roles: Vec<Role>,
    pub trails: Vec<Trail>,
    pub labels: Vec<Label>,
}

/// A secret the account holds at the month's end, as Secrets Manager describes it.
#[derive(Clone, Debug)]
pub struct Held {
    pub arn: String,
    pub name: String,
    pub region: &'static str,
    pub created_at: DateTime<Utc>,
    /// Rotation switched on, every so many days.
    pub rotation_days: Option<i64>,
    pub last_rotated_at: Option<DateTime<Utc>>,
    pub last_accessed_at: Option<DateTime<Utc>>,
    /// A version left holding `AWSPENDING` (not `AWSCURRENT`) by a rotation that failed, and
    /// since when.
    pub pending: Option<(String, DateTime<Utc>)>,
}

/// An IAM role with one inline policy (a document as IAM takes it).
pub struct Role {
    pub name: String,
    pub policy: Value,
}

/// A trail as it stands at the month's end.
pub struct Trail {
    pub name: &'static str,
    pub home_region: &'static str,
    pub multi_region: bool,
    pub logging: bool,
    /// Whether its selectors take in management reads (`All`), or only changes.
    pub records_reads: bool,
}

/// The month: its records by hour (each hour one trail file per region), the incidents in
/// it, and its account as it stands at the end.
pub struct Month {
    pub start: DateTime<Utc>,
    pub hours: BTreeMap<DateTime<Utc>, Vec<Value>>,
    pub labels: Vec<Label>,
    pub account: Account,
    /// The event IDs of the incidents' events: a finding with none of them among its
    /// evidence is a false one.
    pub injected: HashSet<String>,
}

impl Month {
    /// The month starting on the Monday at or before `around` (00:00 UTC).
    pub fn generate(around: DateTime<Utc>, seed: u64) -> Month {
        let monday = around.date_naive()
            - Duration::days(i64::from(around.weekday().num_days_from_monday()));
        let start = Utc.from_utc_datetime(&monday.and_hms_opt(0, 0, 0).expect("midnight"));
        let mut writer = Writer::new(seed);
        let estate = Estate::new();
        benign(&mut writer, &estate, start);
        let labels = incidents(&mut writer, &estate, start);
        let account = account(&writer, &estate, start);
        for records in writer.hours.values_mut() {
            records.sort_by(|a, b| a["eventTime"].as_str().cmp(&b["eventTime"].as_str()));
        }
        Month {
            start,
            hours: writer.hours,
            labels,
            account,
            injected: writer.injected,
        }
    }

    /// When it ends: conditions are judged as of then.
    pub fn end(&self) -> DateTime<Utc> {
        self.start + Duration::days(DAYS)
    }

    pub fn events(&self) -> usize {
        self.hours.values().map(Vec::len).sum()
    }

    /// Writes one gzip trail file per hour and region under `dir`, named and laid out as
    /// CloudTrail does, and returns their paths in time order.
    pub fn write(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        let mut paths = Vec::with_capacity(self.hours.len());
        for (hour, records) in &self.hours {
            let mut by_region: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
            for record in records {
                let region = record["awsRegion"].as_str().unwrap_or(REGION);
                by_region.entry(region).or_default().push(record);
            }
            for (region, records) in by_region {
                let folder = dir.join(format!(
                    "AWSLogs/{ACCOUNT}/CloudTrail/{region}/{}",
                    hour.format("%Y/%m/%d")
                ));
                std::fs::create_dir_all(&folder)?;
                let path = folder.join(format!(
                    "{ACCOUNT}_CloudTrail_{region}_{}_scenario.json.gz",
                    hour.format("%Y%m%dT%H%MZ")
                ));
                let mut gz = GzEncoder::new(std::fs::File::create(&path)?, Compression::fast());
                serde_json::to_writer(&mut gz, &json!({ "Records": records }))?;
                gz.finish()?.flush()?;
                paths.push(path);
            }
        }
        Ok(paths)
    }
}

/// When Bob stops the multi-region audit trail (an incident): the second region's reads go
/// unlogged from then on.
fn org_trail_stops(start: DateTime<Utc>) -> DateTime<Utc> {
    start + Duration::days(28) + Duration::hours(23) + Duration::minutes(50)
}

fn trail_arn(name: &str) -> String {
    format!("arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/{name}")
}
