"""`workbench train ...`: launch, resume, stop, save, status, merge, check-env, presets, gpus."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from workbench.context import STATE, emit_json, fail, guarded

app = typer.Typer(no_args_is_help=True, add_completion=False)

_MARK = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL", "info": "    "}


def _load_config(source: str, overrides: list[str]):
    """A run config from a file path or a preset name, with `--set key=value` overrides."""
    from engine.config import load_model
    from engine.train.config import TrainConfig, apply_overrides, parse_override
    from engine.train.presets import load_preset, preset_names, preset_text

    p = Path(source).expanduser()
    if p.exists():
        cfg, text, origin = load_model(TrainConfig, p), p.read_text(encoding="utf-8"), str(p.resolve())
    elif source in preset_names():
        cfg, text, origin = load_preset(source), preset_text(source), f"preset:{source}"
    else:
        from engine.errors import InputError

        raise InputError(f"no such file, and not a preset ({', '.join(preset_names())})", file=source)
    if overrides:
        cfg = apply_overrides(cfg, dict(parse_override(o) for o in overrides))
        text = cfg.to_toml()
    return cfg, text, origin


def _print_checks(checks) -> None:
    for c in checks:
        typer.echo(f"  {_MARK.get(c.status, c.status)}  {c.name:14} {c.message}")


@app.command("launch")
@guarded
def launch_cmd(
    config: str = typer.Argument(..., help="Run config TOML, or a preset name (see `workbench train presets`)."),
    set_: list[str] = typer.Option([], "--set", "-s", help="Override a key: section.key=value (TOML value)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate and print the command; start nothing."),
    no_check: bool = typer.Option(False, "--no-check", help="Skip the environment check."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Validate a run config, check the environment, create the run directory and start training
    detached (it keeps running when this command, the app or the SSH session ends)."""
    from engine.train import launch as L

    ws = STATE.workspace()
    cfg, text, origin = _load_config(config, set_)
    got = L.start_run(
        cfg,
        workspace_root=ws.root,
        runs_dir=ws.runs_dir,
        source_text=text,
        source_path=origin,
        check=not no_check,
        dry_run=dry_run,
    )
    checks, plan = got.checks, got.plan
    if dry_run:
        out = {
            "ok": True,
            "dry_run": True,
            "command": plan.command,
            "kind": plan.kind,
            "node_commands": plan.node_commands,
            "config": got.config.model_dump(mode="json"),
            "checks": [c.to_json() for c in checks],
        }
        if cfg.uses_deepspeed:
            out["deepspeed"] = L.deepspeed_config(cfg)
        if as_json:
            emit_json(out)
        else:
            if checks:
                _print_checks(checks)
            typer.echo(f"would run: {plan.command}")
        return
    if got.run is None:  # an environment check failed: nothing was started
        if as_json:
            emit_json({"ok": False, "checks": [c.to_json() for c in checks]})
            raise typer.Exit(1)
        typer.echo("environment check failed:")
        _print_checks(checks)
        fail(f"{len(got.failed)} check(s) failed; fix them (or pass --no-check)")
    run, pid = got.run, got.pid
    out = {
        "ok": True,
        "run": run.id,
        "path": str(run.path),
        "pid": pid,
        "command": plan.command,
        "kind": plan.kind,
        "files": plan.files,
        "node_commands": plan.node_commands,
        "checks": [c.to_json() for c in checks],
    }
    if as_json:
        emit_json(out)
        return
    typer.echo(f"launched {run.id} (pid {pid})")
    typer.echo(f"  command  {plan.command}")
    typer.echo(f"  log      {run.stdout_log}")
    for m, cmd in plan.node_commands.items():
        typer.echo(f"  machine {m}: {cmd}")
    typer.echo(f"  follow   workbench runs tail {run.id} -f     stop: workbench train stop {run.id}")


@app.command("resume")
@guarded
def resume_cmd(
    run_id: str = typer.Argument(..., help="Run id (or a unique part of it)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Continue a stopped, failed or lost run from its newest complete checkpoint (weights,
    optimizer, scheduler, RNG and data position); metrics continue at the checkpoint's step."""
    from engine.runs import open_run
    from engine.train import launch as L
    from engine.train.checkpoints import latest_checkpoint

    ws = STATE.workspace()
    run = open_run(ws.runs_dir, run_id)
    plan = L.resume_plan(run)
    ck = latest_checkpoint(run)
    pid = L.launch(run, plan)
    out = {
        "ok": True,
        "run": run.id,
        "pid": pid,
        "command": plan.command,
        "from_step": ck["step"] if ck else 0,
        "checkpoint": ck["name"] if ck else None,
    }
    if as_json:
        emit_json(out)
    else:
        typer.echo(f"resumed {run.id} from {out['checkpoint'] or 'the start'} (pid {pid})")


@app.command("stop")
@guarded
def stop_cmd(
    run_id: str = typer.Argument(..., help="Run id (or a unique part of it)."),
    kill: bool = typer.Option(
        False,
        "--kill",
        help="Hard stop now, no save: the run leaves without starting a checkpoint (SIGKILL after 10 s).",
    ),
    wait: float = typer.Option(0.0, help="Wait up to this many seconds for the run to end."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Ask a run to save a checkpoint and exit (state `stopped`, resumable)."""
    from engine.runs import TERMINAL_STATES, control, open_run

    ws = STATE.workspace()
    run = open_run(ws.runs_dir, run_id)
    if kill:
        state = control.kill(run)
    else:
        if run.state() in TERMINAL_STATES:
            fail(f"run {run.id} is not running ({run.state().value})")
        control.request(run, "stop")
        deadline = time.time() + wait
        while time.time() < deadline and run.state() not in TERMINAL_STATES:
            time.sleep(0.5)
        state = run.state()
    if as_json:
        emit_json({"run": run.id, "state": state.value})
    else:
        typer.echo(
            f"{run.id}: {state.value}"
            + ("" if kill or state in TERMINAL_STATES else " (stop requested: it saves, then exits)")
        )


@app.command("save")
@guarded
def save_cmd(
    run_id: str = typer.Argument(..., help="Run id (or a unique part of it)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Ask a running run to save a checkpoint now (it keeps training)."""
    from engine.runs import TERMINAL_STATES, control, open_run

    ws = STATE.workspace()
    run = open_run(ws.runs_dir, run_id)
    if run.state() in TERMINAL_STATES:
        fail(f"run {run.id} is not running ({run.state().value})")
    control.request(run, "save")
    if as_json:
        emit_json({"run": run.id, "requested": "save"})
    else:
        typer.echo(f"{run.id}: save requested (after the current step)")


@app.command("status")
@guarded
def status_cmd(
    run_id: str = typer.Argument(..., help="Run id (or a unique part of it)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """A run's state, progress, last metrics, data report and checkpoints."""
    from engine.runs import open_run, run_summary
    from engine.runs.registry import read_metrics

    ws = STATE.workspace()
    run = open_run(ws.runs_dir, run_id)
    s = run_summary(run)
    reader = read_metrics(run)
    last_valid = next((r for r in reversed(reader.records) if "valid_loss" in r), None)
    checkpoints = run.checkpoints()
    data = run.read_data_report()
    out = {
        "run": run.id,
        "state": s.state.value,
        "step": s.step,
        "total_steps": s.total_steps,
        "loss": s.loss,
        "eta_s": s.eta_s,
        "message": s.message,
        "status": run.read_status(),
        "last": reader.last(),
        "last_valid": last_valid,
        "data": data,
        "checkpoints": checkpoints,
        "command": run.read_info().get("command"),
    }
    if as_json:
        emit_json(out)
        return
    from engine.runs.registry import fmt_eta

    typer.echo(
        f"{run.id}  {s.state.value}  step {s.step}/{s.total_steps or '?'}  "
        f"loss {s.loss if s.loss is None else round(s.loss, 4)}  ETA {fmt_eta(s.eta_s)}"
    )
    if s.message:
        typer.echo(f"  {s.message}")
    if last_valid:
        typer.echo(
            "  valid  "
            + "  ".join(
                f"{k.split('/', 1)[-1]}={v:.4f}"
                for k, v in last_valid.items()
                if k.startswith("valid_loss/") and isinstance(v, float)
            )
        )
    if data:
        typer.echo(
            f"  data   fill {data.get('fill')}, truncated {data.get('truncated')}, dropped "
            f"{data.get('dropped_overlong', 0)} overlong + {data.get('dropped_no_trained', 0)} empty"
        )
    for c in checkpoints:
        typer.echo(f"  ckpt   {c['name']}  {c.get('kind', '')}  valid_loss={c.get('valid_loss', '-')}")


@app.command("merge")
@guarded
def merge_cmd(
    run_id: str = typer.Argument(..., help="Run id (or a unique part of it)."),
    checkpoint: str = typer.Option("best", "--checkpoint", "-c", help="best, last, or a step number."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Output folder (default: RUN/merged/step-N)."),
    dtype: str = typer.Option("auto", help="auto (bf16 on GPU, fp32 on CPU), bf16, fp16 or fp32."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Merge a checkpoint's LoRA adapter into its base model and save a standard Hugging Face
    model folder (for evaluation and submission)."""
    from engine.runs import open_run
    from engine.train.merge import merge_checkpoint

    if dtype not in ("auto", "bf16", "fp16", "fp32"):
        fail("--dtype must be auto, bf16, fp16 or fp32")
    ws = STATE.workspace()
    run = open_run(ws.runs_dir, run_id)
    info = merge_checkpoint(run, checkpoint, out, dtype=dtype)
    if as_json:
        emit_json(info)
    else:
        typer.echo(f"merged {info['checkpoint']} of {run.id} into {info['path']} ({info['seconds']} s)")


@app.command("check-env")
@guarded
def check_env_cmd(
    config: str | None = typer.Argument(None, help="Run config (file or preset) to check against."),
    set_: list[str] = typer.Option([], "--set", "-s", help="Override a key: section.key=value."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """What this machine has (torch/CUDA, GPUs and free memory, DeepSpeed, bitsandbytes) and,
    given a config, whether it can run it."""
    from engine.train.envcheck import check_environment, failures

    cfg = _load_config(config, set_)[0] if config else None
    root = STATE.workspace().root if config else None
    checks = check_environment(cfg, workspace_root=root)
    bad = failures(checks)
    if as_json:
        emit_json({"ok": not bad, "checks": [c.to_json() for c in checks]})
    else:
        _print_checks(checks)
        typer.echo("ok" if not bad else f"{len(bad)} problem(s)")
    if bad:
        raise typer.Exit(1)


@app.command("presets")
@guarded
def presets_cmd(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """The shipped run-config presets."""
    from engine.train.presets import preset_summaries

    rows = preset_summaries()
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        typer.echo(f"{r['name']:32} {r['description']}")


@app.command("new")
@guarded
def new_cmd(
    preset: str = typer.Argument(..., help="Preset to start from."),
    out: Path = typer.Argument(..., help="Where to write the run config (TOML)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a preset to a file to edit, then `workbench train launch FILE`."""
    from engine.train.presets import preset_text

    text = preset_text(preset)
    if out.exists() and not force:
        fail(f"{out} exists (use --force to overwrite)")
    out.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {out}")


@app.command("gpus")
@guarded
def gpus_cmd(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """The machine's GPUs: utilisation, memory, temperature and the processes on them."""
    from engine.train.gpu import gpu_snapshot

    snap = gpu_snapshot()
    if as_json:
        emit_json(snap.to_json())
        return
    typer.echo(snap.summary())
    for g in snap.gpus:
        typer.echo(
            f"  gpu{g.index} {g.name}  util {g.util_pct}%  mem {g.mem_used_mib / 1024:.1f}/"
            f"{g.mem_total_mib / 1024:.1f} GiB  {g.temp_c}°C"
        )
        for p in g.processes:
            typer.echo(f"      pid {p.pid} {p.name} {p.used_mib or 0:.0f} MiB")
