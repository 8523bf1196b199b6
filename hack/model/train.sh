#!/usr/bin/env bash
# Retrains the default sentiment model from SST-2 and writes model.onnx, tokenizer.json,
# tokenizer_config.json and config.json into worker/model/ (or the directory given as $1).
# Deterministic: pinned packages, fixed seeds, single-threaded XLA.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${1:-$repo/worker/model}"
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

# One XLA thread: results do not depend on the core count, and the training leaves the other core free.
export XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
export JAX_PLATFORMS=cpu PYTHONHASHSEED=0 OMP_NUM_THREADS=1 TF_CPP_MIN_LOG_LEVEL=2
mkdir -p "$out"
exec "$venv/bin/python" "$here/train.py" --data "$data" --out "$out"
