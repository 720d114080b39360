-- What a finding is about when it is neither a principal nor a secret: a trail (by its ARN),
-- or an account × region (`111111111111/eu-west-1`). One active finding per kind,
-- principal, secret and subject; findings about a principal or a secret have none, so they
-- keep their identity.
ALTER TABLE findings ADD COLUMN subject text;
DROP INDEX findings_active;
CREATE UNIQUE INDEX findings_active ON findings
    (kind, COALESCE(principal, ''), COALESCE(secret_arn, ''), COALESCE(subject, ''))
    WHERE status <> 'resolved';
