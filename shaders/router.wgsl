// The router: logits and softmax (`router`), the router unit's choice (`route`: experts, gates,
// random drops, scores; the units are in shaders/routers/, dispatched on u.router by generated
// code), the unit's per-step update (`route_update`); backward: the gradient through the unit's
// gates, the Switch balance loss and the ST-MoE z-loss (`router_grad`), and dW_r (`router_wgrad`).
// Twins: src/model/forward.rs `router`, `route`; src/model/routers/; backward.rs `router_grad`.

// Helpers for router units (twins in src/model/routers/mod.rs).

// The k largest of scores[t, ·] (ties to the lower index) into topk[t, 0..k]; ranks k.. UNUSED.
fn select_topk(t: u32) {
    var taken: array<bool, 64>;
    for (var e = 0u; e < u.e; e++) { taken[e] = false; }
    for (var r = 0u; r < u.k; r++) {
        var best = UNUSED;
        for (var e = 0u; e < u.e; e++) {
            if (taken[e]) { continue; }
            if (best == UNUSED || scores[t * u.e + e] > scores[t * u.e + best]) { best = e; }
        }
        taken[best] = true;
        topk[t * u.kmax + r] = best;
    }
    for (var r = u.k; r < u.kmax; r++) {
        topk[t * u.kmax + r] = UNUSED;
        gates[t * u.kmax + r] = 0.0;
    }
}

// Gates from the router probabilities of the chosen experts: the raw p for k = 1 (Switch),
// renormalised over the chosen k for k ≥ 2 (Mixtral, GShard).
fn prob_gates(t: u32) {
    var s = 0.0;
    for (var r = 0u; r < u.k; r++) { s += probs[t * u.e + topk[t * u.kmax + r]]; }
    for (var r = 0u; r < u.k; r++) {
        let p = probs[t * u.e + topk[t * u.kmax + r]];
        if (u.k == 1u) { gates[t * u.kmax + r] = p; } else { gates[t * u.kmax + r] = p / s; }
    }
}

// Backward of prob_gates: d loss / d p from d loss / d gates.
fn prob_gates_grad(t: u32, dp: ptr<function, array<f32, 64>>) {
    let kk = u.kmax;
    if (u.k == 1u) {
        let i = topk[t * kk];
        (*dp)[i] += dg[t * kk];
        return;
    }
    var s = 0.0;
    var sdot = 0.0;
    for (var r = 0u; r < u.k; r++) {
        let i = topk[t * kk + r];
        s += probs[t * u.e + i];
        sdot += dg[t * kk + r] * probs[t * u.e + i];
    }
    for (var r = 0u; r < u.k; r++) {
        let i = topk[t * kk + r];
        (*dp)[i] += dg[t * kk + r] / s - sdot / (s * s);
    }
}

// A uniform draw in [0, 1) from a 32-bit word, exact in f32 (24 bits).
fn unit_draw(w: u32) -> f32 {
    return f32(w >> 8u) * (1.0 / 16777216.0);
}

// [T] threads: logits = W_r·x, p = softmax, lse; the noise logits W_noise·x.
@compute @workgroup_size(64)
fn router(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) li: u32) {
    let t = flat(wid, nwg, li);
    if (t >= u.t) { return; }
    var lg: array<f32, 64>;
    for (var e = 0u; e < u.e; e++) {
        var acc = 0.0;
        var nacc = 0.0;
        for (var c = 0u; c < u.d; c++) {
            acc += params[u.o_wr + e * u.d + c] * x[t * u.d + c];
            nacc += params[u.o_wn + e * u.d + c] * x[t * u.d + c];
        }
        lg[e] = acc;
        logits[t * u.e + e] = acc;
        rstate[rs_nlog(t, e)] = nacc;
    }
    var m = lg[0];
    for (var e = 0u; e < u.e; e++) { m = max(m, lg[e]); }
    var s = 0.0;
    for (var e = 0u; e < u.e; e++) { s += exp(lg[e] - m); }
    for (var e = 0u; e < u.e; e++) { probs[t * u.e + e] = exp(lg[e] - m) / s; }
    lse[t] = m + log(s);
}

// [T] threads: the router unit's choice for token t, then the shared experts' ranks. Slots of the
// live ranks start at 0 (the unit marks RANDOM the assignments it drops and UNPICKED the ranks no
// expert picked; `capacity` hands out the rest).
@compute @workgroup_size(64)
fn route(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) li: u32) {
    let t = flat(wid, nwg, li);
    if (t >= u.t) { return; }
    for (var r = 0u; r < u.ranks; r++) { slot[t * u.kmax + r] = 0u; }
    route_unit(t);
    // The shared experts: ranks k..k + shared, experts e..e + shared, gate 1.
    for (var j = 0u; j < u.n_shared; j++) {
        let a = t * u.kmax + u.k + j;
        topk[a] = u.e + j;
        gates[a] = 1.0;
    }
}

// [E] threads, after a training step: the router unit's per-expert update (the aux-free bias).
@compute @workgroup_size(64)
fn route_update(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) li: u32) {
    let e = flat(wid, nwg, li);
    if (e >= u.e) { return; }
    route_update_unit(e);
}

// [T] threads: the router unit's part of the gradient (route_grad_<unit>): d loss / d p into dlog
// (read back by router_grad), its direct d loss / d logits and d loss / d noise logits into rstate.
@compute @workgroup_size(64)
fn route_grad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) li: u32) {
    let t = flat(wid, nwg, li);
    if (t >= u.t) { return; }
    var dp: array<f32, 64>;
    for (var e = 0u; e < u.e; e++) {
        dp[e] = 0.0;
        rstate[rs_dn(t, e)] = 0.0;
        rstate[rs_dl(t, e)] = 0.0;
    }
    route_grad_unit(t, &dp);
    for (var e = 0u; e < u.e; e++) { dlog[t * u.e + e] = dp[e]; }
}

// [T] threads: d loss / d logits. The unit's dp (in dlog), plus the balance loss's α·E·f_i/T on
// every p_i (f_i is a count, not differentiable), through the softmax; the z-loss adds β·2·lse·p/T;
// then the unit's direct part.
@compute @workgroup_size(64)
fn router_grad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) li: u32) {
    let t = flat(wid, nwg, li);
    if (t >= u.t) { return; }
    var dp: array<f32, 64>;
    for (var e = 0u; e < u.e; e++) { dp[e] = dlog[t * u.e + e]; }
    let tk = f32(u.t * u.k);
    let tf = f32(u.t);
    let ef = f32(u.e);
    var dot = 0.0;
    for (var e = 0u; e < u.e; e++) {
        if (u.balance != BAL_CV2) {
            let f = f32(counts[e]) / tk;
            dp[e] += u.alpha * ef * f / tf;
        }
        dot += probs[t * u.e + e] * dp[e];
    }
    let zl = u.beta * 2.0 * lse[t] / tf;
    for (var e = 0u; e < u.e; e++) {
        let p = probs[t * u.e + e];
        dlog[t * u.e + e] = p * (dp[e] - dot) + zl * p + rstate[rs_dl(t, e)];
    }
}

// [E·d] threads: dW_r = dlogᵀ·x and dW_noise = dnᵀ·x, summed over tokens in order.
@compute @workgroup_size(64)
fn router_wgrad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) li: u32) {
    let i = flat(wid, nwg, li);
    if (i >= u.e * u.d) { return; }
    let e = i / u.d;
    let c = i % u.d;
    var acc = 0.0;
    var nacc = 0.0;
    for (var t = 0u; t < u.t; t++) {
        acc += dlog[t * u.e + e] * x[t * u.d + c];
        nacc += rstate[rs_dn(t, e)] * x[t * u.d + c];
    }
    grads[u.o_wr + i] = acc;
    grads[u.o_wn + i] = nacc;
}
