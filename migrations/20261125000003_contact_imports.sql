-- CSV imports of contacts into a campaign. The uploaded file is spooled under the data
-- directory; the job row is the import's whole state, so a restarted server resumes it
-- from `processed_rows` (each chunk of rows commits together with its progress).
CREATE TABLE contact_imports (
    id              uuid PRIMARY KEY,
    campaign_id     uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    created_by      uuid NOT NULL REFERENCES users (id),
    status          text NOT NULL DEFAULT 'uploaded'
                    CHECK (status IN ('uploaded', 'queued', 'running', 'done', 'failed')),
    file_name       text NOT NULL,
    -- Relative to the data directory.
    file_path       text NOT NULL,
    headers         jsonb NOT NULL,
    -- The first rows as uploaded, for the mapping screen.
    preview         jsonb NOT NULL,
    -- Column index per field: {"phone": 0, "email": 1, ..., "custom": {"Budget": 5}}.
    mapping         jsonb,
    consent_source  text NOT NULL,
    total_rows      bigint NOT NULL,
    -- CSV records (after the header) already committed; a resumed job skips them.
    processed_rows  bigint NOT NULL DEFAULT 0,
    created         bigint NOT NULL DEFAULT 0,
    updated         bigint NOT NULL DEFAULT 0,
    enrolled        bigint NOT NULL DEFAULT 0,
    skipped         bigint NOT NULL DEFAULT 0,
    merged          bigint NOT NULL DEFAULT 0,
    conflicts       bigint NOT NULL DEFAULT 0,
    suppressed      bigint NOT NULL DEFAULT 0,
    error           text,
    -- A worker holds a job while this is in the future; an expired lease is taken over.
    lease_until     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contact_imports_campaign ON contact_imports (campaign_id, created_at DESC);
CREATE INDEX contact_imports_pending ON contact_imports (created_at) WHERE status IN ('queued', 'running');

-- Rows an import rejected, and rows it imported with a note (a phone/email conflict, a
-- suppressed contact). Downloaded as CSV with the file's line numbers.
CREATE TABLE contact_import_issues (
    import_id   uuid NOT NULL REFERENCES contact_imports (id) ON DELETE CASCADE,
    line        bigint NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('rejected', 'conflict', 'suppressed')),
    reason      text NOT NULL,
    PRIMARY KEY (import_id, line, kind)
);

-- Leads search filters by status and stage within the campaigns a user sees.
CREATE INDEX enrollments_campaign_status ON enrollments (campaign_id, status, id);
