"""Validation of a model already in memory, for in-training checks every N steps.

    from engine.validate import validate_loaded
    q = validate_loaded(model, tokenizer, problems)          # problems: Problems or rows, or {task: [...]}
    q.pass_at_1, q.by_task, q.by_language, q.metrics()      # {"pass@1": .., "pass@1/python": .., ...}

Defaults suit the demo's toy problems (and chat-tuned models): the tokenizer's chat template,
robust post-processing, greedy, batched; nothing is written to disk. The model is left in the
train/eval mode it was in.

As a trainer hook ([[hooks]] in a run config, engine/train/hooks.py):
    [[hooks]]
    name = "engine.validate.inprocess:pass_at_1_hook"
    every = 50
    options = { problems = "data/toy/heldout.jsonl", limit = 32, max_new_tokens = 96 }
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from engine.validate.generate import GenSettings


@dataclass
class QuickResult:
    pass_at_1: float | None
    by_task: dict[str, float | None]
    by_language: dict[str, float | None]
    test_pass_rate: float | None
    n_problems: int
    generate_s: float
    execute_s: float
    records: list[dict[str, Any]] = field(default_factory=list, repr=False)
    generations: list[dict[str, Any]] = field(default_factory=list, repr=False)

    def metrics(self, prefix: str = "pass@1") -> dict[str, float]:
        """Flat numbers for metrics.jsonl: overall, per task and per language (None dropped)."""
        out: dict[str, float] = {}
        if self.pass_at_1 is not None:
            out[prefix] = self.pass_at_1
        for k, v in self.by_task.items():
            if v is not None and len(self.by_task) > 1:
                out[f"{prefix}/{k}"] = v
        for k, v in self.by_language.items():
            if v is not None:
                out[f"{prefix}/{k}"] = v
        if self.test_pass_rate is not None:
            out["test_pass_rate"] = self.test_pass_rate
        return out


def validate_loaded(
    model: Any,
    tokenizer: Any,
    problems: Any,
    *,
    fmt: str = "chat",
    postprocess: str | None = None,
    max_new_tokens: int = 256,
    batch_size: int = 32,
    workers: int | None = None,
    timeout: float | None = None,
    exec_cache: bool = True,
) -> QuickResult:
    """Greedy-generate for `problems` with the loaded model, post-process, execute, score."""
    from engine.validate.hf import HFBackend
    from engine.validate.run import run_validation
    from engine.validate.tasks import taskset_from_problems

    ts = taskset_from_problems(problems)
    backend = HFBackend.from_loaded(model, tokenizer)
    settings = GenSettings(max_new_tokens=max_new_tokens, batch_size=batch_size, stop="eos")
    # no ground-truth check: a training hook has no one to warn; `eval run` checks the set when it is scored
    res = run_validation(
        loaded=backend,
        tasks=ts,
        fmt=fmt,
        postprocess=postprocess,
        settings=settings,
        compare_modes=False,
        write=False,
        workers=workers,
        timeout=timeout,
        exec_cache=exec_cache,
        ground_truth=False,
    )
    s = res.summary
    return QuickResult(
        pass_at_1=s.get("pass@1"),
        by_task={k: v.get("pass@1") for k, v in s["tasks"].items()},
        by_language={k: v.get("pass@1") for k, v in s["languages"].items()},
        test_pass_rate=s.get("test_pass_rate"),
        n_problems=s.get("n_problems", 0),
        generate_s=s["timings"].get("generate_s", 0.0),
        execute_s=s["timings"].get("execute_s", 0.0),
        records=res.records,
        generations=res.generations,
    )


def pass_at_1_hook(options: dict[str, Any], ctx: Any) -> Any:
    """Trainer hook factory: pass@1 of the model on a fixed list of problems.
    options: problems (a problem file or a task set of the run's workspace), limit (first N
    problems, default 32), max_new_tokens (default 128), format (default chat), postprocess."""
    from pathlib import Path

    from engine.errors import InputError
    from engine.validate.tasks import resolve_taskset

    spec = options.get("problems")
    if not spec:
        raise InputError(
            "the pass@1 hook needs options.problems (a problem file or a task set)", field="hooks.options.problems"
        )
    ws = None
    run_path = Path(getattr(ctx.run, "path", ".")) if ctx is not None else None
    if run_path is not None:
        root = run_path.parent.parent
        if (root / "workspace.toml").is_file():
            from engine.workspace import Workspace

            ws = Workspace.open(root)
    ts = resolve_taskset(str(spec), ws=ws, limit=int(options.get("limit", 32)))
    groups = {t.name: list(t.problems) for t in ts.tasks}
    max_new = int(options.get("max_new_tokens", 128))
    fmt = str(options.get("format", "chat"))
    post = options.get("postprocess")

    def fn(model: Any, tokenizer: Any, step: int) -> dict[str, float]:
        t0 = time.monotonic()
        q = validate_loaded(model, tokenizer, groups, fmt=fmt, postprocess=post, max_new_tokens=max_new)
        return {**q.metrics(), "validate_s": time.monotonic() - t0}

    return fn
