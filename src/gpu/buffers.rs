//! Every GPU buffer of the trainer, by a typed handle: one [`Buf`] per buffer. The WGSL binding of a
//! bound buffer (shaders/common.wgsl) has the same name; build.rs names the `Buf` of each binding in
//! the kernel table (`kernels::KERNELS`), so a WGSL binding without a variant here fails to compile,
//! and `tests` below check the other direction (every variant is bound by some kernel, or host-only).
use std::fmt;

macro_rules! buffers {
    ($($(#[doc = $doc:literal])* $variant:ident = $name:literal,)*) => {
        /// A GPU buffer of the trainer (see the module docs).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Buf {
            $($(#[doc = $doc])* $variant,)*
        }

        impl Buf {
            /// Every buffer, in declaration order (`Buf::ALL[b as usize] == b`).
            pub const ALL: &[Buf] = &[$(Buf::$variant),*];

            /// The buffer's name: its WGSL binding's (shaders/common.wgsl), and its wgpu label.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Buf::$variant => $name,)*
                }
            }
        }
    };
}

buffers! {
    /// [N + eval_n, 6] the training examples, then the held-out ones.
    Pool = "pool",
    /// [64, 6] the probe batch's examples.
    ProbePool = "probe_pool",
    /// Step counters and the held-out evaluation's words (shaders/common.wgsl `ST_EVAL_*`).
    State = "state",
    Inp = "inp",
    Tgt = "tgt",
    Dom = "dom",
    Params = "params",
    Grads = "grads",
    AdamM = "adam_m",
    AdamV = "adam_v",
    X0 = "x0",
    X = "x",
    Logits = "logits",
    Probs = "probs",
    Lse = "lse",
    Topk = "topk",
    Gates = "gates",
    Slot = "slot",
    Counts = "counts",
    Kept = "kept",
    Lists = "lists",
    Hid = "hid",
    Y = "y",
    H = "h",
    Outp = "outp",
    CeT = "ce_t",
    Correct = "correct",
    Dout = "dout",
    /// Losses, f and P, cv2's importance and load (`trainer::STATS_WORDS`).
    Stats = "stats",
    Rkey = "rkey",
    Scores = "scores",
    Order = "order",
    /// The router units' state (`trainer::rstate_part`).
    Rstate = "rstate",
    Dh = "dh",
    Outm = "outm",
    Doutm = "doutm",
    Dhm = "dhm",
    Dg = "dg",
    Dpre = "dpre",
    Dlog = "dlog",
    Dxa = "dxa",
    Dx = "dx",
    Gnorm = "gnorm",
    /// The metrics window (float sums, counts) and the snapshot record (crate::metrics).
    WinF = "win_f",
    WinU = "win_u",
    Snap = "snap",
    // Host-only ([`Buf::host_only`]): no kernel binds them.
    /// Copies of the last training step's routing buffers (`last_trace`, native only).
    TrLogits = "tr_logits",
    TrScores = "tr_scores",
    TrRkey = "tr_rkey",
    TrProbs = "tr_probs",
    TrTopk = "tr_topk",
    TrGates = "tr_gates",
    TrSlot = "tr_slot",
    TrCounts = "tr_counts",
    TrKept = "tr_kept",
    TrStats = "tr_stats",
    /// The router bias the last training step chose with.
    TrBias = "tr_bias",
}

impl Buf {
    /// The buffers no kernel binds: written and read by copies only (the trace of the last step).
    pub const fn host_only(self) -> bool {
        matches!(
            self,
            Buf::TrLogits
                | Buf::TrScores
                | Buf::TrRkey
                | Buf::TrProbs
                | Buf::TrTopk
                | Buf::TrGates
                | Buf::TrSlot
                | Buf::TrCounts
                | Buf::TrKept
                | Buf::TrStats
                | Buf::TrBias
        )
    }

    /// The buffer of this name (tests name CPU-reference buffers by their WGSL names).
    pub fn named(name: &str) -> Option<Buf> {
        Buf::ALL.iter().copied().find(|b| b.name() == name)
    }
}

impl fmt::Display for Buf {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::super::kernels::{DECLARED, KERNELS};
    use super::Buf;

    /// Both directions between the WGSL bindings and `Buf`: every binding's buffer has the binding's
    /// name (the other half, a binding without a `Buf`, fails to compile), every WGSL buffer is bound
    /// by some kernel, and every `Buf` is a WGSL buffer bound by some kernel or host-only.
    #[test]
    fn every_wgsl_binding_has_a_buf_and_every_buf_a_binding() {
        for (i, b) in Buf::ALL.iter().enumerate() {
            assert_eq!(*b as usize, i, "Buf::ALL is in declaration order");
            assert_eq!(Buf::named(b.name()), Some(*b), "{b}: names are unique");
        }
        for k in KERNELS {
            for bind in k.bindings {
                if let Some(b) = bind.buf {
                    assert_eq!(b.name(), bind.name, "{}: WGSL binding {} is Buf::{b:?}", k.entry, bind.name);
                    assert!(DECLARED.contains(&(bind.binding, b)), "{}: binding {b}", k.entry);
                }
            }
        }
        for &(binding, b) in DECLARED {
            let used = KERNELS.iter().any(|k| k.bindings.iter().any(|x| x.buf == Some(b)));
            assert!(used, "shaders/common.wgsl binding {binding} ({b}) is bound by no kernel");
            assert!(!b.host_only(), "{b} is bound in WGSL but marked host-only");
        }
        for b in Buf::ALL {
            let declared = DECLARED.iter().any(|d| d.1 == *b);
            assert!(
                declared || b.host_only(),
                "Buf::{b:?} ({b}) has no binding in shaders/common.wgsl and is not marked host-only (Buf::host_only)"
            );
        }
    }
}
