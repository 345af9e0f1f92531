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

fn route_noisy_topk(t: u32) {
    for (var e = 0u; e < u.e; e++) {
        scores[t * u.e + e] = logits[t * u.e + e] + noisy_eps(t, e) * softplus(rstate[rs_nlog(t, e)]);
    }
    select_topk(t);
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
        rstate[rs_dn(t, e)] += dh * noisy_eps(t, e) / (1.0 + exp(-rstate[rs_nlog(t, e)]));
    }
}

fn route_update_noisy_topk(e: u32) {}
