#!/usr/bin/env bash
# Runs a command with DATABASE_URL pointing at a private PostgreSQL made for this run only
# (by `trailkeeper db run`), and removes it afterwards.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

scratch=$(mktemp -d "${TMPDIR:-/tmp}/trailkeeper-test.XXXXXX")
# Run as root, trailkeeper runs PostgreSQL as `postgres`, which must be able to enter here.
chmod 755 "$scratch"
trap 'rm -rf "$scratch"' EXIT

"$root/target/release/trailkeeper" --data-dir "$scratch/data" db run -- "$@"
