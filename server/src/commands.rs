//! What each `trailkeeper` command does, in terms of the library's modules.

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::ConnectOptions;
use tokio::signal::unix::{SignalKind, signal};
use trailkeeper::admin::Administration;
use trailkeeper::admin::approvals::ApprovalPolicy;
use trailkeeper::alert::channels::Senders;
use trailkeeper::alert::setup;
use trailkeeper::application::Application;
use trailkeeper::audit::{Action, Entry, SYSTEM_ACTOR};
use trailkeeper::auth::{tokens, users};
use trailkeeper::aws;
use trailkeeper::aws::accounts::AccountSettings;
use trailkeeper::config::{
    ChannelInvocation, IngestPlan, Invocation, ServeSettings, Settings, TokenInvocation,
    UserCommand,
};
use trailkeeper::db::{Database, Reader};
use trailkeeper::detect;
use trailkeeper::detect::DetectionSettings;
use trailkeeper::detect::conditions;
use trailkeeper::findings::triage::Actor;
use trailkeeper::ingest::after_ingest;
use trailkeeper::ingest::load::{Summary, Totals};
use trailkeeper::ingest::sources::files::Files;
use trailkeeper::ingest::sources::lookup::Lookup;
use trailkeeper::ingest::sources::s3::S3Trail;
use trailkeeper::ingest::sources::{EventSource, poll_and_record};
use trailkeeper::inventory::sync::sync_regions;
use trailkeeper_app::api::admin::{ChangeRequest, SecretAction};
use trailkeeper_app::scope::Scope;

pub async fn run(settings: Settings, invocation: Invocation) -> anyhow::Result<ExitCode> {
    let database = Database::open(&settings.database).await?;
    let outcome = match invocation {
        Invocation::Serve(serving) => serve(&database, &settings, *serving).await,
        Invocation::Migrate => migrate(&database).await,
        Invocation::Check => check(&database).await,
        Invocation::Sync { regions, accounts } => sync(&database, regions, accounts).await,
        Invocation::Ingest(plan) => ingest(&database, plan, settings.max_file_bytes).await,
        Invocation::Backfill { since, until } => backfill(&database, since, until).await,
        Invocation::WhatIf {
            proposed,
            settings_file,
            since,
        } => what_if(&database, &proposed, &settings_file, since).await,
        Invocation::DbRun { command } => db_run(&database, command).await,
        Invocation::User(command) => user(&database, command).await,
        Invocation::Token(command) => token(&database, command).await,
        Invocation::Channel(command) => channel(&database, &settings, command).await,
        Invocation::Secret {
            secret,
            action,
            request,
            approvals,
            external_id,
        } => {
            change_secret(
                &database,
                &secret,
                &action,
                &request,
                approvals,
                external_id,
            )
            .await
        }
    };
    // Whatever happened, leave the private PostgreSQL as we should (stopped if we were last).
    database.close().await;
    outcome
}

async fn serve(
    database: &Database,
    settings: &Settings,
    serve: ServeSettings,
) -> anyhow::Result<ExitCode> {
    migrate_and_record(database).await?;
    if let Some(password) = users::ensure_initial_admin(database.pool()).await? {
        // Printed to the terminal only, never logged.
        println!("Created the first administrator account. Its password is shown only this once:");
        println!("  user:     {}", users::INITIAL_ADMIN);
        println!("  password: {password}");
    }
    let application = Application::build(database, settings, serve).await?;
    println!(
        "Trailkeeper is serving on {} (Ctrl-C stops it)",
        application.url()
    );
    application
        .run(shutdown_requested())
        .await
        .context("the web server failed")?;
    tracing::info!("stopped serving");
    Ok(ExitCode::SUCCESS)
}

async fn migrate(database: &Database) -> anyhow::Result<ExitCode> {
    let applied = migrate_and_record(database).await?;
    if applied.is_empty() {
        println!("The database schema is up to date.");
    } else {
        for migration in &applied {
            println!(
                "Applied migration {} ({})",
                migration.version, migration.description
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Applies pending migrations and records them in the audit log.
async fn migrate_and_record(
    database: &Database,
) -> anyhow::Result<Vec<trailkeeper::db::AppliedMigration>> {
    let applied = database.migrate().await?;
    if let Some(newest) = applied.last() {
        let names: Vec<String> = applied
            .iter()
            .map(|m| format!("{} {}", m.version, m.description))
            .collect();
        Entry::new(
            SYSTEM_ACTOR,
            Action::SchemaMigrated,
            format!(
                "database schema migrated to version {} (applied: {})",
                newest.version,
                names.join(", ")
            ),
        )
        .detail(json!({ "applied": applied.iter().map(|m| m.version).collect::<Vec<_>>() }))
        .record(database.pool())
        .await?;
        tracing::info!(
            version = newest.version,
            count = applied.len(),
            "database schema migrated"
        );
    }
    Ok(applied)
}

async fn sync(
    database: &Database,
    regions: Vec<String>,
    accounts: AccountSettings,
) -> anyhow::Result<ExitCode> {
    migrate_and_record(database).await?;
    let config = aws::load_config().await;
    let summaries = sync_regions(database.pool(), &config, &accounts, &regions).await?;
    conditions::after_sync(database.pool(), &summaries).await?;
    for summary in &summaries {
        println!("{}", summary.describe());
        for error in &summary.errors {
            println!(
                "  {} {} failed{}: {}",
                error.secret.as_deref().unwrap_or(summary.region.as_str()),
                error.operation,
                error
                    .code
                    .as_deref()
                    .map(|code| format!(" with {code}"))
                    .unwrap_or_default(),
                error.message
            );
        }
    }
    Ok(
        if summaries.iter().all(|summary| summary.errors.is_empty()) {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        },
    )
}

/// `trailkeeper ingest`: each file, object or page read and what became of its records,
/// then the totals. A path that does not exist stops it before anything is read; a source
/// that fails (a missing bucket, refused credentials) is reported and the others still run.
async fn ingest(
    database: &Database,
    plan: IngestPlan,
    max_file_bytes: u64,
) -> anyhow::Result<ExitCode> {
    let files = Files::new(&plan.paths)?.with_max_file_bytes(max_file_bytes);
    migrate_and_record(database).await?;
    let file_count = files.len() as u64;
    let mut sources: Vec<Box<dyn EventSource>> = Vec::new();
    if !plan.s3_urls.is_empty() || plan.lookup.is_some() {
        let config = aws::load_config().await;
        for url in plan.s3_urls {
            sources.push(Box::new(
                S3Trail::new(aws::s3(&config), url).with_max_file_bytes(max_file_bytes),
            ));
        }
        if let Some(lookup) = plan.lookup {
            let regions = aws::regions(&config, &lookup.regions)?;
            let accounts = aws::accounts::discover(&config, &lookup.accounts).await?;
            for source in Lookup::everywhere(&accounts, &regions, lookup.since) {
                sources.push(Box::new(source));
            }
        }
    }
    let progress = if sources.is_empty() {
        indicatif::ProgressBar::new(file_count).with_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} files {wide_msg}")
                .expect("the template is valid"),
        )
    } else {
        indicatif::ProgressBar::new_spinner().with_style(
            indicatif::ProgressStyle::with_template("{spinner} {pos} read {wide_msg}")
                .expect("the template is valid"),
        )
    };
    let report = {
        let progress = progress.clone();
        move |summary: &Summary| {
            progress.suspend(|| println!("{}: {}", summary.origin, summary.describe()));
            progress.inc(1);
        }
    };
    let mut totals = Totals::default();
    let mut failed = false;
    if file_count > 0 {
        totals.merge(files.poll(database.pool(), &report).await?);
    }
    for source in &sources {
        progress.set_message(source.name());
        match poll_and_record(source.as_ref(), database.pool(), &report).await {
            Ok(source_totals) => totals.merge(source_totals),
            Err(error) => {
                failed = true;
                progress.suspend(|| eprintln!("{}: {error}", source.name()));
            }
        }
    }
    progress.finish_and_clear();
    after_ingest(database.pool()).await?;
    println!(
        "{} read, {} records: {} new, {} duplicates, {} skipped (not Secrets Manager), {} \
         quarantined",
        totals.units,
        totals.records,
        totals.new,
        totals.duplicates,
        totals.skipped,
        totals.quarantined
    );
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

async fn backfill(
    database: &Database,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) -> anyhow::Result<ExitCode> {
    migrate_and_record(database).await?;
    let progress = indicatif::ProgressBar::new_spinner().with_style(
        indicatif::ProgressStyle::with_template("{spinner} {pos} events through detection")
            .expect("the template is valid"),
    );
    let done = detect::backfill::backfill(database.pool(), since, until, |events| {
        progress.set_position(events)
    })
    .await?;
    progress.finish_and_clear();
    let range = match (since, until) {
        (None, None) => "all stored events".to_string(),
        (since, until) => format!(
            "events from {} to {}",
            since.map_or("the first".into(), |at| at.to_rfc3339()),
            until.map_or("the last".into(), |at| at.to_rfc3339())
        ),
    };
    let summary = format!(
        "Backfilled detection over {range}: {} events, {} findings opened, {} added to, {} \
         resolved",
        done.events, done.findings.opened, done.findings.updated, done.findings.resolved
    );
    Entry::new(SYSTEM_ACTOR, Action::DetectionBackfilled, summary.clone())
        .detail(
            json!({ "since": since, "until": until, "events": done.events,
                        "opened": done.findings.opened }),
        )
        .record(database.pool())
        .await?;
    println!("{summary}");
    Ok(ExitCode::SUCCESS)
}

/// `trailkeeper detect --what-if FILE`: what the settings in FILE would add and drop.
async fn what_if(
    database: &Database,
    proposed: &DetectionSettings,
    settings_file: &Path,
    since: Option<DateTime<Utc>>,
) -> anyhow::Result<ExitCode> {
    let file = settings_file.display();
    migrate_and_record(database).await?;
    let compared = detect::what_if::what_if(database.pool(), proposed, since).await?;
    println!(
        "What-if over {} events since {}: the stored settings, then those in {file}.",
        compared.events,
        compared
            .since
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    for (heading, sign, changes) in [
        ("Would add", '+', &compared.added),
        ("Would drop", '-', &compared.dropped),
    ] {
        if changes.is_empty() {
            println!("{heading}: nothing");
            continue;
        }
        println!("{heading}:");
        for change in changes {
            println!(
                "  {sign}{} {} (e.g. {})",
                change.findings,
                change.kind.as_str(),
                change.examples.join("; ")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn check(database: &Database) -> anyhow::Result<ExitCode> {
    let mut healthy = true;
    let pending = database.pending_migrations().await?;
    let status = trailkeeper::db::status(database.pool(), database.location()).await;
    match status {
        Ok(status) => println!(
            "ok    database  {} ({}), schema version {}, {pending} migration(s) pending",
            status.server_version, status.location, status.schema_version
        ),
        Err(_) if pending > 0 => println!(
            "ok    database  reachable ({}), not migrated yet: {pending} migration(s) pending; run `trailkeeper migrate`",
            database.location()
        ),
        Err(error) => {
            healthy = false;
            println!("FAIL  database  {}", one_line(&error.into()));
        }
    }
    let aws_config = aws::load_config().await;
    let target = aws::target(&aws_config);
    let endpoint = target
        .endpoint
        .unwrap_or_else(|| "AWS's public endpoint".to_string());
    match aws::check_secrets_manager(&aws_config).await {
        Ok(()) => println!(
            "ok    aws       Secrets Manager answered in {} via {endpoint}",
            target.region.as_deref().unwrap_or("?")
        ),
        Err(error) => {
            healthy = false;
            println!("FAIL  aws       {error}");
        }
    }
    Ok(if healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Runs a program against Trailkeeper's database; our exit code is the program's. A password
/// in DATABASE_URL reaches the program inside its DATABASE_URL only.
async fn db_run(database: &Database, command: Vec<OsString>) -> anyhow::Result<ExitCode> {
    let options = database.connect_options();
    let url = options.to_url_lossy().to_string();
    let host = match options.get_socket() {
        Some(socket) => socket.to_string_lossy().into_owned(),
        None => options.get_host().to_string(),
    };
    let (program, args) = command.split_first().context("no program to run")?;
    // The program shares our terminal: Ctrl-C reaches it directly, and we wait for it to
    // finish before leaving the database. A SIGTERM sent to us is passed on.
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .env("DATABASE_URL", url)
        // libpq's tools (psql, pg_dump) read these rather than DATABASE_URL.
        .env("PGHOST", host)
        .env("PGPORT", options.get_port().to_string())
        .env("PGUSER", options.get_username())
        .env("PGDATABASE", options.get_database().unwrap_or_default())
        .spawn()
        .with_context(|| format!("cannot run {}", program.to_string_lossy()))?;
    let status = loop {
        tokio::select! {
            status = child.wait() => break status?,
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {
                if let Some(pid) = child.id() {
                    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGTERM);
                }
            }
        }
    };
    Ok(match status.code() {
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::FAILURE,
    })
}

async fn user(database: &Database, command: UserCommand) -> anyhow::Result<ExitCode> {
    migrate_and_record(database).await?;
    let pool = database.pool();
    let actor = command_line_actor();
    match command {
        UserCommand::Add {
            name,
            role,
            password_stdin,
            scope,
        } => {
            let password = read_new_password(password_stdin)?;
            let scope = scope.and_then(Scope::limit);
            let user =
                users::add_scoped(pool, &actor, &name, role, scope.as_ref(), &password).await?;
            println!(
                "Added user {} with role {}{}.",
                user.name,
                user.role,
                limited(user.scope.as_ref())
            );
        }
        UserCommand::List => {
            println!("{:<32} {:<8} {:<20} status", "name", "role", "created");
            for user in users::list(pool).await? {
                let status = match user.disabled_at {
                    Some(at) => format!("disabled since {}", at.format("%Y-%m-%d %H:%M UTC")),
                    None => "active".to_string(),
                } + &limited(user.scope.as_ref());
                let created = user.created_at.format("%Y-%m-%d %H:%M UTC");
                println!(
                    "{:<32} {:<8} {:<20} {status}",
                    user.name,
                    user.role.as_str(),
                    created.to_string()
                );
            }
        }
        UserCommand::Disable { name } => {
            let user = users::disable(pool, &actor, &name).await?;
            println!("Disabled user {}.", user.name);
        }
        UserCommand::SetRole { name, role } => {
            let user = users::set_role(pool, &actor, &name, role).await?;
            println!(
                "User {} now has role {}; their sessions have ended.",
                user.name, user.role
            );
        }
        UserCommand::SetScope { name, scope } => {
            let scope = scope.limit();
            let user = users::set_scope(pool, &actor, &name, scope.as_ref()).await?;
            match &user.scope {
                Some(scope) => println!(
                    "User {} now sees only {scope}; their sessions have ended.",
                    user.name
                ),
                None => println!("User {} now sees everything their role allows.", user.name),
            }
        }
        UserCommand::SetPassword {
            name,
            password_stdin,
        } => {
            let password = read_new_password(password_stdin)?;
            let user = users::set_password(pool, &actor, &name, &password).await?;
            println!(
                "User {} has a new password; their sessions have ended.",
                user.name
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// How a listing says what a user or token is limited to.
fn limited(scope: Option<&Scope>) -> String {
    match scope {
        Some(scope) => format!(", limited to {scope}"),
        None => String::new(),
    }
}

async fn channel(
    database: &Database,
    settings: &Settings,
    command: ChannelInvocation,
) -> anyhow::Result<ExitCode> {
    migrate_and_record(database).await?;
    let pool = database.pool();
    match command {
        ChannelInvocation::Add(new) => {
            let key = settings
                .sealing_key()
                .context("alert channels' secrets need a key (TRAILKEEPER_SECRET_KEY)")?;
            let actor = command_line_actor();
            let actor = Actor {
                name: &actor,
                address: None,
            };
            let senders = Senders::reaching(settings.alert_destinations.clone())
                .with_aws(aws::load_config().await);
            let created = setup::add_channel(pool, &key, &senders, &actor, new).await?;
            eprintln!(
                "Added the {} alert channel {:?} (id {}){}.",
                created.channel.kind.as_str(),
                created.channel.name,
                created.channel.id,
                match created.rule_id {
                    Some(rule) => format!(" and its catch-all rule {rule}"),
                    None => String::new(),
                }
            );
            if let Some(signing_key) = created.signing_key {
                // Alone on stdout, so scripts can capture it.
                eprintln!("Its webhook signing key is shown only this once:");
                println!("{signing_key}");
            }
        }
        ChannelInvocation::List => {
            println!("{:<6} {:<8} {:<9} name", "id", "kind", "enabled");
            for channel in setup::list_channels(pool).await? {
                println!(
                    "{:<6} {:<8} {:<9} {}",
                    channel.id,
                    channel.kind.as_str(),
                    if channel.enabled { "yes" } else { "no" },
                    channel.name
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn token(database: &Database, command: TokenInvocation) -> anyhow::Result<ExitCode> {
    migrate_and_record(database).await?;
    let pool = database.pool();
    let actor = command_line_actor();
    let when = |at: Option<chrono::DateTime<chrono::Utc>>, otherwise: &str| {
        at.map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_else(|| otherwise.to_string())
    };
    match command {
        TokenInvocation::Create {
            name,
            role,
            valid_for,
            scope,
        } => {
            let expires_at = valid_for
                .map(|valid_for| {
                    chrono::Duration::from_std(valid_for).map(|d| chrono::Utc::now() + d)
                })
                .transpose()
                .context("--expires: that is too far in the future")?;
            let (token, secret) =
                tokens::create(pool, &actor, &name, role, scope.as_ref(), expires_at).await?;
            // The token goes to stdout alone on its line, so scripts can capture it.
            eprintln!(
                "Created API token {} with role {}{}, expires {}. It is shown only this once:",
                token.name,
                token.role,
                limited(token.scope.as_ref()),
                when(token.expires_at, "never")
            );
            println!("{secret}");
        }
        TokenInvocation::List => {
            println!(
                "{:<32} {:<8} {:<20} {:<20} {:<20} created by",
                "name", "role", "created", "expires", "last used"
            );
            for token in tokens::list(pool).await? {
                let expired = token.expires_at.is_some_and(|at| at <= chrono::Utc::now());
                println!(
                    "{:<32} {:<8} {:<20} {:<20} {:<20} {}{}",
                    token.name,
                    token.role.as_str(),
                    when(Some(token.created_at), ""),
                    if expired {
                        "expired".to_string()
                    } else {
                        when(token.expires_at, "never")
                    },
                    when(token.last_used_at, "never"),
                    token.created_by,
                    limited(token.scope.as_ref())
                );
            }
        }
        TokenInvocation::Revoke { name } => {
            tokens::revoke(pool, &actor, &name).await?;
            println!("Revoked API token {name}.");
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn change_secret(
    database: &Database,
    secret: &str,
    action: &SecretAction,
    request: &ChangeRequest,
    approvals: ApprovalPolicy,
    external_id: Option<String>,
) -> anyhow::Result<ExitCode> {
    migrate_and_record(database).await?;
    let actor = command_line_actor();
    let actor = Actor {
        name: &actor,
        address: None,
    };
    let administration =
        Administration::new(aws::load_config().await, external_id, false, approvals);
    let outcome = administration
        .change_secret(
            &Reader::everything(database.pool().clone()),
            &actor,
            secret,
            action.name(),
            request,
        )
        .await?;
    println!("{}", outcome.summary);
    if let Some(approval) = outcome.awaiting_approval {
        println!(
            "Change request {} waits for another admin on the Changes page until {}.",
            approval.id,
            approval.expires_at.format("%Y-%m-%d %H:%M UTC")
        );
    }
    if let Some(request_id) = outcome.request_id {
        eprintln!("AWS request id: {request_id}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Who ran a command, for the audit log: the operating system account.
fn command_line_actor() -> String {
    let account = nix::unistd::User::from_uid(nix::unistd::Uid::current())
        .ok()
        .flatten()
        .map(|user| user.name)
        .unwrap_or_else(|| format!("uid {}", nix::unistd::Uid::current()));
    format!("{account} (command line)")
}

fn read_new_password(from_stdin: bool) -> anyhow::Result<String> {
    use std::io::IsTerminal;
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("cannot read the password from stdin")?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_string());
    }
    anyhow::ensure!(
        std::io::stdin().is_terminal(),
        "there is no terminal to ask for the password on; pass it on stdin with --password-stdin"
    );
    let password = rpassword::prompt_password("Password: ")?;
    let again = rpassword::prompt_password("Password again: ")?;
    anyhow::ensure!(
        password == again,
        "the two passwords differ; nothing was changed"
    );
    Ok(password)
}

/// The error and its causes on one line. Some errors (sqlx's) repeat their cause in their
/// own message; a cause already said is not said again.
pub fn one_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if line.ends_with(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM.
async fn shutdown_requested() {
    let mut interrupt = signal(SignalKind::interrupt()).expect("cannot listen for SIGINT");
    let mut terminate = signal(SignalKind::terminate()).expect("cannot listen for SIGTERM");
    tokio::select! {
        _ = interrupt.recv() => tracing::info!("interrupted; shutting down"),
        _ = terminate.recv() => tracing::info!("terminated; shutting down"),
    }
}
