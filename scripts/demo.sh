#!/usr/bin/env bash
# Serves the dashboard on http://127.0.0.1:3000 with the private PostgreSQL (under
# .trailkeeper/) and the AWS API peer, seeded with a demo estate of secrets and synced.
# Ctrl-C stops all of them.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=target/release/trailkeeper
mkdir -p .trailkeeper
# Alert channels reach no loopback or private address unless listed: the demo's receiver is
# on this machine.
export TRAILKEEPER_ALERT_ALLOWED_HOSTS=127.0.0.1

# The demo's administrator gets a newly generated password on every run, shown below: a
# demo has no fixed default password, and nobody has to find the first run's output.
password=$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')
# Read whole before matching: `grep -q` would close the pipe while the list is still written.
users=$("$bin" user list)
if grep -q '^admin ' <<<"$users"; then
  printf '%s\n' "$password" | "$bin" user set-password admin --password-stdin >/dev/null
else
  printf '%s\n' "$password" | "$bin" user add admin --role admin --password-stdin >/dev/null
fi
# A second person, limited to the payments team's secrets (tagged team=payments): what a
# team member sees of the same estate.
team_password=$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')
if grep -q '^payments ' <<<"$users"; then
  printf '%s\n' "$team_password" | "$bin" user set-password payments --password-stdin >/dev/null
  "$bin" user set-scope payments team=payments >/dev/null
else
  printf '%s\n' "$team_password" |
    "$bin" user add payments --role auditor --scope team=payments --password-stdin >/dev/null
fi
# Alerts: a local webhook receiver, and a channel to it for findings of low severity and up.
webhook_key=.trailkeeper/demo-webhook.key
if [ ! -s "$webhook_key" ]; then
  (umask 077; python3 -c 'import secrets; print("whsec_" + secrets.token_urlsafe(32))' >"$webhook_key")
fi
if ! "$bin" channel list | grep -q ' demo receiver$'; then
  "$bin" channel add "demo receiver" --kind webhook --min-severity low \
    --config "{\"url\": \"http://127.0.0.1:3001/hook\", \"signing_key\": \"$(cat "$webhook_key")\"}"
fi

cat <<BANNER

  Trailkeeper demo: http://127.0.0.1:3000
  Sign in as:       admin
  Password:         $password
  Or, as a team:    payments (auditor, sees only secrets tagged team=payments)
  Its password:     $team_password
  Alerts sent:      http://127.0.0.1:3001/ (the demo's webhook receiver)

BANNER

# Lets other terminals run trailkeeper commands against the same AWS peer.
export AWS_PEER_ENV_FILE=.trailkeeper/aws-peer.env
export AWS_PEER_CLOCK_FILE=.trailkeeper/aws-peer.clock
export TRAILKEEPER_REGIONS=us-east-1,eu-west-1,ap-southeast-1
# The estate is an Organization's: management, prod and dev accounts, each synced through the
# role Organizations made in it.
export TRAILKEEPER_ORG_ROLE_NAME=OrganizationAccountAccessRole
# The AWS API peer has no CloudTrail LookupEvents.
export TRAILKEEPER_LOOKUP_INTERVAL=off
# A month of CloudTrail for the estate, as trail files in the peer's S3, which serve reads
# through its S3 source (the Overview shows its progress).
export TRAILKEEPER_S3_TRAILS=s3://trailkeeper-demo-trail/
# The peer starts empty: seed the estate (200 days of it), write its organisation trail,
# sync it once, then serve.
exec scripts/with-aws-peer.sh bash -c 'set -e
  python3 scripts/demo-receiver.py --port 3001 --key-file .trailkeeper/demo-webhook.key \
    --log .trailkeeper/demo-webhook.jsonl &
  trap "kill $! 2>/dev/null" EXIT
  .venv/bin/python scripts/seed-demo.py --organization --clock "$AWS_PEER_CLOCK_FILE"
  .venv/bin/python scripts/demo-trail.py trailkeeper-demo-trail
  "$0" sync
  "$0" serve --listen 127.0.0.1:3000' "$bin"
