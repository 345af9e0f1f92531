// Capacity assignment (deterministic: per-expert exclusive prefix sum in priority order, no atomics),
// combining expert outputs into the residual stream, and the gate gradient.

const CAP_WG: u32 = 64u;
var<workgroup> part: array<u32, CAP_WG>;
var<workgroup> part_all: array<u32, CAP_WG>;
var<workgroup> total: u32;

// [T] threads: the drop policy's token order (twin: routing::drop_order). Thread t computes its
// rank, the number of tokens that go before it, and writes order[rank] = t: position keeps token
// order; probability puts higher max-probability first; random sorts by the draw (0 outside
// training: token order); ties by position. O(T) per thread, no atomics.
@compute @workgroup_size(64)
fn drop_order(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) li: u32) {
    let t = flat(wid, nwg, li);
    if (t >= u.t) { return; }
    if (u.policy == 0u) { order[t] = t; return; }
    var rank = 0u;
    if (u.policy == 1u) {
        var best = probs[t * u.e];
        for (var e = 1u; e < u.e; e++) { best = max(best, probs[t * u.e + e]); }
        for (var o = 0u; o < u.t; o++) {
            var b = probs[o * u.e];
            for (var e = 1u; e < u.e; e++) { b = max(b, probs[o * u.e + e]); }
            if (b > best || (b == best && o < t)) { rank++; }
        }
    } else {
        let d = rkey[t * 2u + 1u];
        for (var o = 0u; o < u.t; o++) {
            let c = rkey[o * 2u + 1u];
            if (c < d || (c == d && o < t)) { rank++; }
        }
    }
    order[rank] = t;
}

// One CAP_WG-thread workgroup per expert e (routed, then shared). The priority sequence is
// q = r·T + i for the token t = order[i] (all first choices in the drop policy's order, then all
// second choices, …; the shared experts' ranks come after the routed ones). Each thread counts e's
// assignments in its contiguous chunk of q (all of them for `counts`, and those not dropped at
// random for slots; ranks the expert did not pick are neither), thread 0 scans the CAP_WG counts, and
// each thread then hands out slots in order: slot < C (T for a shared expert) is kept (and listed in
// lists[e, slot]), the rest are DROPPED; RANDOM and UNPICKED stay.
@compute @workgroup_size(CAP_WG)
fn capacity(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let e = wid.x;
    let n = u.t * u.ranks;
    let cap = select(u.cap, u.cap_shared, e >= u.e);
    let chunk = (n + CAP_WG - 1u) / CAP_WG;
    let q0 = min(li * chunk, n);
    let q1 = min(q0 + chunk, n);
    var cnt = 0u;
    var cnt_all = 0u;
    for (var q = q0; q < q1; q++) {
        let a = order[q % u.t] * u.kmax + q / u.t;
        let s = slot[a];
        if (topk[a] == e && s != UNPICKED) {
            cnt_all++;
            if (s != RANDOM) { cnt++; }
        }
    }
    part[li] = cnt;
    part_all[li] = cnt_all;
    workgroupBarrier();
    if (li == 0u) {
        var run = 0u;
        var run_all = 0u;
        for (var j = 0u; j < CAP_WG; j++) {
            let c = part[j];
            part[j] = run;
            run += c;
            run_all += part_all[j];
        }
        total = run;
        counts[e] = run_all;
        kept[e] = min(run, cap);
    }
    workgroupBarrier();
    var s = part[li];
    for (var q = q0; q < q1; q++) {
        let a = order[q % u.t] * u.kmax + q / u.t;
        if (topk[a] == e && slot[a] != RANDOM && slot[a] != UNPICKED) {
            if (s < cap) {
                slot[a] = s;
                lists[e * u.t + s] = a;
            } else {
                slot[a] = DROPPED;
            }
            s++;
        }
    }
    let nk = min(total, cap);
    for (var j = nk + li; j < u.t; j += CAP_WG) { lists[e * u.t + j] = UNUSED; }
    // Ranks r ≥ ranks are not chosen: expert 0's workgroup marks them.
    if (e == 0u) {
        let rest = u.t * (u.kmax - u.ranks);
        for (var q = li; q < rest; q += CAP_WG) {
            let t = q % u.t;
            let r = u.ranks + q / u.t;
            slot[t * u.kmax + r] = UNUSED;
        }
    }
}

// [T·ceil(d/B)] threads, B channels each: h = x + Σ_{live r} gate_r · y_r (dropped assignments
// contribute zero).
@compute @workgroup_size(64)
fn combine(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) li: u32) {
    let n = (u.d + B - 1u) / B;
    let q = flat(wid, nwg, li);
    if (q >= u.t * n) { return; }
    let t = q / n;
    let c0 = (q % n) * B;
    let c1 = min(c0 + B, u.d);
    // Competitive mixture: the routed experts are scored one by one (head_mix); h keeps the shared.
    let first = select(0u, u.k, u.mix == 1u);
    for (var c = c0; c < c1; c++) {
        var acc = x[t * u.d + c];
        for (var r = first; r < u.ranks; r++) {
            let a = t * u.kmax + r;
            if (live(slot[a])) { acc += gates[a] * y[a * u.d + c]; }
        }
        h[t * u.d + c] = acc;
    }
}

// [T·K] threads: dg = dh · y for live assignments, 0 otherwise (plus, with the cv2 balance loss,
// α·d CV²(importance) / d importance of the chosen expert).
@compute @workgroup_size(64)
fn gate_grad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) li: u32) {
    let a = flat(wid, nwg, li);
    if (a >= u.t * u.kmax) { return; }
    let t = a / u.kmax;
    let r = a % u.kmax;
    var acc = 0.0;
    // Competitive mixture: the routed gates do not scale y (the router learns from the posterior).
    if (r < u.ranks && live(slot[a]) && !(u.mix == 1u && r < u.k)) {
        for (var c = 0u; c < u.d; c++) { acc += dh[t * u.d + c] * y[a * u.d + c]; }
    }
    // cv2 balance: the importance term reaches every chosen gate, kept or dropped.
    if (u.balance == BAL_CV2 && r < u.k) { acc += u.alpha * stats[ST_DIMP + topk[a]]; }
    dg[a] = acc;
}
