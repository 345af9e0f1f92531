// Optimiser: global gradient norm (with the divergence guard), Adam with bias correction, and the
// step counters.

var<workgroup> sq: array<f32, 256>;

// Weights per invocation of `adam` (src/gpu/kernels.rs::ADAM_PER).
const ADAM_PER: u32 = 16u;

// One 256-thread workgroup: thread i sums the squares of its contiguous chunk, thread 0 adds the 256
// partials in order (twin: crate::model::adam::grad_norm). A non-finite loss or norm marks the step
// not ok: Adam skips it and the weights stay as they were.
@compute @workgroup_size(256)
fn grad_norm(@builtin(local_invocation_index) li: u32) {
    let n = u.n_params;
    let chunk = (n + 255u) / 256u;
    let i0 = min(li * chunk, n);
    let i1 = min(i0 + chunk, n);
    var acc = 0.0;
    for (var i = i0; i < i1; i++) { acc += grads[i] * grads[i]; }
    sq[li] = acc;
    workgroupBarrier();
    if (li == 0u) {
        var s = 0.0;
        for (var j = 0u; j < 256u; j++) { s += sq[j]; }
        let norm = sqrt(s);
        let ok = is_finite(norm) && is_finite(stats[4]);
        var scale = 1.0;
        if (u.clip_on == 1u && norm > u.clip) { scale = u.clip / norm; }
        gnorm[0] = norm;
        gnorm[1] = scale;
        gnorm[2] = select(0.0, 1.0, ok);
    }
}

// ceil(n_params / ADAM_PER) threads, each updating ADAM_PER weights a stride apart (i, i + stride, …:
// neighbouring threads still touch neighbouring words), so the bias corrections and the guard are
// computed once per ADAM_PER weights: m, v moments and the bias-corrected update at step state[3] + 1.
@compute @workgroup_size(64)
fn adam(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let t = flat(wid, nwg, li);
    let n = u.n_params;
    let stride = (n + ADAM_PER - 1u) / ADAM_PER;
    if (t >= stride || gnorm[2] == 0.0) { return; }
    let step = f32(state[3] + 1u);
    let bc1 = 1.0 - pow(u.b1, step);
    let bc2 = 1.0 - pow(u.b2, step);
    let scale = gnorm[1];
    for (var r = 0u; r < ADAM_PER; r++) {
        let i = t + r * stride;
        if (i >= n) { break; }
        let g = grads[i] * scale;
        let m = u.b1 * adam_m[i] + (1.0 - u.b1) * g;
        let v = u.b2 * adam_v[i] + (1.0 - u.b2) * g * g;
        adam_m[i] = m;
        adam_v[i] = v;
        let mh = m / bc1;
        let vh = v / bc2;
        params[i] = params[i] - u.lr * mh / (sqrt(vh) + u.eps);
    }
}

// One thread: the batch counter always advances (the next step sees a new batch); updates counts
// applied Adam steps, skipped counts the diverged ones.
@compute @workgroup_size(1)
fn advance() {
    state[0] = state[0] + 1u;
    if (gnorm[2] == 1.0) { state[3] = state[3] + 1u; } else { state[1] = state[1] + 1u; }
}
