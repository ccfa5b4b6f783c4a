-- Ringless voicemail: speech rendered once per distinct script and voice, the drops that
-- use it, and the accounts that speak (ElevenLabs) and drop (Slybroadcast) it.

ALTER TABLE provider_credentials DROP CONSTRAINT provider_credentials_provider_check;
ALTER TABLE provider_credentials ADD CONSTRAINT provider_credentials_provider_check
    CHECK (provider IN ('twilio', 'slybroadcast', 'elevenlabs'));

-- Rendered speech, keyed by a hash of everything that shapes it (engine, voice, model,
-- settings, script): a script said the same way to many contacts is rendered once. The
-- audio itself is in the media store under `vm/<hash>.mp3`.
CREATE TABLE voice_audio (
    hash         text PRIMARY KEY,
    engine       text NOT NULL,
    voice_id     text NOT NULL,
    content_type text NOT NULL,
    size_bytes   bigint NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- One per voicemail message: the audio it drops, until when its public URL (a token signed
-- with the app key, for the drop provider only) works, and when the drop was asked for. A
-- message still `sending` whose drop was never asked for can be dropped without asking the
-- provider; one whose drop was asked for may have gone out.
CREATE TABLE voicemail_drops (
    -- A message, or a test send (which has no message row).
    message_id   uuid PRIMARY KEY,
    audio_hash   text NOT NULL REFERENCES voice_audio (hash),
    expires_at   timestamptz NOT NULL,
    requested_at timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX voicemail_drops_audio ON voicemail_drops (audio_hash);

-- A voicemail's audio plays in the conversation like an MMS file: a media row whose object
-- is the shared rendered audio rather than a file fetched from a provider.
ALTER TABLE message_media ALTER COLUMN account_sid DROP NOT NULL;
ALTER TABLE message_media ADD COLUMN object_key text;
