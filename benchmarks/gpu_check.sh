#!/usr/bin/env bash
# One unattended GPU check (see benchmarks/gpu_check.py): canonical comparison at the papers'
# budget, stacked trainer vs plain loop (eager, torch.compile, CUDA graph), default suite on
# the GPU, CPU vs GPU frames. Writes benchmarks/results/gpu_check-<UTC>/.
#   bash benchmarks/gpu_check.sh            # on a CUDA machine, about 5-8 minutes
#   bash benchmarks/gpu_check.sh --dry-run  # the same code paths, tiny, on the CPU
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec "$PYTHON" benchmarks/gpu_check.py "$@"
