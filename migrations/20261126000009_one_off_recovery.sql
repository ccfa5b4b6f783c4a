-- One-off texts (opt-out confirmations, inbox replies) a stopped process left queued or
-- mid-call; the recovery sweep finds them here without reading every message.
CREATE INDEX messages_one_off_pending ON messages (created_at)
    WHERE enrollment_id IS NULL AND direction = 'out' AND send_state IN ('queued', 'sending');
