//! The views: one [`ChartCard`] per card of the cards' table ([`CARDS`]), laid out by [`Views`],
//! which redraws them when a snapshot arrives, a view's knob changes or the window is resized. In
//! compare mode the time charts overlay runs A and B in two colours, and the routing, load and
//! domain views show B's canvas beside A's, each labelled with what differs.
//!
//! Each card has an id ([`CardId`], its name as `data-card`): in presentation mode only the cards of
//! `ui.focus` are shown ([`crate::page::focused_cards`]), and the card of `ui.highlight` is outlined
//! in both modes; the charts redraw when presentation mode is switched. While a lesson plays each
//! card says the lesson's words for it instead of its generic caption and notes ([`CardWords`]).
use super::hints::TryThis;
use super::{draw, web, Ui};
use crate::cards::{self, Card, CardId, Chart, Layout, Source, CARDS};
use crate::config::{Dataset, RouterInfo};
use crate::page::{diff_label, focused_cards, Hist};
use crate::palette::{RUN_A, RUN_B};
use crate::session::Cmd;
use leptos::html;
use leptos::prelude::*;
use plotters::style::RGBColor;
use web_sys::HtmlCanvasElement;

/// What a card says under its chart.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum CardWords {
    /// Its generic caption and notes (no lesson plays).
    #[default]
    Generic,
    /// A lesson plays and has these words for the card: shown instead of its caption and notes.
    Lesson(&'static str),
    /// A lesson plays with no words for the card: no caption, no notes.
    Quiet,
}

impl CardWords {
    /// What card `id` says while `lesson` plays (None: no lesson).
    pub fn of(lesson: Option<&'static crate::lessons::Lesson>, id: CardId) -> CardWords {
        match lesson {
            None => CardWords::Generic,
            Some(l) => l.words_for(id).map_or(CardWords::Quiet, CardWords::Lesson),
        }
    }
}

/// The canvases of every card, by what they draw (`Chart as usize`).
#[derive(Clone, Copy)]
pub struct Canvases([NodeRef<html::Canvas>; Chart::COUNT]);

impl Canvases {
    fn new() -> Canvases {
        Canvases(std::array::from_fn(|_| NodeRef::new()))
    }
    /// The canvas drawing `chart`.
    fn node(self, chart: Chart) -> NodeRef<html::Canvas> {
        self.0[chart as usize]
    }
    /// The element of the canvas drawing `chart`, once it is in the page.
    fn get(self, chart: Chart) -> Option<HtmlCanvasElement> {
        self.node(chart).get()
    }
}

/// One canvas of a [`ChartCard`], with the PNG button that saves it.
#[derive(Clone, Copy)]
pub struct Plot {
    /// Its row of the cards' table: what it draws, its test id, size, file name and button.
    pub spec: &'static cards::Plot,
    /// The canvas, for the drawing effects.
    pub node: NodeRef<html::Canvas>,
    /// Above the canvas: which run it shows and what differs ("A: α = 0.01"); none while empty.
    pub label: Option<Signal<String>>,
    /// Shown only while true (run B's canvases: in compare mode).
    pub shown: Option<Signal<bool>>,
}

/// What a PNG button does: save its canvas as `moe-{file}-step{N}.png`.
pub type SavePng = Callback<(NodeRef<html::Canvas>, &'static str)>;

/// A plot shown only while `shown` (run B's: compare mode) is true, or always.
fn only_while(shown: Option<Signal<bool>>, v: impl Fn() -> AnyView + Send + Sync + 'static) -> AnyView {
    match shown {
        None => v(),
        Some(s) => view! { <Show when=move || s.get()>{v()}</Show> }.into_any(),
    }
}

/// A plot's PNG button.
fn png_button(p: &Plot, png: SavePng) -> AnyView {
    let (node, file, tooltip, button) = (p.node, p.spec.file, p.spec.tooltip, p.spec.button);
    only_while(p.shown, move || {
        view! { <button class="png" title=tooltip on:click=move |_| png.run((node, file))>{button}</button> }.into_any()
    })
}

/// A plot's canvas, under its run label if it has one.
fn plot_canvas(p: &Plot) -> AnyView {
    let (node, testid, size) = (p.node, p.spec.testid, p.spec.size);
    let c = move || view! { <canvas node_ref=node data-testid=testid width=size.0 height=size.1></canvas> };
    let Some(label) = p.label else { return only_while(p.shown, move || c().into_any()) };
    only_while(p.shown, move || {
        view! {
            <figure class="run">
                <figcaption class="run-label" prop:hidden=move || label.with(String::is_empty)>{move || label.get()}</figcaption>
                {c()}
            </figure>
        }
        .into_any()
    })
}

/// A chart card: its title with one PNG button per canvas, the canvas (two side by side in a
/// `.pair`; covered by the card's placeholder while `waiting`), the caption, and what the caller
/// puts under it (a [`RouterNote`], a [`CompareNote`]).
#[component]
pub fn ChartCard(
    /// The card's row of the cards' table: its id (rendered as `data-card`), title, caption and
    /// layout (class `wide` spans the whole row, `tall` two rows).
    card: &'static Card,
    /// Its canvases: one, or two side by side.
    plots: Vec<Plot>,
    /// Saves a canvas as PNG (the PNG buttons).
    png: SavePng,
    /// Hides the whole card while true.
    #[prop(optional, into)]
    hidden: Signal<bool>,
    /// While true the card spans the whole row instead of its layout (compare mode's canvases
    /// side by side).
    #[prop(optional, into)]
    wide: Signal<bool>,
    /// The highlighted card: this card is outlined (class `highlight`) while it is this one.
    #[prop(optional, into)]
    highlight: Signal<Option<CardId>>,
    /// While true the chart has nothing to draw yet: the card's placeholder (`card.waiting`)
    /// covers its canvases.
    #[prop(optional, into)]
    waiting: Signal<bool>,
    /// What the card says: its caption (generic) or a lesson's words for it (`card-caption`,
    /// `data-words` = `generic`, `lesson` or `quiet`); generic if not given.
    #[prop(optional, into)]
    words: Signal<CardWords>,
    /// Under the caption: notes that depend on the knobs.
    #[prop(optional)]
    children: Option<Children>,
) -> impl IntoView {
    let id = card.id;
    let text = move || match words.get() {
        CardWords::Lesson(w) => w,
        _ => card.caption,
    };
    let kind = move || match words.get() {
        CardWords::Generic => "generic",
        CardWords::Lesson(_) => "lesson",
        CardWords::Quiet => "quiet",
    };
    let lit = move || highlight.get() == Some(id);
    let layout = match card.layout {
        Layout::Normal => None,
        Layout::Wide => Some("wide"),
        Layout::Tall => Some("tall"),
    };
    let class = move || {
        let base = match (wide.get(), layout) {
            (true, _) => "card wide".to_string(),
            (false, Some(c)) => format!("card {c}"),
            (false, None) => "card".to_string(),
        };
        if lit() {
            format!("{base} highlight")
        } else {
            base
        }
    };
    let buttons = plots.iter().map(|p| png_button(p, png)).collect_view();
    let canvases = match plots.as_slice() {
        [one] => plot_canvas(one),
        many => view! { <div class="pair">{many.iter().map(plot_canvas).collect_view()}</div> }.into_any(),
    };
    view! {
        <article class=class data-card=card.name prop:hidden=hidden aria-current=move || lit().then_some("true")>
            <header><h2>{card.title}</h2>{buttons}</header>
            <div class="plots">
                {canvases}
                <p class="waiting" data-testid=format!("waiting-{}", card.name) prop:hidden=move || !waiting.get()>
                    {card.waiting}
                </p>
            </div>
            <p class="caption card-caption" data-words=kind prop:hidden=move || words.get() == CardWords::Quiet>
                {text}
            </p>
            {children.map(|c| c())}
        </article>
    }
}

/// What a view shows that is particular to the selected router, under its caption; hidden when
/// the router has nothing to say there.
#[component]
pub fn RouterNote(
    /// The note's `data-testid`.
    testid: &'static str,
    /// The selected router's note for this view ("" = none).
    #[prop(into)]
    text: Signal<&'static str>,
    /// A lesson plays: the note is hidden (the card says the lesson's words).
    #[prop(optional, into)]
    lesson: Signal<bool>,
) -> impl IntoView {
    let hidden = move || lesson.get() || text.get().is_empty();
    view! {
        <p class="caption router-note" data-testid=testid prop:hidden=hidden>{move || text.get()}</p>
    }
}

/// Probe rows of the routing heatmap in presentation mode (32 otherwise): larger rows; fewer where
/// its box is too short for their labels at full size.
const PRESENT_ROWS: usize = 16;

/// How the charts draw text ([`draw::set_scale`]): normally at scale 1; in presentation mode
/// scaled with the screen, 1.5 times larger and no text under 18 px on a 1920-wide screen.
fn set_chart_scale(present: bool) {
    if !present {
        return draw::set_scale(1.0, 0);
    }
    let vw = web_sys::window().and_then(|w| w.inner_width().ok()).and_then(|v| v.as_f64()).unwrap_or(1280.0) as f32;
    let scale = (1.5 * vw / 1920.0).clamp(1.0, 2.5);
    draw::set_scale(scale, (18.0 * vw / 1920.0).round().clamp(12.0, 40.0) as i32);
}

/// The size of the router's logits over training: √z, the root mean square over tokens of
/// logsumexp(router logits) (z is the router z-loss's value, measured whether or not it is trained).
fn logit_size(h: &[Hist]) -> Vec<(f32, f32)> {
    h.iter().map(|p| (p.step, p.z.max(0.0).sqrt())).collect()
}

/// One point per held-out evaluation, at the step it followed.
fn held_out(h: &[Hist]) -> Vec<(f32, f32)> {
    let mut points: Vec<(f32, f32)> = Vec::new();
    for (step, ce, _) in h.iter().filter_map(|p| p.eval) {
        if points.last().map(|l| l.0) != Some(step as f32) {
            points.push((step as f32, ce));
        }
    }
    points
}

/// The time charts of compare mode: runs A and B (`runs`) each in its colour, with fewer series
/// per chart than a single run's so the two stay readable: training CE (solid) and held-out CE
/// (dashed); the busiest expert's share; the router logits' size; dropped assignments; the
/// experts' similarity.
fn draw_runs(runs: [&[Hist]; 2], ev: &[draw::Event], canvases: Canvases) {
    let color = |i: usize| {
        let (r, g, b) = [RUN_A, RUN_B][i];
        RGBColor(r, g, b)
    };
    let pts = |h: &[Hist], f: fn(&Hist) -> Option<f32>| h.iter().filter_map(|p| f(p).map(|v| (p.step, v))).collect();
    let per_run = |names: [&'static str; 2], f: fn(&Hist) -> Option<f32>| -> Vec<draw::Series<'static>> {
        (0..2).map(|i| (names[i], color(i), pts(runs[i], f))).collect()
    };
    if let Some(c) = canvases.get(Chart::Losses) {
        let mut series = Vec::new();
        for (i, name) in [("A training", "A held-out"), ("B training", "B held-out")].into_iter().enumerate() {
            series.push((name.0, color(i), pts(runs[i], |p| Some(p.ce))));
            series.push((name.1, color(i), held_out(runs[i])));
        }
        draw::lines_dashed(c, &series, &[false, true, false, true], 0.0, None, ev);
    }
    if let Some(c) = canvases.get(Chart::Balance) {
        draw::lines(c, &per_run(["A max share", "B max share"], |p| Some(p.max_share)), 0.0, Some(1.05), ev);
    }
    if let Some(c) = canvases.get(Chart::Drops) {
        let series = per_run(["A dropped assignments", "B dropped assignments"], |p| Some(p.dropped));
        draw::lines(c, &series, 0.0, Some(1.05), ev);
    }
    if let Some(c) = canvases.get(Chart::Similarity) {
        let series = per_run(["A expert similarity", "B expert similarity"], |p| p.expert_similarity);
        draw::lines(c, &series, -0.2, Some(1.05), ev);
    }
    if let Some(c) = canvases.get(Chart::Logits) {
        let series: Vec<draw::Series> = (0..2).map(|i| (["A", "B"][i], color(i), logit_size(runs[i]))).collect();
        draw::lines(c, &series, 0.0, None, ev);
    }
}

/// The time charts of one run (history `h`, knob changes `ev`): losses (the z-loss with `beta` >
/// 0), balance, the router logits' size, the experts' similarity and dropped tokens (`router`
/// says what an expert-choice router leaves out).
fn draw_run(h: &[Hist], ev: &[draw::Event], canvases: Canvases, beta: f32, router: &RouterInfo) {
    let pts = |f: fn(&Hist) -> f32| h.iter().map(|p| (p.step, f(p))).collect::<Vec<_>>();
    if let Some(c) = canvases.get(Chart::Losses) {
        let mut series = vec![
            ("training CE", RGBColor(0, 114, 178), pts(|p| p.ce)),
            ("held-out CE", RGBColor(0, 0, 0), held_out(h)),
            ("balance aux", RGBColor(213, 94, 0), pts(|p| p.aux)),
        ];
        if beta > 0.0 {
            series.push(("z-loss", RGBColor(0, 158, 115), pts(|p| p.z)));
        }
        draw::lines(c, &series, 0.0, None, ev);
    }
    if let Some(c) = canvases.get(Chart::Balance) {
        let series = [
            ("max share", RGBColor(213, 94, 0), pts(|p| p.max_share)),
            ("entropy (normalised)", RGBColor(0, 114, 178), pts(|p| p.entropy)),
        ];
        draw::lines(c, &series, 0.0, Some(1.05), ev);
    }
    if let Some(c) = canvases.get(Chart::Logits) {
        draw::lines(c, &[("router logit size", RGBColor(0, 158, 115), logit_size(h))], 0.0, None, ev);
    }
    if let Some(c) = canvases.get(Chart::Similarity) {
        let sim: Vec<(f32, f32)> = h.iter().filter_map(|p| p.expert_similarity.map(|v| (p.step, v))).collect();
        draw::lines(c, &[("expert similarity", RGBColor(0, 114, 178), sim)], -0.2, Some(1.05), ev);
    }
    if let Some(c) = canvases.get(Chart::Drops) {
        // Expert choice drops nothing; what it leaves out are the tokens no expert picked.
        let picks = router.all_experts && router.capacity;
        let first = if picks { "unrouted tokens (no expert picked them)" } else { "tokens with every choice dropped" };
        let mut series = vec![
            (first, RGBColor(86, 180, 233), pts(|p| p.all_dropped)),
            ("dropped assignments", RGBColor(204, 121, 167), pts(|p| p.dropped)),
        ];
        // Random drops (GShard top-2) apart from the total, whenever there have been any.
        if h.iter().any(|p| p.random_dropped > 0.0) {
            series.push(("at random", RGBColor(230, 159, 0), pts(|p| p.random_dropped)));
        }
        draw::lines(c, &series, 0.0, Some(1.05), ev);
    }
}

/// Draw what follows a snapshot: each run's routing, load and domains from its latest snapshot
/// (run B's in compare mode, `both`), then the time charts of one run or both.
fn draw_snapshots(ui: Ui, canvases: Canvases, both: bool) {
    let snap_b = ui.snap_b.get();
    let Some(s) = ui.snap.get() else { return };
    let ds = ui.cfg.get_untracked().dataset;
    let a = (Some(&s), Chart::Routing, Chart::Load, Chart::Domains);
    let b = (snap_b.as_ref().filter(|_| both), Chart::RoutingB, Chart::LoadB, Chart::DomainsB);
    // Compare mode: A's and B's load charts share one y axis, up to the larger of their tops, so
    // equal heights are equal loads. (The heatmaps and domain matrices colour a 0–1 share alike.)
    let load_top = b.0.map(|sb| draw::load_top(&s).max(draw::load_top(sb)));
    for (snap, heat, load, doms) in [a, b] {
        let Some(s) = snap else { continue };
        if let Some(c) = canvases.get(heat) {
            draw::heatmap(c, s, ds, if ui.present.get_untracked() { PRESENT_ROWS } else { 32 });
        }
        if let Some(c) = canvases.get(load) {
            draw::load(c, s, load_top);
        }
        if let Some(c) = canvases.get(doms) {
            draw::domains(c, s, ds);
        }
    }
    let h = ui.hist.get_untracked();
    let ev = ui.events.get_untracked();
    if both {
        let hb = ui.hist_b.get_untracked();
        draw_runs([&h, &hb], &ev, canvases);
    } else {
        let (beta, router) = ui.cfg.with_untracked(|c| (c.beta, c.router.info()));
        draw_run(&h, &ev, canvases, beta, router);
    }
}

/// What compare mode shows in a view, under its caption; hidden while compare mode is off.
#[component]
pub fn CompareNote(
    /// Compare mode is on.
    #[prop(into)]
    on: Signal<bool>,
    /// The note.
    text: &'static str,
    /// A lesson plays: the note is hidden (the card says the lesson's words).
    #[prop(optional, into)]
    lesson: Signal<bool>,
) -> impl IntoView {
    view! { <p class="caption compare-note" prop:hidden=move || lesson.get() || !on.get()>{text}</p> }
}

/// The charts: one [`ChartCard`] per card of [`CARDS`], in its order (the region map only for the
/// `regions` data set), each redrawn when a snapshot arrives. In compare mode the time charts
/// overlay both runs and run B's routing, load and domains stand beside A's.
#[component]
pub fn Views(
    /// The page's state: the views read the config, the latest snapshot, the history, the knob
    /// change markers and the region map, and report failed exports as notices.
    ui: Ui,
    /// Sends the session a card's "try this" (its knobs, and a restart where it needs one).
    send: Callback<Cmd>,
) -> impl IntoView {
    let canvases = Canvases::new();
    let compare = Memo::new(move |_| ui.cfg_b.with(Option::is_some));
    // Bumped when a chart's box changes size: every chart refits its canvas.
    let redraw = RwSignal::new(0u32);
    let dataset = Memo::new(move |_| ui.cfg.with(|c| c.dataset));
    let cf = Memo::new(move |_| ui.cfg.with(|c| c.capacity_factor));
    // Presentation mode: larger text in the charts, fewer heatmap rows; redraw on the switch.
    Effect::new(move |_| {
        set_chart_scale(ui.present.get());
        // After the cards' visibility has changed in the page, so they fit their new width.
        request_animation_frame(move || redraw.update(|n| *n += 1));
    });
    Effect::new(move |_| {
        redraw.track();
        draw_snapshots(ui, canvases, compare.get_untracked());
    });
    Effect::new(move |_| {
        redraw.track();
        let cf = cf.get();
        if let (Some(c), Some(s)) = (canvases.get(Chart::DropCurve), ui.snap.get()) {
            draw::drop_curve(c, &s, cf);
        }
    });
    Effect::new(move |_| {
        redraw.track();
        let regions = dataset.get() == Dataset::Regions;
        let (Some(c), true) = (canvases.get(Chart::RegionMap), regions) else { return };
        ui.map.with(|m| {
            if let Some(m) = m {
                draw::region_map(c, m);
            }
        });
    });
    // A chart's box resized (the window, the caption band above grew, a caption changed): refit
    // and redraw. A window resize sets the text's scale first (its event comes before the
    // observer's, which redraws a frame later), so it is not redrawn twice.
    request_animation_frame(move || web::on_resize(".plots", move || redraw.update(|n| *n += 1)));
    let _ = window_event_listener(leptos::ev::resize, move |_| set_chart_scale(ui.present.get_untracked()));

    let png = SavePng::new(move |(node, name): (NodeRef<html::Canvas>, &'static str)| {
        if let Some(c) = node.get_untracked() {
            let step = ui.step.get_untracked();
            if let Err(e) = web::download_canvas(&c, &format!("moe-{name}-step{step}.png")) {
                ui.notice.set(Some(format!("export failed: {e}")));
            }
        }
    });
    let shared = Shared {
        canvases,
        png,
        compare: compare.into(),
        dataset,
        // "A: α = 0.01" / "B: α = 0" over the side-by-side canvases (empty with compare mode off).
        labels: Memo::new(move |_| {
            ui.cfg_b.with(|b| b.as_ref().map(|b| ui.cfg.with(|a| diff_label(a, b))).unwrap_or_default())
        }),
        // The cards shown in presentation mode.
        focus: Memo::new(move |_| ui.focus.with(|f| focused_cards(f))),
        send,
    };
    view! {
        <main class="views">
            {CARDS.iter().map(|card| view! { <CardView ui=ui card=card shared=shared /> }).collect_view()}
        </main>
    }
}

/// What every card of [`Views`] reads besides the page's state.
#[derive(Clone, Copy)]
struct Shared {
    /// Every card's canvases, by what they draw.
    canvases: Canvases,
    /// Saves a canvas as PNG.
    png: SavePng,
    /// Compare mode is on.
    compare: Signal<bool>,
    /// The data set (a card may be shown for one data set only).
    dataset: Memo<Dataset>,
    /// Compare mode's run labels, A's and B's (empty with compare mode off).
    labels: Memo<(String, String)>,
    /// The cards presentation mode shows.
    focus: Memo<Vec<CardId>>,
    /// Sends the session a card's "try this".
    send: Callback<Cmd>,
}

/// One card of [`Views`]: its [`ChartCard`] with its canvases, hidden for other data sets than its
/// own and in presentation mode unless focused, and its notes (the router's, compare mode's).
#[component]
fn CardView(
    /// The page's state: the router (its note), presentation mode and the highlight.
    ui: Ui,
    /// The card's row of the cards' table.
    card: &'static Card,
    /// The canvases, the PNG export, compare mode and its labels, the data set and the focus.
    shared: Shared,
) -> impl IntoView {
    let Shared { canvases, png, compare: on, dataset, labels, focus, send } = shared;
    let plots = card
        .plots
        .iter()
        .map(|spec| {
            let (a, b) = (spec.chart.run_a(), spec.chart.run_b());
            let label = move || labels.with(|l| if b { l.1.clone() } else { l.0.clone() });
            let label = (a || b).then(|| Signal::derive(label));
            Plot { spec, node: canvases.node(spec.chart), label, shown: b.then_some(on) }
        })
        .collect();
    let hidden = Signal::derive(move || {
        let other_data = card.only_for.is_some_and(|d| dataset.get() != d);
        other_data || (ui.present.get() && !focus.with(|f| f.contains(&card.id)))
    });
    let wide = if card.wide_in_compare() { on } else { Signal::from(false) };
    let words = Signal::derive(move || CardWords::of(ui.lesson.get().and_then(crate::lessons::find), card.id));
    let lesson = Signal::derive(move || words.get() != CardWords::Generic);
    let note = card.router_note.map(|n| {
        let text = Signal::derive(move || (n.text)(ui.cfg.get().router.info()));
        view! { <RouterNote testid=n.testid text=text lesson=lesson /> }
    });
    let compare_note = card.compare_note.map(|text| view! { <CompareNote on=on text=text lesson=lesson /> });
    let try_this = crate::hints::hint(card.id).map(|hint| view! { <TryThis ui=ui send=send hint=hint /> });
    let waiting = Signal::derive(move || match card.plots[0].chart.source() {
        Source::Snapshot => ui.snap.with(Option::is_none),
        Source::History => ui.hist.with(Vec::is_empty),
        Source::Map => ui.map.with(Option::is_none),
    });
    view! {
        <ChartCard card=card plots=plots png=png hidden=hidden wide=wide highlight=ui.highlight waiting=waiting
            words=words>
            {try_this}
            {note}
            {compare_note}
        </ChartCard>
    }
}
