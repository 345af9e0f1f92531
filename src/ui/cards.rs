//! The views: one [`ChartCard`] per chart, laid out by [`Views`], which redraws them when a
//! snapshot arrives, a view's knob changes or the window is resized.
use super::{draw, web, Ui};
use crate::config::Dataset;
use crate::model::routers::RouterInfo;
use crate::page::Hist;
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
        Plot { node, testid, size, file, tooltip, button: "PNG" }
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
    /// Under the caption: notes that depend on the knobs.
    #[prop(optional)]
    children: Option<Children>,
) -> impl IntoView {
    let class = match class {
        Some(c) => format!("card {c}"),
        None => "card".to_string(),
    };
    let buttons = plots
        .iter()
        .map(|p| {
            let (node, file) = (p.node, p.file);
            view! { <button class="png" title=p.tooltip on:click=move |_| png.run((node, file))>{p.button}</button> }
        })
        .collect_view();
    let canvas =
        |p: &Plot| view! { <canvas node_ref=p.node data-testid=p.testid width=p.size.0 height=p.size.1></canvas> };
    let canvases = match plots.as_slice() {
        [one] => canvas(one).into_any(),
        many => view! { <div class="pair">{many.iter().map(canvas).collect_view()}</div> }.into_any(),
    };
    view! {
        <article class=class prop:hidden=hidden>
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

/// The charts: region map (for the `regions` data set), routing heatmap, expert load, balance,
/// losses, domains × experts and dropped tokens, each redrawn when a snapshot arrives.
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
    // Bumped on resize: every chart refits its canvas.
    let redraw = RwSignal::new(0u32);
    let dataset = Memo::new(move |_| ui.cfg.with(|c| c.dataset));
    let cf = Memo::new(move |_| ui.cfg.with(|c| c.capacity_factor));
    Effect::new(move |_| {
        redraw.track();
        let Some(s) = ui.snap.get() else { return };
        let ds = ui.cfg.get_untracked().dataset;
        if let Some(c) = heat.get() {
            draw::heatmap(c, &s, ds, 32);
        }
        if let Some(c) = load.get() {
            draw::load(c, &s);
        }
        if let Some(c) = doms.get() {
            draw::domains(c, &s, ds);
        }
        let h = ui.hist.get_untracked();
        let ev = ui.events.get_untracked();
        let pts = |f: fn(&Hist) -> f32| h.iter().map(|p| (p.step, f(p))).collect::<Vec<_>>();
        if let Some(c) = losses.get() {
            // One point per held-out evaluation, at the step it followed.
            let mut held_out: Vec<(f32, f32)> = Vec::new();
            for (step, ce, _) in h.iter().filter_map(|p| p.eval) {
                if held_out.last().map(|l| l.0) != Some(step as f32) {
                    held_out.push((step as f32, ce));
                }
            }
            let mut series = vec![
                ("training CE", RGBColor(0, 114, 178), pts(|p| p.ce)),
                ("held-out CE", RGBColor(0, 0, 0), held_out),
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
            <ChartCard class="wide" title="Region map" png=png hidden=Signal::derive(move || dataset.get() != Dataset::Regions)
                plots=vec![Plot::new(region, "region-map", (880, 490), "region-map", "download the region map as PNG")]
                caption="The plane [−1, 1]² on a 40 × 40 grid, run through the current weights every 2 s. Left: the expert each point is routed to (paler = the router is less sure). Right: the class the model predicts (paler = closer to 50/50), with data points in their true class. Each quadrant has its own rule; watch whether the router learns to split the plane along them." />
            <ChartCard class="tall" title="Routing of probe tokens" png=png
                plots=vec![Plot::new(heat, "heatmap", (460, 570), "routing", "download the routing heatmap as PNG")]
                caption="32 fixed probe inputs (rows) × experts: colour = router probability; the chosen expert is outlined (red first, orange second); a cross marks an assignment dropped over capacity. The stripe shows the input's domain.">
                <RouterNote testid="routing-note" text=note(|r| r.routing_note) />
            </ChartCard>
            <ChartCard title="Expert load" png=png
                plots=vec![Plot::new(load, "load", (460, 250), "load", "download the load chart as PNG")]
                caption="Assignments per expert per step: blue is kept, orange is dropped over capacity; the black line is the capacity C, the green line a fair share T·k/E.">
                <RouterNote testid="load-note" text=note(|r| r.load_note) />
            </ChartCard>
            <ChartCard title="Balance" png=png
                plots=vec![Plot::new(balance, "balance", (460, 230), "balance", "download the balance chart as PNG")]
                caption="The busiest expert's share of tokens and the normalised entropy of the load (1 = even). Switch the balance loss off and watch one or two experts take over. Dashed lines mark knob changes." />
            <ChartCard title="Losses" png=png
                plots=vec![Plot::new(losses, "losses", (460, 230), "losses", "download the loss chart as PNG")]
                caption="Cross-entropy on the batches being trained on (blue) and on the held-out examples the model never trains on (black, measured every few hundred steps; the gap is what it memorised rather than learned). The balance loss aux is 1 for a perfectly even load; it is trained only with the balance loss on. The router z-loss joins when β > 0." />
            <ChartCard title="Domains × experts" png=png
                plots=vec![Plot::new(doms, "domains", (460, 174), "domains", "download the domain matrix as PNG")]
                caption="Each row is one domain's share of choices per expert. Specialisation shows as one bright cell per row." />
            <ChartCard title="Expert similarity" png=png
                plots=vec![Plot::new(similarity, "similarity", (460, 230), "similarity", "download the expert similarity chart as PNG")]
                caption="How alike the experts are: the mean cosine similarity, over every pair of experts, of their weights (W1, b1, W2, b2 as one vector). Random experts sit near 0; upcycled ones start at 1 and drift apart as they specialise." />
            <ChartCard class="wide" title="Dropped tokens" png=png
                plots=vec![
                    Plot::new(drops, "drops", (440, 220), "drops", "download the drops-over-time chart as PNG"),
                    Plot::new(drops_cf, "drops-cf", (440, 220), "drops-vs-cf", "download the drops-vs-capacity chart as PNG")
                        .button("PNG ·cf"),
                ]
                caption="Left: the share of assignments dropped because their expert was full (they skip the expert and ride the residual stream) over training. Right: the share that would be dropped at each capacity factor for the router's current load, against an evenly balanced router; the dot is the current cf.">
                <RouterNote testid="drops-note" text=note(|r| r.drops_note) />
            </ChartCard>
        </main>
    }
}
