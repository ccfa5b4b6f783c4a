//! The suppression list page (admins): search, add, remove with a reason, CSV import and
//! export. The entries are `compliance`'s table; every change here is in the audit log.
use crate::domain::AppError;
use crate::domain::contact::{LineError, csv_safe};
use crate::domain::suppression::{SuppressionImport, SuppressionKind, SuppressionView};
use crate::server::audit;
use crate::server::auth::AuthUser;
use crate::server::engine::compliance::{self, Address};
use crate::server::error::internal;
use crate::server::state::AppState;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

/// Entries an admin adds on the page, and those a CSV brings.
const BY_ADMIN: &str = "admin";
const BY_IMPORT: &str = "csv_import";
/// Search results shown at once.
const SHOWN: i64 = 200;

/// Entries for an exact address (matched by its hash) or whose reason or source holds the
/// text; the newest when the search is empty.
pub async fn search(state: &AppState, user: &AuthUser, q: &str) -> Result<Vec<SuppressionView>, AppError> {
    user.require_admin()?;
    let address = Address::parse(q, &state.settings.default_region).ok();
    let mut conn = state.pool.acquire().await?;
    compliance::search(&mut conn, address.as_ref(), q, SHOWN).await
}

pub async fn add(state: &AppState, user: &AuthUser, address: &str, reason: &str) -> Result<SuppressionView, AppError> {
    user.require_admin()?;
    let address = Address::parse(address, &state.settings.default_region).map_err(AppError::unprocessable)?;
    let reason = required_reason(reason)?;
    let mut tx = state.pool.begin().await?;
    let entry = compliance::suppress(&mut tx, address.channel(), address.as_str(), reason, BY_ADMIN)
        .await?
        .ok_or_else(|| AppError::conflict("That address is on the list already"))?;
    audit::record(&mut *tx, Some(user.id), "suppression.added", "suppression", Some(entry.id), None, Some(audit::json(&entry))).await?;
    tx.commit().await?;
    Ok(entry)
}

/// Lifts an entry: the address may be written to again.
pub async fn remove(state: &AppState, user: &AuthUser, id: Uuid, reason: &str) -> Result<(), AppError> {
    user.require_admin()?;
    let reason = required_reason(reason)?;
    let mut tx = state.pool.begin().await?;
    let entry = compliance::remove(&mut tx, id).await?.ok_or_else(|| AppError::not_found("Suppression"))?;
    let after = json!({ "removed": true, "reason": reason, "source": BY_ADMIN });
    audit::record(&mut *tx, Some(user.id), "suppression.removed", "suppression", Some(id), Some(audit::json(&entry)), Some(after)).await?;
    tx.commit().await?;
    Ok(())
}

fn required_reason(reason: &str) -> Result<&str, AppError> {
    Some(reason.trim()).filter(|r| !r.is_empty()).ok_or_else(|| AppError::unprocessable("Give a reason"))
}

/// One usable row of an imported CSV.
struct Row {
    kind: SuppressionKind,
    hash: Vec<u8>,
    display: Option<String>,
    reason: String,
}

/// A CSV with a header: `address` (or `phone` / `email`) and an optional `reason`, or the
/// export's own `kind`, `hash` and `display` columns. Good rows are added in one
/// transaction; bad ones are reported by line.
pub async fn import_csv(state: &AppState, user: &AuthUser, text: &str) -> Result<SuppressionImport, AppError> {
    user.require_admin()?;
    let mut reader = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| AppError::unprocessable(format!("Unreadable header line: {e}")))?
        .iter()
        .map(str::to_lowercase)
        .collect();
    let col = |names: &[&str]| headers.iter().position(|h| names.contains(&h.as_str()));
    let (address, hash, kind, display, reason) =
        (col(&["address", "phone", "email"]), col(&["hash"]), col(&["kind"]), col(&["display"]), col(&["reason"]));
    if address.is_none() && hash.is_none() {
        return Err(AppError::unprocessable("The file needs an address (or phone, or email) column, or the export's hash column"));
    }
    let mut report = SuppressionImport::default();
    let mut rows = Vec::new();
    for record in reader.records() {
        let parsed = record.map_err(|e| (e.position().map_or(0, |p| p.line()), e.to_string())).and_then(|r| {
            let line = r.position().map_or(0, |p| p.line());
            let cell = |i: Option<usize>| i.and_then(|i| r.get(i)).filter(|c| !c.is_empty());
            let reason = cell(reason).unwrap_or("Imported").to_string();
            let row = match (cell(hash), cell(address)) {
                (Some(h), _) => {
                    let kind = cell(kind).and_then(SuppressionKind::parse).ok_or("kind must be phone or email".to_string());
                    kind.and_then(|kind| Ok(Row { kind, hash: hex(h)?, display: cell(display).map(str::to_string), reason }))
                }
                (None, Some(a)) => Address::parse(a, &state.settings.default_region)
                    .map(|a| Row { kind: a.kind(), hash: a.hash(), display: Some(a.masked()), reason }),
                (None, None) => Err("no address".to_string()),
            };
            row.map_err(|e| (line, e))
        });
        match parsed {
            Ok(row) => rows.push(row),
            Err((line, error)) => report.errors.push(LineError { line, error }),
        }
    }
    let mut tx = state.pool.begin().await?;
    for r in &rows {
        match compliance::insert(&mut tx, r.kind, &r.hash, r.display.as_deref(), &r.reason, BY_IMPORT).await? {
            Some(_) => report.added += 1,
            None => report.already += 1,
        }
    }
    let after = json!({ "added": report.added, "already": report.already, "rejected": report.errors.len(), "source": BY_IMPORT });
    audit::record(&mut *tx, Some(user.id), "suppressions.imported", "suppression", None, None, Some(after)).await?;
    tx.commit().await?;
    Ok(report)
}

/// A SHA-256 hash as 64 hex digits.
fn hex(s: &str) -> Result<Vec<u8>, String> {
    let bad = || format!("'{s}' is not a hash of 64 hex digits");
    if s.len() != 64 || !s.is_ascii() {
        return Err(bad());
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|_| bad())).collect()
}

/// Every entry, oldest first, with its hash: what the import reads back.
pub async fn export_csv(pool: &PgPool, user: &AuthUser) -> Result<Vec<u8>, AppError> {
    user.require_admin()?;
    let mut conn = pool.acquire().await?;
    let entries = compliance::all(&mut conn).await?;
    let out = |e| internal("writing CSV", e);
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["kind", "hash", "display", "reason", "source", "created_at"]).map_err(out)?;
    for (e, hash) in entries {
        let hash: String = hash.iter().map(|b| format!("{b:02x}")).collect();
        let cells = [e.kind.as_str().to_string(), hash, e.display.unwrap_or_default(), e.reason, e.source, e.created_at.to_rfc3339()];
        w.write_record(cells.iter().map(|c| csv_safe(c).into_owned())).map_err(out)?;
    }
    w.into_inner().map_err(|e| internal("writing CSV", e))
}
