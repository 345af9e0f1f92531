//! The region map of the `regions` data set, computed on the CPU from the model's weights: every
//! point of an n × n grid over [−1, 1]² goes through the reference forward pass, and the map keeps
//! the expert it routes to (top-1) and the model's predicted class, like TensorFlow Playground's
//! decision map. Pure Rust, no browser APIs: the page calls it with weights read from either backend,
//! and examples/mixture_regions.rs measures with it how experts share the plane.
use crate::data::{regions, Batch, CTX};
use crate::model::forward::forward;
use crate::model::routing::softmax;
use crate::model::{Dims, Layout, Params};

/// Grid cells per side.
pub const GRID: usize = 40;

/// Routing and prediction over the grid, row-major from the top-left corner (x = −1, y = +1).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
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

/// How the experts share the plane in a region map: the mean of the largest gate per cell (1/E:
/// every expert weighted alike; 1: one expert per point), and for each quadrant (Q1 x ≥ 0, y ≥ 0,
/// then counter-clockwise) the expert that is top-1 on most of its cells and the share of its cells
/// it has.
#[derive(Clone, Debug, PartialEq)]
pub struct Ownership {
    pub mean_max_gate: f32,
    pub owner: [u32; 4],
    pub purity: [f32; 4],
}

impl Ownership {
    /// Experts that own at least one quadrant.
    pub fn owners(&self) -> usize {
        let mut o = self.owner.to_vec();
        o.sort_unstable();
        o.dedup();
        o.len()
    }
}

impl RegionMap {
    /// [`Ownership`] of this map (n even, so every cell lies in one quadrant).
    pub fn ownership(&self) -> Ownership {
        let n = self.n;
        let mut votes = vec![[0usize; 4]; self.experts.max(1)];
        let mut cells = [0usize; 4];
        for j in 0..n {
            for i in 0..n {
                let (x, y) = cell_center(n, i, j);
                let q = match (x >= 0.0, y >= 0.0) {
                    (true, true) => 0,
                    (false, true) => 1,
                    (false, false) => 2,
                    (true, false) => 3,
                };
                votes[self.expert[j * n + i] as usize][q] += 1;
                cells[q] += 1;
            }
        }
        let mut owner = [0u32; 4];
        let mut purity = [0f32; 4];
        for q in 0..4 {
            let best = (0..votes.len()).max_by_key(|&e| (votes[e][q], std::cmp::Reverse(e))).unwrap_or(0);
            owner[q] = best as u32;
            purity[q] = votes[best][q] as f32 / cells[q].max(1) as f32;
        }
        let mean_max_gate = self.gate.iter().sum::<f32>() / self.gate.len().max(1) as f32;
        Ownership { mean_max_gate, owner, purity }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ownership_of_a_tiled_and_a_shared_plane() {
        let n = 4;
        // Tiled: expert = quadrant, gate 0.9 everywhere.
        let mut map = RegionMap { n, experts: 4, ..Default::default() };
        for j in 0..n {
            for i in 0..n {
                let (x, y) = cell_center(n, i, j);
                let q = match (x >= 0.0, y >= 0.0) {
                    (true, true) => 0,
                    (false, true) => 1,
                    (false, false) => 2,
                    (true, false) => 3,
                };
                map.expert.push(q);
                map.gate.push(0.9);
            }
        }
        let o = map.ownership();
        assert_eq!((o.owner, o.owners(), o.purity), ([0, 1, 2, 3], 4, [1.0; 4]));
        assert!((o.mean_max_gate - 0.9).abs() < 1e-6);
        // Shared: expert 2 on every cell but one.
        map.expert = vec![2; n * n];
        map.expert[0] = 1;
        let o = map.ownership();
        assert_eq!((o.owner, o.owners()), ([2; 4], 1));
        assert_eq!(o.purity[1], 0.75);
    }
}
