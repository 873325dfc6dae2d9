"""`workbench mix ...` commands: mixture specs, their balance, builds and MFTCoder interop."""

from __future__ import annotations

import sys
from typing import Any

import typer

from engine.progress import JsonlWriter, errors_reported
from workbench.context import STATE, emit_json, emit_result, guarded

app = typer.Typer(no_args_is_help=True, add_completion=False)

JSON = typer.Option(False, "--json", help="Machine-readable output.")
PROGRESS = typer.Option(
    None, "--progress/--no-progress", help="Progress lines on stderr (default: when stderr is a terminal)."
)
PROGRESS_JSONL = typer.Option(
    False, "--progress-jsonl", help="Progress and the result as JSON lines on stdout (for programs: the app)."
)


def _reporter(flag: bool | None, writer: JsonlWriter | None = None) -> Any:
    """The engine's (stage, done, total) callback: `--progress-jsonl` events, a line on a
    terminal's stderr, or nothing. The engine's closing "done" stage is no progress event."""
    if writer is not None:
        return lambda stage, done, total: writer(stage, done, total) if stage != "done" else None
    on = sys.stderr.isatty() if flag is None else flag
    return _progress if on else None


def _progress(stage: str, done: int, total: int) -> None:
    """Progress on stderr (stdout stays clean for --json)."""
    if stage == "done":
        sys.stderr.write("\n")
    else:
        pct = 100 * done / total if total else 0
        sys.stderr.write(f"\r{stage:9} {done}/{total} ({pct:3.0f}%)")
    sys.stderr.flush()


def _print_balance(b: Any) -> None:
    from engine.mixture.balance import bar, human_count

    t = b.totals
    typer.echo(
        f"mixture id {b.id}   train {t['train_rows']} rows / {human_count(t['train_tokens'])} tokens   "
        f"valid {t['valid_rows']} rows   seq_length {b.seq_length}" + ("   (tokens estimated)" if b.estimated else "")
    )
    typer.echo("\nTASKS (share of training tokens)")
    for task in b.tasks:
        typer.echo(
            f"  {task['task'][:22]:22} {bar(task['share_tokens'])} {100 * task['share_tokens']:5.1f}%  "
            f"{task['train_rows']:>8} rows {human_count(task['train_tokens']):>7} tok  "
            f"valid {task['valid_rows']}"
        )
        for s in task["sources"]:
            how = (
                f"tokens {human_count(s['tokens_budget'])} (= x{s['effective_weight']:g})"
                if s["mode"] == "tokens"
                else f"weight {s['weight']:g}"
            )
            typer.echo(
                f"      {s['dataset'][:30]:30} {how:24} {s['train_rows']:>8} rows "
                f"{human_count(s['train_tokens']):>7} tok  of {s['pool_rows']} in pool"
            )
    typer.echo("\nLANGUAGES (all tasks)")
    for lang, v in b.languages.items():
        typer.echo(
            f"  {lang[:22]:22} {bar(v['share'])} {100 * v['share']:5.1f}%  {v['rows']:>8} rows "
            f"{human_count(v['tokens']):>7} tok"
        )
    typer.echo("\nTASK x LANGUAGE (share of the task's tokens)")
    for task in b.tasks:
        parts = [f"{k} {100 * v['share']:.0f}%" for k, v in task["languages"].items()]
        typer.echo(f"  {task['task'][:22]:22} " + ", ".join(parts))
    if b.warnings:
        typer.echo("\nWARNINGS")
        for w in b.warnings:
            typer.echo(f"  ! {w.message}")


@app.command("list")
@guarded
def list_cmd(as_json: bool = JSON) -> None:
    """Mixture specs of the workspace (mixtures/*.toml) with their tasks."""
    from engine.mixture import store

    ws = STATE.workspace()
    rows: list[dict[str, Any]] = []
    for name in store.names(ws):
        try:
            spec = store.open_spec(ws, name)
            rows.append({"name": name, "tasks": list(spec.tasks), "datasets": spec.datasets(), "error": None})
        except Exception as e:  # noqa: BLE001 - any broken spec is listed with its error, not hidden
            rows.append({"name": name, "tasks": [], "datasets": [], "error": str(e)})
    if as_json:
        emit_json(rows)
        return
    if not rows:
        typer.echo("no mixtures yet (create one with `workbench mix new NAME`)")
    for r in rows:
        typer.echo(f"{r['name']:24} " + (f"error: {r['error']}" if r["error"] else ", ".join(r["tasks"])))


@app.command("new")
@guarded
def new_cmd(
    name: str = typer.Argument(..., help="Mixture name (letters, digits, - and _)."),
    dataset: list[str] = typer.Option([], "--dataset", "-d", help="A processed dataset; each becomes its own task."),
    task: list[str] = typer.Option([], "--task", "-t", help="A task from several datasets: NAME=DS1,DS2."),
    seed: int = typer.Option(1234, help="Seed of the split and the sampling."),
    valid_fraction: float = typer.Option(0.05, help="Validation share of each task's rows (never empty)."),
    description: str = typer.Option("", help="Free text kept in the spec."),
    force: bool = typer.Option(False, "--force", help="Replace an existing spec of that name."),
    as_json: bool = JSON,
) -> None:
    """Create mixtures/NAME.toml. Without --dataset/--task: one task per processed dataset."""
    from engine.errors import InputError
    from engine.mixture import store
    from engine.mixture.spec import spec_to_dict, task_name_for

    ws = STATE.workspace()
    tasks: dict[str, list[str]] | None = None
    if dataset or task:
        tasks = {}
        for d in dataset:
            tasks[task_name_for(d)] = [d]
        for t in task:
            if "=" not in t:
                raise InputError(f"--task {t!r}: expected NAME=DATASET[,DATASET...]", field="task")
            tname, _, ds = t.partition("=")
            tasks[tname.strip()] = [x.strip() for x in ds.split(",") if x.strip()]
    path, spec = store.create(
        ws, name, tasks=tasks, seed=seed, valid_fraction=valid_fraction, description=description, force=force
    )
    if as_json:
        emit_json({"name": name, "path": str(path), "spec": spec_to_dict(spec)})
        return
    typer.echo(f"wrote {path} ({len(spec.tasks)} task{'s' if len(spec.tasks) != 1 else ''})")
    if not spec.tasks:
        typer.echo("  no processed datasets yet: add tasks with `workbench mix add NAME TASK DATASET`")


@app.command("show")
@guarded
def show_cmd(name: str = typer.Argument(..., help="Mixture name."), as_json: bool = JSON) -> None:
    """The spec, its mixture id, its inputs and its builds."""
    from engine.mixture import store

    ws = STATE.workspace()
    info = store.describe(ws, name)
    if as_json:
        emit_json(info)
        return
    typer.echo(f"mixture  {name}\nfile     {info['path']}\nid       {info['id'] or '- (inputs missing)'}")
    spec = info["spec"]
    typer.echo(
        f"seed     {spec.get('seed')}   valid_fraction {spec.get('valid_fraction', 0.05)}   "
        f"seq_length {info['seq_length']}"
    )
    for tname, t in spec["tasks"].items():
        typer.echo(f"task {tname}")
        for s in t["sources"]:
            how = f"tokens {s['tokens']}" if "tokens" in s else f"weight {s.get('weight', 1.0):g}"
            inp = info["inputs"].get(s["dataset"], {})
            state = f"{inp.get('rows')} rows" if inp.get("processed") else "NOT PROCESSED"
            langs = f" languages={','.join(s['languages'])}" if s.get("languages") else ""
            typer.echo(f"    {s['dataset']:30} {how:18} {state}{langs}")
    for b in info["builds"]:
        typer.echo(f"build {b['id']}  {b['train_rows']} train rows  token caches: {len(b['token_caches'])}")


@app.command("balance")
@guarded
def balance_cmd(
    name: str = typer.Argument(..., help="Mixture name."),
    seq_length: int | None = typer.Option(None, help="Override the length for over-length counts."),
    as_json: bool = JSON,
) -> None:
    """Rows and tokens per task, language and task x language after sampling, with warnings."""
    from engine.mixture import store

    ws = STATE.workspace()
    spec = store.open_spec(ws, name)
    b = store.balance_for(ws, spec, name, seq_length=seq_length)
    if as_json:
        emit_json(b.to_dict())
        return
    _print_balance(b)


@app.command("set")
@guarded
def set_cmd(
    name: str = typer.Argument(..., help="Mixture name."),
    task: str = typer.Argument(..., help="Task name."),
    source: str | None = typer.Option(None, "--source", "-s", help="Dataset of the task (default: its only one)."),
    weight: str | None = typer.Option(None, help="Sampling ratio (2.5 = two copies + half again)."),
    tokens: str | None = typer.Option(None, help="Token budget instead of a weight (e.g. 2M, 300k)."),
    valid_fraction: float | None = typer.Option(None, help="The task's validation share."),
    as_json: bool = JSON,
) -> None:
    """Change a source's weight or token budget, or a task's validation share; prints the new balance."""
    from engine.errors import WorkbenchError
    from engine.mixture import store
    from engine.mixture.spec import parse_amount, set_task_valid_fraction, set_tokens, set_weight

    ws = STATE.workspace()
    spec = store.open_spec(ws, name)
    if weight is not None and tokens is not None:
        raise WorkbenchError("give --weight or --tokens, not both")
    if weight is not None or tokens is not None:
        if task not in spec.tasks:
            raise WorkbenchError(f"no task {task!r} in mixture {name!r} (tasks: {', '.join(spec.tasks)})")
        srcs = [s.dataset for s in spec.tasks[task].sources]
        if source is None:
            if len(srcs) != 1:
                raise WorkbenchError(
                    f"task {task!r} has {len(srcs)} sources; say which with --source ({', '.join(srcs)})"
                )
            source = srcs[0]
        spec = (
            set_weight(spec, task, source, parse_amount(weight))
            if weight is not None
            else set_tokens(spec, task, source, int(parse_amount(tokens or "0")))
        )
    if valid_fraction is not None:
        spec = set_task_valid_fraction(spec, task, valid_fraction)
    b = store.balance_for(ws, spec, name)  # validate against the data before saving
    store.write_spec(ws, name, spec)
    if as_json:
        emit_json(b.to_dict())
    else:
        _print_balance(b)


@app.command("add")
@guarded
def add_cmd(
    name: str = typer.Argument(..., help="Mixture name."),
    task: str = typer.Argument(..., help="Task name (created if new)."),
    datasets: list[str] = typer.Argument(None, help="Processed datasets to add to the task."),
    weight: str | None = typer.Option(None, help="Weight of the added sources."),
    tokens: str | None = typer.Option(None, help="Token budget of the added sources."),
    as_json: bool = JSON,
) -> None:
    """Add a task, or sources to a task."""
    from engine.errors import InputError
    from engine.mixture import store
    from engine.mixture.spec import add_source, add_task, parse_amount, spec_to_dict

    ws = STATE.workspace()
    spec = store.open_spec(ws, name)
    available = set(store.processed_names(ws))
    for d in datasets or []:
        if d not in available:
            raise InputError(
                f"{d!r} is not a processed dataset (available: {', '.join(sorted(available)) or 'none'})",
                field="dataset",
            )
    if task not in spec.tasks:
        try:
            spec = add_task(spec, task)
        except ValueError as e:
            raise InputError(str(e), field="task") from None
    for d in datasets or []:
        spec = add_source(
            spec,
            task,
            d,
            weight=parse_amount(weight) if weight else None,
            tokens=int(parse_amount(tokens)) if tokens else None,
        )
    path = store.write_spec(ws, name, spec)
    if as_json:
        emit_json({"path": str(path), "spec": spec_to_dict(spec)})
    else:
        typer.echo(f"task {task}: {', '.join(s.dataset for s in spec.tasks[task].sources) or 'no sources yet'}")


@app.command("remove")
@guarded
def remove_cmd(
    name: str = typer.Argument(..., help="Mixture name."),
    task: str = typer.Argument(..., help="Task to remove (or to remove a source from)."),
    source: str | None = typer.Option(None, "--source", "-s", help="Remove only this source."),
    as_json: bool = JSON,
) -> None:
    """Remove a task, or one source of a task."""
    from engine.mixture import store
    from engine.mixture.spec import remove, spec_to_dict

    ws = STATE.workspace()
    spec = remove(store.open_spec(ws, name), task, source)
    path = store.write_spec(ws, name, spec)
    if as_json:
        emit_json({"path": str(path), "spec": spec_to_dict(spec)})
    else:
        typer.echo(f"removed {task + ('/' + source if source else '')} from {name}")


def _materialize(name: str, no_tokenize: bool, as_json: bool, progress: bool | None, jsonl: bool) -> None:
    from engine.mixture.materialize import PHASES, materialize

    ws = STATE.workspace()
    writer = JsonlWriter(PHASES) if jsonl else None
    with errors_reported(writer):
        res = materialize(ws, name, tokenize_cache=not no_tokenize, progress=_reporter(progress, writer))
    out = res.to_dict()
    if emit_result(out, writer, as_json):
        return
    typer.echo(f"{'reused' if res.cached else 'wrote'} build {res.id}: {res.build_dir}")
    for t, d in out["tasks"].items():
        typer.echo(f"  {t:24} train {d['train_rows']:>8}  valid {d['valid_rows']:>6}")
    if res.token_cache:
        typer.echo(f"token cache {'reused' if res.tokens_cached else 'written'}: {res.token_cache}")
    for n in res.notes:
        typer.echo(f"note: {n}")


@app.command("materialize")
@guarded
def materialize_cmd(
    name: str = typer.Argument(..., help="Mixture name."),
    no_tokenize: bool = typer.Option(False, "--no-tokenize", help="Write the JSONL only (no token cache)."),
    progress: bool | None = PROGRESS,
    progress_jsonl: bool = PROGRESS_JSONL,
    as_json: bool = JSON,
) -> None:
    """Write the build (per task train/valid JSONL + mixture.json) and its token cache for the
    workspace's default model tokenizer; an existing build with the same id is reused."""
    _materialize(name, no_tokenize, as_json, progress, progress_jsonl)


@app.command("export-mftcoder")
@guarded
def export_cmd(
    name: str = typer.Argument(..., help="Mixture name."),
    out_dir: str = typer.Argument(..., help="Folder to write (new, empty, or an earlier export)."),
    run_config: str | None = typer.Option(
        None, help="Run config TOML whose settings go into the JSON (default: the imported one, else the contest's)."
    ),
    flavor: str | None = typer.Option(None, help="competition (codeqwen_competition branch) or main."),
    data_root: str | None = typer.Option(
        None, help="Write data_paths under this folder (where the export will live on the training machine)."
    ),
    output_dir: str | None = typer.Option(None, help="MFTCoder output_dir."),
    tb_dir: str | None = typer.Option(None, help="MFTCoder tb_dir."),
    progress: bool | None = PROGRESS,
    as_json: bool = JSON,
) -> None:
    """MFTCoder layout (one folder per task with train.jsonl in chat_rounds, rows already sampled)
    plus train_config.json with MFTCoder's keys and a launch.sh."""
    from engine.mixture.mftcoder import export_mftcoder

    ws = STATE.workspace()
    res = export_mftcoder(
        ws,
        name,
        out_dir,
        run_config=run_config,
        flavor=flavor,  # type: ignore[arg-type]  # typer gives a str; the choice list is the Literal's
        data_root=data_root,
        output_dir=output_dir,
        tb_dir=tb_dir,
        progress=_reporter(progress),
    )
    if as_json:
        emit_json(res)
        return
    typer.echo(f"wrote {res['out_dir']} ({res['flavor']} flavor, mixture id {res['id']})")
    for t, n in res["tasks"].items():
        typer.echo(f"  {t:24} {n} rows")
    typer.echo(f"config {res['config']}\nlaunch {res['launch']}")
    for n in res["notes"]:
        typer.echo(f"  note: {n}")


@app.command("import-mftcoder")
@guarded
def import_cmd(
    config: str = typer.Argument(..., help="MFTCoder training config JSON (e.g. qwen_train_config_1_8B.json)."),
    name: str | None = typer.Option(None, help="Mixture name (default: from the file name)."),
    data_paths: str | None = typer.Option(
        None, help="Override data_paths, as MFTCoder's --data_paths: \"[/p/task1,/p/task2]\"."
    ),
    run_config: str | None = typer.Option(
        None, help="Where to write the run config TOML (default: WORKSPACE/configs/NAME.toml)."
    ),
    dataset_prefix: str | None = typer.Option(None, help="Prefix of the processed dataset names (default: NAME_)."),
    no_count_tokens: bool = typer.Option(
        False, "--no-count-tokens", help="Skip token counting with the workspace tokenizer."
    ),
    force: bool = typer.Option(False, "--force", help="Replace an existing mixture, datasets or run config."),
    progress_jsonl: bool = PROGRESS_JSONL,
    as_json: bool = JSON,
) -> None:
    """Import an MFTCoder config and its task folders: processed datasets, a mixture spec and a
    run config (bad lines are skipped and reported with file, line and field)."""
    from engine.mixture.mftcoder import import_mftcoder

    ws = STATE.workspace()
    writer = JsonlWriter() if progress_jsonl else None
    with errors_reported(writer):
        res = import_mftcoder(
            ws,
            config,
            name=name,
            data_paths=data_paths,
            run_config_out=run_config,
            dataset_prefix=dataset_prefix,
            count=not no_count_tokens,
            force=force,
        )
    if emit_result(res, writer, as_json):
        return
    typer.echo(f"mixture {res['mixture']}: {res['spec']}\nrun config: {res['run_config']}  ({res['flavor']} flavor)")
    for t, d in res["tasks"].items():
        typer.echo(
            f"  {t:24} {d['rows']:>8} rows -> datasets/{d['dataset']}"
            + (f"  ({d['skipped']} lines skipped)" if d["skipped"] else "")
        )
    for p in res["problems"]:
        typer.echo(f"  skipped {p}")
    if res["problems_total"] > len(res["problems"]):
        typer.echo(f"  ... {res['problems_total'] - len(res['problems'])} more skipped lines")
    for n in res["notes"]:
        typer.echo(f"  note: {n}")
