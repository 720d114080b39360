//! The command line and its settings. Every setting is a flag and an environment variable;
//! a bad value is reported in one line that names the setting as the user gave it.

mod cli;
mod settings;
mod validate;

pub use cli::*;
pub use settings::*;
pub use validate::ConfigError;
use validate::*;

use std::ffi::OsString;

use clap::{CommandFactory, FromArgMatches};

use trailkeeper_app::AppError;
use trailkeeper_app::api::admin::{ChangeRequest, ReplicaRegion, SecretAction, parse_tags};
use trailkeeper_app::api::alerts::NewChannel;

use crate::alert::channels::outbound::Destinations;
use crate::alert::sealing::SealingKey;
use crate::auth::sessions::SessionPolicy;

/// Parses the command line and environment; clap handles `--help` and usage errors itself.
pub fn parse() -> Result<(Settings, Invocation), ConfigError> {
    parse_from(std::env::args_os())
}

pub fn parse_from<I, T>(args: I) -> Result<(Settings, Invocation), ConfigError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let mut args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let command = Cli::command();
    let matches_from = |args: &[OsString]| {
        command.clone().try_get_matches_from(args).map_err(|error| {
            match refused_value(&command, args, &error) {
                Some(refused) => refused,
                None => error.exit(),
            }
        })
    };
    let mut matches = matches_from(&args)?;
    if matches.subcommand().is_none() {
        // No command means `serve`, with whatever global options were given.
        args.insert(1.min(args.len()), "serve".into());
        matches = matches_from(&args)?;
    }
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|error| error.exit());
    let named = |id: &str| setting_name(&command, &matches, id);

    let settings = Settings {
        database: database_source(
            &cli.global,
            &named("database_url"),
            &named("migrate_database_url"),
        )?,
        data_dir: data_dir(&cli.global.data_dir, &named("data_dir"))?,
        log_format: cli.global.log_format,
        secret_key: cli
            .global
            .secret_key
            .as_deref()
            .map(|key| {
                SealingKey::from_base64(key).map_err(|error| ConfigError {
                    setting: named("secret_key"),
                    problem: error.to_string(),
                })
            })
            .transpose()?,
        max_file_bytes: cli.global.max_file_size,
        alert_destinations: Destinations::allowing(&cli.global.alert_allowed_hosts)
            .map_err(|problem| invalid(&named("alert_allowed_hosts"), problem))?,
    };
    check_aws_environment()?;

    let invocation = match cli.command {
        None => unreachable!("a missing command was replaced by `serve` above"),
        Some(Command::Serve(serve)) => Invocation::Serve(Box::new(ServeSettings {
            sqs_buckets: sqs_buckets(&serve, &named)?,
            oidc: oidc_settings(&serve, &named)?,
            listen: serve.listen,
            read_only: serve.read_only,
            approvals: serve.approvals.policy(),
            regions: distinct(serve.sync.regions),
            accounts: serve.sync.accounts.settings(),
            sync_interval: serve.sync_interval,
            retention_days: serve.retention_days,
            lookup_interval: match serve.lookup_interval {
                Interval::Off => None,
                Interval::Every(interval) => Some(interval),
            },
            s3_trails: serve.s3_trails.into_iter().flatten().collect(),
            s3_interval: serve.s3_interval,
            sqs_queue_url: serve.sqs_queue_url,
            sessions: SessionPolicy {
                idle_timeout: serve.session_idle_timeout,
                lifetime: serve.session_lifetime,
            },
            public_url: serve.public_url,
            trusted_proxies: serve.trusted_proxies.into_iter().flatten().collect(),
            tls: tls_files(
                serve.tls_cert,
                serve.tls_key,
                &named("tls_cert"),
                &named("tls_key"),
            )?,
            read_replica: serve
                .read_database_url
                .as_deref()
                .map(str::trim)
                .filter(|url| !url.is_empty())
                .map(|url| {
                    Ok::<_, ConfigError>(ReadReplica {
                        database: postgres_url(url, &named("read_database_url"))?,
                        max_lag: serve.read_max_lag,
                    })
                })
                .transpose()?,
        })),
        Some(Command::Migrate) => Invocation::Migrate,
        Some(Command::Check) => Invocation::Check,
        Some(Command::Sync(sync)) => Invocation::Sync {
            regions: distinct(sync.regions),
            accounts: sync.accounts.settings(),
        },
        Some(Command::Ingest(ingest)) => {
            let mut plan = IngestPlan {
                paths: Vec::new(),
                s3_urls: Vec::new(),
                lookup: ingest.lookup.then(|| LookupPlan {
                    regions: distinct(ingest.sync.regions),
                    accounts: ingest.sync.accounts.settings(),
                    since: ingest.since,
                }),
            };
            for source in ingest.sources {
                match source {
                    IngestSource::Path(path) => plan.paths.push(path),
                    IngestSource::S3(url) => plan.s3_urls.push(url),
                }
            }
            Invocation::Ingest(plan)
        }
        Some(Command::Detect(DetectArgs {
            what_if: Some(settings_file),
            since,
            ..
        })) => Invocation::WhatIf {
            proposed: Box::new(proposed_settings(&named("what_if"), &settings_file)?),
            settings_file,
            since,
        },
        Some(Command::Detect(DetectArgs { since, until, .. })) => {
            if let (Some(since), Some(until)) = (since, until)
                && since >= until
            {
                return Err(invalid(&named("until"), "must be later than --since"));
            }
            Invocation::Backfill { since, until }
        }
        Some(Command::Db(DbCommand::Run { command })) => Invocation::DbRun { command },
        Some(Command::User(command)) => Invocation::User(command),
        Some(Command::Token(command)) => Invocation::Token(match command {
            TokenCommand::Create {
                name,
                role,
                expires,
                scope,
            } => TokenInvocation::Create {
                name,
                role,
                valid_for: expires,
                scope: scope.and_then(|scope| scope.limit()),
            },
            TokenCommand::List => TokenInvocation::List,
            TokenCommand::Revoke { name } => TokenInvocation::Revoke { name },
        }),
        Some(Command::Channel(command)) => Invocation::Channel(match command {
            ChannelCommand::Add {
                name,
                kind,
                config,
                min_severity,
            } => ChannelInvocation::Add(NewChannel {
                kind,
                name,
                config,
                min_severity,
            }),
            ChannelCommand::List => ChannelInvocation::List,
        }),
        Some(Command::Secret(command)) => secret_change(command)?,
    };
    Ok((settings, invocation))
}

/// A `secret` command as the same change the API and the page ask for, checked by the same
/// code; a refused parameter is named by its flag.
fn secret_change(command: SecretCommand) -> Result<Invocation, ConfigError> {
    let none = ChangeRequest::default();
    let (action, change, request) = match command {
        SecretCommand::Rotate { change, test_only } => (
            "rotate",
            change,
            ChangeRequest {
                immediately: Some(!test_only),
                ..none
            },
        ),
        SecretCommand::Rollback { change } => ("rollback", change, none),
        SecretCommand::ClearPending { change } => ("clear-pending", change, none),
        SecretCommand::Delete {
            change,
            recovery_days,
            confirm,
        } => (
            "delete",
            change,
            ChangeRequest {
                recovery_days: Some(recovery_days),
                confirm,
                ..none
            },
        ),
        SecretCommand::Restore { change } => ("restore", change, none),
        SecretCommand::Rotation {
            change,
            schedule,
            window,
            function_arn,
            rotate_now,
            off,
            confirm,
        } => (
            "rotation",
            change,
            ChangeRequest {
                enabled: Some(!off),
                schedule,
                window,
                function_arn,
                immediately: Some(rotate_now),
                confirm,
                ..none
            },
        ),
        SecretCommand::Tag {
            change,
            tags,
            remove_tags,
        } => (
            "tags",
            change,
            ChangeRequest {
                tags: parse_tags(&tags.join("\n")).map_err(|why| invalid("--tag", why))?,
                remove_tags,
                ..none
            },
        ),
        SecretCommand::Update {
            change,
            description,
            kms_key_id,
        } => (
            "update",
            change,
            ChangeRequest {
                description,
                kms_key_id,
                ..none
            },
        ),
        SecretCommand::Replicate { change, regions } => (
            "replicate",
            change,
            ChangeRequest {
                regions: ReplicaRegion::parse_list(&regions.join("\n")),
                ..none
            },
        ),
        SecretCommand::RemoveReplica {
            change,
            region,
            confirm,
        } => (
            "remove-replica",
            change,
            ChangeRequest {
                region: Some(region),
                confirm,
                ..none
            },
        ),
        SecretCommand::Policy {
            change,
            file,
            remove,
            confirm,
        } => {
            let policy = match file {
                Some(path) => Some(std::fs::read_to_string(&path).map_err(|error| {
                    invalid("--file", format!("cannot read {}: {error}", path.display()))
                })?),
                None => None,
            };
            (
                "policy",
                change,
                ChangeRequest {
                    policy,
                    remove_policy: Some(remove),
                    confirm,
                    ..none
                },
            )
        }
    };
    let request = ChangeRequest {
        reason: change.reason.clone(),
        ..request
    };
    let action = SecretAction::from_request(action, &request).map_err(|error| match error {
        AppError::Invalid {
            parameter: Some(parameter),
            message,
        } => {
            let flag = match parameter.as_str() {
                "tags" => "--tag".to_string(),
                "remove_tags" => "--remove-tag".to_string(),
                "regions" => "--region".to_string(),
                "policy" => "--file".to_string(),
                other => format!("--{}", other.replace('_', "-")),
            };
            let problem = message
                .strip_prefix(&format!("{parameter}: "))
                .unwrap_or(&message)
                .to_string();
            invalid(&flag, problem)
        }
        other => invalid("secret", other.to_string()),
    })?;
    Ok(Invocation::Secret {
        secret: change.secret,
        action,
        request: Box::new(request),
        approvals: change.approvals.policy(),
        external_id: change.org_external_id.filter(|id| !id.is_empty()),
    })
}

#[cfg(test)]
mod tests;
