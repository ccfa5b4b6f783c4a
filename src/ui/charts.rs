//! Charts drawn on the server as SVG, no chart library: readable without JavaScript (axes,
//! values, every bar's own `<title>` as its native tooltip), named for screen readers
//! (`role="img"` labelled by the chart's `<title>` and `<desc>`, which sums the data up) and
//! scaled by `viewBox`. Once hydrated, hovering a group of bars shows all its values in a
//! tooltip; until then (and on the server) there is none.
use leptos::prelude::*;

/// One coloured series: a value per category.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub name: &'static str,
    pub colour: &'static str,
    pub values: Vec<i64>,
}

impl Series {
    pub fn new(name: &'static str, colour: &'static str, values: impl IntoIterator<Item = i64>) -> Self {
        Series { name, colour, values: values.into_iter().collect() }
    }

    fn at(&self, i: usize) -> i64 {
        self.values.get(i).copied().unwrap_or(0)
    }
}

pub const INDIGO: &str = "#6366f1";
pub const EMERALD: &str = "#10b981";
pub const RED: &str = "#ef4444";
pub const AMBER: &str = "#f59e0b";
pub const SKY: &str = "#0ea5e9";
pub const SLATE: &str = "#94a3b8";

/// A ratio as a percentage, "—" when there was nothing to divide by.
pub fn percent(r: Option<f64>) -> String {
    r.map_or_else(|| "—".to_string(), |r| format!("{:.1}%", r * 100.0))
}

/// The width of every chart in `viewBox` units; the height follows from the data.
const W: f64 = 640.0;
const TEXT: &str = "#475569";
const GRID: &str = "#e2e8f0";

/// Where the plot sits in the chart and how values map onto it. Columns put the categories
/// along the bottom (days), rows down the side (channels, steps).
#[derive(Clone, Copy)]
struct Plot {
    rows: bool,
    left: f64,
    top: f64,
    width: f64,
    height: f64,
    /// Room per category along the category axis, and per bar within it.
    band: f64,
    bar: f64,
    max: f64,
}

impl Plot {
    fn new(rows: bool, categories: usize, series: usize, max: f64) -> Plot {
        let (n, s) = (categories.max(1) as f64, series.max(1) as f64);
        if rows {
            let bar = if s > 3.0 { 8.0 } else { 12.0 };
            let band = s * bar + 12.0;
            Plot { rows, left: 136.0, top: 6.0, width: W - 136.0 - 40.0, height: n * band, band, bar, max }
        } else {
            let (left, width) = (40.0, W - 40.0 - 8.0);
            let band = width / n;
            Plot { rows, left, top: 16.0, width, height: 160.0, band, bar: band * 0.8 / s, max }
        }
    }

    fn full_height(&self) -> f64 {
        self.top + self.height + 22.0
    }

    /// The length of a value along the value axis.
    fn len(&self, v: i64) -> f64 {
        v as f64 / self.max * if self.rows { self.width } else { self.height }
    }

    /// Series `j`'s bar in category `i`: x, y, width, height.
    fn rect(&self, i: usize, j: usize, v: i64) -> (f64, f64, f64, f64) {
        let at = i as f64 * self.band + if self.rows { 6.0 } else { self.band * 0.1 } + j as f64 * self.bar;
        let len = self.len(v);
        if self.rows { (self.left, self.top + at, len, self.bar) } else { (self.left + at, self.top + self.height - len, self.bar, len) }
    }

    /// The whole of category `i`, for hovering.
    fn hit(&self, i: usize) -> (f64, f64, f64, f64) {
        let at = i as f64 * self.band;
        if self.rows { (0.0, self.top + at, W, self.band) } else { (self.left + at, self.top, self.band, self.height) }
    }

    /// Where the tooltip of category `i` points (above its longest bar), in percent of the chart.
    fn anchor(&self, i: usize, longest: i64) -> (f64, f64) {
        let (x, y) = if self.rows {
            (self.left + self.len(longest), self.top + i as f64 * self.band + 4.0)
        } else {
            (self.left + (i as f64 + 0.5) * self.band, self.top + self.height - self.len(longest) - 4.0)
        };
        ((x / W * 100.0).clamp(12.0, 88.0), y / self.full_height() * 100.0)
    }
}

/// Round ticks from 0 to at or above `max`: steps of 1, 2 or 5 times a power of ten.
fn ticks(max: i64) -> Vec<i64> {
    let max = max.max(1);
    let rough = max as f64 / 4.0;
    let magnitude = 10f64.powi(rough.log10().floor() as i32);
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| *s >= rough).unwrap_or(10.0 * magnitude);
    let step = (step.round() as i64).max(1);
    let top = (max + step - 1) / step * step;
    (0..=top / step).map(|k| k * step).collect()
}

/// "Nov 3: Outbound 12, Inbound 3"
fn group_text(label: &str, series: &[Series], i: usize) -> String {
    let values = series.iter().map(|s| format!("{} {}", s.name, s.at(i))).collect::<Vec<_>>().join(", ");
    format!("{label}: {values}")
}

/// The chart in words: every category when there are few, else each series' total and peak.
fn describe(labels: &[String], series: &[Series]) -> String {
    if labels.is_empty() {
        return "No data.".to_string();
    }
    if labels.len() <= 12 {
        return labels.iter().enumerate().map(|(i, l)| group_text(l, series, i)).collect::<Vec<_>>().join("; ") + ".";
    }
    let each = series
        .iter()
        .map(|s| {
            let total: i64 = s.values.iter().sum();
            // The first of the highest.
            let peak = s.values.iter().copied().enumerate().max_by_key(|&(i, v)| (v, std::cmp::Reverse(i)));
            match peak {
                Some((i, v)) if v > 0 => format!("{} {total} in all, most {v} on {}", s.name, labels[i]),
                _ => format!("{} {total} in all", s.name),
            }
        })
        .collect::<Vec<_>>()
        .join("; ");
    format!("{} to {}. {each}.", labels[0], labels[labels.len() - 1])
}

/// Names longer than the room beside a row are cut with an ellipsis (the bar's title has all).
fn clip(s: &str) -> String {
    const MAX: usize = 22;
    if s.chars().count() <= MAX { s.to_string() } else { format!("{}…", s.chars().take(MAX - 1).collect::<String>()) }
}

fn n(v: f64) -> String {
    format!("{v:.1}")
}

/// Grouped bars: one group per label, one bar per series. `rows` lays the groups down the
/// side with each bar's value at its end (channels, funnel steps); otherwise they stand
/// along the bottom (days), values on the axis and, when there is room, above the bars.
#[component]
pub fn BarChart(
    /// Unique in the page: the ids of the chart's title and description derive from it.
    id: &'static str,
    #[prop(into)] title: String,
    labels: Vec<String>,
    series: Vec<Series>,
    #[prop(optional)] rows: bool,
    #[prop(optional)] testid: Option<&'static str>,
) -> impl IntoView {
    let desc = describe(&labels, &series);
    let ticks = ticks(series.iter().flat_map(|s| s.values.iter().copied()).max().unwrap_or(0));
    let plot = Plot::new(rows, labels.len(), series.len(), *ticks.last().unwrap_or(&1) as f64);
    let h = plot.full_height();
    let (title_id, desc_id) = (format!("{id}-title"), format!("{id}-desc"));
    let labelled_by = format!("{title_id} {desc_id}");
    let hover = RwSignal::new(None::<usize>);
    let data = StoredValue::new((labels.clone(), series.clone()));
    // Values written on the bars when they fit.
    let values_on_bars = rows || labels.len() * series.len() <= 24;
    let label_every = if rows { 1 } else { labels.len().div_ceil(8).max(1) };

    let grid = ticks.iter().map(|&t| {
        let at = plot.len(t);
        if rows {
            let x = n(plot.left + at);
            view! {
                <line x1=x.clone() x2=x.clone() y1=n(plot.top) y2=n(plot.top + plot.height) stroke=GRID/>
                <text x=x y=n(plot.top + plot.height + 14.0) font-size="10" text-anchor="middle" fill=TEXT>{t}</text>
            }
            .into_any()
        } else {
            let y = plot.top + plot.height - at;
            view! {
                <line x1=n(plot.left) x2=n(plot.left + plot.width) y1=n(y) y2=n(y) stroke=GRID/>
                <text x=n(plot.left - 6.0) y=n(y + 3.5) font-size="10" text-anchor="end" fill=TEXT>{t}</text>
            }
            .into_any()
        }
    }).collect_view();

    let groups = labels.iter().enumerate().map(|(i, label)| {
        let (hx, hy, hw, hh) = plot.hit(i);
        let bars = series.iter().enumerate().map(|(j, s)| {
            let v = s.at(i);
            let (x, y, w, bh) = plot.rect(i, j, v);
            let value = values_on_bars.then(|| if rows {
                view! { <text x=n(x + w + 4.0) y=n(y + bh / 2.0 + 3.5) font-size="10" fill=TEXT>{v}</text> }.into_any()
            } else {
                view! { <text x=n(x + w / 2.0) y=n(y - 3.0) font-size="9" text-anchor="middle" fill=TEXT>{v}</text> }.into_any()
            });
            view! {
                <rect x=n(x) y=n(y) width=n(w) height=n(bh) rx="1.5" fill=s.colour data-series=s.name data-value=v.to_string()>
                    <title>{format!("{label}: {} {v}", s.name)}</title>
                </rect>
                {value}
            }
        }).collect_view();
        let name = (i % label_every == 0).then(|| if rows {
            view! { <text x=n(plot.left - 8.0) y=n(plot.top + (i as f64 + 0.5) * plot.band + 3.5) font-size="11" text-anchor="end" fill=TEXT>{clip(label)}</text> }.into_any()
        } else {
            view! { <text x=n(plot.left + (i as f64 + 0.5) * plot.band) y=n(plot.top + plot.height + 14.0) font-size="10" text-anchor="middle" fill=TEXT>{label.clone()}</text> }.into_any()
        });
        view! {
            <g data-label=label.clone() on:mouseenter=move |_| hover.set(Some(i)) on:mouseleave=move |_| hover.set(None)>
                <rect x=n(hx) y=n(hy) width=n(hw) height=n(hh) fill="transparent">
                    <title>{group_text(label, &series, i)}</title>
                </rect>
                {bars}
                {name}
            </g>
        }
    }).collect_view();

    let axis = if rows {
        view! { <line x1=n(plot.left) x2=n(plot.left) y1=n(plot.top) y2=n(plot.top + plot.height) stroke="#94a3b8"/> }
    } else {
        view! { <line x1=n(plot.left) x2=n(plot.left + plot.width) y1=n(plot.top + plot.height) y2=n(plot.top + plot.height) stroke="#94a3b8"/> }
    };

    let tooltip = move || {
        hover.get().and_then(|i| data.with_value(|(labels, series)| {
            let label = labels.get(i)?.clone();
            let longest = series.iter().map(|s| s.at(i)).max().unwrap_or(0);
            let (left, top) = plot.anchor(i, longest);
            let lines = series.iter().map(|s| view! {
                <p class="flex items-center gap-1.5 tabular-nums">
                    <span class="inline-block h-2 w-2 rounded-sm" style=format!("background:{}", s.colour)></span>
                    {s.name}": "<span class="font-semibold">{s.at(i)}</span>
                </p>
            }).collect_view();
            Some(view! {
                <div class="pointer-events-none absolute z-10 -translate-x-1/2 -translate-y-full whitespace-nowrap rounded-md bg-slate-900 px-2 py-1 text-xs text-white shadow-lg"
                    style=format!("left:{left:.1}%;top:{top:.1}%") data-testid="chart-tooltip" aria-hidden="true">
                    <p class="font-medium">{label}</p>
                    {lines}
                </div>
            })
        }))
    };

    let legend = series.iter().map(|s| {
        let total = (!rows).then(|| format!(" {}", s.values.iter().sum::<i64>()));
        view! {
            <li class="flex items-center gap-1.5" data-series=s.name>
                <span class="inline-block h-2.5 w-2.5 rounded-sm" style=format!("background:{}", s.colour)></span>
                {s.name}<span class="font-medium tabular-nums text-slate-800" data-testid="series-total">{total}</span>
            </li>
        }
    }).collect_view();

    view! {
        <figure data-testid=testid>
            <div class="relative">
                <svg class="block h-auto w-full" viewBox=format!("0 0 {W} {}", n(h)) role="img" aria-labelledby=labelled_by
                    xmlns="http://www.w3.org/2000/svg" font-family="ui-sans-serif, system-ui, sans-serif">
                    <title id=title_id>{title}</title>
                    <desc id=desc_id>{desc}</desc>
                    {grid}
                    {groups}
                    {axis}
                </svg>
                {tooltip}
            </div>
            <ul class="mt-2 flex flex-wrap gap-x-4 gap-y-1 text-xs text-slate-600">{legend}</ul>
        </figure>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_top() {
        assert_eq!(ticks(0), vec![0, 1]);
        assert_eq!(ticks(3), vec![0, 1, 2, 3]);
        assert_eq!(ticks(7), vec![0, 2, 4, 6, 8]);
        assert_eq!(ticks(123), vec![0, 50, 100, 150]);
    }

    #[test]
    fn a_long_series_is_summed_up_and_a_short_one_listed() {
        let days: Vec<String> = (1..=30).map(|d| format!("Nov {d}")).collect();
        let s = Series::new("Outbound", INDIGO, (1..=30).map(|d| if d == 5 { 9 } else { 1 }));
        assert_eq!(describe(&days, &[s]), "Nov 1 to Nov 30. Outbound 38 in all, most 9 on Nov 5.");
        let s = Series::new("Sent", INDIGO, [3, 0]);
        assert_eq!(describe(&["sms".into(), "email".into()], &[s]), "sms: Sent 3; email: Sent 0.");
    }
}
