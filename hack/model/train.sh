#!/usr/bin/env bash
# Retrains the default sentiment model from SST-2 and writes model.onnx, tokenizer.json,
# tokenizer_config.json and config.json into worker/model/ (or the directory given as $1).
# Deterministic: pinned packages, fixed seeds, single-threaded XLA.
set -euo pipefail

# shellcheck source=hack/model/prepare.sh
source "$(dirname "${BASH_SOURCE[0]}")/prepare.sh"
out="${1:-$repo/worker/model}"

# One XLA thread: results do not depend on the core count, and the training leaves the other core free.
export XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
export JAX_PLATFORMS=cpu PYTHONHASHSEED=0 OMP_NUM_THREADS=1 TF_CPP_MIN_LOG_LEVEL=2
mkdir -p "$out"
exec "$venv/bin/python" "$here/train.py" --data "$data" --out "$out"
