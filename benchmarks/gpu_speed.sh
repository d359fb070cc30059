#!/usr/bin/env bash
# Training speed on a CUDA GPU: the reference configuration (SAGAN-32, G 256 / D 128 wide, batch 64),
# SAGAN-128 and BigGAN-128 at batch 32, each in float32, --amp bf16, --amp fp16, bf16 + channels-last,
# and bf16 + torch.compile; then the scaling sweep (sagan and biggan against resolution and batch).
# Prints markdown tables (benchmarks/train_speed.py), three measurements of each configuration.
#
#     bash benchmarks/gpu_speed.sh [OUT_DIR]          # OUT_DIR: where the logs, JSON and plot go [gpu-bench]
#
# Published reference: ajbrock/BigGAN-PyTorch's README trains full-size BigGAN-128 (batch 256 x 8
# accumulations = 2048) to 150k iterations in 15 days on 8 V100s in float32: 2048 * 150000 /
# (15 * 86400 s) = 237 images/s, about 30 images/s per V100.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-gpu-bench}"
mkdir -p "$OUT"
PY="${PYTHON:-python}"
run() {  # a label, then train_speed.py arguments
    local label="$1"; shift
    echo "## $label" | tee -a "$OUT/speed.md"
    "$PY" benchmarks/train_speed.py --device cuda --repeat 3 --steps 10 "$@" 2>&1 | tee -a "$OUT/speed.md"
}
run "reference SAGAN-32, float32" --no-sweep
run "reference SAGAN-32, bf16" --no-sweep --amp bf16
run "reference SAGAN-32, fp16 + GradScaler" --no-sweep --amp fp16
run "reference SAGAN-32, bf16, channels-last" --no-sweep --amp bf16 --channels-last
run "reference SAGAN-32, bf16, torch.compile" --no-sweep --amp bf16 --compile
for amp in off bf16; do
    run "SAGAN / BigGAN 128 px, ch 64, batch 32, amp $amp" --no-reference --models sagan biggan --res 128 --ch 64 \
        --batch 32 --amp "$amp"
done
"$PY" benchmarks/train_speed.py --device cuda --scaling --scaling-ch 64 --json "$OUT/scaling-cuda.json" \
    --plot "$OUT/scaling-cuda.png" 2>&1 | tee "$OUT/scaling.md"
echo "wrote $OUT/speed.md, $OUT/scaling.md, $OUT/scaling-cuda.json, $OUT/scaling-cuda.png"
