// Metrics on the GPU: every step adds its counts and losses to a window; a snapshot turns the window
// into the record the CPU reads back asynchronously (layout: the SN_* constants below), then clears it.
// win_u: [0] steps [1] dropped [2] all-dropped tokens [3] assignments (Σ T·k); choices at 4, kept at
// 4 + 64, domain×expert at 4 + 128 ([NDOM, E]), random drops at 4 + 128 + 4·64. win_f: [0] ce [1] aux [2] z [3] accuracy; P_i sums at 4.
// The held-out evaluation (eval_begin, per chunk the forward kernels and eval_accum, eval_end) keeps
// its sums and its result in `state` (ST_EVAL_*); twin: crate::trainer::evaluate_heldout.
const WU_CH: u32 = 4u;
const WU_KP: u32 = 68u;
const WU_DM: u32 = 132u;
const WU_RND: u32 = 388u;
const WF_P: u32 = 4u;
// Words of win_u and win_f (src/gpu/trainer.rs sizes the buffers with them).
const WU_WORDS: u32 = WU_RND + 1u;
const WF_WORDS: u32 = WF_P + MAXE;
// The snapshot record `snap` (u32 words, floats bit-cast): SN header words, then SN_PARTS parts of E
// words each, part i at SN + i·E. src/metrics.rs decodes it with these very constants (build.rs
// generates them into crate::gpu::wgsl::metrics).
const SN_STEPS: u32 = 0u;       // steps pooled in the window
const SN_STEP: u32 = 1u;        // training steps so far (state[0])
const SN_SKIPPED: u32 = 2u;     // steps skipped for a non-finite loss or gradient (state[1])
const SN_CE: u32 = 3u;          // window means (f32): cross-entropy, aux loss, z-loss, accuracy
const SN_AUX: u32 = 4u;
const SN_Z: u32 = 5u;
const SN_ACC: u32 = 6u;
const SN_DROPPED: u32 = 7u;     // assignments dropped over the window
const SN_ALL_DROPPED: u32 = 8u; // tokens with no routed rank live
const SN_ENTROPY: u32 = 9u;     // load balance (f32): normalised entropy, CV, max share; starved experts
const SN_CV: u32 = 10u;
const SN_MAX_SHARE: u32 = 11u;
const SN_STARVED: u32 = 12u;
const SN_CAP: u32 = 13u;        // the knobs at the snapshot: capacity, k, rows
const SN_K: u32 = 14u;
const SN_T: u32 = 15u;
const SN_UPDATES: u32 = 16u;    // Adam updates applied (state[3])
const SN_EVAL_CE: u32 = 17u;    // the latest held-out evaluation: mean CE, accuracy (f32), its step
const SN_EVAL_ACC: u32 = 18u;
const SN_EVAL_STEP: u32 = 19u;
const SN_ASSIGNED: u32 = 20u;   // assignments made over the window (Σ T·k)
const SN_RANDOM: u32 = 21u;     // of the dropped, those dropped at random
const SN_SIM: u32 = 22u;        // the expert similarity (f32), written by `expert_similarity`
const SN: u32 = 24u;            // header words
const SN_CHOICES: u32 = 0u;     // parts: [E] top-k choices, [E] kept, [E] mean P_i (f32),
const SN_KEPT: u32 = 1u;        // [NDOM, E] domain × expert choices, [E] the router bias (f32)
const SN_P: u32 = 2u;
const SN_DOM: u32 = 3u;
const SN_BIAS: u32 = 7u;
const SN_PARTS: u32 = 8u;

// One workgroup: thread e < E adds expert e's counts and its domain row; thread 64 the drops and losses.
@compute @workgroup_size(128)
fn metrics_accum(@builtin(local_invocation_index) li: u32) {
    if (li < u.e) {
        let e = li;
        win_u[WU_CH + e] += counts[e];
        win_u[WU_KP + e] += kept[e];
        win_f[WF_P + e] += stats[ST_P + e];
        var per: array<u32, 4>;
        for (var t = 0u; t < u.t; t++) {
            for (var r = 0u; r < u.k; r++) {
                let a = t * u.kmax + r;
                if (topk[a] == e && slot[a] != UNPICKED) { per[min(dom[t], NDOM - 1u)] += 1u; }
            }
        }
        for (var d = 0u; d < NDOM; d++) { win_u[WU_DM + d * u.e + e] += per[d]; }
    }
    if (li == 64u) {
        var dropped = 0u;
        var all = 0u;
        var rnd = 0u;
        for (var t = 0u; t < u.t; t++) {
            var n = 0u;
            var nlive = 0u;
            for (var r = 0u; r < u.k; r++) {
                if (is_dropped(slot[t * u.kmax + r])) { n++; }
                if (slot[t * u.kmax + r] == RANDOM) { rnd++; }
                if (live(slot[t * u.kmax + r])) { nlive++; }
            }
            dropped += n;
            // Unrouted: no routed rank live (every choice dropped; with expert choice, not picked).
            if (nlive == 0u) { all++; }
        }
        win_u[0] += 1u;
        win_u[1] += dropped;
        win_u[WU_RND] += rnd;
        win_u[3] += u.t * u.k;
        win_u[2] += all;
        win_f[0] += stats[0];
        win_f[1] += stats[1];
        win_f[2] += stats[2];
        win_f[3] += stats[3];
    }
}

// One thread: write the snapshot record and clear the window. Balance metrics are computed from the
// load pooled over the window (twin: crate::metrics::balance).
@compute @workgroup_size(1)
fn snapshot() {
    let steps = win_u[0];
    let sf = max(f32(steps), 1.0);
    snap[SN_STEPS] = steps;
    snap[SN_STEP] = state[0];
    snap[SN_SKIPPED] = state[1];
    snap[SN_CE] = bitcast<u32>(win_f[0] / sf);
    snap[SN_AUX] = bitcast<u32>(win_f[1] / sf);
    snap[SN_Z] = bitcast<u32>(win_f[2] / sf);
    snap[SN_ACC] = bitcast<u32>(win_f[3] / sf);
    snap[SN_DROPPED] = win_u[1];
    snap[SN_ALL_DROPPED] = win_u[2];
    snap[SN_CAP] = u.cap;
    snap[SN_K] = u.k;
    snap[SN_T] = u.t;
    snap[SN_UPDATES] = state[3];
    snap[SN_EVAL_CE] = state[ST_EVAL_MEAN];
    snap[SN_EVAL_ACC] = state[ST_EVAL_ACC];
    snap[SN_EVAL_STEP] = state[ST_EVAL_STEP];
    snap[SN_ASSIGNED] = win_u[3];
    snap[SN_RANDOM] = win_u[WU_RND];
    win_u[WU_RND] = 0u;
    var total = 0u;
    for (var e = 0u; e < u.e; e++) { total += win_u[WU_CH + e]; }
    let ef = f32(u.e);
    let fair = 1.0 / ef;
    var ent = 0.0;
    var var_acc = 0.0;
    var mx = 0.0;
    var starved = 0u;
    for (var e = 0u; e < u.e; e++) {
        var s = 0.0;
        if (total > 0u) { s = f32(win_u[WU_CH + e]) / f32(total); }
        if (s > 0.0) { ent -= s * log(s); }
        var_acc += (s - fair) * (s - fair);
        mx = max(mx, s);
        if (s < 0.25 * fair) { starved++; }
        snap[SN + SN_CHOICES * u.e + e] = win_u[WU_CH + e];
        snap[SN + SN_KEPT * u.e + e] = win_u[WU_KP + e];
        snap[SN + SN_P * u.e + e] = bitcast<u32>(win_f[WF_P + e] / sf);
        snap[SN + SN_BIAS * u.e + e] = bitcast<u32>(rstate[e]);
    }
    var ent_n = 1.0;
    if (u.e > 1u) { ent_n = ent / log(ef); }
    snap[SN_ENTROPY] = bitcast<u32>(ent_n);
    snap[SN_CV] = bitcast<u32>(sqrt(var_acc / ef) / fair);
    snap[SN_MAX_SHARE] = bitcast<u32>(mx);
    snap[SN_STARVED] = starved;
    for (var j = 0u; j < NDOM * u.e; j++) {
        snap[SN + SN_DOM * u.e + j] = win_u[WU_DM + j];
        win_u[WU_DM + j] = 0u;
    }
    for (var j = 0u; j < 4u + 2u * MAXE; j++) { win_u[j] = 0u; }
    for (var j = 0u; j < 4u + MAXE; j++) { win_f[j] = 0.0; }
}

// One thread: start a held-out evaluation pass (chunk 0, empty sums).
@compute @workgroup_size(1)
fn eval_begin() {
    state[ST_EVAL_CHUNK] = 0u;
    state[ST_EVAL_CE] = bitcast<u32>(0.0);
    state[ST_EVAL_OK] = 0u;
}

// One thread, after a chunk's forward pass and loss_token: add the chunk's rows below eval_n to the
// sums, in row order, and move to the next chunk.
@compute @workgroup_size(1)
fn eval_accum() {
    let chunk = state[ST_EVAL_CHUNK];
    var ce = bitcast<f32>(state[ST_EVAL_CE]);
    var ok = state[ST_EVAL_OK];
    for (var t = 0u; t < u.t; t++) {
        if (chunk * u.t + t < u.eval_n) {
            ce += ce_t[t];
            ok += correct[t];
        }
    }
    state[ST_EVAL_CE] = bitcast<u32>(ce);
    state[ST_EVAL_OK] = ok;
    state[ST_EVAL_CHUNK] = chunk + 1u;
}

// One thread: the pass's means and the training step they follow.
@compute @workgroup_size(1)
fn eval_end() {
    let n = f32(u.eval_n);
    state[ST_EVAL_MEAN] = bitcast<u32>(bitcast<f32>(state[ST_EVAL_CE]) / n);
    state[ST_EVAL_ACC] = bitcast<u32>(f32(state[ST_EVAL_OK]) / n);
    state[ST_EVAL_STEP] = state[0];
}

// Expert similarity (twin: crate::metrics::expert_similarity): the mean cosine similarity over the
// E(E-1)/2 pairs of routed experts of their flattened weights [W1 (H·d), b1 (H), W2 (d·H), b2 (d)].
// One workgroup: thread li computes the dot products of pairs p = li, li + 256, … of the
// E(E+1)/2 pairs i <= j (i = j: squared norms), each one f32 sum in vector order; after the barrier
// thread 0 sums the cosines in pair order (i ascending, then j) and writes snap[SN_SIM]. Run after
// `snapshot`, when a snapshot is taken. A zero vector counts as cosine 0.
const SIM_WG: u32 = 256u;
var<workgroup> sim_dots: array<f32, 2080>; // MAXE·(MAXE+1)/2

fn expert_dot(i: u32, j: u32) -> f32 {
    let hd = u.h * u.d;
    var acc = 0.0;
    for (var c = 0u; c < hd; c++) { acc += params[u.o_w1 + i * hd + c] * params[u.o_w1 + j * hd + c]; }
    for (var c = 0u; c < u.h; c++) { acc += params[u.o_b1 + i * u.h + c] * params[u.o_b1 + j * u.h + c]; }
    for (var c = 0u; c < hd; c++) { acc += params[u.o_w2 + i * hd + c] * params[u.o_w2 + j * hd + c]; }
    for (var c = 0u; c < u.d; c++) { acc += params[u.o_b2 + i * u.d + c] * params[u.o_b2 + j * u.d + c]; }
    return acc;
}

// Index of pair (i, j), i <= j, in row order over i: i·E − i(i−1)/2 + (j − i).
fn pair_index(i: u32, j: u32) -> u32 {
    return i * u.e - (i * (i - select(0u, 1u, i > 0u))) / 2u + (j - i);
}

@compute @workgroup_size(256)
fn expert_similarity(@builtin(local_invocation_index) li: u32) {
    let n = u.e * (u.e + 1u) / 2u;
    // Walk the pairs row by row; thread li takes every SIM_WG-th one.
    var i = 0u;
    var j = 0u;
    for (var p = 0u; p < n; p++) {
        if (p % SIM_WG == li) { sim_dots[p] = expert_dot(i, j); }
        j++;
        if (j == u.e) { i++; j = i; }
    }
    workgroupBarrier();
    if (li == 0u) {
        var sum = 0.0;
        for (var a = 0u; a < u.e; a++) {
            for (var b = a + 1u; b < u.e; b++) {
                let den = sqrt(sim_dots[pair_index(a, a)]) * sqrt(sim_dots[pair_index(b, b)]);
                if (den > 0.0) { sum += sim_dots[pair_index(a, b)] / den; }
            }
        }
        var mean = 0.0;
        if (u.e > 1u) { mean = sum / f32(u.e * (u.e - 1u) / 2u); }
        snap[SN_SIM] = bitcast<u32>(mean);
    }
}
