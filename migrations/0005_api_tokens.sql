-- Bearer tokens for automation. Each has its own role; only the token's SHA-256 is stored.
-- A revoked token's name can be given to a new one; the old row stays for the audit trail.
CREATE TABLE api_tokens (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$'),
    role         text NOT NULL CHECK (role IN ('viewer', 'auditor', 'admin')),
    token_hash   bytea NOT NULL UNIQUE,
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    last_used_at timestamptz,
    revoked_at   timestamptz
);

CREATE UNIQUE INDEX api_tokens_active_name ON api_tokens (lower(name)) WHERE revoked_at IS NULL;
