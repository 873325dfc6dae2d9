"""`workbench data ...`: the dataset catalog, looking at data, stats, processing and export.

Every command takes `--json` for machine-readable output; progress of long passes goes to
stderr so that stdout stays parseable.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import typer

from workbench.context import STATE, emit_json, emit_result, guarded

app = typer.Typer(no_args_is_help=True, add_completion=False)

JSON_OPT = typer.Option(False, "--json", help="Machine-readable output.")
PROGRESS_JSONL = typer.Option(
    False, "--progress-jsonl", help="Progress and the result as JSON lines on stdout (for programs: the app)."
)
BAR_WIDTH = 40


# -- progress -----------------------------------------------------------------------------------
class _Progress:
    """A progress bar on stderr (rich, when stderr is a terminal), else a line per stage and
    every few seconds."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self._rich: Any = None
        self._task: Any = None
        self._stage = ""
        self._last = 0.0
        if not quiet and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._rich = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )

    def __enter__(self) -> _Progress:
        if self._rich is not None:
            self._rich.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._rich is not None:
            self._rich.stop()

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if self.quiet:
            return
        if self._rich is not None:
            if stage != self._stage or self._task is None:
                if self._task is not None:
                    self._rich.remove_task(self._task)
                self._task = self._rich.add_task(stage, total=total)
                self._stage = stage
            self._rich.update(self._task, completed=done, total=total)
            return
        now = time.time()
        if stage != self._stage or now - self._last > 5:
            typer.echo(f"  {stage}: {done}" + (f"/{total}" if total else ""), err=True)
            self._stage, self._last = stage, now


# -- text helpers -----------------------------------------------------------------------------
def _bar(frac: float, width: int = BAR_WIDTH) -> str:
    full = int(round(max(0.0, min(1.0, frac)) * width))
    return "█" * full + "·" * (width - full)


def _print_stats(st: dict[str, Any]) -> None:
    typer.echo(f"rows            {st.get('rows', 0)}")
    tok = st.get("tokens") or {}
    if tok.get("count"):
        typer.echo(
            f"tokens          p50 {tok['p50']}  p90 {tok['p90']}  p99 {tok['p99']}  max {tok['max']}  "
            f"mean {tok['mean']}  total {tok['total']}"
        )
        if "over_seq_length" in tok:
            typer.echo(f"over seq_length {tok['over_seq_length']} (seq_length {tok['seq_length']})")
        hist = tok["histogram"]
        top = max(hist["counts"]) or 1
        typer.echo("token length histogram")
        for lo, hi, c in zip(hist["edges"], hist["edges"][1:], hist["counts"]):
            typer.echo(f"  {lo:>6}-{hi - 1:<6} {_bar(c / top, 30)} {c}")
    else:
        typer.echo(f"tokens          {tok.get('note', 'unknown')}")
    share = st.get("language_share") or {}
    if share:
        typer.echo("languages")
        for lang, frac in share.items():
            typer.echo(f"  {lang:<11} {_bar(frac, 30)} {frac:6.1%}  ({st['languages'][lang]})")
    turns = st.get("turns") or {}
    if turns:
        typer.echo(
            "answers/sample  " + "  ".join(f"{k}: {v}" for k, v in turns.items()) + f"  (mean {st.get('turns_mean')})"
        )


def _print_warnings(rep: dict[str, Any]) -> None:
    """A processed dataset's warnings, last, where they are seen (a skipped decontamination)."""
    from engine.data.notices import report_warnings

    for w in report_warnings(rep):
        typer.secho(f"warning: {w}", fg=typer.colors.YELLOW, bold=True)


def _print_record(rec: dict[str, Any], width: int = 400) -> None:
    where = f"  ({rec['file']}:{rec['line']})" if rec.get("file") else ""
    langs = ",".join(rec.get("languages") or []) or "-"
    typer.echo(
        typer.style(
            f"── {rec['id']}  languages: {langs}"
            + (f"  tokens: {rec['n_tokens']}" if rec.get("n_tokens", -1) not in (-1, None) else "")
            + where,
            bold=True,
        )
    )
    for r in rec["chat_rounds"]:
        text = r["content"]
        if len(text) > width:
            text = text[:width] + f" … (+{len(r['content']) - width} chars)"
        typer.echo(f"[{r['role']}] {text}")


# -- commands -----------------------------------------------------------------------------------
@app.command("add")
@guarded
def add_cmd(
    name: str = typer.Argument(..., help="Catalog name (letters, digits, '-', '_', '.')."),
    source: str = typer.Argument(
        ..., help="Hub id (owner/name) or local file, folder or glob (JSON, JSONL, Parquet, CSV; .gz ok)."
    ),
    fmt: str = typer.Option(
        "auto",
        "--format",
        "-f",
        help="auto, alpaca, evol, prompt_completion, prompt_answer, sharegpt, messages, chat_rounds, leetcode.",
    ),
    column: list[str] = typer.Option(
        [], "--column", "-c", help="FIELD=COLUMN: read a format field from another column (repeatable)."
    ),
    config: str | None = typer.Option(None, help="Hub dataset config (subset)."),
    split: str = typer.Option("train", help="Split to load."),
    streaming: bool = typer.Option(False, help="Stream a hub dataset instead of downloading it whole."),
    description: str = typer.Option("", help="A note shown in the catalog."),
    kind: str = typer.Option("auto", help="auto (guess from SOURCE), hub or local."),
    replace: bool = typer.Option(False, help="Overwrite an existing entry of that name."),
    check: bool = typer.Option(True, help="Read the first rows of a local source now and show the detected format."),
    as_json: bool = JSON_OPT,
) -> None:
    """Add a dataset to the workspace catalog (workspace.toml [datasets.NAME])."""
    from engine.data.catalog import add_entry, entry_state
    from engine.errors import InputError

    ws = STATE.workspace()
    columns: dict[str, str] = {}
    for c in column:
        if "=" not in c:
            raise InputError(f"--column {c!r}: expected FIELD=COLUMN", field="column")
        k, v = c.split("=", 1)
        columns[k.strip()] = v.strip()
    entry, peeked = add_entry(
        ws,
        name,
        source,
        format=fmt,
        config=config,
        split=split,
        columns=columns,
        streaming=streaming,
        description=description,
        kind=kind,
        replace=replace,
        check=check,
    )
    state, ok = entry_state(ws, entry)
    out = {
        "name": name,
        "entry": entry.model_dump(mode="json", exclude_none=True),
        "state": state,
        "ok": ok,
        "detected_format": peeked["format"] if peeked else None,
        "fields": peeked["fields"] if peeked else None,
    }
    if as_json:
        emit_json(out)
        return
    typer.echo(f"added {name}: {entry.path or entry.hub}  ({state})")
    if peeked:
        typer.echo(f"  format: {peeked['format']}  fields: {', '.join(peeked['fields'])}")


@app.command("remove")
@guarded
def remove_cmd(name: str = typer.Argument(..., help="Catalog name."), as_json: bool = JSON_OPT) -> None:
    """Remove a dataset from the catalog (its processed folder, if any, stays)."""
    from engine.data.catalog import remove_entry

    remove_entry(STATE.workspace(), name)
    emit_json({"removed": name}) if as_json else typer.echo(f"removed {name} from the catalog")


@app.command("list")
@guarded
def list_cmd(as_json: bool = JSON_OPT) -> None:
    """The catalog with each entry's state, and the processed datasets."""
    from engine.data.catalog import catalog_rows, processed_datasets

    ws = STATE.workspace()
    rows = catalog_rows(ws)
    processed = processed_datasets(ws)
    if as_json:
        emit_json(
            {
                "catalog": [r.__dict__ for r in rows],
                "processed": [
                    {
                        "name": p["name"],
                        "path": p["path"],
                        "rows": p["report"].get("rows"),
                        "read": p["report"].get("read"),
                        "created": p["report"].get("created"),
                        "inputs": list((p["report"].get("inputs") or {}).keys()),
                    }
                    for p in processed
                ],
            }
        )
        return
    if not rows:
        typer.echo("the catalog is empty: add a dataset with `workbench data add NAME PATH_OR_HUB_ID`")
    else:
        typer.echo(f"{'NAME':34} {'KIND':5} {'FORMAT':17} {'STATE':26} {'PROC':4} LOCATION")
        for r in rows:
            typer.echo(
                f"{r.name:34} {r.kind:5} {r.format:17} {r.state:26} {'yes' if r.processed else '-':4} {r.location}"
            )
    if processed:
        typer.echo("\nprocessed datasets (datasets/):")
        for p in processed:
            rep = p["report"]
            typer.echo(f"  {p['name']:32} {rep.get('rows', '?'):>8} rows  from {', '.join(rep.get('inputs') or {})}")


@app.command("inspect")
@guarded
def inspect_cmd(
    name: str = typer.Argument(..., help="Catalog entry or processed dataset."),
    rows: int = typer.Option(3, "--rows", "-n", help="How many rows to show."),
    offset: int = typer.Option(0, help="Skip this many rows first."),
    processed: bool = typer.Option(
        False, "--processed", help="Show the processed dataset even if NAME is also a catalog entry."
    ),
    dropped: str | None = typer.Option(None, help="Show rows the pipeline dropped for this reason (or 'quarantine')."),
    render_: bool = typer.Option(False, "--render", help="Render with the chat template; trained tokens highlighted."),
    as_json: bool = JSON_OPT,
) -> None:
    """Show rows: detected format and converted records of a catalog entry, the processed rows,
    or dropped rows by reason."""
    from engine.data.catalog import check_name
    from engine.data.store import read_report

    ws = STATE.workspace()
    rep = read_report(ws.datasets_dir / check_name(name))
    if dropped:
        from engine.data.pipeline import dropped_rows

        recs = dropped_rows(ws, name, dropped, offset=offset, limit=rows)
        counts = (rep or {}).get("dropped", {})
        total = (rep or {}).get("quarantined") if dropped == "quarantine" else counts.get(dropped)
        if as_json:
            emit_json({"name": name, "reason": dropped, "total": total, "rows": recs})
            return
        typer.echo(f"{name}: dropped for {dropped}: {total if total is not None else '?'} rows")
        for r in recs:
            if dropped == "quarantine":
                where = f"{r['file']}:{r['line']}" if r.get("line") is not None else f"{r['file']} row {r['index']}"
                typer.echo(f"  {where}: " + (f"field '{r['field']}': " if r.get("field") else "") + r["reason"])
            else:
                typer.echo(typer.style(f"  {r['detail']}", fg=typer.colors.YELLOW))
                _print_record(r, 300)
        return
    if name in ws.config.datasets and not (processed and rep):
        from engine.data.summary import peek

        out = peek(ws, name, rows=rows, offset=offset)
        recs = out["records"]
    elif rep is not None:
        from engine.data.summary import sample_processed

        recs = sample_processed(ws, name, rows=rows, offset=offset)
        out = {
            "name": name,
            "processed": True,
            "rows_total": rep.get("rows"),
            "dropped": rep.get("dropped"),
            "quarantined": rep.get("quarantined"),
            "records": recs,
        }
    else:
        from engine.data.sources import get_entry

        get_entry(ws, name)  # raises the "not in the catalog" error
        return
    if render_:
        from engine.data.preview import preview
        from engine.data.tokenizer import load_tokenizer

        tok = load_tokenizer(ws)
        for r in recs:
            r["rendered"] = preview(tok, r["chat_rounds"], template=ws.config.defaults.chat_template).to_json()
    if as_json:
        emit_json(out)
        return
    if out.get("processed"):
        typer.echo(f"{name}: processed, {out['rows_total']} rows")
    else:
        typer.echo(f"{name}: {out['location']}\nformat: {out['format']}   fields: {', '.join(out['fields'])}")
        for b in out["bad"]:
            typer.echo(typer.style(f"bad row: {b['where']}", fg=typer.colors.RED))
    for r in recs:
        if render_:
            p = r["rendered"]
            typer.echo(
                typer.style(
                    f"── {r['id']}  {p['n_tokens']} tokens, {p['n_trained']} trained (trained text in green)", bold=True
                )
            )
            typer.echo(
                "".join(
                    typer.style(s["text"], fg=typer.colors.GREEN) if s["trained"] else s["text"] for s in p["segments"]
                )
            )
        else:
            _print_record(r)


@app.command("stats")
@guarded
def stats_cmd(
    name: str = typer.Argument(..., help="Processed dataset or catalog entry."),
    limit: int | None = typer.Option(None, help="Only the first N rows of a catalog entry."),
    raw: bool = typer.Option(False, "--raw", help="Stats of the catalog entry as loaded, even if it was processed."),
    tokens: bool = typer.Option(True, help="Count tokens with the workspace tokenizer."),
    force: bool = typer.Option(False, help="Recompute instead of using the cache."),
    as_json: bool = JSON_OPT,
    progress_jsonl: bool = PROGRESS_JSONL,
) -> None:
    """Rows, token lengths (p50/p90/p99/max, histogram), language share, answers per sample and,
    for a processed dataset, drops per filter. Cached."""
    from engine.data.catalog import check_name
    from engine.data.notices import report_warnings
    from engine.data.store import read_report

    ws = STATE.workspace()
    rep = read_report(ws.datasets_dir / check_name(name))
    if rep is not None and not raw and "stats" in rep:
        out = {
            "name": name,
            "processed": True,
            "cached": True,
            "stats": rep["stats"],
            "read": rep.get("read"),
            "quarantined": rep.get("quarantined"),
            "dropped": rep.get("dropped"),
            "kept": rep.get("kept"),
            "warnings": report_warnings(rep),
        }
    else:
        from engine.data.summary import entry_stats
        from engine.progress import JsonlWriter, errors_reported

        if progress_jsonl:
            writer = JsonlWriter()
            with errors_reported(writer):
                out = entry_stats(ws, name, limit=limit, tokens=tokens, force=force, progress=writer)
        else:
            with _Progress(quiet=as_json) as prog:
                out = entry_stats(ws, name, limit=limit, tokens=tokens, force=force, progress=prog)
        out["processed"] = False
    if progress_jsonl:
        from engine.progress import JsonlWriter

        JsonlWriter().done(out)
        return
    if as_json:
        emit_json(out)
        return
    typer.echo(
        f"{name}: "
        + ("processed dataset" if out["processed"] else f"catalog entry (format {out.get('format')})")
        + ("  [cached]" if out.get("cached") else "")
    )
    _print_stats(out["stats"])
    if out.get("processed"):
        typer.echo(f"read {out['read']}  quarantined {out['quarantined']}  kept {out['kept']}")
        drops = {k: v for k, v in (out.get("dropped") or {}).items() if v}
        if drops:
            typer.echo("dropped         " + "  ".join(f"{k}: {v}" for k, v in drops.items()))
    elif out.get("quarantined"):
        typer.echo(f"unreadable rows {out['quarantined']}  e.g. {out['bad_examples'][0]}")
    if out.get("tokenizer_note"):
        typer.echo(f"note: {out['tokenizer_note']}")
    if out.get("processed"):
        _print_warnings(rep or {})


@app.command("preview")
@guarded
def preview_cmd(
    name: str = typer.Argument(..., help="Catalog entry (rows as loaded) or processed dataset."),
    rows: int = typer.Option(20, min=1, help="Rows per page."),
    page: int = typer.Option(0, min=0, help="Page (0 = the first ROWS rows)."),
    as_json: bool = JSON_OPT,
    progress_jsonl: bool = PROGRESS_JSONL,
) -> None:
    """Rows as the trainer sees them: rendered with the chat template and tokenised by the
    workspace tokenizer, each token marked trained or not (what the Datasets screen shows)."""
    from engine.data.catalog import check_name
    from engine.data.preview import preview_page
    from engine.progress import JsonlWriter, errors_reported

    ws = STATE.workspace()
    writer = JsonlWriter() if progress_jsonl else None
    with errors_reported(writer):
        out = preview_page(ws, check_name(name), rows=rows, offset=page * rows)
    if emit_result(out, writer, as_json):
        return
    if out["note"]:
        typer.echo(f"note: {out['note']}")
    for i, (rec, pv) in enumerate(zip(out["records"], out["previews"]), start=page * rows + 1):
        typer.echo(f"-- row {i}" + (f": {pv['n_tokens']} tokens, {pv['n_trained']} trained" if pv else ""))
        if pv:
            typer.echo("".join(t if trained else typer.style(t, dim=True) for t, trained in pv["tokens"]))
        else:
            typer.echo(rec["chat_rounds"])
    for b in out["bad"]:
        typer.echo(f"unreadable: {b['where']}")


@app.command("process")
@guarded
def process_cmd(
    name: str = typer.Argument(..., help="Output name: datasets/NAME/ (also the default input)."),
    inputs: list[str] = typer.Option(
        [], "--input", "-i", help="Catalog entries to combine, in priority order (default: NAME)."
    ),
    languages: list[str] = typer.Option(
        [], "--language", "-l", help="Keep rows with code in these languages (repeatable)."
    ),
    contest_languages: bool = typer.Option(
        False, "--contest-languages", help="Keep rows with code in any of the six contest languages."
    ),
    keep_no_code: bool = typer.Option(False, help="With a language filter, also keep rows without code."),
    normalize: bool = typer.Option(True, help="Full-width punctuation and digits in code → ASCII."),
    quality: bool = typer.Option(True, help="Drop empty, truncated and refusal answers."),
    syntax: bool = typer.Option(True, help="Drop rows whose answer code does not parse."),
    min_tokens: int = typer.Option(0, help="Drop rows with fewer tokens."),
    max_tokens: int | None = typer.Option(
        None, help="Drop rows with more tokens (default: the workspace's seq_length)."
    ),
    model: str | None = typer.Option(None, help="Tokenizer of this model (default: the workspace's default model)."),
    template: str | None = typer.Option(None, help="Chat template: chatml or tokenizer (default: the workspace's)."),
    decontaminate: bool = typer.Option(True, help="Drop rows overlapping the validation benchmarks."),
    benchmark: list[str] = typer.Option(
        [], "--benchmark", help="Benchmarks to check (humanevalpack, mbpp, leetcode; default: the workspace's list)."
    ),
    ngram: int = typer.Option(10, help="Decontamination n-gram length (word tokens)."),
    min_coverage: float = typer.Option(0.5, help="Share of a benchmark field's n-grams that makes a match."),
    min_hits: int = typer.Option(3, help="Fewest shared n-grams that make a match."),
    exact_dedup: bool = typer.Option(True, help="Drop exact duplicates (normalised text)."),
    near_dedup: bool = typer.Option(True, help="Drop near-duplicates (MinHash + LSH, exact Jaccard check)."),
    threshold: float = typer.Option(0.85, help="Near-duplicate Jaccard threshold."),
    num_perm: int = typer.Option(128, help="MinHash signature length (power of two)."),
    shingle: int = typer.Option(5, help="Near-duplicate shingle length (word tokens)."),
    keep: str = typer.Option("first", help="Which duplicate to keep: first (input order) or longest (longest answer)."),
    limit: int | None = typer.Option(None, help="Only the first N rows of each input."),
    workers: int | None = typer.Option(
        None, help="Processes for the per-row checks of big inputs (default: CPU count)."
    ),
    force: bool = typer.Option(False, help="Redo even if inputs and options are unchanged."),
    options: str | None = typer.Option(
        None, "--options", hidden=True, help="All options as ProcessOptions JSON (the app's form); replaces the flags."
    ),
    as_json: bool = JSON_OPT,
    progress_jsonl: bool = PROGRESS_JSONL,
) -> None:
    """Run the pipeline (convert, normalise, filter, decontaminate, dedup, stats) into
    datasets/NAME/ with report.json, quarantine.jsonl and dropped/<reason>.jsonl."""
    from engine.config import validate
    from engine.data.langs import LANGUAGES
    from engine.data.pipeline import REASONS, ProcessOptions, process

    ws = STATE.workspace()
    langs: list[str] | None = list(LANGUAGES) if contest_languages else (list(languages) or None)
    opts = validate(
        ProcessOptions,
        {
            "inputs": list(inputs) or [name],
            "languages": langs,
            "keep_no_code": keep_no_code,
            "normalize_fullwidth": normalize,
            "quality": quality,
            "syntax": syntax,
            "min_tokens": min_tokens,
            "max_tokens": max_tokens,
            "model": model,
            "template": template,
            "decontaminate": decontaminate,
            "benchmarks": list(benchmark) or None,
            "decontam_ngram": ngram,
            "decontam_min_coverage": min_coverage,
            "decontam_min_hits": min_hits,
            "exact_dedup": exact_dedup,
            "near_dedup": near_dedup,
            "near_threshold": threshold,
            "num_perm": num_perm,
            "shingle": shingle,
            "keep": keep,
            "limit": limit,
            "workers": workers,
        },
    )
    if options is not None:
        import json

        opts = validate(ProcessOptions, json.loads(options), file="--options")
    if progress_jsonl:
        from engine.progress import JsonlWriter, errors_reported

        writer = JsonlWriter()
        with errors_reported(writer):
            rep = process(ws, name, opts, progress=writer, force=force)
        writer.done(rep)
        return
    with _Progress(quiet=as_json) as prog:
        rep = process(ws, name, opts, progress=prog, force=force)
    if as_json:
        emit_json({k: v for k, v in rep.items() if k != "filters"} | {"path": str(ws.datasets_dir / name)})
        return
    typer.echo(
        f"{name}: {rep['kept']} rows kept of {rep['read']} read"
        + ("  (up to date: inputs and options unchanged; --force to redo)" if rep.get("up_to_date") else "")
    )
    typer.echo(f"  -> {ws.datasets_dir / name}")
    for iname, info in rep["inputs"].items():
        typer.echo(f"  input {iname}: format {info['format']}, {info['read']} rows, {info['quarantined']} unreadable")
        for ex in info["quarantine_examples"][:3]:
            typer.echo(typer.style(f"      {ex}", fg=typer.colors.RED))
    if rep["normalized"]["rows"]:
        typer.echo(
            f"  normalised full-width characters in {rep['normalized']['rows']} rows"
            f" ({rep['normalized']['chars']} chars)"
        )
    for reason in REASONS:
        n = rep["dropped"].get(reason, 0)
        if n:
            f = next(x for x in rep["filters"] if x["name"] == reason)
            ex = f["examples"][0]
            typer.echo(f"  dropped {reason:16} {n:>7}   e.g. {ex['id']}: {ex['detail'][:90]}")
    near = (rep.get("dedup") or {}).get("near")
    if near:
        typer.echo(
            f"  near-duplicates: {near['clusters']} clusters (Jaccard >= {near['threshold']}, "
            f"{near['bands']}x{near['rows_per_band']} LSH bands); kept rule: {rep['dedup']['keep_rule']}"
        )
    if rep.get("tokenizer_note"):
        typer.echo(f"  token length filter {rep['tokenizer_note']}")
    _print_stats(rep["stats"])
    _print_warnings(rep)


@app.command("export")
@guarded
def export_cmd(
    name: str = typer.Argument(..., help="Processed dataset."),
    out: str = typer.Argument(..., help="Output file."),
    fmt: str = typer.Option(
        "chat_rounds", "--format", "-f", help="chat_rounds (MFTCoder JSONL), messages, sharegpt or parquet."
    ),
    limit: int | None = typer.Option(None, help="Only the first N rows."),
    as_json: bool = JSON_OPT,
) -> None:
    """Write a processed dataset to a file for other tools (MFTCoder reads chat_rounds JSONL)."""
    from engine.data.export import export

    n = export(STATE.workspace(), name, out, fmt=fmt, limit=limit)
    if as_json:
        emit_json({"name": name, "out": out, "format": fmt, "rows": n})
    else:
        typer.echo(f"wrote {n} rows to {out} ({fmt})")
