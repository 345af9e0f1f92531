//! The time of each kernel of the training step (`moe-train --profile`, the page's `?bench`).
//!
//! Where the adapter has timestamp queries, each kernel of a step runs in its own compute pass with
//! a timestamp at its start and end, for `steps` steps; a kernel's time is the median over them.
//! Without them, each kernel is timed alone: `steps` dispatches of it in one submission against the
//! wall clock, divided by `steps` (this repeats kernels such as `adam` on the same data, so the
//! trainer's weights are not meaningful afterwards; a profile is a measurement, not training).
use super::kernels::STEP;
use super::trainer::{GpuTrainer, Mode};

/// How the kernels were timed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// GPU timestamps at the start and end of each kernel's compute pass.
    Timestamps,
    /// No timestamp queries on this adapter: each kernel alone, wall clock.
    Alone,
}

impl Timer {
    /// One line for the report.
    pub fn describe(self) -> &'static str {
        match self {
            Timer::Timestamps => {
                "GPU timestamp queries at the start and end of each kernel (one compute pass per kernel)"
            }
            Timer::Alone => {
                "this adapter has no timestamp queries: each kernel timed alone (many dispatches of it in one \
                 submission, wall clock)"
            }
        }
    }
}

/// One kernel's median time per step.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelTime {
    pub entry: &'static str,
    pub ms: f64,
}

/// The time of each kernel of a step, longest first.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelProfile {
    pub timer: Timer,
    /// Steps (or dispatches per kernel, timed alone) the medians are over.
    pub steps: u32,
    pub kernels: Vec<KernelTime>,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

impl KernelProfile {
    /// Build from per-kernel samples (ms), in `STEP` order; sorts longest first.
    pub fn from_samples(timer: Timer, steps: u32, samples: Vec<(&'static str, Vec<f64>)>) -> KernelProfile {
        let mut kernels: Vec<KernelTime> =
            samples.into_iter().map(|(entry, mut v)| KernelTime { entry, ms: median(&mut v) }).collect();
        // Longest first; ties keep the step order (a stable sort).
        kernels.sort_by(|a, b| b.ms.total_cmp(&a.ms));
        KernelProfile { timer, steps, kernels }
    }

    /// The sum of the kernels' medians (ms per step).
    pub fn total_ms(&self) -> f64 {
        self.kernels.iter().map(|k| k.ms).sum()
    }

    /// A Markdown table: kernel, ms per step, share of the kernels' total, running share.
    pub fn table(&self) -> String {
        let total = self.total_ms().max(1e-12);
        let mut s = String::from("| kernel | ms per step | share | cumulative |\n|---|---:|---:|---:|\n");
        let mut run = 0.0;
        for k in &self.kernels {
            run += k.ms;
            s.push_str(&format!(
                "| `{}` | {:.4} | {:.1} % | {:.1} % |\n",
                k.entry,
                k.ms,
                100.0 * k.ms / total,
                100.0 * run / total
            ));
        }
        s.push_str(&format!("| all kernels | {:.4} | 100 % | |\n", self.total_ms()));
        s
    }

    /// The profile as JSON: timer, steps, kernels [{kernel, ms, share}].
    pub fn json(&self) -> serde_json::Value {
        let total = self.total_ms().max(1e-12);
        serde_json::json!({
            "timer": match self.timer { Timer::Timestamps => "timestamps", Timer::Alone => "alone" },
            "steps": self.steps,
            "kernels_ms_total": self.total_ms(),
            "kernels": self.kernels.iter().map(|k| serde_json::json!({
                "kernel": k.entry, "ms": k.ms, "share": k.ms / total,
            })).collect::<Vec<_>>(),
        })
    }
}

impl GpuTrainer {
    /// Time each kernel of the training step over `steps` steps (see the module doc). `now` is a
    /// clock in milliseconds (only the fallback uses it). Training knobs stay as they are; the
    /// metrics window keeps accumulating the profiled steps.
    pub async fn profile(&mut self, steps: u32, now: &dyn Fn() -> f64) -> KernelProfile {
        let steps = steps.max(1);
        if self.gpu.timestamps {
            self.profile_timestamps(steps).await
        } else {
            self.profile_alone(steps, now).await
        }
    }

    async fn profile_timestamps(&mut self, steps: u32) -> KernelProfile {
        let n = STEP.len() as u32;
        let device = &self.gpu.device;
        let queries = device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("profile"),
            ty: wgpu::QueryType::Timestamp,
            count: 2 * n,
        });
        let bytes = (2 * n as u64) * wgpu::QUERY_SIZE as u64;
        let resolve = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("profile-resolve"),
            size: bytes,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let read = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("profile-read"),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let period_ms = self.gpu.queue.get_timestamp_period() as f64 * 1e-6;
        let mut samples: Vec<(&'static str, Vec<f64>)> = STEP.iter().map(|e| (e.name(), Vec::new())).collect();
        for _ in 0..steps {
            let mut enc = self.gpu.device.create_command_encoder(&Default::default());
            for (i, entry) in STEP.iter().enumerate() {
                let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some(entry.name()),
                    timestamp_writes: Some(wgpu::ComputePassTimestampWrites {
                        query_set: &queries,
                        beginning_of_pass_write_index: Some(2 * i as u32),
                        end_of_pass_write_index: Some(2 * i as u32 + 1),
                    }),
                });
                self.record(&mut pass, &[*entry], Mode::Train);
            }
            enc.resolve_query_set(&queries, 0..2 * n, &resolve, 0);
            enc.copy_buffer_to_buffer(&resolve, 0, &read, 0, bytes);
            self.gpu.queue.submit([enc.finish()]);
            self.steps += 1;
            let bytes = map_read(&self.gpu, &read).await;
            let ticks: Vec<u64> =
                bytes.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes"))).collect();
            for (i, (_, v)) in samples.iter_mut().enumerate() {
                if let (Some(&a), Some(&b)) = (ticks.get(2 * i), ticks.get(2 * i + 1)) {
                    if b >= a {
                        v.push((b - a) as f64 * period_ms);
                    }
                }
            }
        }
        KernelProfile::from_samples(Timer::Timestamps, steps, samples)
    }

    async fn profile_alone(&mut self, steps: u32, now: &dyn Fn() -> f64) -> KernelProfile {
        // One real step first, so every buffer holds what the step leaves there.
        self.run_kernels_in(STEP, Mode::Train);
        self.steps += 1;
        done(&self.gpu).await;
        let mut samples = Vec::with_capacity(STEP.len());
        for &entry in STEP {
            let mut enc = self.gpu.device.create_command_encoder(&Default::default());
            {
                let mut pass = enc.begin_compute_pass(&Default::default());
                for _ in 0..steps {
                    self.record(&mut pass, &[entry], Mode::Train);
                }
            }
            let start = now();
            self.gpu.queue.submit([enc.finish()]);
            done(&self.gpu).await;
            samples.push((entry.name(), vec![(now() - start) / steps as f64]));
        }
        // `advance` ran `steps` times too: the batch counter moved on by as many steps.
        self.steps += steps;
        KernelProfile::from_samples(Timer::Alone, steps, samples)
    }
}

/// Wait until the queue's submitted work is done.
async fn done(gpu: &super::Gpu) {
    let (tx, rx) = futures_channel::oneshot::channel();
    gpu.queue.on_submitted_work_done(move || {
        let _ = tx.send(());
    });
    #[cfg(not(target_arch = "wasm32"))]
    let _ = gpu.device.poll(wgpu::PollType::wait_indefinitely());
    let _ = rx.await;
}

/// Map a MAP_READ buffer and copy its bytes out (empty on a mapping error).
async fn map_read(#[allow(unused)] gpu: &super::Gpu, buf: &wgpu::Buffer) -> Vec<u8> {
    let (tx, rx) = futures_channel::oneshot::channel();
    buf.map_async(wgpu::MapMode::Read, .., move |r| {
        let _ = tx.send(r);
    });
    #[cfg(not(target_arch = "wasm32"))]
    let _ = gpu.device.poll(wgpu::PollType::wait_indefinitely());
    match rx.await {
        Ok(Ok(())) => {
            let v = buf.get_mapped_range(..).map(|r| r.to_vec()).unwrap_or_default();
            buf.unmap();
            v
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_sorted_longest_first_with_shares() {
        let p = KernelProfile::from_samples(
            Timer::Timestamps,
            3,
            vec![("a", vec![1.0, 9.0, 2.0]), ("b", vec![4.0, 4.0, 5.0]), ("c", vec![]), ("d", vec![0.5, 1.5])],
        );
        let got: Vec<(&str, f64)> = p.kernels.iter().map(|k| (k.entry, k.ms)).collect();
        assert_eq!(got, [("b", 4.0), ("a", 2.0), ("d", 1.0), ("c", 0.0)]);
        assert_eq!(p.total_ms(), 7.0);
        let t = p.table();
        assert!(t.contains("| `b` | 4.0000 | 57.1 % | 57.1 % |"), "{t}");
        assert!(t.contains("| `c` | 0.0000 | 0.0 % | 100.0 % |"), "{t}");
        let j = p.json();
        assert_eq!(j["kernels"][0]["kernel"], "b");
        assert_eq!(j["timer"], "timestamps");
    }
}
