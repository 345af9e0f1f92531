#!/usr/bin/env bash
# The issue-10 comparison in one run, same machine, same model (E = 8, k = 2, T = 256, d = 32,
# H = 64, cf = 1.25): the WGSL step (native CLI, on whatever Vulkan/Metal/DX12 adapter wgpu picks;
# lavapipe on a machine without a GPU), the CPU reference, and the PyTorch twin (eager, CPU, 2
# threads). Prints one JSON line per trainer, then a Markdown table of tokens/s.
#
#   bash benches/side_by_side.sh               # needs python3 with torch for the last row
#   PYTHON=/path/to/venv/bin/python bash benches/side_by_side.sh
#   VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json bash benches/side_by_side.sh  # SwiftShader
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
chmod 0700 "$XDG_RUNTIME_DIR"
model=(--experts 8 --top-k 2 --tokens 256 --d 32 --hidden 64 --capacity-factor 1.25)
cargo build --release --bin moe-train >&2
out=$(mktemp)
./target/release/moe-train --bench "${model[@]}" --backend gpu | tee -a "$out"
./target/release/moe-train --bench "${model[@]}" --backend cpu | tee -a "$out"
"${PYTHON:-python3}" benches/pytorch_twin.py --experts 8 --top-k 2 --tokens 256 --d 32 --hidden 64 | tee -a "$out" ||
  echo "(no PyTorch: pip install torch, or set PYTHON)" >&2
python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
print("\n| trainer | steps/s | tokens/s | vs PyTorch |\n|---|---:|---:|---:|")
torch = next((r["tokens_per_s_median"] for r in rows if r["backend"].startswith("pytorch")), None)
for r in rows:
    ratio = f"{r['tokens_per_s_median'] / torch:.2f}x" if torch else "-"
    print(f"| {r['backend']} | {r['steps_per_s_median']:.1f} | {r['tokens_per_s_median']:,.0f} | {ratio} |")
PY
rm -f "$out"
