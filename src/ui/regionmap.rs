//! The region map of the `regions` data set, computed on the CPU from the model's weights: every
//! point of an n × n grid over [−1, 1]² goes through the reference forward pass, and the map keeps
//! the expert it routes to (top-1) and the model's predicted class, like TensorFlow Playground's
//! decision map. Pure Rust, no browser APIs: the page calls it with weights read from either backend.
use crate::data::{regions, Batch, CTX};
use crate::model::forward::forward;
use crate::model::routing::softmax;
use crate::model::{Dims, Layout, Params};

/// Grid cells per side.
pub const GRID: usize = 40;

/// Routing and prediction over the grid, row-major from the top-left corner (x = −1, y = +1).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RegionMap {
    /// Cells per side.
    pub n: usize,
    pub experts: usize,
    /// Training step the weights are from.
    pub step: u32,
    /// [n·n] top-1 expert of each cell.
    pub expert: Vec<u32>,
    /// [n·n] router probability of that expert.
    pub gate: Vec<f32>,
    /// [n·n] model probability of class 1.
    pub p1: Vec<f32>,
}

/// Centre of grid cell (i = column, j = row from the top) of an n × n grid over [−1, 1]².
pub fn cell_center(n: usize, i: usize, j: usize) -> (f32, f32) {
    let s = 2.0 / n as f32;
    (-1.0 + (i as f32 + 0.5) * s, 1.0 - (j as f32 + 0.5) * s)
}

/// The batch of every grid point, row-major, labelled by the data set's rule.
pub fn grid_batch(n: usize) -> Batch {
    let mut b = Batch { inputs: Vec::with_capacity(n * n * CTX), targets: vec![], domains: vec![] };
    for j in 0..n {
        for i in 0..n {
            let (x, y) = cell_center(n, i, j);
            let (label, dom) = regions::label(x, y);
            b.inputs.extend_from_slice(&[x.to_bits(), y.to_bits(), 0, 0]);
            b.targets.push(label);
            b.domains.push(dom);
        }
    }
    b
}

/// Parameters from a raw little-endian f32 buffer (the GPU's `params`, possibly padded) laid out as
/// `Layout::new(&dims)`; `None` when the buffer is too short (a failed readback).
pub fn params_from_bytes(dims: Dims, bytes: &[u8]) -> Option<Params<f32>> {
    let layout = Layout::new(&dims);
    if bytes.len() < layout.total * 4 {
        return None;
    }
    let w = bytes.chunks_exact(4).take(layout.total).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    Some(Params { dims, layout, w })
}

/// The map for `params` (a `regions` model) at live top-k `params.dims.k`, without capacity limits:
/// each cell shows where the router sends that point and what the model then predicts.
pub fn compute(params: &Params<f32>, n: usize, step: u32) -> RegionMap {
    let b = grid_batch(n);
    let rows = b.len();
    let fw = forward(params, &b, rows);
    let (e, kk, v) = (params.dims.e, params.dims.kmax, params.dims.v);
    let mut map = RegionMap { n, experts: e, step, ..Default::default() };
    for t in 0..rows {
        // Rank 0 is always chosen (k ≥ 1), whatever the capacity.
        let top = fw.topk[t * kk];
        map.expert.push(top);
        map.gate.push(fw.probs[t * e + top as usize]);
        let p1 = softmax(&fw.out[t * v..(t + 1) * v]).0[1];
        map.p1.push(if p1.is_finite() { p1 } else { 0.5 });
    }
    map
}
