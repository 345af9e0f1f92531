//! MoE Playground: a small Mixture-of-Experts model trained live with WGSL compute kernels
//! (through `wgpu`), and a plain-Rust CPU reference that is the oracle for every kernel.
//!
//! The modules in layers, lowest first; a module names only modules of a lower layer or listed
//! before it in its own (tests/layers.rs holds this table and checks it, so there are no cycles):
//! - core: rng, palette, config (with the router registry), knobs, setting (the one knob change)
//! - data: data
//! - model: model, regionmap, wgsl (the shaders' constants, generated)
//! - train: metrics, history, trainer, gpu, upcycle
//! - app: presets, cards (the chart cards' table), lessons, page, session (the training session the page drives)
//! - ui/bin: ui (wasm only), src/bin/moe-train.rs, src/main.rs
pub mod cards;
pub mod config;
pub mod data;
pub mod gpu;
pub mod hints;
pub mod history;
pub mod knobs;
pub mod lessons;
pub mod metrics;
pub mod model;
pub mod page;
pub mod palette;
pub mod presets;
pub mod regionmap;
pub mod rng;
pub mod session;
pub mod setting;
pub mod trainer;
#[cfg(target_arch = "wasm32")]
pub mod ui;
pub mod upcycle;
pub mod wgsl;
