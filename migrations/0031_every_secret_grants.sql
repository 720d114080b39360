-- The identity statement that lets the principal do anything in Secrets Manager to every
-- resource without a condition (`secretsmanager:*` or `*` on `*`), when one does: a grant of
-- every secret, present and future, whatever the count (the `broad_grant` finding).
ALTER TABLE secret_readers ADD COLUMN every_secret text;
