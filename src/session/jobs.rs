//! The session's jobs: work that waits for the device (opening it and building the trainers, a
//! weights readback for the region map, upcycling's switch, the per-kernel profile), each a future
//! that owns what it needs — a trainer is lent to it and comes back with its [`Done`].
use super::apart::{Apart, Link, Spawn};
use super::{
    lesson, recover, Backend, Built, Device, Done, DoneKind, Event, Session, Side, MAP_EVERY_MS, PROFILE_STEPS,
};
use crate::config::Config;
use crate::model::Dims;
use crate::page::{no_webgpu_banner, Browser};
use crate::regionmap;
use crate::upcycle::Upcycle;
use std::rc::Rc;

impl Session {
    // --- building -------------------------------------------------------------------------------

    /// Build the trainers for the configs (on the same kind of device): the GPU when an adapter
    /// opens (with [`Device::Auto`]), else the CPU reference.
    pub(super) fn rebuild(&mut self) {
        let cfg = self.cfg.clone();
        let cfg_b = self.cfg_b.clone();
        self.backend = None;
        self.backend_b = None;
        self.outstanding_b = 0;
        self.snap_step_b = 0;
        self.generation += 1;
        self.reading = false;
        self.failed = true;
        self.outstanding = 0;
        self.map_step = None;
        self.map_due = 0.0;
        self.recent.clear();
        self.rate = 0.0;
        self.snap_step = 0;
        self.step = 0;
        let now = self.now();
        self.checkpoints.reset(now);
        self.emit(Event::Checkpoint(None));
        self.error_seen = None;
        self.hist.clear();
        self.hist_b.clear();
        self.phase = None;
        self.emit(Event::Cleared);
        self.emit(Event::Phase(None));
        self.emit(Event::Step(0));
        self.emit(Event::Rate(0.0));
        self.emit(Event::Error(None));
        self.set_gpu_error(None);
        self.emit(Event::Backend(crate::page::TrainsOn::Starting));
        let generation = self.generation;
        let (device, cpu_tokens, browser) = (self.opts.device, self.opts.cpu_tokens, self.opts.browser);
        let apart = Where { link: self.link.clone(), spawn: self.opts.apart.clone(), generation };
        self.spawn(async move {
            let built = build(device, cpu_tokens, browser, &cfg, cfg_b.as_ref(), apart).await;
            Done { generation, kind: DoneKind::Built(built) }
        });
    }

    /// A finished job's result.
    pub fn finish(&mut self, done: Done) {
        if done.generation != self.generation {
            return; // a newer rebuild (or a lost device) superseded it: its trainer is gone
        }
        match done.kind {
            DoneKind::Built(built) => self.built(built),
            DoneKind::Map { backend, map } => {
                if let Some(mut be) = backend {
                    catch_up(&mut be, &self.cfg);
                    self.backend = Some(be);
                    self.reading = false;
                }
                if let Some(map) = map {
                    self.emit(Event::Map(Box::new(map)));
                }
            }
            DoneKind::Switched { side, result } => self.switched(side, result),
            DoneKind::Profiled { backend, table, json, result } => {
                self.backend = Some(backend);
                self.reading = false;
                self.emit(Event::BenchProgress("done".into()));
                self.emit(Event::BenchKernels(table));
                self.emit(Event::BenchResult(format!("{},\"kernels\":{json}}}", result.trim_end_matches('}'))));
            }
            DoneKind::Resumed(r) => recover::resumed(self, r),
        }
    }

    pub(super) fn built(&mut self, built: Result<Built, String>) {
        let (mut backend, banner, b) = match built {
            Ok(x) => x,
            Err(e) => return self.emit(Event::Error(Some(e))),
        };
        let backend_b = match b {
            Some(Ok(be)) => Some(be),
            Some(Err(err)) => {
                lesson::end(self);
                self.cfg_b = None;
                self.emit_configs();
                self.emit(Event::CompareOff);
                self.set_notice(Some(format!("compare mode off: run B could not start ({err}).")));
                None
            }
            None => None,
        };
        if let Some(Backend::Apart(a)) = &backend_b {
            self.link = Some(a.link());
        }
        self.emit(Event::RunB(backend_b.as_ref().map(|b| matches!(b, Backend::Apart(_)))));
        let label = backend.trainer().backend();
        let on = if backend.is_gpu() { crate::page::TrainsOn::Gpu(label) } else { crate::page::TrainsOn::Cpu(label) };
        self.emit(Event::Backend(on));
        self.emit(Event::Banner(banner));
        self.set_phase(backend.phase_note(0));
        self.steps_per_frame = if backend.is_gpu() { 2 } else { 1 };
        self.backend = Some(backend);
        self.backend_b = backend_b.filter(|_| self.cfg_b.is_some());
        self.failed = false;
        self.since_snapshot = 0;
        self.want_snapshot = true;
        let now = self.now();
        self.last_progress = now;
        self.progress_b = now;
        self.last_frame = now;
        // The first checkpoint comes a while after training starts (not after the rebuild
        // began: opening the device and building the pipelines takes a while).
        self.checkpoints.reset(now);
    }

    // --- lending trainers to jobs ----------------------------------------------------------------

    /// The region map from the current weights, without blocking the loop: the CPU trainer's
    /// weights are cloned; the GPU trainer is lent to an asynchronous readback and returned when
    /// it is done (training waits for those frames).
    pub(super) fn refresh_map(&mut self, now: f64) {
        let step = self.step;
        self.map_due = now + MAP_EVERY_MS;
        self.map_step = Some(step);
        let generation = self.generation;
        let top_k = self.cfg.top_k;
        match self.backend.take() {
            Some(Backend::Cpu(c)) => {
                let params = c.inner().params().clone();
                self.backend = Some(Backend::Cpu(c));
                self.spawn(async move {
                    let map = Some(regionmap::compute(&params, regionmap::GRID, step));
                    Done { generation, kind: DoneKind::Map { backend: None, map } }
                });
            }
            Some(Backend::Gpu(g)) => {
                self.reading = true;
                let dims = Dims { k: top_k.min(g.inner().dims().kmax), ..g.inner().dims() };
                self.spawn(async move {
                    let bytes = g.inner().read_bytes(crate::gpu::Buf::Params).await;
                    let map = regionmap::params_from_bytes(dims, &bytes)
                        .map(|p| regionmap::compute(&p, regionmap::GRID, step));
                    Done { generation, kind: DoneKind::Map { backend: Some(Backend::Gpu(g)), map } }
                });
            }
            other => self.backend = other,
        }
    }

    /// Upcycling's phase switch of run A or B, without blocking the loop: the trainer is lent to
    /// [`Upcycle::switch`] and comes back as the MoE (both runs wait for those frames).
    pub(super) fn start_switch(&mut self, side: Side) {
        let slot = if side == Side::B { &mut self.backend_b } else { &mut self.backend };
        let Some(backend) = slot.take() else { return };
        self.reading = true;
        let generation = self.generation;
        self.spawn(async move {
            let result = match backend {
                Backend::Gpu(g) => g.switch().await.map(|g| Backend::Gpu(Box::new(g))),
                Backend::Cpu(c) => c.switch().await.map(|c| Backend::Cpu(Box::new(c))),
                apart @ Backend::Apart(_) => Ok(apart), // it switches by itself
            };
            Done { generation, kind: DoneKind::Switched { side, result } }
        });
    }

    pub(super) fn switched(&mut self, side: Side, result: Result<Backend, String>) {
        self.reading = false;
        let is_b = side == Side::B;
        match result {
            Ok(mut backend) => {
                let cfg = if is_b { self.cfg_b.clone() } else { Some(self.cfg.clone()) };
                let Some(cfg) = cfg else { return }; // compare mode went off meanwhile: run B is gone
                catch_up(&mut backend, &cfg);
                let at = backend.trainer().steps();
                let label = if is_b { "B upcycled" } else { "upcycled" };
                self.emit(Event::Mark { at: at as f32, label: label.into() });
                if is_b {
                    self.backend_b = Some(backend);
                } else {
                    self.set_phase(backend.phase_note(at));
                    self.backend = Some(backend);
                }
                self.want_snapshot = true;
            }
            Err(err) => {
                self.failed = true;
                self.set_playing(false);
                let run = if is_b { " of run B" } else { "" };
                self.set_gpu_error(Some(format!(
                    "Copying the dense model{run} into the experts failed: {err}. Restart rebuilds the trainer (from \
                     the seed; the weights so far are lost)."
                )));
            }
        }
    }

    /// The benchmark's steps are done: on the GPU, lend the trainer to [`Upcycle::profile`] and
    /// publish the result with each kernel's time; on the CPU the result as it is.
    pub(super) fn profile_kernels(&mut self) {
        let Some(result) = self.bench.as_mut().and_then(|b| b.result.take()) else { return };
        match self.backend.take() {
            Some(Backend::Gpu(mut g)) => {
                self.reading = true;
                let generation = self.generation;
                let clock = self.opts.clock.clone();
                self.emit(Event::BenchProgress(format!("done; timing each kernel over {PROFILE_STEPS} more steps…")));
                self.spawn(async move {
                    let p = g.profile(PROFILE_STEPS, &*clock).await;
                    let table = format!("Each kernel's time per step ({}):\n{}", p.timer.describe(), p.table());
                    let kind =
                        DoneKind::Profiled { backend: Backend::Gpu(g), table, json: p.json().to_string(), result };
                    Done { generation, kind }
                });
            }
            other => {
                self.backend = other;
                self.emit(Event::BenchResult(result));
            }
        }
    }
}

/// Where run B may train apart on the CPU: the session's link from an earlier run, else a new
/// one; and the generation it starts as.
struct Where {
    link: Option<Rc<dyn Link>>,
    spawn: Option<Spawn>,
    generation: u32,
}

/// Open the trainers: A's (the GPU's when `device` allows and an adapter opens, else the CPU's
/// with a banner saying why) and B's on the same kind of device (on the CPU apart from A, where
/// the host offers a link to a trainer elsewhere).
async fn build(
    device: Device,
    cpu_tokens: Option<usize>,
    browser: Browser,
    cfg: &Config,
    cfg_b: Option<&Config>,
    apart: Where,
) -> Result<Built, String> {
    let small = |c: &Config| Config { tokens: cpu_tokens.map_or(c.tokens, |t| c.tokens.min(t)), ..c.clone() };
    let cpu = |c: &Config| Upcycle::cpu(&small(c)).map(|c| Backend::Cpu(Box::new(c))).map_err(|e| e.to_string());
    let (a, banner) = match device {
        Device::Cpu => (cpu(cfg)?, None),
        Device::Gpu => (Backend::Gpu(Box::new(Upcycle::gpu(cfg).await?)), None),
        Device::Auto => match Upcycle::gpu(cfg).await {
            Ok(g) => (Backend::Gpu(Box::new(g)), None),
            Err(err) => {
                let tokens = cpu_tokens.map_or(cfg.tokens, |t| cfg.tokens.min(t));
                (cpu(cfg)?, Some(no_webgpu_banner(&err, tokens, browser)))
            }
        },
    };
    let b = match cfg_b {
        Some(cb) if a.is_gpu() => Some(Upcycle::gpu(cb).await.map(|g| Backend::Gpu(Box::new(g)))),
        Some(cb) => Some(match apart.link.or_else(|| apart.spawn.and_then(|s| s())) {
            Some(link) => Apart::start(link, apart.generation, &small(cb)).map(|a| Backend::Apart(Box::new(a))),
            None => cpu(cb),
        }),
        None => None,
    };
    Ok((a, banner, b))
}

/// Knobs moved while a trainer was lent out (region map, upcycling switch) reach it now.
fn catch_up(backend: &mut Backend, cfg: &Config) {
    let tr = backend.trainer();
    if tr.config().same_structure(cfg) && tr.config().live() != cfg.live() {
        let _ = tr.set_live(cfg.live());
    }
}
