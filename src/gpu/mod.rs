//! The WGSL trainer: wgpu device, buffers by typed handle ([`Buf`]), one pipeline per kernel
//! ([`kernels::Kernel`]), the step encoder and the asynchronous metrics ring. Natively it runs on
//! any wgpu backend (tests use Mesa's lavapipe); in the browser on WebGPU.
pub mod buffers;
pub mod checkpoint;
pub mod device;
pub mod kernels;
pub mod profile;
pub mod trainer;
pub mod uniforms;
pub use crate::wgsl;

pub use buffers::Buf;
pub use checkpoint::Checkpoint;
pub use device::{open, Gpu, GpuError};
pub use profile::{KernelProfile, KernelTime, Timer};
pub use trainer::GpuTrainer;
