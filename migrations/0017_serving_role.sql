-- Trailkeeper serves as a role that owns nothing: `trailkeeper_serving` (a group role; the
-- private cluster's login role `trailkeeper_app` is in it, and an operator puts the role of
-- DATABASE_URL in it) may read and write the tables, but cannot change or remove an audit
-- entry, drop the audit log's append-only trigger, or change the schema. Migrations run as
-- the owner (TRAILKEEPER_MIGRATE_DATABASE_URL, or the private cluster's superuser).
DO $$
BEGIN
    CREATE ROLE trailkeeper_serving NOLOGIN;
EXCEPTION
    -- Another database in the cluster made it already (roles belong to the cluster).
    WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;

GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO trailkeeper_serving;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM trailkeeper_serving;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO trailkeeper_serving;
-- Tables later migrations make get the same grants; the audit log's stay as above.
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO trailkeeper_serving;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO trailkeeper_serving;

-- The ingest makes a month's partition of `events` as the month appears, and retention drops
-- whole months: both are the owner's to do, so the serving role calls these, which can make
-- and drop `events` partitions and nothing else.
CREATE FUNCTION trailkeeper_create_events_partition(year integer, month integer)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    starts timestamptz := make_timestamptz(year, month, 1, 0, 0, 0, 'UTC');
BEGIN
    EXECUTE format(
        'CREATE TABLE IF NOT EXISTS %I PARTITION OF events FOR VALUES FROM (%L) TO (%L)',
        format('events_y%sm%s', lpad(year::text, 4, '0'), lpad(month::text, 2, '0')),
        starts, starts + interval '1 month');
END
$$;

CREATE FUNCTION trailkeeper_drop_events_partition(partition_name text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'events'::regclass AND c.relname = partition_name
    ) THEN
        RAISE EXCEPTION '% is not a partition of events', partition_name;
    END IF;
    EXECUTE format('DROP TABLE %I', partition_name);
END
$$;

REVOKE ALL ON FUNCTION trailkeeper_create_events_partition(integer, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION trailkeeper_drop_events_partition(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION trailkeeper_create_events_partition(integer, integer)
    TO trailkeeper_serving;
GRANT EXECUTE ON FUNCTION trailkeeper_drop_events_partition(text) TO trailkeeper_serving;
