//! The training session the page drives (src/session/), natively: a knob change, compare mode, a
//! lesson played to its verdict, recovery from a lost device, the benchmark — on the CPU trainer
//! and on the GPU trainer (Mesa's lavapipe in CI).
mod common;
use moe_playground::config::Config;
use moe_playground::lessons;
use moe_playground::page::Side;
use moe_playground::session::native::{options, play_lesson, play_lesson_with, thread_apart, Host};
use moe_playground::session::{Cmd, Device, Event, Finding, Options, Session};
use std::cell::Cell;
use std::rc::Rc;
use std::time::Instant;

fn small() -> Config {
    Config { tokens: 64, d: 16, hidden: 16, experts: 4, top_k: 2, ..Config::default() }
}

fn host(device: Device, cfg: Config, cfg_b: Option<Config>) -> Host {
    common::xdg();
    host_with(options(device), cfg, cfg_b)
}

fn host_with(opts: Options, cfg: Config, cfg_b: Option<Config>) -> Host {
    let h = Host::new(Session::new(opts, cfg, cfg_b));
    assert!(h.session.ready(), "the trainers open: {:?}", h.events);
    h
}

fn set(side: Side, key: &'static str, value: &str) -> Cmd {
    Cmd::SetKnob { side, key, value: value.to_string() }
}

fn notices(events: &[Event]) -> Vec<String> {
    events.iter().filter_map(|e| if let Event::Notice(Some(n)) = e { Some(n.clone()) } else { None }).collect()
}

/// A live knob reaches the running trainer without a restart; a bad value changes nothing and
/// says why; a structural knob restarts with E clamping k.
fn knob_change(device: Device) {
    let mut h = host(device, small(), None);
    assert!(h.run_until(100, |s| s.step() >= 100), "trains: step {}", h.session.step());
    let from = h.events.len();
    h.send(set(Side::A, "lr", "0.002"));
    assert_eq!(h.session.config().lr, 0.002);
    assert_eq!(h.session.trainer(Side::A).unwrap().config().lr, 0.002, "the trainer has the new lr");
    assert!(h.since(from).iter().any(|e| matches!(e, Event::Mark { .. })), "the change is marked on the charts");
    assert!(!h.since(from).iter().any(|e| matches!(e, Event::Cleared)), "a live knob does not restart");
    let at = h.session.step();
    assert!(h.run_until(100, |s| s.step() >= at + 100), "trains on");

    let from = h.events.len();
    h.send(set(Side::A, "lr", "-1"));
    assert_eq!(h.session.config().lr, 0.002, "a bad value keeps the old one");
    let said = notices(h.since(from));
    assert!(said.iter().any(|n| n.contains("kept lr = 0.002")), "{said:?}");

    let from = h.events.len();
    h.send(set(Side::A, "experts", "2"));
    let c = h.session.config().clone();
    assert_eq!((c.experts, c.top_k), (2, 2), "E = 2 clamps k to 2");
    assert!(h.since(from).iter().any(|e| matches!(e, Event::Cleared)), "a structural knob restarts");
    assert!(notices(h.since(from)).iter().any(|n| n.contains("restarted training")));
    assert_eq!(h.session.step(), 0);
    assert!(h.run_until(100, |s| s.step() >= 50), "the new model trains");
}

#[test]
fn a_knob_change_on_the_cpu() {
    knob_change(Device::Cpu);
}

#[test]
fn a_knob_change_on_the_gpu() {
    knob_change(Device::Gpu);
}

/// Compare mode: B as a copy of A trains to the same numbers in lockstep; B's own knob sets B
/// apart; A's knob reaches B where B has no value of its own; off stops B.
fn compare(device: Device) {
    common::xdg();
    compare_with(options(device));
}

fn compare_with(opts: Options) {
    let mut h = host_with(opts, small(), None);
    h.send(Cmd::Compare(true));
    assert!(h.session.config_b().is_some() && h.session.ready());
    assert!(h.run_until(100, |s| s.step() >= 100 && s.history(Side::B).len() == s.history(Side::A).len()));
    let (a, b) = (h.session.history(Side::A).to_vec(), h.session.history(Side::B).to_vec());
    assert!(!a.is_empty());
    assert_eq!(a, b, "B = A: the same seed, batches and numbers");

    h.send(set(Side::B, "alpha", "0"));
    assert_eq!((h.session.config().alpha, h.session.config_b().unwrap().alpha), (small().alpha, 0.0));
    h.send(set(Side::A, "lr", "0.002"));
    let b = h.session.config_b().unwrap();
    assert_eq!((b.lr, b.alpha), (0.002, 0.0), "B follows A's lr and keeps its own α");
    let at = h.session.step();
    assert!(h.run_until(200, |s| s.step() >= at + 200 && s.history(Side::B).len() == s.history(Side::A).len()));
    let (a, b) = (h.session.history(Side::A), h.session.history(Side::B));
    let (la, lb) = (a.last().unwrap(), b.last().unwrap());
    assert_eq!(la.step, lb.step, "lockstep");
    assert_ne!(la.aux.to_bits(), lb.aux.to_bits(), "without the balance loss B's numbers part from A's");

    let from = h.events.len();
    h.send(Cmd::Compare(false));
    assert!(h.session.config_b().is_none() && h.session.history(Side::B).is_empty());
    assert!(h.since(from).contains(&Event::CompareOff));
    let at = h.session.step();
    assert!(h.run_until(100, |s| s.step() > at), "A trains on");
}

#[test]
fn compare_mode_on_the_cpu() {
    compare(Device::Cpu);
}

#[test]
fn compare_mode_on_the_gpu() {
    compare(Device::Gpu);
}

/// Compare mode on the CPU with run B on a thread of its own (the page: a second worker), behind
/// the same encoded messages: the same checks as with B beside A.
#[test]
fn compare_mode_on_the_cpu_with_run_b_apart() {
    let mut opts = options(Device::Cpu);
    opts.apart = Some(thread_apart());
    compare_with(opts);
}

/// Paced as on the page (a frame's steps to the CPU budget, a few frames per metrics window), run
/// B apart stays in lockstep with A: as a copy of A it gives A's numbers in every window (three
/// or more).
#[test]
fn paced_compare_with_run_b_apart_keeps_lockstep() {
    let mut opts = options(Device::Cpu);
    opts.paced = true;
    opts.apart = Some(thread_apart());
    let mut h = host_with(opts, small(), None);
    h.send(Cmd::Compare(true));
    // Ticks a millisecond apart (the page's are 16 ms), so the thread of run B gets its turn.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(300);
    // At least three windows (how many steps each holds depends on the machine's speed).
    let done = |s: &Session| s.history(Side::A).len() >= 3 && s.history(Side::B).len() == s.history(Side::A).len();
    while !done(&h.session) && std::time::Instant::now() < until {
        h.tick();
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert!(done(&h.session), "step {}", h.session.step());
    let (a, b) = (h.session.history(Side::A), h.session.history(Side::B));
    assert!(a.len() >= 3, "{} windows", a.len());
    assert_eq!(format!("{a:?}"), format!("{b:?}"), "B = A in every window");
}

/// Run B trained apart gives the numbers it gives beside A, to the bit: a lesson (both runs, knob
/// changes between beats, fixed windows) played both ways, at the page's CPU batch.
#[test]
fn run_b_apart_trains_to_the_same_numbers() {
    let lesson = lessons::find("capacity-factor").unwrap();
    let play = |apart: bool| {
        let mut opts = options(Device::Cpu);
        opts.cpu_tokens = Some(64);
        opts.apart = apart.then(thread_apart);
        play_lesson_with(lesson, 1, opts)
    };
    let (beside, apart) = (play(false), play(true));
    assert!(!apart.b.is_empty() && apart.b.len() == beside.b.len(), "{} vs {}", apart.b.len(), beside.b.len());
    assert_eq!(format!("{:?}", apart.b), format!("{:?}", beside.b), "run B, every window");
    assert_eq!(format!("{:?}", apart.a), format!("{:?}", beside.a), "run A, every window");
    assert_eq!((apart.beat_ends, apart.captions), (beside.beat_ends, beside.captions));
}

/// A lesson played as a class sees it (paced as on the page, pausing at every beat until
/// "space") gives the same captions and checks as the headless runner, to the digit.
#[test]
fn a_lesson_played_with_pauses_matches_the_headless_run() {
    let lesson = lessons::find("balance-loss").unwrap();
    let headless = play_lesson(lesson, 1, Device::Cpu);
    assert!(headless.passed(), "{:?}", headless.checks);

    let mut opts = options(Device::Cpu);
    opts.paced = true;
    let mut h = host_with(opts, Config::default(), None);
    h.send(Cmd::Lesson(Some("balance-loss".into())));
    let mut pauses = 0;
    let verdict = loop {
        assert!(h.run_until(20_000, |s| !s.playing()), "the beat ends (step {})", h.session.step());
        let (_, beat, reached) = h.session.lesson().expect("in the lesson");
        assert!(reached, "paused at a beat's end");
        if beat + 1 == lesson.beats.len() {
            break h.events.iter().rev().find_map(|e| match e {
                Event::Caption(c) => c.verdict.clone(),
                _ => None,
            });
        }
        pauses += 1;
        let at = h.session.step();
        for _ in 0..10 {
            h.tick();
        }
        assert_eq!(h.session.step(), at, "a shown beat waits for the teacher");
        h.send(Cmd::Play);
    };
    assert_eq!(pauses, lesson.beats.len() - 1);
    let log = h.session.log();
    assert_eq!(log.beat_ends, headless.beat_ends);
    assert_eq!(log.captions, headless.captions, "the same numbers as the headless run");
    let checks: Vec<_> = h.session.checks().iter().map(|(w, ok)| (*w, ok.unwrap_or(false))).collect();
    assert_eq!(checks, headless.checks);
    let verdict = verdict.expect("a verdict");
    assert_eq!(verdict.finding, Finding::Reproduced, "{verdict:?}");
    assert!(verdict.headline.starts_with("✓ Reproduced: ") && verdict.headline.contains(lesson.headline));
    assert_eq!(verdict.checks.len(), lesson.expect.len());
    assert!(verdict.checks.iter().all(|c| c.starts_with('✓')), "{verdict:?}");
    assert_eq!(Some(verdict), headless.verdict, "the verdict the headless run shows");
}

/// The band's last caption.
fn caption(h: &Host) -> moe_playground::session::Caption {
    h.events.iter().rev().find_map(|e| if let Event::Caption(c) = e { Some(c.clone()) } else { None }).unwrap()
}

/// balance-loss played as a class sees it (paced as on the page, play at each pause) to its end.
/// At every pause, with the snapshots still on their way in: training stopped at the step the
/// caption quotes ("Step N: …"), which is the step counter's, and the band says it is paused.
fn play_to_end(opts: Options) -> Host {
    let lesson = lessons::find("balance-loss").unwrap();
    let mut h = host_with(opts, Config::default(), None);
    h.send(Cmd::Lesson(Some(lesson.id.into())));
    loop {
        // On the GPU (lavapipe, on the CPU) a window's snapshots take a while: wait by the clock.
        let t0 = Instant::now();
        while h.session.playing() {
            assert!(t0.elapsed().as_secs() < 300, "the beat ends (step {})", h.session.step());
            h.tick();
        }
        let (_, beat, reached) = h.session.lesson().expect("in the lesson");
        assert!(reached, "paused at a beat's end");
        // Whatever is still on its way arrives.
        let t0 = Instant::now();
        while t0.elapsed().as_millis() < 1000 {
            h.tick();
        }
        let (at, c) = (h.session.step(), caption(&h));
        assert_eq!(h.session.trainer(Side::A).unwrap().steps(), at, "training stopped at the step shown");
        assert!(c.text.starts_with(&format!("Step {at}:")), "the caption quotes step {at}: {}", c.text);
        assert!(c.progress.contains(&format!("step {at}")), "{}", c.progress);
        let said = c.paused.clone().expect("the band says it is paused");
        if beat + 1 == lesson.beats.len() {
            assert!(said.contains("End of the lesson") && c.next_lesson.is_some(), "{c:?}");
            return h;
        }
        assert!(said.starts_with("Paused — press space") && c.next_lesson.is_none(), "{c:?}");
        h.send(Cmd::Play);
        let c = caption(&h);
        assert!(c.paused.is_none(), "{c:?}");
        if lesson.beats[beat + 1].when.is_some() {
            // It may end on its condition: the band does not promise its last step as the end.
            assert!(c.progress.contains("training until B's load entropy ≥ 0.9, at most to step 900"), "{c:?}");
        }
    }
}

/// After a lesson's end training stays stopped on the verdict's numbers: play, the play button's
/// signal and one step do not train. "Explore from here" leaves the lesson keeping the runs'
/// histories and settings, and play then trains on past the lesson's last step.
#[test]
fn after_a_lessons_end_training_stops_until_explored() {
    let mut opts = options(Device::Cpu);
    opts.paced = true;
    let mut h = play_to_end(opts);
    let (at, hist, hist_b) =
        (h.session.step(), h.session.history(Side::A).to_vec(), h.session.history(Side::B).to_vec());
    let (cfg, cfg_b) = (h.session.config().clone(), h.session.config_b().cloned());
    for cmd in [Cmd::Play, Cmd::Playing(true), Cmd::Step, Cmd::Play] {
        let from = h.events.len();
        h.send(cmd.clone());
        assert!(h.since(from).contains(&Event::Playing(false)), "{cmd:?}: play shows as off");
        for _ in 0..20 {
            h.tick();
        }
        assert!(!h.session.playing(), "{cmd:?}");
        assert_eq!((h.session.step(), h.session.trainer(Side::A).unwrap().steps()), (at, at), "{cmd:?} trains nothing");
    }
    let from = h.events.len();
    h.send(Cmd::Explore);
    assert!(h.session.lesson().is_none() && !h.session.playing());
    assert!(
        h.since(from).contains(&Event::Lesson(None)) && !h.since(from).contains(&Event::Cleared),
        "{:?}",
        h.since(from)
    );
    assert_eq!(
        (h.session.history(Side::A), h.session.history(Side::B)),
        (&hist[..], &hist_b[..]),
        "the histories stay"
    );
    assert_eq!((h.session.config(), h.session.config_b()), (&cfg, cfg_b.as_ref()), "the settings stay");
    assert!(notices(h.since(from)).iter().any(|n| n.contains("explore from here")));
    h.send(Cmd::Play);
    assert!(h.session.playing());
    assert!(h.run_until(20_000, |s| s.step() >= at + 200), "trains on freely (step {})", h.session.step());
}

/// On the GPU (whose snapshots come after its steps) too, each pause holds training at the step
/// the caption quotes; at the end n starts the next lesson, restarted from its first beat.
#[test]
fn on_the_gpu_a_pause_stops_where_the_caption_says_and_n_starts_the_next_lesson() {
    common::xdg();
    let mut opts = options(Device::Gpu);
    opts.paced = true;
    let mut h = play_to_end(opts);
    assert_eq!(caption(&h).next_lesson.as_deref(), Some("next lesson: Capacity factor and dropped tokens ▶"));
    let from = h.events.len();
    h.send(Cmd::Next);
    let (l, beat, reached) = h.session.lesson().expect("in the next lesson");
    assert_eq!((l.id, beat, reached), ("capacity-factor", 0, false));
    assert!(h.since(from).contains(&Event::Cleared) && h.session.playing(), "{:?}", h.since(from));
    assert!(caption(&h).title.starts_with("Capacity factor and dropped tokens"), "{:?}", caption(&h));
    assert!(h.run_until(20_000, |s| s.step() >= 50), "the next lesson trains");
}

/// "next lesson" goes through the lessons in order, from the last back to the first.
#[test]
fn next_lesson_follows_the_lessons_order() {
    let all = lessons::LESSONS;
    for (i, l) in all.iter().enumerate() {
        assert_eq!(moe_playground::session::lesson::following(l).id, all[(i + 1) % all.len()].id);
    }
    let mut h = host(Device::Cpu, small(), None);
    h.send(Cmd::Lesson(Some(all[0].id.into())));
    h.send(Cmd::NextLesson);
    assert_eq!(h.session.lesson().map(|l| l.0.id), Some(all[1].id));
    h.send(Cmd::Lesson(None));
    h.send(Cmd::NextLesson);
    assert!(h.session.lesson().is_none(), "outside a lesson there is no next one");
}

/// A lost device: both runs resume from the last checkpoint pair on a new device, the history
/// after it is dropped, the notice says from which step, and training goes on.
#[test]
fn recovery_from_a_lost_device() {
    common::xdg();
    let clock = Rc::new(Cell::new(0.0));
    let mut opts = options(Device::Gpu);
    let c = clock.clone();
    opts.clock = Rc::new(move || c.get());
    let mut h = host_with(opts, small(), Some(Config { alpha: 0.0, ..small() }));
    assert!(h.run_until(100, |s| s.step() >= 60));
    clock.set(6000.0); // a checkpoint is due
    let from = h.events.len();
    let mut saved = None;
    for _ in 0..200 {
        h.tick();
        saved = h.since(from).iter().find_map(|e| if let Event::Checkpoint(Some(s)) = e { Some(*s) } else { None });
        if saved.is_some() {
            break;
        }
    }
    let saved = saved.expect("a checkpoint pair");
    assert!(h.run_until(200, |s| s.step() >= saved + 100));
    let lost_at = h.session.step();
    let from = h.events.len();
    h.session.backend().unwrap().destroy_device();
    assert!(h.run_until(200, |s| s.step() > lost_at), "training goes on after the loss");
    let after = h.since(from);
    assert!(after.contains(&Event::Rewind { step: saved }), "{after:?}");
    let said = notices(after);
    assert!(said.iter().any(|n| n.contains(&format!("Training goes on from step {saved}"))), "{said:?}");
    assert!(!after.iter().any(|e| matches!(e, Event::GpuError(Some(_)) | Event::Error(Some(_)))), "{after:?}");
    assert!(h.session.config_b().is_some() && h.session.trainer(Side::B).is_some(), "run B resumed too");
}

/// The benchmark trains its steps and reports them (with each kernel's time on the GPU).
fn bench(device: Device) {
    common::xdg();
    let mut opts = options(device);
    opts.bench = Some(60);
    let mut h = host_with(opts, small(), None);
    let result =
        |h: &Host| h.events.iter().find_map(|e| if let Event::BenchResult(r) = e { Some(r.clone()) } else { None });
    for _ in 0..2000 {
        if result(&h).is_some() {
            break;
        }
        h.tick();
    }
    let json: serde_json::Value = serde_json::from_str(&result(&h).expect("a result")).unwrap();
    assert_eq!(json["steps"], 60, "{json}");
    assert_eq!(h.session.step(), 60, "stops at its steps");
    assert_eq!(json.get("kernels").is_some(), device == Device::Gpu, "{json}");
}

#[test]
fn the_benchmark_on_the_cpu() {
    bench(Device::Cpu);
}

#[test]
fn the_benchmark_on_the_gpu() {
    bench(Device::Gpu);
}

/// On the GPU, whose snapshots arrive after the steps, a headless lesson still reads each beat's
/// condition at the window it first holds: its beats end where the CPU reference's do.
#[test]
fn a_gpu_lesson_ends_its_beats_where_the_cpu_does() {
    common::xdg();
    let lesson = lessons::find("balance-loss").unwrap();
    let (gpu, cpu) = (play_lesson(lesson, 1, Device::Gpu), play_lesson(lesson, 1, Device::Cpu));
    assert_eq!(gpu.beat_ends, cpu.beat_ends);
    assert!(gpu.passed(), "{:?}", gpu.checks);
}
