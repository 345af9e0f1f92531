//! The headless CLI end to end: exit codes, error messages, the JSON lines, `--trace` and `--bench`.
//! Most runs use the CPU reference (the GPU trainer has its own tests); divergence and `--trace` run
//! on both backends. All stay small.
use serde_json::Value;
use std::process::{Command, Output};

fn moe_train(args: &[&str]) -> Output {
    let xdg = std::env::temp_dir().join(format!("moe-cli-xdg-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&xdg);
    Command::new(env!("CARGO_BIN_EXE_moe-train"))
        .args(args)
        .env("XDG_RUNTIME_DIR", &xdg)
        .output()
        .expect("run moe-train")
}

fn stdout_lines(o: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn bad_input_exits_2_naming_the_problem() {
    let cases: &[(&[&str], &str)] = &[
        (&["--top-k", "9", "--experts", "8"], "top-k"),
        (&["--capacity-factor", "0"], "capacity-factor"),
        (&["--experts", "0"], "experts"),
        (&["--tokens", "7"], "tokens"),
        (&["--lr", "abc"], "lr"),
        (&["--lr"], "--lr"),
        (&["--bogus"], "--bogus"),
        (&["--preset", "nope"], "nope"),
        (&["--trace-steps", "5"], "--trace"),
        (&["--trace", "unused.json", "--trace-steps", "5", "--steps", "4"], "trace-steps"),
        (&["--steps", "0"], "steps"),
        (&["--backend", "tpu"], "backend"),
    ];
    for (args, needle) in cases {
        let mut all = args.to_vec();
        if !args.contains(&"--backend") {
            all.extend(["--backend", "cpu"]);
        }
        let o = moe_train(&all);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(o.stdout.is_empty(), "{args:?} printed to stdout");
        assert!(err.starts_with("error: "), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(err.contains("run moe-train --help for usage"), "{args:?}: {err}");
    }
}

#[test]
fn help_lists_flags_and_presets() {
    let o = moe_train(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8_lossy(&o.stdout);
    for flag in [
        "--preset",
        "--dataset",
        "--experts",
        "--top-k",
        "--capacity-factor",
        "--alpha",
        "--beta",
        "--lr",
        "--tokens",
        "--d ",
        "--hidden",
        "--seed",
        "--steps",
        "--backend",
        "--every",
        "--trace",
        "--trace-steps",
        "--bench",
        "--grad-clip",
        "--adam-beta1",
        "--adam-beta2",
        "--adam-eps",
        "--router",
    ] {
        assert!(text.contains(flag), "help lacks {flag}");
    }
    for preset in ["balanced", "collapse", "capacity-squeeze", "mixtral", "dropless", "dead-experts"] {
        assert!(text.contains(preset), "help lacks preset {preset}");
    }
}

#[test]
fn cpu_run_prints_header_and_snapshots() {
    let o = moe_train(&["--backend", "cpu", "--steps", "20", "--every", "10", "--tokens", "64"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let lines = stdout_lines(&o);
    assert_eq!(lines.len(), 3, "header + 2 snapshots");
    let head = &lines[0];
    assert_eq!(head["backend"], "cpu reference");
    assert_eq!(head["config"]["tokens"], 64);
    assert!(head["params"].as_u64().unwrap() > 0);
    for (line, step) in lines[1..].iter().zip([10, 20]) {
        assert_eq!(line["step"], step);
        for key in [
            "step",
            "ce",
            "aux",
            "z",
            "load_share",
            "kept",
            "capacity",
            "dropped_share",
            "all_dropped_share",
            "entropy",
            "cv",
            "max_share",
            "starved",
        ] {
            assert!(line.get(key).is_some(), "missing {key} in {line}");
        }
        assert!(line["ce"].as_f64().is_some_and(f64::is_finite), "{line}");
        // Held-out evaluation every 200 steps by default, and always after the last step.
        if step == 10 {
            assert!(line["eval_ce"].is_null() && line["eval_step"].is_null(), "{line}");
        } else {
            assert_eq!(line["eval_step"], 20, "{line}");
            assert!(line["eval_ce"].as_f64().is_some_and(|v| v.is_finite() && v > 0.0), "{line}");
            assert!(line["eval_accuracy"].as_f64().is_some_and(|v| (0.0..=1.0).contains(&v)), "{line}");
        }
        assert_eq!(line["load_share"].as_array().unwrap().len(), 8);
        assert!(line.get("backend").is_none());
    }
}

#[test]
fn eval_every_sets_the_held_out_schedule() {
    let o = moe_train(&["--backend", "cpu", "--steps", "12", "--every", "4", "--tokens", "32", "--eval-every", "8"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let steps: Vec<Value> = stdout_lines(&o)[1..].iter().map(|l| l["eval_step"].clone()).collect();
    assert_eq!(steps, [Value::Null, Value::from(8), Value::from(12)]);
}

/// A run that really diverges (Adam with β2 = 0 divides by the current gradient's size, so weights
/// that got no gradient this step jump by lr·m/ε) exits 3 after printing the diverged snapshot, on
/// both backends.
#[test]
fn divergence_exits_3_on_both_backends() {
    for backend in ["cpu", "gpu"] {
        let o = moe_train(&[
            "--backend",
            backend,
            "--adam-beta2",
            "0",
            "--lr",
            "1",
            "--tokens",
            "16",
            "--steps",
            "300",
            "--every",
            "10",
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(3), "{backend}: {err}");
        assert!(err.contains("training diverged at step") && err.contains("--lr (now 1)"), "{backend}: {err}");
        let lines = stdout_lines(&o);
        let last = lines.last().unwrap();
        assert!(last["skipped"].as_u64().unwrap() > 0, "{backend}: {last}");
        assert!(lines.len() < 31, "{backend}: stopped early, {} lines", lines.len());
    }
}

#[test]
fn preset_then_overrides_in_any_order() {
    let o = moe_train(&["--top-k=2", "--preset", "collapse", "--backend", "cpu", "--steps", "1", "--tokens", "16"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let head = &stdout_lines(&o)[0];
    assert_eq!(head["config"]["top_k"], 2);
    assert_eq!(head["config"]["alpha"], 0.0);
}

/// `--trace` on both backends: the traced steps' routing, with the shapes of T, E and k; the GPU's
/// trace is the same step as the CPU's (same seed and weights: equal CE within float error, equal
/// choice counts).
#[test]
fn trace_writes_the_routing_of_the_traced_steps() {
    let cpu = trace_run("cpu");
    let gpu = trace_run("gpu");
    for (c, g) in cpu.iter().zip(&gpu) {
        assert_eq!(c["step"], g["step"]);
        let (ce_c, ce_g) = (c["ce"].as_f64().unwrap(), g["ce"].as_f64().unwrap());
        assert!((ce_c - ce_g).abs() <= 1e-4 * ce_c, "trace CE cpu {ce_c} vs gpu {ce_g}");
        assert_eq!(c["counts"], g["counts"], "step {}: choices per expert", c["step"]);
    }
}

fn trace_run(backend: &str) -> Vec<Value> {
    let file = std::env::temp_dir().join(format!("moe-cli-trace-{backend}-{}.json", std::process::id()));
    let path = file.to_string_lossy().into_owned();
    let o = moe_train(&[
        "--backend",
        backend,
        "--steps",
        "6",
        "--every",
        "3",
        "--tokens",
        "32",
        "--experts",
        "4",
        "--top-k",
        "2",
        "--trace",
        &path,
        "--trace-steps",
        "4,2",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&file).expect("trace file");
    let _ = std::fs::remove_file(&file);
    let traces: Value = serde_json::from_str(&text).unwrap();
    let traces = traces.as_array().unwrap();
    assert_eq!(traces.len(), 2);
    for (t, step) in traces.iter().zip([2, 4]) {
        assert_eq!(t["step"], step);
        let logits = t["router_logits"].as_array().unwrap();
        assert_eq!(logits.len(), 32);
        assert!(logits.iter().all(|row| row.as_array().unwrap().len() == 4));
        let topk = t["topk"].as_array().unwrap();
        assert_eq!(topk.len(), 32);
        assert!(topk.iter().all(|row| row.as_array().unwrap().len() == 2));
        for key in ["probs", "gates", "dropped", "counts", "kept", "capacity", "ce", "aux", "z"] {
            assert!(t.get(key).is_some(), "{backend}: trace lacks {key}");
        }
        let counts: u64 = t["counts"].as_array().unwrap().iter().map(|c| c.as_u64().unwrap()).sum();
        assert_eq!(counts, 64, "{backend}: 32 tokens × k = 2 choices");
    }
    traces.clone()
}

#[test]
fn bench_prints_one_json_object() {
    let o = moe_train(&["--bench", "--backend", "cpu", "--steps", "3", "--tokens", "64"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let lines = stdout_lines(&o);
    assert_eq!(lines.len(), 1);
    let b = &lines[0];
    assert_eq!(b["bench"], true);
    assert_eq!(b["steps_per_repeat"], 3);
    assert_eq!(b["repeats"], 5);
    assert_eq!(b["tokens"], 64);
    assert_eq!(b["steps_per_s_all"].as_array().unwrap().len(), 5);
    assert!(b["steps_per_s_median"].as_f64().unwrap() > 0.0);
    assert!(b["tokens_per_s_median"].as_f64().unwrap() > 0.0);
    assert_eq!(b["eval_examples"], 4096);
    assert!(b["eval_ms_median"].as_f64().unwrap() > 0.0);
    let share = b["eval_share_of_training_time"].as_f64().unwrap();
    assert!(share > 0.0 && share < 1.0, "{share}");
    for key in ["backend", "experts", "top_k", "d", "hidden"] {
        assert!(b.get(key).is_some(), "bench lacks {key}");
    }
}

/// `--help` is built from the knob table: every knob's flag, its help sentence and its default.
#[test]
fn help_lists_every_knob_with_its_help_and_default() {
    use moe_playground::config::Config;
    use moe_playground::knobs::KNOBS;
    let o = moe_train(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    // clap wraps lines: compare with whitespace collapsed.
    let text = String::from_utf8_lossy(&o.stdout).split_whitespace().collect::<Vec<_>>().join(" ");
    for k in KNOBS {
        assert!(text.contains(&format!("--{} <", k.key)), "help lacks --{}", k.key);
        let help = k.help.trim_end_matches('.');
        assert!(text.contains(help), "help lacks the help of --{}: {help}", k.key);
        let default = format!("[default: {}]", k.get_str(&Config::default()));
        assert!(text.contains(&default), "help lacks {default} for --{}", k.key);
        for c in k.choices() {
            assert!(text.contains(&format!("- {}:", c.value)), "help lacks --{} {}", k.key, c.value);
        }
    }
    for heading in ["Model and data:", "Routing:", "Training:", "Run:"] {
        assert!(text.contains(heading), "help lacks {heading}");
    }
    assert!(text.contains("(only the aux-free router)"), "γ is marked as the aux-free router's");
}

/// Every router trains from the command line (a few CPU steps), with its defaults applied.
#[test]
fn router_balance_drop_policy_and_gamma_flags() {
    use moe_playground::model::routers::ROUTERS;
    for r in ROUTERS {
        let o = moe_train(&[
            "--backend",
            "cpu",
            "--steps",
            "3",
            "--every",
            "3",
            "--tokens",
            "16",
            "--eval-every",
            "0",
            "--router",
            r.name,
            "--drop-policy",
            "random",
        ]);
        assert_eq!(o.status.code(), Some(0), "{}: {}", r.name, String::from_utf8_lossy(&o.stderr));
        let head = &stdout_lines(&o)[0];
        assert_eq!(head["config"]["router"], r.name);
        assert_eq!(head["config"]["balance"], r.balances[0].name(), "{}: its default balance loss", r.name);
        assert_eq!(head["config"]["drop_policy"], "random");
        if let Some(k) = r.k {
            assert_eq!(head["config"]["top_k"], k, "{}", r.name);
            assert!(String::from_utf8_lossy(&o.stderr).contains(&format!("k set to {k}")), "{}", r.name);
        }
    }
    let o = moe_train(&[
        "--backend",
        "cpu",
        "--steps",
        "2",
        "--tokens",
        "16",
        "--eval-every",
        "0",
        "--router=aux-free",
        "--gamma",
        "0.01",
        "--balance",
        "switch",
        "--alpha",
        "0.02",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let head = &stdout_lines(&o)[0];
    assert_eq!(head["config"]["gamma"], 0.01);
    assert_eq!(head["config"]["balance"], "switch");
    assert_eq!(head["config"]["alpha"], 0.02);
}

/// Router choices and combinations a router does not allow exit 2 naming the allowed values.
#[test]
fn router_errors_name_the_allowed_values() {
    use moe_playground::model::routers::ROUTERS;
    let all_routers: Vec<&str> = ROUTERS.iter().map(|r| r.name).collect();
    let cases: &[(&[&str], &[&str])] = &[
        (&["--router", "nope"], &all_routers),
        (&["--router", "gshard-top2", "--top-k", "3"], &["gshard-top2", "k = 2"]),
        (&["--router", "hash", "--balance", "switch"], &["hash", "none"]),
        (&["--balance", "maybe"], &["switch", "none"]),
        (&["--drop-policy", "last"], &["position", "probability", "random"]),
        (&["--gamma", "2"], &["gamma", "0..=1"]),
    ];
    for (args, needles) in cases {
        let mut all = args.to_vec();
        all.extend(["--backend", "cpu"]);
        let o = moe_train(&all);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(o.stdout.is_empty() && err.starts_with("error: "), "{args:?}: {err}");
        for n in *needles {
            assert!(err.contains(n), "{args:?}: {err} should name {n}");
        }
    }
}

/// Beyond token choice from the command line, on both backends: expert choice with a shared
/// expert, fine-grained experts, the dense mixture's competitive loss; the snapshots carry the
/// unrouted share and the config echoes the flags. Bad splits exit 2 naming the knob.
#[test]
fn shared_fine_grained_expert_choice_and_mixture_flags() {
    let runs: &[&[&str]] = &[
        &["--router", "expert-choice", "--shared", "1"],
        &["--granularity", "2", "--top-k", "2"],
        &["--router", "dense-mixture", "--mixture-loss", "competitive", "--dataset", "regions"],
    ];
    for backend in ["cpu", "gpu"] {
        for extra in runs {
            let mut args =
                vec!["--backend", backend, "--steps", "4", "--every", "4", "--tokens", "32", "--eval-every", "0"];
            args.extend_from_slice(extra);
            let o = moe_train(&args);
            assert_eq!(o.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
            let lines = stdout_lines(&o);
            let (head, last) = (&lines[0], lines.last().unwrap());
            for pair in extra.chunks(2) {
                let key = pair[0].trim_start_matches("--").replace('-', "_");
                let v = &head["config"][&key];
                assert!(
                    v.as_str() == Some(pair[1]) || v.as_u64().map(|n| n.to_string()).as_deref() == Some(pair[1]),
                    "{args:?}: config {key} = {v}"
                );
            }
            let unrouted = last["unrouted_share"].as_f64().unwrap_or(-1.0);
            assert!((0.0..=1.0).contains(&unrouted), "{args:?}: unrouted_share {unrouted} in {last}");
            assert!(last["ce"].as_f64().is_some_and(f64::is_finite), "{args:?}: {last}");
        }
    }
    for (args, needle) in [
        (&["--granularity", "3"][..], "granularity"),
        (&["--shared", "1", "--experts", "64"][..], "shared"),
        (&["--router", "expert-choice", "--balance", "switch"][..], "balance"),
    ] {
        let mut all = args.to_vec();
        all.extend(["--backend", "cpu"]);
        let o = moe_train(&all);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

/// `--init upcycle --dense-steps N`: a dense warm-up of N steps (one expert: no similarity), its
/// last window closed at the switch in its own line, then the MoE continuing at step N + 1 with
/// its experts nearly identical; on both backends.
#[test]
fn upcycle_flags_train_dense_then_moe() {
    for backend in ["cpu", "gpu"] {
        let o = moe_train(&[
            "--backend",
            backend,
            "--init",
            "upcycle",
            "--dense-steps",
            "15",
            "--steps",
            "40",
            "--every",
            "10",
            "--tokens",
            "32",
            "--top-k",
            "2",
        ]);
        assert_eq!(o.status.code(), Some(0), "{backend}: {}", String::from_utf8_lossy(&o.stderr));
        let lines = stdout_lines(&o);
        assert_eq!(lines[0]["config"]["init"], "upcycle");
        assert_eq!(lines[0]["config"]["dense_steps"], 15);
        let rows: Vec<(u64, usize, Option<f64>)> = lines[1..]
            .iter()
            .map(|l| {
                (
                    l["step"].as_u64().unwrap(),
                    l["load_share"].as_array().unwrap().len(),
                    l["expert_similarity"].as_f64(),
                )
            })
            .collect();
        let shape: Vec<(u64, usize, bool)> = rows.iter().map(|r| (r.0, r.1, r.2.is_some())).collect();
        assert_eq!(
            shape,
            [(10, 1, false), (15, 1, false), (20, 8, true), (30, 8, true), (40, 8, true)],
            "{backend}: {rows:?}"
        );
        let sim = rows[2].2.unwrap();
        assert!(sim > 0.9 && sim < 1.0, "{backend}: 5 steps after the switch the copies are still alike: {sim}");
    }
    let o = moe_train(&["--backend", "cpu", "--init", "upcycle", "--dense-twin", "active"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("init"), "{}", String::from_utf8_lossy(&o.stderr));
}

/// `--profile` on the GPU trainer: a table with every kernel of the step exactly once, longest
/// first, times that are finite and not negative, shares summing to 100 %, and the timer named.
#[test]
fn profile_times_every_kernel_of_the_step() {
    let o = moe_train(&["--profile", "--steps", "3", "--tokens", "64", "--top-k", "2"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}\n{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("timer: "), "{out}");
    assert!(out.contains("one step as trained"), "{out}");
    let rows: Vec<(String, f64, f64)> = out
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let ms: f64 = cells[2].parse().unwrap_or_else(|_| panic!("ms in {l}"));
            let share: f64 = cells[3].trim_end_matches(" %").parse().unwrap_or_else(|_| panic!("share in {l}"));
            (cells[1].trim_matches('`').to_string(), ms, share)
        })
        .collect();
    let mut names: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    names.sort_unstable();
    let mut want: Vec<&str> = moe_playground::gpu::kernels::STEP.iter().map(|k| k.name()).collect();
    want.sort_unstable();
    assert_eq!(names, want, "every kernel of the step once");
    assert!(rows.iter().all(|r| r.1.is_finite() && r.1 >= 0.0), "{out}");
    assert!(rows.windows(2).all(|w| w[0].1 >= w[1].1), "longest first: {out}");
    let total: f64 = rows.iter().map(|r| r.2).sum();
    assert!((total - 100.0).abs() < 0.5, "shares sum to {total}: {out}");
    assert!(rows.iter().map(|r| r.1).sum::<f64>() > 0.0, "some kernel takes time: {out}");
}

/// `--bench --sweep` on one backend: a JSON line per point of every axis, each with its rate.
#[test]
fn sweep_prints_a_line_per_config() {
    let o = moe_train(&[
        "--bench",
        "--sweep",
        "--backend",
        "cpu",
        "--steps",
        "1",
        "--tokens",
        "64",
        "--d",
        "8",
        "--hidden",
        "8",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines = stdout_lines(&o);
    assert_eq!(lines.len(), 5 + 4 + 4 + 4, "{lines:?}");
    for axis in ["experts", "tokens", "top_k", "d_hidden"] {
        assert!(lines.iter().any(|l| l["sweep"] == axis), "no {axis} line");
    }
    for l in &lines {
        assert_eq!(l["backend"], "cpu reference");
        assert!(l["tokens_per_s_median"].as_f64().is_some_and(|r| r > 0.0), "{l}");
    }
    let experts: Vec<u64> =
        lines.iter().filter(|l| l["sweep"] == "experts").map(|l| l["experts"].as_u64().unwrap()).collect();
    assert_eq!(experts, [4, 8, 16, 32, 64]);
}
