// gshard-top2 (GShard random top-2): top-2 of the probabilities, renormalised gates; the second
// expert is dispatched only when the token's draw u < 2·g2, else it is dropped as RANDOM before
// capacity (the draw is 0 outside training: always dispatched). Twin: src/model/routers/gshard_top2.rs.
fn route_gshard_top2(t: u32) {
    for (var e = 0u; e < u.e; e++) { scores[t * u.e + e] = probs[t * u.e + e]; }
    select_topk(t);
    prob_gates(t);
    if (u.k == 2u) {
        let a = t * u.kmax + 1u;
        if (unit_draw(rkey[t * 2u + 1u]) >= 2.0 * gates[a]) { slot[a] = RANDOM; }
    }
}

fn route_grad_gshard_top2(t: u32, dp: ptr<function, array<f32, 64>>) {
    prob_gates_grad(t, dp);
}

fn route_update_gshard_top2(e: u32) {}
