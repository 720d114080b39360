-- Secrets known from CloudTrail before (or without) the inventory: each full ARN an event
-- carries where AWS writes the full ARN (`resources`, the response's `arn`, a service event's
-- `SecretId`). It teaches the references what a bare name or partial ARN means in an account
-- the inventory does not cover, or before its first sync, so events naming one secret three
-- ways are one secret's events. The inventory, when it knows the secret, is preferred.
CREATE TABLE event_secret_arns (
    arn           text PRIMARY KEY CHECK (
        arn ~ '^arn:[a-z-]+:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+-[A-Za-z0-9]{6}$'),
    region        text NOT NULL GENERATED ALWAYS AS (split_part(arn, ':', 4)) STORED,
    account_id    text NOT NULL GENERATED ALWAYS AS (split_part(arn, ':', 5)) STORED,
    -- The resource part less AWS's 7-character suffix (`-` and six characters).
    name          text NOT NULL GENERATED ALWAYS AS (
        left(substr(arn, strpos(arn, ':secret:') + 8), -7)) STORED,
    first_seen_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX event_secret_arns_by_partial_arn ON event_secret_arns (left(arn, length(arn) - 7));
CREATE INDEX event_secret_arns_by_name ON event_secret_arns (name, region, account_id);

-- The rule of 0012, with what events taught after what the inventory knows.
CREATE OR REPLACE VIEW secret_references AS
    SELECT arn AS reference, NULL::text AS region, NULL::text AS account_id, arn,
           0 AS preference, gone_since, last_seen_at
    FROM secrets
    UNION ALL
    SELECT left(arn, length(arn) - 7), NULL, NULL, arn, 1, gone_since, last_seen_at
    FROM secrets
    UNION ALL
    SELECT name, region, account_id, arn, 1, gone_since, last_seen_at
    FROM secrets
    UNION ALL
    SELECT arn, NULL, NULL, arn, 2, NULL, first_seen_at
    FROM event_secret_arns
    UNION ALL
    SELECT left(arn, length(arn) - 7), NULL, NULL, arn, 3, NULL, first_seen_at
    FROM event_secret_arns
    UNION ALL
    SELECT name, region, account_id, arn, 3, NULL, first_seen_at
    FROM event_secret_arns;
