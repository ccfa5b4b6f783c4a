-- The unified inbox: full-text search over messages, who may see a message (one rule, used
-- by the inbox, the conversation view and the real-time feed), reply and done marks per
-- conversation, read marks per user, saved snippets, replies scheduled for later.

ALTER TABLE messages ADD COLUMN search tsvector
    GENERATED ALWAYS AS (to_tsvector('english', coalesce(subject, '') || ' ' || body)) STORED;
CREATE INDEX messages_search ON messages USING gin (search);

-- needs a reply: the contact wrote after the conversation was last marked done (or answered).
ALTER TABLE conversations
    ADD COLUMN last_inbound_at timestamptz,
    ADD COLUMN done_at         timestamptz;
UPDATE conversations c SET last_inbound_at = r.at
FROM (SELECT conversation_id, max(created_at) AS at FROM messages WHERE direction = 'in' GROUP BY conversation_id) r
WHERE r.conversation_id = c.id;
CREATE INDEX conversations_recent ON conversations (last_message_at DESC, id DESC);
CREATE INDEX conversations_assigned ON conversations (assigned_to) WHERE assigned_to IS NOT NULL;

-- A message is visible to admins; to the BDR a conversation is assigned to; to the owner of
-- the campaign it belongs to; and to everyone while it is an unknown sender's nobody took.
CREATE FUNCTION message_visible(viewer uuid, admin boolean, assigned_to uuid, contact_id uuid, campaign_id uuid)
RETURNS boolean STABLE LANGUAGE sql AS $$
    SELECT admin OR assigned_to = viewer OR (contact_id IS NULL AND assigned_to IS NULL)
        OR EXISTS (SELECT 1 FROM campaigns k WHERE k.id = campaign_id AND k.owner_id = viewer)
$$;

CREATE TABLE conversation_reads (
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    conversation_id uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    read_at         timestamptz NOT NULL,
    PRIMARY KEY (user_id, conversation_id)
);

CREATE TABLE snippets (
    id         uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       text NOT NULL,
    body       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX snippets_user ON snippets (user_id, name);

-- A reply to send later, durable across restarts; the worker sends it through the same path
-- as an immediate reply, under the same idempotency key.
CREATE TABLE scheduled_replies (
    id              uuid PRIMARY KEY,
    conversation_id uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    body            text NOT NULL,
    send_at         timestamptz NOT NULL,
    idempotency_key text NOT NULL UNIQUE,
    state           text NOT NULL DEFAULT 'scheduled' CHECK (state IN ('scheduled', 'sent', 'failed')),
    error           text,
    message_id      uuid REFERENCES messages (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX scheduled_replies_due ON scheduled_replies (send_at) WHERE state = 'scheduled';
