"""The `workbench` command. With no subcommand it opens the app; every engine action also has a
headless subcommand (scriptable, testable without a terminal).

Imports here stay light: torch / transformers load only inside the commands that need them,
so `workbench --help` and app start stay fast.
"""

from __future__ import annotations

from pathlib import Path

import typer

from workbench.commands import data, demo, evaluate, mix, model, runs, submit, train
from workbench.context import STATE, emit_json, guarded

app = typer.Typer(
    name="workbench",
    help="A keyboard-driven workbench for code-LLM fine-tuning competitions. Run without a command to open the app.",
    invoke_without_command=True,
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(data.app, name="data", help="Datasets: catalog, load, convert, stats, filter, dedup, decontaminate.")
app.add_typer(mix.app, name="mix", help="Mixtures: tasks, weights and budgets, balance, materialize, MFTCoder interop.")
app.add_typer(model.app, name="model", help="Models: import (Qwen-1 -> native Qwen2, MFTCoder adapters), list, show.")
app.add_typer(train.app, name="train", help="Training runs: launch, monitor, stop, resume, merge.")
app.add_typer(runs.app, name="runs", help="Inspect run directories (any kind of run).")
app.add_typer(evaluate.app, name="eval", help="Validation: generate, execute in the sandbox, pass@k.")
app.add_typer(submit.app, name="submit", help="Contest submission files: build and check.")
app.add_typer(demo.app, name="demo", help="The built-in demo: tiny model, toy curriculum, end-to-end run.")


@app.callback()
def root(
    ctx: typer.Context,
    workspace: str | None = typer.Option(
        None,
        "--workspace",
        "-w",
        envvar="WORKBENCH_WORKSPACE",
        help="Workspace folder (default: $WORKBENCH_WORKSPACE, else the demo workspace in your data dir).",
    ),
    version: bool = typer.Option(False, "--version", help="Print the version and exit."),
) -> None:
    STATE.workspace_arg = workspace
    if version:
        from engine import __version__

        typer.echo(__version__)
        raise typer.Exit()
    if ctx.invoked_subcommand is None:
        _open_app()


@guarded
def _open_app() -> None:
    ws = STATE.workspace()
    from workbench.app import WorkbenchApp

    WorkbenchApp(ws).run()


@app.command("init")
@guarded
def init_cmd(
    path: Path = typer.Argument(..., help="Folder to create (or adopt) as a workspace."),
    name: str | None = typer.Option(None, help="Workspace name (default: the folder name)."),
    demo_assets: bool = typer.Option(
        False, "--demo", help="Also set it up like the demo workspace (tiny model, toy data)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Create a workspace: workspace.toml plus datasets/, mixtures/, runs/, validations/."""
    from engine.workspace import Workspace

    ws = Workspace.init(path, name=name)
    if demo_assets:
        from engine.demo.assets import build_demo_assets
        from engine.demo.workspace import configure_demo

        configure_demo(ws)
        build_demo_assets(ws.root)
    if as_json:
        emit_json({"workspace": str(ws.root), "name": ws.config.workspace.name})
    else:
        typer.echo(f"workspace ready: {ws.root}")
        typer.echo(f"  open it with:  workbench --workspace {ws.root}")


@app.command("info")
@guarded
def info_cmd(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Show the selected workspace: where it is, its models, datasets, task sets and folders."""
    ws = STATE.workspace()
    cfg = ws.config
    out = {
        "workspace": str(ws.root),
        "name": cfg.workspace.name,
        "demo": cfg.workspace.demo,
        "default_model": cfg.defaults.model,
        "models": {k: v.path for k, v in cfg.models.items()},
        "datasets": sorted(cfg.datasets),
        "tasksets": sorted(cfg.tasksets),
        "benchmarks_dir": str(ws.benchmarks_dir()) if ws.benchmarks_dir() else None,
        "runs": sum(1 for _ in ws.runs_dir.iterdir()) if ws.runs_dir.is_dir() else 0,
    }
    if as_json:
        emit_json(out)
        return
    for k, v in out.items():
        typer.echo(f"{k:15} {v}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
