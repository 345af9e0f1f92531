// aux-free (DeepSeek-V3 loss-free balancing): choose on logits + bias, gate with the unbiased
// probabilities; after each step b_i += γ·sign(mean load − load_i). Twin: src/model/routers/aux_free.rs.
fn route_aux_free(t: u32) {
    for (var e = 0u; e < u.e; e++) { scores[t * u.e + e] = logits[t * u.e + e] + rstate[e]; }
    select_topk(t);
    prob_gates(t);
}

fn route_grad_aux_free(t: u32, dp: ptr<function, array<f32, 64>>) {
    prob_gates_grad(t, dp);
}

// load_i·E against the step's T·k choices, in integers (sign(0) = 0 exactly).
fn route_update_aux_free(e: u32) {
    var total = 0u;
    for (var i = 0u; i < u.e; i++) { total += counts[i]; }
    let load = counts[e] * u.e;
    if (load < total) {
        rstate[e] = rstate[e] + u.gamma;
    } else if (load > total) {
        rstate[e] = rstate[e] - u.gamma;
    }
}
