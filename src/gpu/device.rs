//! Opening a wgpu device: WebGPU in the browser, Vulkan/Metal/DX12 natively.
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq)]
pub enum GpuError {
    /// No adapter: the message says what to install or enable.
    NoAdapter(String),
    /// The adapter refused the device (limits, lost device…).
    Device(String),
}

impl fmt::Display for GpuError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GpuError::NoAdapter(m) => write!(f, "no GPU adapter: {m}"),
            GpuError::Device(m) => write!(f, "GPU device error: {m}"),
        }
    }
}

impl std::error::Error for GpuError {}

/// An open device and what it is.
pub struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    /// "llvmpipe (LLVM 15.0.6, 256 bits) (Vulkan)", "… (BrowserWebGpu)".
    pub adapter: String,
    /// The device records GPU timestamps (`Features::TIMESTAMP_QUERY`, asked for whenever the
    /// adapter has it): `--profile` times each kernel with them.
    pub timestamps: bool,
    /// Set when we drop the device ourselves: its "lost" callback (reason: destroyed) is then not
    /// a loss to report.
    pub closing: Arc<AtomicBool>,
}

impl Drop for Gpu {
    /// Destroy the device with its buffers now: in the browser wgpu's drop leaves GPU memory to the
    /// garbage collector, so a page that rebuilds its trainer would hold every old device for a while.
    fn drop(&mut self) {
        self.closing.store(true, Ordering::Release);
        self.device.destroy();
    }
}

/// Open the best adapter. On failure the error says how to get one.
pub async fn open() -> Result<Gpu, GpuError> {
    let backends = if cfg!(target_arch = "wasm32") { wgpu::Backends::BROWSER_WEBGPU } else { wgpu::Backends::PRIMARY };
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
        backends,
        flags: wgpu::InstanceFlags::empty(),
        ..wgpu::InstanceDescriptor::new_without_display_handle()
    });
    let adapter = instance
        .request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            force_fallback_adapter: false,
            compatible_surface: None,
            ..Default::default()
        })
        .await
        .map_err(|e| {
            GpuError::NoAdapter(if cfg!(target_arch = "wasm32") {
                format!("this browser offers no WebGPU adapter ({e})")
            } else {
                format!(
                    "{e}. Natively the trainer needs Vulkan, Metal or DX12; on Debian/Ubuntu without a GPU install \
                     Mesa's software Vulkan: apt-get install mesa-vulkan-drivers libvulkan1"
                )
            })
        })?;
    let info = adapter.get_info();
    let timestamps = adapter.features().contains(wgpu::Features::TIMESTAMP_QUERY);
    let (device, queue) = adapter
        .request_device(&wgpu::DeviceDescriptor {
            label: Some("moe"),
            required_features: if timestamps { wgpu::Features::TIMESTAMP_QUERY } else { wgpu::Features::empty() },
            // WebGPU's defaults (8 storage buffers per stage, 128 MiB bindings) are all we need.
            required_limits: wgpu::Limits::default(),
            ..Default::default()
        })
        .await
        .map_err(|e| GpuError::Device(e.to_string()))?;
    // Browsers hide the adapter's name (WebGPU reports an empty string): say WebGPU then.
    let name = if info.name.is_empty() { "WebGPU adapter".to_string() } else { info.name };
    Ok(Gpu {
        device,
        queue,
        adapter: format!("{name} ({:?})", info.backend),
        timestamps,
        closing: Arc::new(AtomicBool::new(false)),
    })
}
