#!/usr/bin/env bash
# Retrains the default sentiment model from SST-2 and writes model.onnx, tokenizer.json, tokenizer_config.json
# and config.json into worker/model/ (or the directory given as $1). Two stages (see README.md):
# distill_teacher.py fine-tunes a MiniLM teacher and writes its logits (about an hour on two idle cores);
# distill_student.py trains the shipped two-layer CNN on them and exports it (a few minutes).
# TEACHER_LOGITS=FILE.npz reuses a stage-1 result (it is checked against the texts it was computed for).
# Deterministic: pinned packages, fixed seeds, fixed XLA thread counts (2 for the teacher, 1 for the student).
set -euo pipefail

# shellcheck source=hack/model/prepare.sh
source "$(dirname "${BASH_SOURCE[0]}")/prepare.sh"
out="${1:-$repo/worker/model}"

export JAX_PLATFORMS=cpu PYTHONHASHSEED=0 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 TF_CPP_MIN_LOG_LEVEL=2
mkdir -p "$out"
logits="${TEACHER_LOGITS:-}"
if [[ -z "$logits" ]]; then
  # Kept outside git: an hour of work that TEACHER_LOGITS can reuse when only the student changes.
  logits="$(dirname "$venv")/teacher/logits-$(date -u +%Y%m%dT%H%M%SZ).npz"
  mkdir -p "$(dirname "$logits")"
  # The teacher runs on exactly two cores (XLA sizes its thread pool from the CPU affinity): its float sums,
  # hence its logits, depend on the thread count, so that count is fixed rather than taken from the machine.
  taskset -c 0,1 "$venv/bin/python" "$here/distill_teacher.py" --data "$data" --out "$logits"
  echo "teacher logits: $logits (TEACHER_LOGITS=$logits reuses them)"
fi
# One XLA thread for the student: results do not depend on the core count.
XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" \
  "$venv/bin/python" "$here/distill_student.py" --data "$data" --teacher "$logits" --out "$out"
