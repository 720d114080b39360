-- What CloudTrail records in each account × region, as the last sync read it: the trails
-- DescribeTrails shows there (each with its status and what its event selectors log of
-- Secrets Manager's management events), and the best the logging ones do. `reads` and
-- `writes` are NULL when that could not be told; `error` says why.
CREATE TABLE trail_checks (
    account_id text NOT NULL,
    region     text NOT NULL,
    checked_at timestamptz NOT NULL,
    reads      text CHECK (reads IN ('none', 'partly', 'all')),
    writes     text CHECK (writes IN ('none', 'partly', 'all')),
    error      text,
    trails     jsonb NOT NULL DEFAULT '[]'::jsonb,
    PRIMARY KEY (account_id, region)
);

-- As trail_coverage (0023): a scoped person sees the accounts holding a secret in scope.
GRANT SELECT ON trail_checks TO trailkeeper_scoped;
ALTER TABLE trail_checks ENABLE ROW LEVEL SECURITY;
CREATE POLICY serving ON trail_checks TO trailkeeper_serving USING (true);
CREATE POLICY scoped ON trail_checks TO trailkeeper_scoped
    USING (account_id IN (SELECT account_id FROM secrets));
