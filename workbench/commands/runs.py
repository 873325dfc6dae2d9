"""`workbench runs ...`: read any run directory (training, demo, ...) through engine.runs."""

from __future__ import annotations

import time
from typing import Any

import typer

from engine.runs.registry import fmt_eta
from workbench.context import STATE, emit_json, guarded

app = typer.Typer(no_args_is_help=True, add_completion=False)


@app.command("list")
@guarded
def list_cmd(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """All runs of the workspace, newest first: state, step/total, last loss, ETA."""
    from engine.runs import list_runs, run_summary

    ws = STATE.workspace()
    rows = [run_summary(r) for r in list_runs(ws.runs_dir)]
    if as_json:
        emit_json([{**r.__dict__, "state": r.state.value} for r in rows])
        return
    if not rows:
        typer.echo("no runs yet (start one with `workbench train launch CONFIG` or `workbench demo run`)")
        return
    typer.echo(f"{'ID':44} {'STATE':10} {'STEP':>11} {'LOSS':>8} {'ETA':>8}")
    for r in rows:
        step = f"{r.step}/{r.total_steps}" if r.total_steps else str(r.step)
        loss = f"{r.loss:.4f}" if isinstance(r.loss, (int, float)) else "-"
        typer.echo(f"{r.id:44} {r.state.value:10} {step:>11} {loss:>8} {fmt_eta(r.eta_s):>8}")


@app.command("show")
@guarded
def show_cmd(
    run_id: str = typer.Argument(..., help="Run id (or a unique part of it)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """One run: identity, status, last metrics, checkpoints."""
    from engine.runs import open_run
    from engine.runs.registry import read_metrics

    ws = STATE.workspace()
    run = open_run(ws.runs_dir, run_id)
    reader = read_metrics(run)
    out: dict[str, Any] = {
        "id": run.id,
        "path": str(run.path),
        "state": run.state().value,
        "info": run.read_info(),
        "status": run.read_status(),
        "last_metrics": reader.last(),
        "metric_keys": reader.keys(),
        "corrupt_metric_lines": reader.corrupt,
        "checkpoints": run.checkpoints(),
    }
    if as_json:
        emit_json(out)
        return
    typer.echo(f"run      {run.id}\nstate    {out['state']}\npath     {run.path}")
    st = out["status"]
    typer.echo(f"step     {st.get('step')}/{st.get('total_steps')}   {st.get('message', '')}")
    last = reader.last()
    if last:
        typer.echo(
            "last     "
            + "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in last.items() if k != "time")
        )
    for c in out["checkpoints"]:
        typer.echo(f"ckpt     {c['name']}  " + "  ".join(f"{k}={v}" for k, v in c.items() if k not in ("path", "name")))


@app.command("tail")
@guarded
def tail_cmd(
    run_id: str = typer.Argument(..., help="Run id (or a unique part of it)."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new metrics."),
    interval: float = typer.Option(1.0, help="Poll interval in seconds with --follow."),
) -> None:
    """Print metrics.jsonl records (incrementally with --follow), one JSON object per line."""
    import json

    from engine.runs import TERMINAL_STATES, MetricsReader, open_run

    ws = STATE.workspace()
    run = open_run(ws.runs_dir, run_id)
    reader = MetricsReader(run.metrics_path)
    while True:
        for rec in reader.read_new():
            typer.echo(json.dumps(rec))
        if not follow or run.state() in TERMINAL_STATES:
            for rec in reader.read_new():
                typer.echo(json.dumps(rec))
            break
        time.sleep(interval)
