-- Detection: what the detectors remember between batches, the findings they make, the rules
-- that suppress findings, and the settings (thresholds) they run with.

-- Each detector's memory (first-seen sets, hourly counts, recent windows), one JSON document
-- per key it chose (a principal, a principal and a secret, …), so a restart resumes where it
-- stopped and a backfill can start it afresh.
CREATE TABLE detector_state (
    detector text NOT NULL,
    key      text NOT NULL,
    state    jsonb NOT NULL,
    PRIMARY KEY (detector, key)
);

CREATE TABLE findings (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind          text NOT NULL,
    severity      text NOT NULL
        CHECK (severity IN ('info', 'low', 'medium', 'high', 'critical')),
    title         text NOT NULL,
    explanation   text NOT NULL,
    secret_arn    text,
    secret_name   text,
    principal     text,
    account_id    text,
    region        text,
    first_seen    timestamptz NOT NULL,
    last_seen     timestamptz NOT NULL,
    count         bigint NOT NULL,
    -- The first events of it, capped; `count` has the full number.
    evidence_event_ids text[] NOT NULL DEFAULT '{}',
    -- The detector's numbers (baseline, observed, the step that failed…) and the settings'
    -- values it used.
    detail        jsonb NOT NULL DEFAULT '{}'::jsonb,
    status        text NOT NULL DEFAULT 'open'
        CHECK (status IN ('open', 'acknowledged', 'resolved', 'suppressed')),
    assignee      text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- One active finding per kind, principal and secret: new evidence adds to it.
CREATE UNIQUE INDEX findings_active ON findings
    (kind, COALESCE(principal, ''), COALESCE(secret_arn, ''))
    WHERE status <> 'resolved';
CREATE INDEX findings_newest ON findings (last_seen DESC, id DESC);
CREATE INDEX findings_by_secret ON findings (secret_arn, last_seen DESC);

-- Findings matching a rule until it expires are kept as suppressed. A missing kind,
-- principal or secret pattern matches any; patterns may use `*`.
CREATE TABLE suppressions (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind              text,
    principal_pattern text,
    secret_pattern    text,
    until             timestamptz NOT NULL,
    reason            text NOT NULL,
    created_by        text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now()
);

-- Settings admins change at run time, one JSON document per area ('detection').
CREATE TABLE settings (
    area       text PRIMARY KEY,
    value      jsonb NOT NULL,
    updated_by text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- A finding's triage history is its entries in the audit log.
CREATE INDEX audit_log_by_finding ON audit_log (((detail ->> 'finding_id')::bigint), id)
    WHERE detail ? 'finding_id';

-- A suppression pattern as LIKE reads it: `*` matches anything, everything else itself.
CREATE FUNCTION glob_to_like(pattern text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT
    RETURN replace(replace(replace(replace(pattern, '\', '\\'), '%', '\%'), '_', '\_'), '*', '%');

-- Whether a rule in force suppresses a finding of this kind, principal and secret (its
-- pattern may match the secret's name or ARN).
CREATE FUNCTION suppressed(kind text, principal text, secret_arn text, secret_name text)
    RETURNS boolean
    LANGUAGE sql STABLE
    RETURN EXISTS (
        SELECT 1 FROM suppressions s
        WHERE s.until > now()
          AND (s.kind IS NULL OR s.kind = suppressed.kind)
          AND (s.principal_pattern IS NULL
               OR COALESCE(suppressed.principal, '') LIKE glob_to_like(s.principal_pattern))
          AND (s.secret_pattern IS NULL
               OR COALESCE(suppressed.secret_name, '') LIKE glob_to_like(s.secret_pattern)
               OR COALESCE(suppressed.secret_arn, '') LIKE glob_to_like(s.secret_pattern)));

-- Severities in order, so a finding's severity only ever rises as evidence is added.
CREATE FUNCTION severity_rank(severity text) RETURNS integer
    LANGUAGE sql IMMUTABLE STRICT
    RETURN array_position(ARRAY['info', 'low', 'medium', 'high', 'critical'], severity);
