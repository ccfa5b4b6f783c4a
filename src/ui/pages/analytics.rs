//! Analytics: how the funnels perform over a range of days, by channel, campaign, BDR and,
//! for one campaign, step by step. The filters live in the query string (`?from=&to=&
//! campaign_id=&owner_id=&channel=`), so a view can be shared and reloads as it was; without
//! JavaScript the filter form submits them the same way.
use crate::api::admin::list_users;
use crate::api::campaigns::list_campaigns;
use crate::api::stats::{analytics, campaign_stats, stats};
use crate::domain::campaign::Channel;
use crate::domain::stats::{Analytics, BdrRow, CampaignRow, CampaignStats, ChannelStats, DayCount, ExportTable, Funnel, Rates, Stats, StatsQuery};
use crate::ui::charts::{AMBER, BarChart, EMERALD, INDIGO, RED, SKY, SLATE, Series, percent};
use crate::ui::components::{BUTTON_QUIET, CARD, DataTable, EmptyState, Loaded, PageHeader};
use crate::ui::session::use_is_admin;
use leptos::prelude::*;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::params::ParamsMap;
use uuid::Uuid;

const INPUT: &str = "mt-1 block rounded-md border border-slate-300 bg-white px-2 py-1.5 text-sm";
const TD: &str = "px-4 py-2 tabular-nums";
const LINK: &str = "font-medium text-indigo-700 hover:underline";

fn query_of(q: &ParamsMap) -> StatsQuery {
    let uuid = |k: &str| q.get(k).and_then(|s| Uuid::parse_str(s.trim()).ok());
    StatsQuery {
        from: q.get("from").and_then(|s| s.trim().parse().ok()),
        to: q.get("to").and_then(|s| s.trim().parse().ok()),
        campaign_id: uuid("campaign_id"),
        owner_id: uuid("owner_id"),
        channel: q.get("channel").and_then(|s| Channel::parse(s.trim())),
    }
}

/// The filters that are set, as a query string (every value is URL-safe as it is).
fn query_string(q: &StatsQuery) -> String {
    [
        q.from.map(|d| format!("from={d}")),
        q.to.map(|d| format!("to={d}")),
        q.campaign_id.map(|id| format!("campaign_id={id}")),
        q.owner_id.map(|id| format!("owner_id={id}")),
        q.channel.map(|c| format!("channel={c}")),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join("&")
}

fn page_href(q: &StatsQuery) -> String {
    let qs = query_string(q);
    if qs.is_empty() { "/analytics".to_string() } else { format!("/analytics?{qs}") }
}

fn export_href(table: ExportTable, q: &StatsQuery) -> String {
    let qs = query_string(q);
    format!("/api/analytics/export.csv?table={table}{}{qs}", if qs.is_empty() { "" } else { "&" })
}

fn channel_label(c: Channel) -> &'static str {
    match c {
        Channel::Sms => "SMS",
        Channel::Email => "Email",
        Channel::Voicemail => "Voicemail",
    }
}

#[component]
pub fn AnalyticsPage() -> impl IntoView {
    let params = use_query_map();
    let query = Memo::new(move |_| params.with(query_of));
    let data = Resource::new(move || query.get(), analytics);
    let totals = Resource::new(move || query.get(), stats);
    let funnel = Resource::new(move || query.get(), |q| async move {
        match q.campaign_id {
            Some(id) => campaign_stats(id, q).await.map(Some),
            None => Ok(None),
        }
    });
    view! {
        <PageHeader title="Analytics" subtitle="How your funnels perform, by channel, campaign, BDR and step"/>
        <Filters query/>
        <div class="mt-6 space-y-8">
            <Loaded resource=totals render={move |s: Stats| view! { <Totals s query/> }}/>
            <Loaded resource=funnel render={move |c: Option<CampaignStats>| c.map(|c| view! { <CampaignFunnel c query/> })}/>
            <Loaded resource=data render={move |a: Analytics| view! {
                <ChannelSection id="channels" title="Channels" channels=a.channels query/>
                <CampaignTable rows=a.campaigns query/>
                <BdrTable rows=a.bdrs query/>
            }}/>
        </div>
    }
}

/// The range and filters. Each change moves to the URL that says it; the form's own submit
/// (without JavaScript) sends the same names.
#[component]
fn Filters(query: Memo<StatsQuery>) -> impl IntoView {
    // Each handler holds its own clone: a local StoredValue here was dropped by SSR's cleanup
    // on another thread than it was made on, a panic that cut the page's stream short.
    let navigate = use_navigate();
    let go = move |change: &dyn Fn(&mut StatsQuery)| {
        let mut q = query.get_untracked();
        change(&mut q);
        navigate(&page_href(&q), NavigateOptions { scroll: false, ..Default::default() });
    };
    let is_admin = use_is_admin();
    let campaigns = Resource::new(|| (), |_| list_campaigns(None, None, None, None));
    // Only admins see other people's numbers, so only they choose an owner.
    let owners = Resource::new(move || is_admin.get(), |admin| async move { if admin { list_users().await } else { Ok(Vec::new()) } });
    let date = |name: &'static str, label: &'static str| {
        let go = go.clone();
        let value = move || query.with(|q| if name == "from" { q.from } else { q.to }).map(|d| d.to_string()).unwrap_or_default();
        view! {
            <label class="text-sm">
                <span class="text-slate-600">{label}</span>
                <input type="date" class=INPUT name=name value=value prop:value=value aria-label=label
                    on:change=move |ev| {
                        let v: Option<chrono::NaiveDate> = event_target_value(&ev).parse().ok();
                        go(&|q| if name == "from" { q.from = v } else { q.to = v });
                    }/>
            </label>
        }
    };
    let (campaign_go, owner_go) = (go.clone(), go.clone());
    view! {
        <form method="get" action="/analytics" class="flex flex-wrap items-end gap-3" data-testid="analytics-filters"
            on:submit=|ev| ev.prevent_default()>
            {date("from", "From")}
            {date("to", "To")}
            <label class="text-sm">
                <span class="text-slate-600">"Campaign"</span>
                <select class=INPUT name="campaign_id" aria-label="Campaign"
                    on:change=move |ev| { let v = Uuid::parse_str(&event_target_value(&ev)).ok(); campaign_go(&|q| q.campaign_id = v); }>
                    <option value="">"All campaigns"</option>
                    <Transition>
                        {move || campaigns.get().and_then(Result::ok).map(|list| list.into_iter().map(|c| {
                            let chosen = move || query.with(|q| q.campaign_id == Some(c.id));
                            view! { <option value=c.id.to_string() selected=chosen prop:selected=chosen>{c.name}</option> }
                        }).collect_view())}
                    </Transition>
                </select>
            </label>
            <Transition>
                {move || owners.get().and_then(Result::ok).filter(|l| !l.is_empty()).map(|list| { let go = owner_go.clone(); view! {
                    <label class="text-sm">
                        <span class="text-slate-600">"Owner"</span>
                        <select class=INPUT name="owner_id" aria-label="Owner"
                            on:change=move |ev| { let v = Uuid::parse_str(&event_target_value(&ev)).ok(); go(&|q| q.owner_id = v); }>
                            <option value="">"Anyone"</option>
                            {list.into_iter().map(|u| {
                                let chosen = move || query.with(|q| q.owner_id == Some(u.id));
                                view! { <option value=u.id.to_string() selected=chosen prop:selected=chosen>{u.name}</option> }
                            }).collect_view()}
                        </select>
                    </label>
                }})}
            </Transition>
            <label class="text-sm">
                <span class="text-slate-600">"Channel"</span>
                <select class=INPUT name="channel" aria-label="Channel"
                    on:change=move |ev| { let v = Channel::parse(&event_target_value(&ev)); go(&|q| q.channel = v); }>
                    <option value="">"All channels"</option>
                    {Channel::ALL.iter().map(|&c| {
                        let chosen = move || query.with(|q| q.channel == Some(c));
                        view! { <option value=c.as_str() selected=chosen prop:selected=chosen>{channel_label(c)}</option> }
                    }).collect_view()}
                </select>
            </label>
            // Without JavaScript the form applies the filters; with it every change already has.
            <button type="submit" class=BUTTON_QUIET>"Apply"</button>
            <a href="/analytics" class="py-2 text-sm text-indigo-700 hover:underline">"Reset"</a>
        </form>
    }
}

#[component]
fn ExportLink(table: ExportTable, query: Memo<StatsQuery>) -> impl IntoView {
    view! {
        <a class=BUTTON_QUIET href=move || export_href(table, &query.get()) download="" data-testid=format!("export-{table}")>"Export CSV"</a>
    }
}

/// A section's heading with its CSV export beside it.
#[component]
fn SectionHead(id: &'static str, #[prop(into)] title: String, table: ExportTable, query: Memo<StatsQuery>) -> impl IntoView {
    view! {
        <div class="mb-3 flex flex-wrap items-center justify-between gap-2">
            <h2 id=id class="text-lg font-semibold">{title}</h2>
            <ExportLink table query/>
        </div>
    }
}

/// The day chart's bars: a day each up to three months, else a month each.
fn periods(days: &[DayCount]) -> (&'static str, Vec<String>, Vec<i64>, Vec<i64>) {
    let (unit, format) = if days.len() <= 92 { ("day", "%b %-d") } else { ("month", "%b %Y") };
    let (mut labels, mut outbound, mut inbound) = (Vec::<String>::new(), Vec::new(), Vec::new());
    for d in days {
        let label = d.day.format(format).to_string();
        if labels.last() != Some(&label) {
            labels.push(label);
            outbound.push(0);
            inbound.push(0);
        }
        *outbound.last_mut().unwrap() += d.outbound;
        *inbound.last_mut().unwrap() += d.inbound;
    }
    (unit, labels, outbound, inbound)
}

fn funnel_cells(f: Funnel) -> impl IntoView {
    view! {
        <td class=TD>{f.enrolled}</td>
        <td class=TD>{f.messaged}</td>
        <td class=TD>{f.replied}</td>
        <td class=TD>{f.responded_pos}</td>
        <td class=TD>{f.attended}</td>
        <td class=TD>{f.opted_out}</td>
    }
}

fn rate_cells(r: Rates) -> impl IntoView {
    view! {
        <td class=TD>{percent(r.reply)}</td>
        <td class=TD>{percent(r.rsvp)}</td>
        <td class=TD>{percent(r.attendance)}</td>
    }
}

/// The range's totals and its messages by day.
#[component]
fn Totals(s: Stats, query: Memo<StatsQuery>) -> impl IntoView {
    let (f, r) = (s.funnel, s.rates);
    let figures = [
        ("Enrolled", f.enrolled, None),
        ("Messaged", f.messaged, None),
        ("Replied", f.replied, Some(r.reply)),
        ("RSVPs", f.responded_pos, Some(r.rsvp)),
        ("Attended", f.attended, Some(r.attendance)),
        ("Opted out", f.opted_out, Some(r.opt_out)),
    ];
    let (unit, labels, outbound, inbound) = periods(&s.messages_by_day);
    let range = format!("{} to {}", s.from.format("%b %-d, %Y"), s.to.format("%b %-d, %Y"));
    let quiet = outbound.iter().chain(&inbound).all(|&n| n == 0);
    view! {
        <section aria-labelledby="totals-heading" data-testid="analytics-totals">
            <SectionHead id="totals-heading" title=format!("{range} ({})", s.time_zone) table=ExportTable::Days query/>
            <dl class="grid grid-cols-2 gap-3 md:grid-cols-3 xl:grid-cols-6">
                {figures.into_iter().map(|(label, n, rate)| view! {
                    <div class=CARD>
                        <dt class="text-sm text-slate-500">{label}</dt>
                        <dd class="mt-1 text-2xl font-semibold tabular-nums">{n}</dd>
                        {rate.map(|r| view! { <dd class="text-xs text-slate-500">{percent(r)}</dd> })}
                    </div>
                }).collect_view()}
            </dl>
            <div class=format!("{CARD} mt-4")>
                <h3 class="text-sm font-semibold">{format!("Messages by {unit}")}</h3>
                <div class="mt-2">
                    {if quiet {
                        view! { <p class="text-sm text-slate-500">"No messages sent or received in this range."</p> }.into_any()
                    } else {
                        view! {
                            <BarChart id="analytics-by-day" title=format!("Messages by {unit}, {range}") testid="chart-analytics-by-day" labels
                                series=vec![Series::new("Outbound", INDIGO, outbound), Series::new("Inbound", EMERALD, inbound)]/>
                        }.into_any()
                    }}
                </div>
            </div>
        </section>
    }
}

/// Messages per channel: a table and its chart.
#[component]
fn ChannelSection(id: &'static str, #[prop(into)] title: String, channels: Vec<ChannelStats>, query: Memo<StatsQuery>) -> impl IntoView {
    let heading = format!("{id}-heading");
    let empty = channels.iter().all(|c| c.sent == 0 && c.received == 0 && c.reached == 0);
    let body = if empty {
        view! { <EmptyState title="No messages in this range">"Each channel's sends, deliveries, failures and replies show here once a campaign sends."</EmptyState> }.into_any()
    } else {
        let labels = channels.iter().map(|c| channel_label(c.channel).to_string()).collect();
        let series = vec![
            Series::new("Sent", INDIGO, channels.iter().map(|c| c.sent)),
            Series::new("Delivered", EMERALD, channels.iter().map(|c| c.delivered)),
            Series::new("Failed", RED, channels.iter().map(|c| c.failed + c.bounced)),
            Series::new("Replies", AMBER, channels.iter().map(|c| c.replies)),
        ];
        view! {
            <div class="grid gap-4 lg:grid-cols-2">
                <DataTable headers={&["Channel", "Reached", "Sent", "Delivered", "Failed", "Bounced", "Received", "Replies", "Bounce rate"]} testid=id>
                    {channels.into_iter().map(|c| view! {
                        <tr data-channel=c.channel.as_str()>
                            <th scope="row" class="px-4 py-2 text-left font-medium">{channel_label(c.channel)}</th>
                            <td class=TD>{c.reached}</td>
                            <td class=TD>{c.sent}</td>
                            <td class=TD>{c.delivered}</td>
                            <td class=TD>{c.failed}</td>
                            <td class=TD>{c.bounced}</td>
                            <td class=TD>{c.received}</td>
                            <td class=TD>{c.replies}</td>
                            <td class=TD>{percent(c.bounce_rate)}</td>
                        </tr>
                    }).collect_view()}
                </DataTable>
                <div class=CARD>
                    <BarChart id=if id == "channels" { "chart-channels" } else { "chart-campaign-channels" } title=format!("{title}: messages by channel")
                        rows=true testid=if id == "channels" { "chart-channels" } else { "chart-campaign-channels" } labels series/>
                </div>
            </div>
        }.into_any()
    };
    view! {
        <section aria-labelledby=format!("{id}-heading") data-testid=format!("{id}-section")>
            <div class="mb-3 flex flex-wrap items-center justify-between gap-2">
                <h2 id=heading class="text-lg font-semibold">{title.clone()}</h2>
                // The campaign's channels export as the channel table filtered to it.
                <ExportLink table=ExportTable::Channels query/>
            </div>
            {body}
        </section>
    }
}

#[component]
fn CampaignTable(rows: Vec<CampaignRow>, query: Memo<StatsQuery>) -> impl IntoView {
    view! {
        <section aria-labelledby="campaigns-heading">
            <SectionHead id="campaigns-heading" title="Campaigns compared" table=ExportTable::Campaigns query/>
            {if rows.is_empty() {
                view! { <EmptyState title="No campaigns here">"Campaigns with contacts or messages in this range, within the filters, are compared here."</EmptyState> }.into_any()
            } else {
                view! {
                    <DataTable headers={&["Campaign", "Owner", "Status", "Enrolled", "Messaged", "Replied", "RSVPs", "Attended", "Opted out", "Sent", "Reply rate", "RSVP rate", "Attendance"]}
                        testid="campaign-comparison">
                        {rows.into_iter().map(|c| {
                            // Its name narrows the page to it: the funnel by step shows.
                            let href = page_href(&StatsQuery { campaign_id: Some(c.campaign_id), ..query.get_untracked() });
                            view! {
                                <tr data-id=c.campaign_id.to_string()>
                                    <th scope="row" class="px-4 py-2 text-left font-normal"><a class=LINK href=href>{c.name}</a></th>
                                    <td class="px-4 py-2">{c.owner_name}</td>
                                    <td class="px-4 py-2">{c.status.as_str()}</td>
                                    {funnel_cells(c.funnel)}
                                    <td class=TD>{c.sent}</td>
                                    {rate_cells(c.rates)}
                                </tr>
                            }
                        }).collect_view()}
                    </DataTable>
                }.into_any()
            }}
        </section>
    }
}

/// The rows come ranked by the server (RSVPs, then replies, then name).
#[component]
fn BdrTable(rows: Vec<BdrRow>, query: Memo<StatsQuery>) -> impl IntoView {
    view! {
        <section aria-labelledby="bdrs-heading">
            <SectionHead id="bdrs-heading" title="BDR leaderboard" table=ExportTable::Bdrs query/>
            {if rows.is_empty() {
                view! { <EmptyState title="Nobody to rank yet">"BDRs are ranked by RSVPs from their campaigns in this range."</EmptyState> }.into_any()
            } else {
                view! {
                    <DataTable headers={&["#", "BDR", "Campaigns", "Enrolled", "Messaged", "Replied", "RSVPs", "Attended", "Opted out", "Sent", "Reply rate", "RSVP rate", "Attendance"]}
                        testid="bdr-leaderboard">
                        {rows.into_iter().enumerate().map(|(i, b)| view! {
                            <tr data-id=b.user_id.to_string()>
                                <td class=TD>{i + 1}</td>
                                <th scope="row" class="px-4 py-2 text-left font-medium">{b.name}</th>
                                <td class=TD>{b.campaigns}</td>
                                {funnel_cells(b.funnel)}
                                <td class=TD>{b.sent}</td>
                                {rate_cells(b.rates)}
                            </tr>
                        }).collect_view()}
                    </DataTable>
                }.into_any()
            }}
        </section>
    }
}

/// One campaign step by step: how many each step reached, sent, delivered, lost, and the
/// replies and RSVPs it brought; then its channels and who sent.
#[component]
fn CampaignFunnel(c: CampaignStats, query: Memo<StatsQuery>) -> impl IntoView {
    let CampaignStats { name, funnel, rates, nodes, channels, senders, .. } = c;
    let title = format!("{name}: funnel by step");
    let chart = (!nodes.is_empty()).then(|| {
        let labels = nodes.iter().map(|n| if n.name.trim().is_empty() { n.node_key.clone() } else { n.name.clone() }).collect();
        let series = vec![
            Series::new("Reached", SLATE, nodes.iter().map(|n| n.reached)),
            Series::new("Sent", INDIGO, nodes.iter().map(|n| n.sent)),
            Series::new("Delivered", EMERALD, nodes.iter().map(|n| n.delivered)),
            Series::new("Failed", RED, nodes.iter().map(|n| n.failed)),
            Series::new("Replied", AMBER, nodes.iter().map(|n| n.replied)),
            Series::new("RSVP", SKY, nodes.iter().map(|n| n.rsvp)),
        ];
        view! { <div class=CARD><BarChart id="chart-funnel" title=title.clone() rows=true testid="chart-funnel" labels series/></div> }
    });
    view! {
        <section aria-labelledby="funnel-heading" data-testid="campaign-funnel" class="space-y-4 rounded-2xl border border-indigo-100 bg-indigo-50/40 p-4">
            <SectionHead id="funnel-heading" title=title.clone() table=ExportTable::Nodes query/>
            <p class="text-sm text-slate-600 tabular-nums">
                {format!("{} enrolled · {} messaged · {} replied ({}) · {} RSVPs ({}) · {} attended ({}) · {} opted out",
                    funnel.enrolled, funnel.messaged, funnel.replied, percent(rates.reply), funnel.responded_pos, percent(rates.rsvp),
                    funnel.attended, percent(rates.attendance), funnel.opted_out)}
            </p>
            {if nodes.is_empty() {
                view! { <EmptyState title="No steps to show">"This campaign's steps show here once its funnel has sent something in this range."</EmptyState> }.into_any()
            } else {
                view! {
                    {chart}
                    <DataTable headers={&["Step", "Type", "Reached", "Sent", "Delivered", "Failed", "Replied", "RSVP"]} testid="funnel-nodes">
                        {nodes.into_iter().map(|n| view! {
                            <tr data-key=n.node_key.clone()>
                                <th scope="row" class="px-4 py-2 text-left font-normal">
                                    <span class="font-mono text-xs text-slate-500">{n.node_key.clone()}</span>" "<span class="font-medium">{n.name}</span>
                                </th>
                                <td class="px-4 py-2 text-slate-600">{n.node_type}</td>
                                <td class=TD>{n.reached}</td>
                                <td class=TD>{n.sent}</td>
                                <td class=TD>{n.delivered}</td>
                                <td class=TD>{n.failed}</td>
                                <td class=TD>{n.replied}</td>
                                <td class=TD>{n.rsvp}</td>
                            </tr>
                        }).collect_view()}
                    </DataTable>
                }.into_any()
            }}
            <ChannelSection id="campaign-channels" title=format!("{name}: channels") channels query/>
            <div>
                <h3 class="mb-2 text-base font-semibold">"Who sent"</h3>
                {if senders.is_empty() {
                    view! { <p class="text-sm text-slate-500">"Nobody sent for this campaign in this range."</p> }.into_any()
                } else {
                    view! {
                        <DataTable headers={&["Sender", "Sent", "Delivered", "Failed"]} testid="funnel-senders">
                            {senders.into_iter().map(|s| view! {
                                <tr>
                                    <th scope="row" class="px-4 py-2 text-left font-medium">{s.name}</th>
                                    <td class=TD>{s.sent}</td>
                                    <td class=TD>{s.delivered}</td>
                                    <td class=TD>{s.failed}</td>
                                </tr>
                            }).collect_view()}
                        </DataTable>
                    }.into_any()
                }}
            </div>
        </section>
    }
}
