//! Canvas views drawn with plotters: routing heatmap, per-expert load, line charts, the domain
//! matrix, the region map and the drop-share-vs-capacity-factor curve.
use super::regionmap::{cell_center, RegionMap};
use crate::config::{capacity, Dataset};
use crate::data::{domain_names, regions, tokens, CTX};
use crate::metrics::Snapshot;
use plotters::prelude::*;
use plotters_canvas::CanvasBackend;
use web_sys::HtmlCanvasElement;

/// Size the canvas's drawing buffer to its on-screen width (so text keeps its size at any layout
/// width) and `height(width)`. False when the canvas is not laid out (hidden).
pub fn fit(canvas: &HtmlCanvasElement, height: impl Fn(u32) -> u32) -> bool {
    let w = canvas.client_width();
    if w <= 0 {
        return false;
    }
    let w = w as u32;
    let h = height(w).max(40);
    if canvas.width() != w {
        canvas.set_width(w);
    }
    if canvas.height() != h {
        canvas.set_height(h);
    }
    true
}

/// Okabe–Ito colours for experts (black swapped for grey so region fills stay readable); viridis
/// beyond eight experts.
pub fn expert_color(i: usize, experts: usize) -> RGBColor {
    const OI: [RGBColor; 8] = [
        RGBColor(230, 159, 0),
        RGBColor(86, 180, 233),
        RGBColor(0, 158, 115),
        RGBColor(240, 228, 66),
        RGBColor(0, 114, 178),
        RGBColor(213, 94, 0),
        RGBColor(204, 121, 167),
        RGBColor(128, 128, 128),
    ];
    if experts <= OI.len() {
        OI[i % OI.len()]
    } else {
        viridis(i as f32 / (experts - 1).max(1) as f32)
    }
}

/// Blend `c` towards white: `amount` = 1 gives `c`, 0 gives white.
fn tint(c: RGBColor, amount: f32) -> RGBColor {
    let a = amount.clamp(0.0, 1.0);
    let m = |x: u8| (255.0 - (255.0 - x as f32) * a) as u8;
    RGBColor(m(c.0), m(c.1), m(c.2))
}

/// Class colours (Okabe–Ito orange for class 0, blue for class 1), as in TensorFlow Playground.
pub const CLASS_COLORS: [RGBColor; 2] = [RGBColor(230, 159, 0), RGBColor(0, 114, 178)];

/// Colour-blind-safe viridis scale, t in [0, 1].
pub fn viridis(t: f32) -> RGBColor {
    const STOPS: [(u8, u8, u8); 5] = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)];
    let t = t.clamp(0.0, 1.0) * 4.0;
    let i = (t.floor() as usize).min(3);
    let f = t - i as f32;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    let mix = |x: u8, y: u8| (x as f32 + (y as f32 - x as f32) * f) as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
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

/// Routing heatmap: probe rows × experts, colour = router probability, chosen experts outlined,
/// dropped assignments struck through, a domain stripe on the left.
pub fn heatmap(canvas: HtmlCanvasElement, s: &Snapshot, dataset: Dataset, rows: usize) -> Option<()> {
    // What is drawn, for tests and screen readers: k, rows shown, outlined cells, dropped cells.
    let shown = rows.min(s.probe.rows);
    let _ = canvas.set_attribute("data-k", &s.probe.k.to_string());
    let _ = canvas.set_attribute("data-rows", &shown.to_string());
    let _ = canvas.set_attribute("data-outlined", &(shown * s.probe.k).to_string());
    let dropped = s.probe.dropped[..shown * s.probe.k].iter().filter(|&&d| d).count();
    let _ = canvas.set_attribute("data-dropped", &dropped.to_string());
    let top = 22i32;
    fit(&canvas, |_| (top as u32 + shown as u32 * 17 + 4));
    let root = CanvasBackend::with_canvas_object(canvas)?.into_drawing_area();
    root.fill(&WHITE).ok()?;
    let p = &s.probe;
    let (e, k) = (p.experts, p.k);
    let rows = rows.min(p.rows);
    let (w, h) = root.dim_in_pixel();
    let left = 96i32;
    let cw = ((w as i32 - left - 8) / e as i32).max(4);
    let ch = ((h as i32 - top - 4) / rows as i32).max(4);
    let font = ("monospace", (ch - 2).clamp(8, 13)).into_font();
    let head = ("sans-serif", if cw >= 22 { 12 } else { 9 }).into_font();
    for i in 0..e {
        let x = left + i as i32 * cw;
        if cw >= 14 || i % 4 == 0 {
            let label = format!("E{i}");
            let tw = label.len() as i32 * if cw >= 22 { 7 } else { 5 };
            root.draw(&Text::new(label, (x + cw / 2 - tw / 2, 2), head.clone())).ok()?;
        }
        root.draw(&Rectangle::new([(x + 1, top - 6), (x + cw - 2, top - 3)], expert_color(i, e).filled())).ok()?;
    }
    for t in 0..rows {
        let y = top + t as i32 * ch;
        let dom = (p.domains[t] as usize).min(3);
        root.draw(&Rectangle::new([(0, y), (6, y + ch - 1)], DOMAIN_COLORS[dom].filled())).ok()?;
        root.draw(&Text::new(row_label(s, dataset, t), (10, y + 1), font.clone())).ok()?;
        for i in 0..e {
            let x = left + i as i32 * cw;
            let prob = p.probs[t * e + i];
            root.draw(&Rectangle::new([(x, y), (x + cw - 1, y + ch - 1)], viridis(prob).filled())).ok()?;
        }
        for r in 0..k {
            let i = p.topk[t * k + r] as i32;
            let x = left + i * cw;
            let color = if r == 0 { RGBColor(220, 20, 60) } else { RGBColor(255, 140, 0) };
            root.draw(&Rectangle::new([(x, y), (x + cw - 2, y + ch - 2)], color.stroke_width(2))).ok()?;
            if p.dropped[t * k + r] {
                root.draw(&PathElement::new(vec![(x, y + ch - 2), (x + cw - 2, y)], BLACK.stroke_width(2))).ok()?;
            }
        }
    }
    root.present().ok()
}

/// Per-expert load: kept and dropped assignments per step against the capacity and fair-share lines.
pub fn load(canvas: HtmlCanvasElement, s: &Snapshot) -> Option<()> {
    fit(&canvas, |w| (w * 11 / 20).clamp(200, 320));
    let root = CanvasBackend::with_canvas_object(canvas)?.into_drawing_area();
    root.fill(&WHITE).ok()?;
    let e = s.choices.len();
    let steps = s.steps.max(1) as f32;
    let kept: Vec<f32> = s.kept.iter().map(|&v| v as f32 / steps).collect();
    let chosen: Vec<f32> = s.choices.iter().map(|&v| v as f32 / steps).collect();
    let fair = s.tokens as f32 * s.k as f32 / e as f32;
    let cap = s.capacity as f32;
    let ymax = chosen.iter().cloned().fold(cap.max(fair), f32::max) * 1.15 + 1.0;
    let mut chart = ChartBuilder::on(&root)
        .margin(6)
        .x_label_area_size(22)
        .y_label_area_size(44)
        .build_cartesian_2d(0f32..e as f32, 0f32..ymax)
        .ok()?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(e.min(16) + 1)
        .x_label_formatter(&|v| if (*v as usize) < e { format!("E{}", *v as usize) } else { String::new() })
        .y_desc("per step")
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()
        .ok()?;
    chart
        .draw_series((0..e).map(|i| {
            Rectangle::new(
                [(i as f32 + 0.1, 0.0), (i as f32 + 0.9, chosen[i])],
                RGBColor(213, 94, 0).mix(0.35).filled(),
            )
        }))
        .ok()?
        .label("dropped")
        .legend(|(x, y)| Rectangle::new([(x, y - 4), (x + 10, y + 4)], RGBColor(213, 94, 0).mix(0.35).filled()));
    chart
        .draw_series((0..e).map(|i| {
            Rectangle::new([(i as f32 + 0.1, 0.0), (i as f32 + 0.9, kept[i])], RGBColor(0, 114, 178).filled())
        }))
        .ok()?
        .label("kept")
        .legend(|(x, y)| Rectangle::new([(x, y - 4), (x + 10, y + 4)], RGBColor(0, 114, 178).filled()));
    if cap < s.tokens as f32 {
        chart
            .draw_series(LineSeries::new(vec![(0.0, cap), (e as f32, cap)], BLACK.stroke_width(2)))
            .ok()?
            .label(format!("capacity C = {}", s.capacity))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 12, y)], BLACK.stroke_width(2)));
    }
    chart
        .draw_series(LineSeries::new(vec![(0.0, fair), (e as f32, fair)], RGBColor(0, 158, 115).stroke_width(1)))
        .ok()?
        .label("fair share T·k/E")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 12, y)], RGBColor(0, 158, 115)));
    chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw().ok()?;
    root.present().ok()
}

/// A knob change to mark on the time charts: (step, label).
pub type Event = (f32, String);

/// A line chart of several series over steps, with knob changes as vertical marks.
pub fn lines(canvas: HtmlCanvasElement, series: &[Series], ymin: f32, ymax: Option<f32>, events: &[Event]) -> Option<()> {
    fit(&canvas, |w| (w / 2).clamp(180, 280));
    let root = CanvasBackend::with_canvas_object(canvas)?.into_drawing_area();
    root.fill(&WHITE).ok()?;
    let xmax = series.iter().flat_map(|s| s.2.iter().map(|p| p.0)).fold(1.0f32, f32::max);
    let top = ymax.unwrap_or_else(|| {
        series.iter().flat_map(|s| s.2.iter().map(|p| p.1)).filter(|v| v.is_finite()).fold(ymin + 1e-3, f32::max) * 1.1
    });
    let mut chart = ChartBuilder::on(&root)
        .margin(8)
        .x_label_area_size(30)
        .y_label_area_size(40)
        .build_cartesian_2d(0f32..xmax, ymin..top)
        .ok()?;
    chart
        .configure_mesh()
        .x_labels(6)
        .y_labels(5)
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
        root.draw(&Text::new(label.clone(), (px + 3, py + 2), ("sans-serif", 11).into_font().color(&grey))).ok()?;
    }
    for (label, color, pts) in series {
        let c = *color;
        chart
            .draw_series(LineSeries::new(pts.iter().cloned().filter(|p| p.1.is_finite()), c.stroke_width(2)))
            .ok()?
            .label(*label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 12, y)], c.stroke_width(2)));
    }
    chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw().ok()?;
    root.present().ok()
}

/// Domain × expert matrix: share of each domain's choices going to each expert.
pub fn domains(canvas: HtmlCanvasElement, s: &Snapshot, dataset: Dataset) -> Option<()> {
    fit(&canvas, |_| 22 + 4 * 38);
    let root = CanvasBackend::with_canvas_object(canvas)?.into_drawing_area();
    root.fill(&WHITE).ok()?;
    let e = s.choices.len();
    let names = domain_names(dataset);
    let (w, h) = root.dim_in_pixel();
    let left = 70i32;
    let cw = ((w as i32 - left - 4) / e as i32).max(4);
    let ch = ((h as i32 - 20) / 4).max(8);
    let font = ("sans-serif", 12).into_font();
    for i in 0..e {
        let x = left + i as i32 * cw;
        if cw >= 14 || i % 4 == 0 {
            root.draw(&Text::new(format!("E{i}"), (x + cw / 2 - 8, 2), font.clone())).ok()?;
        }
    }
    for (d, name) in names.iter().enumerate() {
        let row = &s.domain_expert[d * e..(d + 1) * e];
        let total = row.iter().sum::<u32>().max(1) as f32;
        let y = 18 + d as i32 * ch;
        root.draw(&Rectangle::new([(0, y), (4, y + ch - 2)], DOMAIN_COLORS[d.min(3)].filled())).ok()?;
        root.draw(&Text::new(name.to_string(), (8, y + ch / 2 - 6), font.clone())).ok()?;
        for (i, &n) in row.iter().enumerate() {
            let x = left + i as i32 * cw;
            let share = n as f32 / total;
            root.draw(&Rectangle::new([(x, y), (x + cw - 1, y + ch - 1)], viridis(share).filled())).ok()?;
            if share >= 0.1 && cw >= 30 {
                let c = if share > 0.6 { BLACK } else { WHITE };
                root.draw(&Text::new(
                    format!("{:.0}%", share * 100.0),
                    (x + 3, y + ch / 2 - 6),
                    font.clone().color(&c),
                ))
                .ok()?;
            }
        }
    }
    root.present().ok()
}
