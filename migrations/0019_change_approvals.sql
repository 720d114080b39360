-- With approvals on (TRAILKEEPER_APPROVALS), a change to a secret is first a request that a
-- second admin approves or rejects; Trailkeeper calls AWS only once it is approved, as the
-- person who asked. A pending request past `expires_at` has expired.
CREATE TABLE change_approvals (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    secret_arn    text NOT NULL,
    secret_name   text NOT NULL,
    -- `SecretAction::NAMES`, and the request as the person gave it (reason, parameters,
    -- confirmation): what is replayed once approved.
    action        text NOT NULL,
    request       jsonb NOT NULL,
    -- What it will do, in words ("schedule prod/db for deletion, restorable for 7 days").
    summary       text NOT NULL,
    requested_by  text NOT NULL,
    requested_at  timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    status        text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'approved', 'rejected', 'failed')),
    decided_by    text,
    decided_at    timestamptz,
    comment       text,
    -- What became of it in AWS: the change's summary, or AWS's error.
    outcome       text,
    CHECK ((status = 'pending') = (decided_by IS NULL))
);

CREATE INDEX change_approvals_newest ON change_approvals (requested_at DESC, id DESC);
