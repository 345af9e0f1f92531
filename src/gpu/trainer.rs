//! `GpuTrainer`: every step of training as WGSL compute passes.
//!
//! Per step the CPU only records dispatches; the batch index, the step counters and the Adam step
//! live on the GPU (`state`), so many steps go into one submit and the uniform block is written only
//! when a knob changes. Metrics accumulate on the GPU and are copied, on request, into a ring of
//! staging buffers mapped asynchronously; nothing waits on a readback.
use super::buffers::Buf;
use super::device::{open, Gpu, GpuError};
use super::kernels::{self, BindKind, Kernel};
use super::uniforms::Uniforms;
use crate::config::{Config, ConfigError, LiveKnobs};
use crate::data::{Pool, CTX, EVAL_N, EX_WORDS, PROBE};
use crate::metrics::{snap_words, Probe, Snapshot};
use crate::model::{Dims, Layout, Params};
#[cfg(not(target_arch = "wasm32"))]
use crate::trainer::Trace;
use crate::trainer::{argmax, Trainer};
use std::collections::{HashMap, VecDeque};
use std::ops::Index;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

/// Words of `stats`: losses (8), f and P (64 each), cv2's importance, load and their gradients
/// (64 each).
pub const STATS_WORDS: usize = 8 + 128 + 256;

/// Words of `rstate` for `rows` rows and `e` experts: the router bias (`RS_BIAS`, 64), then [rows, E]
/// each: the noise logits, their gradient, the unit's direct logit gradient, ε, the smooth load
/// estimate and its argument, the mixture's posterior; then [rows] the (k+1)-th expert
/// (shaders/common.wgsl `RS_*`, `rs_*`).
pub fn rstate_words(rows: usize, e: usize) -> usize {
    rstate_part(rows, e, "next").end
}

/// The [rows, E] parts of `rstate` by name, each with its index (shaders/common.wgsl `RS_*`: part
/// `i` at `RS_BIAS + i·rows·E`).
pub const RSTATE_PARTS: &[(&str, u32)] = {
    use crate::wgsl::common::*;
    &[
        ("nlog", RS_NLOG),
        ("dn", RS_DN),
        ("dl", RS_DL),
        ("eps", RS_EPS),
        ("pload", RS_PLOAD),
        ("pz", RS_PZ),
        ("post", RS_POST),
    ]
};

/// The words of part `name` of `rstate` (one of [`RSTATE_PARTS`], or "next": [rows] after them).
pub fn rstate_part(rows: usize, e: usize, name: &str) -> std::ops::Range<usize> {
    use crate::wgsl::common::{RS_BIAS, RS_PARTS};
    let (bias, te) = (RS_BIAS as usize, rows * e);
    match RSTATE_PARTS.iter().find(|p| p.0 == name) {
        Some(&(_, i)) => bias + i as usize * te..bias + (i as usize + 1) * te,
        None if name == "next" => bias + RS_PARTS as usize * te..bias + RS_PARTS as usize * te + rows,
        None => panic!("no rstate part {name}"),
    }
}

// RSTATE_PARTS names every part of shaders/common.wgsl's rstate once, in order, and its bias has a
// word per expert.
const _: () = {
    use crate::wgsl::common::{MAXE, RS_BIAS, RS_PARTS};
    assert!(RSTATE_PARTS.len() == RS_PARTS as usize, "RSTATE_PARTS: not every part of shaders/common.wgsl's rstate");
    let mut i = 0;
    while i < RSTATE_PARTS.len() {
        assert!(RSTATE_PARTS[i].1 as usize == i, "RSTATE_PARTS: out of shaders/common.wgsl's order");
        i += 1;
    }
    assert!(RS_BIAS == MAXE, "shaders/common.wgsl RS_BIAS: a bias word per expert");
};

/// Staging buffers in the metrics ring.
const RING: usize = 3;
pub(super) const IDLE: u8 = 0;
pub(super) const MAPPING: u8 = 1;
pub(super) const READY: u8 = 2;
pub(super) const FAILED: u8 = 3;

/// A kernel's pipeline and bind groups.
struct Compiled {
    pipeline: wgpu::ComputePipeline,
    /// One bind group per mode, differing only in the uniform block.
    train: wgpu::BindGroup,
    probe: wgpu::BindGroup,
    eval: wgpu::BindGroup,
}

/// Which batch a recorded kernel works on: the training batch (T rows), the probe batch (64 rows)
/// or a chunk of the held-out evaluation set (T rows).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Train,
    Probe,
    Eval,
}

/// The training step's routing buffers, copied after the last step of every `train` call (so the
/// probe and evaluation passes that reuse the forward buffers cannot overwrite them), with the
/// words each holds for T rows: (source buffer, copy, words).
fn trace_copies(m: &Dims) -> Vec<(Buf, Buf, usize)> {
    vec![
        (Buf::Logits, Buf::TrLogits, m.t * m.e),
        (Buf::Scores, Buf::TrScores, m.t * m.e),
        (Buf::Rkey, Buf::TrRkey, m.t * 2),
        (Buf::Probs, Buf::TrProbs, m.t * m.e),
        (Buf::Topk, Buf::TrTopk, m.t * m.kmax),
        (Buf::Gates, Buf::TrGates, m.t * m.kmax),
        (Buf::Slot, Buf::TrSlot, m.t * m.kmax),
        (Buf::Counts, Buf::TrCounts, m.n_experts()),
        (Buf::Kept, Buf::TrKept, m.n_experts()),
        (Buf::Stats, Buf::TrStats, STATS_WORDS),
    ]
}

/// Every buffer of a trainer, by [`Buf`] (`None` never survives `GpuTrainer::build`).
pub(super) struct Buffers(Vec<Option<wgpu::Buffer>>);

impl Buffers {
    pub(super) fn get(&self, buf: Buf) -> Option<&wgpu::Buffer> {
        self.0[buf as usize].as_ref()
    }
}

impl Index<Buf> for Buffers {
    type Output = wgpu::Buffer;
    fn index(&self, buf: Buf) -> &wgpu::Buffer {
        self.get(buf).unwrap_or_else(|| panic!("buffer {buf} was never created"))
    }
}

struct RingSlot {
    buffer: wgpu::Buffer,
    state: Arc<AtomicU8>,
}

/// Keep the first error.
fn record(sink: &Mutex<Option<String>>, msg: String) {
    let mut s = sink.lock().unwrap_or_else(|p| p.into_inner());
    if s.is_none() {
        *s = Some(msg);
    }
}

/// Probe buffers copied after the snapshot record: (buffer, words).
fn probe_copies(m: &Dims) -> Vec<(Buf, usize)> {
    vec![
        (Buf::Probs, PROBE * m.e),
        (Buf::Topk, PROBE * m.kmax),
        (Buf::Gates, PROBE * m.kmax),
        (Buf::Slot, PROBE * m.kmax),
        (Buf::Inp, PROBE * CTX),
        (Buf::Tgt, PROBE),
        (Buf::Dom, PROBE),
        (Buf::Outp, PROBE * m.v),
    ]
}

pub struct GpuTrainer {
    pub(super) cfg: Config,
    dims: Dims,
    layout: Layout,
    pool_n: usize,
    pub(super) gpu: Gpu,
    pub(super) buffers: Buffers,
    u_train: wgpu::Buffer,
    u_probe: wgpu::Buffer,
    u_eval: wgpu::Buffer,
    /// Indexed by `Kernel as usize`.
    kernels: Vec<Compiled>,
    pub(super) steps: u32,
    /// (step, k, capacity) of the step whose routing the `tr_*` buffers hold.
    traced: Option<(u32, usize, u32, crate::config::RouterKind)>,
    ring: Vec<RingSlot>,
    pending: VecDeque<usize>,
    error: Arc<Mutex<Option<String>>>,
    /// The device was lost (not dropped by us).
    lost: Arc<AtomicBool>,
    /// A checkpoint on its way back: its step, staging buffer and map state.
    pub(super) checkpoint: Option<(u32, wgpu::Buffer, Arc<AtomicU8>)>,
}

impl GpuTrainer {
    /// Open the best adapter and build a trainer for `cfg` (its dense twin when `cfg.dense_twin`
    /// says so) with the seed's initial weights.
    pub async fn new(cfg: &Config) -> Result<GpuTrainer, String> {
        cfg.validate().map_err(|e| e.to_string())?;
        let cfg = cfg.resolved();
        let params = Params::init(Dims::new(&cfg), cfg.seed);
        Self::with_params(&cfg, &params).await
    }

    /// Build from given parameters (tests start both backends from the same random weights); `cfg`
    /// must be resolved (`Config::resolved`) and match the parameters' shapes.
    pub async fn with_params(cfg: &Config, params: &Params<f32>) -> Result<GpuTrainer, String> {
        cfg.validate().map_err(|e| e.to_string())?;
        let gpu = open().await.map_err(|e: GpuError| e.to_string())?;
        Ok(Self::build(cfg, params, gpu))
    }

    pub(super) fn build(cfg: &Config, params: &Params<f32>, gpu: Gpu) -> GpuTrainer {
        let dims = Dims::new(cfg);
        let layout = Layout::new(&dims);
        let pool = Pool::for_config(cfg);
        let device = &gpu.device;
        let error = Arc::new(Mutex::new(None));
        let sink = error.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| record(&sink, e.to_string())));
        // A lost device (driver reset, GPU process crash, tab in the background too long, a script
        // calling destroy()) is reported, and the page recovers from its last checkpoint; our own
        // drop of the device (`Gpu::drop`) is not a loss.
        let (sink, lost, closing) = (error.clone(), Arc::new(AtomicBool::new(false)), gpu.closing.clone());
        let flag = lost.clone();
        device.set_device_lost_callback(move |reason, msg| {
            if !closing.load(Ordering::Acquire) {
                flag.store(true, Ordering::Release);
                record(&sink, format!("the GPU device was lost ({reason:?}): {msg}"));
            }
        });

        // Every buffer the kernels bind, by its WGSL name. Usage: STORAGE for the kernels, COPY_SRC
        // for readback and snapshots, COPY_DST for uploads. wgpu zero-initialises them, which is the
        // right start for Adam's moments, the step counters and the metrics window.
        let rows = dims.t.max(PROBE);
        let (e, kk, n, xe) = (dims.e, dims.kmax, layout.total, dims.n_experts());
        let mixture = !cfg.router.info().capacity;
        let mut sizes: Vec<(Buf, usize)> = vec![
            (Buf::Pool, pool.words.len() + pool.eval.len()),
            (Buf::ProbePool, PROBE * EX_WORDS),
            (Buf::State, crate::wgsl::common::ST_WORDS as usize),
            (Buf::Inp, rows * CTX),
            (Buf::Tgt, rows),
            (Buf::Dom, rows),
            (Buf::Params, n),
            (Buf::Grads, n),
            (Buf::AdamM, n),
            (Buf::AdamV, n),
            (Buf::X0, rows * dims.d),
            (Buf::X, rows * dims.d),
            (Buf::Logits, rows * e),
            (Buf::Probs, rows * e),
            (Buf::Lse, rows),
            (Buf::Topk, rows * kk),
            (Buf::Gates, rows * kk),
            (Buf::Slot, rows * kk),
            (Buf::Counts, xe),
            (Buf::Kept, xe),
            (Buf::Lists, xe * rows),
            (Buf::Hid, rows * kk * dims.h),
            (Buf::Y, rows * kk * dims.d),
            (Buf::H, rows * dims.d),
            (Buf::Outp, rows * dims.v),
            (Buf::CeT, rows),
            (Buf::Correct, rows),
            (Buf::Dout, rows * dims.v),
            (Buf::Stats, STATS_WORDS),
            (Buf::Rkey, rows * 2),
            (Buf::Scores, rows * e),
            (Buf::Order, rows),
            (Buf::Rstate, rstate_words(rows, e)),
            (Buf::Dh, rows * dims.d),
            // The competitive mixture loss's buffers: only the dense mixture can switch it on.
            (Buf::Outm, if mixture { rows * kk * dims.v } else { 1 }),
            (Buf::Doutm, if mixture { rows * kk * dims.v } else { 1 }),
            (Buf::Dhm, if mixture { rows * kk * dims.d } else { 1 }),
            (Buf::Dg, rows * kk),
            (Buf::Dpre, rows * kk * dims.h),
            (Buf::Dlog, rows * e),
            (Buf::Dxa, rows * kk * dims.d),
            (Buf::Dx, rows * dims.d),
            (Buf::Gnorm, 4),
            (Buf::WinF, crate::wgsl::metrics::WF_WORDS as usize),
            (Buf::WinU, crate::wgsl::metrics::WU_WORDS as usize),
            (Buf::Snap, snap_words(crate::wgsl::common::MAXE as usize)),
        ];
        sizes.extend(trace_copies(&dims).into_iter().map(|(_, copy, words)| (copy, words)));
        sizes.push((Buf::TrBias, e));
        let mut buffers = Buffers(Buf::ALL.iter().map(|_| None).collect());
        for (b, words) in sizes {
            let buf = device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(b.name()),
                size: (words.max(1) * 4) as u64,
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            assert!(buffers.0[b as usize].replace(buf).is_none(), "buffer {b} sized twice");
        }
        if let Some(b) = Buf::ALL.iter().find(|b| buffers.get(**b).is_none()) {
            panic!("buffer {b} has no size");
        }
        gpu.queue.write_buffer(&buffers[Buf::Pool], 0, bytemuck::cast_slice(&pool.words));
        gpu.queue.write_buffer(&buffers[Buf::Pool], (pool.words.len() * 4) as u64, bytemuck::cast_slice(&pool.eval));
        gpu.queue.write_buffer(&buffers[Buf::ProbePool], 0, bytemuck::cast_slice(&pool.probe));
        gpu.queue.write_buffer(&buffers[Buf::Params], 0, bytemuck::cast_slice(&params.w));
        // Uniform blocks: UNIFORM for the kernels, COPY_DST so live knobs can be rewritten.
        let mk_uniform = |label| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: std::mem::size_of::<Uniforms>() as u64,
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        };
        let u_train = mk_uniform("uniforms-train");
        let u_probe = mk_uniform("uniforms-probe");
        let u_eval = mk_uniform("uniforms-eval");

        // One pipeline per entry point, with an explicit layout from the reflected bindings.
        let mut modules = HashMap::new();
        for (family, _) in kernels::FAMILIES {
            let src = kernels::source(family).expect("family source");
            let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(family),
                source: wgpu::ShaderSource::Wgsl(src.into()),
            });
            modules.insert(*family, module);
        }
        let mut kernels_map = Vec::with_capacity(kernels::KERNELS.len());
        for info in kernels::KERNELS {
            let entries: Vec<wgpu::BindGroupLayoutEntry> = info
                .bindings
                .iter()
                .map(|b| wgpu::BindGroupLayoutEntry {
                    binding: b.binding,
                    visibility: wgpu::ShaderStages::COMPUTE,
                    ty: wgpu::BindingType::Buffer {
                        ty: match b.kind {
                            BindKind::Uniform => wgpu::BufferBindingType::Uniform,
                            BindKind::StorageRead => wgpu::BufferBindingType::Storage { read_only: true },
                            BindKind::StorageRw => wgpu::BufferBindingType::Storage { read_only: false },
                        },
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                    count: None,
                })
                .collect();
            let bgl = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some(info.entry),
                entries: &entries,
            });
            let pl = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some(info.entry),
                bind_group_layouts: &[Some(&bgl)],
                immediate_size: 0,
            });
            let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(info.entry),
                layout: Some(&pl),
                module: &modules[info.family],
                entry_point: Some(info.entry),
                compilation_options: Default::default(),
                cache: None,
            });
            let bind = |uniform: &wgpu::Buffer| {
                let entries: Vec<wgpu::BindGroupEntry> = info
                    .bindings
                    .iter()
                    .map(|b| wgpu::BindGroupEntry {
                        binding: b.binding,
                        resource: match b.buf {
                            None => uniform.as_entire_binding(),
                            Some(buf) => buffers[buf].as_entire_binding(),
                        },
                    })
                    .collect();
                device.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: Some(info.entry),
                    layout: &bgl,
                    entries: &entries,
                })
            };
            let (train, probe, eval) = (bind(&u_train), bind(&u_probe), bind(&u_eval));
            kernels_map.push(Compiled { pipeline, train, probe, eval });
        }

        let staging_words = snap_words(e) + probe_copies(&dims).iter().map(|c| c.1).sum::<usize>();
        let ring = (0..RING)
            .map(|i| RingSlot {
                // MAP_READ | COPY_DST: the snapshot record and probe rows are copied in, then mapped.
                buffer: device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some(&format!("metrics-ring-{i}")),
                    size: (staging_words * 4) as u64,
                    usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                }),
                state: Arc::new(AtomicU8::new(IDLE)),
            })
            .collect();
        let mut tr = GpuTrainer {
            cfg: cfg.clone(),
            dims,
            layout,
            pool_n: pool.len(),
            gpu,
            buffers,
            u_train,
            u_probe,
            u_eval,
            kernels: kernels_map,
            steps: 0,
            traced: None,
            ring,
            pending: VecDeque::new(),
            error,
            lost,
            checkpoint: None,
        };
        tr.write_uniforms();
        tr
    }

    fn write_uniforms(&mut self) {
        let (cfg, dims, layout, n) = (&self.cfg, &self.dims, &self.layout, self.pool_n);
        let ut = Uniforms::new(cfg, dims, layout, n, dims.t, 0);
        let up = Uniforms::new(cfg, dims, layout, n, PROBE, 1);
        let ue = Uniforms::new(cfg, dims, layout, n, dims.t, 2);
        self.gpu.queue.write_buffer(&self.u_train, 0, bytemuck::bytes_of(&ut));
        self.gpu.queue.write_buffer(&self.u_probe, 0, bytemuck::bytes_of(&up));
        self.gpu.queue.write_buffer(&self.u_eval, 0, bytemuck::bytes_of(&ue));
    }

    /// Continue at training step `step` (upcycling: the MoE takes over after the dense phase's
    /// steps): `state`'s step counter, which picks the batches, and the held-out schedule continue
    /// from it; the optimiser stays fresh (zero moments, bias correction from its first update).
    pub fn start_at(&mut self, step: u32) {
        self.gpu.queue.write_buffer(&self.buffers[Buf::State], 0, bytemuck::cast_slice(&[step]));
        self.steps = step;
    }

    /// The current weights (awaits the readback); None if the readback failed.
    pub async fn read_params(&self) -> Option<Params<f32>> {
        let bytes = self.read_bytes(Buf::Params).await;
        (bytes.len() == self.layout.total * 4).then(|| Params {
            dims: self.dims,
            layout: self.layout.clone(),
            w: bytemuck::cast_slice(&bytes).to_vec(),
        })
    }

    /// A new trainer for `cfg` (resolved) starting from `params`, on this trainer's device, which
    /// it consumes (upcycling swaps the dense trainer for the MoE without opening a new device).
    pub fn rebuild_with(self, cfg: &Config, params: &Params<f32>) -> GpuTrainer {
        Self::build(cfg, params, self.gpu)
    }

    /// Snapshots requested and not yet returned.
    pub fn snapshots_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The adapter in use.
    pub fn adapter(&self) -> &str {
        &self.gpu.adapter
    }

    /// The device was lost (a driver reset, the browser's GPU process restarting, a script calling
    /// `destroy()`): the trainer is dead; [`GpuTrainer::resume`] builds another from a checkpoint.
    pub fn lost(&self) -> bool {
        self.lost.load(Ordering::Acquire)
    }

    /// Destroy the device as a driver reset would (tests of the recovery path).
    pub fn destroy_device(&self) {
        self.gpu.device.destroy();
    }

    /// The first GPU validation or device error, if any happened.
    pub fn error(&self) -> Option<String> {
        self.error.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn dims(&self) -> Dims {
        self.dims
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Record `entries` into a compute pass with the uniforms of `mode`. wgpu orders the dispatches:
    /// each one sees the previous one's storage writes.
    pub(super) fn record(&self, pass: &mut wgpu::ComputePass, entries: &[Kernel], mode: Mode) {
        let m = Dims {
            t: if mode == Mode::Probe { PROBE } else { self.dims.t },
            k: self.cfg.routed_k(),
            mix: self.cfg.competitive(),
            ..self.dims
        };
        let slots = kernels::expert_slots(&self.cfg, m.shared, m.t);
        let bias = self.cfg.router.info().has_bias;
        for &entry in entries {
            let grid = kernels::grid(entry, &m, self.layout.total, slots);
            // A kernel with nothing to do is not dispatched (each dispatch costs tens of µs on the
            // software GPUs): the mixture kernels when the competitive loss is off, and the router's
            // per-step update for routers without a bias (their WGSL update is empty).
            if grid == kernels::Grid::Threads(0) || (entry == Kernel::RouteUpdate && !bias) {
                continue;
            }
            let k = &self.kernels[entry as usize];
            pass.set_pipeline(&k.pipeline);
            pass.set_bind_group(
                0,
                match mode {
                    Mode::Train => &k.train,
                    Mode::Probe => &k.probe,
                    Mode::Eval => &k.eval,
                },
                &[],
            );
            let (x, y) = kernels::workgroups(&grid);
            pass.dispatch_workgroups(x, y, 1);
        }
    }

    /// Run the given kernels once (tests run single kernels against their CPU twins), with the
    /// probe (true) or the training (false) uniforms.
    pub fn run_kernels(&mut self, entries: &[Kernel], probe: bool) {
        self.run_kernels_in(entries, if probe { Mode::Probe } else { Mode::Train });
    }

    /// Run the given kernels once with the uniforms of `mode`.
    pub fn run_kernels_in(&mut self, entries: &[Kernel], mode: Mode) {
        let mut enc = self.gpu.device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            self.record(&mut pass, entries, mode);
        }
        self.gpu.queue.submit([enc.finish()]);
    }

    /// Record one held-out evaluation pass: `eval_begin`, then for each chunk of T rows the forward
    /// kernels, `loss_token` and `eval_accum`, then `eval_end`.
    fn record_eval(&self, pass: &mut wgpu::ComputePass) {
        self.record(pass, &[Kernel::EvalBegin], Mode::Eval);
        for _ in 0..EVAL_N.div_ceil(self.dims.t) {
            self.record(pass, kernels::FORWARD, Mode::Eval);
            self.record(pass, kernels::EVAL_SCORE, Mode::Eval);
        }
        self.record(pass, &[Kernel::EvalEnd], Mode::Eval);
    }

    /// Overwrite a buffer's leading words (tests write fixtures).
    pub fn write<T: bytemuck::Pod>(&self, buf: Buf, data: &[T]) {
        self.gpu.queue.write_buffer(&self.buffers[buf], 0, bytemuck::cast_slice(data));
    }

    /// Read a whole buffer back (awaits the map; on native the device is polled to completion).
    pub async fn read_bytes(&self, buf: Buf) -> Vec<u8> {
        let src = &self.buffers[buf];
        // MAP_READ | COPY_DST: a one-off staging copy of the buffer.
        let staging = self.gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: src.size(),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc = self.gpu.device.create_command_encoder(&Default::default());
        enc.copy_buffer_to_buffer(src, 0, &staging, 0, src.size());
        self.gpu.queue.submit([enc.finish()]);
        let (tx, rx) = futures_channel::oneshot::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send(r);
        });
        #[cfg(not(target_arch = "wasm32"))]
        let _ = self.gpu.device.poll(wgpu::PollType::wait_indefinitely());
        match rx.await {
            Ok(Ok(())) => {
                let v = staging.get_mapped_range(..).map(|r| r.to_vec()).unwrap_or_default();
                staging.unmap();
                // Freed now, not when the browser's garbage collector gets to it.
                staging.destroy();
                v
            }
            _ => Vec::new(),
        }
    }

    /// Natively: read a buffer as f32 (blocking).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn read_f32(&self, buf: Buf) -> Vec<f32> {
        bytemuck::cast_slice(&pollster::block_on(self.read_bytes(buf))).to_vec()
    }

    /// Natively: read a buffer as u32 (blocking).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn read_u32(&self, buf: Buf) -> Vec<u32> {
        bytemuck::cast_slice(&pollster::block_on(self.read_bytes(buf))).to_vec()
    }

    fn decode(&self, words: &[u32]) -> Snapshot {
        let m = self.dims;
        let mut snap = Snapshot::from_record(words, m.e);
        snap.shared = m.shared as u32;
        let mut at = snap_words(m.e);
        let mut parts = HashMap::new();
        for (buf, n) in probe_copies(&m) {
            parts.insert(buf, &words[at..at + n]);
            at += n;
        }
        let k = snap.k as usize;
        let pick = |buf: Buf| -> Vec<u32> {
            (0..PROBE).flat_map(|t| parts[&buf][t * m.kmax..t * m.kmax + k].to_vec()).collect()
        };
        let outp: Vec<f32> = parts[&Buf::Outp].iter().map(|&w| f32::from_bits(w)).collect();
        snap.probe = Probe {
            rows: PROBE,
            experts: m.e,
            k,
            probs: parts[&Buf::Probs].iter().map(|&w| f32::from_bits(w)).collect(),
            topk: pick(Buf::Topk),
            gates: pick(Buf::Gates).into_iter().map(f32::from_bits).collect(),
            dropped: pick(Buf::Slot).into_iter().map(crate::model::routing::is_dropped).collect(),
            picked: pick(Buf::Slot).into_iter().map(|s| s != crate::model::routing::UNPICKED).collect(),
            inputs: parts[&Buf::Inp].to_vec(),
            targets: parts[&Buf::Tgt].to_vec(),
            domains: parts[&Buf::Dom].to_vec(),
            predicted: (0..PROBE).map(|t| argmax(&outp[t * m.v..(t + 1) * m.v])).collect(),
        };
        snap
    }
}

impl Trainer for GpuTrainer {
    fn config(&self) -> &Config {
        &self.cfg
    }
    fn backend(&self) -> String {
        format!("gpu: {}", self.gpu.adapter)
    }
    fn set_live(&mut self, live: LiveKnobs) -> Result<(), ConfigError> {
        let next = self.cfg.with_live(live);
        next.validate()?;
        self.cfg = next;
        self.write_uniforms();
        Ok(())
    }
    fn train(&mut self, n: u32) {
        if n == 0 {
            return;
        }
        let every = self.cfg.eval_every;
        let mut enc = self.gpu.device.create_command_encoder(&Default::default());
        let mut pass = enc.begin_compute_pass(&Default::default()).forget_lifetime();
        for i in 0..n {
            // The router bias the last step chooses with, for `last_trace` (native only).
            if cfg!(not(target_arch = "wasm32")) && i + 1 == n {
                drop(pass);
                enc.copy_buffer_to_buffer(
                    &self.buffers[Buf::Rstate],
                    0,
                    &self.buffers[Buf::TrBias],
                    0,
                    (self.dims.e * 4) as u64,
                );
                pass = enc.begin_compute_pass(&Default::default()).forget_lifetime();
            }
            self.record(&mut pass, kernels::STEP, Mode::Train);
            let step = self.steps + i + 1;
            // The last step's routing, for `last_trace` (native only: the page never reads it),
            // before an evaluation or probe pass reuses the buffers.
            if cfg!(not(target_arch = "wasm32")) && i + 1 == n {
                drop(pass);
                for (src, copy, words) in trace_copies(&self.dims) {
                    enc.copy_buffer_to_buffer(&self.buffers[src], 0, &self.buffers[copy], 0, (words * 4) as u64);
                }
                self.traced = Some((step, self.cfg.routed_k(), self.cfg.capacity() as u32, self.cfg.router));
                pass = enc.begin_compute_pass(&Default::default()).forget_lifetime();
            }
            if every > 0 && step.is_multiple_of(every) {
                self.record_eval(&mut pass);
            }
        }
        drop(pass);
        self.gpu.queue.submit([enc.finish()]);
        self.steps += n;
    }
    fn eval_now(&mut self) {
        let mut enc = self.gpu.device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            self.record_eval(&mut pass);
        }
        self.gpu.queue.submit([enc.finish()]);
    }
    fn steps(&self) -> u32 {
        self.steps
    }
    fn request_snapshot(&mut self) -> bool {
        let Some(i) = self.ring.iter().position(|s| s.state.load(Ordering::Acquire) == IDLE) else {
            return false;
        };
        let mut enc = self.gpu.device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            self.record(&mut pass, kernels::SNAPSHOT, Mode::Train);
            self.record(&mut pass, kernels::FORWARD, Mode::Probe);
        }
        let dst = &self.ring[i].buffer;
        let words = snap_words(self.dims.e);
        enc.copy_buffer_to_buffer(&self.buffers[Buf::Snap], 0, dst, 0, (words * 4) as u64);
        let mut at = words;
        for (buf, n) in probe_copies(&self.dims) {
            enc.copy_buffer_to_buffer(&self.buffers[buf], 0, dst, (at * 4) as u64, (n * 4) as u64);
            at += n;
        }
        self.gpu.queue.submit([enc.finish()]);
        let state = self.ring[i].state.clone();
        state.store(MAPPING, Ordering::Release);
        dst.map_async(wgpu::MapMode::Read, .., move |r| {
            state.store(if r.is_ok() { READY } else { FAILED }, Ordering::Release);
        });
        self.pending.push_back(i);
        true
    }
    fn poll_snapshot(&mut self) -> Option<Snapshot> {
        #[cfg(not(target_arch = "wasm32"))]
        let _ = self.gpu.device.poll(wgpu::PollType::Poll);
        let &i = self.pending.front()?;
        let slot = &self.ring[i];
        match slot.state.load(Ordering::Acquire) {
            READY => {
                let words: Vec<u32> = {
                    let view = slot.buffer.get_mapped_range(..).ok()?;
                    bytemuck::cast_slice(&view).to_vec()
                };
                slot.buffer.unmap();
                slot.state.store(IDLE, Ordering::Release);
                self.pending.pop_front();
                Some(self.decode(&words))
            }
            FAILED => {
                slot.state.store(IDLE, Ordering::Release);
                self.pending.pop_front();
                record(&self.error, "reading the metrics back from the GPU failed".into());
                None
            }
            _ => None,
        }
    }
    #[cfg(not(target_arch = "wasm32"))]
    fn wait_snapshot(&mut self) -> Option<Snapshot> {
        let _ = self.gpu.device.poll(wgpu::PollType::wait_indefinitely());
        self.poll_snapshot()
    }
    #[cfg(not(target_arch = "wasm32"))]
    fn finish(&mut self) {
        let _ = self.gpu.device.poll(wgpu::PollType::wait_indefinitely());
    }
    #[cfg(not(target_arch = "wasm32"))]
    fn last_trace(&mut self) -> Trace {
        let (step, k, cap, router) = self.traced.expect("last_trace before any step");
        let stats = self.read_f32(Buf::TrStats);
        let m = Dims { k, ..self.dims };
        Trace::from_flat(
            step,
            m,
            &self.read_f32(Buf::TrLogits),
            &self.read_f32(Buf::TrProbs),
            &self.read_u32(Buf::TrTopk),
            &self.read_f32(Buf::TrGates),
            &self.read_u32(Buf::TrSlot),
            &self.read_u32(Buf::TrCounts),
            &self.read_u32(Buf::TrKept),
            cap,
            [stats[0], stats[1], stats[2]],
            crate::trainer::TraceRouting {
                router,
                scores: &self.read_f32(Buf::TrScores),
                keys: &self.read_u32(Buf::TrRkey),
                bias: &self.read_f32(Buf::TrBias),
            },
        )
    }
}

// The metrics window's parts (shaders/metrics.wgsl WU_*, WF_*) follow each other, E words each
// (NDOM·E the domain × expert counts), and `state` holds the held-out evaluation's words.
const _: () = {
    use crate::wgsl::common::{MAXE, NDOM, ST_EVAL_STEP, ST_WORDS};
    use crate::wgsl::metrics::*;
    assert!(WU_KP == WU_CH + MAXE && WU_DM == WU_KP + MAXE && WU_RND == WU_DM + NDOM * MAXE);
    assert!(WU_WORDS == WU_RND + 1 && WF_WORDS == WF_P + MAXE);
    assert!(ST_EVAL_STEP < ST_WORDS);
};

// The stats buffer ends with shaders/common.wgsl's ST_DLOAD part.
const _: () = assert!(
    crate::wgsl::common::ST_DLOAD as usize + crate::wgsl::common::MAXE as usize == STATS_WORDS,
    "trainer::STATS_WORDS is not the end of shaders/common.wgsl's ST_DLOAD part"
);
