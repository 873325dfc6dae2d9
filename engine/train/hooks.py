"""Periodic in-training evaluation hooks.

A hook is `fn(model, tokenizer, step) -> {metric: number}`; the loop calls it on the main
process, with the model in eval mode, every `every` optimizer steps (0 = at each validation),
and appends what it returns to metrics.jsonl at that step. Hooks come from the run config:

    [[hooks]]
    name = "valid_exact_match"      # a registered name, or "package.module:factory"
    every = 50
    options = { samples = 8 }

A factory `(options, HookContext) -> fn` builds each hook once, after the model is loaded.
Register one with `@register_hook("name")`. A hook that raises is reported in stdout.log and
as `hook_error/<name> = 1`; it never stops the run.
"""

from __future__ import annotations

import importlib
import math
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.errors import InputError

HookFn = Callable[[Any, Any, int], dict[str, float]]
HookFactory = Callable[[dict[str, Any], "HookContext"], HookFn]

_REGISTRY: dict[str, HookFactory] = {}


def register_hook(name: str) -> Callable[[HookFactory], HookFactory]:
    def deco(factory: HookFactory) -> HookFactory:
        _REGISTRY[name] = factory
        return factory

    return deco


def registered_hooks() -> list[str]:
    return sorted(_REGISTRY)


@dataclass
class HookContext:
    run: Any  # engine.runs.RunDir
    config: Any  # TrainConfig
    tasks: list[str]
    plan: Any  # engine.train.data.DataPlan
    device: Any


@dataclass
class ActiveHook:
    name: str
    every: int
    fn: HookFn
    at_start: bool = False  # also run once before the first step (a fresh run's step 0)

    def due(self, step: int) -> bool:
        return self.every > 0 and step > 0 and step % self.every == 0


def _factory(name: str) -> HookFactory:
    if name in _REGISTRY:
        return _REGISTRY[name]
    if ":" in name:
        mod, _, attr = name.partition(":")
        try:
            return getattr(importlib.import_module(mod), attr)
        except (ImportError, AttributeError) as e:
            raise InputError(f"cannot import hook '{name}': {e}", field="hooks.name") from None
    raise InputError(
        f"unknown hook '{name}'; registered: {', '.join(registered_hooks()) or 'none'}", field="hooks.name"
    )


def build_hooks(config: Any, ctx: HookContext) -> list[ActiveHook]:
    """The hooks of a run config, built: the `[validation]` section's pass@1 hook, then [[hooks]]."""
    out = []
    v = config.validation
    if v.every:
        from engine.validate.inprocess import pass_at_1_hook

        opts = {"problems": v.problems, "limit": v.limit, "max_new_tokens": v.max_new_tokens, "format": v.format}
        out.append(ActiveHook("validation", v.every, pass_at_1_hook(opts, ctx), at_start=v.at_start))
    for i, spec in enumerate(config.hooks):
        every = spec.every or config.loop.eval_every
        if not every:
            raise InputError(
                f"hook '{spec.name}' has every = 0 and [loop] eval_every = 0: it would never run",
                field=f"hooks.{i}.every",
            )
        out.append(ActiveHook(spec.name, every, _factory(spec.name)(dict(spec.options), ctx)))
    return out


def run_hooks(
    hooks: list[ActiveHook],
    model: Any,
    tokenizer: Any,
    step: int,
    *,
    log: Callable[[str], None],
    at_start: bool = False,
) -> dict[str, Any]:
    """Run the hooks due at `step` (with `at_start`: those that run before the first step)."""
    metrics: dict[str, Any] = {}
    for h in hooks:
        if not (h.at_start if at_start else h.due(step)):
            continue
        try:
            got = h.fn(model, tokenizer, step) or {}
            for k, v in got.items():
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    raise TypeError(f"metric {k!r} is {type(v).__name__}, not a number")
                metrics[k] = float(v)
        except Exception as e:  # noqa: BLE001 - a hook never takes the run down (it is reported as hook_error)
            log(f"hook {h.name} failed at step {step}: {e}\n{traceback.format_exc(limit=4)}")
            metrics[f"hook_error/{h.name}"] = 1.0
    return metrics


# -- built-in hooks ----------------------------------------------------------------------------


@register_hook("valid_exact_match")
def valid_exact_match(options: dict[str, Any], ctx: HookContext) -> HookFn:
    """Greedy-decode the last assistant turn of the first `samples` validation samples of each
    task and report the share reproduced token for token: `exact_match/<task>`, `exact_match`."""
    import numpy as np

    n = int(options.get("samples", 8))
    max_new = int(options.get("max_new_tokens", 256))
    cases: list[tuple[str, list[int], list[int]]] = []
    for tid, task in enumerate(ctx.tasks):
        ts = ctx.plan.splits.get(("valid", tid))
        if ts is None:
            continue
        for i in range(min(n, len(ts))):
            a, ln = int(ts.start[i]), int(ts.length[i])
            ids = np.asarray(ts.input_ids[a : a + ln]).tolist()
            mask = np.asarray(ts.loss_mask[a : a + ln]).tolist()
            end = max(j for j, m in enumerate(mask) if m) + 1
            start = end
            while start > 0 and mask[start - 1]:
                start -= 1
            if start == 0:
                continue
            cases.append((task, ids[:start], ids[start:end][:max_new]))

    def fn(model: Any, tokenizer: Any, step: int) -> dict[str, float]:
        import torch

        hits: dict[str, list[int]] = {}
        dev = next(model.parameters()).device
        for task, prompt, target in cases:
            with torch.no_grad():
                out = model.generate(
                    input_ids=torch.tensor([prompt], device=dev),
                    attention_mask=torch.ones(1, len(prompt), dtype=torch.long, device=dev),
                    max_new_tokens=len(target),
                    min_new_tokens=len(target),
                    do_sample=False,
                    use_cache=True,
                    pad_token_id=ctx.plan.pad_id,
                )
            got = out[0, len(prompt) :].tolist()
            hits.setdefault(task, []).append(int(got[: len(target)] == target))
        res = {f"exact_match/{t}": sum(v) / len(v) for t, v in hits.items()}
        if hits:
            res["exact_match"] = sum(sum(v) for v in hits.values()) / sum(len(v) for v in hits.values())
        return {k: v for k, v in res.items() if math.isfinite(v)}

    return fn
