-- The sending engine: enrollments as durable state machines, messages with idempotency
-- keys, provider credentials, throttles shared by every server process, the sandbox outbox.

-- Send windows: minutes after local midnight in the contact's zone (else the event's; 1440 is
-- the end of the day), on ISO weekdays (1 = Monday).
ALTER TABLE campaigns
    ADD COLUMN window_start smallint NOT NULL DEFAULT 540,
    ADD COLUMN window_end   smallint NOT NULL DEFAULT 1200,
    ADD COLUMN window_days  smallint[] NOT NULL DEFAULT '{1,2,3,4,5,6}',
    ADD COLUMN opt_out_line text NOT NULL DEFAULT 'Reply STOP to opt out',
    ADD CONSTRAINT campaigns_window CHECK (0 <= window_start AND window_start < window_end AND window_end <= 1440
                                           AND cardinality(window_days) > 0);

-- A new enrollment is due at once: it starts when its campaign runs (the claim checks that).
ALTER TABLE enrollments
    ALTER COLUMN next_run_at SET DEFAULT 'epoch',
    -- Counts the nodes an enrollment has entered: a send's idempotency key is (enrollment, step_seq),
    -- so a funnel that loops back sends again while a retried step never does.
    ADD COLUMN step_seq     integer NOT NULL DEFAULT 0,
    ADD COLUMN entered_at   timestamptz,
    -- When the previous step ran: duration waits count from it.
    ADD COLUMN last_step_at timestamptz,
    -- The last send: a "replied" branch looks for replies after it.
    ADD COLUMN last_sent_at timestamptz,
    ADD COLUMN attempts     integer NOT NULL DEFAULT 0,
    -- Why an active enrollment waits (outside the send window, throttled, retrying) or is held.
    ADD COLUMN held_reason  text,
    -- Whether the first SMS (with the sender's name and the opt-out line) went out.
    ADD COLUMN sms_introduced boolean NOT NULL DEFAULT false;
UPDATE enrollments SET next_run_at = 'epoch' WHERE next_run_at IS NULL AND current_node IS NULL;
CREATE INDEX enrollments_campaign_node ON enrollments (campaign_id, current_node);

ALTER TABLE messages
    DROP CONSTRAINT messages_send_state_check,
    ADD CONSTRAINT messages_send_state_check
        CHECK (send_state IN ('queued', 'sending', 'sent', 'failed', 'held', 'cancelled', 'unknown')),
    ADD COLUMN enrollment_id   uuid REFERENCES enrollments (id) ON DELETE SET NULL,
    -- One provider call per step: the row is committed with this key before the call.
    ADD COLUMN idempotency_key text,
    ADD COLUMN attempts        integer NOT NULL DEFAULT 0,
    ADD COLUMN error_code      text,
    ADD COLUMN to_address      text,
    ADD COLUMN from_address    text,
    ADD COLUMN body_html       text,
    -- The email Message-ID, kept for threading replies.
    ADD COLUMN message_id_header text;
CREATE UNIQUE INDEX messages_idempotency ON messages (idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX messages_enrollment ON messages (enrollment_id) WHERE enrollment_id IS NOT NULL;

-- A user's own mobile number, for test sends to themselves.
ALTER TABLE users ADD COLUMN mobile_phone text;

-- Provider accounts: the organisation's (user_id NULL) or a user's own. Secrets are sealed.
CREATE TABLE provider_credentials (
    id          uuid PRIMARY KEY,
    provider    text NOT NULL CHECK (provider IN ('twilio')),
    user_id     uuid REFERENCES users (id) ON DELETE CASCADE,
    account_sid text NOT NULL,
    secret_enc  bytea NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX provider_credentials_org ON provider_credentials (provider) WHERE user_id IS NULL;
CREATE UNIQUE INDEX provider_credentials_user ON provider_credentials (provider, user_id) WHERE user_id IS NOT NULL;
CREATE INDEX provider_credentials_sid ON provider_credentials (account_sid);

-- Throttles per sending identity, shared by every process through row locks.
CREATE TABLE send_throttles (
    identity   text PRIMARY KEY,
    next_slot  timestamptz NOT NULL DEFAULT 'epoch',
    day        date,
    day_count  integer NOT NULL DEFAULT 0
);

-- What the sandbox provider "sent": the demo's outbox, and how it reconciles after a crash.
CREATE TABLE sandbox_messages (
    id           text PRIMARY KEY,
    channel      text NOT NULL CHECK (channel IN ('sms', 'email', 'voicemail')),
    to_address   text NOT NULL,
    from_address text NOT NULL,
    subject      text,
    body         text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sandbox_messages_to ON sandbox_messages (to_address, created_at);

-- Every step an enrollment passes that is not a message: stages, waits, branches, holds, failures.
CREATE TABLE engine_events (
    id            uuid PRIMARY KEY,
    enrollment_id uuid NOT NULL REFERENCES enrollments (id) ON DELETE CASCADE,
    node_key      text,
    kind          text NOT NULL,
    detail        text NOT NULL DEFAULT '',
    at            timestamptz NOT NULL
);
CREATE INDEX engine_events_enrollment ON engine_events (enrollment_id, at);

-- `POST /api/campaigns/:id/execute-sms` queues a one-off SMS as a child campaign: one SMS
-- step for the parent's contacts, run by the same engine (windows, throttles, compliance).
ALTER TABLE campaigns ADD COLUMN parent_id uuid REFERENCES campaigns (id) ON DELETE CASCADE;

-- Delivery reports can arrive out of order; a status never moves back (e.g. "sent" after "delivered").
CREATE FUNCTION delivery_rank(status text) RETURNS integer IMMUTABLE LANGUAGE sql AS $$
    SELECT CASE status
        WHEN 'accepted' THEN 1 WHEN 'scheduled' THEN 1 WHEN 'queued' THEN 1
        WHEN 'sending' THEN 2 WHEN 'sent' THEN 3
        WHEN 'delivered' THEN 4 WHEN 'undelivered' THEN 4 WHEN 'failed' THEN 4 WHEN 'canceled' THEN 4
        WHEN 'read' THEN 5 ELSE 0 END
$$;

-- When the contact last wrote to us: a "replied" branch compares it with the last send.
ALTER TABLE contacts ADD COLUMN last_inbound_at timestamptz;
UPDATE contacts c SET last_inbound_at = r.at
FROM (SELECT v.contact_id, max(m.created_at) AS at FROM conversations v JOIN messages m ON m.conversation_id = v.id
      WHERE m.direction = 'in' AND v.contact_id IS NOT NULL GROUP BY v.contact_id) r
WHERE r.contact_id = c.id;
