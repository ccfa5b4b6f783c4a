//! One batch: claim, walk, record the sends, call the providers, record the outcomes.
use super::compliance;
use super::store::{self, Claimed, ContactFacts, EnrollmentUpdate, Event, NewSend, SendResult, StoredSend};
use super::throttle::{self, Limit};
use crate::domain::AppError;
use crate::domain::campaign::{Channel, EngineState, EnrollmentStatus};
use crate::domain::funnel::{Content, FunnelGraph, FunnelNode, OnFailure, Step};
use crate::domain::merge::{Escape, MergeTemplate, MergeValues};
use crate::domain::org::OrgSettings;
use crate::domain::schedule::SendWindow;
use crate::domain::walk::{Facts, Start, Stop, Walked, walk};
use crate::server::providers::{self, Accepted, Outgoing, Reconciled, Route, SendError, SenderIdentity};
use crate::server::state::AppState;
use crate::server::templates::{self, GraphOwner};
use crate::server::{metrics, org};
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use futures_util::StreamExt;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use uuid::Uuid;

/// What one batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Report {
    pub claimed: usize,
    /// Provider calls made (sends and reconciliations).
    pub calls: usize,
}

/// A running campaign as the engine needs it.
pub(crate) struct CampaignCtx {
    pub id: Uuid,
    pub graph: Arc<Result<FunnelGraph, String>>,
    pub tz: Tz,
    pub event_start: DateTime<Utc>,
    pub window: SendWindow,
    pub opt_out_line: String,
    pub values: MergeValues,
    pub sender: SenderIdentity,
}

/// Runs one batch of due enrollments; returns how many it claimed.
pub async fn run_once(state: &AppState) -> Result<Report, AppError> {
    let now = state.clock.now();
    let lease = Duration::seconds(state.settings.engine_lease_s.max(5));
    // The claim's row locks last until the sends are recorded; in-flight sends then hold a lease.
    let mut tx = state.pool.begin().await?;
    let claimed = store::claim(&mut tx, now, state.settings.engine_batch_size.max(1)).await?;
    if claimed.is_empty() {
        return Ok(Report::default());
    }
    // New enrollments are due at 'epoch' ("at once"): they have no due time to be late for.
    for due in claimed.iter().filter_map(|c| c.next_run_at).filter(|due| due.timestamp() > 0) {
        metrics::engine_lateness((now - due).num_milliseconds() as f64 / 1000.0);
    }
    let mut ids: Vec<Uuid> = claimed.iter().map(|c| c.campaign_id).collect();
    ids.sort();
    ids.dedup();
    let ctxs = contexts(state, &ids).await?;
    let contact_ids: Vec<Uuid> = claimed.iter().map(|c| c.contact_id).collect();
    let contacts: HashMap<Uuid, ContactFacts> = store::contacts(&state.pool, &contact_ids).await?.into_iter().map(|c| (c.id, c)).collect();
    let org = org::get(&state.pool).await?;

    let mut out = Outcomes::default();
    let mut pending = Vec::new();
    for c in claimed.iter() {
        // A campaign or contact deleted since the claim: nothing to do.
        let (Some(ctx), Some(contact)) = (ctxs.get(&c.campaign_id), contacts.get(&c.contact_id)) else { continue };
        let job = Job { claimed: c.clone(), ctx: ctx.clone(), contact: contact.clone() };
        if let Some(mut p) = plan(state, job, &org, now, &mut out) {
            p.update.lease_until = Some(now + lease);
            // The due time stays as it was: the lease alone holds the enrollment, so this
            // write changes no indexed column and can be a HOT update.
            p.update.next_run_at = p.job.claimed.next_run_at;
            pending.push(p);
        }
    }
    let report = Report { claimed: claimed.len(), calls: 0 };

    let calls = record(state, &mut tx, pending, now, &mut out).await?;
    out.write(&mut tx).await?;
    tx.commit().await?;

    let results: Vec<Called> = futures_util::stream::iter(calls)
        .map(|c| async move {
            let outcome = c.run().await;
            Called { call: c, outcome }
        })
        .buffer_unordered(state.settings.engine_concurrency.max(1))
        .collect()
        .await;
    let calls = results.len();
    finish(state, results).await?;
    crate::server::realtime::campaigns_changed(&state.pool, &ids).await;
    Ok(Report { calls, ..report })
}

/// Loads each campaign once per batch; graphs come parsed and content already copied in.
async fn contexts(state: &AppState, ids: &[Uuid]) -> Result<HashMap<Uuid, Arc<CampaignCtx>>, AppError> {
    let rows = store::campaigns(&state.pool, ids).await?;
    let sender_ids: Vec<Uuid> = rows.iter().map(|r| r.sender_id).collect();
    let senders: HashMap<Uuid, SenderIdentity> =
        providers::senders(&state.pool, &sender_ids).await?.into_iter().map(|s| (s.user_id, s)).collect();
    let mut out = HashMap::new();
    for r in rows {
        let Some(sender) = senders.get(&r.sender_id).cloned() else { continue };
        let graph = match state.graphs.get(r.id, r.graph_version) {
            Some(g) => g,
            None => {
                let mut conn = state.pool.acquire().await?;
                let draft = templates::load_graph(&mut conn, GraphOwner::Campaign(r.id)).await?;
                let parsed = FunnelGraph::parse(&draft).map_err(|issues| {
                    issues.iter().map(|i| i.to_string()).collect::<Vec<_>>().join("; ")
                });
                state.graphs.put(r.id, r.graph_version, parsed)
            }
        };
        out.insert(r.id, Arc::new(campaign_ctx(r, sender, graph)));
    }
    Ok(out)
}

impl CampaignCtx {
    /// Where a contact's local times are: their own zone, else the event's.
    pub fn zone_of(&self, contact: &ContactFacts) -> Tz {
        contact.time_zone.as_deref().and_then(|z| z.parse().ok()).unwrap_or(self.tz)
    }
}

/// A campaign row, its sender and its parsed funnel, as the engine and the controls use them.
pub(crate) fn campaign_ctx(r: store::CampaignRow, sender: SenderIdentity, graph: Arc<Result<FunnelGraph, String>>) -> CampaignCtx {
    let tz: Tz = r.event_time_zone.parse().unwrap_or(chrono_tz::UTC);
    let local = r.event_start.with_timezone(&tz);
    let values = MergeValues::for_event(local.naive_local(), r.venue.clone().or(r.join_link.clone()), r.owner_name.clone(), sender.name.clone());
    CampaignCtx {
        id: r.id,
        graph,
        tz,
        event_start: r.event_start,
        window: SendWindow { start: r.window_start, end: r.window_end, days: r.window_days },
        opt_out_line: r.opt_out_line,
        values,
        sender,
    }
}

/// One claimed enrollment with what it needs.
#[derive(Clone)]
struct Job {
    claimed: Claimed,
    ctx: Arc<CampaignCtx>,
    contact: ContactFacts,
}

impl Job {
    fn tz(&self) -> Tz {
        self.ctx.zone_of(&self.contact)
    }

    fn walk(&self, start: Start, base: DateTime<Utc>, now: DateTime<Utc>) -> Result<Walked, String> {
        let graph = self.ctx.graph.as_ref().as_ref().map_err(Clone::clone)?;
        let since = self.claimed.last_sent_at.unwrap_or(self.claimed.created_at);
        let facts = Facts {
            status: self.claimed.status,
            custom: &self.claimed.custom_fields,
            replied: self.contact.last_reply_at.is_some_and(|r| r > since),
            tz: self.tz(),
            event_start: self.ctx.event_start,
        };
        walk(graph, start, base, &facts, now)
    }

    fn values(&self) -> MergeValues {
        self.ctx.values.clone().with_contact(&self.contact.name, self.contact.company.clone(), &self.claimed.custom_fields)
    }

    /// The update that keeps everything as claimed, with the given changes applied by the caller.
    fn update(&self) -> EnrollmentUpdate {
        let c = &self.claimed;
        EnrollmentUpdate {
            id: c.id,
            state: EngineState::Active,
            node: c.current_node.clone(),
            next_run_at: None,
            step_seq: c.step_seq,
            entered_at: c.entered_at,
            last_step_at: c.last_step_at,
            last_sent_at: c.last_sent_at,
            attempts: c.attempts,
            held_reason: None,
            stage: None,
            sms_introduced: c.sms_introduced,
            lease_until: None,
        }
    }

    fn event(&self, node: Option<&str>, kind: &'static str, detail: String, at: DateTime<Utc>) -> Event {
        Event { enrollment_id: self.claimed.id, node: node.map(String::from), kind, detail, at }
    }
}

/// Everything a batch writes besides message rows.
#[derive(Default)]
struct Outcomes {
    updates: Vec<EnrollmentUpdate>,
    events: Vec<Event>,
    suppress: Vec<(Channel, String, String, &'static str)>,
}

impl Outcomes {
    async fn write(&self, db: &mut sqlx::PgConnection) -> Result<(), AppError> {
        store::update_enrollments(db, &self.updates).await?;
        store::insert_events(db, &self.events).await?;
        for (channel, address, reason, source) in &self.suppress {
            compliance::suppress(db, *channel, address, reason, source).await?;
        }
        Ok(())
    }

    /// Applies a walk: its position, stage and steps passed.
    fn walked(&mut self, job: &Job, mut u: EnrollmentUpdate, w: Walked, now: DateTime<Utc>) {
        u.step_seq += w.entered;
        u.entered_at = Some(w.entered_at);
        u.last_step_at = Some(w.base);
        u.stage = w.stage.clone();
        for p in w.passed {
            self.events.push(job.event(Some(&p.node), p.kind, p.detail, p.at));
        }
        match w.stop {
            Stop::Send(k) => {
                u.node = Some(k);
                u.next_run_at = Some(now);
            }
            Stop::Park { node, until } => {
                u.node = Some(node);
                u.next_run_at = Some(until);
            }
            Stop::Finish => {
                u.state = EngineState::Finished;
                u.node = None;
                u.next_run_at = None;
            }
        }
        self.updates.push(u);
    }

    /// Stops the enrollment where it is, for a person to look at.
    fn pause(&mut self, job: &Job, reason: String, now: DateTime<Utc>) {
        let mut u = job.update();
        u.state = EngineState::Paused;
        u.held_reason = Some(reason.clone());
        self.events.push(job.event(job.claimed.current_node.as_deref(), "paused", reason, now));
        self.updates.push(u);
    }

    /// After a send step ran (or failed for good): on along the funnel, or stop per the node.
    fn after_send(&mut self, job: &Job, node: &FunnelNode, mut u: EnrollmentUpdate, failed: Option<String>, now: DateTime<Utc>) {
        u.lease_until = None;
        u.attempts = 0;
        u.held_reason = None;
        if let Some(reason) = failed {
            self.events.push(job.event(Some(&node.key), "failed", reason.clone(), now));
            if node.on_failure == OnFailure::Stop {
                u.state = EngineState::Stopped;
                u.node = Some(node.key.clone());
                u.next_run_at = None;
                u.held_reason = Some(reason);
                self.updates.push(u);
                return;
            }
        }
        match job.walk(Start::After(node.key.clone()), now, now) {
            Ok(w) => self.walked(job, u, w, now),
            Err(e) => self.pause(job, e, now),
        }
    }
}

/// A send step ready to record: rendered, addressed, routed.
struct Pending {
    job: Job,
    node: FunnelNode,
    channel: Channel,
    key: String,
    /// The enrollment's position with the send in flight.
    update: EnrollmentUpdate,
    route: Route,
    msg: Composed,
}

/// A message as it will go out.
#[derive(Debug, Clone)]
pub(crate) struct Composed {
    pub to: String,
    pub from: String,
    pub subject: Option<String>,
    pub body: String,
    pub html: Option<String>,
    pub headers: Vec<(String, String)>,
    pub voice: Option<String>,
}

/// Walks one enrollment to its next stop. Sends come back as `Pending`; everything else is
/// settled into `out` here.
fn plan(state: &AppState, job: Job, org: &OrgSettings, now: DateTime<Utc>, out: &mut Outcomes) -> Option<Pending> {
    let c = &job.claimed;
    let graph = match job.ctx.graph.as_ref() {
        Ok(g) => g,
        Err(e) => {
            out.pause(&job, format!("The funnel has problems: {e}"), now);
            return None;
        }
    };
    // A contact marked opted out in this campaign gets nothing more from it.
    if c.status == EnrollmentStatus::OptedOut {
        let mut u = job.update();
        u.state = EngineState::Stopped;
        u.next_run_at = None;
        u.held_reason = Some("The contact opted out".into());
        out.events.push(job.event(c.current_node.as_deref(), "stopped", "The contact opted out".into(), now));
        out.updates.push(u);
        return None;
    }
    let start = match &c.current_node {
        None => Start::Fresh,
        Some(n) if graph.node(n).is_none() => {
            out.pause(&job, format!("Step {n} is no longer in the funnel; move the contact to a step"), now);
            return None;
        }
        Some(n) => Start::At { node: n.clone(), entered_at: c.entered_at.unwrap_or(now) },
    };
    let w = match job.walk(start, c.last_step_at.unwrap_or(now), now) {
        Ok(w) => w,
        Err(e) => {
            out.pause(&job, e, now);
            return None;
        }
    };
    let Stop::Send(key) = &w.stop else {
        out.walked(&job, job.update(), w, now);
        return None;
    };
    let node = graph.node(key)?.clone();
    // The position the send is made from; the walk's steps are recorded with it.
    let u = job.update();
    let mut at_send = w.clone();
    at_send.stop = Stop::Send(node.key.clone());
    let seq = c.step_seq + w.entered;
    let open = job.ctx.window.next_open(now, job.tz());
    if open > now {
        at_send.stop = Stop::Park { node: node.key.clone(), until: open };
        let mut u = u;
        u.held_reason = Some(format!("Outside the send window until {}", open.with_timezone(&job.tz()).format("%a %H:%M %Z")));
        out.walked(&job, u, at_send, now);
        return None;
    }
    // Record the walk's position now: it is committed with the message row.
    let mut sending = Outcomes::default();
    sending.walked(&job, u, at_send, now);
    out.events.append(&mut sending.events);
    let update = sending.updates.pop()?;
    let channel = node.step.channel()?;
    let composed = compose(state, &job.ctx, &job.values(), &job.contact, &node, channel, !c.sms_introduced, org);
    let (route, msg) = match composed {
        Ok(x) => x,
        Err(reason) => {
            out.after_send(&job, &node, update, Some(reason), now);
            return None;
        }
    };
    Some(Pending { key: format!("{}:{seq}", c.id), job, node, channel, update, route, msg })
}

/// Renders a send step for one contact and picks its provider. `introduce` adds the first
/// SMS's sender name and opt-out line.
#[allow(clippy::too_many_arguments)]
pub(crate) fn compose(
    state: &AppState,
    ctx: &CampaignCtx,
    values: &MergeValues,
    contact: &ContactFacts,
    node: &FunnelNode,
    channel: Channel,
    introduce: bool,
    org: &OrgSettings,
) -> Result<(Route, Composed), String> {
    let (subject, body) = match &node.step {
        Step::Sms(Content::Inline { subject, body })
        | Step::Email(Content::Inline { subject, body })
        | Step::Voicemail { content: Content::Inline { subject, body }, .. } => (subject.clone(), body.clone()),
        _ => return Err("The step's content was not copied in when the campaign started".into()),
    };
    let render = |text: &str, escape| MergeTemplate::parse(text).and_then(|t| t.render(values, escape));
    let to = match channel {
        Channel::Email => contact.email.clone().ok_or("The contact has no email address")?,
        _ => contact.phone.clone().ok_or("The contact has no phone number")?,
    };
    let (route, from) = state.providers.route_for(channel, &ctx.sender)?;
    let text = render(&body, Escape::Plain)?;
    match channel {
        Channel::Email => {
            if org.postal_address.trim().is_empty() {
                return Err("Emails need the organisation's postal address (Admin › Organisation)".into());
            }
            let subject = render(subject.as_deref().unwrap_or_default(), Escape::Plain)?;
            let html = compliance::paragraphs(&render(&body, Escape::Html)?);
            let link = compliance::unsubscribe_url(&state.keys, &state.settings.public_origin(), &to);
            let parts = compliance::email_parts(&text, &html, &org.name, &org.postal_address, &link);
            Ok((route, Composed { to, from, subject: Some(subject), body: parts.text, html: Some(parts.html), headers: parts.headers, voice: None }))
        }
        _ => {
            let body = if introduce && channel == Channel::Sms { compliance::introduce_sms(&text, &ctx.sender.name, &ctx.opt_out_line) } else { text };
            let voice = match &node.step {
                Step::Voicemail { voice_id, .. } => voice_id.clone(),
                _ => None,
            };
            Ok((route, Composed { to, from, subject: None, body, html: None, headers: Vec::new(), voice }))
        }
    }
}

/// A provider call to make after the sends are committed.
struct Call {
    pending: Pending,
    message_id: Uuid,
    reconcile: bool,
    /// Set when the recipient was suppressed since the row was written: a reconciliation
    /// that finds nothing sent must not send now.
    suppressed: bool,
    outgoing: Outgoing,
}

enum Outcome {
    Sent(Accepted),
    Failed { message: String, code: Option<String>, suppress: bool },
    Retry { message: String, after: Option<std::time::Duration>, ambiguous: bool },
    Unknown(String),
}

impl Call {
    /// Exactly one provider call per step: a reconciliation first when an earlier attempt
    /// may have gone out, a send only when it surely did not.
    async fn run(&self) -> Outcome {
        let route = &self.pending.route;
        if self.reconcile {
            match route.reconcile(&self.outgoing).await {
                Reconciled::Sent(a) => return Outcome::Sent(a),
                Reconciled::Unknown(why) => return Outcome::Unknown(why),
                Reconciled::NotSent if self.suppressed => {
                    let message = format!("Not sent: {} is on the suppression list", self.outgoing.to);
                    return Outcome::Failed { message, code: None, suppress: false };
                }
                Reconciled::NotSent => {}
            }
        }
        match route.send(&self.outgoing).await {
            Ok(a) => Outcome::Sent(a),
            Err(SendError::Permanent { message, code, suppress }) => Outcome::Failed { message, code, suppress },
            Err(SendError::Transient { message, retry_after }) => Outcome::Retry { message, after: retry_after, ambiguous: false },
            Err(SendError::Ambiguous { message }) => Outcome::Retry { message, after: None, ambiguous: true },
        }
    }
}

struct Called {
    call: Call,
    outcome: Outcome,
}

/// Commits the batch's sends as `sending` (or `cancelled` when suppressed), after the
/// compliance checks and throttles, and returns the provider calls to make.
async fn record(
    state: &AppState,
    tx: &mut sqlx::PgConnection,
    pending: Vec<Pending>,
    now: DateTime<Utc>,
    out: &mut Outcomes,
) -> Result<Vec<Call>, AppError> {
    if pending.is_empty() {
        return Ok(Vec::new());
    }
    let keys: Vec<String> = pending.iter().map(|p| p.key.clone()).collect();
    let existing: HashMap<String, StoredSend> = store::existing_sends(tx, &keys).await?.into_iter().map(|s| (s.idempotency_key.clone(), s)).collect();

    let mut calls = Vec::new();
    let mut fresh = Vec::new();
    let mut resumed = Vec::new();
    let to_check: Vec<(Channel, String)> = pending.iter().map(|p| (p.channel, p.msg.to.clone())).collect();
    let suppressed = compliance::suppressed(tx, &to_check).await?;
    for p in pending {
        match existing.get(&p.key) {
            None => fresh.push((p, None)),
            Some(s) if s.send_state == "queued" => fresh.push((p, Some(s.clone()))),
            // A call that may have gone out before a crash or timeout: ask the provider first.
            Some(s) if s.send_state == "sending" => {
                let outgoing = stored_outgoing(s, &p);
                out.updates.push(p.update.clone());
                let suppressed = suppressed.contains(&(p.channel, outgoing.to.clone()));
                calls.push(Call { message_id: s.id, reconcile: true, suppressed, outgoing, pending: p });
            }
            Some(s) if s.send_state == "sent" => {
                let (job, node, update) = (p.job.clone(), p.node.clone(), p.update.clone());
                out.after_send(&job, &node, update, None, now);
            }
            Some(s) => {
                let reason = s.error.clone().unwrap_or_else(|| format!("The message was {}", s.send_state));
                let (job, node, update) = (p.job.clone(), p.node.clone(), p.update.clone());
                out.after_send(&job, &node, update, Some(reason), now);
            }
        }
    }

    let (blocked, fresh): (Vec<_>, Vec<_>) = fresh.into_iter().partition(|(p, _)| suppressed.contains(&(p.channel, p.msg.to.clone())));

    // Throttles: those over the limit wait at the send step for their slot.
    let mut limits: BTreeMap<String, (Limit, usize)> = BTreeMap::new();
    for (p, _) in &fresh {
        if let Some((id, limit)) = throttle_of(state, p) {
            limits.entry(id).or_insert((limit, 0)).1 += 1;
        }
    }
    let mut slots = throttle::reserve(tx, &limits, now).await?;
    let mut go = Vec::new();
    for (p, stored) in fresh {
        let Some((id, _)) = throttle_of(state, &p) else {
            go.push((p, stored));
            continue;
        };
        let Some((allowed, later)) = slots.get_mut(&id) else {
            go.push((p, stored));
            continue;
        };
        if *allowed > 0 {
            *allowed -= 1;
            go.push((p, stored));
        } else {
            let until = if later.is_empty() { now + Duration::seconds(1) } else { later.remove(0) };
            let mut u = p.update.clone();
            u.lease_until = None;
            u.next_run_at = Some(until);
            u.held_reason = Some(format!("Throttled ({}) until {}", id, until.format("%H:%M:%S UTC")));
            out.updates.push(u);
        }
    }

    // Conversations for every row about to be written.
    let conv_keys: Vec<(Uuid, Channel, String)> =
        go.iter().chain(blocked.iter()).map(|(p, _)| (p.job.contact.id, p.channel, p.msg.to.clone())).collect();
    let conversations: HashMap<(Uuid, Channel), Uuid> =
        store::conversations(tx, &conv_keys).await?.into_iter().map(|(c, ch, id)| ((c, ch), id)).collect();
    let mut rows = Vec::new();
    let mut cancelled = Vec::new();
    for (p, stored) in blocked {
        let reason = format!("Not sent: {} is on the suppression list", p.msg.to);
        match stored {
            // A retry whose recipient opted out meanwhile: its row is cancelled with the reason.
            Some(s) => cancelled.push(SendResult {
                id: s.id,
                state: "cancelled",
                provider: p.route.name(),
                provider_id: None,
                delivery_status: None,
                error: Some(reason.clone()),
                error_code: None,
                sent_at: None,
                extra_attempt: false,
            }),
            None => {
                if let Some(conv) = conversations.get(&(p.job.contact.id, p.channel)) {
                    rows.push(new_row(&p, *conv, "cancelled", Some(reason.clone()), now));
                }
            }
        }
        let (job, node, update) = (p.job.clone(), p.node.clone(), p.update.clone());
        out.after_send(&job, &node, update, Some(reason), now);
    }
    for (p, stored) in go {
        match stored {
            Some(s) => {
                resumed.push(s.id);
                out.updates.push(p.update.clone());
                calls.push(Call { message_id: s.id, reconcile: false, suppressed: false, outgoing: stored_outgoing(&s, &p), pending: p });
            }
            None => {
                let Some(conv) = conversations.get(&(p.job.contact.id, p.channel)).copied() else { continue };
                let row = new_row(&p, conv, "sending", None, now);
                let outgoing = Outgoing {
                    id: row.id,
                    to: p.msg.to.clone(),
                    from: p.msg.from.clone(),
                    body: p.msg.body.clone(),
                    subject: p.msg.subject.clone(),
                    html: p.msg.html.clone(),
                    headers: p.msg.headers.clone(),
                    voice: p.msg.voice.clone(),
                    created_at: now,
                };
                out.updates.push(p.update.clone());
                calls.push(Call { message_id: row.id, reconcile: false, suppressed: false, outgoing, pending: p });
                rows.push(row);
            }
        }
    }
    store::insert_sends(tx, &rows).await?;
    store::resume_sends(tx, &resumed).await?;
    store::record_results(tx, &cancelled).await?;
    Ok(calls)
}

fn throttle_of(state: &AppState, p: &Pending) -> Option<(String, Limit)> {
    let s = &state.settings;
    match p.channel {
        Channel::Sms if s.sms_per_second_per_number > 0.0 => Some((format!("sms {}", p.msg.from), per_second(s.sms_per_second_per_number))),
        Channel::Voicemail if s.voicemail_per_second_per_number > 0.0 => {
            Some((format!("voicemail {}", p.msg.from), per_second(s.voicemail_per_second_per_number)))
        }
        Channel::Email if s.email_per_day_per_sender > 0 => {
            Some((format!("email {}", p.job.ctx.sender.email), Limit::Daily(s.email_per_day_per_sender)))
        }
        _ => None,
    }
}

fn per_second(rate: f64) -> Limit {
    Limit::Interval(Duration::microseconds((1_000_000.0 / rate) as i64))
}

fn new_row(p: &Pending, conversation_id: Uuid, state: &'static str, error: Option<String>, now: DateTime<Utc>) -> NewSend {
    let id = Uuid::now_v7();
    NewSend {
        id,
        conversation_id,
        state,
        body: p.msg.body.clone(),
        subject: p.msg.subject.clone(),
        body_html: p.msg.html.clone(),
        provider: p.route.name(),
        campaign_id: Some(p.job.ctx.id),
        node_key: Some(p.node.key.clone()),
        sent_by: p.job.ctx.sender.user_id,
        created_at: now,
        enrollment_id: Some(p.job.claimed.id),
        idempotency_key: p.key.clone(),
        to: p.msg.to.clone(),
        from: p.msg.from.clone(),
        message_id_header: (p.channel == Channel::Email).then(|| providers::smtp::message_id(id, &p.msg.from)),
        error,
    }
}

/// The message exactly as first recorded: a retry or reconciliation never changes it.
fn stored_outgoing(s: &StoredSend, p: &Pending) -> Outgoing {
    Outgoing {
        id: s.id,
        to: s.to_address.clone().unwrap_or_else(|| p.msg.to.clone()),
        from: s.from_address.clone().unwrap_or_else(|| p.msg.from.clone()),
        body: s.body.clone(),
        subject: s.subject.clone(),
        html: s.body_html.clone(),
        headers: p.msg.headers.clone(),
        voice: p.msg.voice.clone(),
        created_at: s.created_at,
    }
}

/// Backoff for transient errors: 30 s doubling to an hour, ±20 % jitter, or the
/// provider's `Retry-After` when it gave one.
fn backoff(attempt: i32, retry_after: Option<std::time::Duration>) -> Duration {
    if let Some(after) = retry_after {
        return Duration::from_std(after).unwrap_or(Duration::seconds(1)).max(Duration::seconds(1));
    }
    let base = 30i64.saturating_mul(1 << attempt.clamp(0, 7)).min(3600);
    let jitter = rand::random_range(0.8..1.2);
    Duration::milliseconds((base as f64 * 1000.0 * jitter) as i64)
}

/// Records each call's outcome and moves each enrollment on, in one transaction.
async fn finish(state: &AppState, results: Vec<Called>) -> Result<(), AppError> {
    if results.is_empty() {
        return Ok(());
    }
    let now = state.clock.now();
    let mut out = Outcomes::default();
    let mut msgs = Vec::new();
    for Called { call, outcome } in results {
        let p = &call.pending;
        let provider = p.route.name();
        let result = |state: &'static str| SendResult {
            id: call.message_id,
            state,
            provider,
            provider_id: None,
            delivery_status: None,
            error: None,
            error_code: None,
            sent_at: None,
            extra_attempt: call.reconcile,
        };
        match outcome {
            Outcome::Sent(a) => {
                metrics::message_outcome(provider, p.channel, "sent");
                msgs.push(SendResult { provider_id: Some(a.provider_id), delivery_status: a.status, sent_at: Some(now), extra_attempt: false, ..result("sent") });
                let mut u = p.update.clone();
                u.last_sent_at = Some(now);
                u.sms_introduced |= p.channel == Channel::Sms;
                out.after_send(&p.job, &p.node, u, None, now);
            }
            Outcome::Failed { message, code, suppress } => {
                metrics::message_outcome(provider, p.channel, "failed");
                if suppress {
                    out.suppress.push((p.channel, call.outgoing.to.clone(), message.clone(), provider));
                }
                msgs.push(SendResult { error: Some(message.clone()), error_code: code, ..result("failed") });
                out.after_send(&p.job, &p.node, p.update.clone(), Some(message), now);
            }
            Outcome::Retry { message, after, ambiguous } => {
                let attempts = p.job.claimed.attempts + 1;
                let mut u = p.update.clone();
                u.lease_until = None;
                if attempts >= state.settings.engine_max_attempts {
                    metrics::message_outcome(provider, p.channel, "failed");
                    let reason = format!("Gave up after {attempts} tries: {message}");
                    msgs.push(SendResult { error: Some(reason.clone()), ..result("failed") });
                    out.after_send(&p.job, &p.node, u, Some(reason), now);
                    continue;
                }
                metrics::message_outcome(provider, p.channel, "retry");
                metrics::engine_retry();
                let delay = backoff(attempts, after);
                // A possibly-delivered message stays `sending`, so the retry reconciles first.
                msgs.push(SendResult { error: Some(message.clone()), ..result(if ambiguous { "sending" } else { "queued" }) });
                u.attempts = attempts;
                u.next_run_at = Some(now + delay);
                u.held_reason = Some(format!("Retrying in {} s: {message}", delay.num_seconds()));
                out.events.push(p.job.event(Some(&p.node.key), "retry", message, now));
                out.updates.push(u);
            }
            Outcome::Unknown(why) => {
                metrics::message_outcome(provider, p.channel, "unknown");
                let reason = format!("Unknown whether the message went out ({why}); resolve it on the campaign page");
                msgs.push(SendResult { error: Some(reason.clone()), ..result("unknown") });
                let mut u = p.update.clone();
                u.lease_until = None;
                u.state = EngineState::Held;
                u.next_run_at = None;
                u.held_reason = Some(reason.clone());
                out.events.push(p.job.event(Some(&p.node.key), "unknown", reason, now));
                out.updates.push(u);
            }
        }
    }
    let mut tx = state.pool.begin().await?;
    // Losing this commit in a crash is safe: the rows stay `sending` and are reconciled.
    sqlx::query!("SET LOCAL synchronous_commit = off").execute(&mut *tx).await?;
    store::record_results(&mut tx, &msgs).await?;
    out.write(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}
