//! What a BDR checks before and while a campaign runs: a dry run that walks every contact
//! through the funnel on paper, and a test send of any step to themselves.
use super::compliance;
use super::run::{CampaignCtx, campaign_ctx, compose};
use super::store::{self, ContactFacts};
use crate::domain::AppError;
use crate::domain::campaign::{Channel, DryRun, EnrollmentStatus, HeldReason, PlannedSend, TestSendResult};
use crate::domain::funnel::{FunnelGraph, OnFailure};
use crate::domain::merge::MergeValues;
use crate::domain::walk::{Facts, Start, Stop, walk};
use crate::server::auth::AuthUser;
use crate::server::providers::{self, Outgoing, SendError};
use crate::server::state::AppState;
use crate::server::templates::{self, GraphOwner};
use crate::server::{audit, campaigns, content, org, users};
use chrono::{DateTime, Duration, Utc};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::sync::Arc;
use uuid::Uuid;

/// The campaign's funnel with its content copied in, as activation would run it.
async fn runnable_ctx(state: &AppState, user: &AuthUser, id: Uuid) -> Result<CampaignCtx, AppError> {
    campaigns::get(&state.pool, user, id).await?;
    let mut conn = state.pool.acquire().await?;
    let draft = templates::load_graph(&mut conn, GraphOwner::Campaign(id)).await?;
    let draft = content::inline(&mut conn, draft).await?;
    let graph = FunnelGraph::parse(&draft).map_err(|issues| {
        let list: Vec<String> = issues.iter().map(|i| i.to_string()).collect();
        AppError::unprocessable(format!("The funnel has problems: {}", list.join("; ")))
    })?;
    let row = store::campaigns(&state.pool, &[id]).await?.pop().ok_or_else(|| AppError::not_found("Campaign"))?;
    let sender = providers::senders(&state.pool, &[row.sender_id]).await?.pop().ok_or_else(|| AppError::not_found("Sender"))?;
    Ok(campaign_ctx(row, sender, Arc::new(Ok(graph))))
}

/// Where one contact is in the simulation.
struct Sim {
    start: Start,
    base: DateTime<Utc>,
    sent: bool,
}

/// Walks every contact the engine would work through the funnel, in time order so throttles
/// apply as they would, assuming nobody replies. Nothing is sent or written.
pub async fn dry_run(state: &AppState, user: &AuthUser, id: Uuid) -> Result<DryRun, AppError> {
    let ctx = runnable_ctx(state, user, id).await?;
    let Ok(graph) = ctx.graph.as_ref() else { return Err(AppError::unprocessable("The funnel has problems")) };
    let org = org::get(&state.pool).await?;
    let now = state.clock.now();
    let rows = sqlx::query!(
        r#"SELECT e.contact_id, e.status AS "status: EnrollmentStatus", e.custom_fields, e.current_node, e.entered_at, e.last_step_at, e.sms_introduced
           FROM enrollments e WHERE e.campaign_id = $1 AND e.engine_state IN ('active', 'held')"#,
        id
    )
    .fetch_all(&state.pool)
    .await?;
    let contact_ids: Vec<Uuid> = rows.iter().map(|r| r.contact_id).collect();
    let contacts: HashMap<Uuid, ContactFacts> = store::contacts(&state.pool, &contact_ids).await?.into_iter().map(|c| (c.id, c)).collect();
    let addresses: Vec<(Channel, String)> = contacts
        .values()
        .flat_map(|c| [c.phone.clone().map(|p| (Channel::Sms, p)), c.email.clone().map(|e| (Channel::Email, e))])
        .flatten()
        .collect();
    let mut conn = state.pool.acquire().await?;
    let suppressed: HashSet<(Channel, String)> = compliance::suppressed(&mut conn, &addresses).await?;
    drop(conn);

    let sms_every = (state.settings.sms_per_second_per_number > 0.0)
        .then(|| Duration::microseconds((1_000_000.0 / state.settings.sms_per_second_per_number) as i64));
    let mut slots: HashMap<String, DateTime<Utc>> = HashMap::new();
    let mut held: BTreeMap<(String, String), i64> = BTreeMap::new();
    let mut plan = DryRun { contacts: rows.len() as i64, ..DryRun::default() };
    let mut sims: Vec<Sim> = rows
        .iter()
        .map(|r| Sim {
            start: match &r.current_node {
                None => Start::Fresh,
                Some(n) => Start::At { node: n.clone(), entered_at: r.entered_at.unwrap_or(now) },
            },
            base: r.last_step_at.unwrap_or(now),
            sent: r.sms_introduced,
        })
        .collect();
    let mut queue: BinaryHeap<Reverse<(DateTime<Utc>, usize)>> = (0..sims.len()).map(|i| Reverse((now, i))).collect();
    let mut budget = sims.len().saturating_mul(64);
    while let Some(Reverse((t, i))) = queue.pop() {
        budget = budget.saturating_sub(1);
        if budget == 0 {
            break;
        }
        let (r, sim) = (&rows[i], &mut sims[i]);
        let Some(contact) = contacts.get(&r.contact_id) else { continue };
        let tz = ctx.zone_of(contact);
        let facts = Facts { status: r.status, custom: &r.custom_fields, replied: false, tz, event_start: ctx.event_start };
        let w = match walk(graph, sim.start.clone(), sim.base, &facts, t) {
            Ok(w) => w,
            Err(e) => {
                *held.entry(("-".into(), e)).or_default() += 1;
                continue;
            }
        };
        sim.base = w.base;
        match w.stop {
            Stop::Finish => plan.expected_finish = plan.expected_finish.max(Some(t)),
            Stop::Park { node, until } => {
                sim.start = Start::At { node, entered_at: until };
                queue.push(Reverse((until, i)));
            }
            Stop::Send(key) => {
                let open = ctx.window.next_open(t, tz);
                if open > t {
                    sim.start = Start::At { node: key, entered_at: open };
                    queue.push(Reverse((open, i)));
                    continue;
                }
                let Some((node, Some(channel))) = graph.node(&key).map(|n| (n, n.step.channel())) else { continue };
                let values = ctx.values.clone().with_contact(&contact.name, contact.company.clone(), &r.custom_fields);
                let problem = match compose(state, &ctx, &values, contact, node, channel, !sim.sent, &org) {
                    Err(reason) => Some(reason),
                    Ok((_, m)) if suppressed.contains(&(channel, m.to.clone())) => Some(format!("{} is on the suppression list", m.to)),
                    Ok((_, m)) => {
                        // The throttle slot this send would take, in time order.
                        if let (Channel::Sms, Some(every)) = (channel, sms_every) {
                            let slot = slots.entry(m.from.clone()).or_insert(t);
                            if *slot > t {
                                let at = *slot;
                                sim.start = Start::At { node: key.clone(), entered_at: at };
                                queue.push(Reverse((at, i)));
                                continue;
                            }
                            *slot = t + every;
                        }
                        None
                    }
                };
                match problem {
                    Some(reason) => {
                        *held.entry((key.clone(), reason)).or_default() += 1;
                        if node.on_failure == OnFailure::Stop {
                            continue;
                        }
                    }
                    None => {
                        plan.sends += 1;
                        sim.sent |= channel == Channel::Sms;
                        plan.first_send_at = Some(plan.first_send_at.map_or(t, |f| f.min(t)));
                        if plan.first_sends.len() < 20 {
                            plan.first_sends.push(PlannedSend { contact_name: contact.name.clone(), node: key.clone(), channel, at: t });
                        }
                    }
                }
                sim.start = Start::After(key);
                sim.base = t;
                queue.push(Reverse((t, i)));
            }
        }
    }
    plan.held = held.into_iter().map(|((node, reason), contacts)| HeldReason { node, reason, contacts }).collect();
    Ok(plan)
}

/// Sends one step, rendered for the campaign with the user as the contact, to the user's own
/// mobile number or email, through the provider the campaign would use.
pub async fn test_send(state: &AppState, user: &AuthUser, id: Uuid, node_key: &str) -> Result<TestSendResult, AppError> {
    let ctx = runnable_ctx(state, user, id).await?;
    let Ok(graph) = ctx.graph.as_ref() else { return Err(AppError::unprocessable("The funnel has problems")) };
    let node = graph.node(node_key).ok_or_else(|| AppError::not_found("Step"))?;
    let channel = node.step.channel().ok_or_else(|| AppError::unprocessable("Only send steps can be test-sent"))?;
    let profile = users::profile(&state.pool, user.id).await?;
    let me = ContactFacts {
        id: user.id,
        name: user.name.clone(),
        phone: profile.mobile_phone.clone(),
        email: Some(user.email.clone()),
        company: None,
        time_zone: None,
        last_reply_at: None,
    };
    if channel != Channel::Email && me.phone.is_none() {
        return Err(AppError::unprocessable("Add your mobile number in Settings to test-send texts to yourself"));
    }
    let values = MergeValues { contact_name: Some(user.name.clone()), ..ctx.values.clone() };
    let org = org::get(&state.pool).await?;
    let (route, m) = compose(state, &ctx, &values, &me, node, channel, true, &org).map_err(AppError::unprocessable)?;
    let outgoing = Outgoing {
        id: Uuid::now_v7(),
        to: m.to.clone(),
        from: m.from,
        body: m.body.clone(),
        subject: m.subject.map(|s| format!("[Test] {s}")),
        html: m.html,
        headers: m.headers,
        voice: m.voice,
        created_at: state.clock.now(),
    };
    let accepted = route.send(&outgoing).await.map_err(|e| match e {
        SendError::Permanent { message, .. } => AppError::unprocessable(message),
        other => AppError { status: 502, error: format!("The provider did not take the message: {}", other.message()) },
    })?;
    audit::record(&state.pool, Some(user.id), "campaign.test_sent", "campaign", Some(id), None, Some(serde_json::json!({ "node": node_key, "to": m.to, "provider": route.name() }))).await?;
    Ok(TestSendResult { channel, to: m.to, provider: route.name().into(), provider_id: accepted.provider_id, body: m.body })
}
