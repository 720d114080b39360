-- Scoped access: a user or API token may be limited to some accounts, secret tags and name
-- prefixes (its scope's terms, as `app::scope::Scope` writes them; NULL: unscoped).
ALTER TABLE users ADD COLUMN scope text[];
ALTER TABLE api_tokens ADD COLUMN scope text[];

-- A scoped person's reads run in a read-only transaction as `trailkeeper_scoped`, with their
-- scope as JSON in the setting `trailkeeper.scope`
-- ({"accounts": [...], "tags": [{"key": "value"}, ...], "prefixes": [...]}). The policies
-- below are the one place that decides what such a read sees: a secret when any term
-- matches it, everything else through the secrets it belongs to. Serving itself (sync,
-- ingest, detection, unscoped people) sees every row, as before.
DO $$
BEGIN
    CREATE ROLE trailkeeper_scoped NOLOGIN;
EXCEPTION
    WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;
-- Members of the serving role may take on the scoped role for a transaction.
DO $$
BEGIN
    GRANT trailkeeper_scoped TO trailkeeper_serving;
EXCEPTION
    -- Another database in the cluster granted it at the same moment.
    WHEN unique_violation THEN NULL;
END
$$;

-- The secrets the current scope covers; none when no scope is set (fail closed). As the
-- owner, it reads `secrets` past its own policy, once per statement, each kind of term
-- through its own index.
CREATE INDEX secrets_by_tags ON secrets USING gin (tags jsonb_path_ops);
CREATE INDEX secrets_by_name_prefix ON secrets USING spgist (name);

CREATE FUNCTION trailkeeper_scoped_arns()
RETURNS SETOF text LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH scope AS (
        SELECT NULLIF(current_setting('trailkeeper.scope', true), '')::jsonb AS terms
    )
    SELECT secrets.arn FROM scope, jsonb_array_elements_text(scope.terms -> 'accounts') account
        JOIN secrets ON secrets.account_id = account
    UNION
    SELECT secrets.arn FROM scope, jsonb_array_elements(scope.terms -> 'tags') tag
        JOIN secrets ON secrets.tags @> tag
    UNION
    SELECT secrets.arn FROM scope, jsonb_array_elements_text(scope.terms -> 'prefixes') prefix
        JOIN secrets ON secrets.name ^@ prefix
$$;

GRANT SELECT ON secrets, secret_versions, label_history, events, event_secret_arns, findings,
    accounts, sync_runs, trail_coverage, audit_log, change_approvals, settings, suppressions,
    quarantine, ingest_checkpoints, ingest_polls, secret_references TO trailkeeper_scoped;

-- Views read with the reader's rights, so the policies hold through them.
ALTER VIEW secret_references SET (security_invoker = true);

ALTER TABLE secrets ENABLE ROW LEVEL SECURITY;
CREATE POLICY serving ON secrets TO trailkeeper_serving USING (true);
CREATE POLICY scoped ON secrets TO trailkeeper_scoped
    USING (arn IN (SELECT trailkeeper_scoped_arns()));

ALTER TABLE secret_versions ENABLE ROW LEVEL SECURITY;
CREATE POLICY serving ON secret_versions TO trailkeeper_serving USING (true);
CREATE POLICY scoped ON secret_versions TO trailkeeper_scoped
    USING (secret_arn IN (SELECT trailkeeper_scoped_arns()));

ALTER TABLE label_history ENABLE ROW LEVEL SECURITY;
CREATE POLICY serving ON label_history TO trailkeeper_serving USING (true);
CREATE POLICY scoped ON label_history TO trailkeeper_scoped
    USING (secret_arn IN (SELECT trailkeeper_scoped_arns()));

-- Events naming no inventoried secret are for unscoped people only.
ALTER TABLE events ENABLE ROW LEVEL SECURITY;
CREATE POLICY serving ON events TO trailkeeper_serving USING (true);
CREATE POLICY scoped ON events TO trailkeeper_scoped
    USING (secret_arn IN (SELECT trailkeeper_scoped_arns()));

ALTER TABLE event_secret_arns ENABLE ROW LEVEL SECURITY;
CREATE POLICY serving ON event_secret_arns TO trailkeeper_serving USING (true);
CREATE POLICY scoped ON event_secret_arns TO trailkeeper_scoped
    USING (arn IN (SELECT trailkeeper_scoped_arns()));

ALTER TABLE findings ENABLE ROW LEVEL SECURITY;
CREATE POLICY serving ON findings TO trailkeeper_serving USING (true);
CREATE POLICY scoped ON findings TO trailkeeper_scoped
    USING (secret_arn IN (SELECT trailkeeper_scoped_arns()));

ALTER TABLE change_approvals ENABLE ROW LEVEL SECURITY;
CREATE POLICY serving ON change_approvals TO trailkeeper_serving USING (true);
CREATE POLICY scoped ON change_approvals TO trailkeeper_scoped
    USING (secret_arn IN (SELECT trailkeeper_scoped_arns()));

-- Accounts, their sync runs and trail coverage: those holding a secret in scope.
ALTER TABLE accounts ENABLE ROW LEVEL SECURITY;
CREATE POLICY serving ON accounts TO trailkeeper_serving USING (true);
CREATE POLICY scoped ON accounts TO trailkeeper_scoped
    USING (id IN (SELECT account_id FROM secrets));

ALTER TABLE sync_runs ENABLE ROW LEVEL SECURITY;
CREATE POLICY serving ON sync_runs TO trailkeeper_serving USING (true);
CREATE POLICY scoped ON sync_runs TO trailkeeper_scoped
    USING (account_id IN (SELECT account_id FROM secrets));

ALTER TABLE trail_coverage ENABLE ROW LEVEL SECURITY;
CREATE POLICY serving ON trail_coverage TO trailkeeper_serving USING (true);
CREATE POLICY scoped ON trail_coverage TO trailkeeper_scoped
    USING (account_id IN (SELECT account_id FROM secrets));

-- Audit entries about a secret or a finding in scope.
ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY serving ON audit_log TO trailkeeper_serving USING (true);
CREATE POLICY scoped ON audit_log TO trailkeeper_scoped
    USING (detail ->> 'secret' IN (SELECT trailkeeper_scoped_arns())
           OR detail -> 'finding_id' IN (SELECT to_jsonb(id) FROM findings));

-- Estate-wide records no scope covers: suppressions, quarantined records, ingest sources.
ALTER TABLE suppressions ENABLE ROW LEVEL SECURITY;
CREATE POLICY serving ON suppressions TO trailkeeper_serving USING (true);
ALTER TABLE quarantine ENABLE ROW LEVEL SECURITY;
CREATE POLICY serving ON quarantine TO trailkeeper_serving USING (true);
ALTER TABLE ingest_checkpoints ENABLE ROW LEVEL SECURITY;
CREATE POLICY serving ON ingest_checkpoints TO trailkeeper_serving USING (true);
ALTER TABLE ingest_polls ENABLE ROW LEVEL SECURITY;
CREATE POLICY serving ON ingest_polls TO trailkeeper_serving USING (true);
