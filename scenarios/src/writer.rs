//! The estate, the identities at work in it, and how each call becomes a CloudTrail record.

use super::*;

pub(crate) struct Secret {
    pub(crate) arn: String,
    pub(crate) name: String,
    pub(crate) region: &'static str,
}

impl Secret {
    pub(crate) fn new(name: &str) -> Secret {
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

    pub(crate) fn held(&self, created_at: DateTime<Utc>) -> Held {
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
    pub(crate) fn replica(&self, region: &'static str) -> Secret {
        Secret {
            arn: self.arn.replacen(REGION, region, 1),
            name: self.name.clone(),
            region,
        }
    }
}

pub(crate) struct Estate {
    /// Per application: its database secret and its API key.
    pub(crate) apps: Vec<(Secret, Secret)>,
    pub(crate) partner_feed: Secret,
    pub(crate) legacy: Vec<Secret>,
    /// The payments database's replica in the second region.
    pub(crate) payments_replica: Secret,
    /// A relay's password nothing has read since its service was replaced.
    pub(crate) forgotten: Secret,
}

impl Estate {
    pub(crate) fn new() -> Estate {
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

    pub(crate) fn secrets(&self) -> impl Iterator<Item = &Secret> {
        self.apps
            .iter()
            .flat_map(|(db, key)| [db, key])
            .chain([&self.partner_feed, &self.payments_replica, &self.forgotten])
            .chain(&self.legacy)
    }

    pub(crate) fn app(&self, name: &str) -> &(Secret, Secret) {
        let index = APPS
            .iter()
            .position(|(app, ..)| *app == name)
            .expect("a known application");
        &self.apps[index]
    }
}

#[derive(Clone)]
pub(crate) enum Identity {
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
    pub(crate) fn role(role: &str, session: &str) -> Identity {
        Identity::Role {
            account: ACCOUNT,
            role: role.to_string(),
            session: session.to_string(),
        }
    }

    /// The principal as Trailkeeper names it.
    pub(crate) fn principal(&self) -> Option<String> {
        match self {
            Identity::Role { account, role, .. } => {
                Some(format!("arn:aws:iam::{account}:role/{role}"))
            }
            Identity::User(name) => Some(format!("arn:aws:iam::{ACCOUNT}:user/{name}")),
            Identity::Root => Some(format!("arn:aws:iam::{ACCOUNT}:root")),
            Identity::Service => None,
        }
    }

    pub(crate) fn json(&self) -> Value {
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
pub(crate) struct Call<'a> {
    pub(crate) at: DateTime<Utc>,
    pub(crate) name: &'a str,
    pub(crate) who: &'a Identity,
    pub(crate) from: &'a str,
    pub(crate) agent: &'a str,
    pub(crate) secret: Option<&'a Secret>,
    pub(crate) request: Option<Value>,
    pub(crate) error: Option<(&'a str, String)>,
}

pub(crate) struct Writer {
    pub(crate) rng: StdRng,
    pub(crate) hours: BTreeMap<DateTime<Utc>, Vec<Value>>,
    /// Whether the calls written now belong to an incident.
    pub(crate) injecting: bool,
    pub(crate) injected: HashSet<String>,
    /// The secrets the month's calls created, and those they deleted.
    pub(crate) created: Vec<Held>,
    pub(crate) deleted: HashSet<String>,
    /// By secret ARN: its last successful read and rotation, and a failed rotation's version.
    pub(crate) last_read: HashMap<String, DateTime<Utc>>,
    pub(crate) last_rotated: HashMap<String, DateTime<Utc>>,
    pub(crate) pending: HashMap<String, (String, DateTime<Utc>)>,
}

impl Writer {
    pub(crate) fn new(seed: u64) -> Writer {
        Writer {
            rng: StdRng::seed_from_u64(seed),
            hours: BTreeMap::new(),
            injecting: false,
            injected: HashSet::new(),
            created: Vec::new(),
            deleted: HashSet::new(),
            last_read: HashMap::new(),
            last_rotated: HashMap::new(),
            pending: HashMap::new(),
        }
    }

    pub(crate) fn id(&mut self) -> String {
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

    pub(crate) fn write(&mut self, call: Call) {
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

    pub(crate) fn read(
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

    /// `who` listing the account's secrets.
    pub(crate) fn list(&mut self, at: DateTime<Utc>, who: &Identity, from: &str, agent: &str) {
        self.write(Call {
            at,
            name: "ListSecrets",
            who,
            from,
            agent,
            secret: None,
            request: Some(json!({})),
            error: None,
        });
    }

    /// Secrets Manager's own event `name` about `secret` (a rotation's start and end), with
    /// the message of a failure.
    pub(crate) fn service_event(
        &mut self,
        at: DateTime<Utc>,
        name: &str,
        secret: &Secret,
        failure: Option<String>,
    ) {
        self.write(Call {
            at,
            name,
            who: &Identity::Service,
            from: "secretsmanager.amazonaws.com",
            agent: "secretsmanager.amazonaws.com",
            secret: Some(secret),
            request: None,
            error: failure.map(|message| ("", message)),
        });
    }
}

/// The service a call is to: CloudTrail for the trail changes, else Secrets Manager.
pub(crate) fn service(call: &str) -> &'static str {
    match call {
        "CreateTrail" | "DeleteTrail" | "StartLogging" | "StopLogging" | "UpdateTrail"
        | "PutEventSelectors" => "cloudtrail.amazonaws.com",
        _ => "secretsmanager.amazonaws.com",
    }
}
