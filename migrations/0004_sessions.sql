-- Browser sessions. The cookie carries a random 256-bit id; only its SHA-256 is stored, so a
-- copy of this table cannot be used to sign in.
CREATE TABLE sessions (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash   bytea NOT NULL UNIQUE,
    user_id      bigint NOT NULL REFERENCES users (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    address      text,
    user_agent   text
);

CREATE INDEX sessions_of_user ON sessions (user_id) WHERE revoked_at IS NULL;

-- Failed sign-ins, counted per account and per client address to slow down guessing.
CREATE TABLE sign_in_failures (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    failed_at timestamptz NOT NULL DEFAULT now(),
    account   text NOT NULL,
    address   text NOT NULL
);

CREATE INDEX sign_in_failures_account ON sign_in_failures (lower(account), failed_at);
CREATE INDEX sign_in_failures_address ON sign_in_failures (address, failed_at);
