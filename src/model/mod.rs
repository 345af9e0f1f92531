//! The CPU reference: the same math as the WGSL kernels, written out plainly (no autodiff).
//!
//! Each stage here has a twin kernel in shaders/ with the same name, the same buffer layout and the
//! same summation order; tests/gpu_parity.rs compares them buffer by buffer. The reference is generic
//! over [`Real`] so the finite-difference gradient check can run in f64; the trainer uses f32.
pub mod adam;
pub mod backward;
pub mod forward;
pub mod params;
pub mod real;
pub mod routers;
pub mod routing;

pub use forward::Forward;
pub use params::{Dims, Layout, Params};
pub use real::Real;
