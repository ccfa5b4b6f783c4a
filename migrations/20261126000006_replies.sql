-- Replies: what a contact's text does to their run through a campaign.

-- A reply pauses the contact's run in the campaign it answered, so a person answers before
-- the funnel sends anything more; off, the run goes on (its "replied" branches take it).
ALTER TABLE campaigns ADD COLUMN pause_on_reply boolean NOT NULL DEFAULT true;

-- Phrases that mark a reply as an RSVP: whole words, any case, anywhere in the text.
ALTER TABLE org_settings
    ADD COLUMN rsvp_phrases text[] NOT NULL DEFAULT '{yes,"count me in",RSVP,"I''ll be there"}';
