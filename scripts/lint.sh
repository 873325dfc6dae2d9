#!/usr/bin/env bash
# Lint: ruff format --check, ruff check, mypy and the import contracts (lint-imports).
#   scripts/lint.sh                 the whole tree (engine/ screens/ workbench/), as CI runs it
#   scripts/lint.sh FILE|DIR...     only those paths (mypy follows their imports silently, so only
#                                   errors in the named files are reported); the import contracts
#                                   always cover the whole tree (they are about the graph)
# The rules, and why each ignore is there: pyproject.toml ([tool.ruff], [tool.mypy], [tool.importlinter]).
# Runs every step and exits non-zero if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
[ -x "$BIN/ruff" ] || BIN="$(dirname "$(command -v ruff)")"

if [ $# -eq 0 ]; then
  paths=(engine screens workbench)
  mypy_args=()
else
  paths=("$@")
  mypy_args=(--follow-imports=silent)
fi
py=()
for p in "${paths[@]}"; do
  if [ -d "$p" ] || [[ "$p" == *.py ]]; then py+=("$p"); fi
done
[ ${#py[@]} -gt 0 ] || { echo "lint: no Python paths among: $*" >&2; exit 2; }

fail=0
step() { echo "== $1"; shift; "$@" || fail=1; }
# concise: one line per file / finding (`ruff format --diff FILE`, `ruff check FILE` show the detail)
step "ruff format --check" "$BIN/ruff" format --check --output-format concise "${py[@]}"
step "ruff check" "$BIN/ruff" check --output-format concise "${py[@]}"
step "mypy" "$BIN/mypy" "${mypy_args[@]}" "${py[@]}"
contracts() { # lint-imports without its banner: the contract lines and any broken import chains
  "$BIN/lint-imports" --no-cache | sed -n '/^Analyzed/,$p'
}
step "lint-imports" contracts
exit $fail
