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

// The B = 16 outputs of an invocation are four vec4 accumulators (named, not an array: a private
// array indexed in a loop lives in memory on SwiftShader, which does not unroll loops). Weights
// past the last row or column read the last one (min) and are never written.
// W1[e, j..j+4, c] (4 hidden units, c < d) and W1[e, j, c..c+4] (4 columns, j < H).
fn w1_4j(e: u32, j: u32, c: u32) -> vec4<f32> {
    let o = u.o_w1 + e * u.h * u.d + c;
    let l = u.h - 1u;
    return vec4<f32>(params[o + min(j, l) * u.d], params[o + min(j + 1u, l) * u.d],
                     params[o + min(j + 2u, l) * u.d], params[o + min(j + 3u, l) * u.d]);
}
fn w1_4c(e: u32, j: u32, c: u32) -> vec4<f32> {
    let o = u.o_w1 + (e * u.h + j) * u.d;
    let l = u.d - 1u;
    return vec4<f32>(params[o + min(c, l)], params[o + min(c + 1u, l)], params[o + min(c + 2u, l)], params[o + min(c + 3u, l)]);
}
// W2[e, c..c+4, j] (4 columns, j < H) and W2[e, c, j..j+4] (4 hidden units, c < d).
fn w2_4c(e: u32, c: u32, j: u32) -> vec4<f32> {
    let o = u.o_w2 + e * u.d * u.h + j;
    let l = u.d - 1u;
    return vec4<f32>(params[o + min(c, l) * u.h], params[o + min(c + 1u, l) * u.h],
                     params[o + min(c + 2u, l) * u.h], params[o + min(c + 3u, l) * u.h]);
}
fn w2_4j(e: u32, c: u32, j: u32) -> vec4<f32> {
    let o = u.o_w2 + (e * u.d + c) * u.h;
    let l = u.h - 1u;
    return vec4<f32>(params[o + min(j, l)], params[o + min(j + 1u, l)], params[o + min(j + 2u, l)], params[o + min(j + 3u, l)]);
}
fn b1_4(e: u32, j: u32) -> vec4<f32> {
    let o = u.o_b1 + e * u.h;
    let l = u.h - 1u;
    return vec4<f32>(params[o + min(j, l)], params[o + min(j + 1u, l)], params[o + min(j + 2u, l)], params[o + min(j + 3u, l)]);
}
fn b2_4(e: u32, c: u32) -> vec4<f32> {
    let o = u.o_b2 + e * u.d;
    let l = u.d - 1u;
    return vec4<f32>(params[o + min(c, l)], params[o + min(c + 1u, l)], params[o + min(c + 2u, l)], params[o + min(c + 3u, l)]);
}
// x[t, c..c+4], dh[t, c..c+4], dhm[a, c..c+4] (columns past d read column d − 1).
fn x_4(t: u32, c: u32) -> vec4<f32> {
    let o = t * u.d;
    let l = u.d - 1u;
    return vec4<f32>(x[o + min(c, l)], x[o + min(c + 1u, l)], x[o + min(c + 2u, l)], x[o + min(c + 3u, l)]);
}
fn dh_4(t: u32, c: u32) -> vec4<f32> {
    let o = t * u.d;
    let l = u.d - 1u;
    return vec4<f32>(dh[o + min(c, l)], dh[o + min(c + 1u, l)], dh[o + min(c + 2u, l)], dh[o + min(c + 3u, l)]);
}
fn dhm_4(a: u32, c: u32) -> vec4<f32> {
    let o = a * u.d;
    let l = u.d - 1u;
    return vec4<f32>(dhm[o + min(c, l)], dhm[o + min(c + 1u, l)], dhm[o + min(c + 2u, l)], dhm[o + min(c + 3u, l)]);
}
// Row stores of the four components below `n` (H or d).
fn put_hid(a: u32, j: u32, v: vec4<f32>) {
    let o = a * u.h + j;
    if (j < u.h) { hid[o] = v.x; }
    if (j + 1u < u.h) { hid[o + 1u] = v.y; }
    if (j + 2u < u.h) { hid[o + 2u] = v.z; }
    if (j + 3u < u.h) { hid[o + 3u] = v.w; }
}
fn put_y(a: u32, c: u32, v: vec4<f32>) {
    let o = a * u.d + c;
    if (c < u.d) { y[o] = v.x; }
    if (c + 1u < u.d) { y[o + 1u] = v.y; }
    if (c + 2u < u.d) { y[o + 2u] = v.z; }
    if (c + 3u < u.d) { y[o + 3u] = v.w; }
}
fn put_dxa(a: u32, c: u32, v: vec4<f32>) {
    let o = a * u.d + c;
    if (c < u.d) { dxa[o] = v.x; }
    if (c + 1u < u.d) { dxa[o + 1u] = v.y; }
    if (c + 2u < u.d) { dxa[o + 2u] = v.z; }
    if (c + 3u < u.d) { dxa[o + 3u] = v.w; }
}
// dpre[a, j..j+4] = v where the unit was active (hid > 0), else 0.
fn put_dpre(a: u32, j: u32, v: vec4<f32>) {
    let o = a * u.h + j;
    if (j < u.h) { dpre[o] = select(0.0, v.x, hid[o] > 0.0); }
    if (j + 1u < u.h) { dpre[o + 1u] = select(0.0, v.y, hid[o + 1u] > 0.0); }
    if (j + 2u < u.h) { dpre[o + 2u] = select(0.0, v.z, hid[o + 2u] > 0.0); }
    if (j + 3u < u.h) { dpre[o + 3u] = select(0.0, v.w, hid[o + 3u] > 0.0); }
}
// grads[base + c·stride] for the four columns c..c+4 below d.
fn put_grads_c(base: u32, stride: u32, c: u32, v: vec4<f32>) {
    if (c < u.d) { grads[base + c * stride] = v.x; }
    if (c + 1u < u.d) { grads[base + (c + 1u) * stride] = v.y; }
    if (c + 2u < u.d) { grads[base + (c + 2u) * stride] = v.z; }
    if (c + 3u < u.d) { grads[base + (c + 3u) * stride] = v.w; }
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
    var acc0 = b1_4(e, j0);
    var acc1 = b1_4(e, j0 + 4u);
    var acc2 = b1_4(e, j0 + 8u);
    var acc3 = b1_4(e, j0 + 12u);
    for (var c = 0u; c < u.d; c++) {
        let xv = x[t * u.d + c];
        acc0 += w1_4j(e, j0, c) * xv;
        acc1 += w1_4j(e, j0 + 4u, c) * xv;
        acc2 += w1_4j(e, j0 + 8u, c) * xv;
        acc3 += w1_4j(e, j0 + 12u, c) * xv;
    }
    let zero = vec4<f32>(0.0);
    put_hid(a, j0, max(acc0, zero));
    put_hid(a, j0 + 4u, max(acc1, zero));
    put_hid(a, j0 + 8u, max(acc2, zero));
    put_hid(a, j0 + 12u, max(acc3, zero));
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
    var acc0 = b2_4(e, c0);
    var acc1 = b2_4(e, c0 + 4u);
    var acc2 = b2_4(e, c0 + 8u);
    var acc3 = b2_4(e, c0 + 12u);
    for (var j = 0u; j < u.h; j++) {
        let hv = hid[a * u.h + j];
        acc0 += w2_4c(e, c0, j) * hv;
        acc1 += w2_4c(e, c0 + 4u, j) * hv;
        acc2 += w2_4c(e, c0 + 8u, j) * hv;
        acc3 += w2_4c(e, c0 + 12u, j) * hv;
    }
    put_y(a, c0, acc0);
    put_y(a, c0 + 4u, acc1);
    put_y(a, c0 + 8u, acc2);
    put_y(a, c0 + 12u, acc3);
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
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    // gdh(a, c) with its branch and the gate read once, not once per column.
    let own = u.mix == 1u && a % u.kmax < u.k;
    let ga = select(gates[a], 1.0, own);
    let row = select((a / u.kmax) * u.d, a * u.d, own);
    for (var c = 0u; c < u.d; c++) {
        var gv: f32;
        if (own) { gv = dhm[row + c]; } else { gv = ga * dh[row + c]; }
        acc0 += w2_4j(e, c, j0) * gv;
        acc1 += w2_4j(e, c, j0 + 4u) * gv;
        acc2 += w2_4j(e, c, j0 + 8u) * gv;
        acc3 += w2_4j(e, c, j0 + 12u) * gv;
    }
    put_dpre(a, j0, acc0);
    put_dpre(a, j0 + 4u, acc1);
    put_dpre(a, j0 + 8u, acc2);
    put_dpre(a, j0 + 12u, acc3);
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
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    var bacc0 = vec4<f32>(0.0);
    var bacc1 = vec4<f32>(0.0);
    var bacc2 = vec4<f32>(0.0);
    var bacc3 = vec4<f32>(0.0);
    for (var s = 0u; s < n; s++) {
        let a = lists[e * u.t + s];
        // gdh(a, c0..c0+16): the branch and the gate once per slot.
        var g0: vec4<f32>;
        var g1: vec4<f32>;
        var g2: vec4<f32>;
        var g3: vec4<f32>;
        if (u.mix == 1u && a % u.kmax < u.k) {
            g0 = dhm_4(a, c0);
            g1 = dhm_4(a, c0 + 4u);
            g2 = dhm_4(a, c0 + 8u);
            g3 = dhm_4(a, c0 + 12u);
        } else {
            let ga = gates[a];
            let t = a / u.kmax;
            g0 = ga * dh_4(t, c0);
            g1 = ga * dh_4(t, c0 + 4u);
            g2 = ga * dh_4(t, c0 + 8u);
            g3 = ga * dh_4(t, c0 + 12u);
        }
        let hv = hid[a * u.h + j];
        acc0 += g0 * hv;
        acc1 += g1 * hv;
        acc2 += g2 * hv;
        acc3 += g3 * hv;
        bacc0 += g0;
        bacc1 += g1;
        bacc2 += g2;
        bacc3 += g3;
    }
    let base = u.o_w2 + e * u.d * u.h + j;
    put_grads_c(base, u.h, c0, acc0);
    put_grads_c(base, u.h, c0 + 4u, acc1);
    put_grads_c(base, u.h, c0 + 8u, acc2);
    put_grads_c(base, u.h, c0 + 12u, acc3);
    if (j == 0u) {
        let bb = u.o_b2 + e * u.d;
        put_grads_c(bb, 1u, c0, bacc0);
        put_grads_c(bb, 1u, c0 + 4u, bacc1);
        put_grads_c(bb, 1u, c0 + 8u, bacc2);
        put_grads_c(bb, 1u, c0 + 12u, bacc3);
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
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    var bacc = 0.0;
    for (var s = 0u; s < n; s++) {
        let a = lists[e * u.t + s];
        let t = a / u.kmax;
        let dv = dpre[a * u.h + j];
        acc0 += dv * x_4(t, c0);
        acc1 += dv * x_4(t, c0 + 4u);
        acc2 += dv * x_4(t, c0 + 8u);
        acc3 += dv * x_4(t, c0 + 12u);
        bacc += dv;
    }
    let base = u.o_w1 + (e * u.h + j) * u.d;
    put_grads_c(base, 1u, c0, acc0);
    put_grads_c(base, 1u, c0 + 4u, acc1);
    put_grads_c(base, 1u, c0 + 8u, acc2);
    put_grads_c(base, 1u, c0 + 12u, acc3);
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
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var j = 0u; j < u.h; j++) {
        let dv = dpre[a * u.h + j];
        acc0 += w1_4c(e, j, c0) * dv;
        acc1 += w1_4c(e, j, c0 + 4u) * dv;
        acc2 += w1_4c(e, j, c0 + 8u) * dv;
        acc3 += w1_4c(e, j, c0 + 12u) * dv;
    }
    put_dxa(a, c0, acc0);
    put_dxa(a, c0 + 4u, acc1);
    put_dxa(a, c0 + 8u, acc2);
    put_dxa(a, c0 + 12u, acc3);
}

// [c..c+4] of a row of dxa, W_r, W_noise (columns past d read column d − 1).
fn dxa_4(a: u32, c: u32) -> vec4<f32> {
    let o = a * u.d;
    let l = u.d - 1u;
    return vec4<f32>(dxa[o + min(c, l)], dxa[o + min(c + 1u, l)], dxa[o + min(c + 2u, l)], dxa[o + min(c + 3u, l)]);
}
fn wrow_4(base: u32, e: u32, c: u32) -> vec4<f32> {
    let o = base + e * u.d;
    let l = u.d - 1u;
    return vec4<f32>(params[o + min(c, l)], params[o + min(c + 1u, l)], params[o + min(c + 2u, l)], params[o + min(c + 3u, l)]);
}
fn put_dx(t: u32, c: u32, v: vec4<f32>) {
    let o = t * u.d + c;
    if (c < u.d) { dx[o] = v.x; }
    if (c + 1u < u.d) { dx[o + 1u] = v.y; }
    if (c + 2u < u.d) { dx[o + 2u] = v.z; }
    if (c + 3u < u.d) { dx[o + 3u] = v.w; }
}

// Grid: [ceil(d/B) blocks · T rows]. dx = dh (residual) + Σ_{live r} dxa[a] (rank order) +
// W_rᵀ·dlog[t] + W_noiseᵀ·dn[t], B columns per invocation.
@compute @workgroup_size(64)
fn input_grad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) li: u32) {
    let g = group_of(wid, nwg);
    let sg = slot_groups();
    let c0 = (g / sg) * B;
    let t = (g % sg) * WG + li;
    if (t >= u.t || c0 >= u.d) { return; }
    var acc0 = dh_4(t, c0);
    var acc1 = dh_4(t, c0 + 4u);
    var acc2 = dh_4(t, c0 + 8u);
    var acc3 = dh_4(t, c0 + 12u);
    for (var r = 0u; r < u.ranks; r++) {
        let a = t * u.kmax + r;
        if (live(slot[a])) {
            acc0 += dxa_4(a, c0);
            acc1 += dxa_4(a, c0 + 4u);
            acc2 += dxa_4(a, c0 + 8u);
            acc3 += dxa_4(a, c0 + 12u);
        }
    }
    for (var e = 0u; e < u.e; e++) {
        let dl = dlog[t * u.e + e];
        acc0 += wrow_4(u.o_wr, e, c0) * dl;
        acc1 += wrow_4(u.o_wr, e, c0 + 4u) * dl;
        acc2 += wrow_4(u.o_wr, e, c0 + 8u) * dl;
        acc3 += wrow_4(u.o_wr, e, c0 + 12u) * dl;
    }
    for (var e = 0u; e < u.e; e++) {
        let dn = rstate[rs_dn(t, e)];
        acc0 += wrow_4(u.o_wn, e, c0) * dn;
        acc1 += wrow_4(u.o_wn, e, c0 + 4u) * dn;
        acc2 += wrow_4(u.o_wn, e, c0 + 8u) * dn;
        acc3 += wrow_4(u.o_wn, e, c0 + 12u) * dn;
    }
    put_dx(t, c0, acc0);
    put_dx(t, c0 + 4u, acc1);
    put_dx(t, c0 + 8u, acc2);
    put_dx(t, c0 + 12u, acc3);
}
