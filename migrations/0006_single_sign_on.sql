-- Single sign-on: accounts the identity provider vouches for, and sign-ins under way.
-- `external_id` is the provider's issuer and the account's subject, which never change even
-- when the account is renamed at the provider.
ALTER TABLE users ADD COLUMN external_id text UNIQUE;

-- One row per sign-in sent to the provider: the one-time `state` (stored as a digest), the
-- PKCE verifier and the nonce the ID token must carry. Used once, within ten minutes.
CREATE TABLE sso_logins (
    state_hash    bytea PRIMARY KEY,
    pkce_verifier text NOT NULL,
    nonce         text NOT NULL,
    next          text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
