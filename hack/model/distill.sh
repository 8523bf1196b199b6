#!/usr/bin/env bash
# EXPERIMENT (not the shipped model, see README.md): distils a fine-tuned MiniLM teacher into the CNN and
# writes model.onnx, tokenizer.json, tokenizer_config.json and config.json into the directory given as $1.
# Two stages: distill_teacher.py fine-tunes the MiniLM teacher and writes its logits; distill_student.py trains the CNN
# student on them and exports it. TEACHER_LOGITS=FILE.npz reuses a stage-1 result (same inputs, same file).
# Deterministic: pinned packages, fixed seeds, fixed XLA thread counts (2 for the teacher, 1 for the student).
set -euo pipefail

# shellcheck source=hack/model/prepare.sh
source "$(dirname "${BASH_SOURCE[0]}")/prepare.sh"
out="${1:?usage: distill.sh OUT_DIR}"

export JAX_PLATFORMS=cpu PYTHONHASHSEED=0 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 TF_CPP_MIN_LOG_LEVEL=2
mkdir -p "$out"
logits="${TEACHER_LOGITS:-}"
if [[ -z "$logits" ]]; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  logits="$tmp/teacher.npz"
  # The teacher runs on exactly two cores (XLA sizes its thread pool from the CPU affinity): its float sums,
  # hence its logits, depend on the thread count, so that count is fixed rather than taken from the machine.
  taskset -c 0,1 "$venv/bin/python" "$here/distill_teacher.py" --data "$data" --out "$logits"
fi
# One XLA thread for the student: results do not depend on the core count.
XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" \
  "$venv/bin/python" "$here/distill_student.py" --data "$data" --teacher "$logits" --out "$out"
