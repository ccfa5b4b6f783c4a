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
use crate::server::{campaigns, engine, zones};
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
            // The new enrollments are due: the engine's claim needs the planner to know.
            if let Err(e) = engine::refresh_stats(&state.pool).await {
                tracing::warn!(error = %e, "could not refresh the planner's statistics after an import");
            }
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
        campaign_id: job.campaign_id.to_string(),
        consent_source: job.consent_source.clone(),
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
    /// Each person as new `COPY` rows, encoded here on the reading thread while the previous
    /// chunk is written; the writer appends what only the transaction knows.
    encoded: Vec<Encoded>,
    contact_rows: Vec<u8>,
    enrollment_rows: Vec<u8>,
}

/// Where one person's rows start and end in a chunk's encoded buffers.
struct Encoded {
    contact: std::ops::Range<usize>,
    enrollment: std::ops::Range<usize>,
}

impl Chunk {
    /// Encodes every person as if new: the contact without its consent time, the enrollment
    /// without its engine state (the last columns of `COPY_CONTACTS` and `COPY_ENROLLMENTS`).
    fn encode(&mut self, campaign_id: &str, consent_source: &str) {
        for p in &self.people {
            let id = Uuid::now_v7().to_string();
            let start = self.contact_rows.len();
            copy_fields(&mut self.contact_rows, &[
                Some(&id),
                Some(&p.name),
                p.phone.as_ref().map(E164Phone::as_str),
                p.email.as_ref().map(EmailAddress::as_str),
                p.company.as_deref(),
                Some(&p.time_zone),
                Some(consent_source),
            ]);
            let contact = start..self.contact_rows.len();
            let start = self.enrollment_rows.len();
            let custom = Value::Object(p.custom.clone()).to_string();
            copy_fields(&mut self.enrollment_rows, &[
                Some(&Uuid::now_v7().to_string()),
                Some(campaign_id),
                Some(&id),
                Some(&custom),
            ]);
            self.encoded.push(Encoded { contact, enrollment: start..self.enrollment_rows.len() });
        }
    }

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
    campaign_id: String,
    consent_source: String,
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
                chunk.encode(&self.campaign_id, &self.consent_source);
                // The receiver is gone only when the job stopped; then stop reading.
                if tx.blocking_send(Ok(std::mem::take(&mut chunk))).is_err() {
                    return;
                }
            }
        }
        if chunk.records > 0 {
            chunk.encode(&self.campaign_id, &self.consent_source);
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

/// What the database already holds of one person of a chunk.
#[derive(Default)]
struct Known {
    by_phone: Option<Uuid>,
    by_email: Option<Uuid>,
    suppressed: bool,
}

const IN_DB_CONFLICT: &str = "The phone and the email belong to two different contacts; matched by phone";
const IN_FILE_CONFLICT: &str = "The phone and the email belong to two different people in this file; merged by phone";
const COPY_CONTACTS: &str =
    "COPY contacts (id, name, phone, email, company, time_zone, consent_source, consent_at) FROM STDIN";
const COPY_ENROLLMENTS: &str =
    "COPY enrollments (id, campaign_id, contact_id, custom_fields, engine_state) FROM STDIN";
const SUPPRESSED: &str = "On the suppression list: enrolled, but nothing will be sent";

/// Writes one chunk and the job's progress in one transaction. Existing contacts and
/// suppressions are looked up first; the people nobody knows (nearly all of a fresh file) are
/// then streamed with `COPY` into `contacts` and `enrollments`, and only the matched ones go
/// through the set-based statement that fills empty fields and enrolls.
async fn write_chunk(pool: &PgPool, job: &Job, chunk: Chunk, processed: i64) -> Result<(), AppError> {
    let phones: Vec<Option<&str>> = chunk.people.iter().map(|p| p.phone.as_ref().map(E164Phone::as_str)).collect();
    let emails: Vec<Option<&str>> = chunk.people.iter().map(|p| p.email.as_ref().map(EmailAddress::as_str)).collect();
    let mut tx = pool.begin().await?;
    // Scalar subqueries keep these index lookups per row, however the planner sizes the
    // tables mid-import; the materialized CTE keeps the filter from running them twice.
    let rows = sqlx::query!(
        r#"WITH m AS MATERIALIZED (
             SELECT r.i,
                    (SELECT id FROM contacts WHERE phone = r.phone) AS by_phone,
                    (SELECT id FROM contacts WHERE lower(email) = r.email) AS by_email,
                    (EXISTS (SELECT 1 FROM suppressions
                             WHERE kind = 'phone' AND value_hash = sha256(convert_to(r.phone, 'UTF8')))
                     OR EXISTS (SELECT 1 FROM suppressions
                                WHERE kind = 'email' AND value_hash = sha256(convert_to(r.email, 'UTF8')))) AS suppressed
             FROM UNNEST($1::text[], $2::text[]) WITH ORDINALITY AS r(phone, email, i)
           )
           SELECT i AS "i!", by_phone, by_email, suppressed AS "suppressed!"
           FROM m WHERE by_phone IS NOT NULL OR by_email IS NOT NULL OR suppressed"#,
        &phones as &[Option<&str>],
        &emails as &[Option<&str>]
    )
    .fetch_all(&mut *tx)
    .await?;
    drop((phones, emails));
    let mut known: Vec<Known> = std::iter::repeat_with(Known::default).take(chunk.people.len()).collect();
    for r in rows {
        if let Some(k) = usize::try_from(r.i - 1).ok().and_then(|i| known.get_mut(i)) {
            *k = Known { by_phone: r.by_phone, by_email: r.by_email, suppressed: r.suppressed };
        }
    }
    // New contacts' consent is dated by the transaction, as an INSERT's now() would be.
    let now = sqlx::query_scalar!(r#"SELECT now() AS "now!""#).fetch_one(&mut *tx).await?.to_rfc3339();

    let mut issues = Issues::default();
    for (line, reason) in &chunk.rejected {
        issues.push(*line, "rejected", reason);
    }
    for line in &chunk.conflicts {
        issues.push(*line, "conflict", IN_FILE_CONFLICT);
    }
    let (mut new_contacts, mut new_enrollments) = (Vec::new(), Vec::new());
    let mut matched = Matched::default();
    let (mut created, mut conflicts, mut suppressed) = (0i64, chunk.conflicts.len() as i64, 0i64);
    for ((mut p, k), e) in chunk.people.into_iter().zip(known).zip(chunk.encoded) {
        if k.suppressed {
            suppressed += 1;
            issues.push(p.line, "suppressed", SUPPRESSED);
        }
        let state = if k.suppressed { EngineState::Stopped } else { EngineState::Active };
        let Some(contact_id) = k.by_phone.or(k.by_email) else {
            created += 1;
            new_contacts.extend_from_slice(&chunk.contact_rows[e.contact]);
            new_contacts.push(b'\t');
            new_contacts.extend_from_slice(now.as_bytes());
            new_contacts.push(b'\n');
            new_enrollments.extend_from_slice(&chunk.enrollment_rows[e.enrollment]);
            new_enrollments.push(b'\t');
            new_enrollments.extend_from_slice(state.as_str().as_bytes());
            new_enrollments.push(b'\n');
            continue;
        };
        if matches!((k.by_phone, k.by_email), (Some(a), Some(b)) if a != b) {
            conflicts += 1;
            issues.push(p.line, "conflict", IN_DB_CONFLICT);
            // The phone's contact keeps its own email, or none.
            p.email = None;
        }
        matched.push(p, contact_id, state);
    }
    if created > 0 {
        copy_in(&mut *tx, COPY_CONTACTS, new_contacts).await?;
        copy_in(&mut *tx, COPY_ENROLLMENTS, new_enrollments).await?;
    }
    let updated = matched.contacts();
    let mut enrolled = created;
    if !matched.lines.is_empty() {
        let enrollment_ids: Vec<Uuid> = matched.lines.iter().map(|_| Uuid::now_v7()).collect();
        enrolled += sqlx::query_scalar!(
            r#"WITH s AS (
                 SELECT * FROM UNNEST($2::bigint[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::text[],
                                      $8::text[], $9::text[], $10::jsonb[], $11::text[])
                   AS r(line, contact_id, enrollment_id, name, phone, email, company, time_zone, custom, engine_state)
               ),
               filled AS (
                 UPDATE contacts c SET
                   name = CASE WHEN c.name = '' THEN s.name ELSE c.name END,
                   phone = COALESCE(c.phone, s.phone),
                   email = COALESCE(c.email, s.email),
                   company = COALESCE(c.company, s.company),
                   time_zone = COALESCE(c.time_zone, s.time_zone),
                   consent_source = COALESCE(c.consent_source, $12),
                   consent_at = COALESCE(c.consent_at, now()),
                   updated_at = now()
                 FROM s
                 WHERE c.id = s.contact_id
                   AND ((c.name = '' AND s.name <> '') OR (c.phone IS NULL AND s.phone IS NOT NULL)
                        OR (c.email IS NULL AND s.email IS NOT NULL) OR (c.company IS NULL AND s.company IS NOT NULL)
                        OR c.time_zone IS NULL OR c.consent_source IS NULL)
               ),
               enrolled AS (
                 INSERT INTO enrollments (id, campaign_id, contact_id, engine_state, custom_fields)
                 SELECT DISTINCT ON (contact_id) enrollment_id, $1, contact_id, engine_state, custom
                 FROM s ORDER BY contact_id, line
                 ON CONFLICT (campaign_id, contact_id) DO UPDATE
                   SET custom_fields = enrollments.custom_fields || EXCLUDED.custom_fields, updated_at = now()
                   WHERE EXCLUDED.custom_fields <> '{}'::jsonb
                 RETURNING xmax = 0 AS fresh
               )
               SELECT count(*) AS "fresh!" FROM enrolled WHERE fresh"#,
            job.campaign_id,
            &matched.lines,
            &matched.contact_ids,
            &enrollment_ids,
            &matched.names,
            &matched.phones as &[Option<String>],
            &matched.emails as &[Option<String>],
            &matched.companies as &[Option<String>],
            &matched.zones,
            &matched.customs,
            &matched.states as &[&str],
            job.consent_source
        )
        .fetch_one(&mut *tx)
        .await?;
    }
    if !issues.lines.is_empty() {
        sqlx::query!(
            "INSERT INTO contact_import_issues (import_id, line, kind, reason)
             SELECT $1, line, kind, reason FROM UNNEST($2::bigint[], $3::text[], $4::text[]) AS r(line, kind, reason)
             ON CONFLICT DO NOTHING",
            job.id,
            &issues.lines,
            &issues.kinds as &[&str],
            &issues.reasons as &[&str]
        )
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query!(
        "UPDATE contact_imports SET processed_rows = $2, created = created + $3, updated = updated + $4,
                enrolled = enrolled + $5, skipped = skipped + $6, merged = merged + $7,
                conflicts = conflicts + $8, suppressed = suppressed + $9,
                lease_until = now() + make_interval(secs => $10), updated_at = now()
         WHERE id = $1",
        job.id,
        processed,
        created,
        updated,
        enrolled,
        chunk.rejected.len() as i64,
        chunk.merged,
        conflicts,
        suppressed,
        LEASE.as_secs_f64()
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Rows for `contact_import_issues`, as columns.
#[derive(Default)]
struct Issues<'a> {
    lines: Vec<i64>,
    kinds: Vec<&'static str>,
    reasons: Vec<&'a str>,
}

impl<'a> Issues<'a> {
    fn push(&mut self, line: i64, kind: &'static str, reason: &'a str) {
        self.lines.push(line);
        self.kinds.push(kind);
        self.reasons.push(reason);
    }
}

/// People matched to existing contacts, as columns for one statement.
#[derive(Default)]
struct Matched {
    lines: Vec<i64>,
    contact_ids: Vec<Uuid>,
    names: Vec<String>,
    phones: Vec<Option<String>>,
    emails: Vec<Option<String>>,
    companies: Vec<Option<String>>,
    zones: Vec<String>,
    customs: Vec<Value>,
    states: Vec<&'static str>,
}

impl Matched {
    fn push(&mut self, p: Person, contact_id: Uuid, state: EngineState) {
        self.lines.push(p.line);
        self.contact_ids.push(contact_id);
        self.names.push(p.name);
        self.phones.push(p.phone.map(|ph| ph.as_str().to_string()));
        self.emails.push(p.email.map(|e| e.as_str().to_string()));
        self.companies.push(p.company);
        self.zones.push(p.time_zone);
        self.customs.push(Value::Object(p.custom));
        self.states.push(state.as_str());
    }

    /// Distinct contacts matched: several people of a chunk may match one contact.
    fn contacts(&self) -> i64 {
        self.contact_ids.iter().collect::<std::collections::HashSet<_>>().len() as i64
    }
}

async fn copy_in(tx: &mut sqlx::PgConnection, statement: &str, rows: Vec<u8>) -> Result<(), AppError> {
    let mut copy = tx.copy_in_raw(statement).await?;
    copy.send(rows).await?;
    copy.finish().await?;
    Ok(())
}

/// Appends fields in `COPY`'s text format: tab-separated, `\N` for NULL, backslash escapes.
fn copy_fields(buf: &mut Vec<u8>, fields: &[Option<&str>]) {
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            buf.push(b'\t');
        }
        let Some(s) = field else {
            buf.extend_from_slice(b"\\N");
            continue;
        };
        for &b in s.as_bytes() {
            match b {
                b'\\' => buf.extend_from_slice(b"\\\\"),
                b'\t' => buf.extend_from_slice(b"\\t"),
                b'\n' => buf.extend_from_slice(b"\\n"),
                b'\r' => buf.extend_from_slice(b"\\r"),
                _ => buf.push(b),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::copy_fields;

    #[test]
    fn copy_fields_escape_what_copy_text_format_reads_specially() {
        let mut buf = Vec::new();
        copy_fields(&mut buf, &[Some("a\tb"), None, Some("Bayview\r\nLending"), Some(r#"{"k":"c:\\d"}"#)]);
        let fields = [r"a\tb", r"\N", r"Bayview\r\nLending", r#"{"k":"c:\\\\d"}"#];
        assert_eq!(String::from_utf8(buf).unwrap(), fields.join("\t"));
    }
}
