"""`workbench demo ...`: the built-in demo assets and (later) the end-to-end demo run."""

from __future__ import annotations

import typer

from workbench.context import STATE, emit_json, guarded

app = typer.Typer(no_args_is_help=True, add_completion=False)


@app.command("build")
@guarded
def build_cmd(force: bool = typer.Option(False, "--force", help="Rebuild even if cached."),
              as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Build the demo assets into the workspace (cached): a tiny Qwen2 with a tokenizer trained
    on the fly, and the toy curriculum. Nothing is downloaded."""
    ws = STATE.workspace()
    from engine.demo.assets import build_demo_assets, demo_assets_ready

    if not force and demo_assets_ready(ws.root):
        info = {"cached": True, "model": str(ws.root / "models" / "tiny")}
    else:
        if not as_json:
            typer.echo("building demo assets (tiny model + toy curriculum) ...")
        info = build_demo_assets(ws.root, force=force)
    if as_json:
        emit_json(info)
    elif info.get("cached"):
        typer.echo(f"demo assets ready (cached): {info['model']}")
    else:
        typer.echo(f"demo assets built in {info['seconds']} s: {info['model']} "
                   f"({info['parameters']:,} parameters), toy data {info['data']}")
