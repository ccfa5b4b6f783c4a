-- `/metrics` counts messages whose fate is unknown on every scrape; they are few, so a
-- partial index keeps the count from reading every message.
CREATE INDEX messages_unknown ON messages (campaign_id) WHERE send_state = 'unknown';
