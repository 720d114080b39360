-- Trailkeeper's own audit log: what the service and its users did, newest first on the
-- Overview. Holds metadata only, never a secret's value.
CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,
    action      text NOT NULL,
    summary     text NOT NULL,
    detail      jsonb NOT NULL DEFAULT '{}'::jsonb
);

CREATE INDEX audit_log_newest_first ON audit_log (occurred_at DESC, id DESC);
