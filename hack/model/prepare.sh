# shellcheck shell=bash
# Sourced by train.sh: checks the SST-2 data and Python 3.11, and provides the pinned venv.
# Sets: here, repo, data, venv. The venv lives outside git and is rebuilt only when the pins change.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
data="${SST2_DIR:-$repo/../shared/data/sst2}"
venv="${KUBESENTIMENT_CACHE:-$HOME/.cache/kubesentiment}/model-venv"
script="$(basename "$0")"

for f in train.tsv dev.tsv; do
  [[ -f "$data/$f" ]] || { echo "$script: $data/$f not found (set SST2_DIR)" >&2; exit 1; }
done

python="$(command -v python3.11 || command -v python3)"
"$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
  || { echo "$script: needs Python 3.11 (the pins are for it), found $("$python" --version)" >&2; exit 1; }

stamp="$venv/.requirements.sha256"
want="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$here/requirements.txt"
  echo "$want" >"$stamp"
fi
