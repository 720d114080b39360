-- CloudTrail events about Secrets Manager, each stored once (by eventID) however often it
-- arrives, partitioned by month of event time so retention drops whole partitions. The
-- partitions are made by the ingest as months appear.
CREATE TABLE events (
    event_id          text NOT NULL,
    event_time        timestamptz NOT NULL,
    event_name        text NOT NULL,
    event_source      text NOT NULL,
    event_type        text,
    region            text,
    -- The account the event was delivered to.
    account_id        text,
    -- The secret as the record named it, and the inventory's ARN it resolved to.
    secret_ref        text,
    secret_arn        text,
    principal         text,
    session_name      text,
    principal_account text,
    principal_type    text,
    source_ip         inet,
    -- An AWS service that called (`lambda.amazonaws.com`) or another non-address source.
    source_service    text,
    user_agent        text,
    user_agent_family text,
    error_code        text,
    error_message     text,
    read_only         boolean,
    raw               jsonb NOT NULL,
    -- Which source delivered it first: a file, an S3 object, LookupEvents.
    ingested_from     text NOT NULL,
    ingested_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, event_time)
) PARTITION BY RANGE (event_time);

-- The explorer lists newest first, mostly narrowed to one secret or one principal; each of
-- these serves one of those orders without a sort.
CREATE INDEX events_newest ON events (event_time DESC);
CREATE INDEX events_by_secret ON events (secret_arn, event_time DESC);
CREATE INDEX events_by_principal ON events (principal, event_time DESC);

-- Records and files that could not be read, kept with where they came from and why.
CREATE TABLE quarantine (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source          text NOT NULL,
    position        text,
    reason          text NOT NULL,
    -- The record as found, cut to a size a person can read.
    excerpt         text,
    quarantined_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX quarantine_newest ON quarantine (quarantined_at DESC);
