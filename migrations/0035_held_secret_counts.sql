-- How many secrets AWS still has in each account × region, kept by triggers as secrets are
-- written, so that the Secrets list's "N secrets" for the whole inventory (or an account or a
-- region of it) is a sum over a few rows instead of a count of tens of thousands on every
-- view. The count of any other filter still counts the secrets themselves.
CREATE TABLE held_secret_counts (
    account_id text NOT NULL,
    region     text NOT NULL,
    secrets    bigint NOT NULL,
    PRIMARY KEY (account_id, region)
);

-- Only people who see every secret read the counts: for a scoped person no row exists, and
-- their count is of the secrets their scope lets them see.
GRANT SELECT ON held_secret_counts TO trailkeeper_scoped;
ALTER TABLE held_secret_counts ENABLE ROW LEVEL SECURITY;
CREATE POLICY serving ON held_secret_counts TO trailkeeper_serving USING (true);

-- Each statement's rows as they were (OLD TABLE) and as they are (NEW TABLE): a secret
-- counts while its gone_since is NULL. A sync stores one secret per statement, so the counts
-- are touched only when a secret comes, goes or comes back.
CREATE FUNCTION count_held_secrets() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO held_secret_counts AS held (account_id, region, secrets)
        SELECT account_id, region, count(*) FROM new_rows WHERE gone_since IS NULL
        GROUP BY account_id, region
        ON CONFLICT (account_id, region) DO UPDATE SET secrets = held.secrets + EXCLUDED.secrets;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE held_secret_counts AS held SET secrets = held.secrets - went.secrets
        FROM (SELECT account_id, region, count(*) AS secrets FROM old_rows
              WHERE gone_since IS NULL GROUP BY account_id, region) AS went
        WHERE held.account_id = went.account_id AND held.region = went.region;
    ELSE
        INSERT INTO held_secret_counts AS held (account_id, region, secrets)
        SELECT account_id, region, sum(change) FROM (
            SELECT account_id, region, 1 AS change FROM new_rows WHERE gone_since IS NULL
            UNION ALL
            SELECT account_id, region, -1 FROM old_rows WHERE gone_since IS NULL
        ) AS changes
        GROUP BY account_id, region
        HAVING sum(change) <> 0
        ON CONFLICT (account_id, region) DO UPDATE SET secrets = held.secrets + EXCLUDED.secrets;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER secrets_held_inserted AFTER INSERT ON secrets
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION count_held_secrets();
CREATE TRIGGER secrets_held_updated AFTER UPDATE ON secrets
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION count_held_secrets();
CREATE TRIGGER secrets_held_deleted AFTER DELETE ON secrets
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION count_held_secrets();

-- Counted while no sync writes, so no secret is counted twice or missed.
LOCK TABLE secrets IN SHARE MODE;
INSERT INTO held_secret_counts (account_id, region, secrets)
SELECT account_id, region, count(*) FROM secrets WHERE gone_since IS NULL
GROUP BY account_id, region;
