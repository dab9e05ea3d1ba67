#!/usr/bin/env bash
# Prints the path of a Python 3.12 (the Python of Databricks Runtime 18 LTS) for `make`:
# $PYTHON when it is one, else python3.12, python3, then pyenv's, uv's and conda's
# installs. Prints nothing when there is none; `make setup` then says how to get one.
set -uo pipefail
wanted=3.12
is_wanted() {
  "$1" -c "import sys; sys.exit(sys.version_info[:2] != (${wanted/./, }))" >/dev/null 2>&1
}
candidates=("${PYTHON:-}" "python$wanted" python3)
for root in "${PYENV_ROOT:-$HOME/.pyenv}/versions" "$HOME/.local/share/uv/python" "${CONDA_PREFIX:-/nonexistent}/bin"; do
  candidates+=("$root"/*"$wanted"*/bin/python"$wanted" "$root/python$wanted")
done
for candidate in "${candidates[@]}"; do
  if [ -n "$candidate" ] && command -v "$candidate" >/dev/null && is_wanted "$candidate"; then
    command -v "$candidate"
    exit 0
  fi
done
