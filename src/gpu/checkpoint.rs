//! Checkpoints of the WGSL trainer: everything a step reads from the steps before it, read back
//! without stalling the queue, so that a trainer whose device is lost can be rebuilt on a new
//! device and go on from the last checkpoint exactly as it would have (same numbers: the batches,
//! the held-out schedule and the optimiser's bias correction all follow the restored counters).
//!
//! What persists across steps: the weights, Adam's two moments, `state` (step counters, the
//! held-out evaluation's running sums), `rstate` (the loss-free router's bias), and the metrics
//! window (`win_f`, `win_u`). Every other buffer is rewritten by each step before it is read.
use super::buffers::Buf;
use super::device::open;
use super::trainer::{GpuTrainer, FAILED, MAPPING, READY};
use crate::config::Config;
use crate::model::{Dims, Layout, Params};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

/// The buffers a checkpoint holds (see the module docs).
pub const KEPT: [Buf; 7] = [Buf::Params, Buf::AdamM, Buf::AdamV, Buf::State, Buf::Rstate, Buf::WinF, Buf::WinU];

/// A trainer's state after `step` steps, with the config (live knobs included) it trained under.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    pub cfg: Config,
    pub step: u32,
    /// The bytes of each buffer of [`KEPT`], in that order.
    pub buffers: Vec<(Buf, Vec<u8>)>,
}

impl Checkpoint {
    /// The weights it holds.
    pub fn params(&self) -> Params<f32> {
        let dims = Dims::new(&self.cfg);
        let layout = Layout::new(&dims);
        let bytes = &self.buffers.iter().find(|(b, _)| *b == Buf::Params).expect("a checkpoint holds the weights").1;
        Params { dims, layout, w: bytemuck::cast_slice(bytes).to_vec() }
    }

    /// Bytes it holds (the page keeps one per run).
    pub fn size(&self) -> usize {
        self.buffers.iter().map(|(_, b)| b.len()).sum()
    }
}

impl GpuTrainer {
    /// Copy the state after the steps enqueued so far into a staging buffer and start mapping it;
    /// false (nothing done) while the previous checkpoint is still on its way.
    pub fn request_checkpoint(&mut self) -> bool {
        if self.checkpoint.is_some() {
            return false;
        }
        let size: u64 = KEPT.iter().map(|&b| self.buffers[b].size()).sum();
        let staging = self.gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("checkpoint"),
            size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc = self.gpu.device.create_command_encoder(&Default::default());
        let mut at = 0;
        for b in KEPT {
            let src = &self.buffers[b];
            enc.copy_buffer_to_buffer(src, 0, &staging, at, src.size());
            at += src.size();
        }
        self.gpu.queue.submit([enc.finish()]);
        let state = Arc::new(AtomicU8::new(MAPPING));
        let flag = state.clone();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            flag.store(if r.is_ok() { READY } else { FAILED }, Ordering::Release);
        });
        self.checkpoint = Some((self.steps, staging, state));
        true
    }

    /// A checkpoint was requested and has not been collected yet.
    pub fn checkpoint_pending(&self) -> bool {
        self.checkpoint.is_some()
    }

    /// The requested checkpoint once it is mapped (never blocks); a failed map drops it.
    pub fn poll_checkpoint(&mut self) -> Option<Checkpoint> {
        #[cfg(not(target_arch = "wasm32"))]
        let _ = self.gpu.device.poll(wgpu::PollType::Poll);
        let state = self.checkpoint.as_ref()?.2.load(Ordering::Acquire);
        if state != READY && state != FAILED {
            return None;
        }
        let (step, staging, _) = self.checkpoint.take()?;
        if state == FAILED {
            return None;
        }
        let buffers = {
            let view = staging.get_mapped_range(..).ok()?;
            let mut at = 0;
            KEPT.iter()
                .map(|&b| {
                    let len = self.buffers[b].size() as usize;
                    at += len;
                    (b, view[at - len..at].to_vec())
                })
                .collect()
        };
        staging.unmap();
        staging.destroy();
        Some(Checkpoint { cfg: self.cfg.clone(), step, buffers })
    }

    /// Natively: wait for the requested checkpoint.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn wait_checkpoint(&mut self) -> Option<Checkpoint> {
        let _ = self.gpu.device.poll(wgpu::PollType::wait_indefinitely());
        self.poll_checkpoint()
    }

    /// A trainer on a newly opened device that goes on from `ck`.
    pub async fn resume(ck: &Checkpoint) -> Result<GpuTrainer, String> {
        ck.cfg.validate().map_err(|e| e.to_string())?;
        let gpu = open().await.map_err(|e| e.to_string())?;
        let mut tr = GpuTrainer::build(&ck.cfg, &ck.params(), gpu);
        for &(name, ref bytes) in &ck.buffers {
            match tr.buffers.get(name) {
                Some(b) if b.size() as usize == bytes.len() => tr.gpu.queue.write_buffer(b, 0, bytes),
                _ => return Err(format!("the checkpoint's {name} does not fit this model")),
            }
        }
        tr.steps = ck.step;
        Ok(tr)
    }
}
