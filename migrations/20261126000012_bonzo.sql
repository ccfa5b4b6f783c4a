-- SMS through Bonzo: a user's own or the organisation's Bonzo API token (sealed, like every
-- provider secret), and which provider texts go out through: the organisation's default,
-- which each user may override.

ALTER TABLE provider_credentials DROP CONSTRAINT provider_credentials_provider_check;
ALTER TABLE provider_credentials ADD CONSTRAINT provider_credentials_provider_check
    CHECK (provider IN ('twilio', 'slybroadcast', 'elevenlabs', 'bonzo'));

-- NULL: the organisation's choice.
ALTER TABLE users ADD COLUMN sms_provider text CHECK (sms_provider IN ('twilio', 'bonzo'));
ALTER TABLE org_settings ADD COLUMN sms_provider text NOT NULL DEFAULT 'twilio' CHECK (sms_provider IN ('twilio', 'bonzo'));
