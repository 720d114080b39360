//! What admins set up: channels (with their secrets sealed) and routing rules. Every change
//! is checked before it is saved (a channel that cannot work is refused by name) and recorded
//! in the audit log without its secrets.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::PgPool;
use trailkeeper_app::api::alerts::{
    AlertRule, Channel, ChannelChange, ChannelCreated, ChannelKind, NewAlertRule, NewChannel,
};
use trailkeeper_app::api::findings::{FindingKind, Severity};

use super::channels::{self, Senders};
use super::sealing::{KeyError, SealingKey};
use crate::audit::{Action, Entry};
use crate::auth::secret;
use crate::findings::triage::Actor;
use trailkeeper_app::AppError;
use trailkeeper_app::error::ResultExt;

/// The unique constraint on channel names (migration 0015).
const CHANNEL_NAME_TAKEN: &str = "alert_channels_name_key";
const MAX_NAME: usize = 100;
const MAX_PATTERN: usize = 500;

struct ChannelRow {
    id: i64,
    kind: String,
    name: String,
    config: Value,
    sealed: Option<String>,
    secret_fields: Vec<String>,
    enabled: bool,
    created_by: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// What channel `id`'s sealed secrets are bound to: they open for that channel only.
fn sealing_context(id: i64) -> String {
    format!("alert channel {id}")
}

impl ChannelRow {
    fn kind(&self) -> ChannelKind {
        ChannelKind::parse(&self.kind).unwrap_or(ChannelKind::Webhook)
    }

    fn secrets(&self, key: &SealingKey) -> Result<Value, KeyError> {
        match &self.sealed {
            None => Ok(json!({})),
            Some(sealed) => {
                let opened = key.open(&sealing_context(self.id), sealed)?;
                serde_json::from_slice(&opened).map_err(|_| KeyError::WrongKey)
            }
        }
    }

    fn shown(self) -> Channel {
        Channel {
            id: self.id,
            kind: self.kind(),
            name: self.name,
            config: self.config,
            secret_fields: self.secret_fields,
            enabled: self.enabled,
            created_by: self.created_by,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// A channel ready to send, with its secrets.
pub struct Openable {
    pub kind: ChannelKind,
    pub name: String,
    pub enabled: bool,
    pub config: Value,
}

fn channel_name(name: &str) -> Result<String, AppError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(AppError::invalid(format!(
            "a channel needs a name of 1 to {MAX_NAME} characters"
        )));
    }
    Ok(name.to_string())
}

pub async fn list_channels(pool: &PgPool) -> Result<Vec<Channel>, sqlx::Error> {
    let rows = sqlx::query_as!(
        ChannelRow,
        "SELECT id, kind, name, config, sealed, secret_fields, enabled, created_by, created_at, \
                updated_at \
         FROM alert_channels ORDER BY name"
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(ChannelRow::shown).collect())
}

async fn channel_row(executor: impl sqlx::PgExecutor<'_>, id: i64) -> Result<ChannelRow, AppError> {
    sqlx::query_as!(
        ChannelRow,
        "SELECT id, kind, name, config, sealed, secret_fields, enabled, created_by, created_at, \
                updated_at \
         FROM alert_channels WHERE id = $1",
        id
    )
    .fetch_optional(executor)
    .await?
    .ok_or_else(|| AppError::NotFound(format!("there is no alert channel {id}")))
}

pub async fn channel(pool: &PgPool, id: i64) -> Result<Channel, AppError> {
    Ok(channel_row(pool, id).await?.shown())
}

/// Channel `id` with its secrets opened, for sending.
pub async fn openable(pool: &PgPool, key: &SealingKey, id: i64) -> Result<Openable, AppError> {
    let row = channel_row(pool, id).await?;
    let secrets = row.secrets(key)?;
    Ok(Openable {
        kind: row.kind(),
        config: channels::join_secrets(&row.config, &secrets),
        name: row.name,
        enabled: row.enabled,
    })
}

/// Checks full settings, and splits them into what is shown and the secrets to seal.
fn checked(
    kind: ChannelKind,
    config: &Value,
    senders: &Senders,
) -> Result<(Value, Value), AppError> {
    channels::open(kind, config, senders).map_err(|error| AppError::invalid(error.0))?;
    channels::split_secrets(kind, config).map_err(|error| AppError::invalid(error.0))
}

async fn save_secrets(
    tx: &mut sqlx::PgConnection,
    key: &SealingKey,
    id: i64,
    secrets: &Value,
) -> Result<(), sqlx::Error> {
    let names: Vec<String> = secrets
        .as_object()
        .map(|fields| fields.keys().cloned().collect())
        .unwrap_or_default();
    let sealed =
        (!names.is_empty()).then(|| key.seal(&sealing_context(id), secrets.to_string().as_bytes()));
    sqlx::query!(
        "UPDATE alert_channels SET sealed = $2, secret_fields = $3 WHERE id = $1",
        id,
        sealed,
        &names
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Adds a channel; with a minimum severity, also the rule sending every finding at or above
/// it there. A webhook given no signing key gets one, returned this once.
pub async fn add_channel(
    pool: &PgPool,
    key: &SealingKey,
    senders: &Senders,
    actor: &Actor<'_>,
    new: NewChannel,
) -> Result<ChannelCreated, AppError> {
    let name = channel_name(&new.name)?;
    let mut config = new.config;
    let mut made_key = None;
    if new.kind == ChannelKind::Webhook
        && let Some(fields) = config.as_object_mut()
        && !fields.contains_key("signing_key")
    {
        let (signing_key, _) = secret::generate("whsec_");
        fields.insert("signing_key".into(), Value::String(signing_key.clone()));
        made_key = Some(signing_key);
    }
    let (shown, secrets) = checked(new.kind, &config, senders)?;
    let mut tx = pool.begin().await?;
    let id: i64 = sqlx::query_scalar!(
        "INSERT INTO alert_channels (kind, name, config, created_by) VALUES ($1, $2, $3, $4) \
         RETURNING id",
        new.kind.as_str(),
        name,
        shown,
        actor.name
    )
    .fetch_one(&mut *tx)
    .await
    .on_constraint(CHANNEL_NAME_TAKEN, || {
        AppError::Conflict(format!("there is already a channel named {name:?}"))
    })?;
    save_secrets(&mut tx, key, id, &secrets).await?;
    Entry::new(
        actor.name,
        Action::AlertChannelAdded,
        format!("added the {} alert channel {name:?}", new.kind.as_str()),
    )
    .detail(json!({ "channel_id": id, "kind": new.kind, "config": shown,
                    "secret_fields": secrets.as_object().map(|f| f.keys().collect::<Vec<_>>()) }))
    .from_address(actor.address)
    .record(&mut *tx)
    .await?;
    let rule_id = match new.min_severity {
        Some(min_severity) => Some(
            insert_rule(
                &mut tx,
                actor,
                &NewAlertRule {
                    min_severity,
                    kinds: Vec::new(),
                    secret_pattern: None,
                    secret_tag: None,
                    principal_pattern: None,
                    channel_ids: vec![id],
                    digest_minutes: None,
                },
            )
            .await?,
        ),
        None => None,
    };
    let channel = channel_row(&mut *tx, id).await?.shown();
    tx.commit().await?;
    Ok(ChannelCreated {
        channel,
        rule_id,
        signing_key: made_key,
    })
}

/// Renames, reconfigures, disables or enables a channel. Secret settings left out of a new
/// config keep their saved values.
pub async fn change_channel(
    pool: &PgPool,
    key: &SealingKey,
    senders: &Senders,
    actor: &Actor<'_>,
    id: i64,
    change: ChannelChange,
) -> Result<Channel, AppError> {
    let mut tx = pool.begin().await?;
    let row = channel_row(&mut *tx, id).await?;
    let kind = row.kind();
    let name = match &change.name {
        Some(name) => channel_name(name)?,
        None => row.name.clone(),
    };
    let mut changed = Vec::new();
    if name != row.name {
        changed.push(format!("renamed to {name:?}"));
    }
    let mut destination = None;
    if let Some(config) = &change.config {
        let (_, given_secrets) =
            channels::split_secrets(kind, config).map_err(|e| AppError::invalid(e.0))?;
        let saved_secrets = row.secrets(key)?;
        let kept = channels::join_secrets(&saved_secrets, &given_secrets);
        let full = channels::join_secrets(config, &kept);
        let (shown, secrets) = checked(kind, &full, senders)?;
        let before =
            channels::destination(kind, &channels::join_secrets(&row.config, &saved_secrets));
        let after = channels::destination(kind, &full);
        if before != after {
            // Saved secrets were meant for the old destination: sending them to a new one
            // takes someone who knows them, not just someone who may change settings.
            let not_given: Vec<&str> = saved_secrets
                .as_object()
                .map(|saved| {
                    saved
                        .keys()
                        .map(String::as_str)
                        .filter(|name| given_secrets.get(name).is_none())
                        .collect()
                })
                .unwrap_or_default();
            if !not_given.is_empty() {
                return Err(AppError::invalid(format!(
                    "the channel's destination changes from {before} to {after}: give its \
                     saved secret settings again ({}) with the change, or they would be sent \
                     to the new destination",
                    not_given.join(", ")
                )));
            }
            changed.push(format!("destination changed from {before} to {after}"));
            destination = Some(json!({ "from": before, "to": after }));
        }
        sqlx::query!(
            "UPDATE alert_channels SET config = $2 WHERE id = $1",
            id,
            shown
        )
        .execute(&mut *tx)
        .await?;
        save_secrets(&mut tx, key, id, &secrets).await?;
        changed.push("settings changed".to_string());
    }
    if let Some(enabled) = change.enabled
        && enabled != row.enabled
    {
        changed.push(if enabled { "enabled" } else { "disabled" }.to_string());
    }
    sqlx::query!(
        "UPDATE alert_channels SET name = $2, enabled = $3, updated_at = now() WHERE id = $1",
        id,
        name,
        change.enabled.unwrap_or(row.enabled)
    )
    .execute(&mut *tx)
    .await
    .on_constraint(CHANNEL_NAME_TAKEN, || {
        AppError::Conflict(format!("there is already a channel named {name:?}"))
    })?;
    if !changed.is_empty() {
        Entry::new(
            actor.name,
            Action::AlertChannelChanged,
            format!("alert channel {:?}: {}", row.name, changed.join(", ")),
        )
        .detail(json!({ "channel_id": id, "changes": changed, "destination": destination }))
        .from_address(actor.address)
        .record(&mut *tx)
        .await?;
    }
    let channel = channel_row(&mut *tx, id).await?.shown();
    tx.commit().await?;
    Ok(channel)
}

/// Removes a channel, its deliveries, and it from every rule.
pub async fn remove_channel(pool: &PgPool, actor: &Actor<'_>, id: i64) -> Result<(), AppError> {
    let mut tx = pool.begin().await?;
    let name: String = sqlx::query_scalar!(
        "DELETE FROM alert_channels WHERE id = $1 RETURNING name",
        id
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| AppError::NotFound(format!("there is no alert channel {id}")))?;
    // A rule left with no channel would route to nowhere.
    sqlx::query!(
        "DELETE FROM alert_rules r WHERE NOT EXISTS \
             (SELECT 1 FROM alert_rule_channels c WHERE c.rule_id = r.id)"
    )
    .execute(&mut *tx)
    .await?;
    Entry::new(
        actor.name,
        Action::AlertChannelRemoved,
        format!("removed the alert channel {name:?}"),
    )
    .detail(json!({ "channel_id": id }))
    .from_address(actor.address)
    .record(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

struct RuleRow {
    id: i64,
    min_severity: String,
    kinds: Vec<String>,
    secret_pattern: Option<String>,
    secret_tag: Option<String>,
    principal_pattern: Option<String>,
    channel_ids: Vec<i64>,
    digest_minutes: Option<i32>,
    enabled: bool,
    created_by: String,
    created_at: DateTime<Utc>,
}

pub async fn list_rules(pool: &PgPool) -> Result<Vec<AlertRule>, sqlx::Error> {
    let rows: Vec<RuleRow> = sqlx::query_as!(
        RuleRow,
        r#"SELECT r.id, r.min_severity, r.kinds, r.secret_pattern, r.secret_tag,
                r.principal_pattern, r.digest_minutes, r.enabled, r.created_by, r.created_at,
                ARRAY(SELECT channel_id FROM alert_rule_channels c WHERE c.rule_id = r.id
                      ORDER BY channel_id) AS "channel_ids!"
         FROM alert_rules r ORDER BY r.id"#
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| AlertRule {
            id: row.id,
            min_severity: Severity::parse(&row.min_severity).unwrap_or(Severity::Info),
            kinds: row
                .kinds
                .iter()
                .filter_map(|kind| FindingKind::parse(kind))
                .collect(),
            secret_pattern: row.secret_pattern,
            secret_tag: row.secret_tag,
            principal_pattern: row.principal_pattern,
            channel_ids: row.channel_ids,
            digest_minutes: row.digest_minutes,
            enabled: row.enabled,
            created_by: row.created_by,
            created_at: row.created_at,
        })
        .collect())
}

fn pattern(what: &str, value: Option<&str>) -> Result<Option<String>, AppError> {
    match value.map(str::trim).filter(|value| !value.is_empty()) {
        Some(value) if value.chars().count() > MAX_PATTERN => Err(AppError::invalid(format!(
            "the {what} is longer than {MAX_PATTERN} characters"
        ))),
        other => Ok(other.map(String::from)),
    }
}

async fn insert_rule(
    tx: &mut sqlx::PgConnection,
    actor: &Actor<'_>,
    rule: &NewAlertRule,
) -> Result<i64, AppError> {
    if rule.channel_ids.is_empty() {
        return Err(AppError::invalid(
            "a rule needs at least one channel to send to",
        ));
    }
    if let Some(minutes) = rule.digest_minutes
        && !(1..=10_080).contains(&minutes)
    {
        return Err(AppError::invalid(
            "digest_minutes must be between 1 and 10080 (a week)",
        ));
    }
    let secret_pattern = pattern("secret pattern", rule.secret_pattern.as_deref())?;
    let secret_tag = pattern("secret tag", rule.secret_tag.as_deref())?;
    let principal_pattern = pattern("principal pattern", rule.principal_pattern.as_deref())?;
    let known: Vec<i64> = sqlx::query_scalar!(
        "SELECT id FROM alert_channels WHERE id = ANY($1) ORDER BY id",
        &rule.channel_ids
    )
    .fetch_all(&mut *tx)
    .await?;
    if let Some(missing) = rule.channel_ids.iter().find(|id| !known.contains(id)) {
        return Err(AppError::invalid(format!(
            "there is no alert channel {missing}"
        )));
    }
    let kinds: Vec<&str> = rule.kinds.iter().map(|kind| kind.as_str()).collect();
    let id: i64 = sqlx::query_scalar!(
        "INSERT INTO alert_rules (min_severity, kinds, secret_pattern, secret_tag, \
             principal_pattern, digest_minutes, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        rule.min_severity.as_str(),
        &kinds as &[&str],
        secret_pattern,
        secret_tag,
        principal_pattern,
        rule.digest_minutes,
        actor.name
    )
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query!(
        "INSERT INTO alert_rule_channels (rule_id, channel_id) \
         SELECT $1, unnest($2::bigint[]) ON CONFLICT DO NOTHING",
        id,
        &known
    )
    .execute(&mut *tx)
    .await?;
    let when = match rule.digest_minutes {
        Some(minutes) => format!("as a digest every {minutes} minutes"),
        None => "at once".to_string(),
    };
    Entry::new(
        actor.name,
        Action::AlertRuleAdded,
        format!(
            "alert rule {id}: findings at or above {} go to channels {known:?} {when}",
            rule.min_severity.as_str()
        ),
    )
    .detail(
        json!({ "rule_id": id, "min_severity": rule.min_severity, "kinds": kinds,
                    "secret_pattern": secret_pattern, "secret_tag": secret_tag,
                    "principal_pattern": principal_pattern, "channel_ids": known,
                    "digest_minutes": rule.digest_minutes }),
    )
    .from_address(actor.address)
    .record(&mut *tx)
    .await?;
    Ok(id)
}

pub async fn add_rule(
    pool: &PgPool,
    actor: &Actor<'_>,
    rule: NewAlertRule,
) -> Result<i64, AppError> {
    let mut tx = pool.begin().await?;
    let id = insert_rule(&mut tx, actor, &rule).await?;
    tx.commit().await?;
    Ok(id)
}

pub async fn remove_rule(pool: &PgPool, actor: &Actor<'_>, id: i64) -> Result<(), AppError> {
    let mut tx = pool.begin().await?;
    sqlx::query!("DELETE FROM alert_rules WHERE id = $1", id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
        .eq(&1)
        .then_some(())
        .ok_or_else(|| AppError::NotFound(format!("there is no alert rule {id}")))?;
    Entry::new(
        actor.name,
        Action::AlertRuleRemoved,
        format!("removed alert rule {id}"),
    )
    .detail(json!({ "rule_id": id }))
    .from_address(actor.address)
    .record(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
