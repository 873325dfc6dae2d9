"""The end-to-end demo: a tiny model visibly learns to write code on CPU.

    prepare(ws)   demo assets (tiny model, toy curriculum), the toy datasets processed through
                  the data pipeline, the two-task mixture `toy` (one task per language)
    start(ws)     create a run from the `tiny-cpu-demo` preset and start this module detached:
                      python -m engine.demo.run RUN_DIR
                  which trains (in-training pass@1 on held-out toy problems every 100 steps),
                  then scores the first and the last checkpoint on every held-out problem
                  (validations/<id>/, shown by the Validation and Compare screens) and writes
                  `demo.json` into the run directory with the figures.
    demo_figures(run) the figures: pass@1 curve, final pass@1 per language, training time, the
                  in-training validation's cost.

The run is an ordinary run directory: the Runs screen shows its loss and pass@1 live, and it
survives the app or the CLI that started it.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.demo.curriculum import LANGS
from engine.fsutil import atomic_write_json, read_json_or
from engine.runs import RunDir, RunState
from engine.workspace import Workspace

PRESET = "tiny-cpu-demo"
MIXTURE = "toy"  # the mixture prepare() makes; the preset's [data] mixture names it
Log = Callable[[str], None]


def prepare(ws: Workspace, *, log: Log = print) -> dict[str, Any]:
    """Everything the demo trains on, built or reused (each step is cached)."""
    from engine.data.pipeline import ProcessOptions, process
    from engine.demo.assets import build_demo_assets
    from engine.demo.workspace import configure_demo
    from engine.mixture import store as mixtures

    t0 = time.time()
    configure_demo(ws)
    assets = build_demo_assets(ws.root)
    log("demo assets " + ("ready (cached)" if assets.get("cached") else f"built in {assets['seconds']} s"))
    reports = {}
    for lang in LANGS:
        name = f"toy_{lang}"
        # The curriculum is templated: its instances are near-duplicates of each other by
        # design, so near-dedup would (rightly, for real data) fold them together. Everything
        # else runs: format check, language, syntax, quality, length, exact dedup.
        rep = process(ws, name, ProcessOptions(inputs=[name], languages=[lang], near_dedup=False, decontaminate=False))
        reports[name] = {"rows": rep.get("rows"), "up_to_date": bool(rep.get("up_to_date"))}
        log(f"dataset {name}: {rep.get('rows')} rows" + (" (up to date)" if rep.get("up_to_date") else " processed"))
    if MIXTURE not in mixtures.names(ws):
        mixtures.create(
            ws,
            MIXTURE,
            tasks={lang: [f"toy_{lang}"] for lang in LANGS},
            seed=0,
            valid_fraction=0.04,
            description="demo: the toy curriculum, one task per language",
        )
        log(f"mixture {MIXTURE}: created (tasks {', '.join(LANGS)})")
    return {"datasets": reports, "mixture": MIXTURE, "seconds": round(time.time() - t0, 1)}


def demo_config(steps: int | None = None) -> Any:
    from engine.train.presets import load_preset

    cfg = load_preset(PRESET)
    if steps is not None:
        data = cfg.model_dump(mode="json")
        data["loop"]["max_steps"] = steps
        every = max(1, min(cfg.validation.every, steps // 2))  # at least two checkpoints to compare
        data["validation"]["every"] = every
        data["loop"]["eval_every"] = every
        data["loop"]["save_every"] = every
        data["loop"]["keep_last"] = max(cfg.loop.keep_last, steps // every + 1)
        cfg = type(cfg).model_validate(data)
    return cfg


def start(ws: Workspace, *, steps: int | None = None, log: Log = print, threads: int | None = None) -> RunDir:
    """Prepare, create the run and start the demo detached. Returns the run."""
    from engine.train.launch import start_run

    prepare(ws, log=log)
    cfg = demo_config(steps)
    # one torch thread unless the user says otherwise: on a 2-core box a second thread
    # beside any other work (the app, a compiler) makes steps 10-20x slower
    threads_env = {"OMP_NUM_THREADS": str(threads or os.environ.get("OMP_NUM_THREADS") or 1)}
    # the trainer's own launch, with this module (train, then score) as the program
    got = start_run(
        cfg,
        workspace_root=ws.root,
        source_text=cfg.to_toml(),
        kind="demo",
        check=False,
        module="engine.demo.run",
        env=threads_env,
    )
    assert got.run is not None  # no environment check, no dry run: the run is started
    log(f"demo run {got.run.id} started: {got.run.path}")
    return got.run


# -- the detached process -------------------------------------------------------------------------


def orchestrate(run_dir: str | Path) -> int:
    from engine.train.loop import log, train

    run = RunDir(run_dir)
    ws = Workspace.open(Path(run.read_info().get("workspace") or run.path.parent.parent))
    t0 = time.time()
    state = train(run.path)
    train_wall = time.time() - t0
    if state != RunState.COMPLETED:
        log(f"demo: training ended {state.value}; no final validation")
        return 1
    keep = ("step", "total_steps", "eta_s", "epoch", "loss", "best_valid_loss", "tokens_per_s")
    status = {k: v for k, v in run.read_status().items() if k in keep}
    cks = run.checkpoints()
    picks = [cks[0], cks[-1]] if len(cks) > 1 else cks
    validations: dict[str, Any] = {}
    try:
        _score_checkpoints(run, ws, picks, status, validations, log)
    except Exception as e:  # noqa: BLE001 - training succeeded; say what failed and keep the run completed
        log(f"demo: scoring the checkpoints failed: {type(e).__name__}: {e}")
        run.write_status(RunState.COMPLETED, **{**status, "phase": "done", "message": f"scoring failed: {e}"})
        return 1
    summary = demo_figures(run)
    summary.update(train_wall_s=round(train_wall, 1), validations=validations)
    atomic_write_json(run.path / "demo.json", summary)
    final = validations.get(picks[-1]["name"], {}) if picks else {}
    msg = (
        f"demo done: held-out pass@1 {final.get('pass@1') or 0:.1%} "
        + " ".join(f"{k} {v:.0%}" for k, v in (final.get("languages") or {}).items() if v is not None)
        + f"; trained {summary['train_s']:.0f} s (+{summary['validation_s']:.0f} s in-training validation)"
    )
    run.write_status(RunState.COMPLETED, **{**status, "phase": "done", "message": msg})
    log(msg)
    return 0


def _score_checkpoints(
    run: RunDir,
    ws: Workspace,
    picks: list[dict[str, Any]],
    status: dict[str, Any],
    validations: dict[str, Any],
    log: Log,
) -> None:
    """Score the first and last checkpoints on every held-out problem (validations/<id>/), with the
    run's own in-training validation settings (task set, prompt format, answer length), unlimited."""
    from engine.train.config import load_run_config
    from engine.validate.generate import GenSettings
    from engine.validate.run import run_validation
    from engine.validate.tasks import resolve_taskset

    val = load_run_config(run).validation
    taskset = resolve_taskset(val.problems, ws=ws)
    for ck in picks:
        run.write_status(
            RunState.RUNNING, **{**status, "phase": f"demo: scoring {ck['name']} on every held-out problem"}
        )
        log(f"demo: scoring {ck['name']} on {taskset.n_problems} held-out toy problems ...")
        res = run_validation(
            ws=ws,
            model=ck["path"],
            tasks=taskset,
            fmt=val.format,
            compare_modes=False,
            settings=GenSettings(max_new_tokens=val.max_new_tokens, batch_size=32),
            label=f"demo-{run.id[-4:]}-{ck['name']}",
        )
        s = res.summary
        validations[ck["name"]] = {
            "id": res.id,
            "step": ck["step"],
            "pass@1": s.get("pass@1"),
            "languages": {k: v.get("pass@1") for k, v in s.get("languages", {}).items()},
        }
        log(
            f"demo: {ck['name']} pass@1 {s.get('pass@1') or 0:.3f} "
            + " ".join(f"{k} {v:.3f}" for k, v in validations[ck["name"]]["languages"].items() if v is not None)
            + f" -> validations/{res.id}"
        )


def demo_figures(run: RunDir) -> dict[str, Any]:
    """The demo's figures from its run directory alone."""
    from engine.runs import MetricsReader

    recs = MetricsReader(run.metrics_path).read_all()
    curve = [
        {
            "step": r["step"],
            "pass@1": r["pass@1"],
            **{f"pass@1/{lang}": r.get(f"pass@1/{lang}") for lang in LANGS},
            "validate_s": r.get("validate_s"),
        }
        for r in recs
        if r.get("pass@1") is not None
    ]
    costs = [c["validate_s"] for c in curve if isinstance(c.get("validate_s"), (int, float))]
    times = [r["time"] for r in recs]
    wall = (max(times) - min(times)) if times else 0.0
    return {
        "run": run.id,
        "steps": max((r["step"] for r in recs), default=0),
        "curve": curve,
        "first_pass@1": curve[0]["pass@1"] if curve else None,
        "last_pass@1": curve[-1]["pass@1"] if curve else None,
        "validation_s": round(sum(costs), 1),
        "validation_s_per_eval": round(sum(costs) / len(costs), 1) if costs else None,
        "train_s": round(wall - sum(costs[1:] if curve and curve[0]["step"] == 0 else costs), 1),
    }


def read_demo(run: RunDir) -> dict[str, Any] | None:
    """demo.json of a finished demo run (None while it runs)."""
    return read_json_or(run.path / "demo.json")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m engine.demo.run RUN_DIR", file=sys.stderr)
        return 2
    threads = os.environ.get("OMP_NUM_THREADS")
    if threads:
        import torch

        torch.set_num_threads(max(1, int(threads)))
    return orchestrate(args[0])


if __name__ == "__main__":
    raise SystemExit(main())
