// The router: logits, softmax, top-k and gates (forward); its gradient through the gates, the
// Switch balance loss and the ST-MoE z-loss (backward). A new router kind is one more `route_*`
// function selected by u.router (crate::config::RouterKind::id), with its twin in src/model/routing.rs.

// Softmax top-k (Switch for k = 1, Mixtral for k ≥ 2): the k largest probabilities, ties to the lower
// index; k = 1 keeps the raw probability as gate, k ≥ 2 renormalises over the chosen k.
fn route_softmax_topk(t: u32, pr: ptr<function, array<f32, 64>>) {
    var taken: array<bool, 64>;
    for (var e = 0u; e < u.e; e++) { taken[e] = false; }
    var s = 0.0;
    for (var r = 0u; r < u.k; r++) {
        var best = UNUSED;
        for (var e = 0u; e < u.e; e++) {
            if (taken[e]) { continue; }
            if (best == UNUSED || (*pr)[e] > (*pr)[best]) { best = e; }
        }
        taken[best] = true;
        topk[t * u.kmax + r] = best;
        s += (*pr)[best];
    }
    for (var r = 0u; r < u.k; r++) {
        let p = (*pr)[topk[t * u.kmax + r]];
        if (u.k == 1u) { gates[t * u.kmax + r] = p; } else { gates[t * u.kmax + r] = p / s; }
    }
    for (var r = u.k; r < u.kmax; r++) {
        topk[t * u.kmax + r] = UNUSED;
        gates[t * u.kmax + r] = 0.0;
    }
}

// [T] threads: logits = W_r·x, p = softmax, lse, then the router kind's choice.
@compute @workgroup_size(64)
fn router(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) li: u32) {
    let t = flat(wid, nwg, li);
    if (t >= u.t) { return; }
    var lg: array<f32, 64>;
    for (var e = 0u; e < u.e; e++) {
        var acc = 0.0;
        for (var c = 0u; c < u.d; c++) { acc += params[u.o_wr + e * u.d + c] * x[t * u.d + c]; }
        lg[e] = acc;
        logits[t * u.e + e] = acc;
    }
    var m = lg[0];
    for (var e = 0u; e < u.e; e++) { m = max(m, lg[e]); }
    var s = 0.0;
    for (var e = 0u; e < u.e; e++) { s += exp(lg[e] - m); }
    var pr: array<f32, 64>;
    for (var e = 0u; e < u.e; e++) {
        pr[e] = exp(lg[e] - m) / s;
        probs[t * u.e + e] = pr[e];
    }
    lse[t] = m + log(s);
    switch u.router {
        default: { route_softmax_topk(t, &pr); }
    }
}

// [T] threads: d loss / d logits. Gate gradients dg flow to the chosen probabilities (k = 1: the raw
// p; k ≥ 2: through the renormalisation), the balance loss adds α·E·f_i/T to every p_i (f_i is a
// count, not differentiable), softmax maps dp to dlogits, and the z-loss adds β·2·lse·p/T.
@compute @workgroup_size(64)
fn router_grad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) li: u32) {
    let t = flat(wid, nwg, li);
    if (t >= u.t) { return; }
    var dp: array<f32, 64>;
    for (var e = 0u; e < u.e; e++) { dp[e] = 0.0; }
    let kk = u.kmax;
    if (u.k == 1u) {
        let i = topk[t * kk];
        dp[i] += dg[t * kk];
    } else {
        var s = 0.0;
        var sdot = 0.0;
        for (var r = 0u; r < u.k; r++) {
            let i = topk[t * kk + r];
            s += probs[t * u.e + i];
            sdot += dg[t * kk + r] * probs[t * u.e + i];
        }
        for (var r = 0u; r < u.k; r++) {
            let i = topk[t * kk + r];
            dp[i] += dg[t * kk + r] / s - sdot / (s * s);
        }
    }
    let tk = f32(u.t * u.k);
    let tf = f32(u.t);
    let ef = f32(u.e);
    var dot = 0.0;
    for (var e = 0u; e < u.e; e++) {
        let f = f32(counts[e]) / tk;
        dp[e] += u.alpha * ef * f / tf;
        dot += probs[t * u.e + e] * dp[e];
    }
    let zl = u.beta * 2.0 * lse[t] / tf;
    for (var e = 0u; e < u.e; e++) {
        let p = probs[t * u.e + e];
        dlog[t * u.e + e] = p * (dp[e] - dot) + zl * p;
    }
}

// [E·d] threads: dW_r = dlogᵀ·x, summed over tokens in order.
@compute @workgroup_size(64)
fn router_wgrad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) li: u32) {
    let i = flat(wid, nwg, li);
    if (i >= u.e * u.d) { return; }
    let e = i / u.d;
    let c = i % u.d;
    var acc = 0.0;
    for (var t = 0u; t < u.t; t++) { acc += dlog[t * u.e + e] * x[t * u.d + c]; }
    grads[u.o_wr + i] = acc;
}
