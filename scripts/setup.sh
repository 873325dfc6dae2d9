#!/usr/bin/env bash
# Create .venv in the project root and install workbench (editable) with its test tools.
# Idempotent: a stamp over the install inputs skips the work when nothing changed.
#
# Torch: on a machine without an NVIDIA GPU we pin the CPU build (torch==2.13.0); an unpinned
# torch would pull a multi-GB CUDA build. On a GPU box, a torch already in the venv is kept,
# and a fresh venv gets pip's default (CUDA) torch.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
VENV=.venv

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating $VENV with $($PY --version 2>&1)"
  "$PY" -m venv "$VENV"
fi

stamp="$VENV/.workbench-install"
want="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$VENV/bin/workbench" ]; then
  exit 0
fi

export PIP_DISABLE_PIP_VERSION_CHECK=1
if ! "$VENV/bin/python" -c "import torch" >/dev/null 2>&1; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    echo "[setup] NVIDIA GPU found: installing the default (CUDA) torch"
    "$VENV/bin/pip" install --quiet torch
  else
    echo "[setup] no GPU: installing the CPU build torch==2.13.0"
    "$VENV/bin/pip" install --quiet "torch==2.13.0"
  fi
fi
echo "[setup] installing workbench and its dependencies (pip install -e .[dev], compat editable mode: a plain path entry, no import hook at start-up)"
"$VENV/bin/pip" install --quiet -e ".[dev]" --config-settings editable_mode=compat
echo "$want" > "$stamp"
echo "[setup] done: $VENV/bin/workbench"
