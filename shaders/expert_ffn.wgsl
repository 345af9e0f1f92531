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

// The forward and input-gradient expert kernels tile (4 kept slots) × (4 outputs) per invocation:
// per term 4 reads of the slots' rows and 4 of the weights feed 16 multiply-adds. Tiles are ordered
// slot quad-major, so the tiles past an expert's kept slots fill whole workgroups that return at
// once. `tiles(n_out)`: invocations per expert, rounded up to whole workgroups.
fn tile_groups(n_out: u32) -> u32 {
    return (((expert_slots() + 3u) / 4u) * ((n_out + 3u) / 4u) + WG - 1u) / WG;
}
// The assignments of slots 4·s4 .. 4·s4 + 4 of expert e (slots past n repeat the last kept one).
fn quad(e: u32, s: u32, n: u32) -> vec4<u32> {
    let l = n - 1u;
    let o = e * u.t;
    return vec4<u32>(lists[o + min(s, l)], lists[o + min(s + 1u, l)], lists[o + min(s + 2u, l)], lists[o + min(s + 3u, l)]);
}

// Grid: [X experts · tiles of (4 slots × 4 hidden units)] then [T·k] rows. hid[a, j] = relu(b1[e, j]
// + W1[e, j, ·]·x[t]) for each kept assignment; the rows of the other live ranks (dropped, unpicked)
// are set to 0.
@compute @workgroup_size(64)
fn ffn_hidden(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) li: u32) {
    let g = group_of(wid, nwg);
    let wpe = tile_groups(u.h);
    if (g >= n_experts() * wpe) {
        let row = (g - n_experts() * wpe) * WG + li;
        if (row >= u.t * u.ranks) { return; }
        let a = assignment_of(row);
        if (live(slot[a])) { return; }
        for (var j = 0u; j < u.h; j++) { hid[a * u.h + j] = 0.0; }
        return;
    }
    let e = g / wpe;
    let q = (g % wpe) * WG + li;
    let jq = (u.h + 3u) / 4u;
    let s = (q / jq) * 4u;
    let j = (q % jq) * 4u;
    let n = kept[e];
    if (s >= n) { return; }
    let a = quad(e, s, n);
    let xo = (a / u.kmax) * u.d;
    let bias = b1_4(e, j);
    var acc0 = bias;
    var acc1 = bias;
    var acc2 = bias;
    var acc3 = bias;
    for (var c = 0u; c < u.d; c++) {
        let w = w1_4j(e, j, c);
        acc0 += x[xo.x + c] * w;
        acc1 += x[xo.y + c] * w;
        acc2 += x[xo.z + c] * w;
        acc3 += x[xo.w + c] * w;
    }
    let zero = vec4<f32>(0.0);
    put_hid(a.x, j, max(acc0, zero));
    if (s + 1u < n) { put_hid(a.y, j, max(acc1, zero)); }
    if (s + 2u < n) { put_hid(a.z, j, max(acc2, zero)); }
    if (s + 3u < n) { put_hid(a.w, j, max(acc3, zero)); }
}

// Grid: [X experts · tiles of (4 slots × 4 columns)] then [T·k] rows. y[a, c] = b2[e, c] + W2[e, c,
// ·]·hid[a] for each kept assignment; 0 for the other live ranks.
@compute @workgroup_size(64)
fn ffn_out(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) li: u32) {
    let g = group_of(wid, nwg);
    let wpe = tile_groups(u.d);
    if (g >= n_experts() * wpe) {
        let row = (g - n_experts() * wpe) * WG + li;
        if (row >= u.t * u.ranks) { return; }
        let a = assignment_of(row);
        if (live(slot[a])) { return; }
        for (var c = 0u; c < u.d; c++) { y[a * u.d + c] = 0.0; }
        return;
    }
    let e = g / wpe;
    let q = (g % wpe) * WG + li;
    let cq = (u.d + 3u) / 4u;
    let s = (q / cq) * 4u;
    let c = (q % cq) * 4u;
    let n = kept[e];
    if (s >= n) { return; }
    let a = quad(e, s, n);
    let ho = a * u.h;
    let bias = b2_4(e, c);
    var acc0 = bias;
    var acc1 = bias;
    var acc2 = bias;
    var acc3 = bias;
    for (var j = 0u; j < u.h; j++) {
        let w = w2_4c(e, c, j);
        acc0 += hid[ho.x + j] * w;
        acc1 += hid[ho.y + j] * w;
        acc2 += hid[ho.z + j] * w;
        acc3 += hid[ho.w + j] * w;
    }
    put_y(a.x, c, acc0);
    if (s + 1u < n) { put_y(a.y, c, acc1); }
    if (s + 2u < n) { put_y(a.z, c, acc2); }
    if (s + 3u < n) { put_y(a.w, c, acc3); }
}

// Grid: [X · ceil(H/B) · expert_slots()] then [T·k] rows, one kept slot per invocation and B = 16 hidden
// units in vec4 accumulators (tiling slots as the other expert kernels do was slower here on
// SwiftShader). dpre[a, j] = relu'(pre) · Σ_c W2[e, c, j] · gdh(a, c) for each kept
// assignment; 0 for the other live ranks.
@compute @workgroup_size(64)
fn ffn_dhidden(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) li: u32) {
    let g = group_of(wid, nwg);
    let sg = (expert_slots() + WG - 1u) / WG;
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


// hid[a, j..j+4] (units past H read unit H − 1).
fn hid_4(a: u32, j: u32) -> vec4<f32> {
    let o = a * u.h;
    let l = u.h - 1u;
    return vec4<f32>(hid[o + min(j, l)], hid[o + min(j + 1u, l)], hid[o + min(j + 2u, l)], hid[o + min(j + 3u, l)]);
}
// grads[base + j..j+4] below H.
fn put_grads_j(base: u32, j: u32, v: vec4<f32>) {
    if (j < u.h) { grads[base + j] = v.x; }
    if (j + 1u < u.h) { grads[base + j + 1u] = v.y; }
    if (j + 2u < u.h) { grads[base + j + 2u] = v.z; }
    if (j + 3u < u.h) { grads[base + j + 3u] = v.w; }
}

// Grid: per expert, ceil(d/4)·ceil(H/4) invocations rounded up to whole workgroups. Invocation
// (c4, j4) computes the 4×4 tile dW2[e, 4c4..4c4+4, 4j4..4j4+4] = Σ_s gdh(a, c)·hid[a, j] over e's
// kept slots in slot order (8 reads per slot for 16 multiply-adds); those with j4 = 0 also write
// db2[e, 4c4..4c4+4] = Σ_s gdh(a, c).
@compute @workgroup_size(64)
fn ffn_wgrad2(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) li: u32) {
    let g = group_of(wid, nwg);
    let cq = (u.d + 3u) / 4u;
    let jq = (u.h + 3u) / 4u;
    let wpe = (cq * jq + WG - 1u) / WG;
    if (g >= n_experts() * wpe) { return; }
    let e = g / wpe;
    let q = (g % wpe) * WG + li;
    if (q >= cq * jq) { return; }
    let c = (q / jq) * 4u;
    let j = (q % jq) * 4u;
    let n = kept[e];
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    var bacc = vec4<f32>(0.0);
    for (var s = 0u; s < n; s++) {
        let a = lists[e * u.t + s];
        var gv: vec4<f32>;
        if (u.mix == 1u && a % u.kmax < u.k) { gv = dhm_4(a, c); } else { gv = gates[a] * dh_4(a / u.kmax, c); }
        let hv = hid_4(a, j);
        acc0 += gv.x * hv;
        acc1 += gv.y * hv;
        acc2 += gv.z * hv;
        acc3 += gv.w * hv;
        bacc += gv;
    }
    let base = u.o_w2 + e * u.d * u.h;
    if (c < u.d) { put_grads_j(base + c * u.h, j, acc0); }
    if (c + 1u < u.d) { put_grads_j(base + (c + 1u) * u.h, j, acc1); }
    if (c + 2u < u.d) { put_grads_j(base + (c + 2u) * u.h, j, acc2); }
    if (c + 3u < u.d) { put_grads_j(base + (c + 3u) * u.h, j, acc3); }
    if (j == 0u) { put_grads_c(u.o_b2 + e * u.d, 1u, c, bacc); }
}

// dpre[a, j..j+4] (units past H read unit H − 1).
fn dpre_4(a: u32, j: u32) -> vec4<f32> {
    let o = a * u.h;
    let l = u.h - 1u;
    return vec4<f32>(dpre[o + min(j, l)], dpre[o + min(j + 1u, l)], dpre[o + min(j + 2u, l)], dpre[o + min(j + 3u, l)]);
}

// Grid as ffn_wgrad2 (4×4 tiles, here of W1). dW1[e, j, c] = Σ_s dpre[a, j]·x[t, c] over e's kept
// slots in slot order; the tiles with c4 = 0 also write db1[e, 4j4..4j4+4] = Σ_s dpre[a, j].
@compute @workgroup_size(64)
fn ffn_wgrad1(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) li: u32) {
    let g = group_of(wid, nwg);
    let cq = (u.d + 3u) / 4u;
    let jq = (u.h + 3u) / 4u;
    let wpe = (cq * jq + WG - 1u) / WG;
    if (g >= n_experts() * wpe) { return; }
    let e = g / wpe;
    let q = (g % wpe) * WG + li;
    if (q >= cq * jq) { return; }
    let c = (q / jq) * 4u;
    let j = (q % jq) * 4u;
    let n = kept[e];
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    var bacc = vec4<f32>(0.0);
    for (var s = 0u; s < n; s++) {
        let a = lists[e * u.t + s];
        let dv = dpre_4(a, j);
        let xv = x_4(a / u.kmax, c);
        acc0 += dv.x * xv;
        acc1 += dv.y * xv;
        acc2 += dv.z * xv;
        acc3 += dv.w * xv;
        bacc += dv;
    }
    let base = u.o_w1 + e * u.h * u.d;
    if (j < u.h) { put_grads_c(base + j * u.d, 1u, c, acc0); }
    if (j + 1u < u.h) { put_grads_c(base + (j + 1u) * u.d, 1u, c, acc1); }
    if (j + 2u < u.h) { put_grads_c(base + (j + 2u) * u.d, 1u, c, acc2); }
    if (j + 3u < u.h) { put_grads_c(base + (j + 3u) * u.d, 1u, c, acc3); }
    if (c == 0u) { put_grads_j(u.o_b1 + e * u.h, j, bacc); }
}

// Grid as ffn_out. dxa[a, c] = Σ_j W1[e, j, c]·dpre[a, j] for each kept assignment (its part of
// dx through the expert's first layer); 0 for the other live ranks.
@compute @workgroup_size(64)
fn ffn_dx(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) li: u32) {
    let g = group_of(wid, nwg);
    let wpe = tile_groups(u.d);
    if (g >= n_experts() * wpe) {
        let row = (g - n_experts() * wpe) * WG + li;
        if (row >= u.t * u.ranks) { return; }
        let a = assignment_of(row);
        if (live(slot[a])) { return; }
        for (var c = 0u; c < u.d; c++) { dxa[a * u.d + c] = 0.0; }
        return;
    }
    let e = g / wpe;
    let q = (g % wpe) * WG + li;
    let cq = (u.d + 3u) / 4u;
    let s = (q / cq) * 4u;
    let c = (q % cq) * 4u;
    let n = kept[e];
    if (s >= n) { return; }
    let a = quad(e, s, n);
    let po = a * u.h;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var j = 0u; j < u.h; j++) {
        let w = w1_4c(e, j, c);
        acc0 += dpre[po.x + j] * w;
        acc1 += dpre[po.y + j] * w;
        acc2 += dpre[po.z + j] * w;
        acc3 += dpre[po.w + j] * w;
    }
    put_dxa(a.x, c, acc0);
    if (s + 1u < n) { put_dxa(a.y, c, acc1); }
    if (s + 2u < n) { put_dxa(a.z, c, acc2); }
    if (s + 3u < n) { put_dxa(a.w, c, acc3); }
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
