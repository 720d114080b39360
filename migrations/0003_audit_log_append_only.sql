-- Each entry says where a request came from and how it ended, and entries can never be
-- changed or removed: the log is evidence.
ALTER TABLE audit_log
    ADD COLUMN address text,
    ADD COLUMN outcome text NOT NULL DEFAULT 'success'
        CHECK (outcome IN ('success', 'failure', 'denied'));

CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();

CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();

-- The audit page filters by these.
CREATE INDEX audit_log_actor ON audit_log (lower(actor), id DESC);
CREATE INDEX audit_log_action ON audit_log (action, id DESC);
