//! The presets, defined once: the CLI's `--preset NAME` and the page's preset menu read this table.
use crate::config::{Config, Dataset};

pub struct Preset {
    /// Stable id (CLI flag value, URL value).
    pub name: &'static str,
    /// Menu title.
    pub title: &'static str,
    /// What to watch for, shown when the preset is chosen.
    pub watch: &'static str,
    /// The knobs, from the defaults.
    pub apply: fn(&mut Config),
}

pub const PRESETS: &[Preset] = &[
    Preset {
        name: "balanced",
        title: "Balanced (Switch top-1, α = 0.01)",
        watch:
            "The balance loss pulls every expert toward a fair share of 1/E: the first few hundred steps are uneven \
                (up to half the experts nearly idle while the task gradient dominates), then by step ~1100 the load \
                entropy is ≥ 0.95, the balance loss sits near 1 and under 10 % of assignments are dropped.",
        apply: |c| {
            c.top_k = 1;
            c.capacity_factor = 1.25;
            c.alpha = 0.01;
        },
    },
    Preset {
        name: "collapse",
        title: "Collapse: balance loss off",
        watch: "With α = 0 the router feeds its own winners: within a few hundred steps one or two experts take most \
                tokens, others starve, and the overloaded experts drop tokens at their capacity.",
        apply: |c| {
            c.top_k = 1;
            c.capacity_factor = 1.25;
            c.alpha = 0.0;
        },
    },
    Preset {
        name: "capacity-squeeze",
        title: "Capacity squeeze (cf = 0.5)",
        watch: "Each expert takes at most half a fair share: at least half of the assignments are dropped and ride \
                the residual stream; the loss pays for it.",
        apply: |c| {
            c.top_k = 1;
            c.capacity_factor = 0.5;
            c.alpha = 0.01;
        },
    },
    Preset {
        name: "mixtral",
        title: "Mixtral top-2",
        watch: "Every token goes to two experts with renormalised gates; the heatmap shows two outlined cells per row.",
        apply: |c| {
            c.top_k = 2;
            c.capacity_factor = 1.25;
            c.alpha = 0.01;
        },
    },
    Preset {
        name: "dropless",
        title: "Dropless (cf = ∞)",
        watch: "No assignment is ever dropped, however unbalanced the load: capacity is the whole batch.",
        apply: |c| {
            c.top_k = 1;
            c.capacity_factor = f32::INFINITY;
            c.alpha = 0.01;
        },
    },
    Preset {
        name: "dead-experts",
        title: "Dead experts (regions, α = 0)",
        watch: "A linear router over 2-D points splits the plane into a few wedges and leaves 2–3 of the 8 experts \
                unused from the first steps. Turn the balance loss on (α = 0.1): every expert comes back and accuracy \
                rises (measured at step 2000: 0.78–0.85 with α = 0, 0.88–0.92 with α = 0.1).",
        apply: |c| {
            c.dataset = Dataset::Regions;
            c.top_k = 1;
            c.capacity_factor = 1.25;
            c.alpha = 0.0;
            c.tokens = 512;
            c.lr = 1e-2;
        },
    },
];

pub fn find(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}

/// The config of a preset, from the defaults.
pub fn config(name: &str) -> Option<Config> {
    find(name).map(|p| {
        let mut c = Config::default();
        (p.apply)(&mut c);
        c
    })
}

pub fn names() -> Vec<&'static str> {
    PRESETS.iter().map(|p| p.name).collect()
}
