//! The README's scaling chart: tokens/s against E, T, k and d/H for each trainer, from the JSON
//! lines of `moe-train --bench --sweep` and `benches/pytorch_twin.py --sweep`, as one SVG with four
//! panels (log-scaled tokens/s; one line per trainer).
//!
//! `cargo run --release --example scaling_chart -- TITLE OUT.svg FILE.jsonl [FILE.jsonl ...]`
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write;

/// The four axes of the sweep: key in the JSON lines, panel title, x label of a point.
const AXES: [(&str, &str); 4] = [
    ("experts", "experts E (k fixed)"),
    ("tokens", "tokens per batch T"),
    ("top_k", "top-k"),
    ("d_hidden", "width d / H"),
];
const COLOURS: [&str; 4] = ["#0072B2", "#D55E00", "#009E73", "#CC79A7"];

/// One panel's lines: trainer → [(x label, tokens/s)].
type Series = BTreeMap<String, Vec<(String, f64)>>;

/// A trainer's name in the legend, from a line's "backend".
fn trainer(backend: &str) -> String {
    if let Some(adapter) = backend.strip_prefix("gpu: ") {
        let short = adapter.split(" (").next().unwrap_or(adapter);
        format!("WGSL kernels on {short}")
    } else if backend.starts_with("cpu") {
        "CPU reference (Rust)".into()
    } else {
        backend.split(',').take(2).collect::<Vec<_>>().join(",")
    }
}

fn x_label(axis: &str, line: &Value) -> String {
    match axis {
        "d_hidden" => format!("{}/{}", line["d"], line["hidden"]),
        "top_k" => line["top_k"].to_string(),
        "experts" => line["experts"].to_string(),
        _ => line["tokens"].to_string(),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        eprintln!("usage: scaling_chart TITLE OUT.svg FILE.jsonl [FILE.jsonl ...]");
        std::process::exit(2);
    }
    let (title, out) = (&args[0], &args[1]);
    // axis → trainer → [(x label, tokens/s)] in file order.
    let mut data: BTreeMap<&str, Series> = BTreeMap::new();
    let mut trainers: Vec<String> = Vec::new();
    for file in &args[2..] {
        let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{file}: {e}"));
        for line in text.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()) {
            let (Some(axis), Some(rate)) = (line["sweep"].as_str(), line["tokens_per_s_median"].as_f64()) else {
                continue;
            };
            let Some(&(axis, _)) = AXES.iter().find(|(a, _)| *a == axis) else { continue };
            let who = trainer(line["backend"].as_str().unwrap_or("?"));
            if !trainers.contains(&who) {
                trainers.push(who.clone());
            }
            data.entry(axis).or_default().entry(who).or_default().push((x_label(axis, &line), rate));
        }
    }
    let (pw, ph, ml, mt, gap) = (360.0, 240.0, 70.0, 60.0, 40.0);
    let width = ml + 4.0 * pw + 3.0 * gap + 20.0;
    let height = mt + ph + 60.0 + 22.0 * trainers.len() as f64;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(svg, r#"<text x="{ml}" y="24" font-size="15" font-weight="bold">{title}</text>"#);
    // One log scale for every panel, so panels compare.
    let rates: Vec<f64> = data.values().flat_map(|m| m.values().flatten().map(|p| p.1)).collect();
    let lo = rates.iter().cloned().fold(f64::INFINITY, f64::min).max(1.0).log10().floor();
    let hi = rates.iter().cloned().fold(1.0, f64::max).log10().ceil().max(lo + 1.0);
    let y_of = |r: f64| mt + ph - (r.max(1.0).log10() - lo) / (hi - lo) * ph;
    for (i, (axis, label)) in AXES.iter().enumerate() {
        let x0 = ml + i as f64 * (pw + gap);
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle" font-weight="bold">{label}</text>"#,
            x0 + pw / 2.0,
            mt - 10.0
        );
        let _ = writeln!(svg, r##"<rect x="{x0}" y="{mt}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>"##);
        for dec in lo as i32..=hi as i32 {
            let y = y_of(10f64.powi(dec));
            let _ = writeln!(svg, r##"<line x1="{x0}" x2="{}" y1="{y}" y2="{y}" stroke="#ddd"/>"##, x0 + pw);
            if i == 0 {
                let tick = match dec {
                    d if d >= 6 => format!("{}M", 10u64.pow(d as u32 - 6)),
                    d if d >= 3 => format!("{}k", 10u64.pow(d as u32 - 3)),
                    d => 10u64.pow(d.max(0) as u32).to_string(),
                };
                let _ = writeln!(svg, r#"<text x="{}" y="{}" text-anchor="end">{tick}</text>"#, x0 - 6.0, y + 4.0);
            }
        }
        let Some(series) = data.get(axis) else { continue };
        // The x positions: the points in the order they first appear.
        let mut xs: Vec<String> = Vec::new();
        for pts in series.values() {
            for (x, _) in pts {
                if !xs.contains(x) {
                    xs.push(x.clone());
                }
            }
        }
        let x_of = |x: &str| {
            let k = xs.iter().position(|v| v == x).unwrap_or(0) as f64;
            x0 + 20.0 + k * (pw - 40.0) / (xs.len().max(2) - 1) as f64
        };
        for x in &xs {
            let _ = writeln!(svg, r#"<text x="{}" y="{}" text-anchor="middle">{x}</text>"#, x_of(x), mt + ph + 16.0);
        }
        for (who, pts) in series {
            let c = COLOURS[trainers.iter().position(|t| t == who).unwrap_or(0) % COLOURS.len()];
            let path: Vec<String> = pts.iter().map(|(x, r)| format!("{:.1},{:.1}", x_of(x), y_of(*r))).collect();
            let _ =
                writeln!(svg, r#"<polyline points="{}" fill="none" stroke="{c}" stroke-width="2"/>"#, path.join(" "));
            for (x, r) in pts {
                let _ = writeln!(
                    svg,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{c}"><title>{who}: {r:.0} tokens/s</title></circle>"#,
                    x_of(x),
                    y_of(*r)
                );
            }
        }
    }
    let _ = writeln!(
        svg,
        r#"<text x="18" y="{}" transform="rotate(-90 18 {})" text-anchor="middle">tokens/s (log scale)</text>"#,
        mt + ph / 2.0,
        mt + ph / 2.0
    );
    for (i, who) in trainers.iter().enumerate() {
        let y = mt + ph + 44.0 + 22.0 * i as f64;
        let c = COLOURS[i % COLOURS.len()];
        let _ =
            writeln!(svg, r#"<line x1="{ml}" x2="{}" y1="{y}" y2="{y}" stroke="{c}" stroke-width="3"/>"#, ml + 30.0);
        let _ = writeln!(svg, r#"<text x="{}" y="{}">{who}</text>"#, ml + 38.0, y + 4.0);
    }
    svg.push_str("</svg>\n");
    std::fs::write(out, svg).unwrap_or_else(|e| panic!("{out}: {e}"));
}
