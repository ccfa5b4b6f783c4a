-- Gmail: a BDR's own Google account sends their campaign email and its replies are synced
-- back into the inbox.

-- One connected Google account per user. Tokens are sealed with the app key. `state` is
-- `reconnect` once Google refused the refresh token (revoked, or the password changed): the
-- user must connect again; sends fail with that reason until they do.
CREATE TABLE google_accounts (
    user_id           uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    email             text NOT NULL,
    access_token_enc  bytea NOT NULL,
    refresh_token_enc bytea,
    expires_at        timestamptz NOT NULL,
    scopes            text NOT NULL,
    -- Where the next incremental sync starts (Gmail's History API).
    history_id        text,
    state             text NOT NULL DEFAULT 'connected' CHECK (state IN ('connected', 'reconnect')),
    last_sync_at      timestamptz,
    last_error        text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);

-- An authorization in progress: the state parameter's hash, whose it is, and the PKCE
-- verifier (sealed). Used once, within ten minutes.
CREATE TABLE google_oauth_states (
    state_hash   bytea PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    verifier_enc bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- Replies are matched to our mail by Gmail thread, then by the Message-ID they answer.
CREATE INDEX messages_thread ON messages (provider_thread_id) WHERE provider_thread_id IS NOT NULL;
CREATE INDEX messages_message_id_header ON messages (message_id_header) WHERE message_id_header IS NOT NULL;

-- An automatic answer (out of office, auto-reply) or a bounce: shown, marked, and not
-- counted as the contact replying.
ALTER TABLE messages ADD COLUMN auto_kind text CHECK (auto_kind IN ('auto_reply', 'bounce'));
