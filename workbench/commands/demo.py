"""`workbench demo ...`: the built-in demo assets and the end-to-end demo run."""

from __future__ import annotations

import time

import typer

from workbench.context import STATE, emit_json, guarded

app = typer.Typer(no_args_is_help=True, add_completion=False)


@app.command("build")
@guarded
def build_cmd(
    force: bool = typer.Option(False, "--force", help="Rebuild even if cached."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Build the demo assets into the workspace (cached): a tiny Qwen2 with a tokenizer trained
    on the fly, and the toy curriculum. Nothing is downloaded."""
    ws = STATE.workspace()
    from engine.demo.assets import build_demo_assets, demo_assets_ready

    if not as_json and (force or not demo_assets_ready(ws.root)):
        typer.echo("building demo assets (tiny model + toy curriculum) ...")
    info = build_demo_assets(ws.root, force=force)
    if as_json:
        emit_json(info)
    elif info.get("cached"):
        typer.echo(f"demo assets ready (cached): {info['model']}")
    else:
        typer.echo(
            f"demo assets built in {info['seconds']} s: {info['model']} "
            f"({info['parameters']:,} parameters), toy data {info['data']}"
        )


@app.command("run")
@guarded
def run_cmd(
    steps: int = typer.Option(None, "--steps", min=1, help="Training steps (default: the preset's 700)."),
    detach: bool = typer.Option(False, "--detach", help="Start it and return; follow it in the app (Runs screen)."),
    threads: int = typer.Option(None, "--threads", min=1, help="Torch threads (default: $OMP_NUM_THREADS or 1)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output (the final figures)."),
) -> None:
    """Train the tiny model on the toy curriculum and watch it learn: pass@1 on held-out problems,
    measured in the sandbox every 100 steps, climbs from 0 to ~95%+. Runs detached (it survives
    this command); without --detach this command follows it and prints the figures."""
    from engine.demo import run as demo
    from engine.runs import MetricsReader
    from engine.runs.layout import process_alive

    ws = STATE.workspace()
    say = (lambda m: typer.echo(m, err=True)) if as_json else typer.echo
    run = demo.start(ws, steps=steps, log=say, threads=threads)
    if detach:
        if as_json:
            emit_json({"run": run.id, "path": str(run.path)})
        else:
            say(f"follow it: workbench runs tail {run.id} -f   (or the Runs screen: workbench, then 3)")
        return
    reader = MetricsReader(run.metrics_path)

    def show_new() -> None:
        for r in reader.read_new():
            if r.get("pass@1") is not None:
                per = "  ".join(f"{k} {r[f'pass@1/{k}']:.0%}" for k in demo.LANGS if r.get(f"pass@1/{k}") is not None)
                say(f"step {r['step']:>5}  pass@1 {r['pass@1']:6.1%}  ({per})  [{r.get('validate_s', 0):.1f} s]")
            elif r.get("loss") is not None and r["step"] % 50 == 0:
                say(f"step {r['step']:>5}  loss {r['loss']:.4f}")

    info = run.read_info()  # pid and start time are recorded before demo.start returns
    while process_alive(info.get("pid"), info.get("proc_start")):
        show_new()
        time.sleep(1.0)
    show_new()  # what it wrote just before it exited
    result = demo.read_demo(run)
    if result is None:
        typer.secho(f"demo run {run.id} ended {run.state().value}; see {run.stdout_log}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)
    if as_json:
        emit_json(result)
        return
    say("")
    say(
        f"held-out pass@1 went {result['first_pass@1']:.0%} -> {result['last_pass@1']:.0%} in-training "
        f"({result['steps']} steps, {result['train_s']:.0f} s of training, "
        f"{result['validation_s_per_eval']} s per in-training validation)"
    )
    for name, v in result.get("validations", {}).items():
        langs = "  ".join(f"{k} {x:.1%}" for k, x in v["languages"].items() if x is not None)
        say(f"  {name}: pass@1 {v['pass@1']:.1%} on all held-out problems ({langs})  validations/{v['id']}")
    say("see it in the app: workbench  (3 Runs, 4 Validation, 5 Compare)")
