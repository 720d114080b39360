-- Alerts: the outbox. A finding that opens, rises in severity or re-opens after being resolved
-- writes a row here in the same transaction that changed it, whoever changed it (live
-- detection, a sync's standing conditions, a person reopening it), and wakes the delivery
-- worker at commit with a NOTIFY. Nothing is sent twice from here: the worker routes each row
-- once, then marks it.
CREATE TABLE alert_outbox (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    finding_id bigint NOT NULL REFERENCES findings (id) ON DELETE CASCADE,
    reason     text NOT NULL CHECK (reason IN ('opened', 'escalated', 'reopened')),
    severity   text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    routed_at  timestamptz
);
CREATE INDEX alert_outbox_waiting ON alert_outbox (id) WHERE routed_at IS NULL;

-- A backfill remakes history's findings; it turns alerts off for its transactions with
-- SET LOCAL trailkeeper.alerts = 'off', so last year's findings page nobody.
CREATE FUNCTION alert_on_finding() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    why text;
BEGIN
    IF current_setting('trailkeeper.alerts', true) = 'off' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        IF NEW.status = 'open' THEN
            why := 'opened';
        END IF;
    ELSIF OLD.status = 'resolved' AND NEW.status = 'open' THEN
        why := 'reopened';
    ELSIF OLD.status = 'suppressed' AND NEW.status = 'open' THEN
        -- Filed as suppressed, it never reached anyone: now it opens.
        why := 'opened';
    ELSIF NEW.status IN ('open', 'acknowledged')
          AND severity_rank(NEW.severity) > severity_rank(OLD.severity) THEN
        why := 'escalated';
    END IF;
    IF why IS NOT NULL THEN
        INSERT INTO alert_outbox (finding_id, reason, severity)
            VALUES (NEW.id, why, NEW.severity);
        PERFORM pg_notify('trailkeeper_alerts', '');
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER findings_alert
    AFTER INSERT OR UPDATE OF status, severity ON findings
    FOR EACH ROW EXECUTE FUNCTION alert_on_finding();
