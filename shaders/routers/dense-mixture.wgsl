// dense-mixture (Jacobs, Jordan, Nowlan & Hinton 1991): every expert takes every token, gate = the
// router probability (rank e = expert e). Twin: src/model/routers/dense_mixture.rs.
fn route_dense_mixture(t: u32) {
    for (var e = 0u; e < u.e; e++) {
        let p = probs[t * u.e + e];
        scores[t * u.e + e] = p;
        topk[t * u.kmax + e] = e;
        gates[t * u.kmax + e] = p;
    }
}

fn route_grad_dense_mixture(t: u32, dp: ptr<function, array<f32, 64>>) {
    for (var e = 0u; e < u.e; e++) { (*dp)[e] += dg[t * u.kmax + e]; }
}

fn route_update_dense_mixture(e: u32) {}
