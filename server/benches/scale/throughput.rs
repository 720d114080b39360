//! Requests a second at 50 concurrent connections, measured by `wrk` against the router served
//! on a real socket: the Secrets page and `/api/v1/secrets`, beside the same server serving a
//! static file (what it can answer at all, on the same cores).

use std::net::SocketAddr;
use std::process::Command;

use sqlx::PgPool;
use trailkeeper_app::Role;

use crate::common::app_as;

const CONNECTIONS: &str = "50";
const SECONDS: &str = "10s";
/// A file `cargo leptos build` puts in the site root.
const STATIC_FILE: &str = "/favicon.svg";

pub async fn measure(pool: &PgPool) -> anyhow::Result<()> {
    if Command::new("wrk").arg("--version").output().is_err() {
        println!("HTTP throughput: skipped, wrk is not installed (scripts/setup.sh installs it)");
        return Ok(());
    }
    // Unfound, the file would be answered by a redirect to the sign-in page, and measured.
    let site = std::env::var("LEPTOS_SITE_ROOT").unwrap_or_else(|_| "target/site".into());
    anyhow::ensure!(
        std::path::Path::new(&site)
            .join(STATIC_FILE.trim_start_matches('/'))
            .exists(),
        "{STATIC_FILE} is not in LEPTOS_SITE_ROOT={site}: build the site first (make build)"
    );
    let (app, cookie) = app_as(pool.clone(), Role::Viewer).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });

    println!("HTTP throughput, {CONNECTIONS} connections for {SECONDS} each (wrk):");
    let file = requests_per_second(address, STATIC_FILE, &cookie)?;
    println!("  static file {STATIC_FILE:<28} {file:>8.0} requests/s");
    for (what, path) in [
        ("Secrets page", "/secrets"),
        ("GET /api/v1/secrets", "/api/v1/secrets"),
    ] {
        let served = requests_per_second(address, path, &cookie)?;
        println!(
            "  {what:<40} {served:>8.0} requests/s = {:>3.0} % of the static file's (target ≥ 25 %)",
            served / file * 100.0
        );
    }
    Ok(())
}

/// wrk's requests/s for `path`, after checking every answer was a success.
fn requests_per_second(address: SocketAddr, path: &str, cookie: &str) -> anyhow::Result<f64> {
    let output = Command::new("wrk")
        .args(["-t2", "-c", CONNECTIONS, "-d", SECONDS])
        .args(["-H", &format!("Cookie: {cookie}")])
        .args(["-H", "Host: 127.0.0.1:3000"])
        .arg(format!("http://{address}{path}"))
        .output()?;
    let report = String::from_utf8_lossy(&output.stdout);
    anyhow::ensure!(output.status.success(), "wrk failed on {path}: {report}");
    anyhow::ensure!(
        !report.contains("Non-2xx or 3xx responses"),
        "{path} answered errors under load: {report}"
    );
    report
        .lines()
        .find_map(|line| line.strip_prefix("Requests/sec:"))
        .and_then(|rate| rate.trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("wrk printed no rate for {path}: {report}"))
}
