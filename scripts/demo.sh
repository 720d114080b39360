#!/usr/bin/env bash
# Serves the dashboard on http://127.0.0.1:3000 with the private PostgreSQL (under
# .trailkeeper/) and the AWS API peer. Ctrl-C stops all of them.
set -euo pipefail
cd "$(dirname "$0")/.."

mkdir -p .trailkeeper
# Lets other terminals run trailkeeper commands against the same AWS peer.
export AWS_PEER_ENV_FILE=.trailkeeper/aws-peer.env
exec scripts/with-aws-peer.sh target/release/trailkeeper serve --listen 127.0.0.1:3000
