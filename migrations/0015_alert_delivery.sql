-- Alerts after the outbox: channels (where messages go), rules (which findings go to which
-- channels), deliveries (one message to one channel, tried until it is delivered or dies) and
-- every attempt at one, for the delivery log.
CREATE TABLE alert_channels (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('webhook', 'slack', 'email', 'sns')),
    name        text NOT NULL UNIQUE CHECK (name <> ''),
    -- What may be shown again: a webhook's URL and header names, an SMTP server, a topic.
    config      jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- The channel's secrets (a signing key, header values, Slack's webhook URL, an SMTP
    -- password) as one JSON object sealed with the server's key; never shown after saving.
    sealed      text,
    -- The names of the fields in `sealed`, so a listing can say which secrets are set.
    secret_fields text[] NOT NULL DEFAULT '{}',
    enabled     boolean NOT NULL DEFAULT true,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Which findings go where. A finding matches when every condition set matches; patterns use
-- `*` like suppression rules. `digest_minutes` null: each alert at once; otherwise one message
-- listing the alerts of each period.
CREATE TABLE alert_rules (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    min_severity      text NOT NULL CHECK (severity_rank(min_severity) IS NOT NULL),
    -- Empty: every kind.
    kinds             text[] NOT NULL DEFAULT '{}',
    secret_pattern    text,
    -- A tag the secret carries in the inventory: `key` or `key=value`.
    secret_tag        text,
    principal_pattern text,
    digest_minutes    integer CHECK (digest_minutes BETWEEN 1 AND 10080),
    enabled           boolean NOT NULL DEFAULT true,
    created_by        text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE alert_rule_channels (
    rule_id    bigint NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    channel_id bigint NOT NULL REFERENCES alert_channels (id) ON DELETE CASCADE,
    PRIMARY KEY (rule_id, channel_id)
);
CREATE INDEX alert_rule_channels_channel ON alert_rule_channels (channel_id);

-- One message to one channel. Its id goes out in the message, the same on every attempt, so
-- a receiver can drop a message it already has. `pending` deliveries are due at
-- `next_attempt_at`; a sender claims one by moving that forward, so a sender that dies while
-- sending leaves it due again, and two senders never hold the same one.
CREATE TABLE alert_deliveries (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    channel_id      bigint NOT NULL REFERENCES alert_channels (id) ON DELETE CASCADE,
    rule_id         bigint REFERENCES alert_rules (id) ON DELETE SET NULL,
    -- alert: one finding; digest: a period's findings; overflow: what throttling held back;
    -- test: a person's test message.
    kind            text NOT NULL CHECK (kind IN ('alert', 'digest', 'overflow', 'test')),
    status          text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('collecting', 'pending', 'delivered', 'dead')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    attempts        integer NOT NULL DEFAULT 0,
    last_error      text,
    delivered_at    timestamptz,
    -- A person's retry of a dead delivery restarts the give-up clock.
    retried_at      timestamptz,
    -- Who asked for a test message, or to retry a dead delivery.
    requested_by    text
);
CREATE INDEX alert_deliveries_due ON alert_deliveries (next_attempt_at)
    WHERE status IN ('collecting', 'pending');
CREATE INDEX alert_deliveries_newest ON alert_deliveries (created_at DESC, id);
CREATE INDEX alert_deliveries_channel ON alert_deliveries (channel_id, created_at DESC);

-- The alerts a delivery carries.
CREATE TABLE alert_delivery_items (
    delivery_id uuid NOT NULL REFERENCES alert_deliveries (id) ON DELETE CASCADE,
    outbox_id   bigint NOT NULL REFERENCES alert_outbox (id) ON DELETE CASCADE,
    PRIMARY KEY (delivery_id, outbox_id)
);
CREATE INDEX alert_delivery_items_outbox ON alert_delivery_items (outbox_id);

CREATE TABLE alert_attempts (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id   uuid NOT NULL REFERENCES alert_deliveries (id) ON DELETE CASCADE,
    attempted_at  timestamptz NOT NULL DEFAULT now(),
    delivered     boolean NOT NULL,
    response_code integer,
    error         text,
    latency_ms    integer NOT NULL
);
CREATE INDEX alert_attempts_delivery ON alert_attempts (delivery_id, attempted_at);
