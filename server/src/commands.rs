//! What each `trailkeeper` command does, in terms of the library's modules.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;
use serde_json::json;
use sqlx::ConnectOptions;
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};
use trailkeeper::audit::{self, Action, SYSTEM_ACTOR};
use trailkeeper::auth::users;
use trailkeeper::config::{Invocation, Settings, UserCommand};
use trailkeeper::db::Database;
use trailkeeper::{aws, web};

const VERSION: &str = env!("CARGO_PKG_VERSION");

pub async fn run(settings: Settings, invocation: Invocation) -> anyhow::Result<ExitCode> {
    let database = Database::open(&settings.database).await?;
    let outcome = match invocation {
        Invocation::Serve { listen } => serve(&database, listen).await,
        Invocation::Migrate => migrate(&database).await,
        Invocation::Check => check(&database).await,
        Invocation::DbRun { command } => db_run(&database, command).await,
        Invocation::User(command) => user(&database, command).await,
    };
    // Whatever happened, leave the private PostgreSQL as we should (stopped if we were last).
    database.close().await;
    outcome
}

async fn serve(database: &Database, listen: SocketAddr) -> anyhow::Result<ExitCode> {
    migrate_and_record(database).await?;
    if let Some(password) = users::ensure_initial_admin(database.pool()).await? {
        // Printed to the terminal only, never logged.
        println!("Created the first administrator account. Its password is shown only this once:");
        println!("  user:     {}", users::INITIAL_ADMIN);
        println!("  password: {password}");
    }
    let aws_config = aws::load_config().await;
    let listener = TcpListener::bind(listen).await.with_context(|| {
        format!("cannot listen on {listen} (set by TRAILKEEPER_LISTEN or --listen)")
    })?;
    let address = listener.local_addr()?;
    audit::record(
        database.pool(),
        SYSTEM_ACTOR,
        Action::ServiceStarted,
        &format!("Trailkeeper {VERSION} started, serving http://{address}"),
        json!({ "version": VERSION, "listen": address.to_string() }),
    )
    .await?;
    let app = web::router(web::WebContext {
        pool: database.pool().clone(),
        database_location: database.location().to_string(),
        aws: aws::target(&aws_config),
        listen: address,
    });
    println!("Trailkeeper is serving on http://{address} (Ctrl-C stops it)");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_requested())
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
        audit::record(
            database.pool(),
            SYSTEM_ACTOR,
            Action::SchemaMigrated,
            &format!(
                "database schema migrated to version {} (applied: {})",
                newest.version,
                names.join(", ")
            ),
            json!({ "applied": applied.iter().map(|m| m.version).collect::<Vec<_>>() }),
        )
        .await?;
        tracing::info!(
            version = newest.version,
            count = applied.len(),
            "database schema migrated"
        );
    }
    Ok(applied)
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
        } => {
            let password = read_new_password(password_stdin)?;
            let user = users::add(pool, &actor, &name, role, &password).await?;
            println!("Added user {} with role {}.", user.name, user.role);
        }
        UserCommand::List => {
            println!("{:<32} {:<8} {:<20} status", "name", "role", "created");
            for user in users::list(pool).await? {
                let status = match user.disabled_at {
                    Some(at) => format!("disabled since {}", at.format("%Y-%m-%d %H:%M UTC")),
                    None => "active".to_string(),
                };
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
            println!("User {} now has role {}.", user.name, user.role);
        }
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
