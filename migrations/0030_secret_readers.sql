-- Who can read each secret's value, as its account's IAM policies, its resource policy and
-- its KMS key's policy grant it (`inventory::grants`), evaluated at each sync: `reach` is
-- `yes`, or `possibly` when a condition that depends on the request decides. `granted_by`
-- names the statements that grant it; `reasons` why it is only possible.
CREATE TABLE secret_readers (
    secret_arn text NOT NULL REFERENCES secrets (arn) ON DELETE CASCADE,
    principal  text NOT NULL,
    reach      text NOT NULL CHECK (reach IN ('yes', 'possibly')),
    granted_by text[] NOT NULL,
    reasons    text[] NOT NULL,
    PRIMARY KEY (secret_arn, principal)
);
CREATE INDEX secret_readers_by_principal ON secret_readers (principal);

-- When each account's grants were last read, how many users and roles it has, and what AWS
-- refused (then the readers stored before stay as they were).
CREATE TABLE grant_checks (
    account_id text PRIMARY KEY,
    checked_at timestamptz NOT NULL,
    principals integer NOT NULL,
    error      text
);

GRANT SELECT ON secret_readers, grant_checks TO trailkeeper_scoped;
ALTER TABLE secret_readers ENABLE ROW LEVEL SECURITY;
CREATE POLICY serving ON secret_readers TO trailkeeper_serving USING (true);
CREATE POLICY scoped ON secret_readers TO trailkeeper_scoped
    USING (secret_arn IN (SELECT trailkeeper_scoped_arns()));
ALTER TABLE grant_checks ENABLE ROW LEVEL SECURITY;
CREATE POLICY serving ON grant_checks TO trailkeeper_serving USING (true);
CREATE POLICY scoped ON grant_checks TO trailkeeper_scoped
    USING (account_id IN (SELECT account_id FROM secrets));
