-- Local accounts. Passwords are stored only as argon2id hashes (PHC strings); a user without
-- a hash signs in through single sign-on only. Users are disabled, never deleted, so that the
-- audit log keeps naming them.
CREATE TABLE users (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$'),
    role          text NOT NULL CHECK (role IN ('viewer', 'auditor', 'admin')),
    password_hash text,
    disabled_at   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- "Alice" and "alice" are the same person.
CREATE UNIQUE INDEX users_name_unique ON users (lower(name));
