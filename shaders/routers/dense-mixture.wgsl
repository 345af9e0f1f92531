// dense-mixture (Jacobs, Jordan, Nowlan & Hinton 1991): every expert takes every token, gate = the
// router probability (rank e = expert e). With the competitive mixture loss (u.mix) the router's
// gradient is p − posterior (mix_grad). Twin: src/model/routers/dense_mixture.rs.
fn route_dense_mixture(t: u32) {
    for (var e = 0u; e < u.e; e++) {
        let p = probs[t * u.e + e];
        scores[t * u.e + e] = p;
        topk[t * u.kmax + e] = e;
        gates[t * u.kmax + e] = p;
    }
}

fn route_grad_dense_mixture(t: u32, dp: ptr<function, array<f32, 64>>) {
    if (u.mix == 1u) {
        // Competitive: d loss / d logit_e = (p_e − posterior_e) / T, straight to the logits.
        let tf = f32(u.t);
        for (var e = 0u; e < u.e; e++) {
            rstate[rs_dl(t, e)] += (probs[t * u.e + e] - rstate[rs_post(t, e)]) / tf;
        }
        return;
    }
    for (var e = 0u; e < u.e; e++) { (*dp)[e] += dg[t * u.kmax + e]; }
}

fn route_update_dense_mixture(e: u32) {}
