"""Validation: score checkpoints the way the contest did, and better.

    tasks        the contest tasks (CONTEST_TASKS) by harness name, LeetCode-style and custom problem files,
                 named task sets ([tasksets.*] of the workspace) with fixed subsets
    prompts      prompt formats: the contest baseline's exactly, bigcode instruct, the model's
                 chat template (+ prefill); per-task rules
    generate     one backend interface: transformers (hf.py) and vLLM (vllm_backend.py)
    length       the new-token limit as transformers decides it (a checkpoint's max_new_tokens wins)
    effective    the generation each task really runs with, and where it departs from the harness
    groundtruth  a problem set's own canonical solutions, checked before any model is scored
    postprocess  compatible (the reference harness byte for byte) and robust extraction
    run          prompts -> generation -> post-processing -> executor -> scores on disk
    score        pass@k, test-case pass rate, the contest score (full set only; a subset's is
                 labelled), infra errors as failures, flips between results
    store        the validations/<id>/ layout
    inprocess    a fast in-memory API for a model already loaded (in-training validation)

Torch, transformers and peft are imported only when a backend is opened.
"""

from __future__ import annotations

import importlib
from typing import Any

# Names resolve on first use (PEP 562), so `engine.validate.store` / `.review` (what the screen
# reads) do not pull in the executor and pydantic models.
_EXPORTS = {
    "Checkpoint": "checkpoints",
    "resolve_checkpoint": "checkpoints",
    "BACKENDS": "generate",
    "GenOutput": "generate",
    "GenRequest": "generate",
    "GenSettings": "generate",
    "QuickResult": "inprocess",
    "validate_loaded": "inprocess",
    "FORMATS": "prompts",
    "PromptFormat": "prompts",
    "build_prompt": "prompts",
    "load_format": "prompts",
    "ValidationResult": "run",
    "run_validation": "run",
    "explain_validation": "run",
    "check_ground_truth": "groundtruth",
    "ContestScore": "score",
    "contest_view": "score",
    "ValidationDir": "store",
    "list_validations": "store",
    "open_validation": "store",
    "CONTEST_TASKS": "tasks",
    "Task": "tasks",
    "TaskSet": "tasks",
    "resolve_taskset": "tasks",
    "taskset_from_problems": "tasks",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module 'engine.validate' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"engine.validate.{mod}"), name)
    globals()[name] = value
    return value
