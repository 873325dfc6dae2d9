"""`workbench model ...`: import models into the workspace's [models], list and inspect them."""

from __future__ import annotations

from typing import Any

import typer

from engine.progress import JsonlWriter, errors_reported
from workbench.commands.mix import PROGRESS, PROGRESS_JSONL
from workbench.context import STATE, emit_json, emit_result, guarded

app = typer.Typer(no_args_is_help=True, add_completion=False)

JSON = typer.Option(False, "--json", help="Machine-readable output.")


class _TermProgress:
    """`weights  37% of 3.7 GB` on stderr, redrawn when the percentage moves."""

    def __init__(self) -> None:
        self.key: tuple[str, int] = ("", -1)

    def __call__(self, phase: str, done: int, total: int) -> None:
        import sys

        pct = int(100 * done / total) if total else 100
        if (phase, pct) == self.key:
            return
        if self.key[0] and phase != self.key[0]:
            sys.stderr.write("\n")
        self.key = (phase, pct)
        size = f" of {total / 1e9:.2f} GB" if phase == "weights" and total > 1 << 20 else ""
        sys.stderr.write(f"\r  {phase:9} {pct:3d}%{size}")
        sys.stderr.flush()

    def close(self) -> None:
        if self.key[0]:
            import sys

            sys.stderr.write("\n")


def _reporter(flag: bool | None, writer: JsonlWriter | None) -> Any:
    import sys

    if writer is not None:
        return writer
    return _TermProgress() if (sys.stderr.isatty() if flag is None else flag) else None


@app.command("import")
@guarded
def import_cmd(
    src: str = typer.Argument(..., help="A model folder, a hub id (Qwen/Qwen-1_8B), or a LoRA adapter folder."),
    name: str | None = typer.Option(None, "--name", "-n", help="[models] name (default: from SRC, lowercased)."),
    base: str | None = typer.Option(
        None,
        "--base",
        help="Adapters: the [models] name of the imported base (default: found from the adapter's base model).",
    ),
    force: bool = typer.Option(False, "--force", help="Replace an existing [models] entry / models/NAME folder."),
    progress: bool | None = PROGRESS,
    progress_jsonl: bool = PROGRESS_JSONL,
    as_json: bool = JSON,
) -> None:
    """Import a model: an original Qwen-1 checkpoint is converted to a native Qwen2 checkpoint in
    models/NAME (no remote code; tokenizer.json from qwen.tiktoken, ChatML, eos <|im_end|>); a
    Qwen-1 LoRA adapter (MFTCoder) to an adapter of the imported model; a model of an
    architecture transformers implements is registered as it is."""
    from engine.models.importer import PHASES, import_model

    ws = STATE.workspace()
    say = (lambda m: typer.echo(m, err=True)) if (as_json or progress_jsonl) else typer.echo
    writer = JsonlWriter(PHASES) if progress_jsonl else None
    report = _reporter(progress, writer)
    try:
        with errors_reported(writer):
            res = import_model(ws, src, name=name, base=base, force=force, progress=report, log=say)
    finally:
        if isinstance(report, _TermProgress):
            report.close()
    for w in res.warnings:
        say(f"warning: {w}")
    if emit_result(res.to_json(), writer, as_json):
        return
    verb = {"converted": "converted to native Qwen2", "adapter": "adapter converted", "registered": "registered"}[
        res.kind
    ]
    typer.echo(f"[models] {res.name}: {res.source} {verb} -> {res.path}  ({res.seconds} s)")
    _print_info(res.info)
    tok = (res.info.get("tokenizer") or {}).get("checked_against_tiktoken")
    if tok:
        typer.echo(
            f"  tokenizer  ids identical to qwen.tiktoken on {tok['texts']} probe texts ({tok['tokens']} tokens)"
        )
    if res.kind == "adapter":
        typer.echo(f"  score it   workbench eval run --model {res.name}")
    else:
        typer.echo(f"  use it     [model] path = \"{res.path}\" in a run config (presets: workbench train presets)")


def _print_info(info: dict[str, Any]) -> None:
    rows = [
        ("family", info.get("family")),
        ("architecture", ", ".join(info.get("architectures") or []) or None),
        (
            "lora targets",
            info.get("lora_targets")
            if isinstance(info.get("lora_targets"), str)
            else ", ".join(info.get("lora_targets") or []),
        ),
        ("chat template", "the tokenizer's" if info.get("chat_template") else "ChatML (the tokenizer has none)"),
        ("weights", info.get("weights")),
        ("base", info.get("base")),
    ]
    for k, v in rows:
        if v:
            typer.echo(f"  {k:13} {v}")
    for p in info.get("problems") or []:
        typer.echo(f"  cannot run   {p}")


@app.command("list")
@guarded
def list_cmd(as_json: bool = JSON) -> None:
    """The workspace's [models]: where each is and what it is."""
    from engine.models.catalog import model_rows

    rows = model_rows(STATE.workspace())
    if as_json:
        emit_json(rows)
        return
    if not rows:
        typer.echo("no models; add one: workbench model import SRC")
        return
    for r in rows:
        mark = "*" if r["default"] else " "
        typer.echo(f"{mark} {r['name']:20} {r['family'] or r['model_type'] or '?':16} {r['state']:12} {r['path']}")


@app.command("show")
@guarded
def show_cmd(
    name: str = typer.Argument(..., help="A [models] name, a model folder or adapter folder."), as_json: bool = JSON
) -> None:
    """What a model is: architecture, family, LoRA targets, chat template, weights, import record."""
    from engine.models.catalog import show_model

    out = show_model(STATE.workspace(), name)
    if as_json:
        emit_json(out)
        return
    typer.echo(f"{out['name']}  {out['path']}")
    _print_info(out.get("info") or {})
    rec = out.get("import") or {}
    if rec:
        typer.echo(f"  imported     from {rec.get('source')} ({rec.get('kind')})")
        for w in rec.get("warnings") or []:
            typer.echo(f"  warning      {w}")
