//! The metrics history of a run: one [`Hist`] point per snapshot, bounded by [`push_history`], and
//! its CSV export (one run, or both runs of compare mode). The page's charts and the lessons' checks
//! read it; the page re-exports it.
use crate::metrics::Snapshot;

/// One point of the history charts (and one row of the CSV export).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Hist {
    pub step: f32,
    pub ce: f32,
    pub aux: f32,
    pub z: f32,
    pub accuracy: f32,
    pub max_share: f32,
    pub entropy: f32,
    pub cv: f32,
    pub starved: u32,
    pub dropped: f32,
    pub all_dropped: f32,
    /// Share of assignments the router dropped at random (GShard top-2).
    pub random_dropped: f32,
    /// The latest held-out evaluation at this snapshot: (step it followed, CE, accuracy).
    pub eval: Option<(u32, f32, f32)>,
    /// The experts' similarity (mean pairwise cosine of their weights); None with one expert
    /// (the dense warm-up of an upcycled run).
    pub expert_similarity: Option<f32>,
    /// Capacity per expert per step (the slots each expert computes, used or not).
    pub capacity: u32,
    /// How much the chosen expert tells about the token's domain ([`crate::metrics::specialisation`]).
    pub specialisation: f32,
}

/// Most points a run's history keeps (the charts and the CSV export draw from it).
pub const HIST_MAX: usize = 2000;

/// Add a history point, keeping at most [`HIST_MAX`]: when full, the newest quarter stays as it is
/// and the older points are thinned to about `HIST_MAX / 2` evenly spaced in steps (the first point
/// stays), so however long the page trains the charts span the whole run with a bounded number of
/// points, dense at the recent end (where the lessons' checks read them).
pub fn push_history(h: &mut Vec<Hist>, p: Hist) {
    h.push(p);
    if h.len() <= HIST_MAX {
        return;
    }
    let tail = h.len() - HIST_MAX / 4;
    let stride = (h[tail].step - h[0].step) / (HIST_MAX / 2) as f32;
    let (mut i, mut last) = (0, f32::NEG_INFINITY);
    h.retain(|x| {
        let keep = i >= tail || x.step - last >= stride;
        if keep && i < tail {
            last = x.step;
        }
        i += 1;
        keep
    });
}

/// One column of the CSV export: its name and its text in a point ("" where it has no value).
pub struct Column {
    pub name: &'static str,
    pub text: fn(&Hist) -> String,
}

fn text<T: ToString>(v: T) -> String {
    v.to_string()
}

fn maybe<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// The columns of the CSV export, one per [`Hist`] field (the evaluation as three), in order: the
/// one table the header ([`CSV_HEADER`]) and the rows ([`Hist::csv`]) come from.
pub const COLUMNS: &[Column] = &[
    Column { name: "step", text: |p| text(p.step) },
    Column { name: "ce", text: |p| text(p.ce) },
    Column { name: "aux", text: |p| text(p.aux) },
    Column { name: "z", text: |p| text(p.z) },
    Column { name: "accuracy", text: |p| text(p.accuracy) },
    Column { name: "max_share", text: |p| text(p.max_share) },
    Column { name: "entropy", text: |p| text(p.entropy) },
    Column { name: "cv", text: |p| text(p.cv) },
    Column { name: "starved", text: |p| text(p.starved) },
    Column { name: "dropped_share", text: |p| text(p.dropped) },
    Column { name: "all_dropped_share", text: |p| text(p.all_dropped) },
    Column { name: "eval_step", text: |p| maybe(p.eval.map(|e| e.0)) },
    Column { name: "eval_ce", text: |p| maybe(p.eval.map(|e| e.1)) },
    Column { name: "eval_accuracy", text: |p| maybe(p.eval.map(|e| e.2)) },
    Column { name: "random_dropped_share", text: |p| text(p.random_dropped) },
    Column { name: "expert_similarity", text: |p| maybe(p.expert_similarity) },
    Column { name: "capacity", text: |p| text(p.capacity) },
    Column { name: "specialisation", text: |p| text(p.specialisation) },
];

/// The CSV export's header: the names of [`COLUMNS`].
pub static CSV_HEADER: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| COLUMNS.iter().map(|c| c.name).collect::<Vec<_>>().join(","));

impl Hist {
    /// The history point of a snapshot.
    pub fn of(s: &Snapshot) -> Hist {
        Hist {
            step: s.step as f32,
            ce: s.ce,
            aux: s.aux,
            z: s.z,
            accuracy: s.accuracy,
            max_share: s.max_share,
            entropy: s.entropy,
            cv: s.cv,
            starved: s.starved,
            dropped: s.dropped_share(),
            all_dropped: s.all_dropped_share(),
            random_dropped: s.random_dropped_share(),
            eval: s.eval(),
            expert_similarity: s.expert_similarity,
            capacity: s.capacity,
            specialisation: s.specialisation(),
        }
    }
    /// Its CSV row (the [`COLUMNS`]; the evaluation's are empty before the first one, the expert
    /// similarity with one expert).
    pub fn csv(&self) -> String {
        COLUMNS.iter().map(|c| (c.text)(self)).collect::<Vec<_>>().join(",")
    }
}

/// Metrics history as CSV: the header and one row per point.
pub fn history_csv(h: &[Hist]) -> String {
    let mut s = CSV_HEADER.clone();
    s.push('\n');
    for p in h {
        s.push_str(&p.csv());
        s.push('\n');
    }
    s
}

/// The metrics history of compare mode as CSV: with `b` (compare on) a leading `run` column says
/// which run each row is from (`A` rows, then `B` rows); without it exactly [`history_csv`].
pub fn history_csv_runs(a: &[Hist], b: Option<&[Hist]>) -> String {
    let Some(b) = b else { return history_csv(a) };
    let mut s = format!("run,{}\n", *CSV_HEADER);
    for (run, h) in [("A", a), ("B", b)] {
        for p in h {
            s.push_str(run);
            s.push(',');
            s.push_str(&p.csv());
            s.push('\n');
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An hour of snapshots (4 a second) stays within HIST_MAX points, spans the whole run (its
    /// first and last step kept, in order) and keeps the recent points dense (none dropped from the
    /// newest quarter).
    #[test]
    fn history_is_bounded_and_spans_the_run() {
        let mut h = Vec::new();
        let n = 4 * 3600;
        for step in 0..n {
            push_history(&mut h, Hist { step: step as f32, ..Hist::default() });
            assert!(h.len() <= HIST_MAX);
        }
        assert!(h.len() > HIST_MAX / 2, "{}", h.len());
        assert_eq!((h[0].step, h[h.len() - 1].step), (0.0, (n - 1) as f32));
        assert!(h.windows(2).all(|w| w[0].step < w[1].step));
        let recent = &h[h.len() - HIST_MAX / 4..];
        assert!(recent.windows(2).all(|w| w[1].step - w[0].step == 1.0), "the newest points are all kept");
        // The oldest gaps are the widest, but never wider than a fixed fraction of the run.
        let widest = h.windows(2).map(|w| w[1].step - w[0].step).fold(0.0, f32::max);
        assert!(widest <= n as f32 / 256.0, "widest gap {widest}");
    }

    #[test]
    fn csv_of_both_runs_has_a_run_column() {
        let h = |step: f32| Hist { step, ce: 2.0, ..Default::default() };
        let (a, b) = (vec![h(15.0), h(30.0)], vec![h(15.0), h(30.0)]);
        assert_eq!(history_csv_runs(&a, None), history_csv(&a));
        let csv = history_csv_runs(&a, Some(&b));
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], format!("run,{}", *CSV_HEADER));
        assert_eq!(lines.len(), 5);
        let runs: Vec<&str> = lines[1..].iter().map(|l| l.split(',').next().unwrap()).collect();
        assert_eq!(runs, ["A", "A", "B", "B"]);
        assert_eq!(lines[1].trim_start_matches("A,"), a[0].csv());
        assert_eq!(lines[3].trim_start_matches("B,"), b[0].csv());
        for row in &lines[1..] {
            assert_eq!(row.split(',').count(), lines[0].split(',').count(), "{row}");
        }
    }

    /// The export's columns stay what spreadsheets made from earlier exports expect.
    #[test]
    fn csv_header_is_stable() {
        assert_eq!(
            *CSV_HEADER,
            "step,ce,aux,z,accuracy,max_share,entropy,cv,starved,dropped_share,all_dropped_share,eval_step,eval_ce,\
             eval_accuracy,random_dropped_share,expert_similarity,capacity,specialisation"
        );
    }

    #[test]
    fn csv_rows_have_the_header_columns() {
        let header: Vec<&str> = CSV_HEADER.split(',').collect();
        assert_eq!(header[0], "step");
        for name in ["ce", "eval_step", "eval_ce", "eval_accuracy", "random_dropped_share"] {
            assert!(header.contains(&name), "{name}");
        }
        let before = Hist { step: 15.0, ce: 2.5, starved: 3, ..Default::default() };
        let after = Hist {
            step: 30.0,
            eval: Some((20, 1.25, 0.5)),
            random_dropped: 0.125,
            expert_similarity: Some(0.75),
            ..before.clone()
        };
        let csv = history_csv(&[before, after]);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0], *CSV_HEADER);
        for row in &lines[1..] {
            assert_eq!(row.split(',').count(), header.len(), "{row}");
        }
        let col = |row: &str, name: &str| {
            let i = header.iter().position(|h| *h == name).unwrap();
            row.split(',').nth(i).unwrap().to_string()
        };
        assert_eq!(col(lines[1], "step"), "15");
        assert_eq!(col(lines[1], "ce"), "2.5");
        assert_eq!(col(lines[1], "starved"), "3");
        assert_eq!(col(lines[1], "eval_step"), "");
        assert_eq!(col(lines[2], "eval_step"), "20");
        assert_eq!(col(lines[2], "eval_ce"), "1.25");
        assert_eq!(col(lines[2], "eval_accuracy"), "0.5");
        assert_eq!(col(lines[2], "random_dropped_share"), "0.125");
        assert_eq!(col(lines[1], "expert_similarity"), "");
        assert_eq!(col(lines[2], "expert_similarity"), "0.75");
        assert!(csv.ends_with('\n'));
        assert_eq!(history_csv(&[]), format!("{}\n", *CSV_HEADER));
    }

    #[test]
    fn hist_of_a_snapshot() {
        let s = Snapshot {
            step: 40,
            steps: 2,
            tokens: 8,
            ce: 1.5,
            assignments: 16,
            dropped: 4,
            dropped_random: 2,
            all_dropped: 4,
            eval_step: 20,
            eval_ce: 1.75,
            eval_accuracy: 0.25,
            expert_similarity: Some(0.5),
            ..Default::default()
        };
        let h = Hist::of(&s);
        assert_eq!(h.expert_similarity, Some(0.5));
        assert_eq!((h.step, h.ce, h.dropped, h.random_dropped, h.all_dropped), (40.0, 1.5, 0.25, 0.125, 0.25));
        assert_eq!(h.eval, Some((20, 1.75, 0.25)));
        assert_eq!(Hist::of(&Snapshot::default()).eval, None);
    }
}
