#!/usr/bin/env bash
# Runs a command with the AWS API peer (moto's server) on a free loopback port, and the AWS
# SDK's standard variables pointing at it; stops the peer when the command ends.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

port=${AWS_PEER_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
mkdir -p "$root/target"
log="$root/target/aws-peer.log"
# AWS_PEER_CLOCK_FILE: the peer's clock runs at the offset in that file (libfaketime), so
# the demo can give its estate a history.
clock=()
if [ -n "${AWS_PEER_CLOCK_FILE:-}" ]; then
  faketime_lib=$(compgen -G '/usr/lib/*/faketime/libfaketimeMT.so.1' | head -n 1 || true)
  if [ -z "$faketime_lib" ]; then
    echo "AWS_PEER_CLOCK_FILE needs libfaketime (apt package faketime); scripts/setup.sh installs it" >&2
    exit 1
  fi
  [ -s "$AWS_PEER_CLOCK_FILE" ] || echo "+0" >"$AWS_PEER_CLOCK_FILE"
  clock=(env "LD_PRELOAD=$faketime_lib" "FAKETIME_TIMESTAMP_FILE=$AWS_PEER_CLOCK_FILE"
    FAKETIME_NO_CACHE=1 FAKETIME_DONT_FAKE_MONOTONIC=1)
fi
"${clock[@]}" "$root/.venv/bin/python" "$root/scripts/aws-peer.py" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
peer=$!
trap 'kill "$peer" 2>/dev/null || true; wait "$peer" 2>/dev/null || true' EXIT

for _ in $(seq 200); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  if ! kill -0 "$peer" 2>/dev/null; then
    echo "the AWS API peer (moto) did not start; its log, $log, says:" >&2
    cat "$log" >&2
    exit 1
  fi
  sleep 0.1
done

# Lambda functions (rotation functions) run without containers: each invocation answers OK.
"$root/.venv/bin/python" -c 'import sys, urllib.request; urllib.request.urlopen(urllib.request.Request(sys.argv[1] + "/moto-api/config", data=b"{\"lambda\": {\"use_docker\": false}}", method="POST"))' "http://127.0.0.1:$port"

export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
export AWS_ACCESS_KEY_ID=trailkeeper-local AWS_SECRET_ACCESS_KEY=trailkeeper-local
export AWS_REGION=${AWS_REGION:-us-east-1}
# A developer's own AWS profile must not leak into the local peer's world.
unset AWS_PROFILE AWS_SESSION_TOKEN
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
echo "AWS API peer (moto) at $AWS_ENDPOINT_URL, region $AWS_REGION" >&2
if [ -n "${AWS_PEER_ENV_FILE:-}" ]; then
  printf 'export %s\n' "AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL" "AWS_REGION=$AWS_REGION" \
    "AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID" "AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY" \
    "AWS_CONFIG_FILE=/dev/null" "AWS_SHARED_CREDENTIALS_FILE=/dev/null" >"$AWS_PEER_ENV_FILE"
  echo "Other terminals reach the same peer after: source $AWS_PEER_ENV_FILE" >&2
fi

"$@"
