//! A made-up estate and its CloudTrail: secrets in accounts × regions, the roles that read
//! them, and gzip trail files of their events under CloudTrail's key layout.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, Duration, Utc};
use flate2::Compression;
use flate2::write::GzEncoder;
use indicatif::ProgressBar;
use serde_json::{Value, json};
use sqlx::PgPool;

pub struct Estate {
    pub accounts: Vec<String>,
    pub regions: &'static [&'static str],
    /// Secrets in each account × region.
    pub secrets: usize,
    /// Roles in each account, each reading a handful of its account's secrets.
    pub roles: usize,
}

/// Trail files written: one directory per account × region × day.
pub struct Trail {
    pub files: usize,
    pub bytes: u64,
    /// Each day's directories, oldest day first.
    pub days: Vec<Vec<PathBuf>>,
}

impl Trail {
    /// Keeps what was written beside it, for a later run to reuse.
    pub fn write(&self, work: &Path) -> anyhow::Result<()> {
        let mut text = format!("{} {}\n", self.files, self.bytes);
        for (day, dirs) in self.days.iter().enumerate() {
            for dir in dirs {
                text.push_str(&format!("{day}\t{}\n", dir.display()));
            }
        }
        std::fs::write(work.join("trail.tsv"), text)?;
        Ok(())
    }

    /// The trail a previous run wrote under `work`, if it finished.
    pub fn read(work: &Path) -> anyhow::Result<Option<Trail>> {
        let Ok(text) = std::fs::read_to_string(work.join("trail.tsv")) else {
            return Ok(None);
        };
        let mut lines = text.lines();
        let (files, bytes) = lines
            .next()
            .and_then(|line| line.split_once(' '))
            .ok_or_else(|| anyhow::anyhow!("{}: no header", work.display()))?;
        let mut trail = Trail {
            files: files.parse()?,
            bytes: bytes.parse()?,
            days: Vec::new(),
        };
        for line in lines {
            let (day, dir) = line
                .split_once('\t')
                .ok_or_else(|| anyhow::anyhow!("{}: bad line {line}", work.display()))?;
            let day: usize = day.parse()?;
            trail.days.resize(trail.days.len().max(day + 1), Vec::new());
            trail.days[day].push(PathBuf::from(dir));
        }
        Ok(Some(trail))
    }

    /// The day a directory holds, from its `YYYY/MM/DD` ending.
    pub fn day_of(dir: &Path) -> Option<DateTime<Utc>> {
        let parts: Vec<&str> = dir
            .iter()
            .rev()
            .take(3)
            .filter_map(|part| part.to_str())
            .collect();
        let [day, month, year] = parts[..] else {
            return None;
        };
        chrono::NaiveDate::from_ymd_opt(year.parse().ok()?, month.parse().ok()?, day.parse().ok()?)
            .and_then(|date| date.and_hms_opt(0, 0, 0))
            .map(|midnight| midnight.and_utc())
    }
}

impl Estate {
    pub fn secret_name(&self, n: usize) -> String {
        let team = ["payments", "identity", "data", "platform", "search"][n % 5];
        format!("prod/{team}/app-{n:05}/db")
    }

    pub fn secret_arn(&self, account: &str, region: &str, n: usize) -> String {
        format!(
            "arn:aws:secretsmanager:{region}:{account}:secret:{}-{:06}",
            self.secret_name(n),
            n
        )
    }

    pub fn role_arn(&self, account: &str, n: usize) -> String {
        format!("arn:aws:iam::{account}:role/app-{n:04}-task")
    }

    /// The secret most events name: every tenth event of each role reads it.
    pub fn busiest_secret(&self) -> String {
        self.secret_arn(&self.accounts[0], self.regions[0], 0)
    }

    /// Every account × region, in the order trail files are written.
    fn places(&self) -> Vec<(&str, &str)> {
        self.accounts
            .iter()
            .flat_map(|account| {
                self.regions
                    .iter()
                    .map(move |region| (account.as_str(), *region))
            })
            .collect()
    }

    /// The inventory the events name, so the ingest resolves each to its secret, assessed
    /// as a sync leaves it (else an ingest's closing reassessment would write every secret
    /// for the first time, a cost a deployment pays at its sync).
    pub async fn seed_inventory(&self, pool: &PgPool) -> anyhow::Result<()> {
        for (account, region) in self.places() {
            let arns: Vec<String> = (0..self.secrets)
                .map(|n| self.secret_arn(account, region, n))
                .collect();
            let names: Vec<String> = (0..self.secrets).map(|n| self.secret_name(n)).collect();
            sqlx::query(
                "INSERT INTO secrets (arn, name, region, account_id) \
                 SELECT arn, name, $3, $4 FROM unnest($1::text[], $2::text[]) AS s (arn, name)",
            )
            .bind(&arns)
            .bind(&names)
            .bind(region)
            .bind(account)
            .execute(pool)
            .await?;
        }
        trailkeeper::inventory::assess::reassess(
            pool,
            None,
            None,
            Utc::now(),
            trailkeeper::inventory::status::StatusThresholds::default(),
        )
        .await?;
        Ok(())
    }

    /// `events` events over `days` days before `end`, one trail file per account × region
    /// and hour, on as many threads as the machine has cores.
    pub fn write_trail(
        &self,
        root: &Path,
        end: DateTime<Utc>,
        days: usize,
        events: usize,
        progress: &ProgressBar,
    ) -> anyhow::Result<Trail> {
        let start = end - Duration::days(days as i64);
        let places = self.places();
        let files = days * 24 * places.len();
        let mut trail = Trail {
            files,
            bytes: 0,
            days: vec![Vec::new(); days],
        };
        for (day, directories) in trail.days.iter_mut().enumerate() {
            let date = start + Duration::days(day as i64);
            for (account, region) in &places {
                let dir = root.join(format!(
                    "AWSLogs/{account}/CloudTrail/{region}/{:04}/{:02}/{:02}",
                    date.year(),
                    date.month(),
                    date.day()
                ));
                std::fs::create_dir_all(&dir)?;
                directories.push(dir);
            }
        }
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        let written = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|thread| {
                    let trail = &trail;
                    let places = &places;
                    scope.spawn(move || -> anyhow::Result<u64> {
                        let mut bytes = 0;
                        for file in (thread..files).step_by(threads) {
                            let (hour, place) = (file / places.len(), file % places.len());
                            let (account, region) = places[place];
                            let begins = start + Duration::hours(hour as i64);
                            // File k holds events [k·E/F, (k+1)·E/F): E in all, in order.
                            let first = file * events / files;
                            let count = (file + 1) * events / files - first;
                            let records: Vec<Value> = (0..count)
                                .map(|n| {
                                    let offset = (n * 3_600_000 / count.max(1)) as i64;
                                    self.event(
                                        first + n,
                                        account,
                                        region,
                                        begins + Duration::milliseconds(offset),
                                    )
                                })
                                .collect();
                            let path = trail.days[hour / 24][place].join(format!(
                                "{account}_CloudTrail_{region}_{}_{file:06}.json.gz",
                                begins.format("%Y%m%dT%H%MZ")
                            ));
                            write_gzip(&path, &json!({ "Records": records }))?;
                            bytes += std::fs::metadata(&path)?.len();
                            progress.inc(count as u64);
                        }
                        Ok(bytes)
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|worker| worker.join().expect("a trail writer panicked"))
                .sum::<anyhow::Result<u64>>()
        })?;
        trail.bytes = written;
        Ok(trail)
    }

    /// The n-th event: mostly applications' roles reading their secrets, with descriptions,
    /// listings, some refusals and now and then a new value.
    pub fn event(&self, n: usize, account: &str, region: &str, at: DateTime<Utc>) -> Value {
        let role = n % self.roles;
        let secret = if n.is_multiple_of(10) {
            0
        } else {
            (role * 5 + n / self.roles % 5) % self.secrets
        };
        let (name, read_only, error) = match n % 100 {
            0..=87 => ("GetSecretValue", true, None),
            88..=93 => ("DescribeSecret", true, None),
            94..=95 => ("ListSecretVersionIds", true, None),
            96..=97 => ("GetSecretValue", true, Some("AccessDenied")),
            98 => ("PutSecretValue", false, None),
            _ => ("UpdateSecretVersionStage", false, None),
        };
        let arn = self.secret_arn(account, region, secret);
        // Callers name a secret by name, by partial ARN or by full ARN.
        let reference = match n % 3 {
            0 => self.secret_name(secret),
            1 => arn[..arn.len() - 7].to_string(),
            _ => arn.clone(),
        };
        let session = format!("app-{role:04}-{}", n % 7);
        let role_name = format!("app-{role:04}-task");
        json!({
            "eventVersion": "1.09",
            "userIdentity": {
                "type": "AssumedRole",
                "principalId": format!("AROAEXAMPLE{role:06}:{session}"),
                "arn": format!("arn:aws:sts::{account}:assumed-role/{role_name}/{session}"),
                "accountId": account,
                "accessKeyId": format!("ASIAEXAMPLE{:09}", n % 1_000_000_000),
                "sessionContext": {
                    "sessionIssuer": {
                        "type": "Role",
                        "principalId": format!("AROAEXAMPLE{role:06}"),
                        "arn": self.role_arn(account, role),
                        "accountId": account,
                        "userName": role_name
                    },
                    "attributes": {"creationDate": at.to_rfc3339(), "mfaAuthenticated": "false"}
                }
            },
            "eventTime": at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "eventSource": "secretsmanager.amazonaws.com",
            "eventName": name,
            "awsRegion": region,
            "sourceIPAddress": format!("10.{}.{}.{}", role / 250 % 4, role % 250, n % 200 + 10),
            "userAgent": if role.is_multiple_of(3) {
                "aws-sdk-java/2.25.1 Linux/5.10 OpenJDK_64-Bit_Server_VM/17.0.9"
            } else {
                "Boto3/1.34.2 md/Botocore#1.34.2 ua/2.0 os/linux#5.10 lang/python#3.12.1"
            },
            "errorCode": error,
            "errorMessage": error.map(|_| format!(
                "User: arn:aws:sts::{account}:assumed-role/{role_name}/{session} is not authorized to perform: secretsmanager:GetSecretValue"
            )),
            "requestParameters": {"secretId": reference},
            "responseElements": null,
            "requestID": format!("{n:08x}-1111-4111-8111-{n:012x}"),
            "eventID": format!("{n:08x}-2222-4222-8222-{n:012x}"),
            "readOnly": read_only,
            "resources": [{"accountId": account, "type": "AWS::SecretsManager::Secret", "ARN": arn}],
            "eventType": "AwsApiCall",
            "managementEvent": true,
            "recipientAccountId": account,
            "eventCategory": "Management",
            "tlsDetails": {
                "tlsVersion": "TLSv1.3",
                "cipherSuite": "TLS_AES_128_GCM_SHA256",
                "clientProvidedHostHeader": format!("secretsmanager.{region}.amazonaws.com")
            }
        })
    }
}

fn write_gzip(path: &Path, content: &Value) -> anyhow::Result<()> {
    // Buffered in front of the compressor, which is slow on JSON's many tiny writes.
    let mut gzip = std::io::BufWriter::with_capacity(
        1 << 20,
        GzEncoder::new(std::fs::File::create(path)?, Compression::fast()),
    );
    serde_json::to_writer(&mut gzip, content)?;
    gzip.into_inner()
        .map_err(|error| error.into_error())?
        .finish()?
        .flush()?;
    Ok(())
}
