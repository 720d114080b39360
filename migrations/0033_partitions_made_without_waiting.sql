-- `CREATE TABLE IF NOT EXISTS … PARTITION OF events` locks `events` before it finds the
-- partition there, so every batch's call waited for every transaction writing events to end
-- (another ingest's, detection included) and, while it waited, queued every page's read of
-- events behind it. The month's partition exists for all but the first batch of a month:
-- looked up first, it is made only when missing.
CREATE OR REPLACE FUNCTION trailkeeper_create_events_partition(year integer, month integer)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    starts timestamptz := make_timestamptz(year, month, 1, 0, 0, 0, 'UTC');
    partition_name text := format('events_y%sm%s', lpad(year::text, 4, '0'), lpad(month::text, 2, '0'));
BEGIN
    IF to_regclass(format('public.%I', partition_name)) IS NULL THEN
        EXECUTE format(
            'CREATE TABLE IF NOT EXISTS %I PARTITION OF events FOR VALUES FROM (%L) TO (%L)',
            partition_name, starts, starts + interval '1 month');
    END IF;
END
$$;
