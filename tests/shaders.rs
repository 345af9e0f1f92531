//! Every WGSL family parses and validates with naga, fits WebGPU's binding limits, and every entry
//! point the step encoder uses exists. Also: with no adapter the GPU path fails with a clear message.
use moe_playground::gpu::kernels::{self, BindKind, Kernel};

#[test]
fn every_wgsl_family_validates_with_naga() {
    assert!(
        kernels::FAMILIES.len() >= 7,
        "shader families: {:?}",
        kernels::FAMILIES.iter().map(|f| f.0).collect::<Vec<_>>()
    );
    for (family, _) in kernels::FAMILIES {
        let src = kernels::source(family).unwrap();
        let module =
            naga::front::wgsl::parse_str(&src).unwrap_or_else(|e| panic!("{family}.wgsl: {}", e.emit_to_string(&src)));
        naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::empty())
            .validate(&module)
            .unwrap_or_else(|e| panic!("{family}.wgsl: {}", e.emit_to_string(&src)));
        assert!(!module.entry_points.is_empty(), "{family}.wgsl has no kernel");
    }
}

#[test]
fn kernels_fit_webgpu_limits_and_cover_the_step() {
    for k in kernels::KERNELS {
        let storage = k.bindings.iter().filter(|b| b.kind != BindKind::Uniform).count();
        assert!(storage <= 8, "{} binds {storage} storage buffers", k.entry);
        assert!(k.workgroup_size.iter().product::<u32>() <= 256, "{}: workgroup too large", k.entry);
    }
    // Kernels keep per-expert and per-class arrays of 64 in registers (router, embed_grad).
    assert!(moe_playground::data::tokens::VOCAB.len() <= 64);
    const { assert!(moe_playground::config::limits::MAX_EXPERTS <= 64) };
    let eval_pass: Vec<Kernel> =
        [Kernel::EvalBegin].into_iter().chain(kernels::EVAL_SCORE.iter().copied()).chain([Kernel::EvalEnd]).collect();
    // The typed kernel list is the table's: `Kernel::ALL[i]` is entry point `KERNELS[i]`.
    assert_eq!(Kernel::ALL.len(), kernels::KERNELS.len());
    for (k, info) in Kernel::ALL.iter().zip(kernels::KERNELS) {
        assert_eq!(k.name(), info.entry);
        assert_eq!(Kernel::named(info.entry), Some(*k));
    }
    // No kernel is orphaned: each entry point runs in the step, the snapshot or the evaluation pass.
    for k in Kernel::ALL {
        let runs = kernels::STEP.contains(&k) || kernels::SNAPSHOT.contains(&k) || eval_pass.contains(&k);
        assert!(runs, "kernel {k} never runs");
    }
}

/// A machine with no adapter: the CLI's GPU backend fails with exit 1 and says what to install,
/// rather than skipping or panicking. (Vulkan is hidden by pointing the loader at no driver.)
#[test]
#[cfg(target_os = "linux")]
fn no_adapter_fails_with_a_clear_message() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_moe-train"))
        .args(["--backend", "gpu", "--steps", "1"])
        .env("VK_ICD_FILENAMES", "/nonexistent/icd.json")
        .env("VK_DRIVER_FILES", "/nonexistent/icd.json")
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    assert!(err.contains("no GPU adapter") && err.contains("mesa-vulkan-drivers"), "stderr: {err}");
}

/// The router registry and the WGSL units agree: every registered router has its WGSL unit in
/// shaders/routers/ (and a distinct shader id), and every WGSL unit is registered; the generated
/// dispatch calls each unit's three functions.
#[test]
fn every_router_has_its_wgsl_unit_and_registration() {
    use moe_playground::config::RouterKind;
    use moe_playground::model::routers::ROUTERS;
    let mut ids: Vec<u32> = RouterKind::all().map(|r| r.id()).collect();
    for r in RouterKind::all() {
        assert!(
            kernels::ROUTER_UNITS.contains(&r.name()),
            "router {} has no shaders/routers/{}.wgsl",
            r.name(),
            r.name()
        );
    }
    for unit in kernels::ROUTER_UNITS {
        assert!(ROUTERS.iter().any(|r| r.name == *unit), "shaders/routers/{unit}.wgsl is not in the registry");
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), ROUTERS.len(), "distinct shader ids");
    let src = kernels::source("router").unwrap();
    for unit in kernels::ROUTER_UNITS {
        let f = unit.replace('-', "_");
        for call in [format!("route_{f}(t)"), format!("route_grad_{f}(t, dp)"), format!("route_update_{f}(e)")] {
            assert!(src.contains(&call), "the generated dispatch calls {call}");
        }
    }
}

/// The blocked kernels' block size and adam's weights per invocation in WGSL are the ones the grid
/// (src/gpu/kernels.rs) counts with.
#[test]
fn expert_kernel_block_matches_the_grid() {
    let src = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/shaders/common.wgsl")).unwrap();
    let decl = format!("const B: u32 = {}u;", moe_playground::gpu::kernels::FFN_BLOCK);
    assert!(src.contains(&decl), "shaders/common.wgsl must declare {decl}");
    let src = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/shaders/adam.wgsl")).unwrap();
    let decl = format!("const ADAM_PER: u32 = {}u;", moe_playground::gpu::kernels::ADAM_PER);
    assert!(src.contains(&decl), "shaders/adam.wgsl must declare {decl}");
}
