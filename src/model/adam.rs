//! Adam with bias correction and optional global-norm clipping (twin of shaders/adam.wgsl).
//! A step whose loss or gradient norm is not finite is skipped: the weights stay as they were.
use super::Real;

#[derive(Clone, Copy, Debug)]
pub struct AdamHyper {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub clip: Option<f32>,
}

/// Global L2 norm of the gradient in the `grad_norm` kernel's order: 256 contiguous chunks, each
/// summed in index order, then the 256 partial sums in order.
pub fn grad_norm(g: &[f32]) -> f32 {
    let n = g.len();
    let chunk = n.div_ceil(256);
    let mut s = 0.0f32;
    for part in 0..256 {
        let i0 = (part * chunk).min(n);
        let i1 = (i0 + chunk).min(n);
        let mut acc = 0.0f32;
        for &x in &g[i0..i1] {
            acc += x * x;
        }
        s += acc;
    }
    s.sqrt()
}

pub fn finite(v: f32) -> bool {
    v.is_finite()
}

/// One Adam update at step `step` (1-based for bias correction). Returns false (and changes
/// nothing) when the loss or the gradient norm is not finite.
pub fn adam_step(w: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32], step: u32, loss: f32, h: AdamHyper) -> bool {
    let norm = grad_norm(g);
    if !finite(loss) || !finite(norm) {
        return false;
    }
    let scale = match h.clip {
        Some(c) if norm > c => c / norm,
        _ => 1.0,
    };
    let bc1 = 1.0 - h.beta1.powi(step as i32);
    let bc2 = 1.0 - h.beta2.powi(step as i32);
    for i in 0..w.len() {
        let gi = g[i] * scale;
        m[i] = h.beta1 * m[i] + (1.0 - h.beta1) * gi;
        v[i] = h.beta2 * v[i] + (1.0 - h.beta2) * gi * gi;
        let mh = m[i] / bc1;
        let vh = v[i] / bc2;
        w[i] -= h.lr * mh / (vh.sqrt() + h.eps);
    }
    true
}

/// Generic helper for tests: L2 norm in any precision.
pub fn norm<F: Real>(g: &[F]) -> f64 {
    g.iter().map(|x| x.f64() * x.f64()).sum::<f64>().sqrt()
}
