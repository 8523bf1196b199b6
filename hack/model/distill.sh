#!/usr/bin/env bash
# EXPERIMENT (not the shipped model, see README.md): distils a fine-tuned MiniLM teacher into the CNN and
# writes model.onnx, tokenizer.json, tokenizer_config.json and config.json into the directory given as $1.
# Two stages: distill_teacher.py fine-tunes the MiniLM teacher and writes its logits; distill_student.py trains the CNN
# student on them and exports it. TEACHER_LOGITS=FILE.npz reuses a stage-1 result (same inputs, same file).
# Deterministic: pinned packages, fixed seeds, fixed XLA thread counts (2 for the teacher, 1 for the student).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${1:?usage: distill.sh OUT_DIR}"
data="${SST2_DIR:-$repo/../shared/data/sst2}"
venv="${KUBESENTIMENT_CACHE:-$HOME/.cache/kubesentiment}/model-venv"

for f in train.tsv dev.tsv; do
  [[ -f "$data/$f" ]] || { echo "train.sh: $data/$f not found (set SST2_DIR)" >&2; exit 1; }
done

python="$(command -v python3.11 || command -v python3)"
"$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
  || { echo "train.sh: needs Python 3.11 (the pins are for it), found $("$python" --version)" >&2; exit 1; }

# The venv lives outside git and is rebuilt only when the pins change.
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$here/requirements.txt"
  echo "$want" >"$stamp"
fi

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
