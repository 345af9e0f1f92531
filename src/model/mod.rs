//! The CPU reference: the same math as the WGSL kernels, written out plainly (no autodiff).
//!
//! Each stage is a function named like its WGSL entry point, reading and writing the buffers its
//! kernel binds, in the same layouts and with the same summation order (the llm.c `dev/cuda` habit:
//! reference, kernel and check in view of each other). Forward stages are in forward.rs, backward
//! ones in backward.rs, each with a doc line naming its kernel's file; [`stages`] gathers them and
//! [`STAGES`] lists them in step order. `forward::forward_routed` and `backward::backward` are those
//! calls in sequence. tests/gpu_parity.rs compares each kernel with its stage buffer by buffer. The
//! optimiser and metrics kernels have their twins in [`adam`], [`routers::Router::update`] and
//! the trainer (src/trainer.rs). The reference is generic over [`Real`] so the finite-difference
//! gradient check can run in f64; the trainer uses f32.
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

/// Lists the stages once: [`STAGES`] (their names) and the module [`stages`] (the functions; a name
/// that is not a function fails to compile).
macro_rules! stages {
    ($($module:ident :: $name:ident),* $(,)?) => {
        /// Every stage of the reference, in the order of `gpu::kernels::STEP`: the name of a function
        /// in [`stages`] and of the WGSL entry point it is the twin of (tests/reference.rs checks
        /// that the two lists agree).
        pub const STAGES: &[&str] = &[$(stringify!($name)),*];

        /// The stage functions in one place, each named like its WGSL entry point.
        pub mod stages {
            $(pub use super::$module::$name;)*
        }
    };
}

stages! {
    forward::embed,
    forward::router,
    forward::route,
    forward::drop_order,
    forward::capacity,
    forward::ffn_hidden,
    forward::ffn_out,
    forward::combine,
    forward::head_mix,
    forward::head,
    forward::loss_token,
    forward::loss_reduce,
    forward::balance_reduce,
    backward::mix_grad,
    backward::head_wgrad,
    backward::head_dx,
    backward::gate_grad,
    backward::ffn_dhidden,
    backward::ffn_wgrad2,
    backward::ffn_wgrad1,
    backward::route_grad,
    backward::router_grad,
    backward::router_wgrad,
    backward::ffn_dx,
    backward::input_grad,
    backward::embed_grad,
}
