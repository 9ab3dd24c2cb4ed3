#!/usr/bin/env bash
# The GPU benchmark in one go (about 5-8 minutes on an H200; run from anywhere):
#   bench/gpu.sh [OUT_DIR]            (default OUT_DIR: bench-results)
# Trains (a) the report's configuration at 256 px (U-Net + PatchGAN, cyclegan objective, batch
# 16) and (b) the reference's unet_128 pix2pix at 128 px, in fp32 (TF32 convolutions, cuDNN's
# default) against bf16 autocast + torch.compile, both channels_last, with cudnn.benchmark on;
# prints images/s, GFLOP/s and the model FLOP utilisation against the chip's dense bf16 peak
# (H200/H100: 989 TFLOP/s), and writes OUT_DIR/gpu.json and OUT_DIR/gpu.txt.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-bench-results}"
python="${PYTHON:-python}"
[ -x "$root/.venv/bin/python" ] && [ -z "${PYTHON:-}" ] && python="$root/.venv/bin/python"
out="$(mkdir -p "$out" && cd "$out" && pwd)"  # absolute: the run below starts in $root
cd "$root"
"$python" - <<'PY'
import sys, torch
if not torch.cuda.is_available():
    sys.exit("error: bench/gpu.sh needs a CUDA GPU (torch.cuda.is_available() is False)")
print(f"GPU: {torch.cuda.get_device_name()}, torch {torch.__version__}", flush=True)
PY
"$python" -m cg bench --device cuda --sizes 256 --cases report,reference \
    --variants fp32+cl,bf16+cl,bf16+cl+compile --parts ceilings,training,translate \
    --warmup 5 --repeats 30 --seconds 30 --out "$out/gpu.json" | tee "$out/gpu.txt"
