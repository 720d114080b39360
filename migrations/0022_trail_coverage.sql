-- Whether each account's CloudTrail is arriving: per account and region, the newest event
-- stored, kept by ingest as it stores (one row per account × region), so the Overview never
-- reads the events table for it.
CREATE TABLE trail_coverage (
    account_id      text NOT NULL,
    region          text NOT NULL,
    newest_event_at timestamptz NOT NULL,
    PRIMARY KEY (account_id, region)
);

INSERT INTO trail_coverage (account_id, region, newest_event_at)
SELECT account_id, region, max(event_time)
FROM events
WHERE account_id IS NOT NULL AND region IS NOT NULL
GROUP BY account_id, region;
