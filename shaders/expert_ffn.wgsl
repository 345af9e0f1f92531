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

// The expert kernels are grouped by expert: a workgroup serves one expert e and one block of B
// outputs (common.wgsl), its invocations one kept slot each (forward; assignment a = lists[e, slot])
// or one hidden unit each (weight gradients). Every weight read then has the same address in the
// whole workgroup and each per-invocation read feeds B multiply-adds held in registers. The sums keep
// the reference's order (over c, j or slots, in index order), so the results do not depend on the
// blocking.

// Experts with weights (routed, then shared).
fn n_experts() -> u32 {
    return u.e + u.n_shared;
}

// Grid: [X experts · ceil(H/B) blocks · T slots] then [T·k] rows. hid[a, j] = relu(b1[e, j] +
// W1[e, j, ·]·x[t]) for each kept assignment; the rows of the other live ranks (dropped, unpicked)
// are set to 0.
@compute @workgroup_size(64)
fn ffn_hidden(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) li: u32) {
    let g = group_of(wid, nwg);
    let sg = slot_groups();
    let nb = (u.h + B - 1u) / B;
    if (g >= n_experts() * nb * sg) {
        let row = (g - n_experts() * nb * sg) * WG + li;
        if (row >= u.t * u.ranks) { return; }
        let a = assignment_of(row);
        if (live(slot[a])) { return; }
        for (var j = 0u; j < u.h; j++) { hid[a * u.h + j] = 0.0; }
        return;
    }
    let e = g / (nb * sg);
    let j0 = ((g / sg) % nb) * B;
    let s = (g % sg) * WG + li;
    if (s >= kept[e]) { return; }
    let a = lists[e * u.t + s];
    let t = a / u.kmax;
    // Rows past H (the last block) read row H − 1 and are not written.
    var acc: array<f32, B>;
    for (var jj = 0u; jj < B; jj++) { acc[jj] = params[u.o_b1 + e * u.h + min(j0 + jj, u.h - 1u)]; }
    for (var c = 0u; c < u.d; c++) {
        let xv = x[t * u.d + c];
        for (var jj = 0u; jj < B; jj++) {
            acc[jj] += params[u.o_w1 + (e * u.h + min(j0 + jj, u.h - 1u)) * u.d + c] * xv;
        }
    }
    for (var jj = 0u; jj < B; jj++) {
        if (j0 + jj < u.h) { hid[a * u.h + j0 + jj] = max(acc[jj], 0.0); }
    }
}

// Grid: [X · ceil(d/B) · T slots] then [T·k] rows. y[a, c] = b2[e, c] + W2[e, c, ·]·hid[a] for each
// kept assignment; 0 for the other live ranks.
@compute @workgroup_size(64)
fn ffn_out(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) li: u32) {
    let g = group_of(wid, nwg);
    let sg = slot_groups();
    let nb = (u.d + B - 1u) / B;
    if (g >= n_experts() * nb * sg) {
        let row = (g - n_experts() * nb * sg) * WG + li;
        if (row >= u.t * u.ranks) { return; }
        let a = assignment_of(row);
        if (live(slot[a])) { return; }
        for (var c = 0u; c < u.d; c++) { y[a * u.d + c] = 0.0; }
        return;
    }
    let e = g / (nb * sg);
    let c0 = ((g / sg) % nb) * B;
    let s = (g % sg) * WG + li;
    if (s >= kept[e]) { return; }
    let a = lists[e * u.t + s];
    var acc: array<f32, B>;
    for (var cc = 0u; cc < B; cc++) { acc[cc] = params[u.o_b2 + e * u.d + min(c0 + cc, u.d - 1u)]; }
    for (var j = 0u; j < u.h; j++) {
        let hv = hid[a * u.h + j];
        for (var cc = 0u; cc < B; cc++) {
            acc[cc] += params[u.o_w2 + (e * u.d + min(c0 + cc, u.d - 1u)) * u.h + j] * hv;
        }
    }
    for (var cc = 0u; cc < B; cc++) {
        if (c0 + cc < u.d) { y[a * u.d + c0 + cc] = acc[cc]; }
    }
}

// Grid as ffn_hidden. dpre[a, j] = relu'(pre) · Σ_c W2[e, c, j] · gdh(a, c) for each kept
// assignment; 0 for the other live ranks.
@compute @workgroup_size(64)
fn ffn_dhidden(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) li: u32) {
    let g = group_of(wid, nwg);
    let sg = slot_groups();
    let nb = (u.h + B - 1u) / B;
    if (g >= n_experts() * nb * sg) {
        let row = (g - n_experts() * nb * sg) * WG + li;
        if (row >= u.t * u.ranks) { return; }
        let a = assignment_of(row);
        if (live(slot[a])) { return; }
        for (var j = 0u; j < u.h; j++) { dpre[a * u.h + j] = 0.0; }
        return;
    }
    let e = g / (nb * sg);
    let j0 = ((g / sg) % nb) * B;
    let s = (g % sg) * WG + li;
    // Slots past kept[e] hold UNUSED (one binding fewer than reading kept: WebGPU allows 8).
    if (s >= u.t) { return; }
    let a = lists[e * u.t + s];
    if (a == UNUSED) { return; }
    var acc: array<f32, B>;
    for (var jj = 0u; jj < B; jj++) { acc[jj] = 0.0; }
    for (var c = 0u; c < u.d; c++) {
        let gv = gdh(a, c);
        for (var jj = 0u; jj < B; jj++) {
            acc[jj] += params[u.o_w2 + (e * u.d + c) * u.h + min(j0 + jj, u.h - 1u)] * gv;
        }
    }
    for (var jj = 0u; jj < B; jj++) {
        let j = j0 + jj;
        if (j < u.h) { dpre[a * u.h + j] = select(0.0, acc[jj], hid[a * u.h + j] > 0.0); }
    }
}

// Weight gradients: a workgroup per expert e, block of B columns c and block of 64 hidden units j
// (invocation j); each sums over e's kept slots in slot order.
fn unit_groups() -> u32 {
    return (u.h + WG - 1u) / WG;
}

// Grid: [X · ceil(d/B) · H]. dW2[e, c, j] = Σ_s gdh(a, c)·hid[a, j]; invocation j = 0 also writes
// db2[e, c] = Σ_s gdh(a, c).
@compute @workgroup_size(64)
fn ffn_wgrad2(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) li: u32) {
    let g = group_of(wid, nwg);
    let ug = unit_groups();
    let nb = (u.d + B - 1u) / B;
    if (g >= n_experts() * nb * ug) { return; }
    let e = g / (nb * ug);
    let c0 = ((g / ug) % nb) * B;
    let j = (g % ug) * WG + li;
    if (j >= u.h) { return; }
    let n = kept[e];
    var acc: array<f32, B>;
    var bacc: array<f32, B>;
    for (var cc = 0u; cc < B; cc++) {
        acc[cc] = 0.0;
        bacc[cc] = 0.0;
    }
    var gv: array<f32, B>;
    for (var s = 0u; s < n; s++) {
        let a = lists[e * u.t + s];
        // gdh(a, c) for the block, with its branch and the gate read once per slot.
        if (u.mix == 1u && a % u.kmax < u.k) {
            for (var cc = 0u; cc < B; cc++) { gv[cc] = dhm[a * u.d + min(c0 + cc, u.d - 1u)]; }
        } else {
            let ga = gates[a];
            let row = (a / u.kmax) * u.d;
            for (var cc = 0u; cc < B; cc++) { gv[cc] = ga * dh[row + min(c0 + cc, u.d - 1u)]; }
        }
        let hv = hid[a * u.h + j];
        for (var cc = 0u; cc < B; cc++) {
            acc[cc] += gv[cc] * hv;
            bacc[cc] += gv[cc];
        }
    }
    for (var cc = 0u; cc < B; cc++) {
        let c = c0 + cc;
        if (c < u.d) {
            grads[u.o_w2 + (e * u.d + c) * u.h + j] = acc[cc];
            if (j == 0u) { grads[u.o_b2 + e * u.d + c] = bacc[cc]; }
        }
    }
}

// Grid: [X · ceil(d/B) · H]. dW1[e, j, c] = Σ_s dpre[a, j]·x[t, c]; the workgroups of the first
// column block also write db1[e, j] = Σ_s dpre[a, j].
@compute @workgroup_size(64)
fn ffn_wgrad1(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) li: u32) {
    let g = group_of(wid, nwg);
    let ug = unit_groups();
    let nb = (u.d + B - 1u) / B;
    if (g >= n_experts() * nb * ug) { return; }
    let e = g / (nb * ug);
    let c0 = ((g / ug) % nb) * B;
    let j = (g % ug) * WG + li;
    if (j >= u.h) { return; }
    let n = kept[e];
    var acc: array<f32, B>;
    for (var cc = 0u; cc < B; cc++) { acc[cc] = 0.0; }
    var bacc = 0.0;
    for (var s = 0u; s < n; s++) {
        let a = lists[e * u.t + s];
        let t = a / u.kmax;
        let dv = dpre[a * u.h + j];
        for (var cc = 0u; cc < B; cc++) { acc[cc] += dv * x[t * u.d + min(c0 + cc, u.d - 1u)]; }
        bacc += dv;
    }
    for (var cc = 0u; cc < B; cc++) {
        let c = c0 + cc;
        if (c < u.d) { grads[u.o_w1 + (e * u.h + j) * u.d + c] = acc[cc]; }
    }
    if (c0 == 0u) { grads[u.o_b1 + e * u.h + j] = bacc; }
}

// Grid as ffn_out. dxa[a, c] = Σ_j W1[e, j, c]·dpre[a, j] for each kept assignment (its part of
// dx through the expert's first layer); 0 for the other live ranks.
@compute @workgroup_size(64)
fn ffn_dx(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) li: u32) {
    let g = group_of(wid, nwg);
    let sg = slot_groups();
    let nb = (u.d + B - 1u) / B;
    if (g >= n_experts() * nb * sg) {
        let row = (g - n_experts() * nb * sg) * WG + li;
        if (row >= u.t * u.ranks) { return; }
        let a = assignment_of(row);
        if (live(slot[a])) { return; }
        for (var c = 0u; c < u.d; c++) { dxa[a * u.d + c] = 0.0; }
        return;
    }
    let e = g / (nb * sg);
    let c0 = ((g / sg) % nb) * B;
    let s = (g % sg) * WG + li;
    if (s >= kept[e]) { return; }
    let a = lists[e * u.t + s];
    var acc: array<f32, B>;
    for (var cc = 0u; cc < B; cc++) { acc[cc] = 0.0; }
    for (var j = 0u; j < u.h; j++) {
        let dv = dpre[a * u.h + j];
        for (var cc = 0u; cc < B; cc++) {
            acc[cc] += params[u.o_w1 + (e * u.h + j) * u.d + min(c0 + cc, u.d - 1u)] * dv;
        }
    }
    for (var cc = 0u; cc < B; cc++) {
        if (c0 + cc < u.d) { dxa[a * u.d + c0 + cc] = acc[cc]; }
    }
}

// [T·d] threads: dx = dh (residual) + Σ_{live r} dxa[a] (rank order) + W_rᵀ·dlog[t] + W_noiseᵀ·dn[t].
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
        if (live(slot[a])) { acc += dxa[a * u.d + c]; }
    }
    for (var e = 0u; e < u.e; e++) { acc += params[u.o_wr + e * u.d + c] * dlog[t * u.e + e]; }
    for (var e = 0u; e < u.e; e++) { acc += params[u.o_wn + e * u.d + c] * rstate[rs_dn(t, e)]; }
    dx[i] = acc;
}
