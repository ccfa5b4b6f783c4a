//! CSV imports of contacts into a campaign. Owns `contact_imports` and `contact_import_issues`.
//!
//! The upload is spooled to `<data dir>/imports/<id>.csv`. Once its owner maps the columns,
//! the job is queued and the worker started with the server reads the file in chunks; each
//! chunk's contacts, enrollments, issues and the job's progress commit together, so a job
//! interrupted by a restart resumes after its last committed chunk.
//!
//! Rules, per row: the phone is normalised to E.164 and the email validated (a bad one
//! rejects the row, as does a row with neither); people are matched by phone, else by email,
//! and when the phone and the email point at two different contacts the phone wins and the
//! row is noted as a conflict; a matched contact's shared fields are only filled where empty;
//! rows of the same person within the file are merged; suppressed people are enrolled but
//! stopped, and noted. Suppressions are looked up by `sha256(utf8(normalised value))`: the
//! E.164 phone, or the trimmed lower-case email.
use crate::domain::campaign::EngineState;
use crate::domain::contact::{ImportField, ImportStatus, ImportView, check_mapping};
use crate::domain::{AppError, E164Phone, EmailAddress};
use crate::server::auth::AuthUser;
use crate::server::error::internal;
use crate::server::state::AppState;
use crate::server::{campaigns, zones};
use serde_json::{Map, Value};
use sqlx::PgPool;
use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;
use uuid::Uuid;

/// Rows per committed chunk: large enough for set-based SQL to pay off, small enough for a
/// lively progress bar and little work lost to a crash.
const CHUNK_ROWS: usize = 10_000;
/// How long a worker holds a job without renewing; a crashed worker's job is taken over after it.
const LEASE: Duration = Duration::from_secs(30);
const PREVIEW_ROWS: usize = 5;

/// Where an upload is spooled, relative to the data directory.
pub fn spool_path(id: Uuid) -> PathBuf {
    Path::new("imports").join(format!("{id}.csv"))
}

/// Registers a spooled upload: reads its header and first rows and counts its records.
/// The file is read on a blocking thread; it may be large.
pub async fn create(
    state: &AppState,
    user: &AuthUser,
    id: Uuid,
    campaign_id: Uuid,
    file_name: &str,
    consent_source: &str,
) -> Result<ImportView, AppError> {
    campaigns::get(&state.pool, user, campaign_id).await?;
    let path = state.settings.turnout_data_dir.join(spool_path(id));
    let scanned = {
        let path = path.clone();
        tokio::task::spawn_blocking(move || scan(&path)).await.map_err(|e| internal("scanning an upload", e))?
    };
    let (headers, preview, total) = match scanned {
        Ok(s) => s,
        Err(e) => {
            discard(&path).await;
            return Err(AppError::unprocessable(e));
        }
    };
    let consent = consent_source.trim();
    let consent = if consent.is_empty() { format!("CSV import: {file_name}") } else { consent.to_string() };
    let file_path = spool_path(id).to_string_lossy().into_owned();
    sqlx::query!(
        "INSERT INTO contact_imports (id, campaign_id, created_by, file_name, file_path, headers, preview,
                                      consent_source, total_rows)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        id,
        campaign_id,
        user.id,
        file_name,
        file_path,
        serde_json::json!(headers),
        serde_json::json!(preview),
        consent,
        total
    )
    .execute(&state.pool)
    .await?;
    get(&state.pool, user, id).await
}

fn scan(path: &Path) -> Result<(Vec<String>, Vec<Vec<String>>, i64), String> {
    let file = File::open(path).map_err(|e| format!("The upload could not be read: {e}"))?;
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(std::io::BufReader::new(file));
    let headers: Vec<String> = reader
        .byte_headers()
        .map_err(|e| format!("The file is not CSV: {e}"))?
        .iter()
        .map(|h| String::from_utf8_lossy(h).trim().trim_start_matches('\u{feff}').to_string())
        .collect();
    if headers.iter().all(String::is_empty) {
        return Err("The file is empty: the first line should name the columns".into());
    }
    let mut preview = Vec::new();
    let mut total = 0i64;
    let mut record = csv::ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            // Malformed records are reported per line when the job runs.
            Err(_) => {}
        }
        if preview.len() < PREVIEW_ROWS {
            preview.push(record.iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect());
        }
        total += 1;
    }
    Ok((headers, preview, total))
}

async fn discard(path: &Path) {
    if let Err(e) = tokio::fs::remove_file(path).await {
        tracing::warn!(error = %e, path = %path.display(), "could not remove a spooled upload");
    }
}

/// One import, if the user may see its campaign.
pub async fn get(pool: &PgPool, user: &AuthUser, id: Uuid) -> Result<ImportView, AppError> {
    let r = sqlx::query!(
        r#"SELECT i.id, i.campaign_id, k.name AS campaign_name, i.file_name, i.status AS "status: ImportStatus",
                  i.headers, i.preview, i.mapping, i.consent_source, i.total_rows, i.processed_rows, i.created,
                  i.updated, i.enrolled, i.skipped, i.merged, i.conflicts, i.suppressed, i.error
           FROM contact_imports i JOIN campaigns k ON k.id = i.campaign_id
           WHERE i.id = $1 AND ($3 OR k.owner_id = $2)"#,
        id,
        user.id,
        user.is_admin()
    )
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| AppError::not_found("Import"))?;
    let headers: Vec<String> = serde_json::from_value(r.headers).map_err(|e| internal("import headers", e))?;
    let mapping = match r.mapping {
        Some(m) => serde_json::from_value(m).map_err(|e| internal("import mapping", e))?,
        None => headers.iter().map(|h| ImportField::guess(h)).collect(),
    };
    Ok(ImportView {
        id: r.id,
        campaign_id: r.campaign_id,
        campaign_name: r.campaign_name,
        file_name: r.file_name,
        status: r.status,
        preview: serde_json::from_value(r.preview).map_err(|e| internal("import preview", e))?,
        headers,
        mapping,
        consent_source: r.consent_source,
        total_rows: r.total_rows,
        processed_rows: r.processed_rows,
        created: r.created,
        updated: r.updated,
        enrolled: r.enrolled,
        skipped: r.skipped,
        merged: r.merged,
        conflicts: r.conflicts,
        suppressed: r.suppressed,
        error: r.error,
    })
}

/// Queues an uploaded import with its column mapping and wakes the worker.
pub async fn start(
    state: &AppState,
    user: &AuthUser,
    id: Uuid,
    mapping: Vec<ImportField>,
    consent_source: &str,
) -> Result<ImportView, AppError> {
    let current = get(&state.pool, user, id).await?;
    if current.status != ImportStatus::Uploaded {
        return Err(AppError::conflict("This import has already started"));
    }
    check_mapping(&current.headers, &mapping).map_err(AppError::unprocessable)?;
    let consent = consent_source.trim();
    let consent = if consent.is_empty() { current.consent_source.as_str() } else { consent };
    let queued = sqlx::query!(
        "UPDATE contact_imports SET status = 'queued', mapping = $2, consent_source = $3, updated_at = now()
         WHERE id = $1 AND status = 'uploaded'",
        id,
        serde_json::json!(mapping),
        consent
    )
    .execute(&state.pool)
    .await?;
    if queued.rows_affected() == 0 {
        return Err(AppError::conflict("This import has already started"));
    }
    state.imports.notify_one();
    get(&state.pool, user, id).await
}

/// The rejected and noted rows as CSV: line, outcome, reason.
pub async fn issues_csv(pool: &PgPool, user: &AuthUser, id: Uuid) -> Result<Vec<u8>, AppError> {
    get(pool, user, id).await?;
    let rows = sqlx::query!(
        "SELECT line, kind, reason FROM contact_import_issues WHERE import_id = $1 ORDER BY line, kind",
        id
    )
    .fetch_all(pool)
    .await?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let out = |e| internal("writing CSV", e);
    w.write_record(["line", "outcome", "reason"]).map_err(out)?;
    for r in rows {
        w.write_record([r.line.to_string().as_str(), &r.kind, &crate::domain::contact::csv_safe(&r.reason)])
            .map_err(out)?;
    }
    w.into_inner().map_err(|e| internal("writing CSV", e))
}

/// Runs queued and interrupted imports one at a time until shutdown. Started with the server.
pub async fn worker(state: AppState) {
    loop {
        loop {
            match claim(&state.pool).await {
                Ok(Some(job)) => run(&state, job).await,
                Ok(None) => break,
                Err(e) => {
                    tracing::error!(error = %e, "cannot claim an import job");
                    break;
                }
            }
            if state.shutdown.is_cancelled() {
                return;
            }
        }
        tokio::select! {
            _ = state.imports.notified() => {}
            _ = tokio::time::sleep(LEASE) => {}
            _ = state.shutdown.cancelled() => return,
        }
    }
}

/// A job taken by this worker.
pub struct Job {
    pub id: Uuid,
    pub campaign_id: Uuid,
    pub file_path: String,
    pub mapping: Vec<ImportField>,
    pub headers: Vec<String>,
    pub consent_source: String,
    pub processed_rows: i64,
    pub event_time_zone: String,
}

/// Takes the oldest queued job, or a running one whose worker stopped renewing its lease.
pub async fn claim(pool: &PgPool) -> Result<Option<Job>, AppError> {
    let Some(r) = sqlx::query!(
        r#"UPDATE contact_imports i SET status = 'running', lease_until = now() + make_interval(secs => $1),
                  updated_at = now()
           FROM campaigns k
           WHERE k.id = i.campaign_id AND i.id = (
             SELECT id FROM contact_imports
             WHERE status IN ('queued', 'running') AND (lease_until IS NULL OR lease_until < now())
             ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
           RETURNING i.id, i.campaign_id, i.file_path, i.mapping AS "mapping!", i.headers, i.consent_source,
                     i.processed_rows, k.event_time_zone"#,
        LEASE.as_secs_f64()
    )
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    let decode = |e| internal("a queued import", e);
    Ok(Some(Job {
        id: r.id,
        campaign_id: r.campaign_id,
        file_path: r.file_path,
        mapping: serde_json::from_value(r.mapping).map_err(decode)?,
        headers: serde_json::from_value(r.headers).map_err(decode)?,
        consent_source: r.consent_source,
        processed_rows: r.processed_rows,
        event_time_zone: r.event_time_zone,
    }))
}

/// Runs a claimed job to its end, or until shutdown (then releases it for the next start).
pub async fn run(state: &AppState, job: Job) {
    let id = job.id;
    let path = state.settings.turnout_data_dir.join(&job.file_path);
    match process(state, job, &path).await {
        Ok(true) => {
            tracing::info!(import = %id, "import finished");
            discard(&path).await;
        }
        Ok(false) => {
            tracing::info!(import = %id, "import paused for shutdown");
            if let Err(e) = release(&state.pool, id).await {
                tracing::warn!(error = %e, import = %id, "could not release an import");
            }
        }
        Err(e) => {
            tracing::error!(import = %id, error = %e, "import failed");
            if let Err(e) = fail(&state.pool, id, &e.error).await {
                tracing::error!(error = %e, import = %id, "could not mark an import failed");
            }
            discard(&path).await;
        }
    }
}

/// Reads the file on a blocking thread and writes each chunk as it comes.
/// Returns false when stopped by shutdown before the end.
async fn process(state: &AppState, job: Job, path: &Path) -> Result<bool, AppError> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Chunk, String>>(2);
    let reader = Reader {
        path: path.to_path_buf(),
        skip: job.processed_rows,
        mapping: job.mapping.clone(),
        headers: job.headers.clone(),
        region: state.settings.default_region.clone(),
        fallback_zone: job.event_time_zone.clone(),
    };
    let producer = tokio::task::spawn_blocking(move || reader.read(&tx));
    let mut processed = job.processed_rows;
    let mut stopped = false;
    while let Some(chunk) = rx.recv().await {
        let chunk = chunk.map_err(AppError::unprocessable)?;
        processed += chunk.records;
        write_chunk(&state.pool, &job, chunk, processed).await?;
        if state.shutdown.is_cancelled() {
            stopped = true;
            break;
        }
    }
    drop(rx);
    producer.await.map_err(|e| internal("reading an import", e))?;
    if stopped {
        return Ok(false);
    }
    sqlx::query!(
        "UPDATE contact_imports SET status = 'done', lease_until = NULL, updated_at = now() WHERE id = $1",
        job.id
    )
    .execute(&state.pool)
    .await?;
    Ok(true)
}

async fn release(pool: &PgPool, id: Uuid) -> Result<(), AppError> {
    sqlx::query!("UPDATE contact_imports SET lease_until = NULL WHERE id = $1 AND status = 'running'", id)
        .execute(pool)
        .await?;
    Ok(())
}

async fn fail(pool: &PgPool, id: Uuid, error: &str) -> Result<(), AppError> {
    sqlx::query!(
        "UPDATE contact_imports SET status = 'failed', error = $2, lease_until = NULL, updated_at = now() WHERE id = $1",
        id,
        error
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// One person as the file describes them, after normalisation.
#[derive(Debug)]
struct Person {
    line: i64,
    name: String,
    phone: Option<E164Phone>,
    email: Option<EmailAddress>,
    company: Option<String>,
    time_zone: String,
    custom: Map<String, Value>,
}

impl Person {
    /// Fills what this person lacks from another row of the same person.
    fn absorb(&mut self, other: Person, take_email: bool) {
        if self.name.is_empty() {
            self.name = other.name;
        }
        if self.phone.is_none() {
            self.phone = other.phone;
        }
        if self.email.is_none() && take_email {
            self.email = other.email;
        }
        if self.company.is_none() {
            self.company = other.company;
        }
        for (k, v) in other.custom {
            self.custom.entry(k).or_insert(v);
        }
    }
}

/// A chunk of the file: its people with duplicates merged, and its rejected rows.
#[derive(Default)]
struct Chunk {
    records: i64,
    people: Vec<Person>,
    by_phone: HashMap<String, usize>,
    by_email: HashMap<String, usize>,
    rejected: Vec<(i64, String)>,
    conflicts: Vec<i64>,
    merged: i64,
}

impl Chunk {
    fn add(&mut self, p: Person) {
        let by_phone = p.phone.as_ref().and_then(|ph| self.by_phone.get(ph.as_str()).copied());
        let by_email = p.email.as_ref().and_then(|e| self.by_email.get(e.as_str()).copied());
        let (target, take_email) = match (by_phone, by_email) {
            (Some(i), Some(j)) if i != j => {
                self.conflicts.push(p.line);
                (i, false)
            }
            (Some(i), _) | (None, Some(i)) => (i, true),
            (None, None) => {
                let i = self.people.len();
                self.register(i, &p);
                self.people.push(p);
                return;
            }
        };
        self.merged += 1;
        let before = (self.people[target].phone.is_some(), self.people[target].email.is_some());
        self.people[target].absorb(p, take_email);
        let t = &self.people[target];
        if before != (t.phone.is_some(), t.email.is_some()) {
            let (phone, email) = (t.phone.clone(), t.email.clone());
            self.by_phone.extend(phone.map(|ph| (ph.as_str().to_string(), target)));
            self.by_email.extend(email.map(|e| (e.as_str().to_string(), target)));
        }
    }

    fn register(&mut self, i: usize, p: &Person) {
        if let Some(ph) = &p.phone {
            self.by_phone.insert(ph.as_str().to_string(), i);
        }
        if let Some(e) = &p.email {
            self.by_email.insert(e.as_str().to_string(), i);
        }
    }
}

/// Reads the spooled file, past the records already committed, into chunks.
struct Reader {
    path: PathBuf,
    skip: i64,
    mapping: Vec<ImportField>,
    headers: Vec<String>,
    region: String,
    fallback_zone: String,
}

impl Reader {
    fn read(self, tx: &tokio::sync::mpsc::Sender<Result<Chunk, String>>) {
        let file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) => {
                let _ = tx.blocking_send(Err(format!("The uploaded file is gone: {e}")));
                return;
            }
        };
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .buffer_capacity(1 << 20)
            .from_reader(file);
        let mut record = csv::ByteRecord::new();
        let mut seen = 0i64;
        let mut chunk = Chunk::default();
        loop {
            let line = reader.position().line() as i64;
            let read = reader.read_byte_record(&mut record);
            match &read {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) if e.is_io_error() => {
                    let _ = tx.blocking_send(Err(format!("The uploaded file could not be read: {e}")));
                    return;
                }
                Err(_) => record.clear(),
            }
            seen += 1;
            if seen <= self.skip {
                continue;
            }
            chunk.records += 1;
            let line = record.position().map_or(line, |p| p.line() as i64);
            match read.map_err(|e| format!("Malformed CSV: {e}")).and_then(|_| self.person(line, &record)) {
                Ok(p) => chunk.add(p),
                Err(reason) => chunk.rejected.push((line, reason)),
            }
            if chunk.records as usize >= CHUNK_ROWS {
                // The receiver is gone only when the job stopped; then stop reading.
                if tx.blocking_send(Ok(std::mem::take(&mut chunk))).is_err() {
                    return;
                }
            }
        }
        if chunk.records > 0 {
            let _ = tx.blocking_send(Ok(chunk));
        }
    }

    fn person(&self, line: i64, record: &csv::ByteRecord) -> Result<Person, String> {
        if record.len() != self.headers.len() {
            return Err(format!("The row has {} fields; the header has {}", record.len(), self.headers.len()));
        }
        let mut p = Person {
            line,
            name: String::new(),
            phone: None,
            email: None,
            company: None,
            time_zone: String::new(),
            custom: Map::new(),
        };
        let (mut first, mut last) = ("", "");
        for (i, (field, raw)) in self.mapping.iter().zip(record.iter()).enumerate() {
            let value = std::str::from_utf8(raw)
                .map_err(|_| format!("Column '{}' is not valid UTF-8 text", self.headers[i]))?
                .trim();
            if value.is_empty() {
                continue;
            }
            match field {
                ImportField::Name => p.name = value.to_string(),
                ImportField::FirstName => first = value,
                ImportField::LastName => last = value,
                ImportField::Phone => p.phone = Some(E164Phone::parse(value, &self.region).map_err(capitalise)?),
                ImportField::Email => p.email = Some(EmailAddress::parse(value).map_err(capitalise)?),
                ImportField::Company => p.company = Some(value.to_string()),
                ImportField::TimeZone => {
                    let tz: chrono_tz::Tz = value.parse().map_err(|_| format!("'{value}' is not a known time zone"))?;
                    p.time_zone = tz.name().to_string();
                }
                ImportField::Custom => {
                    p.custom.insert(self.headers[i].clone(), Value::String(value.to_string()));
                }
                ImportField::Ignore => {}
            }
        }
        if p.name.is_empty() {
            p.name = format!("{first} {last}").trim().to_string();
        }
        if p.phone.is_none() && p.email.is_none() {
            return Err("The row has neither a phone number nor an email address".into());
        }
        if p.time_zone.is_empty() {
            p.time_zone = p.phone.as_ref().and_then(zones::zone_of).unwrap_or(&self.fallback_zone).to_string();
        }
        Ok(p)
    }
}

fn capitalise(s: String) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

/// Writes one chunk and the job's progress in one transaction: matching, new contacts,
/// filling empty shared fields, enrollments and issues are set-based statements over the
/// chunk's rows passed as arrays.
async fn write_chunk(pool: &PgPool, job: &Job, chunk: Chunk, processed: i64) -> Result<(), AppError> {
    let n = chunk.people.len();
    let (mut lines, mut ids, mut enrollment_ids) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut names, mut phones, mut emails) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut companies, mut zones_, mut customs) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    for p in chunk.people {
        lines.push(p.line);
        ids.push(Uuid::now_v7());
        enrollment_ids.push(Uuid::now_v7());
        names.push(p.name);
        phones.push(p.phone.map(|ph| ph.as_str().to_string()));
        emails.push(p.email.map(|e| e.as_str().to_string()));
        companies.push(p.company);
        zones_.push(p.time_zone);
        customs.push(Value::Object(p.custom));
    }
    let mut tx = pool.begin().await?;
    let counts = sqlx::query!(
        r#"WITH s AS MATERIALIZED (
             SELECT r.*, COALESCE(p.id, e.id, r.new_id) AS contact_id,
                    (p.id IS NULL AND e.id IS NULL) AS is_new,
                    (p.id IS NOT NULL AND e.id IS NOT NULL AND p.id <> e.id) AS conflict,
                    (sp.id IS NOT NULL OR se.id IS NOT NULL) AS suppressed
             FROM UNNEST($3::bigint[], $4::uuid[], $5::uuid[], $6::text[], $7::text[], $8::text[], $9::text[],
                         $10::text[], $11::jsonb[])
                  AS r(line, new_id, enrollment_id, name, phone, email, company, time_zone, custom)
             LEFT JOIN contacts p ON p.phone = r.phone
             LEFT JOIN contacts e ON lower(e.email) = r.email
             LEFT JOIN suppressions sp ON sp.kind = 'phone' AND sp.value_hash = sha256(convert_to(r.phone, 'UTF8'))
             LEFT JOIN suppressions se ON se.kind = 'email' AND se.value_hash = sha256(convert_to(r.email, 'UTF8'))
           ),
           created AS (
             INSERT INTO contacts (id, name, phone, email, company, time_zone, consent_source, consent_at)
             SELECT new_id, name, phone, email, company, time_zone, $12, now() FROM s WHERE is_new
             RETURNING 1
           ),
           filled AS (
             UPDATE contacts c SET
               name = CASE WHEN c.name = '' THEN s.name ELSE c.name END,
               phone = COALESCE(c.phone, s.phone),
               email = COALESCE(c.email, CASE WHEN s.conflict THEN NULL ELSE s.email END),
               company = COALESCE(c.company, s.company),
               time_zone = COALESCE(c.time_zone, s.time_zone),
               consent_source = COALESCE(c.consent_source, $12),
               consent_at = COALESCE(c.consent_at, now()),
               updated_at = now()
             FROM s
             WHERE c.id = s.contact_id AND NOT s.is_new
               AND ((c.name = '' AND s.name <> '') OR (c.phone IS NULL AND s.phone IS NOT NULL)
                    OR (c.email IS NULL AND s.email IS NOT NULL AND NOT s.conflict)
                    OR (c.company IS NULL AND s.company IS NOT NULL) OR c.time_zone IS NULL
                    OR c.consent_source IS NULL)
             RETURNING 1
           ),
           enrolled AS (
             INSERT INTO enrollments (id, campaign_id, contact_id, engine_state, custom_fields)
             SELECT DISTINCT ON (contact_id) enrollment_id, $1, contact_id,
                    CASE WHEN suppressed THEN $13 ELSE $14 END, custom
             FROM s ORDER BY contact_id, line
             ON CONFLICT (campaign_id, contact_id) DO UPDATE
               SET custom_fields = enrollments.custom_fields || EXCLUDED.custom_fields, updated_at = now()
               WHERE EXCLUDED.custom_fields <> '{}'::jsonb
             RETURNING xmax = 0 AS fresh
           ),
           noted AS (
             INSERT INTO contact_import_issues (import_id, line, kind, reason)
             SELECT $2::uuid, line, 'conflict', 'The phone and the email belong to two different contacts; matched by phone'
             FROM s WHERE conflict
             UNION ALL
             SELECT $2::uuid, line, 'suppressed', 'On the suppression list: enrolled, but nothing will be sent'
             FROM s WHERE suppressed
             ON CONFLICT DO NOTHING
             RETURNING 1
           )
           SELECT (SELECT count(*) FROM created) AS "created!",
                  (SELECT count(DISTINCT contact_id) FROM s WHERE NOT is_new) AS "updated!",
                  (SELECT count(*) FROM enrolled WHERE fresh) AS "enrolled!",
                  (SELECT count(*) FROM s WHERE conflict) AS "conflicts!",
                  (SELECT count(*) FROM s WHERE suppressed) AS "suppressed!""#,
        job.campaign_id,
        job.id,
        &lines,
        &ids,
        &enrollment_ids,
        &names,
        &phones as &[Option<String>],
        &emails as &[Option<String>],
        &companies as &[Option<String>],
        &zones_,
        &customs,
        job.consent_source,
        EngineState::Stopped as EngineState,
        EngineState::Active as EngineState
    )
    .fetch_one(&mut *tx)
    .await?;
    let (rejected_lines, reasons): (Vec<i64>, Vec<&str>) =
        chunk.rejected.iter().map(|(l, r)| (*l, r.as_str())).unzip();
    let in_file_conflicts = chunk.conflicts.len() as i64;
    let conflict_reason = "The phone and the email belong to two different people in this file; merged by phone";
    sqlx::query!(
        "INSERT INTO contact_import_issues (import_id, line, kind, reason)
         SELECT $1::uuid, line, 'rejected', reason FROM UNNEST($2::bigint[], $3::text[]) AS r(line, reason)
         UNION ALL
         SELECT $1::uuid, line, 'conflict', $5 FROM UNNEST($4::bigint[]) AS c(line)
         ON CONFLICT DO NOTHING",
        job.id,
        &rejected_lines,
        &reasons as &[&str],
        &chunk.conflicts,
        conflict_reason
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "UPDATE contact_imports SET processed_rows = $2, created = created + $3, updated = updated + $4,
                enrolled = enrolled + $5, skipped = skipped + $6, merged = merged + $7,
                conflicts = conflicts + $8, suppressed = suppressed + $9,
                lease_until = now() + make_interval(secs => $10), updated_at = now()
         WHERE id = $1",
        job.id,
        processed,
        counts.created,
        counts.updated,
        counts.enrolled,
        chunk.rejected.len() as i64,
        chunk.merged,
        counts.conflicts + in_file_conflicts,
        counts.suppressed,
        LEASE.as_secs_f64()
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
