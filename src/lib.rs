//! MoE Playground: a small Mixture-of-Experts model trained live with WGSL compute kernels
//! (through `wgpu`), and a plain-Rust CPU reference that is the oracle for every kernel.
pub mod config;
pub mod data;
pub mod gpu;
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
