//! The views: one [`ChartCard`] per chart, laid out by [`Views`], which redraws them when a
//! snapshot arrives, a view's knob changes or the window is resized. In compare mode the time
//! charts overlay runs A and B in two colours, and the routing, load and domain views show B's
//! canvas beside A's, each labelled with what differs.
//!
//! Each card has an id (`data-card`, [`crate::page::CARD_IDS`]): in presentation mode only the
//! cards of `ui.focus` are shown ([`crate::page::focused_cards`]), and the card of `ui.highlight`
//! is outlined in both modes; the charts redraw when presentation mode is switched.
use super::{draw, web, Ui};
use crate::config::Dataset;
use crate::model::routers::RouterInfo;
use crate::page::{diff_label, focused_cards, Hist};
use crate::palette::{RUN_A, RUN_B};
use leptos::html;
use leptos::prelude::*;
use plotters::style::RGBColor;

/// One canvas of a [`ChartCard`], with the PNG button that saves it.
#[derive(Clone, Copy)]
pub struct Plot {
    /// The canvas, for the drawing effects.
    pub node: NodeRef<html::Canvas>,
    /// Its `data-testid`.
    pub testid: &'static str,
    /// The drawing buffer's size until the first draw fits it to the layout (width, height).
    pub size: (u32, u32),
    /// The PNG's file name is `moe-{file}-step{N}.png`.
    pub file: &'static str,
    /// The PNG button's tooltip.
    pub tooltip: &'static str,
    /// The PNG button's label.
    pub button: &'static str,
    /// Above the canvas: which run it shows and what differs ("A: α = 0.01"); none while empty.
    pub label: Option<Signal<String>>,
    /// Shown only while true (run B's canvases: in compare mode).
    pub shown: Option<Signal<bool>>,
}

impl Plot {
    /// A canvas with a "PNG" button.
    pub fn new(
        node: NodeRef<html::Canvas>,
        testid: &'static str,
        size: (u32, u32),
        file: &'static str,
        tooltip: &'static str,
    ) -> Plot {
        Plot { node, testid, size, file, tooltip, button: "PNG", label: None, shown: None }
    }
    /// The same with a run label above the canvas.
    pub fn labelled(self, label: Signal<String>) -> Plot {
        Plot { label: Some(label), ..self }
    }
    /// The same, shown (canvas and PNG button) only while `shown` is true.
    pub fn shown_when(self, shown: Signal<bool>) -> Plot {
        Plot { shown: Some(shown), ..self }
    }
    /// The same with another label on its button.
    pub fn button(self, button: &'static str) -> Plot {
        Plot { button, ..self }
    }
}

/// What a PNG button does: save its canvas as `moe-{file}-step{N}.png`.
pub type SavePng = Callback<(NodeRef<html::Canvas>, &'static str)>;

/// A chart card: its title with one PNG button per canvas, the canvas (two side by side in a
/// `.pair`), the caption, and what the caller puts under it (a [`RouterNote`]).
#[component]
pub fn ChartCard(
    /// The card's id, rendered as `data-card` (one of [`crate::page::CARD_IDS`]).
    id: &'static str,
    /// The card's heading.
    title: &'static str,
    /// Its canvases: one, or two side by side.
    plots: Vec<Plot>,
    /// What the chart shows, in a sentence or three under it.
    caption: &'static str,
    /// Saves a canvas as PNG (the PNG buttons).
    png: SavePng,
    /// A layout class besides `card`: `wide` spans the whole row, `tall` two rows.
    #[prop(optional)]
    class: Option<&'static str>,
    /// Hides the whole card while true.
    #[prop(optional, into)]
    hidden: Signal<bool>,
    /// While true the card spans the whole row instead of its `class` (compare mode's canvases
    /// side by side).
    #[prop(optional, into)]
    wide: Signal<bool>,
    /// The highlighted card's id: this card is outlined (class `highlight`) while it is `id`.
    #[prop(optional, into)]
    highlight: Signal<Option<&'static str>>,
    /// Under the caption: notes that depend on the knobs.
    #[prop(optional)]
    children: Option<Children>,
) -> impl IntoView {
    let lit = move || highlight.get() == Some(id);
    let class = move || {
        let base = match (wide.get(), class) {
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
    // A plot with `shown` (run B's) is only in the page while it is true.
    let only_while = |shown: Option<Signal<bool>>, v: Box<dyn Fn() -> AnyView + Send + Sync>| match shown {
        None => v(),
        Some(s) => view! { <Show when=move || s.get()>{v()}</Show> }.into_any(),
    };
    let buttons = plots
        .iter()
        .map(|p| {
            let (node, file, tooltip, button) = (p.node, p.file, p.tooltip, p.button);
            only_while(
                p.shown,
                Box::new(move || {
                    view! { <button class="png" title=tooltip on:click=move |_| png.run((node, file))>{button}</button> }
                        .into_any()
                }),
            )
        })
        .collect_view();
    let canvas = move |p: &Plot| {
        let (node, testid, size) = (p.node, p.testid, p.size);
        let c = move || view! { <canvas node_ref=node data-testid=testid width=size.0 height=size.1></canvas> };
        let Some(label) = p.label else { return only_while(p.shown, Box::new(move || c().into_any())) };
        only_while(
            p.shown,
            Box::new(move || {
                view! {
                    <figure class="run">
                        <figcaption class="run-label" prop:hidden=move || label.with(String::is_empty)>{move || label.get()}</figcaption>
                        {c()}
                    </figure>
                }
                .into_any()
            }),
        )
    };
    let canvases = match plots.as_slice() {
        [one] => canvas(one).into_any(),
        many => view! { <div class="pair">{many.iter().map(canvas).collect_view()}</div> }.into_any(),
    };
    view! {
        <article class=class data-card=id prop:hidden=hidden aria-current=move || lit().then_some("true")>
            <header><h2>{title}</h2>{buttons}</header>
            {canvases}
            <p class="caption">{caption}</p>
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
) -> impl IntoView {
    view! {
        <p class="caption router-note" data-testid=testid prop:hidden=move || text.get().is_empty()>{move || text.get()}</p>
    }
}

/// How much larger the charts draw text, legends and rows in presentation mode.
const PRESENT_SCALE: f32 = 1.75;
/// Probe rows of the routing heatmap in presentation mode (32 otherwise): larger rows, same height.
const PRESENT_ROWS: usize = 12;

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
/// (dashed); the busiest expert's share; dropped assignments; the experts' similarity.
fn draw_runs(
    runs: [&[Hist]; 2],
    ev: &[draw::Event],
    losses: Option<web_sys::HtmlCanvasElement>,
    balance: Option<web_sys::HtmlCanvasElement>,
    drops: Option<web_sys::HtmlCanvasElement>,
    similarity: Option<web_sys::HtmlCanvasElement>,
) {
    let color = |i: usize| {
        let (r, g, b) = [RUN_A, RUN_B][i];
        RGBColor(r, g, b)
    };
    let pts = |h: &[Hist], f: fn(&Hist) -> Option<f32>| h.iter().filter_map(|p| f(p).map(|v| (p.step, v))).collect();
    let per_run = |names: [&'static str; 2], f: fn(&Hist) -> Option<f32>| -> Vec<draw::Series<'static>> {
        (0..2).map(|i| (names[i], color(i), pts(runs[i], f))).collect()
    };
    if let Some(c) = losses {
        let mut series = Vec::new();
        for (i, name) in [("A training", "A held-out"), ("B training", "B held-out")].into_iter().enumerate() {
            series.push((name.0, color(i), pts(runs[i], |p| Some(p.ce))));
            series.push((name.1, color(i), held_out(runs[i])));
        }
        draw::lines_dashed(c, &series, &[false, true, false, true], 0.0, None, ev);
    }
    if let Some(c) = balance {
        draw::lines(c, &per_run(["A max share", "B max share"], |p| Some(p.max_share)), 0.0, Some(1.05), ev);
    }
    if let Some(c) = drops {
        let series = per_run(["A dropped assignments", "B dropped assignments"], |p| Some(p.dropped));
        draw::lines(c, &series, 0.0, Some(1.05), ev);
    }
    if let Some(c) = similarity {
        let series = per_run(["A expert similarity", "B expert similarity"], |p| p.expert_similarity);
        draw::lines(c, &series, -0.2, Some(1.05), ev);
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
) -> impl IntoView {
    view! { <p class="caption compare-note" prop:hidden=move || !on.get()>{text}</p> }
}

/// The charts: region map (for the `regions` data set), routing heatmap, expert load, balance,
/// losses, domains × experts and dropped tokens, each redrawn when a snapshot arrives. In compare
/// mode the time charts overlay both runs and run B's routing, load and domains stand beside A's.
#[component]
pub fn Views(
    /// The page's state: the views read the config, the latest snapshot, the history, the knob
    /// change markers and the region map, and report failed exports as notices.
    ui: Ui,
) -> impl IntoView {
    let heat: NodeRef<html::Canvas> = NodeRef::new();
    let load: NodeRef<html::Canvas> = NodeRef::new();
    let losses: NodeRef<html::Canvas> = NodeRef::new();
    let balance: NodeRef<html::Canvas> = NodeRef::new();
    let drops: NodeRef<html::Canvas> = NodeRef::new();
    let drops_cf: NodeRef<html::Canvas> = NodeRef::new();
    let doms: NodeRef<html::Canvas> = NodeRef::new();
    let region: NodeRef<html::Canvas> = NodeRef::new();
    let similarity: NodeRef<html::Canvas> = NodeRef::new();
    let logits: NodeRef<html::Canvas> = NodeRef::new();
    let heat_b: NodeRef<html::Canvas> = NodeRef::new();
    let load_b: NodeRef<html::Canvas> = NodeRef::new();
    let doms_b: NodeRef<html::Canvas> = NodeRef::new();
    let compare = Memo::new(move |_| ui.cfg_b.with(Option::is_some));
    // "A: α = 0.01" / "B: α = 0" over the side-by-side canvases (empty with compare mode off).
    let labels = Memo::new(move |_| {
        ui.cfg_b.with(|b| b.as_ref().map(|b| ui.cfg.with(|a| diff_label(a, b))).unwrap_or_default())
    });
    let label_a = Signal::derive(move || labels.with(|l| l.0.clone()));
    let label_b = Signal::derive(move || labels.with(|l| l.1.clone()));
    let on = Signal::from(compare);
    // Bumped on resize: every chart refits its canvas.
    let redraw = RwSignal::new(0u32);
    let dataset = Memo::new(move |_| ui.cfg.with(|c| c.dataset));
    let cf = Memo::new(move |_| ui.cfg.with(|c| c.capacity_factor));
    // Presentation mode: larger text in the charts, fewer heatmap rows; redraw on the switch.
    Effect::new(move |_| {
        draw::set_scale(if ui.present.get() { PRESENT_SCALE } else { 1.0 });
        // After the cards' visibility has changed in the page, so they fit their new width.
        request_animation_frame(move || redraw.update(|n| *n += 1));
    });
    // The cards shown in presentation mode.
    let focus = Memo::new(move |_| ui.focus.with(|f| focused_cards(f)));
    let hide = move |id: &'static str| ui.present.get() && !focus.with(|f| f.contains(&id));
    Effect::new(move |_| {
        redraw.track();
        let snap_b = ui.snap_b.get();
        let Some(s) = ui.snap.get() else { return };
        let ds = ui.cfg.get_untracked().dataset;
        let both = compare.get_untracked();
        for (snap, heat, load, doms) in
            [(Some(&s), heat, load, doms), (snap_b.as_ref().filter(|_| both), heat_b, load_b, doms_b)]
        {
            let Some(s) = snap else { continue };
            if let Some(c) = heat.get() {
                draw::heatmap(c, s, ds, if ui.present.get_untracked() { PRESENT_ROWS } else { 32 });
            }
            if let Some(c) = load.get() {
                draw::load(c, s);
            }
            if let Some(c) = doms.get() {
                draw::domains(c, s, ds);
            }
        }
        let h = ui.hist.get_untracked();
        let ev = ui.events.get_untracked();
        if both {
            let hb = ui.hist_b.get_untracked();
            draw_runs([&h, &hb], &ev, losses.get(), balance.get(), drops.get(), similarity.get());
            if let Some(c) = logits.get() {
                let series: Vec<draw::Series> = [("A", &h), ("B", &hb)]
                    .into_iter()
                    .zip([RUN_A, RUN_B])
                    .map(|((name, h), (r, g, b))| (name, RGBColor(r, g, b), logit_size(h)))
                    .collect();
                draw::lines(c, &series, 0.0, None, &ev);
            }
            return;
        }
        let pts = |f: fn(&Hist) -> f32| h.iter().map(|p| (p.step, f(p))).collect::<Vec<_>>();
        if let Some(c) = losses.get() {
            let mut series = vec![
                ("training CE", RGBColor(0, 114, 178), pts(|p| p.ce)),
                ("held-out CE", RGBColor(0, 0, 0), held_out(&h)),
                ("balance aux", RGBColor(213, 94, 0), pts(|p| p.aux)),
            ];
            if ui.cfg.with_untracked(|c| c.beta > 0.0) {
                series.push(("z-loss", RGBColor(0, 158, 115), pts(|p| p.z)));
            }
            draw::lines(c, &series, 0.0, None, &ev);
        }
        if let Some(c) = balance.get() {
            draw::lines(
                c,
                &[
                    ("max share", RGBColor(213, 94, 0), pts(|p| p.max_share)),
                    ("entropy (normalised)", RGBColor(0, 114, 178), pts(|p| p.entropy)),
                ],
                0.0,
                Some(1.05),
                &ev,
            );
        }
        if let Some(c) = logits.get() {
            draw::lines(c, &[("router logit size", RGBColor(0, 158, 115), logit_size(&h))], 0.0, None, &ev);
        }
        if let Some(c) = similarity.get() {
            let sim: Vec<(f32, f32)> = h.iter().filter_map(|p| p.expert_similarity.map(|v| (p.step, v))).collect();
            draw::lines(c, &[("expert similarity", RGBColor(0, 114, 178), sim)], -0.2, Some(1.05), &ev);
        }
        if let Some(c) = drops.get() {
            // Expert choice drops nothing; what it leaves out are the tokens no expert picked.
            let picks = ui.cfg.with_untracked(|c| c.router.info().all_experts && c.router.info().capacity);
            let first =
                if picks { "unrouted tokens (no expert picked them)" } else { "tokens with every choice dropped" };
            let mut series = vec![
                (first, RGBColor(86, 180, 233), pts(|p| p.all_dropped)),
                ("dropped assignments", RGBColor(204, 121, 167), pts(|p| p.dropped)),
            ];
            // Random drops (GShard top-2) apart from the total, whenever there have been any.
            if h.iter().any(|p| p.random_dropped > 0.0) {
                series.push(("at random", RGBColor(230, 159, 0), pts(|p| p.random_dropped)));
            }
            draw::lines(c, &series, 0.0, Some(1.05), &ev);
        }
    });
    Effect::new(move |_| {
        redraw.track();
        let cf = cf.get();
        if let (Some(c), Some(s)) = (drops_cf.get(), ui.snap.get()) {
            draw::drop_curve(c, &s, cf);
        }
    });
    Effect::new(move |_| {
        redraw.track();
        let regions = dataset.get() == Dataset::Regions;
        let (Some(c), true) = (region.get(), regions) else { return };
        ui.map.with(|m| {
            if let Some(m) = m {
                draw::region_map(c, m);
            }
        });
    });
    let _ = window_event_listener(leptos::ev::resize, move |_| redraw.update(|n| *n += 1));

    let png = SavePng::new(move |(node, name): (NodeRef<html::Canvas>, &'static str)| {
        if let Some(c) = node.get_untracked() {
            let step = ui.step.get_untracked();
            if let Err(e) = web::download_canvas(&c, &format!("moe-{name}-step{step}.png")) {
                ui.notice.set(Some(format!("export failed: {e}")));
            }
        }
    });
    let note = move |which: fn(&RouterInfo) -> &'static str| Signal::derive(move || which(ui.cfg.get().router.info()));

    view! {
        <main class="views">
            <ChartCard id="region-map" class="wide" title="Region map" png=png highlight=ui.highlight
                hidden=Signal::derive(move || dataset.get() != Dataset::Regions || hide("region-map"))
                plots=vec![Plot::new(region, "region-map", (880, 490), "region-map", "download the region map as PNG")]
                caption="The plane [−1, 1]² on a 40 × 40 grid, run through the current weights every 2 s. Left: the expert each point is routed to (paler = the router is less sure). Right: the class the model predicts (paler = closer to 50/50), with data points in their true class. Each quadrant has its own rule; watch whether the router learns to split the plane along them.">
                <CompareNote on=on text="Compare mode: this map is run A's." />
            </ChartCard>
            <ChartCard id="heatmap" class="tall" title="Routing of probe tokens" png=png highlight=ui.highlight hidden=Signal::derive(move || hide("heatmap")) wide=on
                plots=vec![
                    Plot::new(heat, "heatmap", (460, 570), "routing", "download the routing heatmap as PNG").labelled(label_a),
                    Plot::new(heat_b, "heatmap-b", (460, 570), "routing-b", "download run B's routing heatmap as PNG")
                        .labelled(label_b).shown_when(on).button("PNG B"),
                ]
                caption="Fixed probe inputs (rows) × experts: colour = router probability; the chosen expert is outlined (red first, orange second); a cross marks an assignment dropped over capacity. The stripe shows the input's domain.">
                <RouterNote testid="routing-note" text=note(|r| r.routing_note) />
                <CompareNote on=on text="Left: run A; right: run B, on the same 32 probe inputs. Where B's colours or outlines differ, the changed knob made its router decide differently." />
            </ChartCard>
            <ChartCard id="load" title="Expert load" png=png highlight=ui.highlight hidden=Signal::derive(move || hide("load")) wide=on
                plots=vec![
                    Plot::new(load, "load", (460, 250), "load", "download the load chart as PNG").labelled(label_a),
                    Plot::new(load_b, "load-b", (460, 250), "load-b", "download run B's load chart as PNG")
                        .labelled(label_b).shown_when(on).button("PNG B"),
                ]
                caption="Assignments per expert per step: blue is kept, orange is dropped over capacity; the black line is the capacity C, the green line a fair share T·k/E.">
                <RouterNote testid="load-note" text=note(|r| r.load_note) />
                <CompareNote on=on text="Left: run A; right: run B. Compare how evenly each spreads its tokens over the experts." />
            </ChartCard>
            <ChartCard id="balance" title="Balance" png=png highlight=ui.highlight hidden=Signal::derive(move || hide("balance"))
                plots=vec![Plot::new(balance, "balance", (460, 230), "balance", "download the balance chart as PNG")]
                caption="The busiest expert's share of tokens and the normalised entropy of the load (1 = even). Switch the balance loss off and watch one or two experts take over. Dashed lines mark knob changes.">
                <CompareNote on=on text="Compare mode: the busiest expert's share in run A (blue) and run B (orange). The higher line is the run whose router leans on fewer experts." />
            </ChartCard>
            <ChartCard id="losses" title="Losses" png=png highlight=ui.highlight hidden=Signal::derive(move || hide("losses"))
                plots=vec![Plot::new(losses, "losses", (460, 230), "losses", "download the loss chart as PNG")]
                caption="Cross-entropy on the batches being trained on (blue) and on the held-out examples the model never trains on (black, measured every few hundred steps; the gap is what it memorised rather than learned). The balance loss aux is 1 for a perfectly even load; it is trained only with the balance loss on. The router z-loss joins when β > 0.">
                <CompareNote on=on text="Compare mode: run A in blue, run B in orange; solid lines are the training batches, dashed lines the held-out examples. The balance and z-losses are left out to keep the two runs readable." />
            </ChartCard>
            <ChartCard id="logits" title="Router logits" png=png highlight=ui.highlight hidden=Signal::derive(move || hide("logits"))
                plots=vec![Plot::new(logits, "logits", (460, 230), "logits", "download the router logits chart as PNG")]
                caption="How large the router's scores (logits) are: the root mean square, over the batch, of logsumexp(logits). Large logits make the softmax all-or-nothing and its rounding errors large; the router z-loss (β > 0) keeps them small.">
                <CompareNote on=on text="Compare mode: run A in blue, run B in orange." />
            </ChartCard>
            <ChartCard id="domains" title="Domains × experts" png=png highlight=ui.highlight hidden=Signal::derive(move || hide("domains")) wide=on
                plots=vec![
                    Plot::new(doms, "domains", (460, 174), "domains", "download the domain matrix as PNG").labelled(label_a),
                    Plot::new(doms_b, "domains-b", (460, 174), "domains-b", "download run B's domain matrix as PNG")
                        .labelled(label_b).shown_when(on).button("PNG B"),
                ]
                caption="Each row is one domain's share of choices per expert. Specialisation shows as one bright cell per row." />
            <ChartCard id="similarity" title="Expert similarity" png=png highlight=ui.highlight hidden=Signal::derive(move || hide("similarity"))
                plots=vec![Plot::new(similarity, "similarity", (460, 230), "similarity", "download the expert similarity chart as PNG")]
                caption="How alike the experts are: the mean cosine similarity, over every pair of experts, of their weights (W1, b1, W2, b2 as one vector). Random experts sit near 0; upcycled ones start at 1 and drift apart as they specialise.">
                <CompareNote on=on text="Compare mode: run A in blue, run B in orange." />
            </ChartCard>
            <ChartCard id="drops" class="wide" title="Dropped tokens" png=png highlight=ui.highlight hidden=Signal::derive(move || hide("drops"))
                plots=vec![
                    Plot::new(drops, "drops", (440, 220), "drops", "download the drops-over-time chart as PNG"),
                    Plot::new(drops_cf, "drops-cf", (440, 220), "drops-vs-cf", "download the drops-vs-capacity chart as PNG")
                        .button("PNG ·cf"),
                ]
                caption="Left: the share of assignments dropped because their expert was full (they skip the expert and ride the residual stream) over training. Right: the share that would be dropped at each capacity factor for the router's current load, against an evenly balanced router; the dot is the current cf.">
                <RouterNote testid="drops-note" text=note(|r| r.drops_note) />
                <CompareNote on=on text="Compare mode: left, the share of assignments dropped in run A (blue) and run B (orange); the curve on the right is run A's." />
            </ChartCard>
        </main>
    }
}
