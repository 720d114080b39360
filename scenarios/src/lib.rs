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
        let mut writer = Writer {
            rng: StdRng::seed_from_u64(seed),
            hours: BTreeMap::new(),
            injecting: false,
            injected: HashSet::new(),
            created: Vec::new(),
            deleted: HashSet::new(),
            last_read: HashMap::new(),
            last_rotated: HashMap::new(),
            pending: HashMap::new(),
        };
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

struct Secret {
    arn: String,
    name: String,
    region: &'static str,
}

impl Secret {
    fn new(name: &str) -> Secret {
        // A stable 6-character suffix, as AWS appends to every secret's ARN.
        let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3)
        });
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let suffix: String = (0..6)
            .map(|i| alphabet[((hash >> (i * 8)) % alphabet.len() as u64) as usize] as char)
            .collect();
        Secret {
            arn: format!("arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}-{suffix}"),
            name: name.to_string(),
            region: REGION,
        }
    }

    fn held(&self, created_at: DateTime<Utc>) -> Held {
        Held {
            arn: self.arn.clone(),
            name: self.name.clone(),
            region: self.region,
            created_at,
            rotation_days: None,
            last_rotated_at: None,
            last_accessed_at: None,
            pending: None,
        }
    }

    /// Its replica in `region`: the same name and suffix, as Secrets Manager replicates.
    fn replica(&self, region: &'static str) -> Secret {
        Secret {
            arn: self.arn.replacen(REGION, region, 1),
            name: self.name.clone(),
            region,
        }
    }
}

struct Estate {
    /// Per application: its database secret and its API key.
    apps: Vec<(Secret, Secret)>,
    partner_feed: Secret,
    legacy: Vec<Secret>,
    /// The payments database's replica in the second region.
    payments_replica: Secret,
    /// A relay's password nothing has read since its service was replaced.
    forgotten: Secret,
}

impl Estate {
    fn new() -> Estate {
        Estate {
            apps: APPS
                .iter()
                .map(|(app, ..)| {
                    (
                        Secret::new(&format!("prod/{app}/db")),
                        Secret::new(&format!("prod/{app}/api-key")),
                    )
                })
                .collect(),
            partner_feed: Secret::new("prod/shared/partner-feed"),
            legacy: (0..LEGACY)
                .map(|n| Secret::new(&format!("prod/legacy/token-{n:02}")))
                .collect(),
            payments_replica: Secret::new("prod/payments/db").replica(DR_REGION),
            forgotten: Secret::new("prod/shared/smtp-relay"),
        }
    }

    fn secrets(&self) -> impl Iterator<Item = &Secret> {
        self.apps
            .iter()
            .flat_map(|(db, key)| [db, key])
            .chain([&self.partner_feed, &self.payments_replica, &self.forgotten])
            .chain(&self.legacy)
    }

    fn app(&self, name: &str) -> &(Secret, Secret) {
        let index = APPS
            .iter()
            .position(|(app, ..)| *app == name)
            .expect("a known application");
        &self.apps[index]
    }
}

#[derive(Clone)]
enum Identity {
    Role {
        account: &'static str,
        role: String,
        session: String,
    },
    User(&'static str),
    Root,
    Service,
}

impl Identity {
    fn role(role: &str, session: &str) -> Identity {
        Identity::Role {
            account: ACCOUNT,
            role: role.to_string(),
            session: session.to_string(),
        }
    }

    /// The principal as Trailkeeper names it.
    fn principal(&self) -> Option<String> {
        match self {
            Identity::Role { account, role, .. } => {
                Some(format!("arn:aws:iam::{account}:role/{role}"))
            }
            Identity::User(name) => Some(format!("arn:aws:iam::{ACCOUNT}:user/{name}")),
            Identity::Root => Some(format!("arn:aws:iam::{ACCOUNT}:root")),
            Identity::Service => None,
        }
    }

    fn json(&self) -> Value {
        match self {
            Identity::Role {
                account,
                role,
                session,
            } => json!({
                "type": "AssumedRole",
                "principalId": format!("AROA{}:{session}", role.len()),
                "arn": format!("arn:aws:sts::{account}:assumed-role/{role}/{session}"),
                "accountId": account,
                "accessKeyId": "ASIASCENARIO0000",
                "sessionContext": {
                    "sessionIssuer": { "type": "Role", "principalId": "AROASCENARIO", "userName": role,
                                       "arn": format!("arn:aws:iam::{account}:role/{role}"),
                                       "accountId": account },
                    "attributes": { "creationDate": "2026-01-01T00:00:00Z", "mfaAuthenticated": "false" }
                }
            }),
            Identity::User(name) => json!({
                "type": "IAMUser", "principalId": format!("AIDA{}", name.to_uppercase()),
                "arn": format!("arn:aws:iam::{ACCOUNT}:user/{name}"), "accountId": ACCOUNT,
                "userName": name, "accessKeyId": format!("AKIA{}", name.to_uppercase())
            }),
            Identity::Root => json!({
                "type": "Root", "principalId": ACCOUNT,
                "arn": format!("arn:aws:iam::{ACCOUNT}:root"), "accountId": ACCOUNT
            }),
            Identity::Service => {
                json!({ "accountId": ACCOUNT, "invokedBy": "secretsmanager.amazonaws.com" })
            }
        }
    }
}

/// One call, before it becomes a record.
struct Call<'a> {
    at: DateTime<Utc>,
    name: &'a str,
    who: &'a Identity,
    from: &'a str,
    agent: &'a str,
    secret: Option<&'a Secret>,
    request: Option<Value>,
    error: Option<(&'a str, String)>,
}

struct Writer {
    rng: StdRng,
    hours: BTreeMap<DateTime<Utc>, Vec<Value>>,
    /// Whether the calls written now belong to an incident.
    injecting: bool,
    injected: HashSet<String>,
    /// The secrets the month's calls created, and those they deleted.
    created: Vec<Held>,
    deleted: HashSet<String>,
    /// By secret ARN: its last successful read and rotation, and a failed rotation's version.
    last_read: HashMap<String, DateTime<Utc>>,
    last_rotated: HashMap<String, DateTime<Utc>>,
    pending: HashMap<String, (String, DateTime<Utc>)>,
}

impl Writer {
    fn id(&mut self) -> String {
        let bits: u128 = self.rng.random();
        let hex = format!("{bits:032x}");
        format!(
            "{}-{}-{}-{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..]
        )
    }

    fn write(&mut self, call: Call) {
        let event_id = self.id();
        let request_id = self.id();
        let service_event = matches!(call.who, Identity::Service);
        let succeeded = call.error.is_none();
        let mut record = json!({
            "eventVersion": "1.09",
            "userIdentity": call.who.json(),
            "eventTime": call.at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "eventSource": service(call.name),
            "eventName": call.name,
            "awsRegion": call.secret.map_or(REGION, |secret| secret.region),
            "sourceIPAddress": call.from,
            "userAgent": call.agent,
            "requestParameters": call.request.clone().or_else(|| {
                (!service_event).then(|| call.secret.map(|secret| json!({ "secretId": secret.arn }))).flatten()
            }),
            // CreateSecret's response names the new secret by its ARN.
            "responseElements": (call.name == "CreateSecret")
                .then(|| call.secret.map(|secret| json!({ "arn": secret.arn })))
                .flatten(),
            "requestID": request_id,
            "eventID": event_id,
            "readOnly": call.name.starts_with("Get") || call.name.starts_with("Describe")
                || call.name.starts_with("List") || call.name.starts_with("BatchGet"),
            "eventType": if service_event { "AwsServiceEvent" } else { "AwsApiCall" },
            "managementEvent": true,
            "recipientAccountId": ACCOUNT,
            "eventCategory": "Management",
        });
        if service_event && let Some(secret) = call.secret {
            record["additionalEventData"] = json!({ "SecretId": secret.arn });
        }
        if let Some((code, message)) = call.error {
            if !code.is_empty() {
                record["errorCode"] = json!(code);
            }
            record["errorMessage"] = json!(message);
        }
        if self.injecting {
            self.injected.insert(event_id);
        }
        if let Some(secret) = call.secret.filter(|_| succeeded) {
            let latest = |times: &mut HashMap<String, DateTime<Utc>>| {
                let time = times.entry(secret.arn.clone()).or_insert(call.at);
                *time = (*time).max(call.at);
            };
            match call.name {
                "CreateSecret" => self.created.push(secret.held(call.at)),
                "DeleteSecret" => {
                    self.deleted.insert(secret.arn.clone());
                }
                "GetSecretValue" => latest(&mut self.last_read),
                "RotationSucceeded" => latest(&mut self.last_rotated),
                _ => {}
            }
        }
        let hour = call
            .at
            .duration_trunc(Duration::hours(1))
            .expect("a time in range");
        self.hours.entry(hour).or_default().push(record);
    }

    fn read(
        &mut self,
        at: DateTime<Utc>,
        who: &Identity,
        from: &str,
        agent: &str,
        secret: &Secret,
    ) {
        self.write(Call {
            at,
            name: "GetSecretValue",
            who,
            from,
            agent,
            secret: Some(secret),
            request: None,
            error: None,
        });
    }
}

/// The service a call is to: CloudTrail for the trail changes, else Secrets Manager.
fn service(call: &str) -> &'static str {
    match call {
        "CreateTrail" | "DeleteTrail" | "StartLogging" | "StopLogging" | "UpdateTrail"
        | "PutEventSelectors" => "cloudtrail.amazonaws.com",
        _ => "secretsmanager.amazonaws.com",
    }
}

fn benign(writer: &mut Writer, estate: &Estate, start: DateTime<Utc>) {
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

fn terraform() -> Identity {
    Identity::role("platform-deploy", "terraform")
}

/// A weekly infrastructure-as-code run: Terraform creates two dozen new secrets with values,
/// and reads each one back seconds later (its data sources and outputs): reading values it set
/// itself, no sweep and no first-time reader.
fn terraform_apply(writer: &mut Writer, date: DateTime<Utc>, week: i64) {
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
    writer.write(Call {
        at: listed,
        name: "ListSecrets",
        who: &ci,
        from: "10.40.1.8",
        agent: PYTHON,
        secret: None,
        request: Some(json!({})),
        error: None,
    });
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
fn rotation(writer: &mut Writer, secret: &Secret, app: &str, begin: DateTime<Utc>, fails: bool) {
    let function = format!("SecretsManagerRotation-{app}-db");
    let lambda = Identity::role(&format!("{app}-rotation"), &function);
    let service = Identity::Service;
    let token = writer.id();
    writer.write(Call {
        at: begin,
        name: "RotationStarted",
        who: &service,
        from: "secretsmanager.amazonaws.com",
        agent: "secretsmanager.amazonaws.com",
        secret: Some(secret),
        request: None,
        error: None,
    });
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
            writer.write(Call {
                at: at + Duration::seconds(30),
                name: "RotationFailed",
                who: &service,
                from: "secretsmanager.amazonaws.com",
                agent: "secretsmanager.amazonaws.com",
                secret: Some(secret),
                request: None,
                error: Some(("", message)),
            });
            return;
        }
    }
    writer.write(Call {
        at: at + Duration::seconds(2),
        name: "RotationSucceeded",
        who: &service,
        from: "secretsmanager.amazonaws.com",
        agent: "secretsmanager.amazonaws.com",
        secret: Some(secret),
        request: None,
        error: None,
    });
}

fn alice() -> Identity {
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
                    0 => writer.write(Call {
                        at,
                        name: "ListSecrets",
                        who,
                        from,
                        agent,
                        secret: None,
                        request: Some(json!({})),
                        error: None,
                    }),
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

/// When Bob stops the multi-region audit trail (an incident): the second region's reads go
/// unlogged from then on.
fn org_trail_stops(start: DateTime<Utc>) -> DateTime<Utc> {
    start + Duration::days(28) + Duration::hours(23) + Duration::minutes(50)
}

fn trail_arn(name: &str) -> String {
    format!("arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/{name}")
}

/// The account at the month's end, and what it holds that no event shows: the secrets the
/// estate had and the month created, less those it deleted, with their rotations and last
/// reads; a role per workload allowed the secrets it reads, the rotation functions theirs,
/// people's admin role everything (reading two), a reporting role granted the legacy tokens
/// it never reads; the audit trail as the incidents left it (stopped, changes only), and the
/// trail the month's files come from, which records only its own region.
fn account(writer: &Writer, estate: &Estate, start: DateTime<Utc>) -> Account {
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

fn label(
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
fn incidents(writer: &mut Writer, estate: &Estate, start: DateTime<Utc>) -> Vec<Label> {
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
    writer.write(Call {
        at: day(26, 1, 30),
        name: "ListSecrets",
        who: &ci,
        from: "10.40.1.8",
        agent: PYTHON,
        secret: None,
        request: Some(json!({})),
        error: None,
    });
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
