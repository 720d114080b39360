-- The Secrets list at an organisation's size (30 000 secrets, make bench SCALE=10m): its
-- default order, its count and its filters' values read from indexes instead of reading
-- every secret on every view.

-- The list compares names byte-wise (COLLATE "C", whatever the database's collation), so
-- its default order is this index's, and a page is its next 51 entries.
CREATE INDEX secrets_list_by_name ON secrets ((lower(name)) COLLATE "C", arn COLLATE "C");

-- The secrets AWS still has, by each value the filters offer: the count reads the smallest
-- of these alone, and each filter's values are found by skipping from one value to the
-- next through its index.
CREATE INDEX secrets_held_by_account ON secrets (account_id) WHERE gone_since IS NULL;
CREATE INDEX secrets_held_by_region ON secrets (region) WHERE gone_since IS NULL;
CREATE INDEX secrets_held_by_service ON secrets (owning_service) WHERE gone_since IS NULL;
CREATE INDEX secrets_held_by_key ON secrets (kms_key_id) WHERE gone_since IS NULL;
