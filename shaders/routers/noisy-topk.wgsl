// noisy-topk (Shazeer et al. 2017): H = logits + ε·softplus(noise logits), ε ~ N(0, 1) per token and
// expert in training steps only; top-k of H; gates = softmax over the kept H. Backward: dH through
// that softmax, to the logits directly and to the noise logits through ε·sigmoid.
// Twin: src/model/routers/noisy_topk.rs.
fn softplus(v: f32) -> f32 {
    let m = max(v, 0.0);
    return m + log(exp(-m) + exp(v - m));
}

// ε of token t, expert e (twin: routers::normal_draw); 0 outside training.
fn noisy_eps(t: u32, e: u32) -> f32 {
    if (u.probe != 0u) { return 0.0; }
    let h1 = pcg_hash(rkey[t * 2u + 1u] ^ pcg_hash(e ^ 0x85ebca6bu));
    let h2 = pcg_hash(h1 ^ 0xc2b2ae35u);
    let u1 = (f32(h1 >> 8u) + 0.5) * (1.0 / 16777216.0);
    let u2 = f32(h2 >> 8u) * (1.0 / 16777216.0);
    return sqrt(-2.0 * log(u1)) * cos(6.2831855 * u2);
}

// Φ by Abramowitz & Stegun 7.1.26 (twin: Real::normal_cdf for f32).
fn normal_cdf(z: f32) -> f32 {
    let x = z * 0.70710677;
    let ax = abs(x);
    let s = 1.0 / (1.0 + 0.3275911 * ax);
    let poly = ((((1.0614054 * s - 1.4531521) * s + 1.4214138) * s - 0.28449672) * s + 0.2548296) * s;
    let erf = 1.0 - poly * exp(-ax * ax);
    return 0.5 * (1.0 + select(erf, -erf, x < 0.0));
}

fn is_chosen(t: u32, e: u32) -> bool {
    for (var r = 0u; r < u.k; r++) { if (topk[t * u.kmax + r] == e) { return true; } }
    return false;
}

fn route_noisy_topk(t: u32) {
    for (var e = 0u; e < u.e; e++) {
        let n = noisy_eps(t, e);
        rstate[rs_eps(t, e)] = n;
        scores[t * u.e + e] = logits[t * u.e + e] + n * softplus(rstate[rs_nlog(t, e)]);
    }
    select_topk(t);
    if (u.probe == 0u) {
        // The smooth load estimate: P(t, e) = Φ((clean_e − kth-largest score excluding e) / std_e);
        // the threshold of a chosen expert is the (k+1)-th largest score, of the others the k-th.
        var next = UNUSED;
        for (var e = 0u; e < u.e; e++) {
            if (is_chosen(t, e)) { continue; }
            if (next == UNUSED || scores[t * u.e + e] > scores[t * u.e + next]) { next = e; }
        }
        rstate[rs_next(t)] = bitcast<f32>(next);
        let kth = topk[t * u.kmax + u.k - 1u];
        for (var e = 0u; e < u.e; e++) {
            var thr = kth;
            if (is_chosen(t, e)) { thr = next; }
            var p = 1.0;
            var z = 0.0;
            if (thr != UNUSED) {
                z = (logits[t * u.e + e] - scores[t * u.e + thr]) / softplus(rstate[rs_nlog(t, e)]);
                p = normal_cdf(z);
            }
            rstate[rs_pload(t, e)] = p;
            rstate[rs_pz(t, e)] = z;
        }
    }
    let m = scores[t * u.e + topk[t * u.kmax]];
    var s = 0.0;
    for (var r = 0u; r < u.k; r++) { s += exp(scores[t * u.e + topk[t * u.kmax + r]] - m); }
    for (var r = 0u; r < u.k; r++) {
        gates[t * u.kmax + r] = exp(scores[t * u.e + topk[t * u.kmax + r]] - m) / s;
    }
}

fn route_grad_noisy_topk(t: u32, dp: ptr<function, array<f32, 64>>) {
    var dot = 0.0;
    for (var r = 0u; r < u.k; r++) { dot += gates[t * u.kmax + r] * dg[t * u.kmax + r]; }
    for (var r = 0u; r < u.k; r++) {
        let e = topk[t * u.kmax + r];
        let dh = gates[t * u.kmax + r] * (dg[t * u.kmax + r] - dot);
        rstate[rs_dl(t, e)] += dh;
        rstate[rs_dn(t, e)] += dh * rstate[rs_eps(t, e)] / (1.0 + exp(-rstate[rs_nlog(t, e)]));
    }
    // The cv2 load term through the smooth estimates (twin: NoisyTopK::load_grad).
    if (u.balance == BAL_CV2 && u.probe == 0u) {
        let next = bitcast<u32>(rstate[rs_next(t)]);
        let kth = topk[t * u.kmax + u.k - 1u];
        for (var e = 0u; e < u.e; e++) {
            var thr = kth;
            if (is_chosen(t, e)) { thr = next; }
            if (thr == UNUSED) { continue; }
            let z = rstate[rs_pz(t, e)];
            let nl = rstate[rs_nlog(t, e)];
            let gz = u.alpha * stats[ST_DLOAD + e] * exp(-z * z / 2.0) * 0.3989423 / softplus(nl);
            rstate[rs_dl(t, e)] += gz;
            rstate[rs_dl(t, thr)] += -gz;
            rstate[rs_dn(t, thr)] += -gz * rstate[rs_eps(t, thr)] / (1.0 + exp(-rstate[rs_nlog(t, thr)]));
            rstate[rs_dn(t, e)] += -gz * z / (1.0 + exp(-nl));
        }
    }
}

fn route_update_noisy_topk(e: u32) {}
