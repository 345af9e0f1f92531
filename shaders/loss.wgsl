// Output head, cross-entropy, the loss reductions (CE, Switch balance loss, z-loss) and the head's
// gradient. Every reduction is one thread looping in index order: deterministic, same order as the
// reference.

// Competitive mixture: out[t, v] = log Σ_r p_i·softmax(outm_a)[v], log p_i = logit_i − lse.
fn head_mixture(t: u32, v: u32) -> f32 {
    var terms: array<f32, 64>;
    for (var r = 0u; r < u.k; r++) {
        let a = t * u.kmax + r;
        terms[r] = logits[t * u.e + topk[a]] - lse[t] + outm[a * u.v + v] - lse_outm(a);
    }
    var mx = terms[0];
    for (var r = 0u; r < u.k; r++) { mx = max(mx, terms[r]); }
    var s = 0.0;
    for (var r = 0u; r < u.k; r++) { s += exp(terms[r] - mx); }
    return mx + log(s);
}

// W_o[v..v+4, c] and W_o[v, c..c+4] (rows past V and columns past d read the last one), b_o[v..v+4].
fn wo_at(v: u32, c: u32) -> f32 {
    return params[u.o_wo + min(v, u.v - 1u) * u.d + min(c, u.d - 1u)];
}
fn wo_4v(v: u32, c: u32) -> vec4<f32> {
    return vec4<f32>(wo_at(v, c), wo_at(v + 1u, c), wo_at(v + 2u, c), wo_at(v + 3u, c));
}
fn wo_4c(v: u32, c: u32) -> vec4<f32> {
    return vec4<f32>(wo_at(v, c), wo_at(v, c + 1u), wo_at(v, c + 2u), wo_at(v, c + 3u));
}
fn bo_4(v: u32) -> vec4<f32> {
    let l = u.v - 1u;
    return vec4<f32>(params[u.o_bo + min(v, l)], params[u.o_bo + min(v + 1u, l)], params[u.o_bo + min(v + 2u, l)],
                     params[u.o_bo + min(v + 3u, l)]);
}
fn put_outp(t: u32, v: u32, w: vec4<f32>) {
    let o = t * u.v + v;
    if (v < u.v) { outp[o] = w.x; }
    if (v + 1u < u.v) { outp[o + 1u] = w.y; }
    if (v + 2u < u.v) { outp[o + 2u] = w.z; }
    if (v + 3u < u.v) { outp[o + 3u] = w.w; }
}

// Grid: [ceil(V/B) blocks · T rows]: out[t, v] = b_o[v] + W_o[v, ·]·h[t], B classes per invocation
// (four vec4 accumulators, as in shaders/expert_ffn.wgsl).
@compute @workgroup_size(64)
fn head(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let g = group_of(wid, nwg);
    let sg = slot_groups();
    let v0 = (g / sg) * B;
    let t = (g % sg) * WG + li;
    if (t >= u.t || v0 >= u.v) { return; }
    if (u.mix == 1u) {
        for (var vv = 0u; vv < B; vv++) {
            if (v0 + vv < u.v) { outp[t * u.v + v0 + vv] = head_mixture(t, v0 + vv); }
        }
        return;
    }
    var acc0 = bo_4(v0);
    var acc1 = bo_4(v0 + 4u);
    var acc2 = bo_4(v0 + 8u);
    var acc3 = bo_4(v0 + 12u);
    for (var c = 0u; c < u.d; c++) {
        let hv = h[t * u.d + c];
        acc0 += wo_4v(v0, c) * hv;
        acc1 += wo_4v(v0 + 4u, c) * hv;
        acc2 += wo_4v(v0 + 8u, c) * hv;
        acc3 += wo_4v(v0 + 12u, c) * hv;
    }
    put_outp(t, v0, acc0);
    put_outp(t, v0 + 4u, acc1);
    put_outp(t, v0 + 8u, acc2);
    put_outp(t, v0 + 12u, acc3);
}

// log Σ_v exp(outm[a, v]) (the max first).
fn lse_outm(a: u32) -> f32 {
    var mx = outm[a * u.v];
    for (var v = 0u; v < u.v; v++) { mx = max(mx, outm[a * u.v + v]); }
    var s = 0.0;
    for (var v = 0u; v < u.v; v++) { s += exp(outm[a * u.v + v] - mx); }
    return mx + log(s);
}

// [T·K·V] threads, competitive mixture loss only: each live routed assignment's own output logits
// outm[a, v] = b_o[v] + W_o[v, ·]·(h[t] + y[a]).
@compute @workgroup_size(64)
fn head_mix(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) li: u32) {
    if (u.mix == 0u) { return; }
    let n = flat(wid, nwg, li);
    if (n >= u.t * u.k * u.v) { return; }
    let row = n / u.v;
    let v = n % u.v;
    let t = row / u.k;
    let a = t * u.kmax + row % u.k;
    if (!live(slot[a])) { outm[a * u.v + v] = 0.0; return; }
    var acc = params[u.o_bo + v];
    for (var c = 0u; c < u.d; c++) { acc += params[u.o_wo + v * u.d + c] * (h[t * u.d + c] + y[a * u.d + c]); }
    outm[a * u.v + v] = acc;
}

// [T] threads, competitive mixture loss only: the posterior of each routed expert
// r_i = p_i·q_i[y] / Σ_j p_j·q_j[y] (q = softmax(outm), the denominator exp(out[t, y])) into rstate,
// and d loss / d outm = r_i·(q_i − onehot(y)) / T.
@compute @workgroup_size(64)
fn mix_grad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) li: u32) {
    if (u.mix == 0u) { return; }
    let t = flat(wid, nwg, li);
    if (t >= u.t) { return; }
    let label = tgt[t];
    let tf = f32(u.t);
    for (var r = 0u; r < u.k; r++) {
        let a = t * u.kmax + r;
        let i = topk[a];
        let ls = lse_outm(a);
        let rp = exp(logits[t * u.e + i] - lse[t] + outm[a * u.v + label] - ls - outp[t * u.v + label]);
        rstate[rs_post(t, i)] = rp;
        for (var v = 0u; v < u.v; v++) {
            let one = select(0.0, 1.0, v == label);
            doutm[a * u.v + v] = rp * (exp(outm[a * u.v + v] - ls) - one) / tf;
        }
    }
}

// [T] threads: ce_t = lse(out) − out[target]; dout = (softmax − onehot)/T; correct = argmax == target.
@compute @workgroup_size(64)
fn loss_token(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) li: u32) {
    let t = flat(wid, nwg, li);
    if (t >= u.t) { return; }
    let o = t * u.v;
    var m = outp[o];
    var best = 0u;
    for (var v = 0u; v < u.v; v++) {
        m = max(m, outp[o + v]);
        if (outp[o + v] > outp[o + best]) { best = v; }
    }
    var s = 0.0;
    for (var v = 0u; v < u.v; v++) { s += exp(outp[o + v] - m); }
    let label = tgt[t];
    ce_t[t] = (m + log(s)) - outp[o + label];
    correct[t] = select(0u, 1u, best == label);
    let tf = f32(u.t);
    for (var v = 0u; v < u.v; v++) {
        let one = select(0.0, 1.0, v == label);
        dout[o + v] = (exp(outp[o + v] - m) / s - one) / tf;
    }
}

// One workgroup: thread e < E sums P_e = mean_t p[t, e] and f_e = counts_e / (T·k); thread 64 sums
// CE, z and accuracy; then thread 0 forms aux = E·Σ f_e·P_e and the total loss.
@compute @workgroup_size(128)
fn loss_reduce(@builtin(local_invocation_index) li: u32) {
    let tf = f32(u.t);
    if (li < u.e) {
        var acc = 0.0;
        for (var t = 0u; t < u.t; t++) { acc += probs[t * u.e + li]; }
        stats[ST_P + li] = acc / tf;
        stats[ST_F + li] = f32(counts[li]) / f32(u.t * u.k);
    }
    if (li == 64u) {
        var ce = 0.0;
        var z = 0.0;
        var ok = 0u;
        for (var t = 0u; t < u.t; t++) {
            ce += ce_t[t];
            z += lse[t] * lse[t];
            ok += correct[t];
        }
        stats[0] = ce / tf;
        stats[2] = z / tf;
        stats[3] = f32(ok) / tf;
    }
    storageBarrier();
    workgroupBarrier();
    if (li == 0u) {
        var aux = 0.0;
        for (var e = 0u; e < u.e; e++) { aux += stats[ST_F + e] * stats[ST_P + e]; }
        aux = aux * f32(u.e);
        stats[1] = aux;
        stats[4] = stats[0] + u.alpha * aux + u.beta * stats[2];
    }
}

// One workgroup, with the cv2 balance loss only: thread e < E sums expert e's importance (Σ gates of
// the chosen, before dropping, in token then rank order) and load (the router's smooth estimate in
// training, else the choice count); thread 0 then forms aux = CV²(importance) + CV²(load), the total
// loss, and α·d CV² / d x for the backward pass. Twin: forward.rs `balance_reduce`, routing::cv2.
// (mean, Σ (x − mean)²) of stats[base .. base + E], in index order (twin: routing::moments).
fn cv2_moments(base: u32) -> vec2<f32> {
    let n = f32(u.e);
    var s = 0.0;
    for (var e = 0u; e < u.e; e++) { s += stats[base + e]; }
    let m = s / n;
    var v = 0.0;
    for (var e = 0u; e < u.e; e++) { v += (stats[base + e] - m) * (stats[base + e] - m); }
    return vec2<f32>(m, v);
}

fn cv2_of(base: u32) -> f32 {
    let n = f32(u.e);
    let mv = cv2_moments(base);
    let m = mv.x;
    if (m == 0.0) { return 0.0; }
    return mv.y / n / (m * m);
}

fn cv2_grad_into(base: u32, out: u32) {
    let n = f32(u.e);
    let mv = cv2_moments(base);
    let m = mv.x;
    let var_n = mv.y / n;
    for (var e = 0u; e < u.e; e++) {
        var g = 0.0;
        if (m != 0.0) { g = 2.0 * (stats[base + e] - m) / (n * m * m) - 2.0 * var_n / (n * m * m * m); }
        stats[out + e] = g;
    }
}

@compute @workgroup_size(64)
fn balance_reduce(@builtin(local_invocation_index) li: u32) {
    if (u.balance != BAL_CV2) { return; }
    if (li < u.e) {
        let e = li;
        var imp = 0.0;
        for (var t = 0u; t < u.t; t++) {
            for (var r = 0u; r < u.k; r++) {
                if (topk[t * u.kmax + r] == e) { imp += gates[t * u.kmax + r]; }
            }
        }
        stats[ST_IMP + e] = imp;
        if (u.smooth_load == 1u && u.probe == 0u) {
            var load = 0.0;
            for (var t = 0u; t < u.t; t++) { load += rstate[rs_pload(t, e)]; }
            stats[ST_LOAD + e] = load;
        } else {
            stats[ST_LOAD + e] = f32(counts[e]);
        }
    }
    storageBarrier();
    workgroupBarrier();
    if (li == 0u) {
        let aux = cv2_of(ST_IMP) + cv2_of(ST_LOAD);
        stats[1] = aux;
        stats[4] = stats[0] + u.alpha * aux + u.beta * stats[2];
        cv2_grad_into(ST_IMP, ST_DIMP);
        cv2_grad_into(ST_LOAD, ST_DLOAD);
    }
}

// Competitive mixture: dW_o[v, c] (the head is applied to h + y_a for every routed assignment).
fn head_wgrad_mixture(v: u32, c: u32) -> f32 {
    var acc = 0.0;
    for (var t = 0u; t < u.t; t++) {
        for (var r = 0u; r < u.k; r++) {
            let a = t * u.kmax + r;
            acc += doutm[a * u.v + v] * (h[t * u.d + c] + y[a * u.d + c]);
        }
    }
    return acc;
}

// h[t, c..c+4] (columns past d read column d − 1); grads of W_o[v, c..c+4] below d.
fn h_4(t: u32, c: u32) -> vec4<f32> {
    let o = t * u.d;
    let l = u.d - 1u;
    return vec4<f32>(h[o + min(c, l)], h[o + min(c + 1u, l)], h[o + min(c + 2u, l)], h[o + min(c + 3u, l)]);
}
fn put_dwo(v: u32, c: u32, w: vec4<f32>) {
    let o = u.o_wo + v * u.d + c;
    if (c < u.d) { grads[o] = w.x; }
    if (c + 1u < u.d) { grads[o + 1u] = w.y; }
    if (c + 2u < u.d) { grads[o + 2u] = w.z; }
    if (c + 3u < u.d) { grads[o + 3u] = w.w; }
}
fn head_wgrad_mixture_4(v: u32, c: u32) -> vec4<f32> {
    let l = u.d - 1u;
    return vec4<f32>(head_wgrad_mixture(v, min(c, l)), head_wgrad_mixture(v, min(c + 1u, l)),
                     head_wgrad_mixture(v, min(c + 2u, l)), head_wgrad_mixture(v, min(c + 3u, l)));
}

// Grid: [ceil(d/B) blocks · V classes]: dW_o[v, c] = Σ_t dout[t, v]·h[t, c] for B columns per
// invocation; the first column block also writes db_o[v] = Σ_t dout[t, v].
@compute @workgroup_size(64)
fn head_wgrad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) li: u32) {
    let g = group_of(wid, nwg);
    let vg = (u.v + WG - 1u) / WG;
    let c0 = (g / vg) * B;
    let v = (g % vg) * WG + li;
    if (v >= u.v || c0 >= u.d) { return; }
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    if (u.mix == 1u) {
        acc0 = head_wgrad_mixture_4(v, c0);
        acc1 = head_wgrad_mixture_4(v, c0 + 4u);
        acc2 = head_wgrad_mixture_4(v, c0 + 8u);
        acc3 = head_wgrad_mixture_4(v, c0 + 12u);
    } else {
        for (var t = 0u; t < u.t; t++) {
            let gv = dout[t * u.v + v];
            acc0 += gv * h_4(t, c0);
            acc1 += gv * h_4(t, c0 + 4u);
            acc2 += gv * h_4(t, c0 + 8u);
            acc3 += gv * h_4(t, c0 + 12u);
        }
    }
    put_dwo(v, c0, acc0);
    put_dwo(v, c0 + 4u, acc1);
    put_dwo(v, c0 + 8u, acc2);
    put_dwo(v, c0 + 12u, acc3);
    if (c0 == 0u) {
        var b = 0.0;
        for (var t = 0u; t < u.t; t++) {
            if (u.mix == 1u) {
                for (var r = 0u; r < u.k; r++) { b += doutm[(t * u.kmax + r) * u.v + v]; }
            } else {
                b += dout[t * u.v + v];
            }
        }
        grads[u.o_bo + v] = b;
    }
}

// Competitive mixture: per routed assignment dhm = W_oᵀ·doutm[a] (written); returns their sum.
fn head_dx_mixture(t: u32, c: u32) -> f32 {
    var acc = 0.0;
    for (var r = 0u; r < u.k; r++) {
        let a = t * u.kmax + r;
        var da = 0.0;
        for (var v = 0u; v < u.v; v++) { da += doutm[a * u.v + v] * params[u.o_wo + v * u.d + c]; }
        dhm[a * u.d + c] = da;
        acc += da;
    }
    return acc;
}

fn put_dh(t: u32, c: u32, w: vec4<f32>) {
    let o = t * u.d + c;
    if (c < u.d) { dh[o] = w.x; }
    if (c + 1u < u.d) { dh[o + 1u] = w.y; }
    if (c + 2u < u.d) { dh[o + 2u] = w.z; }
    if (c + 3u < u.d) { dh[o + 3u] = w.w; }
}

// Grid: [ceil(d/B) blocks · T rows]: dh[t, c] = Σ_v dout[t, v]·W_o[v, c], B columns per invocation.
@compute @workgroup_size(64)
fn head_dx(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) li: u32) {
    let g = group_of(wid, nwg);
    let sg = slot_groups();
    let c0 = (g / sg) * B;
    let t = (g % sg) * WG + li;
    if (t >= u.t || c0 >= u.d) { return; }
    if (u.mix == 1u) {
        for (var cc = 0u; cc < B; cc++) {
            if (c0 + cc < u.d) { dh[t * u.d + c0 + cc] = head_dx_mixture(t, c0 + cc); }
        }
        return;
    }
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var v = 0u; v < u.v; v++) {
        let gv = dout[t * u.v + v];
        acc0 += gv * wo_4c(v, c0);
        acc1 += gv * wo_4c(v, c0 + 4u);
        acc2 += gv * wo_4c(v, c0 + 8u);
        acc3 += gv * wo_4c(v, c0 + 12u);
    }
    put_dh(t, c0, acc0);
    put_dh(t, c0 + 4u, acc1);
    put_dh(t, c0 + 8u, acc2);
    put_dh(t, c0 + 12u, acc3);
}
