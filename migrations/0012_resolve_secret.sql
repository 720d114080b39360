-- Every reference that names a secret, with the rule for matching it: the full ARN; the
-- partial ARN (without AWS's 7-character suffix); the name, which only names it within its
-- region and account. An event's reference matches the rows with the same reference (and,
-- for a name, the event's region and account); the first by `preference`, then a live
-- secret, then the latest seen, is its secret. Names cannot contain ':', so a name never
-- equals an ARN. One rule for events as they are stored and for events stored before a
-- sync found their secret (`ingest::store`).
CREATE VIEW secret_references AS
    SELECT arn AS reference, NULL::text AS region, NULL::text AS account_id, arn,
           0 AS preference, gone_since, last_seen_at
    FROM secrets
    UNION ALL
    SELECT left(arn, length(arn) - 7), NULL, NULL, arn, 1, gone_since, last_seen_at
    FROM secrets
    UNION ALL
    SELECT name, region, account_id, arn, 1, gone_since, last_seen_at
    FROM secrets;

-- So that a batch naming a few secrets of a large inventory looks each form up directly.
CREATE INDEX secrets_by_partial_arn ON secrets (left(arn, length(arn) - 7));
CREATE INDEX secrets_by_exact_name ON secrets (name, region, account_id);

-- The events still waiting for their secret, found without reading the resolved ones.
CREATE INDEX events_unresolved ON events (secret_ref, region, account_id)
    WHERE secret_arn IS NULL AND secret_ref IS NOT NULL;
