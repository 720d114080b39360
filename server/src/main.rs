//! The `trailkeeper` command. Errors become one line on stderr: exit code 2 for a bad
//! setting, 1 for anything that went wrong while running.

mod commands;

use std::process::ExitCode;

use tracing_subscriber::EnvFilter;
use trailkeeper::config::{self, LogFormat};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let (settings, invocation) = match config::parse() {
        Ok(parsed) => parsed,
        Err(error) => {
            eprintln!("trailkeeper: {error}");
            return ExitCode::from(2);
        }
    };
    init_logging(settings.log_format);
    // Two TLS crypto providers are linked (the AWS SDK's and the HTTP client's); the one the
    // rest of the server uses serves TLS too.
    rustls::crypto::aws_lc_rs::default_provider()
        .install_default()
        .expect("no crypto provider was installed before main");
    let runtime = tokio::runtime::Runtime::new().expect("cannot start the async runtime");
    match runtime.block_on(commands::run(settings, invocation)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("trailkeeper: {}", commands::one_line(&error));
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr; stdout is kept for what a command prints for people.
fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new("info,sqlx=warn,aws_config=error,aws_smithy_runtime=warn")
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
