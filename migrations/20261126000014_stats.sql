-- Exact statistics kept incrementally. What each enrollment and message counts for is one
-- pure function of its row (stat_enrollment_facts, stat_message_facts). Statement triggers
-- append the difference between the facts of the new and the old rows to stat_deltas, in
-- the transaction of the change, grouped: a bulk statement (an import, a batch of sends,
-- an erasure) writes one delta per group, and no row is updated by every send. A periodic
-- compaction folds the deltas into UTC 15-minute buckets (independent of any time zone)
-- and into day totals in the organisation's zone, which are re-folded from the buckets
-- when the zone changes. Readers sum the day totals and the deltas not folded yet.

-- Milestones of an enrollment, each the time of its first qualifying event.
ALTER TABLE enrollments
    ADD COLUMN messaged_at  timestamptz,  -- first outbound message sent
    ADD COLUMN replied_at   timestamptz,  -- first reply that was not automatic
    ADD COLUMN replied_node text,         -- the step that reply answered
    ADD COLUMN rsvp_at      timestamptz,  -- first reached Received RSVP (or Attended)
    ADD COLUMN status_at    timestamptz;  -- last change of status

-- A message's channel is its conversation's (which never changes), kept on the row so its
-- facts need no join, even while a cascade deletes the conversation.
ALTER TABLE messages ADD COLUMN channel text;
UPDATE messages m SET channel = v.channel FROM conversations v WHERE v.id = m.conversation_id;
ALTER TABLE messages ALTER COLUMN channel SET NOT NULL;

-- The step a reply answered: the last step of its campaign that wrote in that conversation.
UPDATE messages m SET node_key = (
    SELECT o.node_key FROM messages o
    WHERE o.conversation_id = m.conversation_id AND o.campaign_id = m.campaign_id AND o.direction = 'out'
      AND o.node_key IS NOT NULL AND o.created_at <= m.created_at
    ORDER BY o.created_at DESC, o.id DESC LIMIT 1)
WHERE m.direction = 'in' AND m.campaign_id IS NOT NULL AND m.node_key IS NULL;

UPDATE enrollments e SET status_at = e.updated_at,
    rsvp_at = CASE WHEN e.status IN ('Received RSVP', 'Attended') THEN e.updated_at END,
    messaged_at = (SELECT min(coalesce(m.sent_at, m.created_at)) FROM messages m JOIN conversations v ON v.id = m.conversation_id
                   WHERE m.campaign_id = e.campaign_id AND v.contact_id = e.contact_id AND m.direction = 'out' AND m.send_state = 'sent'),
    replied_at = (SELECT min(m.created_at) FROM messages m JOIN conversations v ON v.id = m.conversation_id
                  WHERE m.campaign_id = e.campaign_id AND v.contact_id = e.contact_id AND m.direction = 'in' AND m.auto_kind IS NULL);
UPDATE enrollments e SET replied_node = (
    SELECT m.node_key FROM messages m JOIN conversations v ON v.id = m.conversation_id
    WHERE m.campaign_id = e.campaign_id AND v.contact_id = e.contact_id AND m.direction = 'in' AND m.auto_kind IS NULL
    ORDER BY m.created_at, m.id LIMIT 1)
WHERE e.replied_at IS NOT NULL;
ALTER TABLE enrollments ALTER COLUMN status_at SET NOT NULL;

CREATE FUNCTION enrollment_status_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.status_at := coalesce(NEW.status_at, NEW.created_at);
    ELSIF NEW.status_at IS NOT DISTINCT FROM OLD.status_at THEN
        NEW.status_at := now();
    END IF;
    IF NEW.rsvp_at IS NULL AND NEW.status IN ('Received RSVP', 'Attended') THEN
        NEW.rsvp_at := NEW.status_at;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER enrollments_status_at_insert BEFORE INSERT ON enrollments
    FOR EACH ROW EXECUTE FUNCTION enrollment_status_at();
CREATE TRIGGER enrollments_status_at_update BEFORE UPDATE OF status ON enrollments
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION enrollment_status_at();

CREATE FUNCTION message_derived() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.channel := coalesce(NEW.channel, (SELECT channel FROM conversations WHERE id = NEW.conversation_id));
    IF NEW.direction = 'in' AND NEW.campaign_id IS NOT NULL AND NEW.node_key IS NULL THEN
        NEW.node_key := (SELECT o.node_key FROM messages o
                         WHERE o.conversation_id = NEW.conversation_id AND o.campaign_id = NEW.campaign_id
                           AND o.direction = 'out' AND o.node_key IS NOT NULL
                         ORDER BY o.created_at DESC, o.id DESC LIMIT 1);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER messages_derived BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION message_derived();

-- "No campaign", "no step", "no channel" and "nobody" in the statistics' keys.
CREATE FUNCTION stat_none() RETURNS uuid IMMUTABLE LANGUAGE sql AS $$ SELECT '00000000-0000-0000-0000-000000000000'::uuid $$;
CREATE FUNCTION stat_bucket(at timestamptz) RETURNS timestamptz IMMUTABLE LANGUAGE sql AS $$
    SELECT date_bin('15 minutes', at, timestamptz '2000-01-01 00:00:00+00')
$$;

-- What one enrollment counts for. Status counts are dated by enrollment day, so the
-- statuses of the enrollments of any range add up to its "enrolled"; the milestones on
-- the day they were first reached.
CREATE FUNCTION stat_enrollment_facts(e enrollments)
RETURNS TABLE (at timestamptz, campaign_id uuid, node_key text, channel text, user_id uuid, metric text)
STABLE LANGUAGE sql AS $$
    SELECT f.at, e.campaign_id, f.node, '', stat_none(), f.metric
    FROM (VALUES
        (e.created_at, 'enrolled', ''),
        (e.created_at, 'status:' || e.status, ''),
        (e.messaged_at, 'messaged', ''),
        (e.replied_at, 'replied', coalesce(e.replied_node, '')),
        (CASE WHEN e.status IN ('Received RSVP', 'Attended') THEN e.rsvp_at END, 'rsvp', coalesce(e.replied_node, '')),
        (CASE WHEN e.status = 'Attended' THEN e.rsvp_at END, 'attended', ''),
        (CASE WHEN e.status = 'Opted Out' THEN e.status_at END, 'opted_out', '')
    ) AS f (at, metric, node)
    WHERE f.at IS NOT NULL
$$;

-- What one message counts for: sends, deliveries and failures on the day of the send;
-- bounces (a failed delivery report, or a bounce mail coming back) per channel.
CREATE FUNCTION stat_message_facts(m messages)
RETURNS TABLE (at timestamptz, campaign_id uuid, node_key text, channel text, user_id uuid, metric text)
STABLE LANGUAGE sql AS $$
    SELECT f.at, coalesce(m.campaign_id, stat_none()), coalesce(m.node_key, ''), m.channel, coalesce(m.sent_by, stat_none()), f.metric
    FROM (VALUES
        (CASE WHEN m.direction = 'out' THEN m.created_at END, 'reached'),
        (CASE WHEN m.direction = 'out' AND m.send_state = 'sent' THEN coalesce(m.sent_at, m.created_at) END, 'sent'),
        (CASE WHEN m.direction = 'out' AND m.send_state = 'sent' AND m.delivery_status IN ('delivered', 'read')
              THEN coalesce(m.sent_at, m.created_at) END, 'delivered'),
        (CASE WHEN m.direction = 'out' AND m.send_state = 'failed' THEN m.created_at END, 'failed'),
        (CASE WHEN m.direction = 'out' AND m.send_state = 'sent' AND m.delivery_status IN ('undelivered', 'failed')
              THEN coalesce(m.sent_at, m.created_at)
              WHEN m.direction = 'in' AND m.auto_kind = 'bounce' THEN m.created_at END, 'bounced'),
        (CASE WHEN m.direction = 'in' THEN m.created_at END, 'received'),
        (CASE WHEN m.direction = 'in' AND m.auto_kind IS NULL THEN m.created_at END, 'replies')
    ) AS f (at, metric)
    WHERE f.at IS NOT NULL
$$;

CREATE TABLE stat_deltas (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    bucket      timestamptz NOT NULL,
    campaign_id uuid NOT NULL,
    node_key    text NOT NULL,
    channel     text NOT NULL,
    user_id     uuid NOT NULL,
    metric      text NOT NULL,
    n           integer NOT NULL
);
CREATE INDEX stat_deltas_bucket ON stat_deltas (bucket);

CREATE TABLE stat_buckets (
    campaign_id uuid NOT NULL,
    bucket      timestamptz NOT NULL,
    metric      text NOT NULL,
    node_key    text NOT NULL,
    channel     text NOT NULL,
    user_id     uuid NOT NULL,
    n           bigint NOT NULL,
    PRIMARY KEY (campaign_id, bucket, metric, node_key, channel, user_id)
);

-- Day totals in the zone of stat_fold, per campaign and channel (a BDR's or a filtered view)...
CREATE TABLE stat_days (
    day         date NOT NULL,
    campaign_id uuid NOT NULL,
    metric      text NOT NULL,
    channel     text NOT NULL,
    n           bigint NOT NULL,
    PRIMARY KEY (campaign_id, day, metric, channel)
);
-- ...for the whole organisation (an admin's unfiltered view)...
CREATE TABLE stat_org_days (
    day     date NOT NULL,
    metric  text NOT NULL,
    channel text NOT NULL,
    n       bigint NOT NULL,
    PRIMARY KEY (day, metric, channel)
);
-- ...and per step and sender (a campaign's own page).
CREATE TABLE stat_node_days (
    campaign_id uuid NOT NULL,
    day         date NOT NULL,
    metric      text NOT NULL,
    node_key    text NOT NULL,
    channel     text NOT NULL,
    user_id     uuid NOT NULL,
    n           bigint NOT NULL,
    PRIMARY KEY (campaign_id, day, metric, node_key, channel, user_id)
);

-- The dashboard's recent activity.
CREATE INDEX messages_recent ON messages (created_at DESC, id DESC);

-- The zone the day totals were folded in.
CREATE TABLE stat_fold (
    id        boolean PRIMARY KEY DEFAULT true CHECK (id),
    time_zone text NOT NULL
);
INSERT INTO stat_fold (time_zone) SELECT coalesce((SELECT time_zone FROM org_settings), 'UTC');

-- The difference between the facts of the rows a statement wrote and of the rows it replaced.
CREATE FUNCTION stat_enrollments_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    added   enrollments[] := '{}';
    removed enrollments[] := '{}';
BEGIN
    -- Most updates are the engine's (next step, lease): they change no fact.
    IF TG_OP = 'UPDATE' THEN IF NOT EXISTS (
        SELECT 1 FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE (n.campaign_id, n.status, n.created_at, n.messaged_at, n.replied_at, n.replied_node, n.rsvp_at, n.status_at)
              IS DISTINCT FROM (o.campaign_id, o.status, o.created_at, o.messaged_at, o.replied_at, o.replied_node, o.rsvp_at, o.status_at)) THEN
        RETURN NULL;
    END IF; END IF;
    IF TG_OP <> 'DELETE' THEN added := ARRAY(SELECT r FROM new_rows r); END IF;
    IF TG_OP <> 'INSERT' THEN removed := ARRAY(SELECT r FROM old_rows r); END IF;
    INSERT INTO stat_deltas (bucket, campaign_id, node_key, channel, user_id, metric, n)
    SELECT stat_bucket(f.at), f.campaign_id, f.node_key, f.channel, f.user_id, f.metric, sum(f.n)
    FROM (SELECT s.*, 1 AS n FROM unnest(added) r, LATERAL stat_enrollment_facts(r) s
          UNION ALL
          SELECT s.*, -1 FROM unnest(removed) r, LATERAL stat_enrollment_facts(r) s) f
    GROUP BY 1, 2, 3, 4, 5, 6
    HAVING sum(f.n) <> 0;
    RETURN NULL;
END $$;
CREATE TRIGGER stat_enrollments_insert AFTER INSERT ON enrollments REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stat_enrollments_changed();
CREATE TRIGGER stat_enrollments_update AFTER UPDATE ON enrollments REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stat_enrollments_changed();
CREATE TRIGGER stat_enrollments_delete AFTER DELETE ON enrollments REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stat_enrollments_changed();

-- Messages count for themselves and set their enrollments' milestones (which then count
-- through the enrollments' trigger; a milestone is only ever moved earlier).
CREATE FUNCTION stat_messages_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    added   messages[] := '{}';
    removed messages[] := '{}';
BEGIN
    IF TG_OP = 'UPDATE' THEN IF NOT EXISTS (
        SELECT 1 FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE (n.campaign_id, n.node_key, n.channel, n.sent_by, n.direction, n.send_state, n.sent_at, n.created_at, n.delivery_status, n.auto_kind)
              IS DISTINCT FROM (o.campaign_id, o.node_key, o.channel, o.sent_by, o.direction, o.send_state, o.sent_at, o.created_at, o.delivery_status, o.auto_kind)) THEN
        RETURN NULL;
    END IF; END IF;
    IF TG_OP <> 'DELETE' THEN added := ARRAY(SELECT r FROM new_rows r); END IF;
    IF TG_OP <> 'INSERT' THEN removed := ARRAY(SELECT r FROM old_rows r); END IF;
    INSERT INTO stat_deltas (bucket, campaign_id, node_key, channel, user_id, metric, n)
    SELECT stat_bucket(f.at), f.campaign_id, f.node_key, f.channel, f.user_id, f.metric, sum(f.n)
    FROM (SELECT s.*, 1 AS n FROM unnest(added) r, LATERAL stat_message_facts(r) s
          UNION ALL
          SELECT s.*, -1 FROM unnest(removed) r, LATERAL stat_message_facts(r) s) f
    GROUP BY 1, 2, 3, 4, 5, 6
    HAVING sum(f.n) <> 0;

    UPDATE enrollments e SET messaged_at = x.at
    FROM (SELECT m.campaign_id, v.contact_id, min(coalesce(m.sent_at, m.created_at)) AS at
          FROM unnest(added) m JOIN conversations v ON v.id = m.conversation_id
          WHERE m.direction = 'out' AND m.send_state = 'sent' AND m.campaign_id IS NOT NULL AND v.contact_id IS NOT NULL
          GROUP BY 1, 2) x
    WHERE e.campaign_id = x.campaign_id AND e.contact_id = x.contact_id AND (e.messaged_at IS NULL OR e.messaged_at > x.at);
    UPDATE enrollments e SET replied_at = x.at, replied_node = x.node_key
    FROM (SELECT DISTINCT ON (m.campaign_id, v.contact_id) m.campaign_id, v.contact_id, m.created_at AS at, m.node_key
          FROM unnest(added) m JOIN conversations v ON v.id = m.conversation_id
          WHERE m.direction = 'in' AND m.auto_kind IS NULL AND m.campaign_id IS NOT NULL AND v.contact_id IS NOT NULL
          ORDER BY m.campaign_id, v.contact_id, m.created_at, m.id) x
    WHERE e.campaign_id = x.campaign_id AND e.contact_id = x.contact_id AND (e.replied_at IS NULL OR e.replied_at > x.at);
    RETURN NULL;
END $$;
CREATE TRIGGER stat_messages_insert AFTER INSERT ON messages REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stat_messages_changed();
CREATE TRIGGER stat_messages_update AFTER UPDATE ON messages REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stat_messages_changed();
CREATE TRIGGER stat_messages_delete AFTER DELETE ON messages REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stat_messages_changed();

-- What is there already counts once, as if it had just been written.
INSERT INTO stat_deltas (bucket, campaign_id, node_key, channel, user_id, metric, n)
SELECT stat_bucket(s.at), s.campaign_id, s.node_key, s.channel, s.user_id, s.metric, count(*)
FROM (SELECT f.* FROM enrollments r, LATERAL stat_enrollment_facts(r) f
      UNION ALL
      SELECT f.* FROM messages r, LATERAL stat_message_facts(r) f) s
GROUP BY 1, 2, 3, 4, 5, 6;
