// Batch sampling, the input layer and its gradient.

// [T] threads: row t of the batch = pool example hash(seed, step, t) % N (crate::rng::sample_index),
// probe example t when u.probe = 1, or held-out example (chunk·T + t) mod eval_n when u.probe = 2
// (the held-out examples follow the N training examples in `pool`; twin: Pool::eval_batch); and
// the row's router words in `rkey`.
@compute @workgroup_size(64)
fn sample_batch(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) li: u32) {
    let t = flat(wid, nwg, li);
    if (t >= u.t) { return; }
    if (u.probe == 1u) {
        for (var j = 0u; j < CTX; j++) { inp[t * CTX + j] = probe_pool[t * EXW + j]; }
        tgt[t] = probe_pool[t * EXW + CTX];
        dom[t] = probe_pool[t * EXW + CTX + 1u];
    } else if (u.probe == 2u) {
        let ex = u.pool_n + (state[ST_EVAL_CHUNK] * u.t + t) % u.eval_n;
        for (var j = 0u; j < CTX; j++) { inp[t * CTX + j] = pool[ex * EXW + j]; }
        tgt[t] = pool[ex * EXW + CTX];
        dom[t] = pool[ex * EXW + CTX + 1u];
    } else {
        let ex = pcg_hash(u.seed ^ pcg_hash(state[0] ^ pcg_hash(t))) % u.pool_n;
        for (var j = 0u; j < CTX; j++) { inp[t * CTX + j] = pool[ex * EXW + j]; }
        tgt[t] = pool[ex * EXW + CTX];
        dom[t] = pool[ex * EXW + CTX + 1u];
    }
    // The router words (twin: routing::route_keys): the hash key, and a random draw in training
    // steps only (crate::rng::draw).
    if (u.tokens == 1u) {
        rkey[t * 2u] = inp[t * CTX + CTX - 1u];
    } else {
        let cx = u32(clamp(floor((bitcast<f32>(inp[t * CTX]) + 1.0) * 4.0), 0.0, 7.0));
        let cy = u32(clamp(floor((bitcast<f32>(inp[t * CTX + 1u]) + 1.0) * 4.0), 0.0, 7.0));
        rkey[t * 2u] = cy * 8u + cx;
    }
    var draw = 0u;
    if (u.probe == 0u) { draw = pcg_hash((u.seed ^ 0xa511e9b3u) ^ pcg_hash(state[0] ^ pcg_hash(t))); }
    rkey[t * 2u + 1u] = draw;
}

// [T·ceil(d/B)] threads, B channels each (fewer invocations: SwiftShader pays per invocation):
// x0 = Σ_j emb[j, id_j] (tokens) or W_in·[px, py] + b_in (regions); x = relu(x0) for tokens (a
// shared positive direction, as real hidden states have), x0 for regions.
@compute @workgroup_size(64)
fn embed(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) li: u32) {
    let n = (u.d + B - 1u) / B;
    let q = flat(wid, nwg, li);
    if (q >= u.t * n) { return; }
    let t = q / n;
    let c0 = (q % n) * B;
    let c1 = min(c0 + B, u.d);
    if (u.tokens == 1u) {
        for (var c = c0; c < c1; c++) {
            var acc = 0.0;
            for (var j = 0u; j < CTX; j++) {
                let id = inp[t * CTX + j];
                acc += params[u.o_emb + (j * u.v + id) * u.d + c];
            }
            x0[t * u.d + c] = acc;
            x[t * u.d + c] = max(acc, 0.0);
        }
    } else {
        let px = bitcast<f32>(inp[t * CTX]);
        let py = bitcast<f32>(inp[t * CTX + 1u]);
        for (var c = c0; c < c1; c++) {
            let acc = params[u.o_bin + c] + params[u.o_win + c * 2u] * px + params[u.o_win + c * 2u + 1u] * py;
            x0[t * u.d + c] = acc;
            x[t * u.d + c] = acc;
        }
    }
}

// [CTX·d] threads (tokens) / [d] (regions): input-layer gradient, summed over rows in order.
// Tokens: thread (j, c) keeps one accumulator per vocabulary id (V ≤ 64), so each embedding entry is
// summed over t in ascending order without atomics.
@compute @workgroup_size(64)
fn embed_grad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) li: u32) {
    let i = flat(wid, nwg, li);
    if (u.tokens == 1u) {
        if (i >= CTX * u.d) { return; }
        let j = i / u.d;
        let c = i % u.d;
        var acc: array<f32, 64>;
        for (var v = 0u; v < u.v; v++) { acc[v] = 0.0; }
        for (var t = 0u; t < u.t; t++) {
            let k = t * u.d + c;
            var g = 0.0;
            if (x0[k] > 0.0) { g = dx[k]; }
            let id = inp[t * CTX + j];
            acc[id] += g;
        }
        for (var v = 0u; v < u.v; v++) { grads[u.o_emb + (j * u.v + v) * u.d + c] = acc[v]; }
    } else {
        if (i >= u.d) { return; }
        let c = i;
        var a0 = 0.0;
        var a1 = 0.0;
        var ab = 0.0;
        for (var t = 0u; t < u.t; t++) {
            let g = dx[t * u.d + c];
            a0 += g * bitcast<f32>(inp[t * CTX]);
            a1 += g * bitcast<f32>(inp[t * CTX + 1u]);
            ab += g;
        }
        grads[u.o_win + c * 2u] = a0;
        grads[u.o_win + c * 2u + 1u] = a1;
        grads[u.o_bin + c] = ab;
    }
}
