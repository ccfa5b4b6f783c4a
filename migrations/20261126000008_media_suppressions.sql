-- MMS media, the suppression list's display form, and erasing a contact on request.

-- Media of inbound texts. The text is committed first with one pending row per file; the
-- files are fetched after the commit and retried, so a slow or failing media host never
-- loses the message, and a file that cannot be had is recorded as failed with why.
CREATE TABLE message_media (
    id               uuid PRIMARY KEY,
    message_id       uuid NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    position         integer NOT NULL,
    -- The provider's URL and the account whose credentials fetch it; cleared once stored.
    source_url       text,
    account_sid      text NOT NULL,
    content_type     text NOT NULL,
    state            text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'stored', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    -- When a fetch may next be tried: a retry's backoff, or the lease of a fetch in flight.
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    size_bytes       bigint,
    error            text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (message_id, position)
);
CREATE INDEX message_media_due ON message_media (next_attempt_at) WHERE state = 'pending';

-- A suppression's `value` becomes a masked display form ("•••0100", "p•••@example.com"):
-- the hash is what suppresses; the list page needs only enough to recognise an entry.
UPDATE suppressions SET value = CASE
    WHEN value IS NULL THEN NULL
    WHEN kind = 'email' THEN left(value, 1) || '•••' || substring(value FROM position('@' IN value))
    ELSE '•••' || right(value, 4)
END;
CREATE INDEX suppressions_created ON suppressions (created_at DESC, id DESC);

-- Set when a contact was erased on request: their personal fields are gone for good.
ALTER TABLE contacts ADD COLUMN erased_at timestamptz;
