//! Each setting's value checked and typed; a bad one is refused in one line naming the setting
//! as the user gave it (the flag or the environment variable). Single values are typed by
//! clap itself, through the value parsers here; what needs several settings at once is checked
//! after parsing.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::parser::ValueSource;
use clap::{Arg, ArgMatches, Command};
use sqlx::postgres::PgConnectOptions;

use trailkeeper_app::Role;
use trailkeeper_app::api::alerts::ChannelKind;
use trailkeeper_app::api::findings::Severity;
use trailkeeper_app::api::settings::DetectionSettings;
use trailkeeper_app::scope::{Scope, ScopeError};

use super::cli::{GlobalArgs, IngestSource, Interval, ServeArgs};
use super::settings::{LogFormat, TlsFiles};
use crate::auth::oidc::OidcSettings;
use crate::aws::accounts::{OrgMember, RoleArn};
use crate::db::DatabaseSource;
use crate::ingest::sources::s3::S3Url;

/// A setting with a value that cannot work.
#[derive(Debug, thiserror::Error)]
#[error("{setting}: {problem}")]
pub struct ConfigError {
    /// The setting as the user gave it: the environment variable or the flag.
    pub setting: String,
    pub problem: String,
}

/// Names a setting the way the user gave it: the flag if it was on the command line, else
/// the environment variable (which is also where a default can be overridden), both as clap
/// declares them for the argument `id`.
pub(super) fn setting_name(command: &Command, matches: &ArgMatches, id: &str) -> String {
    let arg = declared(command, matches, id);
    let flag = arg.and_then(Arg::get_long).map(|long| format!("--{long}"));
    let env = arg
        .and_then(Arg::get_env)
        .map(|env| env.to_string_lossy().into_owned());
    let mut level = Some(matches);
    while let Some(current) = level {
        if current.try_get_raw(id).is_ok()
            && current.value_source(id) == Some(ValueSource::CommandLine)
        {
            return flag.unwrap_or_else(|| id.to_string());
        }
        level = current.subcommand().map(|(_, sub)| sub);
    }
    env.or(flag).unwrap_or_else(|| id.to_string())
}

/// A value one of the parsers below refused, as a [`ConfigError`] naming the setting as the
/// user gave it: the flag if `args` hold it, else its environment variable. Other errors
/// (usage, `--help`) are clap's to report.
pub(super) fn refused_value(
    command: &Command,
    args: &[std::ffi::OsString],
    error: &clap::Error,
) -> Option<ConfigError> {
    if error.kind() != ErrorKind::ValueValidation {
        return None;
    }
    let Some(ContextValue::String(shown)) = error.get(ContextKind::InvalidArg) else {
        return None;
    };
    let problem = std::error::Error::source(error)?.to_string();
    // Shown as clap shows arguments, which it can only once the command is built.
    let mut command = command.clone();
    command.build();
    let arg = find_arg(&command, &|arg| &arg.to_string() == shown)?;
    let Some(long) = arg.get_long() else {
        // A positional argument: named by what its help calls it.
        let name = arg.get_value_names().and_then(|names| names.first());
        return Some(invalid(
            &name.map_or_else(|| shown.clone(), ToString::to_string),
            problem,
        ));
    };
    let flag = format!("--{long}");
    let on_command_line = args.iter().any(|given| {
        given
            .to_str()
            .is_some_and(|given| given == flag || given.starts_with(&format!("{flag}=")))
    });
    let setting = match arg.get_env() {
        Some(env) if !on_command_line => env.to_string_lossy().into_owned(),
        _ => flag,
    };
    Some(invalid(&setting, problem))
}

/// The first argument `wanted` picks, on `command` or any command under it.
fn find_arg<'a>(command: &'a Command, wanted: &impl Fn(&Arg) -> bool) -> Option<&'a Arg> {
    command.get_arguments().find(|arg| wanted(arg)).or_else(|| {
        command
            .get_subcommands()
            .find_map(|sub| find_arg(sub, wanted))
    })
}

/// The argument `id` as declared on the command that was run or one above it.
fn declared<'a>(command: &'a Command, matches: &ArgMatches, id: &str) -> Option<&'a Arg> {
    command
        .get_arguments()
        .find(|arg| arg.get_id() == id)
        .or_else(|| {
            let (name, sub) = matches.subcommand()?;
            declared(command.find_subcommand(name)?, sub, id)
        })
}

/// The detection settings a `--what-if` file proposes: the JSON of
/// `/api/v1/settings/detection`, each setting left out at its default.
pub(super) fn proposed_settings(
    setting: &str,
    file: &std::path::Path,
) -> Result<DetectionSettings, ConfigError> {
    let shown = file.display();
    let text = std::fs::read_to_string(file)
        .map_err(|error| invalid(setting, format!("cannot read {shown}: {error}")))?;
    let proposed: DetectionSettings = serde_json::from_str(&text).map_err(|error| {
        invalid(
            setting,
            format!("{shown} is not detection settings: {error}"),
        )
    })?;
    proposed
        .validate()
        .map_err(|problem| invalid(setting, format!("in {shown}: {problem}")))?;
    Ok(proposed)
}

pub(super) fn invalid(setting: &str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        setting: setting.to_string(),
        problem: problem.into(),
    }
}

pub(super) fn database_source(
    global: &GlobalArgs,
    setting: &str,
    migrate_setting: &str,
) -> Result<DatabaseSource, ConfigError> {
    fn given(url: Option<&str>) -> Option<&str> {
        url.map(str::trim).filter(|url| !url.is_empty())
    }
    let Some(url) = given(global.database_url.as_deref()) else {
        if given(global.migrate_database_url.as_deref()).is_some() {
            return Err(invalid(
                migrate_setting,
                "needs DATABASE_URL: the private cluster migrates as its own owner",
            ));
        }
        return Ok(DatabaseSource::Embedded {
            data_dir: global.data_dir.clone(),
        });
    };
    Ok(DatabaseSource::External {
        serving: Box::new(postgres_url(url, setting)?),
        migrating: given(global.migrate_database_url.as_deref())
            .map(|url| postgres_url(url, migrate_setting).map(Box::new))
            .transpose()?,
    })
}

pub(super) fn postgres_url(url: &str, setting: &str) -> Result<PgConnectOptions, ConfigError> {
    // The URL may carry a password: never echo it back.
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(invalid(
            setting,
            "must be a PostgreSQL URL starting with postgres:// or postgresql://",
        ));
    }
    PgConnectOptions::from_str(url)
        .map_err(|error| invalid(setting, format!("is not a valid PostgreSQL URL ({error})")))
}

pub(super) fn data_dir(dir: &std::path::Path, setting: &str) -> Result<PathBuf, ConfigError> {
    if dir.as_os_str().is_empty() {
        return Err(invalid(setting, "must not be empty"));
    }
    if dir.exists() && !dir.is_dir() {
        return Err(invalid(
            setting,
            format!("{} exists and is not a directory", dir.display()),
        ));
    }
    Ok(dir.to_path_buf())
}

// Value parsers: clap runs each value through one, whether it came from the command line, the
// environment or a default. An empty item of a list (`TRAILKEEPER_REGIONS=`) is no item.

pub(super) fn log_format(value: &str) -> Result<LogFormat, String> {
    match value {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        other => Err(format!("{other:?} is not a log format; use text or json")),
    }
}

pub(super) fn listen_address(value: &str) -> Result<SocketAddr, String> {
    SocketAddr::from_str(value.trim()).map_err(|_| {
        format!(
            "{value:?} is not an address to listen on; use IP:PORT such as 127.0.0.1:3000 or \
             [::1]:3000"
        )
    })
}

/// An AWS region name such as `eu-west-1`.
pub(super) fn region(value: &str) -> Result<Option<String>, String> {
    let region = value.trim();
    if region.is_empty() {
        return Ok(None);
    }
    if trailkeeper_app::api::admin::is_region_name(region) {
        Ok(Some(region.to_string()))
    } else {
        Err(format!(
            "{region:?} is not an AWS region name such as eu-west-1"
        ))
    }
}

/// One role of `TRAILKEEPER_ACCOUNTS`.
pub(super) fn role_arn(value: &str) -> Result<Option<RoleArn>, String> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    value.parse().map(Some)
}

/// A role's name (with its path, if any), as it is in every account.
pub(super) fn role_name(value: &str) -> Result<String, String> {
    let value = value.trim();
    format!("arn:aws:iam::000000000000:role/{value}")
        .parse::<RoleArn>()
        .map(|_| value.to_string())
        .map_err(|_| {
            format!(
                "{value:?} is not an IAM role name: 1 to 512 letters, digits and +=,.@_-/ \
                 such as OrganizationAccountAccessRole"
            )
        })
}

/// An account, organisational unit or root of the Organization.
pub(super) fn org_member(value: &str) -> Result<Option<OrgMember>, String> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    value.parse().map(Some)
}

/// The regions given, each once; none means the SDK's own region.
pub(super) fn distinct(regions: Vec<Option<String>>) -> Vec<String> {
    let mut distinct: Vec<String> = Vec::new();
    for region in regions.into_iter().flatten() {
        if !distinct.contains(&region) {
            distinct.push(region);
        }
    }
    distinct
}

/// An `s3://BUCKET/PREFIX` URL.
pub(super) fn s3_url(value: &str) -> Result<Option<S3Url>, String> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    S3Url::parse(value)
        .map(Some)
        .map_err(|error| error.to_string())
}

/// What `ingest` reads: an `s3://` URL, or else a file or directory.
pub(super) fn ingest_source(value: &str) -> Result<IngestSource, String> {
    if value.starts_with("s3://") {
        S3Url::parse(value.trim())
            .map(IngestSource::S3)
            .map_err(|error| error.to_string())
    } else {
        Ok(IngestSource::Path(PathBuf::from(value)))
    }
}

/// An RFC 3339 time such as `2026-01-01T00:00:00Z`.
pub(super) fn time(value: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(value.trim())
        .map(|time| time.with_timezone(&Utc))
        .map_err(|error| {
            format!(
                "{value:?} is not an RFC 3339 time ({error}); use for example 2026-01-01T00:00:00Z"
            )
        })
}

/// An access scope: terms separated by commas (`team=payments,111111111111,payments/*`);
/// `*` alone is everything.
pub(super) fn scope(value: &str) -> Result<Scope, String> {
    value.parse().map_err(|error: ScopeError| error.to_string())
}

/// A positive duration such as `30m`, `12h` or `90d`.
pub(super) fn duration(value: &str) -> Result<Duration, String> {
    match humantime::parse_duration(value.trim()) {
        Ok(duration) if !duration.is_zero() => Ok(duration),
        Ok(_) => Err("must be longer than zero".to_string()),
        Err(error) => Err(format!(
            "{value:?} is not a duration ({error}); use for example 30m, 12h or 90d"
        )),
    }
}

/// A duration, or `off`.
pub(super) fn interval(value: &str) -> Result<Interval, String> {
    match value.trim() {
        "off" => Ok(Interval::Off),
        value => duration(value).map(Interval::Every),
    }
}

/// A size in bytes: a whole number, optionally followed by KiB, MiB or GiB.
pub(super) fn size(value: &str) -> Result<u64, String> {
    let value = value.trim();
    let (number, unit) = value
        .find(|c: char| !c.is_ascii_digit())
        .map_or((value, ""), |at| value.split_at(at));
    let multiplier: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        other => {
            return Err(format!(
                "{other:?} is not a unit; use bytes or KiB, MiB or GiB, for example 1GiB"
            ));
        }
    };
    let bytes = number
        .parse::<u64>()
        .ok()
        .and_then(|number| number.checked_mul(multiplier))
        .ok_or_else(|| {
            format!("{value:?} is not a size; use bytes or KiB, MiB or GiB, for example 1GiB")
        })?;
    if bytes == 0 {
        return Err("must be larger than zero".to_string());
    }
    Ok(bytes)
}

/// An http(s) URL without a trailing slash.
pub(super) fn http_url(value: &str) -> Result<String, String> {
    let value = value.trim().trim_end_matches('/');
    let well_formed = (value.starts_with("http://") || value.starts_with("https://"))
        && value.len() > "https://".len()
        && !value.contains(char::is_whitespace);
    if well_formed {
        Ok(value.to_string())
    } else {
        Err(format!(
            "{value:?} is not a URL; use https://HOST[:PORT][/PATH]"
        ))
    }
}

/// An address or a CIDR network.
pub(super) fn network(value: &str) -> Result<Option<ipnet::IpNet>, String> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    value
        .parse::<ipnet::IpNet>()
        .or_else(|_| value.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map(Some)
        .map_err(|_| format!("{value:?} is not an address or a network such as 10.0.0.0/8"))
}

pub(super) fn channel_kind(value: &str) -> Result<ChannelKind, String> {
    ChannelKind::parse(value)
        .ok_or_else(|| format!("{value:?} is not webhook, slack, email or sns"))
}

pub(super) fn severity(value: &str) -> Result<Severity, String> {
    Severity::parse(value)
        .ok_or_else(|| format!("{value:?} is not info, low, medium, high or critical"))
}

pub(super) fn json(value: &str) -> Result<serde_json::Value, String> {
    serde_json::from_str(value).map_err(|error| format!("not JSON: {error}"))
}

/// What SQS notifications may name: the listed URLs, or else the S3 trails; a queue with
/// neither would read nothing, which is refused here rather than discovered later.
pub(super) fn sqs_buckets(
    serve: &ServeArgs,
    named: &impl Fn(&str) -> String,
) -> Result<Vec<S3Url>, ConfigError> {
    let setting = named("sqs_buckets");
    let listed: Vec<S3Url> = serve.sqs_buckets.iter().flatten().cloned().collect();
    let buckets = if listed.is_empty() {
        serve.s3_trails.iter().flatten().cloned().collect()
    } else {
        listed
    };
    if serve.sqs_queue_url.is_some() && buckets.is_empty() {
        return Err(invalid(
            &setting,
            "name the trail buckets (s3://BUCKET/PREFIX) whose objects the SQS notifications \
             may name, or set TRAILKEEPER_S3_TRAILS",
        ));
    }
    Ok(buckets)
}

pub(super) fn oidc_settings(
    serve: &ServeArgs,
    named: &impl Fn(&str) -> String,
) -> Result<Option<OidcSettings>, ConfigError> {
    // An empty issuer leaves single sign-on off, as an unset one does.
    let Some(issuer) = serve
        .oidc_issuer
        .as_deref()
        .filter(|issuer| !issuer.is_empty())
    else {
        return Ok(None);
    };
    let issuer = http_url(issuer).map_err(|problem| invalid(&named("oidc_issuer"), problem))?;
    let client_setting = named("oidc_client_id");
    let client_id = serve
        .oidc_client_id
        .clone()
        .filter(|id| !id.is_empty())
        .ok_or_else(|| invalid(&client_setting, "must be set for single sign-on"))?;
    let roles_setting = named("oidc_roles");
    let roles = role_mapping(serve.oidc_roles.as_deref().unwrap_or(""), &roles_setting)?;
    Ok(Some(OidcSettings {
        issuer,
        client_id,
        client_secret: serve
            .oidc_client_secret
            .clone()
            .filter(|secret| !secret.is_empty()),
        role_claim: serve.oidc_role_claim.clone(),
        roles,
        scopes: serve
            .oidc_scopes
            .as_deref()
            .filter(|mapping| !mapping.trim().is_empty())
            .map(|mapping| scope_mapping(mapping, &named("oidc_scopes")))
            .transpose()?,
    }))
}

/// `team=payments:payments-engineers,*:secops-admins`: each entry one scope term and the
/// claim value that grants it (after the last `:`, as terms may hold one).
pub(super) fn scope_mapping(
    value: &str,
    setting: &str,
) -> Result<Vec<(Scope, String)>, ConfigError> {
    value
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let Some((term, claim_value)) = entry.rsplit_once(':') else {
                return Err(invalid(
                    setting,
                    format!(
                        "{entry:?} is not TERM:VALUE; use for example team=payments:payments-engineers"
                    ),
                ));
            };
            let claim_value = claim_value.trim();
            if claim_value.is_empty() {
                return Err(invalid(setting, format!("{entry:?} names no claim value")));
            }
            let scope = Scope::from_terms(&[term.trim()])
                .map_err(|error| invalid(setting, error.to_string()))?;
            Ok((scope, claim_value.to_string()))
        })
        .collect()
}

/// `admin=secops-admins,auditor=audit,viewer=*`.
pub(super) fn role_mapping(value: &str, setting: &str) -> Result<Vec<(Role, String)>, ConfigError> {
    let mut roles = Vec::new();
    for pair in value
        .split(',')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
    {
        let Some((role, claim_value)) = pair.split_once('=') else {
            return Err(invalid(
                setting,
                format!("{pair:?} is not ROLE=VALUE; use for example admin=secops-admins,viewer=*"),
            ));
        };
        let role: Role = role
            .trim()
            .parse()
            .map_err(|problem: String| invalid(setting, problem))?;
        roles.push((role, claim_value.trim().to_string()));
    }
    if roles.is_empty() {
        return Err(invalid(
            setting,
            "must map claim values to roles for single sign-on, for example admin=secops-admins,viewer=*",
        ));
    }
    Ok(roles)
}

/// Both files must exist; they are read when serving starts.
pub(super) fn tls_files(
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    cert_setting: &str,
    key_setting: &str,
) -> Result<Option<TlsFiles>, ConfigError> {
    let (Some(cert), Some(key)) = (cert, key) else {
        return Ok(None);
    };
    for (path, setting) in [(&cert, cert_setting), (&key, key_setting)] {
        if !path.is_file() {
            return Err(invalid(
                setting,
                format!("{} is not a readable file", path.display()),
            ));
        }
    }
    Ok(Some(TlsFiles { cert, key }))
}

/// aws-config reads these itself, but reports a bad endpoint only on the first request, far
/// from the cause; check them up front.
pub(super) fn check_aws_environment() -> Result<(), ConfigError> {
    for (name, value) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        if name == "AWS_ENDPOINT_URL" || name.starts_with("AWS_ENDPOINT_URL_") {
            let value = value.to_string_lossy();
            if !(value.starts_with("http://") || value.starts_with("https://"))
                || value.len() <= "https://".len()
            {
                return Err(invalid(
                    name,
                    format!(
                        "{value:?} is not an endpoint URL; use http://HOST:PORT or https://HOST"
                    ),
                ));
            }
        }
    }
    Ok(())
}
