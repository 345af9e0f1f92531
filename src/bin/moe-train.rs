//! `moe-train`: the headless CLI. Trains the MoE model with the WGSL kernels (`--backend gpu`, the
//! default) or the CPU reference (`--backend cpu`) and prints one JSON object per line: a header
//! (backend, config, parameter count), then a metrics snapshot every `--every` steps. `--trace`
//! writes the full routing of chosen steps to a JSON file; `--bench` times the training steps.
//!
//! Exit codes: 0 success, 1 runtime failure (no GPU, I/O), 2 usage error, 3 training diverged.
//! Run `moe-train --help` for the flags.

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    let mut raw = Vec::new();
    for a in std::env::args_os().skip(1) {
        match a.into_string() {
            Ok(s) => raw.push(s),
            Err(a) => {
                eprintln!("error: argument {a:?} is not valid UTF-8");
                eprintln!("{}", cli::HINT);
                std::process::exit(2);
            }
        }
    }
    let code = match cli::parse(&raw) {
        Ok(args) if args.help => {
            print!("{}", cli::usage());
            0
        }
        Ok(args) => cli::run(args),
        Err(e) => {
            eprintln!("error: {e}");
            eprintln!("{}", cli::HINT);
            2
        }
    };
    std::process::exit(code);
}

#[cfg(not(target_arch = "wasm32"))]
mod cli {
    use moe_playground::config::{Config, KEYS};
    use moe_playground::gpu::GpuTrainer;
    use moe_playground::metrics::Snapshot;
    use moe_playground::model::{Dims, Layout};
    use moe_playground::presets;
    use moe_playground::trainer::{CpuTrainer, Trace, Trainer};
    use serde_json::json;
    use std::io::Write;
    use std::path::PathBuf;
    use std::time::Instant;

    pub const HINT: &str = "run moe-train --help for usage";
    const DEFAULT_STEPS: u32 = 1000;
    const DEFAULT_EVERY: u32 = 100;
    /// Steps per `--bench` repeat when `--steps` is not given.
    const BENCH_STEPS: u32 = 50;
    const BENCH_WARMUP: u32 = 5;
    const BENCH_REPEATS: usize = 5;
    /// At most this many steps per `train` call (one GPU submission) in the training loop.
    const MAX_CHUNK: u32 = 100;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Backend {
        Gpu,
        Cpu,
    }

    /// The parsed command line. `cfg` is validated.
    #[derive(Clone, Debug, PartialEq)]
    pub struct Args {
        pub cfg: Config,
        pub backend: Backend,
        /// `--steps` if given (training defaults to 1000, `--bench` to 50 per repeat).
        pub steps: Option<u32>,
        pub every: u32,
        /// `--trace FILE` and the sorted, deduplicated 1-based steps of `--trace-steps`.
        pub trace: Option<(PathBuf, Vec<u32>)>,
        pub bench: bool,
        pub help: bool,
    }

    impl Args {
        fn steps(&self) -> u32 {
            self.steps.unwrap_or(DEFAULT_STEPS)
        }
    }

    /// Flags of the CLI itself (the config keys of [`KEYS`] are flags too).
    const OWN_VALUE_FLAGS: &[&str] = &["preset", "steps", "backend", "every", "trace", "trace-steps"];

    fn positive(flag: &str, v: &str) -> Result<u32, String> {
        match v.trim().parse::<u32>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!("invalid {flag} = {v:?}: must be an integer in 1..={}", u32::MAX)),
        }
    }

    /// Parse the arguments (without the program name). Pure: no I/O.
    pub fn parse(args: &[String]) -> Result<Args, String> {
        let mut preset: Option<String> = None;
        let mut sets: Vec<(String, String)> = Vec::new();
        let mut backend = Backend::Gpu;
        let mut steps = None;
        let mut every = DEFAULT_EVERY;
        let mut trace_file: Option<PathBuf> = None;
        let mut trace_steps: Option<String> = None;
        let mut bench = false;

        let mut i = 0;
        while i < args.len() {
            let arg = &args[i];
            i += 1;
            if arg == "-h" || arg == "--help" {
                return Ok(Args { cfg: Config::default(), backend, steps, every, trace: None, bench, help: true });
            }
            let Some(body) = arg.strip_prefix("--").filter(|b| !b.is_empty()) else {
                return Err(format!("unexpected argument {arg:?} (flags start with --)"));
            };
            let (name, inline) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (body, None),
            };
            if name == "bench" {
                if inline.is_some() {
                    return Err("--bench takes no value".into());
                }
                bench = true;
                continue;
            }
            if !OWN_VALUE_FLAGS.contains(&name) && !KEYS.contains(&name) {
                return Err(format!("unknown flag --{name}"));
            }
            let value = match inline {
                Some(v) => v,
                None => match args.get(i) {
                    Some(v) if !v.starts_with("--") => {
                        i += 1;
                        v.clone()
                    }
                    _ => return Err(format!("missing value for --{name}")),
                },
            };
            match name {
                "preset" => {
                    if presets::find(&value).is_none() {
                        return Err(format!("unknown preset {value:?}; presets: {}", presets::names().join(", ")));
                    }
                    preset = Some(value);
                }
                "steps" => steps = Some(positive("steps", &value)?),
                "every" => every = positive("every", &value)?,
                "backend" => {
                    backend = match value.trim() {
                        "gpu" => Backend::Gpu,
                        "cpu" => Backend::Cpu,
                        _ => return Err(format!("invalid backend = {value:?}: must be gpu or cpu")),
                    }
                }
                "trace" => {
                    if value.is_empty() {
                        return Err("invalid trace = \"\": must be a file name".into());
                    }
                    trace_file = Some(PathBuf::from(value));
                }
                "trace-steps" => trace_steps = Some(value),
                key => sets.push((key.to_string(), value)),
            }
        }

        // The preset first, then every config flag in command-line order.
        let mut cfg = match &preset {
            Some(p) => presets::config(p).ok_or_else(|| format!("unknown preset {p:?}"))?,
            None => Config::default(),
        };
        for (key, value) in &sets {
            cfg.set(key, value).map_err(|e| e.to_string())?;
        }
        cfg.validate().map_err(|e| e.to_string())?;

        let total = steps.unwrap_or(DEFAULT_STEPS);
        let trace = match (trace_file, trace_steps) {
            (None, None) => None,
            (Some(_), None) => return Err("--trace needs --trace-steps a,b,c (1-based step numbers)".into()),
            (None, Some(_)) => return Err("--trace-steps needs --trace FILE".into()),
            (Some(_), Some(_)) if bench => return Err("--trace cannot be combined with --bench".into()),
            (Some(file), Some(list)) => Some((file, parse_trace_steps(&list, total)?)),
        };

        Ok(Args { cfg, backend, steps, every, trace, bench, help: false })
    }

    /// `a,b,c` → sorted, deduplicated steps, each in 1..=total.
    fn parse_trace_steps(list: &str, total: u32) -> Result<Vec<u32>, String> {
        let bad = |why: String| format!("invalid trace-steps = {list:?}: {why}");
        let mut out = Vec::new();
        for item in list.split(',') {
            let item = item.trim();
            let n: u32 = item.parse().map_err(|_| bad(format!("{item:?} is not a step number (expected a,b,c)")))?;
            if n == 0 || n > total {
                return Err(bad(format!("step {n} is outside 1..={total} (steps are 1-based, at most --steps)")));
            }
            out.push(n);
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// The `--help` text.
    pub fn usage() -> String {
        let d = Config::default();
        let get = |k: &str| d.get(k).unwrap_or_default();
        let mut s = String::new();
        s.push_str(
            "moe-train: train the MoE Playground model headlessly and print metrics as JSON lines.\n\n\
             Usage: moe-train [--preset NAME] [FLAGS]   (--flag value or --flag=value)\n\n\
             Model and training (--preset is applied first; these override it in any order):\n",
        );
        let rows: Vec<(String, String)> = vec![
            ("--preset NAME".into(), format!("start from a preset: {}", presets::names().join(", "))),
            ("--dataset tokens|regions".into(), format!("data set (default {})", get("dataset"))),
            ("--experts E".into(), format!("number of experts (default {})", get("experts"))),
            ("--top-k K".into(), format!("experts per token (default {})", get("top-k"))),
            (
                "--capacity-factor CF|inf".into(),
                format!("capacity factor, inf = dropless (default {})", get("capacity-factor")),
            ),
            ("--alpha A".into(), format!("balance-loss weight (default {})", get("alpha"))),
            ("--beta B".into(), format!("router z-loss weight (default {})", get("beta"))),
            ("--lr LR".into(), format!("Adam learning rate (default {})", get("lr"))),
            ("--tokens T".into(), format!("tokens per batch (default {})", get("tokens"))),
            ("--d D".into(), format!("model width (default {})", get("d"))),
            ("--hidden H".into(), format!("expert hidden width (default {})", get("hidden"))),
            ("--seed S".into(), format!("random seed (default {})", get("seed"))),
            ("--adam-beta1 B1".into(), format!("Adam beta1 (default {})", get("adam-beta1"))),
            ("--adam-beta2 B2".into(), format!("Adam beta2 (default {})", get("adam-beta2"))),
            ("--adam-eps EPS".into(), format!("Adam epsilon (default {})", get("adam-eps"))),
            ("--grad-clip G|none".into(), format!("clip the global gradient norm (default {})", get("grad-clip"))),
            (
                format!(
                    "--router {}",
                    moe_playground::config::RouterKind::all().map(|r| r.name()).collect::<Vec<_>>().join("|")
                ),
                format!("router (default {})", get("router")),
            ),
            ("--balance switch|none".into(), format!("balance loss (default {})", get("balance"))),
            (
                "--drop-policy position|probability|random".into(),
                format!("which assignments an expert over capacity drops (default {})", get("drop-policy")),
            ),
            ("--gamma G".into(), format!("aux-free router: bias step (default {})", get("gamma"))),
            (
                "--experts-off true|false".into(),
                format!("ablation: every expert off, h = x (default {})", get("experts-off")),
            ),
            (
                "--dense-twin off|active|total".into(),
                format!(
                    "train the dense twin instead: one expert of width k·H (active: equal FLOPs per token) or \
                     E·H (total: equal parameters), same seed, data and steps (default {})",
                    get("dense-twin")
                ),
            ),
            (
                "--eval-every N".into(),
                format!(
                    "evaluate on the held-out set (never trained on) every N steps, 0 = never; the last step is \
                     always evaluated (default {})",
                    get("eval-every")
                ),
            ),
        ];
        let run_rows: Vec<(String, String)> = vec![
            ("--steps N".into(), format!("training steps (default {DEFAULT_STEPS})")),
            ("--backend gpu|cpu".into(), "WGSL kernels via wgpu, or the CPU reference (default gpu)".into()),
            ("--every N".into(), format!("print a metrics JSON line every N steps (default {DEFAULT_EVERY})")),
            ("--trace FILE".into(), "write the routing of the --trace-steps to FILE (JSON array)".into()),
            ("--trace-steps a,b,c".into(), "1-based steps to trace, each in 1..=steps".into()),
            (
                "--bench".into(),
                format!(
                    "time the training: {BENCH_REPEATS} repeats of --steps steps (default {BENCH_STEPS}); \
                     prints one JSON object"
                ),
            ),
            ("-h, --help".into(), "print this help".into()),
        ];
        let width = rows.iter().chain(&run_rows).map(|(f, _)| f.len()).max().unwrap_or(0);
        for (f, what) in &rows {
            s.push_str(&format!("  {f:width$}  {what}\n"));
        }
        s.push_str("\nRun:\n");
        for (f, what) in &run_rows {
            s.push_str(&format!("  {f:width$}  {what}\n"));
        }
        s.push_str("\nPresets:\n");
        for p in presets::PRESETS {
            s.push_str(&format!("  {:18}  {}\n", p.name, p.title));
        }
        s.push_str(
            "\nOutput: a header line {\"backend\", \"config\", \"params\"}, then one snapshot per --every steps\n\
             (and one for the last step if it is not a multiple): step, ce (training batches of the\n\
             window), eval_ce and eval_accuracy (held-out set, taken after step eval_step), aux, z,\n\
             load_share, kept, capacity, dropped_share, all_dropped_share, entropy, cv, max_share, ...\n\
             Exit codes: 0 ok, 1 runtime failure (no GPU adapter, I/O), 2 usage error, 3 training diverged.\n",
        );
        s
    }

    /// Why the run stopped early.
    enum Stop {
        /// stdout was closed (e.g. piped into `head`): stop quietly.
        Closed,
        /// Print `error: …` and exit with this code.
        Fail(i32, String),
    }

    /// Write one JSON line (flushed, so a reader sees it at once).
    fn out(w: &mut dyn Write, line: &serde_json::Value) -> Result<(), Stop> {
        writeln!(w, "{line}").and_then(|_| w.flush()).map_err(|e| match e.kind() {
            std::io::ErrorKind::BrokenPipe => Stop::Closed,
            _ => Stop::Fail(1, format!("cannot write to stdout: {e}")),
        })
    }

    fn open(args: &Args) -> Result<Box<dyn Trainer>, String> {
        Ok(match args.backend {
            Backend::Cpu => Box::new(CpuTrainer::new(&args.cfg).map_err(|e| e.to_string())?),
            Backend::Gpu => Box::new(pollster::block_on(GpuTrainer::new(&args.cfg))?),
        })
    }

    fn snapshot(t: &mut dyn Trainer) -> Result<Snapshot, Stop> {
        if !t.request_snapshot() {
            return Err(Stop::Fail(1, "could not request a metrics snapshot".into()));
        }
        t.wait_snapshot().ok_or_else(|| Stop::Fail(1, "the metrics snapshot failed (buffer mapping error)".into()))
    }

    /// Train with the parsed arguments; returns the exit code.
    pub fn run(args: Args) -> i32 {
        let mut stdout = std::io::stdout().lock();
        let result = open(&args).map_err(|e| Stop::Fail(1, e)).and_then(|mut t| {
            if args.bench {
                bench(&args, t.as_mut(), &mut stdout)
            } else {
                train(&args, t.as_mut(), &mut stdout)
            }
        });
        match result {
            Ok(()) | Err(Stop::Closed) => 0,
            Err(Stop::Fail(code, msg)) => {
                eprintln!("error: {msg}");
                code
            }
        }
    }

    /// `--trace`: write the collected traces.
    fn write_trace(file: &PathBuf, traces: &[Trace]) -> Result<(), Stop> {
        let text = serde_json::to_string(traces).map_err(|e| Stop::Fail(1, format!("cannot encode the trace: {e}")))?;
        std::fs::write(file, text + "\n")
            .map_err(|e| Stop::Fail(1, format!("cannot write trace file {}: {e}", file.display())))
    }

    /// The config as JSON; through the text form so f32 values print short (0.01, not 0.009999…).
    fn config_json(cfg: &Config) -> serde_json::Value {
        serde_json::to_string(cfg).ok().and_then(|s| serde_json::from_str(&s).ok()).unwrap_or(serde_json::Value::Null)
    }

    fn train(args: &Args, t: &mut dyn Trainer, w: &mut dyn Write) -> Result<(), Stop> {
        let cfg = &args.cfg;
        let total = args.steps();
        let (trace_file, trace_steps) = match &args.trace {
            Some((f, s)) => (Some(f), s.as_slice()),
            None => (None, &[][..]),
        };
        // Fail on an unwritable trace file now, not after the run.
        if let Some(f) = trace_file {
            write_trace(f, &[])?;
        }
        let params = Layout::new(&Dims::new(cfg)).total;
        out(w, &json!({ "backend": t.backend(), "config": config_json(cfg), "params": params }))?;

        let mut traces = Vec::new();
        let mut next_trace = trace_steps.iter().copied().peekable();
        let mut step = 0u32;
        while step < total {
            let boundary = (step / args.every + 1).saturating_mul(args.every).min(total);
            let mut stop = boundary.min(step.saturating_add(MAX_CHUNK));
            if let Some(&s) = next_trace.peek() {
                stop = stop.min(s);
            }
            t.train(stop - step);
            step = stop;
            if next_trace.peek() == Some(&step) {
                next_trace.next();
                traces.push(t.last_trace());
            }
            if step.is_multiple_of(args.every) || step == total {
                let every = t.config().eval_every;
                if step == total && every > 0 && !step.is_multiple_of(every) {
                    t.eval_now();
                }
                let snap = snapshot(t)?;
                out(w, &snap.json())?;
                if snap.diverged() {
                    if let Some(f) = trace_file {
                        write_trace(f, &traces)?;
                    }
                    return Err(Stop::Fail(
                        3,
                        format!(
                            "training diverged at step {} (loss or gradient not finite); the weights from the last \
                             finite step are kept — lower --lr (now {}) or set --grad-clip",
                            snap.step,
                            cfg.get("lr").unwrap_or_default()
                        ),
                    ));
                }
            }
        }
        if let Some(f) = trace_file {
            write_trace(f, &traces)?;
        }
        Ok(())
    }

    fn median(v: &[f64]) -> f64 {
        let mut s = v.to_vec();
        s.sort_by(f64::total_cmp);
        match s.len() {
            0 => 0.0,
            n if n % 2 == 1 => s[n / 2],
            n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
        }
    }

    fn bench(args: &Args, t: &mut dyn Trainer, w: &mut dyn Write) -> Result<(), Stop> {
        let cfg = &args.cfg;
        let n = args.steps.unwrap_or(BENCH_STEPS);
        // Training steps and held-out passes are timed apart: no evaluation inside the timed steps.
        let every = cfg.eval_every;
        t.set_live(moe_playground::config::LiveKnobs { eval_every: 0, ..t.config().live() })
            .map_err(|e| Stop::Fail(1, e.to_string()))?;
        t.train(BENCH_WARMUP);
        snapshot(t)?;
        let mut rates = Vec::with_capacity(BENCH_REPEATS);
        for _ in 0..BENCH_REPEATS {
            let start = Instant::now();
            t.train(n);
            snapshot(t)?;
            let secs = start.elapsed().as_secs_f64().max(1e-9);
            rates.push(n as f64 / secs);
        }
        let med = median(&rates);
        let mut eval_ms = Vec::with_capacity(BENCH_REPEATS);
        for _ in 0..BENCH_REPEATS {
            let start = Instant::now();
            t.eval_now();
            snapshot(t)?;
            eval_ms.push(start.elapsed().as_secs_f64() * 1e3);
        }
        let eval_med = median(&eval_ms);
        // One pass per `every` steps: its time against the time of those steps.
        let eval_share = if every > 0 { eval_med / (eval_med + every as f64 * 1e3 / med) } else { 0.0 };
        out(
            w,
            &json!({
            "bench": true,
            "backend": t.backend(),
            "tokens": cfg.tokens,
            "experts": cfg.experts,
            "top_k": cfg.top_k,
            "d": cfg.d,
            "hidden": cfg.hidden,
            "steps_per_repeat": n,
            "repeats": BENCH_REPEATS,
            "steps_per_s_median": med,
            "tokens_per_s_median": med * cfg.tokens as f64,
            "steps_per_s_all": rates,
            "eval_examples": moe_playground::data::EVAL_N,
            "eval_ms_median": eval_med,
            "eval_every": every,
            "eval_share_of_training_time": eval_share,
            }),
        )
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn p(s: &str) -> Result<Args, String> {
            let v: Vec<String> = s.split_whitespace().map(String::from).collect();
            parse(&v)
        }

        #[test]
        fn defaults() {
            let a = p("").unwrap();
            assert_eq!(a.cfg, Config::default());
            assert_eq!((a.backend, a.steps, a.every, a.bench, a.help), (Backend::Gpu, None, 100, false, false));
            assert_eq!(a.steps(), 1000);
        }

        #[test]
        fn preset_applies_first_whatever_the_order() {
            let a = p("--alpha 0.5 --preset collapse --top-k=2").unwrap();
            assert_eq!(a.cfg.alpha, 0.5);
            assert_eq!(a.cfg.top_k, 2);
            let b = p("--preset dead-experts --dataset tokens").unwrap();
            assert_eq!(b.cfg.dataset, moe_playground::config::Dataset::Tokens);
            assert_eq!(b.cfg.tokens, 512);
        }

        #[test]
        fn every_config_key_is_a_flag() {
            let d = Config::default();
            for k in KEYS {
                let v = d.get(k).unwrap();
                let a = parse(&[format!("--{k}"), v.clone()]).unwrap_or_else(|e| panic!("--{k} {v}: {e}"));
                assert_eq!(a.cfg, d, "--{k}");
                assert!(usage().contains(&format!("--{k} ")), "usage lists --{k}");
            }
        }

        #[test]
        fn errors_name_the_problem() {
            for (args, needle) in [
                ("--top-k 9 --experts 8", "top-k"),
                ("--capacity-factor 0", "capacity-factor"),
                ("--experts 0", "experts"),
                ("--tokens 7", "tokens"),
                ("--lr abc", "lr"),
                ("--bogus", "--bogus"),
                ("--preset nope", "nope"),
                ("--lr", "missing value for --lr"),
                ("--lr --steps 3", "missing value for --lr"),
                ("--steps 0", "steps"),
                ("--every x", "every"),
                ("--backend tpu", "backend"),
                ("--bench=1", "--bench"),
                ("stray", "stray"),
                ("--", "unexpected"),
                ("--trace-steps 5", "--trace"),
                ("--trace f.json", "--trace-steps"),
                ("--trace f.json --trace-steps 11 --steps 10", "trace-steps"),
                ("--trace f.json --trace-steps 0", "trace-steps"),
                ("--trace f.json --trace-steps 1,,2", "trace-steps"),
                ("--trace f.json --trace-steps 2 --bench", "--bench"),
            ] {
                let e = p(args).expect_err(args);
                assert!(e.contains(needle), "{args}: {e}");
            }
        }

        #[test]
        fn trace_steps_sorted_and_deduplicated() {
            let a = p("--trace=t.json --trace-steps=5,2,5 --steps 5").unwrap();
            assert_eq!(a.trace, Some((PathBuf::from("t.json"), vec![2, 5])));
        }

        /// Records the calls the loop makes; snapshots report `skipped` from step `diverge_at` on.
        struct Fake {
            cfg: Config,
            step: u32,
            diverge_at: u32,
            log: Vec<String>,
            ready: Vec<Snapshot>,
        }

        impl Fake {
            fn new(diverge_at: u32) -> Fake {
                Fake { cfg: Config::default(), step: 0, diverge_at, log: Vec::new(), ready: Vec::new() }
            }
        }

        impl Trainer for Fake {
            fn config(&self) -> &Config {
                &self.cfg
            }
            fn backend(&self) -> String {
                "fake".into()
            }
            fn set_live(
                &mut self,
                _: moe_playground::config::LiveKnobs,
            ) -> Result<(), moe_playground::config::ConfigError> {
                Ok(())
            }
            fn train(&mut self, n: u32) {
                self.step += n;
                self.log.push(format!("train {n}"));
            }
            fn steps(&self) -> u32 {
                self.step
            }
            fn eval_now(&mut self) {
                self.log.push(format!("eval {}", self.step));
            }
            fn request_snapshot(&mut self) -> bool {
                self.log.push(format!("snap {}", self.step));
                let skipped = u32::from(self.step >= self.diverge_at);
                self.ready.push(Snapshot { step: self.step, skipped, ..Default::default() });
                true
            }
            fn poll_snapshot(&mut self) -> Option<Snapshot> {
                self.ready.pop()
            }
            fn wait_snapshot(&mut self) -> Option<Snapshot> {
                self.ready.pop()
            }
            fn last_trace(&mut self) -> Trace {
                self.log.push(format!("trace {}", self.step));
                Trace {
                    step: self.step,
                    router_logits: vec![],
                    probs: vec![],
                    topk: vec![],
                    gates: vec![],
                    dropped: vec![],
                    counts: vec![],
                    kept: vec![],
                    capacity: 0,
                    ce: 0.0,
                    aux: 0.0,
                    z: 0.0,
                    ..Default::default()
                }
            }
        }

        #[test]
        fn loop_stops_at_boundaries_and_trace_steps() {
            let file = std::env::temp_dir().join(format!("moe-train-unit-{}.json", std::process::id()));
            let mut a = p("--steps 250 --every 100 --backend cpu").unwrap();
            a.trace = Some((file.clone(), vec![7, 100]));
            let mut t = Fake::new(u32::MAX);
            let mut buf = Vec::new();
            assert!(train(&a, &mut t, &mut buf).is_ok());
            let expect = [
                "train 7",
                "trace 7",
                "train 93",
                "trace 100",
                "snap 100",
                "train 100",
                "snap 200",
                "train 50",
                "eval 250", // the last step is always evaluated (250 is no multiple of eval-every 200)
                "snap 250",
            ];
            assert_eq!(t.log, expect);
            assert_eq!(String::from_utf8(buf).unwrap().lines().count(), 4);
            let traces: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
            let _ = std::fs::remove_file(&file);
            assert_eq!(traces.as_array().map(|v| v.len()), Some(2));
        }

        #[test]
        fn divergence_exits_3_after_printing_the_line() {
            let a = p("--steps 1000 --every 10 --backend cpu").unwrap();
            let mut t = Fake::new(25);
            let mut buf = Vec::new();
            match train(&a, &mut t, &mut buf) {
                Err(Stop::Fail(3, msg)) => {
                    assert!(msg.contains("diverged at step 30"), "{msg}");
                    assert!(msg.contains("--lr (now 0.003)"), "{msg}");
                }
                _ => panic!("expected exit 3"),
            }
            assert_eq!(String::from_utf8(buf).unwrap().lines().count(), 4);
        }

        #[test]
        fn help_and_median() {
            assert!(p("--steps 3 -h").unwrap().help);
            assert!(usage().contains("capacity-squeeze"));
            assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
            assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        }
    }
}
