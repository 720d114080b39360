-- The AWS accounts Trailkeeper covers: discovered in the Organization
-- (TRAILKEEPER_ORG_ROLE_NAME) or listed as roles (TRAILKEEPER_ACCOUNTS). An account that
-- leaves the Organization or the list keeps its row and its history; `last_seen_at` says when
-- discovery last found it. The default single account has no row: its secrets carry its id.
CREATE TABLE accounts (
    id            text PRIMARY KEY CHECK (id ~ '^[0-9]{12}$'),
    -- The Organization's name for it; NULL for a listed role (only its id is known).
    name          text,
    -- The role Trailkeeper assumes in it; NULL for the credentials' own account.
    role_arn      text,
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now()
);

-- A sync run is one account's region; NULL for the credentials' own account.
ALTER TABLE sync_runs ADD COLUMN account_id text;
CREATE INDEX sync_runs_of_account ON sync_runs (account_id, region, started_at DESC);

CREATE INDEX secrets_by_account ON secrets (account_id, region);
