//! Colours the page draws with, defined natively so tests can check them against the common
//! colour-vision deficiencies: the two runs of compare mode (A and B), the experts' colours, the
//! heatmap's colour scale (viridis) and the text colours of presentation mode.
//!
//! A and B are Okabe–Ito blue and vermillion, told apart by lightness as well as hue.
//!
//! The checks (tests below) simulate protanopia, deuteranopia and tritanopia with the matrices of
//! Machado, Oliveira & Fernandes (2009) at severity 1.0, applied in linear RGB, and measure
//! differences as CIE76 ΔE in CIELAB (D65). Greyscale is the CIELAB lightness L* alone.

/// An sRGB colour, 8 bits per channel.
pub type Rgb = (u8, u8, u8);

/// Run A of compare mode (Okabe–Ito blue).
pub const RUN_A: Rgb = (0, 114, 178);
/// Run B of compare mode (Okabe–Ito vermillion).
pub const RUN_B: Rgb = (213, 94, 0);

/// The experts' colours for up to eight experts: Okabe–Ito, with black swapped for grey so region
/// fills stay readable (more experts take [`viridis`] steps).
pub const EXPERTS: [Rgb; 8] = [
    (230, 159, 0),
    (86, 180, 233),
    (0, 158, 115),
    (240, 228, 66),
    (0, 114, 178),
    (213, 94, 0),
    (204, 121, 167),
    (128, 128, 128),
];

/// The stops of the viridis scale (dark purple to yellow), evenly spaced over [0, 1].
pub const VIRIDIS: [Rgb; 5] = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)];

/// The viridis colour scale at `t` in [0, 1] (clamped): linear between [`VIRIDIS`]'s stops. Its
/// lightness rises monotonically, so it reads under every colour-vision deficiency and in greyscale.
pub fn viridis(t: f32) -> Rgb {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) } * (VIRIDIS.len() - 1) as f32;
    let i = (t.floor() as usize).min(VIRIDIS.len() - 2);
    let f = t - i as f32;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    let mix = |x: u8, y: u8| (x as f32 + (y as f32 - x as f32) * f) as u8;
    (mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Presentation mode's page background (white), kept equal to `--bg` in `www/style.css`.
pub const PRESENT_BG: Rgb = (255, 255, 255);
/// Presentation mode's text (near black), `--fg`.
pub const PRESENT_FG: Rgb = (17, 17, 17);
/// Presentation mode's secondary text (captions, hints), `--muted`.
pub const PRESENT_MUTED: Rgb = (51, 51, 51);
/// Presentation mode's accent (links, the pressed toggle's text on white), `--accent`: a darker
/// Okabe–Ito blue.
pub const PRESENT_ACCENT: Rgb = (0, 75, 128);
/// Presentation mode's question box: dark text on a pale yellow, `--question-bg`.
pub const PRESENT_QUESTION_BG: Rgb = (255, 244, 179);

/// `#rrggbb`, as CSS writes it.
pub fn hex(c: Rgb) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

/// A colour-vision deficiency to simulate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Vision {
    /// No deficiency.
    Normal,
    /// No L cones (red-blind).
    Protanopia,
    /// No M cones (green-blind).
    Deuteranopia,
    /// No S cones (blue-blind).
    Tritanopia,
}

impl Vision {
    /// Every deficiency simulated (normal vision aside).
    pub const DEFICIENT: [Vision; 3] = [Vision::Protanopia, Vision::Deuteranopia, Vision::Tritanopia];

    /// Machado et al. (2009), severity 1.0: the matrix on linear RGB.
    fn matrix(self) -> [[f64; 3]; 3] {
        match self {
            Vision::Normal => [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
            Vision::Protanopia => {
                [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]]
            }
            Vision::Deuteranopia => {
                [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]]
            }
            Vision::Tritanopia => {
                [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.303900]]
            }
        }
    }
}

/// An sRGB channel (0–255) in linear light (0–1).
fn linear(c: u8) -> f64 {
    let c = c as f64 / 255.0;
    if c <= 0.04045 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

/// The colour as seen with `vision`, in linear RGB (clamped to [0, 1]).
pub fn simulate(c: Rgb, vision: Vision) -> [f64; 3] {
    let l = [linear(c.0), linear(c.1), linear(c.2)];
    let m = vision.matrix();
    let row = |r: [f64; 3]| (r[0] * l[0] + r[1] * l[1] + r[2] * l[2]).clamp(0.0, 1.0);
    [row(m[0]), row(m[1]), row(m[2])]
}

/// CIELAB (D65) of a linear-RGB colour: (L*, a*, b*).
pub fn lab(l: [f64; 3]) -> [f64; 3] {
    let [r, g, b] = l;
    let x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047;
    let y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    let z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883;
    let f = |t: f64| if t > 216.0 / 24389.0 { t.cbrt() } else { (24389.0 / 27.0 * t + 16.0) / 116.0 };
    let (fx, fy, fz) = (f(x), f(y), f(z));
    [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)]
}

/// CIE76 colour difference ΔE between two colours as seen with `vision`.
pub fn delta_e(a: Rgb, b: Rgb, vision: Vision) -> f64 {
    let (p, q) = (lab(simulate(a, vision)), lab(simulate(b, vision)));
    ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2) + (p[2] - q[2]).powi(2)).sqrt()
}

/// Lightness L* (0–100) of a colour as seen with `vision`: what is left of it in greyscale.
pub fn lightness(c: Rgb, vision: Vision) -> f64 {
    lab(simulate(c, vision))[0]
}

/// WCAG 2 relative luminance.
pub fn luminance(c: Rgb) -> f64 {
    0.2126 * linear(c.0) + 0.7152 * linear(c.1) + 0.0722 * linear(c.2)
}

/// WCAG 2 contrast ratio between two colours (1 to 21).
pub fn contrast(a: Rgb, b: Rgb) -> f64 {
    let (x, y) = (luminance(a), luminance(b));
    (x.max(y) + 0.05) / (x.min(y) + 0.05)
}

/// The least ΔE between any two of `colors` with `vision`: (ΔE, i, j).
pub fn worst_pair(colors: &[Rgb], vision: Vision) -> (f64, usize, usize) {
    let mut worst = (f64::INFINITY, 0, 0);
    for i in 0..colors.len() {
        for j in i + 1..colors.len() {
            let d = delta_e(colors[i], colors[j], vision);
            if d < worst.0 {
                worst = (d, i, j);
            }
        }
    }
    worst
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lab_of_known_colours() {
        let white = lab(simulate((255, 255, 255), Vision::Normal));
        assert!((white[0] - 100.0).abs() < 0.01 && white[1].abs() < 0.05 && white[2].abs() < 0.05, "{white:?}");
        assert!(lab(simulate((0, 0, 0), Vision::Normal))[0].abs() < 1e-9);
        // Okabe–Ito blue: L* ≈ 46.
        assert!((lightness(RUN_A, Vision::Normal) - 46.0).abs() < 0.5);
        // Each simulation keeps greys grey (rows of the matrices sum to 1).
        for v in Vision::DEFICIENT {
            let g = simulate((128, 128, 128), v);
            assert!((g[0] - g[1]).abs() < 1e-3 && (g[1] - g[2]).abs() < 1e-3, "{v:?}: {g:?}");
        }
    }

    /// Compare mode's runs stay apart under every deficiency (ΔE ≥ 20) and in greyscale.
    #[test]
    fn runs_a_and_b_stay_distinguishable() {
        // Measured: normal 114.6, protanopia 91.9, deuteranopia 108.4, tritanopia 101.6.
        for v in [Vision::Normal, Vision::Protanopia, Vision::Deuteranopia, Vision::Tritanopia] {
            let d = delta_e(RUN_A, RUN_B, v);
            assert!(d >= 20.0, "{v:?}: ΔE(A, B) = {d:.1}");
        }
        // Greyscale: L* 46.0 against 54.2 (ΔL 8.2; with protanopia 49.2 against 47.5). Lightness
        // alone is a weak cue for these two: compare mode should not rely on colour alone (line
        // style, labels).
        let dl = (lightness(RUN_A, Vision::Normal) - lightness(RUN_B, Vision::Normal)).abs();
        assert!(dl >= 8.0, "ΔL(A, B) = {dl:.1}");
    }

    /// The heatmap's scale gets lighter from 0 to 1 under every deficiency, so more probability
    /// always reads as lighter, whatever the viewer's colour vision.
    #[test]
    fn viridis_is_monotone_in_lightness() {
        for v in [Vision::Normal, Vision::Protanopia, Vision::Deuteranopia, Vision::Tritanopia] {
            let ls: Vec<f64> = (0..=200).map(|i| lightness(viridis(i as f32 / 200.0), v)).collect();
            for w in ls.windows(2) {
                assert!(w[1] >= w[0] - 0.1, "{v:?}: lightness falls from {:.2} to {:.2}", w[0], w[1]);
            }
            // The ends are far apart: ≥ 70 L* between 0 and 1.
            assert!(ls[200] - ls[0] >= 70.0, "{v:?}: {:.1} → {:.1}", ls[0], ls[200]);
        }
        assert_eq!(viridis(0.0), VIRIDIS[0]);
        assert_eq!(viridis(1.0), VIRIDIS[4]);
        assert_eq!(viridis(f32::NAN), VIRIDIS[0]);
    }

    /// The eight expert colours: the closest pair under each vision, against the floor measured
    /// for the table (ΔE, rounded down). Okabe–Ito is built for this; a changed table that brings
    /// two experts closer fails here.
    #[test]
    fn expert_colours_worst_pairs() {
        // Measured worst pairs (ΔE): normal 26.4 (E1 sky blue, E4 blue), protanopia 17.8 (E6
        // pink, E7 grey), deuteranopia 9.6 (E2 bluish green, E7 grey), tritanopia 16.1 (E1 sky
        // blue, E2 bluish green). The charts label experts E0, E1, … as well, so colour is never
        // the only cue.
        let floors = [
            (Vision::Normal, 26.0),
            (Vision::Protanopia, 17.0),
            (Vision::Deuteranopia, 9.0),
            (Vision::Tritanopia, 16.0),
        ];
        for (v, floor) in floors {
            let (d, i, j) = worst_pair(&EXPERTS, v);
            assert!(d >= floor, "{v:?}: E{i} and E{j} are ΔE {d:.1} apart (floor {floor})");
        }
    }

    /// Presentation mode's text colours against its background: WCAG AAA (7:1), and the same
    /// values as the style sheet's present-mode block.
    #[test]
    fn present_mode_text_contrast() {
        for (name, fg, bg) in [
            ("text", PRESENT_FG, PRESENT_BG),
            ("secondary text", PRESENT_MUTED, PRESENT_BG),
            ("accent", PRESENT_ACCENT, PRESENT_BG),
            ("question", PRESENT_FG, PRESENT_QUESTION_BG),
        ] {
            let r = contrast(fg, bg);
            assert!(r >= 7.0, "{name}: {r:.2}:1");
        }
        assert!((contrast((0, 0, 0), (255, 255, 255)) - 21.0).abs() < 1e-9);
        let css = include_str!("../www/style.css");
        let block = &css[css.find(":root[data-present]").expect("the style sheet's present-mode block")..];
        for (var, c) in [
            ("--bg", PRESENT_BG),
            ("--fg", PRESENT_FG),
            ("--muted", PRESENT_MUTED),
            ("--accent", PRESENT_ACCENT),
            ("--question-bg", PRESENT_QUESTION_BG),
        ] {
            let decl = format!("{var}: {};", hex(c));
            assert!(block.contains(&decl), "www/style.css present block lacks `{decl}`");
        }
    }
}
