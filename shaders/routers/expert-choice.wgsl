// expert-choice (Zhou et al. 2022): each expert picks the C = u.cap tokens with the highest
// probability in its column of the batch (ties to the earlier token). Token t has one rank per
// expert (rank e = expert e, gate p[t, e]); ranks the expert did not pick are UNPICKED.
// O(T·E) per token. Twin: src/model/routers/expert_choice.rs.
fn route_expert_choice(t: u32) {
    for (var e = 0u; e < u.e; e++) {
        let p = probs[t * u.e + e];
        scores[t * u.e + e] = p;
        var rank = 0u;
        for (var o = 0u; o < u.t; o++) {
            let q = probs[o * u.e + e];
            if (q > p || (q == p && o < t)) { rank++; }
        }
        let a = t * u.kmax + e;
        topk[a] = e;
        gates[a] = p;
        if (rank >= u.cap) { slot[a] = UNPICKED; }
    }
}

// gate = p at the picking expert (dg is 0 for the ranks not picked).
fn route_grad_expert_choice(t: u32, dp: ptr<function, array<f32, 64>>) {
    for (var e = 0u; e < u.e; e++) { (*dp)[e] += dg[t * u.kmax + e]; }
}

fn route_update_expert_choice(e: u32) {}
