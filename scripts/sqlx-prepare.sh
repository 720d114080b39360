#!/usr/bin/env bash
# Refreshes .sqlx/, the query data with which every build checks Trailkeeper's static SQL
# (sqlx::query! and friends) without a database: run it after changing a query or a
# migration, and commit .sqlx/ with the change. Against DATABASE_URL when set, else a
# private PostgreSQL made for this run (by `trailkeeper db run`, so an earlier build of the
# binary must exist: `make build`).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH=$HOME/.cargo/bin:$PATH

if ! command -v sqlx >/dev/null; then
    cargo install sqlx-cli --version 0.8.6 --locked --no-default-features \
        --features postgres,rustls
fi

if [ -z "${DATABASE_URL:-}" ]; then
    if [ ! -x target/release/trailkeeper ]; then
        echo "sqlx-prepare: no DATABASE_URL and no target/release/trailkeeper to run a" \
            "private PostgreSQL with; run 'make build' first or set DATABASE_URL" >&2
        exit 1
    fi
    exec scripts/with-test-database.sh "$0" "$@"
fi

# The migrations as they are in the tree, which the binary that started the database may
# not have yet.
sqlx migrate run --source migrations
SQLX_OFFLINE=false cargo sqlx prepare --workspace -- --all-targets
