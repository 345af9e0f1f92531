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
    let code = match cli::parse(std::env::args_os().skip(1)) {
        Ok(cli::Parsed::Help(text)) => {
            print!("{text}");
            0
        }
        Ok(cli::Parsed::Run(args)) => {
            for note in &args.notes {
                eprintln!("note: {note}");
            }
            cli::run(args)
        }
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
    use clap::builder::{NonEmptyStringValueParser, PossibleValue, PossibleValuesParser};
    use clap::error::ErrorKind;
    use clap::{value_parser, Arg, ArgAction, Command};
    use moe_playground::config::Config;
    use moe_playground::knobs::{or_list, Group, Kind, Knob, KNOBS};
    use moe_playground::metrics::Snapshot;
    use moe_playground::model::{Dims, Layout};
    use moe_playground::presets;
    use moe_playground::trainer::{Trace, Trainer};
    use moe_playground::upcycle::Upcycle;
    use serde_json::json;
    use std::ffi::OsString;
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
    /// Steps `--profile` times when `--steps` is not given.
    const PROFILE_STEPS: u32 = 30;
    /// A sweep repeat aims at this many seconds (its step count follows from a first timed step).
    const SWEEP_REPEAT_S: f64 = 1.0;
    const SWEEP_REPEATS: usize = 3;
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
        /// `--sweep` (with `--bench`): the scaling sweep over E, T, k and d/H.
        pub sweep: bool,
        /// `--profile`: time each kernel of the step.
        pub profile: bool,
        /// `--backend` was given (a sweep runs both backends otherwise).
        pub backend_given: bool,
        /// What selecting `--router` changed besides (its defaults for the flags not given).
        pub notes: Vec<String>,
    }

    impl Args {
        fn steps(&self) -> u32 {
            self.steps.unwrap_or(DEFAULT_STEPS)
        }
    }

    /// What the command line asks for.
    #[derive(Debug)]
    pub enum Parsed {
        Run(Args),
        /// `-h` / `--help`: print this text.
        Help(String),
    }

    /// The `--help` sections of the CLI's own flags.
    const PRESET: &str = "Preset (applied first; the flags below override it in any order)";
    const RUN: &str = "Run";

    /// The placeholder of a knob's value in `--help`.
    fn value_name(k: &Knob) -> &'static str {
        match k.kind {
            Kind::Int { .. } => "N",
            Kind::Real { off: Some(o), .. } if o.word == "inf" => "X|inf",
            Kind::Real { off: Some(_), .. } => "X|none",
            Kind::Real { .. } => "X",
            Kind::Choice(_) => "NAME",
            Kind::Bool => "true|false",
        }
    }

    /// One `--<key>` flag for a knob: its help, range, default and (for choices) possible values.
    fn knob_arg(k: &'static Knob) -> Arg {
        let default = k.get_str(&Config::default());
        let mut help = k.help.trim_end_matches('.').to_string();
        if k.router_specific() {
            let owners: Vec<&str> = k.owners().iter().map(|r| r.name()).collect();
            help.push_str(&format!(" (only the {} router)", or_list(&owners)));
        }
        let range = match k.kind {
            Kind::Choice(_) | Kind::Bool => String::new(),
            _ => format!(" (allowed: {})", k.allowed().trim_start_matches("in ")),
        };
        let arg = Arg::new(k.key)
            .long(k.key)
            .value_name(value_name(k))
            .help_heading(k.group.title())
            .help(format!("{help}{range} [default: {default}]"))
            .action(ArgAction::Set);
        match k.kind {
            Kind::Choice(_) => {
                let values: Vec<PossibleValue> = k
                    .choices()
                    .into_iter()
                    .map(|c| PossibleValue::new(c.value).help(c.help).aliases(c.aliases.iter().copied()))
                    .collect();
                arg.value_parser(PossibleValuesParser::new(values))
            }
            Kind::Bool => arg.value_parser(PossibleValuesParser::new([
                PossibleValue::new("true").aliases(["1", "on", "yes"]),
                PossibleValue::new("false").aliases(["0", "off", "no"]),
            ])),
            _ => arg.allow_negative_numbers(true),
        }
    }

    /// The command: the CLI's own flags and one flag per knob of [`KNOBS`], by group.
    pub fn command() -> Command {
        let presets: Vec<PossibleValue> =
            presets::PRESETS.iter().map(|p| PossibleValue::new(p.name).help(p.title)).collect();
        let mut cmd = Command::new("moe-train")
            .about("Train the MoE Playground model headlessly and print metrics as JSON lines.")
            .long_about(
                "Train the MoE Playground model headlessly and print metrics as JSON lines.\n\n\
                 --preset is applied first, then the other flags in command-line order (--flag value or \
                 --flag=value). --router selects a router with its defaults (its k, its balance loss, its α) \
                 for the flags not given.",
            )
            .max_term_width(100)
            .disable_help_flag(true)
            .disable_version_flag(true)
            .args_override_self(true)
            .after_long_help(after_help())
            .arg(
                Arg::new("preset")
                    .long("preset")
                    .value_name("NAME")
                    .help_heading(PRESET)
                    .help("Start from a preset")
                    .value_parser(PossibleValuesParser::new(presets)),
            );
        for g in [Group::Model, Group::Routing, Group::Training] {
            for k in KNOBS.iter().filter(|k| k.group == g) {
                cmd = cmd.arg(knob_arg(k));
            }
        }
        cmd.arg(
            Arg::new("steps")
                .long("steps")
                .value_name("N")
                .help_heading(RUN)
                .help(format!("Training steps [default: {DEFAULT_STEPS}; with --bench {BENCH_STEPS} per repeat]"))
                .value_parser(value_parser!(u32).range(1..)),
        )
        .arg(
            Arg::new("backend")
                .long("backend")
                .value_name("NAME")
                .help_heading(RUN)
                .help("Where to train [default: gpu]")
                .value_parser(PossibleValuesParser::new([
                    PossibleValue::new("gpu").help("the WGSL kernels through wgpu"),
                    PossibleValue::new("cpu").help("the CPU reference (same math, slower)"),
                ])),
        )
        .arg(
            Arg::new("every")
                .long("every")
                .value_name("N")
                .help_heading(RUN)
                .help(format!("Print a metrics JSON line every N steps [default: {DEFAULT_EVERY}]"))
                .value_parser(value_parser!(u32).range(1..)),
        )
        .arg(
            Arg::new("trace")
                .long("trace")
                .value_name("FILE")
                .help_heading(RUN)
                .help("Write the routing of the --trace-steps to FILE (a JSON array)")
                .value_parser(NonEmptyStringValueParser::new()),
        )
        .arg(
            Arg::new("trace-steps")
                .long("trace-steps")
                .value_name("a,b,c")
                .help_heading(RUN)
                .help("The 1-based steps to trace, each in 1..=steps"),
        )
        .arg(
            Arg::new("bench")
                .long("bench")
                .help_heading(RUN)
                .action(ArgAction::SetTrue)
                .help(format!("Time the training: {BENCH_REPEATS} repeats of --steps steps; prints one JSON object")),
        )
        .arg(Arg::new("sweep").long("sweep").help_heading(RUN).action(ArgAction::SetTrue).help(
            "With --bench: one JSON line per config, varying E (4-64), T (64-4096), k (1-4) and d/H \
                     (32/64-128/512) from the other flags, on both backends unless --backend is given",
        ))
        .arg(Arg::new("profile").long("profile").help_heading(RUN).action(ArgAction::SetTrue).help(format!(
            "Time each WGSL kernel of the step over --steps steps [default: {PROFILE_STEPS}] (GPU timestamps \
                     where the adapter has them); prints a table, longest first"
        )))
        .arg(
            Arg::new("help")
                .short('h')
                .long("help")
                .help_heading(RUN)
                .action(ArgAction::HelpLong)
                .help("Print this help"),
        )
    }

    /// The end of `--help`: the presets, the output and the exit codes.
    fn after_help() -> String {
        let mut s = String::from("Presets:\n");
        for p in presets::PRESETS {
            s.push_str(&format!("  {:18}  {}\n", p.name, p.title));
        }
        s.push_str(
            "\nOutput: a header line {\"backend\", \"config\", \"params\"}, then one snapshot per --every steps\n\
             (and one for the last step if it is not a multiple): step, ce (training batches of the\n\
             window), eval_ce and eval_accuracy (held-out set, taken after step eval_step), aux, z,\n\
             load_share, kept, capacity, dropped_share, all_dropped_share, entropy, cv, max_share,\n\
             expert_similarity (mean pairwise cosine of the experts' weights; null with one expert), ...\n\
             With --init upcycle the dense phase's last window gets its own line at step --dense-steps.\n\
             Exit codes: 0 ok, 1 runtime failure (no GPU adapter, I/O), 2 usage error, 3 training diverged.",
        );
        s
    }

    /// The `--help` text.
    #[cfg(test)]
    pub fn usage() -> String {
        command().render_long_help().to_string()
    }

    /// clap's error without its usage lines and "try --help" tip (`main` adds [`HINT`]).
    fn clap_message(e: &clap::Error) -> String {
        let text = e.render().to_string();
        let text = text.strip_prefix("error: ").unwrap_or(&text);
        let text = text.split("\n\nUsage:").next().unwrap_or(text);
        text.split("\n\nFor more information").next().unwrap_or(text).trim_end().to_string()
    }

    /// Parse the arguments (without the program name). Pure: no I/O.
    pub fn parse<I, T>(args: I) -> Result<Parsed, String>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let argv = std::iter::once(OsString::from("moe-train")).chain(args.into_iter().map(Into::into));
        let m = match command().try_get_matches_from(argv) {
            Ok(m) => m,
            Err(e) if e.kind() == ErrorKind::DisplayHelp => return Ok(Parsed::Help(e.render().to_string())),
            Err(e) => return Err(clap_message(&e)),
        };

        // The preset first, then every config flag in command-line order.
        let mut cfg = match m.get_one::<String>("preset") {
            Some(p) => presets::config(p).ok_or_else(|| format!("unknown preset {p:?}"))?,
            None => Config::default(),
        };
        let mut sets: Vec<(usize, &'static Knob, &String)> =
            KNOBS.iter().filter_map(|k| Some((m.index_of(k.key)?, k, m.get_one::<String>(k.key)?))).collect();
        sets.sort_by_key(|s| s.0);
        for (_, k, value) in &sets {
            cfg.set(k.key, value).map_err(|e| e.to_string())?;
        }
        let named: Vec<&str> = sets.iter().map(|s| s.1.key).collect();
        let notes = if named.contains(&"router") { cfg.with_router(cfg.router, &named) } else { Vec::new() };
        cfg.validate().map_err(|e| e.to_string())?;

        let steps = m.get_one::<u32>("steps").copied();
        let every = m.get_one::<u32>("every").copied().unwrap_or(DEFAULT_EVERY);
        let backend = match m.get_one::<String>("backend").map(String::as_str) {
            Some("cpu") => Backend::Cpu,
            _ => Backend::Gpu,
        };
        let bench = m.get_flag("bench");
        let sweep = m.get_flag("sweep");
        let profile = m.get_flag("profile");
        let backend_given = m.get_one::<String>("backend").is_some();
        if sweep && !bench {
            return Err("--sweep needs --bench (it times the training of each config)".into());
        }
        if profile && bench {
            return Err("--profile and --bench are two measurements: give one of them".into());
        }
        if profile && backend == Backend::Cpu {
            return Err("--profile times the WGSL kernels: it needs the GPU backend (leave out --backend cpu)".into());
        }
        let total = steps.unwrap_or(DEFAULT_STEPS);
        let trace = match (m.get_one::<String>("trace"), m.get_one::<String>("trace-steps")) {
            (None, None) => None,
            (Some(_), None) => return Err("--trace needs --trace-steps a,b,c (1-based step numbers)".into()),
            (None, Some(_)) => return Err("--trace-steps needs --trace FILE".into()),
            (Some(_), Some(_)) if bench => return Err("--trace cannot be combined with --bench".into()),
            (Some(_), Some(_)) if profile => return Err("--trace cannot be combined with --profile".into()),
            (Some(file), Some(list)) => Some((PathBuf::from(file), parse_trace_steps(list, total)?)),
        };

        Ok(Parsed::Run(Args { cfg, backend, steps, every, trace, bench, sweep, profile, backend_given, notes }))
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
            Backend::Cpu => Box::new(Upcycle::cpu(&args.cfg).map_err(|e| e.to_string())?),
            Backend::Gpu => Box::new(pollster::block_on(Upcycle::gpu(&args.cfg))?),
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
        let result = if args.profile {
            profile(&args, &mut stdout)
        } else if args.sweep {
            sweep(&args, &mut stdout)
        } else {
            open(&args).map_err(|e| Stop::Fail(1, e)).and_then(|mut t| {
                if args.bench {
                    bench(&args, t.as_mut(), &mut stdout)
                } else {
                    train(&args, t.as_mut(), &mut stdout)
                }
            })
        };
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
                let mut snap = snapshot(t)?;
                // Upcycling: the dense phase's last window, closed at the switch, comes first (its
                // own line at the switch step, unless empty).
                while snap.step < step {
                    if snap.steps > 0 {
                        out(w, &snap.json())?;
                    }
                    snap = t.wait_snapshot().ok_or_else(|| Stop::Fail(1, "the metrics snapshot failed".into()))?;
                }
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

    /// Steps/s of `repeats` timed calls of `n` steps each; each waits until the GPU has run them
    /// (`finish`), so the time is the steps' and not a metrics snapshot's.
    fn time_steps(t: &mut dyn Trainer, n: u32, repeats: usize) -> Result<Vec<f64>, Stop> {
        let mut rates = Vec::with_capacity(repeats);
        for _ in 0..repeats {
            let start = Instant::now();
            t.train(n);
            t.finish();
            rates.push(n as f64 / start.elapsed().as_secs_f64().max(1e-9));
        }
        Ok(rates)
    }

    /// Training steps without held-out passes (they are timed apart).
    fn no_eval(t: &mut dyn Trainer) -> Result<(), Stop> {
        t.set_live(moe_playground::config::LiveKnobs { eval_every: 0, ..t.config().live() })
            .map_err(|e| Stop::Fail(1, e.to_string()))
    }

    /// The fields every bench line has: the backend, the model's shape and the rates.
    fn rate_fields(t: &dyn Trainer, cfg: &Config, n: u32, rates: &[f64]) -> serde_json::Value {
        let med = median(rates);
        json!({
            "bench": true,
            "backend": t.backend(),
            "router": cfg.router.name(),
            "tokens": cfg.tokens,
            "experts": cfg.experts,
            "top_k": cfg.top_k,
            "d": cfg.d,
            "hidden": cfg.hidden,
            "steps_per_repeat": n,
            "repeats": rates.len(),
            "steps_per_s_median": med,
            "tokens_per_s_median": med * cfg.tokens as f64,
            "steps_per_s_all": rates,
        })
    }

    fn bench(args: &Args, t: &mut dyn Trainer, w: &mut dyn Write) -> Result<(), Stop> {
        let cfg = &args.cfg;
        let n = args.steps.unwrap_or(BENCH_STEPS);
        let every = cfg.eval_every;
        no_eval(t)?;
        t.train(BENCH_WARMUP);
        snapshot(t)?;
        let rates = time_steps(t, n, BENCH_REPEATS)?;
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
        let mut line = rate_fields(t, cfg, n, &rates);
        line["eval_examples"] = json!(moe_playground::data::EVAL_N);
        line["eval_ms_median"] = json!(eval_med);
        line["eval_every"] = json!(every);
        line["eval_share_of_training_time"] = json!(eval_share);
        out(w, &line)
    }

    /// A point of the sweep: (knob, value) pairs set on the base config.
    type Point = Vec<(&'static str, String)>;

    /// The sweep's axes: a name and its points.
    fn sweep_axes() -> Vec<(&'static str, Vec<Point>)> {
        let one = |key: &'static str, vals: &[u32]| vals.iter().map(|v| vec![(key, v.to_string())]).collect();
        vec![
            ("experts", one("experts", &[4, 8, 16, 32, 64])),
            ("tokens", one("tokens", &[64, 256, 1024, 4096])),
            ("top_k", one("top-k", &[1, 2, 3, 4])),
            (
                "d_hidden",
                [(32, 64), (64, 128), (64, 256), (128, 512)]
                    .iter()
                    .map(|(d, h)| vec![("d", d.to_string()), ("hidden", h.to_string())])
                    .collect(),
            ),
        ]
    }

    /// `--bench --sweep`: one JSON line per (backend, axis, point); a point the config rejects
    /// gets a line saying why.
    fn sweep(args: &Args, w: &mut dyn Write) -> Result<(), Stop> {
        let backends = if args.backend_given { vec![args.backend] } else { vec![Backend::Gpu, Backend::Cpu] };
        for backend in backends {
            for (axis, points) in sweep_axes() {
                for point in points {
                    let mut cfg = args.cfg.clone();
                    let set = point.iter().try_for_each(|(k, v)| cfg.set(k, v)).and_then(|_| cfg.validate());
                    let name = match backend {
                        Backend::Gpu => "gpu",
                        Backend::Cpu => "cpu",
                    };
                    let at: serde_json::Map<String, serde_json::Value> =
                        point.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
                    if let Err(e) = set {
                        out(w, &json!({ "sweep": axis, "backend": name, "at": at, "skipped": e.to_string() }))?;
                        continue;
                    }
                    let run = Args { cfg: cfg.clone(), backend, ..args.clone() };
                    let mut t = open(&run).map_err(|e| Stop::Fail(1, e))?;
                    no_eval(t.as_mut())?;
                    t.train(2);
                    snapshot(t.as_mut())?;
                    // One timed step sets how many make a repeat of about SWEEP_REPEAT_S.
                    let first = time_steps(t.as_mut(), 1, 1)?[0];
                    let n = args.steps.unwrap_or(((SWEEP_REPEAT_S * first).round() as u32).clamp(1, 200));
                    let rates = time_steps(t.as_mut(), n, SWEEP_REPEATS)?;
                    let mut line = rate_fields(t.as_ref(), &cfg, n, &rates);
                    line["sweep"] = json!(axis);
                    out(w, &line)?;
                }
            }
        }
        Ok(())
    }

    /// `--profile`: the step's time as trained, then each kernel's (see `gpu::profile`).
    fn profile(args: &Args, w: &mut dyn Write) -> Result<(), Stop> {
        use moe_playground::gpu::GpuTrainer;
        let cfg = &args.cfg;
        let mut t = pollster::block_on(GpuTrainer::new(cfg)).map_err(|e| Stop::Fail(1, e))?;
        no_eval(&mut t)?;
        t.train(BENCH_WARMUP);
        snapshot(&mut t)?;
        let step_ms = 1e3 / median(&time_steps(&mut t, 20, 3)?);
        let start = Instant::now();
        let clock = move || start.elapsed().as_secs_f64() * 1e3;
        let prof = pollster::block_on(t.profile(args.steps.unwrap_or(PROFILE_STEPS), &clock));
        let d = t.dims();
        let text = format!(
            "moe-train --profile: router {}, E = {}, k = {}, T = {}, d = {}, H = {}\n\
             adapter: {}\n\
             timer: {} (medians of {} steps)\n\
             one step as trained (all kernels in one compute pass, one submission per 20 steps): {:.3} ms = {:.0} tokens/s\n\
             the kernels timed apart: {:.3} ms in all\n\n{}",
            cfg.router.name(),
            d.e,
            cfg.routed_k(),
            d.t,
            d.d,
            d.h,
            t.adapter(),
            prof.timer.describe(),
            prof.steps,
            step_ms,
            d.t as f64 * 1e3 / step_ms,
            prof.total_ms(),
            prof.table()
        );
        w.write_all(text.as_bytes())
            .and_then(|_| w.flush())
            .map_err(|e| Stop::Fail(1, format!("cannot write to stdout: {e}")))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn p(s: &str) -> Result<Args, String> {
            match parse(s.split_whitespace())? {
                Parsed::Run(a) => Ok(a),
                Parsed::Help(_) => Err("help".into()),
            }
        }

        #[test]
        fn defaults() {
            let a = p("").unwrap();
            assert_eq!(a.cfg, Config::default());
            assert_eq!((a.backend, a.steps, a.every, a.bench), (Backend::Gpu, None, 100, false));
            assert_eq!(a.steps(), 1000);
            assert!(a.notes.is_empty());
            assert!(!a.sweep && !a.profile && !a.backend_given);
            let s = p("--bench --sweep --backend gpu").unwrap();
            assert!(s.bench && s.sweep && s.backend_given);
            assert!(p("--profile --steps 5").unwrap().profile);
        }

        #[test]
        fn preset_applies_first_whatever_the_order() {
            let a = p("--alpha 0.5 --preset collapse --top-k=2").unwrap();
            assert_eq!(a.cfg.alpha, 0.5);
            assert_eq!(a.cfg.top_k, 2);
            let b = p("--preset dead-experts --dataset tokens").unwrap();
            assert_eq!(b.cfg.dataset, moe_playground::config::Dataset::Tokens);
            assert_eq!(b.cfg.tokens, 512);
            // The last of a repeated flag wins.
            assert_eq!(p("--lr 0.1 --lr 0.2").unwrap().cfg.lr, 0.2);
            assert_eq!(p("--alpha -0").unwrap().cfg.alpha, 0.0, "a leading minus is a number, not a flag");
        }

        #[test]
        fn router_brings_its_defaults_unless_a_flag_says_otherwise() {
            use moe_playground::config::Balance;
            let a = p("--preset balanced --router aux-free").unwrap();
            assert_eq!((a.cfg.router.name(), a.cfg.balance, a.cfg.alpha), ("aux-free", Balance::None, 0.0));
            assert_eq!(a.notes.len(), 2, "{:?}", a.notes);
            let b = p("--alpha 0.1 --router aux-free --balance switch").unwrap();
            assert_eq!((b.cfg.balance, b.cfg.alpha), (Balance::Switch, 0.1));
            assert!(b.notes.is_empty(), "{:?}", b.notes);
            let c = p("--router gshard-top2").unwrap();
            assert_eq!(c.cfg.top_k, 2);
            assert!(c.notes[0].contains("k set to 2"), "{:?}", c.notes);
            let d = p("--router hash").unwrap();
            assert_eq!(d.cfg.balance, Balance::None);
        }

        #[test]
        fn every_config_key_is_a_flag() {
            let d = Config::default();
            let help = usage();
            for k in KNOBS {
                let v = d.get(k.key).unwrap();
                let a = p(&format!("--{} {v}", k.key)).unwrap_or_else(|e| panic!("--{} {v}: {e}", k.key));
                assert_eq!(a.cfg, d, "--{}", k.key);
                assert!(help.contains(&format!("--{} ", k.key)), "usage lists --{}", k.key);
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
                ("--aplha 1", "--alpha"),
                ("--preset nope", "nope"),
                ("--lr", "--lr"),
                ("--lr --steps 3", "--lr"),
                ("--steps 0", "steps"),
                ("--every x", "every"),
                ("--backend tpu", "backend"),
                ("--bench=1", "--bench"),
                ("stray", "stray"),
                ("--router nope", "softmax-topk, noisy-topk, gshard-top2, hash, aux-free"),
                ("--router gshard-top2 --top-k 3", "set k = 2"),
                ("--router hash --balance switch", "allows balance none"),
                ("--balance maybe", "switch, cv2, none"),
                ("--drop-policy last", "position, probability, random"),
                ("--gamma 2", "gamma"),
                ("--trace-steps 5", "--trace"),
                ("--trace f.json", "--trace-steps"),
                ("--trace f.json --trace-steps 11 --steps 10", "trace-steps"),
                ("--trace f.json --trace-steps 0", "trace-steps"),
                ("--trace f.json --trace-steps 1,,2", "trace-steps"),
                ("--trace f.json --trace-steps 2 --bench", "--bench"),
                ("--trace f.json --trace-steps 2 --profile", "--profile"),
                ("--sweep", "--sweep needs --bench"),
                ("--profile --bench", "give one of them"),
                ("--profile --backend cpu", "GPU backend"),
            ] {
                let e = p(args).expect_err(args);
                assert!(e.contains(needle), "{args}: {e}");
                assert!(!e.contains("Usage:"), "{args}: {e}");
            }
        }

        #[test]
        fn sweep_points_are_valid_on_the_default_model() {
            for (axis, points) in sweep_axes() {
                assert!(points.len() >= 4, "{axis}");
                for point in points {
                    let mut cfg = Config::default();
                    for (k, v) in &point {
                        cfg.set(k, v).unwrap_or_else(|e| panic!("{axis} {k}={v}: {e}"));
                    }
                    cfg.validate().unwrap_or_else(|e| panic!("{axis} {point:?}: {e}"));
                }
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
            for args in ["--steps 3 -h", "--help", "-h --bogus"] {
                match parse(args.split_whitespace()) {
                    Ok(Parsed::Help(text)) => assert_eq!(text, usage(), "{args}"),
                    other => panic!("{args}: {other:?}"),
                }
            }
            let help = usage();
            assert!(help.contains("capacity-squeeze"));
            assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
            assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        }
    }
}
