-- How many new events each account × region brought in each hour (UTC), kept by ingest as it
-- stores, so that a region's usual rhythm — and a silence that breaks it — is read from a few
-- hundred rows rather than from the events table. Read by detection only.
CREATE TABLE arrival_hours (
    account_id text NOT NULL,
    region     text NOT NULL,
    hour       timestamptz NOT NULL,
    events     bigint NOT NULL,
    PRIMARY KEY (account_id, region, hour)
);

-- The rhythm needs the weeks before the newest event; older hours are never read.
INSERT INTO arrival_hours (account_id, region, hour, events)
SELECT e.account_id, e.region, date_trunc('hour', e.event_time, 'UTC'), count(*)
FROM events e
JOIN trail_coverage c USING (account_id, region)
WHERE e.event_time >= c.newest_event_at - interval '15 days'
GROUP BY 1, 2, 3;
