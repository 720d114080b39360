-- How far each continuing source has read: an S3 trail prefix (the last object key), a
-- region's LookupEvents (the newest event time covered). A checkpoint advances in the same
-- transaction as the events it covers, so a restart neither skips nor repeats anything.
CREATE TABLE ingest_checkpoints (
    -- `s3://bucket/AWSLogs/111122223333/CloudTrail/us-east-1/`, `lookup:us-east-1`.
    source             text PRIMARY KEY,
    position           text NOT NULL,
    -- The newest event time among what the source has delivered: its lag is now minus this.
    newest_event_time  timestamptz,
    advanced_at        timestamptz NOT NULL DEFAULT now()
);

-- Re-reading a file after a crash (its checkpoint had not advanced yet) must not set the same
-- bad record aside twice.
CREATE UNIQUE INDEX quarantine_once ON quarantine (source, coalesce(position, ''), reason);

-- Each configured source's last poll, for the ingestion status on the Overview: a source
-- that keeps failing (bad credentials, a missing bucket) says so there.
CREATE TABLE ingest_polls (
    -- The source as configured: `s3://trails/`, `LookupEvents in us-east-1`.
    source       text PRIMARY KEY,
    polled_at    timestamptz NOT NULL,
    error        text,
    new_events   bigint NOT NULL DEFAULT 0
);
