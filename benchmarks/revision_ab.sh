# shellcheck shell=bash disable=SC2034  # before and after are read by the script that sources this
# Sourced by the A/B scripts, from the repository's root, with their arguments:
#   source benchmarks/revision_ab.sh BEFORE AFTER FILE...
# Sets `before`, `after` and `files`; refuses a tree with changes; restores the FILEs to
# HEAD when the script ends. `at_revision REV` checks the FILEs out at REV.
before=$1 after=$2
shift 2
files=("$@")
[ -z "$(git status --porcelain)" ] || { echo "error: commit or stash your changes first" >&2; exit 1; }
trap 'git checkout -q HEAD -- "${files[@]}"' EXIT
at_revision() {
  git checkout -q "$1" -- "${files[@]}"
}
