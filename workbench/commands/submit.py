"""`workbench submit ...`: choose the checkpoint to submit and build the contest files.

table    the Compare matrix: checkpoints x validations, pass@1 per task, contest score, loss
diff     two validations problem by problem, with a bootstrap interval of the difference
mark     mark the checkpoint to submit (submission.json); no argument shows the mark
build    a generations file per contest task + zip for the marked (or a given) checkpoint, or the merged model
check    verify any submission folder or zip (one file per contest task, names, JSON, every problem)
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from workbench.context import STATE, emit_json, guarded

app = typer.Typer(no_args_is_help=True, add_completion=False)


def _f(x: Any, d: int = 3) -> str:
    return f"{x:.{d}f}" if isinstance(x, (int, float)) else "-"


# -- table / diff / mark ----------------------------------------------------------------------------


@app.command("table")
@guarded
def table_cmd(
    sort: str | None = typer.Option(
        None,
        "--sort",
        "-s",
        help="Column to sort by: contest, pass@1, valid_loss, train_pass, step, run, validation, or a task name.",
    ),
    reverse: bool = typer.Option(False, "--reverse", "-r", help="Reverse the sort (default: best first)."),
    as_json: bool = typer.Option(False, "--json", help="The rows as JSON."),
) -> None:
    """The Compare matrix: every run checkpoint and validation of the workspace, with pass@1 per
    task, the predicted contest score, the validation loss and in-training pass@1."""
    from engine.compare import collect, sort_rows
    from engine.compare.matrix import columns_for, short_task, value

    ws = STATE.workspace()
    m = collect(ws)
    key = None
    if sort:
        keys = {c.key for c in columns_for(m.tasks)}
        key = sort if sort in keys else (f"task:{sort}" if f"task:{sort}" in keys else None)
        if key is None:
            by_short = {short_task(t): f"task:{t}" for t in m.tasks}
            key = by_short.get(sort)
        if key is None:
            from engine.errors import WorkbenchError

            raise WorkbenchError(f"unknown column {sort!r} (one of: " + ", ".join(sorted(keys)) + ")")
    col = next((c for c in columns_for(m.tasks) if c.key == key), None)
    desc = None if key is None else ((col is not None and col.better == "high") != reverse)
    rows = sort_rows(m.rows, key, desc, m.tasks) if key else m.rows
    if as_json:
        emit_json(
            {
                "tasks": m.tasks,
                "mark": m.mark.model_dump() if m.mark else None,
                "failed_validations": m.failed_validations,
                "rows": [r.to_dict() for r in rows],
            }
        )
        return
    if not rows:
        typer.echo(
            "no checkpoints or validations yet: train a run (`workbench train launch`) or score a model "
            "(`workbench eval run`)"
        )
        return
    cols = columns_for(m.tasks)
    head = [c.title for c in cols]
    lines = []
    for r in rows:
        cells = []
        for c in cols:
            v = value(r, c.key)
            if c.key == "run":
                cells.append(("★ " if r.marked else "") + str(v or "-"))
            elif c.key == "validation":
                cells.append(v or "-")
            elif c.key == "contest":
                cells.append(_contest_cell(r))
            elif c.key == "step":
                cells.append(str(v) if v is not None else "-")
            elif c.key == "valid_loss":
                cells.append(_f(v, 4))
            else:
                cells.append(_f(v))
        lines.append(cells)
    widths = [max(len(h), *(len(x[i]) for x in lines)) for i, h in enumerate(head)]
    typer.echo("  ".join(h.ljust(w) for h, w in zip(head, widths)))
    for cells in lines:
        typer.echo("  ".join(x.ljust(w) for x, w in zip(cells, widths)))
    if m.mark:
        typer.echo(f"\nmarked to submit: {m.mark.describe()}")
    if m.failed_validations:
        typer.echo(f"({m.failed_validations} failed validations not shown)")


def _contest_cell(r: Any) -> str:
    """The contest score, a subset's labelled as one, or how many contest tasks were scored."""
    from engine.validate.tasks import CONTEST_TASKS

    if r.contest is not None and (r.contest.full or not r.contest_missing):
        return r.contest.cell()
    return f"{r.contest_tasks_scored}/{len(CONTEST_TASKS)}" if r.contest_tasks_scored else "-"


@app.command("diff")
@guarded
def diff_cmd(
    a: str = typer.Argument(
        ..., help="Before: a validation id (or unique part), or RUN_ID@STEP (its newest validation)."
    ),
    b: str = typer.Argument(..., help="After: the same kinds."),
    resamples: int = typer.Option(2000, "--resamples", min=100, help="Bootstrap resamples of the problems."),
    seed: int = typer.Option(0, "--seed", help="Bootstrap seed (the same seed gives the same interval)."),
    show: int = typer.Option(20, "--show", min=0, help="Gains and losses listed (each)."),
    as_json: bool = typer.Option(False, "--json", help="Everything as JSON."),
) -> None:
    """Two validations problem by problem: the problems gained and lost, and a paired bootstrap
    interval of the pass@1 difference (overall, per task, and of the contest score when both
    scored every contest task) that says whether it is within noise."""
    from engine.compare import collect, compare_validations, find_row
    from engine.errors import WorkbenchError
    from engine.validate.store import ValidationDir

    ws = STATE.workspace()
    m = collect(ws)
    picked, labels = [], []
    for ident in (a, b):
        row = find_row(m, ident)
        if not row.validation:
            raise WorkbenchError(
                f"{ident}: this checkpoint has no validation yet; score it first "
                f"(`workbench eval run --model {row.spec}`)"
            )
        picked.append(ValidationDir(ws.validations_dir / row.validation))
        labels.append(f"{row.label} ({row.taskset})")
    cmp = compare_validations(picked[0], picked[1], resamples=resamples, seed=seed, labels=(labels[0], labels[1]))
    if as_json:
        emit_json(cmp.to_dict())
        return
    typer.echo(f"A (before) {cmp.a_label}  [{cmp.a}]\nB (after)  {cmp.b_label}  [{cmp.b}]")
    typer.echo(
        f"{cmp.common} problems in both"
        + (f" ({cmp.only_a} only in A, {cmp.only_b} only in B)" if cmp.only_a or cmp.only_b else "")
    )
    typer.echo(f"pass@1 {_f(cmp.pass_a)} -> {_f(cmp.pass_b)}: {cmp.overall.verdict()}")
    if cmp.contest:
        typer.echo(f"{cmp.contest_scope}: {cmp.contest.verdict()}")
    if len(cmp.tasks) > 1:
        for t, iv in cmp.tasks.items():
            typer.echo(f"  {t:30} {iv.verdict()}")
    for title, items in (("gained", cmp.gains), ("lost", cmp.losses)):
        typer.echo(f"\n{len(items)} problems {title}")
        for c in items[:show]:
            typer.echo(f"  {c.task:30} {c.task_id:16} {c.before} -> {c.after}")
        if len(items) > show:
            typer.echo(f"  ... and {len(items) - show} more (--show N, or --json)")


@app.command("mark")
@guarded
def mark_cmd(
    spec: str | None = typer.Argument(None, help="RUN_ID@STEP|best|last, a checkpoint / model / adapter folder."),
    validation: str | None = typer.Option(
        None,
        "--validation",
        "-v",
        help="The validation the choice was made on (its checkpoint is marked when no SPEC is given).",
    ),
    clear: bool = typer.Option(False, "--clear", help="Remove the mark."),
    as_json: bool = typer.Option(False, "--json", help="The mark as JSON."),
) -> None:
    """Mark the checkpoint to submit (submission.json at the workspace root). Without
    arguments, show the current mark."""
    from engine.compare import clear_mark, mark_checkpoint, read_mark

    ws = STATE.workspace()
    if clear:
        had = clear_mark(ws)
        if as_json:
            emit_json({"cleared": had})
        else:
            typer.echo("mark removed" if had else "nothing was marked")
        return
    mark = mark_checkpoint(ws, spec, validation=validation) if (spec or validation) else read_mark(ws)
    if as_json:
        emit_json(mark.model_dump() if mark else None)
        return
    if mark is None:
        typer.echo("nothing is marked to submit (`workbench submit mark RUN_ID@STEP`, or m on the Compare screen)")
        return
    typer.echo(
        f"marked to submit: {mark.describe()}\n  spec {mark.spec}\n  model {mark.model}"
        + (f"\n  adapter {mark.adapter}" if mark.adapter else "")
    )


# -- build ------------------------------------------------------------------------------------------


class _Progress:
    """A line per phase (stderr), or `--progress-jsonl` events on stdout for the app (engine.progress)."""

    def __init__(self, mode: str):
        from engine.progress import JsonlWriter
        from engine.submit.build import PHASES

        self.mode, self.phase, self.phases = mode, "", PHASES
        self.jsonl = JsonlWriter(PHASES) if mode == "jsonl" else None
        self.tty = sys.stderr.isatty()

    def __call__(self, phase: str, done: int, total: int, info: dict) -> None:
        if self.jsonl is not None:
            self.jsonl(phase, done, total, info)
            return
        if self.mode != "text":
            return
        label = self.phases.get(phase, phase)
        if self.tty:
            sys.stderr.write(f"\r{label}: {done}/{total}\x1b[K" + ("\n" if done >= total else ""))
            sys.stderr.flush()
        elif phase != self.phase:
            sys.stderr.write(f"{label} ...\n")
        self.phase = phase


def _settings(
    batch_size: int | None,
    dtype: str,
    device: str | None,
    max_new_tokens: int | None,
    max_length: int | None,
):
    from engine.config import validate
    from engine.validate.generate import GenSettings

    return validate(
        GenSettings,
        dict(
            n=1,
            do_sample=False,
            batch_size=batch_size,
            dtype=dtype,
            device=device,
            max_new_tokens=max_new_tokens,
            max_length=max_length,
        ),
    )


def _print_check(rep: Any, problems: bool = False) -> None:
    typer.echo(f"{rep.kind} {rep.path}" + (f"  (model {rep.model!r})" if rep.model else ""))
    for t in rep.tasks:
        count = f"{t.found}/{t.expected}" if t.expected is not None else str(t.found)
        state = "ok  " if t.ok else "FAIL"
        typer.echo(f"  {state} {t.task:28} {count:>9} problems  {t.file if t.present else '(missing)'}")
        for e in t.errors:
            if e != "missing":
                typer.echo(f"         error: {e}")
        for w in t.warnings:
            typer.echo(f"         warning: {w}")
        if problems and t.present:
            for p in t.problems:
                size = f"{p.chars} chars" if p.chars is not None else "not one string"
                flag = (
                    "  empty" if p.empty else ("  (function not mentioned)" if p.mentions_entry_point is False else "")
                )
                typer.echo(f"         #{p.index:<4} {p.task_id or '(extra)':16} {size}{flag}")
    for e in rep.errors:
        typer.echo(f"  error: {e}")
    for w in rep.warnings:
        typer.echo(f"  warning: {w}")
    n = sum(t.found for t in rep.tasks)
    if rep.ok:
        typer.echo(
            f"OK: {len(rep.tasks)} files, {n} problems, one program each"
            + ("" if rep.complete else " (restricted task list: not a contest submission)")
        )
    else:
        typer.echo(f"NOT OK: {len(rep.all_errors())} problem(s) found; fix them before submitting")


@app.command("build")
@guarded
def build_cmd(
    checkpoint: str | None = typer.Option(
        None,
        "--checkpoint",
        "-c",
        help="What to submit: RUN_ID@STEP|best|last, "
        "a checkpoint / model / adapter folder (default: the marked checkpoint).",
    ),
    model_name: str | None = typer.Option(
        None, "--model-name", "-n", help="<model> in generations_<task>_<model>.json (default: run name + step)."
    ),
    out: Path | None = typer.Option(None, "--out", "-o", help="Output folder (default: submissions/<model>/)."),
    from_validation: str | None = typer.Option(
        None, "--from-validation", help="Use this validation's generations (complete and greedy) instead of generating."
    ),
    merged_model: bool = typer.Option(
        False, "--merged-model", help="Produce the merged model folder instead of generations."
    ),
    tasks: str | None = typer.Option(
        None,
        "--tasks",
        help="Trial build: only these tasks (comma list; task names or problem files). Not a contest submission.",
    ),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Trial build: the first N problems per task."),
    fmt: str | None = typer.Option(
        None,
        "--format",
        "-f",
        help="Prompt format for new generations (default contest); a reused validation must have it when given.",
    ),
    backend: str = typer.Option("hf", "--backend", "-b", help="hf or vllm."),
    batch_size: int | None = typer.Option(
        None,
        "--batch-size",
        help="Prompts per generate call (default: the "
        "format's; contest 1, as the harness generated). Batching can change "
        "greedy outputs.",
    ),
    dtype: str = typer.Option("auto", "--dtype", help="auto, bf16, fp16 or fp32."),
    device: str | None = typer.Option(None, "--device"),
    max_new_tokens: int | None = typer.Option(
        None, "--max-new-tokens", help="Cap generated tokens (the contest allowed 2000 of prompt + generation)."
    ),
    max_length: int | None = typer.Option(None, "--max-length"),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Benchmark files (default: [benchmarks] data_dir)."),
    no_merge: bool = typer.Option(False, "--no-merge", help="Generate with the LoRA adapter applied, not merged."),
    fresh: bool = typer.Option(False, "--fresh", help="Generate again even when a validation could be reused."),
    force: bool = typer.Option(False, "--force", help="Replace an existing submission folder / zip."),
    as_json: bool = typer.Option(False, "--json", help="The result as JSON."),
    progress_jsonl: bool = typer.Option(False, "--progress-jsonl", help="Progress and the result as JSON lines."),
) -> None:
    """Build the contest submission for the marked (or a given) checkpoint: one
    generations_<task>_<model>.json per task (bigcode layout, greedy), zipped as
    generations_<model>.zip and verified; or, with --merged-model, the merged model folder.
    A complete greedy validation of the checkpoint is reused; otherwise it is generated now."""
    from engine.submit import build_submission

    ws = STATE.workspace()
    settings = _settings(batch_size, dtype, device, max_new_tokens, max_length)
    prog = _Progress("jsonl" if progress_jsonl else ("quiet" if as_json else "text"))
    task_list = [t.strip() for t in tasks.split(",") if t.strip()] if tasks else None
    from engine.progress import errors_reported

    with errors_reported(prog.jsonl):
        res = build_submission(
            ws,
            checkpoint=checkpoint,
            model_name=model_name,
            out=out,
            from_validation=from_validation,
            merged_model=merged_model,
            tasks=task_list,
            fmt=fmt,
            backend=backend,
            settings=settings,
            data_dir=data_dir,
            limit=limit,
            merge=not no_merge,
            fresh=fresh,
            force=force,
            progress=prog,
            log=lambda msg: typer.echo(msg, err=True),
        )
    ok = res.check.ok if res.check is not None else res.merged is not None
    if prog.jsonl is not None:
        prog.jsonl.done(
            dict(
                ok=ok,
                contest_ready=res.contest_ready,
                zip=str(res.zip) if res.zip else None,
                merged=str(res.merged) if res.merged else None,
                validation=res.validation,
                reused=res.reused,
                model_name=res.model_name,
                errors=res.check.all_errors() if res.check else [],
            )
        )
    elif as_json:
        emit_json(res.to_dict())
    else:
        if res.kind == "merged-model":
            typer.echo(f"merged model: {res.merged}")
        else:
            how = "reused" if res.reused else "generated"
            typer.echo(f"generations {how}: validation {res.validation}")
            p = res.predicted
            if p.get("contest"):
                typer.echo(
                    "predicted "
                    + p["contest"]["label"]
                    + ("; the baseline scored 0.0933" if p["contest"].get("full") else "")
                )
            _print_check(res.check)
            typer.echo(f"folder {res.folder}\nzip    {res.zip}")
        for n in res.notes:
            typer.echo(f"note: {n}")
        typer.echo(("ready to submit" if res.contest_ready else "not a contest submission") + f"  ({res.record})")
    if not ok:
        raise typer.Exit(1)


@app.command("check")
@guarded
def check_cmd(
    path: Path = typer.Argument(..., help="A generations_<model>/ folder or its zip."),
    data_dir: Path | None = typer.Option(
        None,
        "--data-dir",
        help="Benchmark files to check problem ids and functions against (default: [benchmarks] data_dir).",
    ),
    problems: bool = typer.Option(False, "--problems", help="List every problem found."),
    as_json: bool = typer.Option(False, "--json", help="The report as JSON (every problem found)."),
) -> None:
    """Verify a contest submission: one file generations_<task>_<model>.json per contest task in the
    folder generations_<model>/ (in the zip), valid JSON, every problem of every task present
    (164 per HumanEvalPack task, 500 for mbpp), one program string per problem. Exit code 1
    when anything is wrong."""
    from engine.errors import WorkbenchError
    from engine.submit import check_submission

    if data_dir is None:
        try:
            data_dir = STATE.workspace(create_demo=False).benchmarks_dir()
        except (WorkbenchError, OSError):
            data_dir = None
    rep = check_submission(path, data_dir=data_dir)
    if as_json:
        emit_json(rep.to_dict())
    else:
        _print_check(rep, problems=problems)
    if not rep.ok:
        raise typer.Exit(1)
