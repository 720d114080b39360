-- What each secret's facts mean, as the server last assessed them: its rotation status with
-- the reason, the resource policy statements that open it up, and the flags the list shows.
-- Stored so the list can filter and sort on them at any size; refreshed after every sync.
ALTER TABLE secrets
    ADD COLUMN rotation_status text NOT NULL DEFAULT 'disabled',
    ADD COLUMN rotation_reason text NOT NULL DEFAULT '',
    -- [{"statement": ..., "exposure": {"kind": "public" | "cross_account", ...}, "reason": ...}]
    ADD COLUMN policy_flags jsonb NOT NULL DEFAULT '[]'::jsonb,
    ADD COLUMN flags text[] NOT NULL DEFAULT '{}',
    ADD COLUMN assessed_at timestamptz;

CREATE INDEX secrets_by_status ON secrets (rotation_status, lower(name));
