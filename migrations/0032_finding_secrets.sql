-- One incident, one finding: the secrets a finding touched. A finding about a secret has
-- that secret here; findings of one kind by one principal within minutes of each other
-- (a teardown deleting seventeen secrets) are one finding with every secret here, each
-- with its own events' count, times and the detector's words about it. `findings.secret_arn`
-- stays the first secret (and the key of the active finding about it).
CREATE TABLE finding_secrets (
    finding_id  bigint NOT NULL REFERENCES findings (id) ON DELETE CASCADE,
    secret_arn  text NOT NULL,
    secret_name text,
    first_seen  timestamptz NOT NULL,
    last_seen   timestamptz NOT NULL,
    count       bigint NOT NULL,
    title       text NOT NULL,
    explanation text NOT NULL,
    PRIMARY KEY (finding_id, secret_arn)
);
CREATE INDEX finding_secrets_by_secret ON finding_secrets (secret_arn, finding_id);

INSERT INTO finding_secrets
    (finding_id, secret_arn, secret_name, first_seen, last_seen, count, title, explanation)
SELECT id, secret_arn, secret_name, first_seen, last_seen, count, title, explanation
FROM findings WHERE secret_arn IS NOT NULL;

-- A scoped person sees a finding when any of its secrets is in scope, and of its secrets
-- only those.
GRANT SELECT ON finding_secrets TO trailkeeper_scoped;
ALTER TABLE finding_secrets ENABLE ROW LEVEL SECURITY;
CREATE POLICY serving ON finding_secrets TO trailkeeper_serving USING (true);
CREATE POLICY scoped ON finding_secrets TO trailkeeper_scoped
    USING (secret_arn IN (SELECT trailkeeper_scoped_arns()));
DROP POLICY scoped ON findings;
CREATE POLICY scoped ON findings TO trailkeeper_scoped
    USING (id IN (SELECT finding_id FROM finding_secrets));
