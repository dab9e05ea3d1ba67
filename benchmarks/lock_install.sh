#!/usr/bin/env bash
# Installing requirements.lock into a fresh virtual environment from an empty cache, as
# a CI machine does: pip, then uv (its own install from PyPI counted; both compile the
# bytecode, which pip does by default and uv with --compile-bytecode). Run from the
# repository: `bash benchmarks/lock_install.sh` (needs the package registry).
set -euo pipefail
lock="$(pwd)/requirements.lock"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

python3 -m venv "$work/pip"
started=$(date +%s)
"$work/pip/bin/pip" install --quiet --no-cache-dir --requirement "$lock"
echo "pip: $(($(date +%s) - started)) s"

python3 -m venv "$work/uv"
started=$(date +%s)
"$work/uv/bin/pip" install --quiet --no-cache-dir "$(grep '^uv==' "$lock")"
UV_NO_CACHE=1 "$work/uv/bin/uv" pip install --quiet --compile-bytecode --python "$work/uv/bin/python" --requirement "$lock"
echo "uv, its own install included: $(($(date +%s) - started)) s"

diff <("$work/pip/bin/pip" freeze | grep -v '^uv==') <("$work/uv/bin/pip" freeze | grep -v '^uv==') \
  && echo "the same packages at the same versions"
