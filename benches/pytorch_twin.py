#!/usr/bin/env python3
"""The PyTorch twin of MoE Playground's model, for speed comparisons only (not a test, not a build step).

Same model and step as `moe-train` (src/model/, shaders/): per token x0 = sum over the 4 context
positions of a position's embedding of its input id, x = relu(x0); router logits = W_r x, p = softmax;
top-k by p (k = 1: gate p, Switch; k >= 2: the chosen k renormalised, Mixtral); capacity
C = ceil(cf * T * k / E), first choices in token order before second choices; each expert
W2 relu(W1 x + b1) + b2 over the tokens it kept; h = x + sum of gate * y; output W_o h + b_o; loss
CE + alpha * Switch balance loss + beta * z-loss; Adam. Written as eager PyTorch MoE code usually
is (a loop over the experts with index_select / index_add_), on the CPU with --threads threads.

Install PyTorch (CPU) first, e.g. `pip install torch --index-url https://download.pytorch.org/whl/cpu`.

  python3 benches/pytorch_twin.py                      # E=8 k=2 T=256 d=32 H=64, one JSON line
  python3 benches/pytorch_twin.py --experts 16 --top-k 1
  python3 benches/pytorch_twin.py --sweep              # the axes of `moe-train --bench --sweep`

Each line: steps/s and tokens/s (median of --repeats repeats of --steps steps, after a warm-up),
in the same fields as `moe-train --bench`.
"""
import argparse
import json
import math
import platform
import statistics
import time

import torch
import torch.nn.functional as F

CTX = 4
VOCAB = 47  # len(VOCAB) in src/data/tokens.rs


class Moe(torch.nn.Module):
    def __init__(self, e, k, d, h, v, cf, alpha, beta):
        super().__init__()
        self.e, self.k, self.cf, self.alpha, self.beta = e, k, cf, alpha, beta
        self.emb = torch.nn.Parameter(torch.randn(CTX, v, d))
        u = lambda *shape, fan: torch.nn.Parameter((torch.rand(*shape) * 2 - 1) / math.sqrt(fan))
        self.wr = u(e, d, fan=d)
        self.w1, self.b1 = u(e, h, d, fan=d), u(e, h, fan=d)
        self.w2, self.b2 = u(e, d, h, fan=h), u(e, d, fan=h)
        self.wo, self.bo = u(v, d, fan=d), u(v, fan=d)

    def forward(self, inp, tgt):
        t = inp.shape[0]
        x0 = self.emb[torch.arange(CTX), inp].sum(1)  # [T, d]
        x = torch.relu(x0)
        logits = x @ self.wr.t()  # [T, E]
        lse = torch.logsumexp(logits, -1)
        p = torch.softmax(logits, -1)
        top_p, top_i = torch.topk(p, self.k, -1)  # [T, k]
        gates = top_p if self.k == 1 else top_p / top_p.sum(-1, keepdim=True)
        # Capacity: position of each choice in its expert's queue, rank by rank (all first choices,
        # then all second choices), in token order.
        cap = min(t, math.ceil(self.cf * t * self.k / self.e)) if math.isfinite(self.cf) else t
        flat = top_i.t().reshape(-1)  # [k*T], rank-major
        onehot = F.one_hot(flat, self.e)
        pos = (onehot.cumsum(0) * onehot).sum(-1) - 1
        keep = (pos < cap).view(self.k, t).t()  # [T, k]
        h = x
        out_y = torch.zeros_like(x)
        for ex in range(self.e):
            tok, rank = torch.nonzero((top_i == ex) & keep, as_tuple=True)
            if tok.numel() == 0:
                continue
            xe = x.index_select(0, tok)
            he = torch.relu(xe @ self.w1[ex].t() + self.b1[ex])
            ye = he @ self.w2[ex].t() + self.b2[ex]
            out_y = out_y.index_add(0, tok, ye * gates[tok, rank].unsqueeze(-1))
        h = x + out_y
        out = h @ self.wo.t() + self.bo
        ce = F.cross_entropy(out, tgt)
        f = F.one_hot(top_i, self.e).float().sum((0, 1)) / (t * self.k)
        aux = self.e * (f * p.mean(0)).sum()
        z = (lse ** 2).mean()
        return ce + self.alpha * aux + self.beta * z


def bench(e, k, t, d, h, cf, steps, repeats, warmup):
    torch.manual_seed(1)
    model = Moe(e, k, d, h, VOCAB, cf, alpha=0.01, beta=0.0)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    batches = [
        (torch.randint(0, VOCAB, (t, CTX)), torch.randint(0, VOCAB, (t,))) for _ in range(8)
    ]

    def step(i):
        inp, tgt = batches[i % len(batches)]
        opt.zero_grad(set_to_none=True)
        loss = model(inp, tgt)
        loss.backward()
        opt.step()
        return loss

    for i in range(warmup):
        step(i)
    if steps is None:  # about one second per repeat
        start = time.perf_counter()
        step(0)
        steps = max(1, min(500, round(1.0 / max(time.perf_counter() - start, 1e-6))))
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for i in range(steps):
            step(i)
        rates.append(steps / (time.perf_counter() - start))
    med = statistics.median(rates)
    return {
        "bench": True,
        "backend": f"pytorch {torch.__version__} eager, CPU, {torch.get_num_threads()} threads ({platform.processor() or platform.machine()})",
        "router": "softmax-topk",
        "tokens": t,
        "experts": e,
        "top_k": k,
        "d": d,
        "hidden": h,
        "steps_per_repeat": steps,
        "repeats": repeats,
        "steps_per_s_median": med,
        "tokens_per_s_median": med * t,
        "steps_per_s_all": rates,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--experts", type=int, default=8)
    ap.add_argument("--top-k", type=int, default=2)
    ap.add_argument("--tokens", type=int, default=256)
    ap.add_argument("--d", type=int, default=32)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--capacity-factor", type=float, default=1.25)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=None, help="steps per repeat [default: about 1 s]")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--sweep", action="store_true", help="the axes of moe-train --bench --sweep")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    base = dict(e=a.experts, k=a.top_k, t=a.tokens, d=a.d, h=a.hidden)
    if not a.sweep:
        points = [("", base)]
    else:
        points = [("experts", {**base, "e": v}) for v in (4, 8, 16, 32, 64)]
        points += [("tokens", {**base, "t": v}) for v in (64, 256, 1024, 4096)]
        points += [("top_k", {**base, "k": v}) for v in (1, 2, 3, 4)]
        points += [("d_hidden", {**base, "d": d, "h": h}) for d, h in ((32, 64), (64, 128), (64, 256), (128, 512))]
    for axis, pt in points:
        line = bench(cf=a.capacity_factor, steps=a.steps, repeats=a.repeats, warmup=a.warmup, **pt)
        if axis:
            line["sweep"] = axis
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
