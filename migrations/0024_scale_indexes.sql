-- What a year of events and detection needs to stay fast (make bench SCALE=10m).

-- The Overview and the findings queue count and rank the active findings only; a year of
-- detection leaves many more resolved ones. These read the active ones alone: the most
-- pressing in order (the Overview's top five), and the counts by severity and by account
-- from the index without visiting the table.
CREATE INDEX findings_pressing ON findings (severity_rank(severity) DESC, last_seen DESC, id DESC)
    WHERE status IN ('open', 'acknowledged');
CREATE INDEX findings_active_counts ON findings (account_id, severity)
    WHERE status IN ('open', 'acknowledged');

-- Each assessment of rotation status (after every sync and ingest) looks up each secret's
-- newest rotation outcome: a few events a month among its reads, found here directly.
CREATE INDEX events_rotation_outcomes ON events (secret_arn, event_time DESC)
    WHERE event_name IN ('RotationSucceeded', 'RotationFailed', 'RotationAbandoned');
