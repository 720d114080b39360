-- The inventory: what AWS Secrets Manager holds about each secret (never its value), kept
-- from sync to sync. A secret or version that disappears from AWS is marked gone, never
-- deleted, so its history stays.
CREATE TABLE sync_runs (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    region      text NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    outcome     text NOT NULL DEFAULT 'running'
        CHECK (outcome IN ('running', 'succeeded', 'partial', 'failed')),
    secrets_seen    integer NOT NULL DEFAULT 0,
    secrets_new     integer NOT NULL DEFAULT 0,
    secrets_gone    integer NOT NULL DEFAULT 0,
    label_moves     integer NOT NULL DEFAULT 0,
    -- [{"secret": ARN or null, "operation": "DescribeSecret", "code": "...", "message": "..."}]
    errors      jsonb NOT NULL DEFAULT '[]'::jsonb
);

CREATE INDEX sync_runs_newest ON sync_runs (region, started_at DESC);

CREATE TABLE secrets (
    arn                 text PRIMARY KEY,
    name                text NOT NULL,
    region              text NOT NULL,
    account_id          text NOT NULL,
    description         text,
    kms_key_id          text,
    tags                jsonb NOT NULL DEFAULT '{}'::jsonb,
    owning_service      text,
    created_at          timestamptz,
    last_changed_at     timestamptz,
    last_accessed_at    timestamptz,
    last_rotated_at     timestamptz,
    next_rotation_at    timestamptz,
    rotation_enabled    boolean NOT NULL DEFAULT false,
    rotation_lambda_arn text,
    rotation_after_days integer,
    rotation_schedule   text,
    rotation_window     text,
    -- AWS's DeletedDate: when a scheduled deletion was requested.
    deletion_requested_at timestamptz,
    primary_region      text,
    -- [{"region": ..., "kms_key_id": ..., "status": ..., "status_message": ...}]
    replication         jsonb NOT NULL DEFAULT '[]'::jsonb,
    resource_policy     jsonb,
    first_seen_at       timestamptz NOT NULL DEFAULT now(),
    last_seen_at        timestamptz NOT NULL DEFAULT now(),
    gone_since          timestamptz
);

CREATE INDEX secrets_by_name ON secrets (lower(name), arn);
CREATE INDEX secrets_by_region ON secrets (region, lower(name));

CREATE TABLE secret_versions (
    secret_arn       text NOT NULL REFERENCES secrets (arn),
    version_id       text NOT NULL,
    created_at       timestamptz,
    last_accessed_at timestamptz,
    kms_key_ids      text[] NOT NULL DEFAULT '{}',
    labels           text[] NOT NULL DEFAULT '{}',
    first_seen_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at     timestamptz NOT NULL DEFAULT now(),
    gone_since       timestamptz,
    PRIMARY KEY (secret_arn, version_id)
);

-- Every observed move of a staging label: from one version to another, onto a version
-- (from_version null) or off every version (to_version null).
CREATE TABLE label_history (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    secret_arn   text NOT NULL REFERENCES secrets (arn),
    label        text NOT NULL,
    from_version text,
    to_version   text,
    observed_at  timestamptz NOT NULL DEFAULT now(),
    source       text NOT NULL CHECK (source IN ('sync', 'cloudtrail'))
);

CREATE INDEX label_history_of_secret ON label_history (secret_arn, observed_at);
