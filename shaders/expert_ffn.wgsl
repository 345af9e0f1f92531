// The expert FFNs, per assignment a = t·K + r: FFN_e(x) = W2_e·relu(W1_e·x + b1_e) + b2_e, and their
// gradients. Weight gradients walk each expert's kept assignments in slot order (lists[e, ·]), so
// every sum has one fixed order and needs no atomics.

// Per-assignment kernels run over the live ranks only: invocation i covers token t, rank r < ranks
// (the routed k, then the shared experts) and unit j, i.e. assignment a = t·K + r. Rows of ranks
// r ≥ ranks are never read, so they are not written.
fn assignment_of(row: u32) -> u32 {
    return (row / u.ranks) * u.kmax + row % u.ranks;
}

// The gradient reaching assignment a's output y[a] at column c: gate · dh[t, c], or for a routed rank
// under the competitive mixture loss dhm[a, c] (y enters that expert's own prediction with weight 1).
fn gdh(a: u32, c: u32) -> f32 {
    if (u.mix == 1u && a % u.kmax < u.k) { return dhm[a * u.d + c]; }
    return gates[a] * dh[(a / u.kmax) * u.d + c];
}

// [T·k·H] threads: hid[a, j] = relu(b1[e, j] + W1[e, j, ·]·x[t]) (0 for dropped assignments).
@compute @workgroup_size(64)
fn ffn_hidden(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) li: u32) {
    let n = flat(wid, nwg, li);
    if (n >= u.t * u.ranks * u.h) { return; }
    let a = assignment_of(n / u.h);
    let j = n % u.h;
    let i = a * u.h + j;
    if (!live(slot[a])) { hid[i] = 0.0; return; }
    let e = topk[a];
    let t = a / u.kmax;
    var acc = params[u.o_b1 + e * u.h + j];
    for (var c = 0u; c < u.d; c++) { acc += params[u.o_w1 + (e * u.h + j) * u.d + c] * x[t * u.d + c]; }
    hid[i] = max(acc, 0.0);
}

// [T·k·d] threads: y[a, c] = b2[e, c] + W2[e, c, ·]·hid[a] (0 for dropped assignments).
@compute @workgroup_size(64)
fn ffn_out(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) li: u32) {
    let n = flat(wid, nwg, li);
    if (n >= u.t * u.ranks * u.d) { return; }
    let a = assignment_of(n / u.d);
    let c = n % u.d;
    let i = a * u.d + c;
    if (!live(slot[a])) { y[i] = 0.0; return; }
    let e = topk[a];
    var acc = params[u.o_b2 + e * u.d + c];
    for (var j = 0u; j < u.h; j++) { acc += params[u.o_w2 + (e * u.d + c) * u.h + j] * hid[a * u.h + j]; }
    y[i] = acc;
}

// [T·k·H] threads: dpre[a, j] = relu'(pre) · Σ_c W2[e, c, j] · (gate · dh[t, c]).
@compute @workgroup_size(64)
fn ffn_dhidden(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) li: u32) {
    let n = flat(wid, nwg, li);
    if (n >= u.t * u.ranks * u.h) { return; }
    let a = assignment_of(n / u.h);
    let j = n % u.h;
    let i = a * u.h + j;
    var acc = 0.0;
    if (live(slot[a]) && hid[i] > 0.0) {
        let e = topk[a];
        for (var c = 0u; c < u.d; c++) { acc += params[u.o_w2 + (e * u.d + c) * u.h + j] * gdh(a, c); }
    }
    dpre[i] = acc;
}

// [E·d·H] threads: dW2[e, c, j] = Σ_s (gate·dh[t, c])·hid[a, j] (gdh); thread j = 0 also writes db2[e, c].
@compute @workgroup_size(64)
fn ffn_wgrad2(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) li: u32) {
    let i = flat(wid, nwg, li);
    if (i >= (u.e + u.n_shared) * u.d * u.h) { return; }
    let e = i / (u.d * u.h);
    let c = (i / u.h) % u.d;
    let j = i % u.h;
    let n = kept[e];
    var acc = 0.0;
    for (var s = 0u; s < n; s++) {
        let a = lists[e * u.t + s];
        acc += gdh(a, c) * hid[a * u.h + j];
    }
    grads[u.o_w2 + i] = acc;
    if (j == 0u) {
        var bacc = 0.0;
        for (var s = 0u; s < n; s++) {
            let a = lists[e * u.t + s];
            bacc += gdh(a, c);
        }
        grads[u.o_b2 + e * u.d + c] = bacc;
    }
}

// [E·H·d] threads: dW1[e, j, c] = Σ_s dpre[a, j]·x[t, c]; thread c = 0 also writes db1[e, j].
@compute @workgroup_size(64)
fn ffn_wgrad1(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) li: u32) {
    let i = flat(wid, nwg, li);
    if (i >= (u.e + u.n_shared) * u.h * u.d) { return; }
    let e = i / (u.h * u.d);
    let j = (i / u.d) % u.h;
    let c = i % u.d;
    let n = kept[e];
    var acc = 0.0;
    for (var s = 0u; s < n; s++) {
        let a = lists[e * u.t + s];
        acc += dpre[a * u.h + j] * x[(a / u.kmax) * u.d + c];
    }
    grads[u.o_w1 + i] = acc;
    if (c == 0u) {
        var bacc = 0.0;
        for (var s = 0u; s < n; s++) { bacc += dpre[lists[e * u.t + s] * u.h + j]; }
        grads[u.o_b1 + e * u.h + j] = bacc;
    }
}

// [T·d] threads: dx = dh (residual) + Σ_{live r} W1_eᵀ·dpre[a] + W_rᵀ·dlog[t] + W_noiseᵀ·dn[t].
@compute @workgroup_size(64)
fn input_grad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) li: u32) {
    let i = flat(wid, nwg, li);
    if (i >= u.t * u.d) { return; }
    let t = i / u.d;
    let c = i % u.d;
    var acc = dh[i];
    for (var r = 0u; r < u.ranks; r++) {
        let a = t * u.kmax + r;
        if (!live(slot[a])) { continue; }
        let e = topk[a];
        for (var j = 0u; j < u.h; j++) { acc += params[u.o_w1 + (e * u.h + j) * u.d + c] * dpre[a * u.h + j]; }
    }
    for (var e = 0u; e < u.e; e++) { acc += params[u.o_wr + e * u.d + c] * dlog[t * u.e + e]; }
    for (var e = 0u; e < u.e; e++) { acc += params[u.o_wn + e * u.d + c] * rstate[rs_dn(t, e)]; }
    dx[i] = acc;
}
