// hash (Hash Layers): k distinct experts from a fixed hash of the token's key (its current input
// id, or its grid cell), gates 1/k; nothing learned. Twin: src/model/routers/hash.rs.
fn route_hash(t: u32) {
    let key = rkey[t * 2u];
    for (var e = 0u; e < u.e; e++) { scores[t * u.e + e] = 0.0; }
    for (var r = 0u; r < u.k; r++) {
        var x = pcg_hash((key * 8u + r) ^ 0x2545f491u) % u.e;
        loop {
            var taken = false;
            for (var q = 0u; q < r; q++) { if (topk[t * u.kmax + q] == x) { taken = true; } }
            if (!taken) { break; }
            x = (x + 1u) % u.e;
        }
        topk[t * u.kmax + r] = x;
        gates[t * u.kmax + r] = 1.0 / f32(u.k);
        scores[t * u.e + x] = 1.0;
    }
    for (var r = u.k; r < u.kmax; r++) {
        topk[t * u.kmax + r] = UNUSED;
        gates[t * u.kmax + r] = 0.0;
    }
}

fn route_grad_hash(t: u32, dp: ptr<function, array<f32, 64>>) {}

fn route_update_hash(e: u32) {}
