//! Canvas views drawn with plotters: routing heatmap, per-expert load, line charts, the domain
//! matrix, the region map and the drop-share-vs-capacity-factor curve.
use crate::config::{capacity, Dataset};
use crate::data::{domain_names, regions, tokens, CTX};
use crate::metrics::Snapshot;
use crate::palette;
use crate::regionmap::{cell_center, RegionMap};
use plotters::coord::types::RangedCoordf32;
use plotters::prelude::*;
use plotters_canvas::CanvasBackend;
use web_sys::HtmlCanvasElement;

/// Size the canvas's drawing buffer to its on-screen size and set the scale this drawing uses: the
/// requested one ([`set_scale`]), less on a canvas too narrow for it (320 px per unit of scale).
/// The buffer's width is the canvas's on-screen width (so text keeps its size at any layout
/// width); its height is `height(width)`, or, where the style sheet makes the canvas fill a box
/// (presentation mode on a large screen: `--fill: 1`), the box's height. False when the canvas is
/// not laid out (hidden).
pub fn fit(canvas: &HtmlCanvasElement, height: impl Fn(u32) -> u32) -> bool {
    let w = canvas.client_width();
    if w <= 0 {
        return false;
    }
    let w = w as u32;
    let fill = fills(canvas);
    FILL.with(|f| f.set(fill));
    // Presentation mode's larger text only where the canvas has room for it (not on a phone).
    let wanted = SCALE.with(|s| s.get());
    EFFECTIVE.with(|e| e.set(wanted.min((w as f32 / 320.0).max(1.0))));
    let h = if fill { canvas.client_height().max(40) as u32 } else { height(w).max(40) };
    if canvas.width() != w {
        canvas.set_width(w);
    }
    if canvas.height() != h {
        canvas.set_height(h);
    }
    DRAWN.with(|d| d.set(i32::MAX));
    CURRENT.with(|c| *c.borrow_mut() = Some(canvas.clone()));
    true
}

/// Whether the style sheet sizes `canvas` to fill its box (`--fill: 1`): its height is then the
/// layout's, not the chart's own.
fn fills(canvas: &HtmlCanvasElement) -> bool {
    let style = web_sys::window().and_then(|w| w.get_computed_style(canvas).ok().flatten());
    style.and_then(|s| s.get_property_value("--fill").ok()).is_some_and(|v| v.trim() == "1")
}

/// Whether the chart being drawn fills its box ([`fit`]).
fn filled() -> bool {
    FILL.with(|f| f.get())
}

/// The experts' colours ([`palette::EXPERTS`], Okabe–Ito with grey for black); viridis beyond
/// eight experts.
pub fn expert_color(i: usize, experts: usize) -> RGBColor {
    if experts <= palette::EXPERTS.len() {
        rgb(palette::EXPERTS[i % palette::EXPERTS.len()])
    } else {
        viridis(i as f32 / (experts - 1).max(1) as f32)
    }
}

/// A palette colour for plotters.
fn rgb(c: palette::Rgb) -> RGBColor {
    RGBColor(c.0, c.1, c.2)
}

thread_local! {
    /// How much larger text, legends and rows are drawn: 1 normally, more in presentation mode.
    static SCALE: std::cell::Cell<f32> = const { std::cell::Cell::new(1.0) };
    /// The smallest text drawn, in pixels (presentation mode: 18 on a 1920-wide screen; 0: none).
    static MIN_TEXT: std::cell::Cell<i32> = const { std::cell::Cell::new(0) };
    /// The scale of the chart being drawn ([`fit`] sets it from [`SCALE`] and the canvas width).
    static EFFECTIVE: std::cell::Cell<f32> = const { std::cell::Cell::new(1.0) };
    /// The chart being drawn fills its box ([`fit`]).
    static FILL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// The canvas being drawn, and the smallest text drawn on it so far (its `data-min-text`).
    static CURRENT: std::cell::RefCell<Option<HtmlCanvasElement>> = const { std::cell::RefCell::new(None) };
    static DRAWN: std::cell::Cell<i32> = const { std::cell::Cell::new(i32::MAX) };
}

/// Draw every chart from now on at `scale` times the normal text and row size, and no text under
/// `min_text` pixels (presentation mode; 1 and 0 otherwise).
pub fn set_scale(scale: f32, min_text: i32) {
    SCALE.with(|s| s.set(scale.clamp(0.5, 4.0)));
    MIN_TEXT.with(|m| m.set(min_text.clamp(0, 64)));
}

/// The size of text that is `n` pixels at scale 1: scaled, at least the smallest text. The canvas
/// says the smallest size drawn on it in `data-min-text` (what the end-to-end tests read: its
/// buffer is its on-screen size, so these are screen pixels).
fn text_px(n: i32) -> i32 {
    drawn(sc(n).max(MIN_TEXT.with(|m| m.get())))
}

/// Note text of `px` pixels drawn on the current canvas (its `data-min-text`); returns `px`.
fn drawn(px: i32) -> i32 {
    if px < DRAWN.with(|d| d.get()) {
        DRAWN.with(|d| d.set(px));
        CURRENT.with(|c| {
            if let Some(c) = c.borrow().as_ref() {
                let _ = c.set_attribute("data-min-text", &px.to_string());
            }
        });
    }
    px
}

/// The sans-serif font of text `n` pixels at scale 1 ([`text_px`]).
fn font(n: i32) -> FontDesc<'static> {
    ("sans-serif", text_px(n)).into_font()
}

/// `n` pixels at the scale of the chart being drawn.
fn sc(n: i32) -> i32 {
    (n as f32 * EFFECTIVE.with(|s| s.get())).round() as i32
}

/// `n` pixels at the current scale, unsigned.
fn usc(n: u32) -> u32 {
    sc(n as i32).max(0) as u32
}

/// Blend `c` towards white: `amount` = 1 gives `c`, 0 gives white.
fn tint(c: RGBColor, amount: f32) -> RGBColor {
    let a = amount.clamp(0.0, 1.0);
    let m = |x: u8| (255.0 - (255.0 - x as f32) * a) as u8;
    RGBColor(m(c.0), m(c.1), m(c.2))
}

/// Class colours (Okabe–Ito orange for class 0, blue for class 1), as in TensorFlow Playground.
pub const CLASS_COLORS: [RGBColor; 2] = [RGBColor(230, 159, 0), RGBColor(0, 114, 178)];

/// How a legend entry is drawn.
#[derive(Clone, Copy)]
pub enum Swatch {
    Line(RGBColor),
    Dashed(RGBColor),
    Box(RGBColor),
}

type Area = DrawingArea<CanvasBackend, plotters::coord::Shift>;

/// Mesh labels and axis titles at the current scale (plotters draws them at 12 px by default).
fn axis_font() -> FontDesc<'static> {
    font(12)
}

/// A legend above the plot (so it never hides data): its entries in rows from x = `left` (at
/// scale 1; scaled like the rest), as many rows as they need (none is lost, whatever the text
/// size). Returns the area under it, for the plot.
fn with_legend(root: &Area, left: i32, items: &[(String, Swatch)]) -> Option<Area> {
    let (w, _) = root.dim_in_pixel();
    let (left, w) = (sc(left), w as i32);
    let size = text_px(12);
    let f = ("sans-serif", size).into_font();
    let (sw_w, sw_gap, gap) = (sc(14), sc(18), sc(14));
    let row_h = sc(20).max(size + 8);
    let text_w = |label: &str| root.estimate_text_size(label, &f.clone().into()).map(|s| s.0 as i32);
    // Each entry's (x, row): a new row where the next entry would run past the right edge.
    let mut at = Vec::with_capacity(items.len());
    let (mut x, mut row) = (left, 0);
    for (label, _) in items {
        let tw = text_w(label).unwrap_or(6 * label.len() as i32);
        if x > left && x + sw_gap + tw > w {
            (x, row) = (left, row + 1);
        }
        at.push((x, row));
        x += sw_gap + tw + gap;
    }
    let rows = at.last().map_or(0, |a| a.1 + 1);
    let (head, plot) = root.split_vertically((rows * row_h) as u32);
    let stroke = usc(2);
    for ((label, sw), &(x, row)) in items.iter().zip(&at) {
        let y = row * row_h + row_h / 2;
        match *sw {
            Swatch::Line(c) => {
                head.draw(&PathElement::new(vec![(x, y), (x + sw_w, y)], c.stroke_width(stroke))).ok()?
            }
            Swatch::Dashed(c) => {
                head.draw(&PathElement::new(vec![(x, y), (x + sc(5), y)], c.stroke_width(stroke))).ok()?;
                head.draw(&PathElement::new(vec![(x + sc(9), y), (x + sw_w, y)], c.stroke_width(stroke))).ok()?
            }
            Swatch::Box(c) => {
                head.draw(&Rectangle::new([(x + sc(2), y - sc(5)), (x + sc(12), y + sc(5))], c.filled())).ok()?
            }
        }
        head.draw(&Text::new(label.clone(), (x + sw_gap, y - size * 7 / 12), f.clone())).ok()?;
    }
    Some(plot)
}

/// Colour-blind-safe viridis scale, t in [0, 1] ([`palette::viridis`]).
pub fn viridis(t: f32) -> RGBColor {
    rgb(palette::viridis(t))
}

/// Domain colours (Okabe–Ito).
pub const DOMAIN_COLORS: [RGBColor; 4] =
    [RGBColor(230, 159, 0), RGBColor(86, 180, 233), RGBColor(0, 158, 115), RGBColor(204, 121, 167)];

/// One line per series: (label, colour, points).
pub type Series<'a> = (&'a str, RGBColor, Vec<(f32, f32)>);

/// The label of probe row `t`: the context and the target character (tokens) or the point (regions).
pub fn row_label(s: &Snapshot, dataset: Dataset, t: usize) -> String {
    let p = &s.probe;
    match dataset {
        Dataset::Tokens => {
            let ctx: String = p.inputs[t * CTX..(t + 1) * CTX].iter().map(|&i| tokens::char_of(i)).collect();
            format!("{ctx}→{}", tokens::char_of(p.targets[t]))
        }
        Dataset::Regions => {
            let (x, y) = (f32::from_bits(p.inputs[t * CTX]), f32::from_bits(p.inputs[t * CTX + 1]));
            format!("({x:+.2},{y:+.2})")
        }
    }
}

/// Routing heatmap: probe rows × experts, colour = router probability (the fixed 0–1 scale, so runs
/// A and B compare as drawn), chosen experts outlined, dropped assignments struck through, a domain
/// stripe on the left.
pub fn heatmap(canvas: HtmlCanvasElement, s: &Snapshot, dataset: Dataset, rows: usize) -> Option<()> {
    let p = &s.probe;
    let (e, k) = (p.experts, p.k);
    // Tokens: the first `rows` consecutive positions (running text). Regions: the probe holds 16
    // points per quadrant in order, so take every other one to show all four quadrants.
    let pick = |rows: usize| -> Vec<usize> {
        let stride = if dataset == Dataset::Regions { p.rows.div_ceil(rows.max(1)).max(1) } else { 1 };
        (0..p.rows).step_by(stride).take(rows).collect()
    };
    color_scale(&canvas);
    fit(&canvas, |_| usc(22) + pick(rows).len() as u32 * usc(17) + 4);
    let top = sc(22).max(text_px(12) + 10);
    // Filling a box: as many rows as fit with their labels at full size (at most `rows`).
    let rows = if filled() {
        rows.min(((canvas.height() as i32 - top - 4) / (text_px(13) + 6)).max(4) as usize)
    } else {
        rows
    };
    let idx = pick(rows);
    let shown = idx.len();
    // What is drawn, for tests and screen readers: k, rows shown, outlined cells, dropped cells.
    let _ = canvas.set_attribute("data-k", &k.to_string());
    let _ = canvas.set_attribute("data-rows", &shown.to_string());
    // Outlined: the assignments made (expert choice: the experts that picked the row; the dense
    // mixture takes every expert, so nothing is outlined).
    let picked = |a: usize| p.picked.get(a).copied().unwrap_or(true);
    let every = k == e && idx.iter().all(|&t| (0..k).all(|r| picked(t * k + r)));
    let outline = |a: usize| picked(a) && !every;
    let outlined = idx.iter().flat_map(|&t| (0..k).map(move |r| t * k + r)).filter(|&a| outline(a)).count();
    let _ = canvas.set_attribute("data-outlined", &outlined.to_string());
    let dropped = idx.iter().flat_map(|&t| (0..k).map(move |r| t * k + r)).filter(|&a| p.dropped[a]).count();
    let _ = canvas.set_attribute("data-dropped", &dropped.to_string());
    let root = CanvasBackend::with_canvas_object(canvas)?.into_drawing_area();
    root.fill(&WHITE).ok()?;
    let (w, h) = root.dim_in_pixel();
    let ch = ((h as i32 - top - 4) / shown.max(1) as i32).max(4);
    let fs = drawn((ch - 2).clamp(8, text_px(13)));
    let font = ("monospace", fs).into_font();
    let longest = idx.iter().map(|&t| row_label(s, dataset, t).chars().count()).max().unwrap_or(8) as i32;
    let left = sc(10) + longest * (fs * 62 / 100 + 1) + 6;
    let cw = ((w as i32 - left - 8) / e as i32).max(4);
    let wide = cw >= sc(22);
    let head_px = if wide { text_px(12) } else { text_px(9) };
    let head = ("sans-serif", head_px).into_font();
    for i in 0..e {
        let x = left + i as i32 * cw;
        let label = format!("E{i}");
        let tw = label.len() as i32 * head_px * 58 / 100;
        if cw >= tw + 4 || i % 4 == 0 {
            root.draw(&Text::new(label, (x + cw / 2 - tw / 2, 2), head.clone())).ok()?;
        }
        root.draw(&Rectangle::new([(x + 1, top - sc(6)), (x + cw - 2, top - 3)], expert_color(i, e).filled())).ok()?;
    }
    for (row, &t) in idx.iter().enumerate() {
        let y = top + row as i32 * ch;
        let dom = (p.domains[t] as usize).min(3);
        root.draw(&Rectangle::new([(0, y), (sc(6), y + ch - 1)], DOMAIN_COLORS[dom].filled())).ok()?;
        root.draw(&Text::new(row_label(s, dataset, t), (sc(10), y + 1), font.clone())).ok()?;
        for i in 0..e {
            let x = left + i as i32 * cw;
            let prob = p.probs[t * e + i];
            root.draw(&Rectangle::new([(x, y), (x + cw - 1, y + ch - 1)], viridis(prob).filled())).ok()?;
        }
        for r in 0..k {
            if !outline(t * k + r) {
                continue;
            }
            let i = p.topk[t * k + r] as i32;
            let x = left + i * cw;
            // Ranks are best-first for token choice; with a rank per expert (expert choice) they
            // are expert order, so every pick is drawn alike.
            let color = if r == 0 && k < e { RGBColor(220, 20, 60) } else { RGBColor(255, 140, 0) };
            root.draw(&Rectangle::new([(x, y), (x + cw - 2, y + ch - 2)], color.stroke_width(usc(2)))).ok()?;
            if p.dropped[t * k + r] {
                root.draw(&PathElement::new(vec![(x, y + ch - 2), (x + cw - 2, y)], BLACK.stroke_width(usc(2))))
                    .ok()?;
            }
        }
    }
    root.present().ok()
}

/// What the load chart draws, per step: each expert's kept and chosen assignments (the routed
/// experts', then the shared experts' at every token), the fair share and the capacity.
struct LoadBars {
    /// Routed experts (the first bars).
    routed: usize,
    /// Shared experts (the last bars; 0 with them off).
    shared: usize,
    kept: Vec<f32>,
    chosen: Vec<f32>,
    /// A fair share of the routed assignments (T·k/E for token choice; C with expert choice).
    fair: f32,
    /// The capacity C, and whether it caps anything (C below the tokens).
    cap: f32,
    capped: bool,
    /// The y axis's top.
    ymax: f32,
}

impl LoadBars {
    fn of(s: &Snapshot) -> LoadBars {
        let routed = s.choices.len();
        // Shared experts after the routed ones: every token, every step (none with the experts off).
        let shared = s.shared as usize;
        let steps = s.steps.max(1) as f32;
        let full = if s.capacity > 0 { s.tokens as f32 } else { 0.0 };
        let kept: Vec<f32> = s.kept.iter().map(|&v| v as f32 / steps).chain((0..shared).map(|_| full)).collect();
        let chosen: Vec<f32> = s.choices.iter().map(|&v| v as f32 / steps).chain((0..shared).map(|_| full)).collect();
        let fair = chosen[..routed].iter().sum::<f32>() / routed.max(1) as f32;
        let cap = s.capacity as f32;
        let capped = cap < s.tokens as f32;
        let ymax = chosen.iter().cloned().fold(if capped { cap.max(fair) } else { fair }, f32::max) * 1.1 + 1.0;
        LoadBars { routed, shared, kept, chosen, fair, cap, capped, ymax }
    }

    /// All bars: routed and shared experts.
    fn experts(&self) -> usize {
        self.routed + self.shared
    }
}

const LOAD_BLUE: RGBColor = RGBColor(0, 114, 178);
const LOAD_GREEN: RGBColor = RGBColor(0, 158, 115);
const LOAD_GREY: RGBColor = RGBColor(120, 120, 120);

/// The load chart's legend, over the area it returns for the chart.
fn load_legend(root: &Area, s: &Snapshot, bars: &LoadBars) -> Option<Area> {
    let mut items = vec![
        ("kept".to_string(), Swatch::Box(LOAD_BLUE)),
        ("dropped".to_string(), Swatch::Box(RGBColor(242, 207, 186))),
        ("fair share".to_string(), Swatch::Line(LOAD_GREEN)),
    ];
    if bars.shared > 0 {
        items.push(("shared (every token)".to_string(), Swatch::Box(LOAD_GREY)));
    }
    if bars.capped {
        items.insert(2, (format!("capacity C = {}", s.capacity), Swatch::Line(BLACK)));
    }
    with_legend(root, 48, &items)
}

/// The load chart's x label at `v`: `E{i}` for every `every`-th routed expert, `S{i}` for a shared
/// one, nothing between bars.
fn expert_label(v: f32, routed: usize, experts: usize, every: usize) -> String {
    let i = v.round();
    if (v - i).abs() < 0.01 && i >= 0.0 && (i as usize) >= routed && (i as usize) < experts {
        format!("S{}", i as usize - routed)
    } else if (v - i).abs() < 0.01 && i >= 0.0 && (i as usize) < experts && (i as usize).is_multiple_of(every) {
        format!("E{}", i as usize)
    } else {
        String::new()
    }
}

type LoadChart<'a> = ChartContext<'a, CanvasBackend, Cartesian2d<RangedCoordf32, RangedCoordf32>>;

/// The aux-free router's bias, printed over each routed expert's bar (it raises an underloaded
/// expert's score and lowers an overloaded one's); nothing without a bias or with over 16 experts.
fn load_bias(chart: &mut LoadChart, s: &Snapshot, bars: &LoadBars) -> Option<()> {
    if s.bias.iter().all(|&b| b == 0.0) || bars.routed > 16 {
        return Some(());
    }
    let style = font(10).color(&RGBColor(80, 40, 120));
    // Enough decimals to show the first steps of γ = 1e-3.
    let prec = if s.bias.iter().any(|b| b.abs() >= 0.1) { 2 } else { 3 };
    let (chosen, ymax) = (&bars.chosen, bars.ymax);
    chart
        .draw_series((0..bars.routed).map(|i| {
            Text::new(format!("{:+.prec$}", s.bias[i]), (i as f32 - 0.38, chosen[i] + ymax * 0.06), style.clone())
        }))
        .ok()?;
    Some(())
}

/// The load chart's y-axis top for snapshot `s` on its own: above its tallest bar and its capacity
/// and fair-share lines. Compare mode draws runs A and B up to the larger of theirs ([`load`]).
pub fn load_top(s: &Snapshot) -> f32 {
    LoadBars::of(s).ymax
}

/// Per-expert load: kept and dropped assignments per step against the capacity and fair-share
/// lines, the y axis up to `shared` (compare mode: both runs' [`load_top`]) or its own top. The
/// canvas says the top it drew with in `data-y-max` (from 0), and its own top in `data-y-own`.
pub fn load(canvas: HtmlCanvasElement, s: &Snapshot, shared: Option<f32>) -> Option<()> {
    fit(&canvas, |w| (w * 11 / 20).clamp(usc(200), usc(320)));
    let el = canvas.clone();
    let root = CanvasBackend::with_canvas_object(canvas)?.into_drawing_area();
    root.fill(&WHITE).ok()?;
    let mut bars = LoadBars::of(s);
    let own = bars.ymax;
    bars.ymax = shared.map_or(own, |y| y.max(own));
    let (routed, e, ymax) = (bars.routed, bars.experts(), bars.ymax);
    let plot = load_legend(&root, s, &bars)?;
    let mut chart = ChartBuilder::on(&plot)
        .margin(sc(6))
        .x_label_area_size(sc(22).max(text_px(12) + 8))
        .y_label_area_size(sc(44).max(text_px(12) * 3))
        .build_cartesian_2d(-0.5f32..e as f32 - 0.5, 0f32..ymax)
        .ok()?;
    // Every expert labelled where there is room for "E10"; every other, every fourth… where not.
    let (pw, _) = plot.dim_in_pixel();
    let fits = (pw as i32 / (text_px(12) * 2).max(1)).max(1) as usize;
    let every = e.div_ceil(16.min(fits)).max(1);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .label_style(axis_font())
        .axis_desc_style(axis_font())
        .light_line_style(RGBColor(236, 236, 236))
        .x_labels(e + 1)
        .y_labels(((plot.dim_in_pixel().1 as i32 / (text_px(12) * 5 / 2)).clamp(3, 10)) as usize)
        .x_label_formatter(&|v| expert_label(*v, routed, e, every))
        .y_desc("per step")
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()
        .ok()?;
    let orange = RGBColor(213, 94, 0).mix(0.35);
    let bar = |i: usize, top: f32| [(i as f32 - 0.4, 0.0), (i as f32 + 0.4, top)];
    chart.draw_series((0..e).map(|i| Rectangle::new(bar(i, bars.chosen[i]), orange.filled()))).ok()?;
    chart
        .draw_series((0..e).map(|i| {
            let c = if i < routed { LOAD_BLUE } else { LOAD_GREY };
            Rectangle::new(bar(i, bars.kept[i]), c.filled())
        }))
        .ok()?;
    // The capacity and fair-share lines span the routed experts only.
    let end = routed as f32 - 0.5;
    if bars.shared > 0 {
        chart.draw_series(LineSeries::new(vec![(end, 0.0), (end, ymax)], LOAD_GREY.stroke_width(1))).ok()?;
    }
    if bars.capped {
        let cap = bars.cap;
        chart.draw_series(LineSeries::new(vec![(-0.5, cap), (end, cap)], BLACK.stroke_width(usc(2)))).ok()?;
    }
    let fair = bars.fair;
    chart.draw_series(LineSeries::new(vec![(-0.5, fair), (end, fair)], LOAD_GREEN.stroke_width(usc(2)))).ok()?;
    load_bias(&mut chart, s, &bars)?;
    root.present().ok()?;
    el.set_attribute("data-y-own", &own.to_string()).ok()?;
    el.set_attribute("data-y-max", &ymax.to_string()).ok()
}

/// How many x-axis labels fit under `plot`, at most `most` (about four characters each).
fn x_labels(plot: &Area, most: usize) -> usize {
    let (w, _) = plot.dim_in_pixel();
    (w as usize / (text_px(12) as usize * 4).max(1)).clamp(3, most)
}

/// A knob change to mark on the time charts: (step, label).
pub type Event = (f32, String);

/// A line chart of several series over steps, with knob changes as vertical marks.
pub fn lines(
    canvas: HtmlCanvasElement,
    series: &[Series],
    ymin: f32,
    ymax: Option<f32>,
    events: &[Event],
) -> Option<()> {
    lines_dashed(canvas, series, &[], ymin, ymax, events)
}

/// [`lines`] with some series dashed: series `i` is dashed when `dashed[i]` is true (compare mode
/// draws each run in its colour, one measure solid and the other dashed).
pub fn lines_dashed(
    canvas: HtmlCanvasElement,
    series: &[Series],
    dashed: &[bool],
    ymin: f32,
    ymax: Option<f32>,
    events: &[Event],
) -> Option<()> {
    let is_dashed = |i: usize| dashed.get(i).copied().unwrap_or(false);
    fit(&canvas, |w| (w / 2).clamp(usc(190), usc(290)));
    let root = CanvasBackend::with_canvas_object(canvas)?.into_drawing_area();
    root.fill(&WHITE).ok()?;
    let items: Vec<(String, Swatch)> = series
        .iter()
        .enumerate()
        .map(|(i, s)| (s.0.to_string(), if is_dashed(i) { Swatch::Dashed(s.1) } else { Swatch::Line(s.1) }))
        .collect();
    let plot = with_legend(&root, 44, &items)?;
    let last = series.iter().flat_map(|s| s.2.iter().map(|p| p.0)).fold(1.0f32, f32::max);
    // A little room on the right so the newest point is not cut by the frame.
    let xmax = (last * 1.03).max(10.0);
    let top = ymax.unwrap_or_else(|| {
        let hi = series.iter().flat_map(|s| s.2.iter().map(|p| p.1)).filter(|v| v.is_finite()).fold(f32::MIN, f32::max);
        if hi > ymin {
            ymin + (hi - ymin) * 1.1
        } else {
            ymin + 1.0
        }
    });
    let mut chart = ChartBuilder::on(&plot)
        .margin(sc(6))
        .margin_right(sc(12))
        .x_label_area_size(sc(36).max(text_px(12) * 2 + 10))
        .y_label_area_size(sc(40).max(text_px(12) * 5 / 2))
        .build_cartesian_2d(0f32..xmax, ymin..top)
        .ok()?;
    chart
        .configure_mesh()
        .x_labels(x_labels(&plot, 6))
        .y_labels(5)
        .label_style(axis_font())
        .axis_desc_style(axis_font())
        .light_line_style(RGBColor(236, 236, 236))
        .x_desc("step")
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| if top >= 10.0 { format!("{v:.0}") } else { format!("{v:.1}") })
        .draw()
        .ok()?;
    let grey = RGBColor(150, 150, 150);
    for (at, label) in events.iter().filter(|e| e.0 > 0.0 && e.0 < xmax) {
        chart.draw_series(DashedLineSeries::new(vec![(*at, ymin), (*at, top)], 4, 3, grey.stroke_width(1))).ok()?;
        let (px, py) = chart.backend_coord(&(*at, top));
        plot.draw(&Text::new(label.clone(), (px + 3, py + 2), font(11).color(&grey))).ok()?;
    }
    for (i, (_, color, pts)) in series.iter().enumerate() {
        let finite = pts.iter().cloned().filter(|p| p.1.is_finite() && p.1 <= top);
        if is_dashed(i) {
            chart.draw_series(DashedLineSeries::new(finite.clone(), sc(6), sc(4), color.stroke_width(usc(2)))).ok()?;
        } else {
            chart.draw_series(LineSeries::new(finite.clone(), color.stroke_width(usc(2)))).ok()?;
        }
        if pts.len() < 40 {
            chart.draw_series(finite.map(|p| Circle::new(p, sc(3), color.filled()))).ok()?;
        }
    }
    root.present().ok()
}

/// Say on a canvas coloured with [`viridis`] that its colour scale is the fixed 0–1 (a probability
/// or a share), the same for every run: `data-color-min` and `data-color-max`.
fn color_scale(canvas: &HtmlCanvasElement) {
    let _ = canvas.set_attribute("data-color-min", "0");
    let _ = canvas.set_attribute("data-color-max", "1");
}

/// Domain × expert matrix: share of each domain's choices going to each expert (colour on the
/// fixed 0–1 scale, so runs A and B compare as drawn).
pub fn domains(canvas: HtmlCanvasElement, s: &Snapshot, dataset: Dataset) -> Option<()> {
    fit(&canvas, |_| usc(22 + 4 * 38));
    color_scale(&canvas);
    let root = CanvasBackend::with_canvas_object(canvas)?.into_drawing_area();
    root.fill(&WHITE).ok()?;
    let e = s.choices.len();
    let names = domain_names(dataset);
    let (w, h) = root.dim_in_pixel();
    let px = text_px(12);
    let font = ("sans-serif", px).into_font();
    let longest = names.iter().map(|n| n.chars().count()).max().unwrap_or(6) as i32;
    let left = sc(70).max(sc(8) + longest * px * 58 / 100 + 6);
    let top = sc(18).max(px + 6);
    let cw = ((w as i32 - left - 4) / e as i32).max(4);
    let ch = ((h as i32 - top - 2) / 4).max(8);
    for i in 0..e {
        let x = left + i as i32 * cw;
        if cw >= px * 3 / 2 || i % 4 == 0 {
            root.draw(&Text::new(format!("E{i}"), (x + cw / 2 - px * 2 / 3, 2), font.clone())).ok()?;
        }
    }
    for (d, name) in names.iter().enumerate() {
        let row = &s.domain_expert[d * e..(d + 1) * e];
        let total = row.iter().sum::<u32>().max(1) as f32;
        let y = top + d as i32 * ch;
        root.draw(&Rectangle::new([(0, y), (sc(4), y + ch - 2)], DOMAIN_COLORS[d.min(3)].filled())).ok()?;
        root.draw(&Text::new(name.to_string(), (sc(8), y + ch / 2 - px / 2), font.clone())).ok()?;
        for (i, &n) in row.iter().enumerate() {
            let x = left + i as i32 * cw;
            let share = n as f32 / total;
            root.draw(&Rectangle::new([(x, y), (x + cw - 1, y + ch - 1)], viridis(share).filled())).ok()?;
            if share >= 0.1 && cw >= px * 5 / 2 {
                let c = if share > 0.6 { BLACK } else { WHITE };
                root.draw(&Text::new(
                    format!("{:.0}%", share * 100.0),
                    (x + 3, y + ch / 2 - px / 2),
                    font.clone().color(&c),
                ))
                .ok()?;
            }
        }
    }
    root.present().ok()
}

/// Deterministic sample points of the regions data set to overlay on the map: (x, y, label).
fn sample_points(n: usize) -> Vec<(f32, f32, u32)> {
    let mut rng = crate::rng::Rng::new(0x5EED_0F2D);
    (0..n)
        .map(|_| {
            let (x, y) = (rng.uniform(-1.0, 1.0) as f32, rng.uniform(-1.0, 1.0) as f32);
            (x, y, regions::label(x, y).0)
        })
        .collect()
}

/// Height of the region-map canvas for a given width: two square panels, titles and legends.
pub fn region_map_height(w: u32) -> u32 {
    let panel = (w.saturating_sub(3 * 12) / 2).min(420);
    panel + usc(26 + 44)
}

/// The region map: left, the plane coloured by the expert each point routes to (paler where the
/// router is less sure); right, the model's predicted class (paler near 0.5) with sample points in
/// their true class colour. Thin lines mark the quadrants, which are the data set's domains.
pub fn region_map(canvas: HtmlCanvasElement, map: &RegionMap) -> Option<()> {
    if !fit(&canvas, region_map_height) {
        return None;
    }
    let _ = canvas.set_attribute("data-step", &map.step.to_string());
    let root = CanvasBackend::with_canvas_object(canvas)?.into_drawing_area();
    root.fill(&WHITE).ok()?;
    let (w, h) = root.dim_in_pixel();
    let pad = 12i32;
    let (title, small) = (font(13), font(11));
    let top = sc(24).max(text_px(13) + 10);
    // Filling a box: the square panels as large as its height allows under the legends.
    let panel = if filled() {
        ((w as i32 - 3 * pad) / 2).min(h as i32 - top - 2 * sc(16).max(text_px(11) + 4) - sc(12))
    } else {
        ((w as i32 - 3 * pad) / 2).min(420)
    };
    let n = map.n.max(1);
    let e = map.experts.max(1);
    let lefts = [pad, 2 * pad + panel];
    root.draw(&Text::new("expert chosen (top-1)", (lefts[0], 4), title.clone())).ok()?;
    root.draw(&Text::new("predicted class", (lefts[1], 4), title.clone())).ok()?;
    let note = format!("weights at step {}", map.step);
    let tw = root.estimate_text_size(&note, &small.clone().into()).map(|s| s.0 as i32).unwrap_or(100);
    root.draw(&Text::new(note, (lefts[1] + panel - tw, 6), small.clone().color(&RGBColor(90, 90, 90)))).ok()?;
    let edge = |i: usize| (i as i32 * panel) / n as i32;
    let fair = 1.0 / e as f32;
    for j in 0..n {
        for i in 0..n {
            let c = j * n + i;
            let (x0, x1, y0, y1) = (edge(i), edge(i + 1), top + edge(j), top + edge(j + 1));
            let sure = ((map.gate[c] - fair) / (1.0 - fair).max(1e-6)).clamp(0.0, 1.0);
            let ec = tint(expert_color(map.expert[c] as usize, e), 0.35 + 0.65 * sure);
            root.draw(&Rectangle::new([(lefts[0] + x0, y0), (lefts[0] + x1, y1)], ec.filled())).ok()?;
            let p1 = map.p1[c];
            let cc = if p1 >= 0.5 { CLASS_COLORS[1] } else { CLASS_COLORS[0] };
            let pc = tint(cc, 0.15 + 0.6 * (p1 - 0.5).abs() * 2.0);
            root.draw(&Rectangle::new([(lefts[1] + x0, y0), (lefts[1] + x1, y1)], pc.filled())).ok()?;
        }
    }
    let to_px = |left: i32, x: f32, y: f32| {
        (left + ((x + 1.0) / 2.0 * panel as f32) as i32, top + ((1.0 - y) / 2.0 * panel as f32) as i32)
    };
    for (x, y, label) in sample_points(250) {
        let (px, py) = to_px(lefts[1], x, y);
        root.draw(&Circle::new((px, py), sc(3), CLASS_COLORS[label as usize].filled())).ok()?;
        root.draw(&Circle::new((px, py), sc(3), WHITE.stroke_width(1))).ok()?;
    }
    let axis = RGBColor(60, 60, 60).mix(0.6);
    for &l in &lefts {
        let mid = panel / 2;
        root.draw(&PathElement::new(vec![(l + mid, top), (l + mid, top + panel)], axis.stroke_width(1))).ok()?;
        root.draw(&PathElement::new(vec![(l, top + mid), (l + panel, top + mid)], axis.stroke_width(1))).ok()?;
        root.draw(&Rectangle::new([(l, top), (l + panel, top + panel)], RGBColor(90, 90, 90).stroke_width(1))).ok()?;
    }
    // Domain names in the quadrants' outer corners of the prediction panel.
    for (d, name) in regions::DOMAINS.iter().enumerate() {
        let (x, y) = [(0.55f32, 0.97f32), (-0.97, 0.97), (-0.97, -0.85), (0.55, -0.85)][d];
        let (px, py) = to_px(lefts[1], x, y);
        root.draw(&Text::new(name.to_string(), (px, py), small.clone().color(&RGBColor(40, 40, 40)))).ok()?;
    }
    // Legends.
    let ly = top + panel + sc(10);
    let (col_w, row_h, sw) = (sc(44).max(text_px(11) * 3), sc(16).max(text_px(11) + 4), sc(10));
    let per_row = ((panel / col_w).max(1)) as usize;
    for i in 0..e {
        let (col, row) = ((i % per_row) as i32, (i / per_row) as i32);
        if row > 1 {
            break;
        }
        let (x, y) = (lefts[0] + col * col_w, ly + row * row_h);
        root.draw(&Rectangle::new([(x, y + 1), (x + sw, y + 1 + sw)], expert_color(i, e).filled())).ok()?;
        root.draw(&Text::new(format!("E{i}"), (x + sw + 3, y), small.clone())).ok()?;
    }
    for (c, label) in ["class 0", "class 1"].iter().enumerate() {
        let x = lefts[1] + c as i32 * sc(70).max(text_px(11) * 5);
        root.draw(&Rectangle::new([(x, ly + 1), (x + sw, ly + 1 + sw)], CLASS_COLORS[c].filled())).ok()?;
        root.draw(&Text::new(label.to_string(), (x + sw + 3, ly), small.clone())).ok()?;
    }
    let dots = lefts[1] + 2 * sc(70).max(text_px(11) * 5);
    root.draw(&Text::new("dots: data with their true class", (dots, ly), small.clone())).ok()?;
    // Keep `cell_center` and this drawing in agreement: row 0 is the top (y = +1).
    debug_assert!(cell_center(n, 0, 0).1 > 0.0);
    root.present().ok()
}

/// Share of assignments that would be dropped at capacity factor `cf` when expert i receives
/// `per_step[i]` choices per step: Σ_i max(0, n_i − C(cf)) / (T·k).
pub fn drop_share_at(per_step: &[f32], cf: f32, tokens: usize, k: usize) -> f32 {
    let e = per_step.len().max(1);
    let c = capacity(cf, tokens, k, e) as f32;
    let over: f32 = per_step.iter().map(|&n| (n - c).max(0.0)).sum();
    over / (tokens * k).max(1) as f32
}

/// Capacity factors on the drop curve's x axis.
pub const CF_RANGE: (f32, f32) = (0.25, 4.0);

/// Drop share against the capacity factor for the snapshot's routing, with an evenly balanced
/// router for comparison and the current capacity factor marked.
pub fn drop_curve(canvas: HtmlCanvasElement, s: &Snapshot, cf: f32) -> Option<()> {
    fit(&canvas, |w| (w / 2).clamp(usc(190), usc(290)));
    let root = CanvasBackend::with_canvas_object(canvas)?.into_drawing_area();
    root.fill(&WHITE).ok()?;
    let pink = RGBColor(204, 121, 167);
    let grey = RGBColor(120, 120, 120);
    let plot = with_legend(
        &root,
        44,
        &[("current routing".into(), Swatch::Line(pink)), ("evenly balanced routing".into(), Swatch::Dashed(grey))],
    )?;
    let e = s.choices.len().max(1);
    let (t, k) = (s.tokens as usize, s.k.max(1) as usize);
    let steps = s.steps.max(1) as f32;
    let now: Vec<f32> = s.choices.iter().map(|&c| c as f32 / steps).collect();
    let even = vec![(t * k) as f32 / e as f32; e];
    let xs: Vec<f32> = (0..=75).map(|i| CF_RANGE.0 + i as f32 * 0.05).collect();
    let curve = |n: &[f32]| xs.iter().map(|&x| (x, drop_share_at(n, x, t, k))).collect::<Vec<_>>();
    let (cur, bal) = (curve(&now), curve(&even));
    let ymax = (cur.first().map(|p| p.1).unwrap_or(0.0).max(bal[0].1) * 1.1).clamp(0.1, 1.0);
    let mut chart = ChartBuilder::on(&plot)
        .margin(sc(6))
        .margin_right(sc(12))
        .x_label_area_size(sc(36).max(text_px(12) * 2 + 10))
        .y_label_area_size(sc(40).max(text_px(12) * 5 / 2))
        .build_cartesian_2d(CF_RANGE.0..CF_RANGE.1, 0f32..ymax)
        .ok()?;
    chart
        .configure_mesh()
        .x_labels(x_labels(&plot, 8))
        .y_labels(5)
        .label_style(axis_font())
        .axis_desc_style(axis_font())
        .light_line_style(RGBColor(236, 236, 236))
        .x_desc("capacity factor cf")
        .x_label_formatter(&|v| format!("{v:.1}"))
        .y_label_formatter(&|v| format!("{:.0}%", v * 100.0))
        .draw()
        .ok()?;
    chart.draw_series(DashedLineSeries::new(bal, 5, 4, grey.stroke_width(usc(1)))).ok()?;
    let font = font(12);
    let (w, _) = plot.dim_in_pixel();
    if s.steps == 0 {
        let (px, py) = chart.backend_coord(&(1.4, ymax * 0.6));
        plot.draw(&Text::new("no routing yet: train a few steps", (px, py), font)).ok()?;
        return root.present().ok();
    }
    chart.draw_series(LineSeries::new(cur, pink.stroke_width(usc(2)))).ok()?;
    if cf.is_finite() {
        let at = cf.clamp(CF_RANGE.0, CF_RANGE.1);
        let d = drop_share_at(&now, cf, t, k);
        chart.draw_series(LineSeries::new(vec![(at, 0.0), (at, ymax)], BLACK.stroke_width(1))).ok()?;
        chart.draw_series(std::iter::once(Circle::new((at, d.min(ymax)), 4, BLACK.filled()))).ok()?;
        let (px, _) = chart.backend_coord(&(at, d.min(ymax)));
        let label = format!("cf {cf}: {:.1}% dropped", d * 100.0);
        let tw = plot.estimate_text_size(&label, &font.clone().into()).map(|s| s.0 as i32).unwrap_or(130);
        let lx = if px + 8 + tw > w as i32 - 4 { px - 8 - tw } else { px + 8 };
        // At the top of the plot, beside the marker line: clear of the axis and, for cf ≥ 1, the curve.
        let (_, ty) = chart.backend_coord(&(at, ymax));
        plot.draw(&Rectangle::new([(lx - 2, ty + 3), (lx + tw + 2, ty + 7 + text_px(12))], WHITE.mix(0.85).filled()))
            .ok()?;
        plot.draw(&Text::new(label, (lx, ty + 5), font)).ok()?;
    } else {
        let label = "cf = ∞: dropless, nothing is dropped";
        let tw = plot.estimate_text_size(label, &font.clone().into()).map(|s| s.0 as i32).unwrap_or(210);
        let (_, py) = chart.backend_coord(&(CF_RANGE.1, ymax * 0.5));
        plot.draw(&Text::new(label, (w as i32 - tw - 16, py), font)).ok()?;
    }
    root.present().ok()
}
