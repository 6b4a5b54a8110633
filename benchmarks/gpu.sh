#!/usr/bin/env bash
# The GPU benchmarks in one go, for a lent NVIDIA H100/H200 (JAX with CUDA, flax, optax
# already installed; torch not needed). Writes <device>.json and the printed tables into
# RESULTS_DIR, within about 6.5 minutes.
#
#   pip install --no-deps -e . && benchmarks/gpu.sh "$OUT"
set -uo pipefail  # one failing benchmark does not stop the others
out="${1:?usage: benchmarks/gpu.sh RESULTS_DIR}"
mkdir -p "$out"
cd "$(dirname "$0")/.."
python -c "import jax; print(jax.__version__, jax.devices())" | tee "$out/devices.txt"
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv | tee -a "$out/devices.txt" || true
timeout 180 python benchmarks/sampling.py --large --results-dir "$out" 2>&1 | tee "$out/sampling.txt"
timeout 110 python benchmarks/training.py --large --results-dir "$out" 2>&1 | tee "$out/training.txt"
timeout 90 python benchmarks/ensembles.py --sizes 1,8,32 --results-dir "$out" 2>&1 | tee "$out/ensembles.txt"
