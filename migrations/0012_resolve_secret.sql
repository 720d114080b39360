-- Which inventory secret an event's reference names: a full ARN as is; a partial ARN
-- (without AWS's 7-character suffix) by prefix; a name within the event's region and
-- account, preferring a live secret. One rule for events as they are stored and for
-- events stored before a sync found their secret.
CREATE FUNCTION resolve_secret(reference text, event_region text, event_account text)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT s.arn FROM secrets s
    WHERE CASE WHEN reference LIKE 'arn:%'
        THEN s.arn = reference
            OR (length(s.arn) = length(reference) + 7
                AND left(s.arn, length(reference)) = reference)
        ELSE s.name = reference AND s.region = event_region AND s.account_id = event_account
    END
    ORDER BY s.arn = reference DESC, s.gone_since IS NULL DESC, s.last_seen_at DESC
    LIMIT 1
$$;

-- The events still waiting for their secret, found without reading the resolved ones.
CREATE INDEX events_unresolved ON events (secret_ref, region, account_id)
    WHERE secret_arn IS NULL AND secret_ref IS NOT NULL;
