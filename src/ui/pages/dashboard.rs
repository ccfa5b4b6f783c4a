//! The dashboard: the last 30 days' funnel, messages by day, and what needs attention now
//! (replies waiting, upcoming events, the latest messages), kept live by the real-time stream.
use crate::api::stats::dashboard;
use crate::domain::campaign::Direction;
use crate::domain::stats::{Activity, Dashboard, UpcomingEvent};
use crate::ui::charts::{BarChart, EMERALD, INDIGO, SKY, Series, percent};
use crate::ui::components::{CARD, EmptyState, Loaded, PageHeader, when};
use crate::ui::realtime::refetch_on_change;
use leptos::prelude::*;

#[component]
pub fn DashboardPage() -> impl IntoView {
    let first = Resource::new(|| (), |_| dashboard());
    view! {
        <PageHeader title="Dashboard" subtitle="Your campaigns at a glance"/>
        <Loaded resource=first render={|d: Dashboard| {
            let live = RwSignal::new(d);
            follow(live);
            move || view! { <Body d=live.get()/> }
        }}/>
    }
}

/// Keeps `live` fresh: refetched whenever the real-time stream says anything happened,
/// shown only when something changed.
fn follow(live: RwSignal<Dashboard>) {
    refetch_on_change(
        |_| true,
        dashboard,
        move |fresh| {
            if live.try_with_untracked(|now| *now != fresh) == Some(true) {
                live.try_set(fresh);
            }
        },
    );
}

#[component]
fn Body(d: Dashboard) -> impl IntoView {
    let Dashboard { stats, replies_waiting, upcoming, activity } = d;
    let (f, r) = (stats.funnel, stats.rates);
    let kpis = [
        ("kpi-enrolled", "Enrolled", f.enrolled, None),
        ("kpi-messaged", "Messaged", f.messaged, None),
        ("kpi-replied", "Replied", f.replied, Some(("reply rate", r.reply))),
        ("kpi-responded", "RSVPs", f.responded_pos, Some(("RSVP rate", r.rsvp))),
        ("kpi-attended", "Attended", f.attended, Some(("attendance rate", r.attendance))),
        ("kpi-opted-out", "Opted out", f.opted_out, Some(("opt-out rate", r.opt_out))),
    ];
    let range = format!("{} – {} ({})", stats.from.format("%b %-d"), stats.to.format("%b %-d, %Y"), stats.time_zone);
    let days = &stats.messages_by_day;
    let quiet = days.iter().all(|d| d.outbound == 0 && d.inbound == 0);
    let by_day = view! {
        <BarChart id="messages-by-day" title="Messages by day, last 30 days" testid="chart-messages-by-day"
            labels=days.iter().map(|d| d.day.format("%b %-d").to_string()).collect()
            series=vec![
                Series::new("Outbound", INDIGO, days.iter().map(|d| d.outbound)),
                Series::new("Inbound", EMERALD, days.iter().map(|d| d.inbound)),
            ]/>
    };
    let statuses = stats.by_status.clone();
    view! {
        <p class="-mt-4 mb-4 text-xs text-slate-500" data-testid="dashboard-range">"Last 30 days: "{range}</p>
        <div class="grid grid-cols-2 gap-4 md:grid-cols-3 xl:grid-cols-6">
            {kpis.into_iter().map(|(id, label, value, rate)| view! {
                <div class=CARD data-testid=id>
                    <p class="text-sm text-slate-500">{label}</p>
                    <p class="mt-1 text-3xl font-semibold tabular-nums" data-testid="kpi-value">{value}</p>
                    {rate.map(|(name, r)| view! { <p class="mt-1 text-xs text-slate-500" data-testid="kpi-rate">{percent(r)}" "{name}</p> })}
                </div>
            }).collect_view()}
        </div>
        <div class="mt-6 grid gap-4 lg:grid-cols-3">
            <section class=format!("{CARD} lg:col-span-2") aria-labelledby="by-day-heading">
                <h2 id="by-day-heading" class="text-base font-semibold">"Messages by day"</h2>
                <div class="mt-3">
                    {by_day}
                    {quiet.then(|| view! { <p class="mt-2 text-sm text-slate-500">"No messages sent or received in the last 30 days."</p> })}
                </div>
            </section>
            <section class=CARD data-testid="replies-waiting" aria-labelledby="waiting-heading">
                <h2 id="waiting-heading" class="text-base font-semibold">"Replies waiting"</h2>
                <p class="mt-2 text-4xl font-semibold tabular-nums" data-testid="kpi-value">{replies_waiting}</p>
                <p class="mt-1 text-sm text-slate-600">
                    {if replies_waiting == 0 { "Nobody is waiting for an answer." } else { "Conversations whose last message nobody has dealt with." }}
                </p>
                <a class="mt-3 inline-block text-sm font-medium text-indigo-700 hover:underline" href="/inbox">"Open the inbox →"</a>
            </section>
        </div>
        <div class="mt-6 grid gap-4 lg:grid-cols-2">
            <section class=CARD data-testid="upcoming-events" aria-labelledby="upcoming-heading">
                <h2 id="upcoming-heading" class="text-base font-semibold">"Upcoming events"</h2>
                {if upcoming.is_empty() {
                    view! { <p class="mt-2 text-sm text-slate-500">"No events to come. Start a campaign to invite contacts to one."</p> }.into_any()
                } else {
                    view! { <ul class="mt-3 space-y-4">{upcoming.into_iter().map(|e| view! { <Upcoming e/> }).collect_view()}</ul> }.into_any()
                }}
            </section>
            <section class=CARD aria-labelledby="status-heading">
                <h2 id="status-heading" class="text-base font-semibold">"Enrollments by status"</h2>
                {if f.enrolled == 0 {
                    view! { <p class="mt-2 text-sm text-slate-500">"No contacts enrolled in the last 30 days."</p> }.into_any()
                } else {
                    view! {
                        <div class="mt-3">
                            <BarChart id="by-status" title="Enrollments of the last 30 days by status now" rows=true testid="chart-by-status"
                                labels=statuses.iter().map(|s| s.status.as_str().to_string()).collect()
                                series=vec![Series::new("Enrollments", SKY, statuses.iter().map(|s| s.count))]/>
                        </div>
                    }.into_any()
                }}
            </section>
        </div>
        <section class="mt-6" data-testid="recent-activity" aria-labelledby="activity-heading">
            <h2 id="activity-heading" class="mb-2 text-base font-semibold">"Recent activity"</h2>
            {if activity.is_empty() {
                view! { <EmptyState title="Nothing yet">"Texts, emails and voicemails sent and received show here as they happen."</EmptyState> }.into_any()
            } else {
                view! {
                    <ul class="divide-y divide-slate-100 rounded-xl border border-slate-200 bg-white">
                        {activity.into_iter().map(|a| view! { <ActivityRow a/> }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
    }
}

#[component]
fn Upcoming(e: UpcomingEvent) -> impl IntoView {
    let share = if e.enrolled > 0 { (e.responded_pos as f64 / e.enrolled as f64 * 100.0).min(100.0) } else { 0.0 };
    let label = format!("{}: {} of {} enrolled said yes", e.name, e.responded_pos, e.enrolled);
    view! {
        <li data-testid="upcoming-event">
            <div class="flex flex-wrap items-baseline justify-between gap-2 text-sm">
                <a class="font-medium text-indigo-700 hover:underline" href=format!("/campaigns/{}", e.campaign_id)>{e.name.clone()}</a>
                <span class="text-xs text-slate-500">{when(e.event_start)}</span>
            </div>
            <div class="mt-1 h-2 w-full overflow-hidden rounded-full bg-slate-100" role="progressbar" aria-label=label
                aria-valuemin="0" aria-valuemax=e.enrolled.to_string() aria-valuenow=e.responded_pos.to_string()>
                <div class="h-full rounded-full bg-emerald-500" style=format!("width:{share:.1}%")></div>
            </div>
            <p class="mt-1 text-xs text-slate-500 tabular-nums">{format!("{} RSVPs of {} enrolled ({share:.0}%)", e.responded_pos, e.enrolled)}</p>
        </li>
    }
}

#[component]
fn ActivityRow(a: Activity) -> impl IntoView {
    let inbound = a.direction == Direction::In;
    view! {
        <li>
            <a class="flex items-start gap-3 px-4 py-3 text-sm hover:bg-slate-50" href=format!("/inbox?conversation={}", a.conversation_id)
                data-testid="activity" data-direction=a.direction.as_str()>
                <span class="mt-0.5 w-14 shrink-0 text-xs font-medium uppercase" class:text-emerald-700=inbound class:text-indigo-700={!inbound}>
                    {if inbound { "↙ in" } else { "↗ out" }}
                </span>
                <span class="min-w-0 flex-1">
                    <span class="block truncate">
                        <span class="font-medium">{a.contact_name}</span>
                        <span class="text-xs text-slate-500">{format!(" · {}", a.channel)}{a.campaign_name.map(|c| format!(" · {c}"))}</span>
                    </span>
                    <span class="block truncate text-slate-600">{a.preview}</span>
                </span>
                <span class="shrink-0 text-xs text-slate-400">{when(a.at)}</span>
            </a>
        </li>
    }
}
