//! Campaigns as their owners and admins see them. Owns `campaigns` and `enrollments`.
use crate::domain::AppError;
use crate::domain::campaign::{
    CampaignAction, CampaignDetail, CampaignFilter, Channel, CampaignStatus, CampaignSummary, EngineState,
    EnrollmentAction, EnrollmentStatus, EnrollmentView, EventType, NewCampaignInput, NodeCounts, SendWindowView,
};
use crate::domain::schedule::{SendWindow, format_minutes, parse_minutes};
use crate::server::engine;
use crate::domain::funnel::{FunnelGraph, GraphDraft};
use crate::domain::merge::MergeValues;
use crate::domain::template::TemplateStatus;
use crate::server::state::AppState;
use crate::server::templates::{self, GraphOwner};
use crate::domain::inbox::Event;
use crate::server::{audit, content, realtime, users};
use crate::server::auth::AuthUser;
use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

/// Campaigns the user may see (all for admins, their own for BDRs) that match the filter.
pub async fn list(pool: &PgPool, user: &AuthUser, filter: &CampaignFilter) -> Result<Vec<CampaignSummary>, AppError> {
    visible(pool, user, None, filter).await
}

/// One campaign; another BDR's campaign is "not found" so its existence is not revealed.
pub async fn get(pool: &PgPool, user: &AuthUser, id: Uuid) -> Result<CampaignSummary, AppError> {
    visible(pool, user, Some(id), &CampaignFilter::default())
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| AppError::not_found("Campaign"))
}

async fn visible(pool: &PgPool, user: &AuthUser, id: Option<Uuid>, f: &CampaignFilter) -> Result<Vec<CampaignSummary>, AppError> {
    let from = f.from.and_then(|d| d.and_hms_opt(0, 0, 0)).map(|t| t.and_utc());
    let to = f.to.and_then(|d| d.succ_opt()).and_then(|d| d.and_hms_opt(0, 0, 0)).map(|t| t.and_utc());
    Ok(sqlx::query_as!(
        CampaignSummary,
        r#"SELECT k.id, k.name, k.status AS "status: CampaignStatus", k.event_type AS "event_type: EventType",
                  k.event_start, k.event_time_zone, k.venue, k.owner_id, u.name AS owner_name,
                  (SELECT count(*) FROM enrollments e WHERE e.campaign_id = k.id) AS "enrolled!",
                  (SELECT count(*) FROM enrollments e WHERE e.campaign_id = k.id AND e.status = 'Needs BDR') AS "needs_bdr!"
           FROM campaigns k JOIN users u ON u.id = k.owner_id
           WHERE ($2 OR k.owner_id = $1) AND ($3::uuid IS NULL OR k.id = $3)
             AND ($4::text IS NULL OR k.status = $4) AND ($5::uuid IS NULL OR k.owner_id = $5)
             AND ($6::timestamptz IS NULL OR k.event_start >= $6) AND ($7::timestamptz IS NULL OR k.event_start < $7)
           ORDER BY k.event_start DESC, k.id"#,
        user.id,
        user.is_admin(),
        id,
        f.status.map(|s| s.as_str()),
        f.owner_id,
        from,
        to
    )
    .fetch_all(pool)
    .await?)
}

/// What a new campaign needs; the graph is cloned separately.
pub struct NewCampaign<'a> {
    pub name: &'a str,
    pub status: CampaignStatus,
    pub event_type: EventType,
    pub event_start: DateTime<Utc>,
    pub event_time_zone: &'a str,
    pub venue: Option<&'a str>,
    pub join_link: Option<&'a str>,
    pub owner_id: Uuid,
    pub sender_id: Uuid,
    pub template_version_id: Option<Uuid>,
}

pub async fn insert(db: impl PgExecutor<'_>, c: &NewCampaign<'_>) -> Result<Uuid, AppError> {
    Ok(sqlx::query_scalar!(
        "INSERT INTO campaigns (id, name, status, event_type, event_start, event_time_zone, venue, join_link,
                                owner_id, sender_id, template_version_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        Uuid::now_v7(),
        c.name,
        c.status as CampaignStatus,
        c.event_type as EventType,
        c.event_start,
        c.event_time_zone,
        c.venue,
        c.join_link,
        c.owner_id,
        c.sender_id,
        c.template_version_id
    )
    .fetch_one(db)
    .await?)
}

pub async fn enroll(
    db: impl PgExecutor<'_>,
    campaign_id: Uuid,
    contact_id: Uuid,
    status: EnrollmentStatus,
    stage_key: Option<&str>,
) -> Result<Uuid, AppError> {
    Ok(sqlx::query_scalar!(
        "INSERT INTO enrollments (id, campaign_id, contact_id, status, stage_key)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
        Uuid::now_v7(),
        campaign_id,
        contact_id,
        status as EnrollmentStatus,
        stage_key
    )
    .fetch_one(db)
    .await?)
}

/// Sets the status of the given enrollments, limited to the user's campaigns (all for
/// admins), and records the change. Returns how many changed.
pub async fn set_status(pool: &PgPool, user: &AuthUser, ids: &[Uuid], status: EnrollmentStatus) -> Result<i64, AppError> {
    let mut tx = pool.begin().await?;
    let mut touched = sqlx::query_scalar!(
        "UPDATE enrollments e SET status = $3, updated_at = now()
         FROM campaigns k
         WHERE k.id = e.campaign_id AND e.id = ANY($4) AND ($2 OR k.owner_id = $1) AND e.status <> $3
         RETURNING e.campaign_id",
        user.id,
        user.is_admin(),
        status as EnrollmentStatus,
        ids
    )
    .fetch_all(&mut *tx)
    .await?;
    let changed = touched.len() as i64;
    let after = serde_json::json!({ "status": status, "changed": changed });
    audit::record(&mut *tx, Some(user.id), "enrollments.status_changed", "enrollment", None, None, Some(after)).await?;
    touched.sort();
    touched.dedup();
    realtime::publish(&mut *tx, &touched.into_iter().map(Event::campaign).collect::<Vec<_>>()).await?;
    tx.commit().await?;
    Ok(changed)
}

/// The values a campaign's messages are rendered with, for one of its contacts (or only
/// the campaign's own when no contact is given).
pub async fn merge_values(pool: &PgPool, user: &AuthUser, id: Uuid, contact: Option<Uuid>) -> Result<MergeValues, AppError> {
    let k = sqlx::query!(
        r#"SELECT k.event_start, k.event_time_zone, k.venue, k.join_link, o.name AS owner_name, s.name AS sender_name
           FROM campaigns k JOIN users o ON o.id = k.owner_id JOIN users s ON s.id = k.sender_id
           WHERE k.id = $1 AND ($3 OR k.owner_id = $2)"#,
        id,
        user.id,
        user.is_admin()
    )
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| AppError::not_found("Campaign"))?;
    let local = match k.event_time_zone.parse::<chrono_tz::Tz>() {
        Ok(tz) => k.event_start.with_timezone(&tz).naive_local(),
        Err(_) => k.event_start.naive_utc(),
    };
    let values = MergeValues::for_event(local, k.venue.or(k.join_link), k.owner_name, k.sender_name);
    let Some(contact) = contact else { return Ok(values) };
    let c = sqlx::query!(
        "SELECT c.name, c.company, e.custom_fields FROM enrollments e JOIN contacts c ON c.id = e.contact_id
         WHERE e.campaign_id = $1 AND e.contact_id = $2",
        id,
        contact
    )
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| AppError::not_found("Contact"))?;
    Ok(values.with_contact(&c.name, c.company, &c.custom_fields))
}

/// Starts a campaign from a published template version: the version's graph is cloned
/// into the campaign, which is its own from then on. BDRs create campaigns for themselves.
pub async fn create(state: &AppState, actor: &AuthUser, input: &NewCampaignInput) -> Result<CampaignDetail, AppError> {
    let name = input.name.trim();
    if name.is_empty() {
        return Err(AppError::unprocessable("A campaign needs a name"));
    }
    let version = input.template_version_id.ok_or_else(|| AppError::unprocessable("Choose a published template"))?;
    let event_type = input.event_type.ok_or_else(|| AppError::unprocessable("Choose In-Person or Virtual"))?;
    let tz: chrono_tz::Tz = input
        .event_time_zone
        .trim()
        .parse()
        .map_err(|_| AppError::unprocessable(format!("'{}' is not a known time zone", input.event_time_zone.trim())))?;
    let local = chrono::NaiveDateTime::parse_from_str(input.event_start.trim(), "%Y-%m-%dT%H:%M")
        .map_err(|_| AppError::unprocessable("The event start must be a date and time"))?;
    let event_start = local
        .and_local_timezone(tz)
        .earliest()
        .ok_or_else(|| AppError::unprocessable("That time does not exist in the event's time zone (a clock change)"))?
        .with_timezone(&chrono::Utc);
    let venue = Some(input.venue.trim()).filter(|v| !v.is_empty());
    let join_link = Some(input.join_link.trim()).filter(|v| !v.is_empty());
    match event_type {
        EventType::InPerson if venue.is_none() => return Err(AppError::unprocessable("An in-person event needs a venue")),
        EventType::Virtual if !join_link.is_some_and(|l| l.starts_with("https://") || l.starts_with("http://")) => {
            return Err(AppError::unprocessable("A virtual event needs a join link (https://...)"));
        }
        _ => {}
    }
    let owner = input.owner_id.unwrap_or(actor.id);
    let sender = input.sender_id.unwrap_or(owner);
    if !actor.is_admin() && (owner != actor.id || sender != actor.id) {
        return Err(AppError::forbidden());
    }
    for who in [owner, sender] {
        match users::find_by_id(&state.pool, who).await? {
            Some(u) if !u.disabled => {}
            _ => return Err(AppError::unprocessable("The owner and sender must be active users")),
        }
    }
    let mut tx = state.pool.begin().await?;
    let published = sqlx::query_scalar!(
        r#"SELECT t.status AS "status: TemplateStatus" FROM template_versions v JOIN templates t ON t.id = v.template_id
           WHERE v.id = $1"#,
        version
    )
    .fetch_optional(&mut *tx)
    .await?;
    if published.is_none() {
        return Err(AppError::unprocessable("That template version does not exist"));
    }
    let graph = templates::load_graph(&mut tx, GraphOwner::TemplateVersion(version)).await?;
    let id = insert(&mut *tx, &NewCampaign {
        name,
        status: CampaignStatus::Draft,
        event_type,
        event_start,
        event_time_zone: tz.name(),
        venue,
        join_link,
        owner_id: owner,
        sender_id: sender,
        template_version_id: Some(version),
    })
    .await?;
    templates::insert_graph(&mut tx, GraphOwner::Campaign(id), &graph).await?;
    audit::record(&mut *tx, Some(actor.id), "campaign.created", "campaign", Some(id), None, Some(serde_json::json!({ "name": name, "template_version_id": version }))).await?;
    tx.commit().await?;
    detail(&state.pool, actor, id).await
}

pub async fn detail(pool: &PgPool, user: &AuthUser, id: Uuid) -> Result<CampaignDetail, AppError> {
    let summary = get(pool, user, id).await?;
    let k = sqlx::query!(
        "SELECT join_link, sender_id, graph_version, window_start, window_end, window_days, opt_out_line, pause_on_reply
         FROM campaigns WHERE id = $1",
        id
    )
    .fetch_one(pool)
    .await?;
    let mut conn = pool.acquire().await?;
    let graph = templates::load_graph(&mut conn, GraphOwner::Campaign(id)).await?;
    let issues = FunnelGraph::parse(&graph).err().unwrap_or_default();
    let rows = sqlx::query_as!(
        EnrollmentView,
        r#"SELECT e.id, e.contact_id, c.name AS contact_name, e.status AS "status: EnrollmentStatus", e.stage_key,
                  e.engine_state AS "engine_state: EngineState", e.current_node, e.next_run_at, e.held_reason
           FROM enrollments e JOIN contacts c ON c.id = e.contact_id
           WHERE e.campaign_id = $1
           ORDER BY (e.engine_state = 'paused' AND e.current_node IS NOT NULL
                     AND NOT EXISTS (SELECT 1 FROM nodes n WHERE n.campaign_id = e.campaign_id AND n.key = e.current_node)) DESC,
                    e.id
           LIMIT 200"#,
        id
    )
    .fetch_all(&mut *conn)
    .await?;
    let keys: std::collections::BTreeSet<&str> = graph.nodes.iter().map(|n| n.key.as_str()).collect();
    let stranded = rows
        .iter()
        .filter(|e| e.engine_state == EngineState::Paused && e.current_node.as_deref().is_some_and(|n| !keys.contains(n)))
        .cloned()
        .collect();
    let counts = node_counts(&mut conn, id, Utc::now()).await?;
    Ok(CampaignDetail {
        counts,
        window: SendWindowView {
            start: format_minutes(k.window_start),
            end: format_minutes(k.window_end),
            days: k.window_days,
            opt_out_line: k.opt_out_line,
            pause_on_reply: Some(k.pause_on_reply),
        },
        summary,
        join_link: k.join_link,
        sender_id: k.sender_id,
        graph_version: k.graph_version,
        issues,
        graph,
        enrollments: rows,
        stranded,
    })
}

/// Moves a campaign through its life. Activation needs a valid funnel and copies the
/// content the funnel uses into its nodes, so later edits to shared content never change a
/// running campaign.
pub async fn act(state: &AppState, user: &AuthUser, id: Uuid, action: CampaignAction) -> Result<CampaignDetail, AppError> {
    use CampaignStatus as S;
    let current = get(&state.pool, user, id).await?.status;
    let next = match (action, current) {
        (CampaignAction::Activate, S::Draft | S::Scheduled) => S::Active,
        (CampaignAction::Pause, S::Active) => S::Paused,
        (CampaignAction::Resume, S::Paused) => S::Active,
        (CampaignAction::Complete, S::Active | S::Paused) => S::Completed,
        (CampaignAction::Archive, s) if s != S::Archived => S::Archived,
        (a, s) => return Err(AppError::conflict(format!("The campaign is {s}; it cannot {a}"))),
    };
    let mut tx = state.pool.begin().await?;
    if action == CampaignAction::Activate {
        let graph = templates::load_graph(&mut tx, GraphOwner::Campaign(id)).await?;
        let graph = runnable(&mut tx, graph).await?;
        templates::replace_graph(&mut tx, GraphOwner::Campaign(id), &graph).await?;
    }
    sqlx::query!("UPDATE campaigns SET status = $2, updated_at = now() WHERE id = $1", id, next as CampaignStatus)
        .execute(&mut *tx)
        .await?;
    match next {
        // Stopping ends every contact's run; a send in flight still records its outcome.
        S::Completed | S::Archived => {
            sqlx::query!(
                "UPDATE enrollments SET engine_state = 'stopped', next_run_at = NULL, updated_at = now()
                 WHERE campaign_id = $1 AND engine_state IN ('active', 'paused', 'held')",
                id
            )
            .execute(&mut *tx)
            .await?;
        }
        S::Active => engine::wake(&mut *tx).await?,
        _ => {}
    }
    audit::record(&mut *tx, Some(user.id), &format!("campaign.{action}"), "campaign", Some(id), Some(serde_json::json!({ "status": current })), Some(serde_json::json!({ "status": next }))).await?;
    tx.commit().await?;
    if action == CampaignAction::Activate {
        engine::refresh_stats(&state.pool).await?;
    }
    detail(&state.pool, user, id).await
}

/// A graph ready to run: valid, with its content copied in and every merge tag known.
async fn runnable(db: &mut sqlx::PgConnection, graph: GraphDraft) -> Result<GraphDraft, AppError> {
    let graph = content::inline(db, graph).await?;
    if let Err(issues) = FunnelGraph::parse(&graph) {
        let list: Vec<String> = issues.iter().map(|i| i.to_string()).collect();
        return Err(AppError::unprocessable(format!("The funnel has problems: {}", list.join("; "))));
    }
    Ok(graph)
}

/// Saves a campaign's own graph. A draft takes any graph (issues come back); a running
/// campaign takes only a runnable one, as a new graph version, and enrollments on a node the
/// new version removed are paused and listed for the BDR to move.
pub async fn save_graph(state: &AppState, user: &AuthUser, id: Uuid, graph: &GraphDraft) -> Result<CampaignDetail, AppError> {
    let status = get(&state.pool, user, id).await?.status;
    let mut tx = state.pool.begin().await?;
    let graph = match status {
        CampaignStatus::Draft => graph.clone().sorted(),
        CampaignStatus::Scheduled | CampaignStatus::Active | CampaignStatus::Paused => runnable(&mut tx, graph.clone().sorted()).await?,
        s => return Err(AppError::conflict(format!("The campaign is {s}; its funnel cannot change"))),
    };
    templates::replace_graph(&mut tx, GraphOwner::Campaign(id), &graph).await?;
    if status != CampaignStatus::Draft {
        let keys: Vec<String> = graph.nodes.iter().map(|n| n.key.clone()).collect();
        sqlx::query!("UPDATE campaigns SET graph_version = graph_version + 1, updated_at = now() WHERE id = $1", id)
            .execute(&mut *tx)
            .await?;
        sqlx::query!(
            "UPDATE enrollments SET engine_state = 'paused', updated_at = now()
             WHERE campaign_id = $1 AND engine_state IN ('active', 'held') AND current_node IS NOT NULL
               AND NOT (current_node = ANY($2))",
            id,
            &keys
        )
        .execute(&mut *tx)
        .await?;
    }
    audit::record(&mut *tx, Some(user.id), "campaign.graph_saved", "campaign", Some(id), None, Some(serde_json::json!({ "nodes": graph.nodes.len() }))).await?;
    tx.commit().await?;
    detail(&state.pool, user, id).await
}

/// Puts paused contacts (e.g. stranded by a funnel change) on a node of the campaign's
/// current funnel and lets the engine carry on with them from there.
pub async fn move_enrollments(
    state: &AppState,
    user: &AuthUser,
    id: Uuid,
    enrollments: &[Uuid],
    to_node: &str,
) -> Result<CampaignDetail, AppError> {
    get(&state.pool, user, id).await?;
    let mut tx = state.pool.begin().await?;
    let graph = templates::load_graph(&mut tx, GraphOwner::Campaign(id)).await?;
    if !graph.nodes.iter().any(|n| n.key == to_node) {
        return Err(AppError::unprocessable(format!("The funnel has no step {to_node}")));
    }
    let moved = sqlx::query!(
        "UPDATE enrollments SET current_node = $3, engine_state = 'active', next_run_at = now(), updated_at = now()
         WHERE campaign_id = $1 AND id = ANY($2) AND engine_state = 'paused'",
        id,
        enrollments,
        to_node
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if moved != enrollments.len() as u64 {
        return Err(AppError::unprocessable("Only paused contacts of this campaign can be moved"));
    }
    audit::record(&mut *tx, Some(user.id), "campaign.enrollments_moved", "campaign", Some(id), None, Some(serde_json::json!({ "to": to_node, "count": moved }))).await?;
    engine::wake(&mut *tx).await?;
    tx.commit().await?;
    detail(&state.pool, user, id).await
}

/// Marks every enrollment of the contacts at this address as opted out and stops their runs.
pub async fn opt_out(db: &mut sqlx::PgConnection, channel: Channel, address: &str, now: DateTime<Utc>) -> Result<u64, AppError> {
    let by_email = channel == Channel::Email;
    let contacts = sqlx::query_scalar!(
        "SELECT id FROM contacts WHERE CASE WHEN $2 THEN lower(email) = lower($1) ELSE phone = $1 END",
        address,
        by_email
    )
    .fetch_all(&mut *db)
    .await?;
    Ok(opt_out_contacts(db, &contacts, now).await?.len() as u64)
}

/// Why the engine stopped a run of a contact who opted out.
pub const OPTED_OUT: &str = "The contact opted out";

/// Marks every enrollment of these contacts Opted Out and stops the runs still going (paused
/// and held ones too: nothing more is sent). Returns the enrollments changed, with the
/// status each had.
pub async fn opt_out_contacts(db: &mut sqlx::PgConnection, contacts: &[Uuid], now: DateTime<Utc>) -> Result<Vec<(Uuid, EnrollmentStatus)>, AppError> {
    let rows = sqlx::query!(
        r#"WITH old AS (
             SELECT id, status, engine_state IN ('active', 'paused', 'held') AS running FROM enrollments
             WHERE contact_id = ANY($1) AND (status <> 'Opted Out' OR engine_state IN ('active', 'paused', 'held'))
             FOR UPDATE
           )
           UPDATE enrollments e SET status = 'Opted Out',
                  engine_state = CASE WHEN old.running THEN 'stopped' ELSE e.engine_state END,
                  held_reason = CASE WHEN old.running THEN $2 ELSE e.held_reason END, updated_at = now()
           FROM old WHERE e.id = old.id
           RETURNING e.id, old.status AS "status: EnrollmentStatus", old.running AS "running!", e.current_node"#,
        contacts,
        OPTED_OUT
    )
    .fetch_all(&mut *db)
    .await?;
    let stopped: Vec<(Uuid, Option<String>)> = rows.iter().filter(|r| r.running).map(|r| (r.id, r.current_node.clone())).collect();
    record_events(db, &stopped, "stopped", OPTED_OUT, now).await?;
    Ok(rows.into_iter().map(|r| (r.id, r.status)).collect())
}

/// Erasure: the contact's enrollments keep their statuses, not the fields imported with them.
pub async fn erase_custom_fields(db: &mut sqlx::PgConnection, contact: Uuid) -> Result<(), AppError> {
    sqlx::query!("UPDATE enrollments SET custom_fields = '{}', updated_at = now() WHERE contact_id = $1", contact)
        .execute(&mut *db)
        .await?;
    Ok(())
}

/// Undoes an opt-out for a contact who texted START: their opted-out enrollments need a
/// person again (Needs BDR), and the runs the opt-out stopped wait, paused, for someone to
/// resume them. Returns the enrollments changed.
pub async fn opt_back_in(db: &mut sqlx::PgConnection, contact: Uuid, now: DateTime<Utc>) -> Result<Vec<Uuid>, AppError> {
    const REASON: &str = "The contact opted back in; resume to go on";
    let rows = sqlx::query!(
        r#"UPDATE enrollments SET status = 'Needs BDR',
                  engine_state = CASE WHEN engine_state = 'stopped' AND held_reason = $2 THEN 'paused' ELSE engine_state END,
                  held_reason = CASE WHEN engine_state = 'stopped' AND held_reason = $2 THEN $3 ELSE held_reason END,
                  updated_at = now()
           WHERE contact_id = $1 AND status = 'Opted Out'
           RETURNING id, current_node, engine_state = 'paused' AND held_reason = $3 AS "paused!""#,
        contact,
        OPTED_OUT,
        REASON
    )
    .fetch_all(&mut *db)
    .await?;
    let paused: Vec<(Uuid, Option<String>)> = rows.iter().filter(|r| r.paused).map(|r| (r.id, r.current_node.clone())).collect();
    record_events(db, &paused, "paused", REASON, now).await?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

/// Locks a contact's enrollments for the changes their text makes. Taken before the text's
/// conversation and message rows, the order the engine takes them in, so the two never
/// wait on each other in a circle.
pub async fn lock_contact(db: &mut sqlx::PgConnection, contact: Uuid) -> Result<(), AppError> {
    sqlx::query!("SELECT id FROM enrollments WHERE contact_id = $1 FOR UPDATE", contact).fetch_all(db).await?;
    Ok(())
}

/// The enrollment a contact's text answers: that of the campaign whose text to the contact
/// came last, preferring texts from the number the reply was sent to. A one-off send's
/// reply answers the campaign it was sent for.
pub struct Answered {
    pub enrollment_id: Uuid,
    pub campaign_id: Uuid,
    pub status: EnrollmentStatus,
    pub pause_on_reply: bool,
}

pub async fn answered(db: &mut sqlx::PgConnection, contact: Uuid, channel: Channel, to: &str) -> Result<Option<Answered>, AppError> {
    Ok(sqlx::query_as!(
        Answered,
        // The contact's own messages, by conversation: a subquery the planner cannot merge
        // (OFFSET 0), so it never walks a whole campaign's messages instead, as it did on the
        // statistics of a table that a campaign's first send had just filled.
        r#"SELECT e.id AS enrollment_id, e.campaign_id, e.status AS "status: EnrollmentStatus", p.pause_on_reply
           FROM conversations v
           CROSS JOIN LATERAL (
             SELECT m.id, m.campaign_id, m.from_address, m.created_at FROM messages m
             WHERE m.conversation_id = v.id AND m.direction = 'out' AND m.send_state IN ('sent', 'sending', 'unknown')
             OFFSET 0
           ) m
           JOIN campaigns k ON k.id = m.campaign_id
           JOIN enrollments e ON e.campaign_id = coalesce(k.parent_id, k.id) AND e.contact_id = v.contact_id
           JOIN campaigns p ON p.id = e.campaign_id
           WHERE v.contact_id = $1 AND v.channel = $3
           ORDER BY m.from_address IS NOT DISTINCT FROM $2 DESC, m.created_at DESC, m.id DESC
           LIMIT 1"#,
        contact,
        to,
        channel as Channel
    )
    .fetch_optional(db)
    .await?)
}

/// Moves an enrollment's status up to `to`, never down (`reply::raisable_to`). Returns
/// whether it moved.
/// A contact in one of the user's campaigns (owned or sent as) with one of these email
/// addresses: whom a synced email is from when it names none of our mail.
pub async fn enrolled_by_email(
    db: &mut sqlx::PgConnection,
    user: Uuid,
    addresses: &[String],
) -> Result<Option<crate::server::conversations::EmailMatch>, AppError> {
    Ok(sqlx::query_as!(
        crate::server::conversations::EmailMatch,
        r#"SELECT ct.id AS contact_id, e.campaign_id AS "campaign_id?", ct.email AS "address!"
           FROM contacts ct
           JOIN enrollments e ON e.contact_id = ct.id
           JOIN campaigns k ON k.id = e.campaign_id
           WHERE lower(ct.email) = ANY($2) AND (k.sender_id = $1 OR k.owner_id = $1)
           ORDER BY e.created_at DESC
           LIMIT 1"#,
        user,
        addresses
    )
    .fetch_optional(&mut *db)
    .await?)
}

/// A bounced address: an enrollment nobody answered yet becomes Bounced.
pub async fn mark_bounced(db: &mut sqlx::PgConnection, enrollment: Uuid) -> Result<bool, AppError> {
    let moved = sqlx::query!(
        "UPDATE enrollments SET status = 'Bounced', updated_at = now() WHERE id = $1 AND status = 'No Activity'",
        enrollment
    )
    .execute(&mut *db)
    .await?
    .rows_affected();
    Ok(moved > 0)
}

pub async fn raise_status(db: &mut sqlx::PgConnection, enrollment: Uuid, to: EnrollmentStatus) -> Result<bool, AppError> {
    let below: Vec<String> = crate::domain::reply::raisable_to(to).iter().map(|s| s.as_str().to_string()).collect();
    let moved = sqlx::query!(
        "UPDATE enrollments SET status = $2, updated_at = now() WHERE id = $1 AND status = ANY($3)",
        enrollment,
        to as EnrollmentStatus,
        &below
    )
    .execute(&mut *db)
    .await?
    .rows_affected();
    Ok(moved > 0)
}

/// Pauses a running enrollment because the contact replied, so a person answers before the
/// funnel sends more. Returns whether it was running.
pub async fn pause_for_reply(db: &mut sqlx::PgConnection, enrollment: Uuid, now: DateTime<Utc>) -> Result<bool, AppError> {
    const REASON: &str = "The contact replied; resume to go on";
    let node = sqlx::query_scalar!(
        "UPDATE enrollments SET engine_state = 'paused', held_reason = $2, updated_at = now()
         WHERE id = $1 AND engine_state = 'active' RETURNING current_node",
        enrollment,
        REASON
    )
    .fetch_optional(&mut *db)
    .await?;
    let paused = node.is_some();
    record_events(db, &node.map(|n| (enrollment, n)).into_iter().collect::<Vec<_>>(), "paused", REASON, now).await?;
    Ok(paused)
}

/// Makes the contact's runs that wait at a "replied" branch due now, so they take its yes
/// way at once, and wakes the engine. Runs still in a wait before the branch keep waiting.
pub async fn wake_replied(db: &mut sqlx::PgConnection, contact: Uuid, now: DateTime<Utc>) -> Result<u64, AppError> {
    let woken = sqlx::query!(
        "UPDATE enrollments e SET next_run_at = $2, updated_at = now()
         WHERE e.contact_id = $1 AND e.engine_state = 'active' AND e.next_run_at > $2 AND e.entered_at <= $2
           AND (e.lease_until IS NULL OR e.lease_until <= $2)
           AND EXISTS (SELECT 1 FROM nodes n WHERE n.campaign_id = e.campaign_id AND n.key = e.current_node
                       AND n.type = 'branch' AND n.config->>'rule' = 'replied')",
        contact,
        now
    )
    .execute(&mut *db)
    .await?
    .rows_affected();
    if woken > 0 {
        engine::wake(&mut *db).await?;
    }
    Ok(woken)
}

/// Notes on the contacts' timelines what happened to their runs (enrollment, node it is on).
async fn record_events(db: &mut sqlx::PgConnection, at: &[(Uuid, Option<String>)], kind: &str, detail: &str, now: DateTime<Utc>) -> Result<(), AppError> {
    if at.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        "INSERT INTO engine_events (id, enrollment_id, node_key, kind, detail, at)
         SELECT u.id, u.enrollment, u.node, $4, $5, $6 FROM UNNEST($1::uuid[], $2::uuid[], $3::text[]) AS u(id, enrollment, node)",
        &at.iter().map(|_| Uuid::now_v7()).collect::<Vec<_>>(),
        &at.iter().map(|(e, _)| *e).collect::<Vec<_>>(),
        &at.iter().map(|(_, n)| n.clone()).collect::<Vec<_>>() as &[Option<String>],
        kind,
        detail,
        now
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Per funnel step: contacts waiting, due and held there, and the messages it sent.
pub async fn node_counts(db: &mut sqlx::PgConnection, id: Uuid, now: DateTime<Utc>) -> Result<Vec<NodeCounts>, AppError> {
    let rows = sqlx::query!(
        r#"WITH at AS (
             SELECT current_node AS node,
                    count(*) FILTER (WHERE engine_state = 'active' AND next_run_at > $2 AND held_reason IS NULL) AS waiting,
                    count(*) FILTER (WHERE engine_state = 'active' AND next_run_at <= $2) AS due,
                    count(*) FILTER (WHERE engine_state IN ('held', 'paused')
                                     OR (engine_state = 'active' AND next_run_at > $2 AND held_reason IS NOT NULL)) AS held
             FROM enrollments WHERE campaign_id = $1 AND current_node IS NOT NULL GROUP BY current_node
           ), sent AS (
             SELECT node_key AS node,
                    count(*) FILTER (WHERE send_state = 'sent') AS sent,
                    count(*) FILTER (WHERE send_state IN ('failed', 'cancelled')) AS failed,
                    count(*) FILTER (WHERE send_state = 'unknown') AS unknown
             FROM messages WHERE campaign_id = $1 AND direction = 'out' AND node_key IS NOT NULL GROUP BY node_key
           )
           SELECT coalesce(at.node, sent.node) AS "node!", coalesce(at.waiting, 0) AS "waiting!", coalesce(at.due, 0) AS "due!",
                  coalesce(at.held, 0) AS "held!", coalesce(sent.sent, 0) AS "sent!", coalesce(sent.failed, 0) AS "failed!",
                  coalesce(sent.unknown, 0) AS "unknown!"
           FROM at FULL JOIN sent ON sent.node = at.node
           ORDER BY 1"#,
        id,
        now
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| NodeCounts { node: r.node, waiting: r.waiting, due: r.due, held: r.held, sent: r.sent, failed: r.failed, unknown: r.unknown })
        .collect())
}

/// Sets a campaign's send window and opt-out line.
pub async fn save_window(state: &AppState, user: &AuthUser, id: Uuid, w: &SendWindowView) -> Result<CampaignDetail, AppError> {
    get(&state.pool, user, id).await?;
    let time = |s: &str| parse_minutes(s).ok_or_else(|| AppError::unprocessable(format!("'{s}' is not a time (HH:MM, up to 24:00)")));
    let mut days = w.days.clone();
    days.sort();
    days.dedup();
    let window = SendWindow { start: time(&w.start)?, end: time(&w.end)?, days };
    window.check().map_err(AppError::unprocessable)?;
    let mut tx = state.pool.begin().await?;
    sqlx::query!(
        "UPDATE campaigns SET window_start = $2, window_end = $3, window_days = $4, opt_out_line = $5,
                pause_on_reply = coalesce($6, pause_on_reply), updated_at = now()
         WHERE id = $1",
        id,
        window.start,
        window.end,
        &window.days,
        w.opt_out_line.trim(),
        w.pause_on_reply
    )
    .execute(&mut *tx)
    .await?;
    audit::record(&mut *tx, Some(user.id), "campaign.window_saved", "campaign", Some(id), None, Some(serde_json::json!(w))).await?;
    tx.commit().await?;
    detail(&state.pool, user, id).await
}

/// A user's action on one contact's run. Skipping a send moves past it (an unknown send
/// stays unknown); skipping a branch takes its "no" way.
pub async fn act_on_enrollment(
    state: &AppState,
    user: &AuthUser,
    id: Uuid,
    enrollment: Uuid,
    action: EnrollmentAction,
) -> Result<CampaignDetail, AppError> {
    use EnrollmentAction as A;
    get(&state.pool, user, id).await?;
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    let e = sqlx::query!(
        r#"SELECT engine_state AS "engine_state: EngineState", current_node, step_seq FROM enrollments
           WHERE id = $1 AND campaign_id = $2 FOR UPDATE"#,
        enrollment,
        id
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| AppError::not_found("Contact in this campaign"))?;
    let state_now = e.engine_state;
    let refuse = || AppError::conflict(format!("The contact is {state_now}; it cannot {action}"));
    let key = format!("{enrollment}:{}", e.step_seq);
    match (action, state_now) {
        (A::Pause, EngineState::Active | EngineState::Held) => {
            set_engine_state(&mut tx, enrollment, EngineState::Paused, None).await?;
        }
        (A::Resume, EngineState::Paused) => {
            set_engine_state(&mut tx, enrollment, EngineState::Active, Some(now)).await?;
        }
        (A::Remove, s) if s != EngineState::Removed => {
            set_engine_state(&mut tx, enrollment, EngineState::Removed, None).await?;
        }
        (A::MarkSent | A::SendAgain, EngineState::Held) => {
            let to = if action == A::MarkSent { "sent" } else { "queued" };
            let changed = sqlx::query!(
                "UPDATE messages SET send_state = $2, error = NULL WHERE idempotency_key = $1 AND send_state = 'unknown'",
                key,
                to
            )
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if changed == 0 {
                return Err(AppError::conflict("The contact has no send to resolve"));
            }
            set_engine_state(&mut tx, enrollment, EngineState::Active, Some(now)).await?;
        }
        (A::Skip, EngineState::Active | EngineState::Paused | EngineState::Held) => {
            let graph = templates::load_graph(&mut tx, GraphOwner::Campaign(id)).await?;
            let graph = FunnelGraph::parse(&graph).map_err(|_| AppError::conflict("The funnel has problems; fix it first"))?;
            let current = e.current_node.clone().ok_or_else(|| AppError::conflict("The contact has not started the funnel yet"))?;
            let next = match graph.next(&current) {
                Some(crate::domain::funnel::Next::Then(n)) => Some(n.clone()),
                Some(crate::domain::funnel::Next::Branch { no, .. }) => Some(no.clone()),
                _ => None,
            };
            sqlx::query!(
                "UPDATE enrollments SET current_node = $2, step_seq = step_seq + 1, entered_at = $3::timestamptz, last_step_at = $3,
                        next_run_at = CASE WHEN $2::text IS NULL THEN NULL ELSE $3 END, attempts = 0, held_reason = NULL,
                        engine_state = CASE WHEN $2::text IS NULL THEN 'finished' WHEN engine_state = 'held' THEN 'active' ELSE engine_state END,
                        lease_until = NULL, updated_at = now()
                 WHERE id = $1",
                enrollment,
                next,
                now
            )
            .execute(&mut *tx)
            .await?;
        }
        _ => return Err(refuse()),
    }
    record_events(&mut tx, &[(enrollment, e.current_node.clone())], "user", &format!("{} by {}", action.label(), user.email), now).await?;
    audit::record(&mut *tx, Some(user.id), &format!("enrollment.{action}"), "enrollment", Some(enrollment), Some(serde_json::json!({ "engine_state": state_now })), None).await?;
    engine::wake(&mut *tx).await?;
    realtime::publish(&mut *tx, &[Event::campaign(id)]).await?;
    tx.commit().await?;
    detail(&state.pool, user, id).await
}

async fn set_engine_state(db: &mut sqlx::PgConnection, id: Uuid, to: EngineState, due: Option<DateTime<Utc>>) -> Result<(), AppError> {
    sqlx::query!(
        "UPDATE enrollments SET engine_state = $2, next_run_at = coalesce($3, next_run_at), held_reason = NULL,
                attempts = CASE WHEN $2 = 'active' THEN 0 ELSE attempts END, updated_at = now()
         WHERE id = $1",
        id,
        to as EngineState,
        due
    )
    .execute(db)
    .await?;
    Ok(())
}

/// `POST /api/campaigns/:id/execute-sms`, kept for API clients of the first version: queues
/// one SMS to every contact of the campaign as a child campaign with a single SMS step, so
/// the engine sends it with the same windows, throttles, compliance and crash safety.
/// Answers at once with the child's id to follow its progress.
pub async fn execute_sms(state: &AppState, user: &AuthUser, id: Uuid, body: Option<&str>) -> Result<crate::domain::campaign::QueuedJob, AppError> {
    use crate::domain::funnel::{Content, NodeDraft, Step};
    let parent = get(&state.pool, user, id).await?;
    if matches!(parent.status, CampaignStatus::Completed | CampaignStatus::Archived) {
        return Err(AppError::conflict(format!("The campaign is {}; it sends nothing more", parent.status)));
    }
    let mut tx = state.pool.begin().await?;
    let text = match body.map(str::trim).filter(|b| !b.is_empty()) {
        Some(b) => b.to_string(),
        None => {
            // The funnel's first SMS step, in the order contacts reach it.
            let draft = templates::load_graph(&mut tx, GraphOwner::Campaign(id)).await?;
            let graph = content::inline(&mut tx, draft).await?;
            let parsed = FunnelGraph::parse(&graph).map_err(|_| AppError::unprocessable("Give the message text: the funnel has problems"))?;
            first_sms(&parsed).ok_or_else(|| AppError::unprocessable("The funnel has no SMS step; give the message text"))?
        }
    };
    crate::domain::merge::MergeTemplate::parse(&text).map_err(AppError::unprocessable)?;
    let k = sqlx::query!(
        "SELECT event_type, join_link, sender_id, window_start, window_end, window_days, opt_out_line FROM campaigns WHERE id = $1",
        id
    )
    .fetch_one(&mut *tx)
    .await?;
    let child = sqlx::query_scalar!(
        "INSERT INTO campaigns (id, name, status, event_type, event_start, event_time_zone, venue, join_link, owner_id, sender_id,
                                window_start, window_end, window_days, opt_out_line, parent_id)
         VALUES ($1, $2, 'active', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
        Uuid::now_v7(),
        format!("{} · one-off SMS", parent.name),
        k.event_type,
        parent.event_start,
        parent.event_time_zone,
        parent.venue,
        k.join_link,
        parent.owner_id,
        k.sender_id,
        k.window_start,
        k.window_end,
        &k.window_days,
        k.opt_out_line,
        id
    )
    .fetch_one(&mut *tx)
    .await?;
    let node = NodeDraft {
        key: "N1".into(),
        kind: Step::Sms(Content::Inline { subject: None, body: text.clone() }).kind().as_str().into(),
        name: "One-off SMS".into(),
        config: serde_json::json!({ "body": text }),
        x: 0.0,
        y: 0.0,
    };
    templates::insert_graph(&mut tx, GraphOwner::Campaign(child), &GraphDraft { nodes: vec![node], edges: vec![] }).await?;
    let contacts = sqlx::query!(
        "SELECT contact_id, status, custom_fields, sms_introduced FROM enrollments
         WHERE campaign_id = $1 AND engine_state <> 'removed' AND status <> 'Opted Out'",
        id
    )
    .fetch_all(&mut *tx)
    .await?;
    let queued = contacts.len() as i64;
    sqlx::query!(
        "INSERT INTO enrollments (id, campaign_id, contact_id, status, custom_fields, sms_introduced)
         SELECT u.id, $1, u.contact, u.status, u.custom, u.intro
         FROM UNNEST($2::uuid[], $3::uuid[], $4::text[], $5::jsonb[], $6::bool[]) AS u(id, contact, status, custom, intro)",
        child,
        &contacts.iter().map(|_| Uuid::now_v7()).collect::<Vec<_>>(),
        &contacts.iter().map(|c| c.contact_id).collect::<Vec<_>>(),
        &contacts.iter().map(|c| c.status.clone()).collect::<Vec<_>>(),
        &contacts.iter().map(|c| c.custom_fields.clone()).collect::<Vec<_>>(),
        &contacts.iter().map(|c| c.sms_introduced).collect::<Vec<_>>()
    )
    .execute(&mut *tx)
    .await?;
    audit::record(&mut *tx, Some(user.id), "campaign.execute_sms", "campaign", Some(id), None, Some(serde_json::json!({ "job_id": child, "queued": queued }))).await?;
    engine::wake(&mut *tx).await?;
    tx.commit().await?;
    Ok(crate::domain::campaign::QueuedJob { job_id: child, queued })
}

/// The first SMS step a contact reaches (yes-ways first at branches).
fn first_sms(g: &FunnelGraph) -> Option<String> {
    use crate::domain::funnel::{Content, Next, Step};
    let mut seen = std::collections::BTreeSet::new();
    let mut queue = std::collections::VecDeque::from([g.entry().key.clone()]);
    while let Some(k) = queue.pop_front() {
        if !seen.insert(k.clone()) {
            continue;
        }
        let node = g.node(&k)?;
        if let Step::Sms(Content::Inline { body, .. }) = &node.step {
            return Some(body.clone());
        }
        match g.next(&k) {
            Some(Next::Then(n)) => queue.push_back(n.clone()),
            Some(Next::Branch { yes, no }) => queue.extend([yes.clone(), no.clone()]),
            _ => {}
        }
    }
    None
}
