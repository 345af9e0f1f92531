// softmax-topk (Switch k = 1, Mixtral k ≥ 2): top-k of the probabilities; gates = raw p (k = 1) or
// renormalised (k ≥ 2). Twin: src/model/routers/softmax_topk.rs.
fn route_softmax_topk(t: u32) {
    for (var e = 0u; e < u.e; e++) { scores[t * u.e + e] = probs[t * u.e + e]; }
    select_topk(t);
    prob_gates(t);
}

fn route_grad_softmax_topk(t: u32, dp: ptr<function, array<f32, 64>>) {
    prob_gates_grad(t, dp);
}

fn route_update_softmax_topk(e: u32) {}
