"""What the Compare screen draws, as rich Text: matrix cells, the selected row's details
(predicted contest score or the tasks still missing, losses, in-training pass@1) and a
comparison's verdicts. Pure functions of engine data: no widgets here."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from engine.compare.matrix import Column, CompareRow, short_task, value
from engine.validate.tasks import CONTEST_TASKS


def _f(x: Any, d: int = 3) -> str:
    return f"{x:.{d}f}" if isinstance(x, (int, float)) else "-"


def best_values(rows: list[CompareRow], columns: list[Column]) -> dict[str, Any]:
    """The best value of each numeric column (highest pass@1, lowest loss), to highlight."""
    out: dict[str, Any] = {}
    for c in columns:
        if c.better is None or c.key == "step":
            continue
        vals = [v for v in (value(r, c.key) for r in rows) if isinstance(v, (int, float))]
        if len(vals) > 1:
            out[c.key] = max(vals) if c.better == "high" else min(vals)
    return out


def cell(row: CompareRow, col: Column, best: dict[str, Any], pick: str = "") -> Text:
    v = value(row, col.key)
    if col.key == "run":
        t = Text()
        if pick:
            t.append(f"[{pick}] ", style="bold reverse")
        if row.marked:
            t.append("★ ", style="bold yellow")
        t.append(str(v or "-"))
        return t
    if col.key == "step":
        return Text(str(v) if v is not None else "-", style="" if row.checkpoint_exists or not row.run else "dim")
    if col.key == "validation":
        if not row.validation:
            return Text("not validated", style="dim")
        label = row.taskset or "?"
        if row.format:
            label += f" · {row.format}"
        return Text(
            label + ("" if row.status == "completed" else f" ({row.status})"),
            style="" if row.status == "completed" else "yellow",
        )
    if col.key == "contest":
        c = row.contest
        if c is not None and c.full:
            return Text(c.cell(), style="bold green" if best.get("contest") == v else "bold")
        if c is not None and row.status == "completed" and not row.contest_missing:
            return Text(c.cell(), style="yellow")  # every contest task, on a subset of their problems
        n = row.contest_tasks_scored
        return Text(f"{n}/{len(CONTEST_TASKS)}" if n else "-", style="dim")
    digits = 4 if col.key == "valid_loss" else 3
    style = "green" if v is not None and best.get(col.key) == v else ""
    return Text(_f(v, digits), style=style)


def header(col: Column, sort_key: str | None, descending: bool) -> Text:
    if col.key == sort_key:
        return Text(col.title + (" ▼" if descending else " ▲"), style="bold")
    return Text(col.title)


def row_details(row: CompareRow, mark: Any = None) -> Text:
    """The highlighted row: what it is, its predicted contest score (or what is missing),
    losses per task, in-training pass@1."""
    t = Text()
    t.append(row.label, style="bold")
    if row.marked:
        t.append("  ★ marked to submit", style="bold yellow")
        if mark is not None and mark.validation and mark.validation != row.validation:
            t.append(f" (chosen on {mark.validation})", style="dim")
    if row.run and not row.checkpoint_exists:
        t.append("  (checkpoint folder removed)", style="dim")
    t.append(f"\n{row.spec or '-'}", style="dim")
    if row.validation:
        t.append(
            f"\nvalidation {row.validation}: {row.taskset} · format {row.format} · {row.n_problems} problems · "
            f"{row.status}" + ("" if row.greedy in (None, True) else " · sampled (not greedy)")
        )
        c = row.contest
        n = len(CONTEST_TASKS)
        if c is not None and c.full:
            t.append("\npredicted ", style="bold")
            t.append(c.headline(), style="bold green")
        elif c is not None and not row.contest_missing:
            t.append("\n" + c.headline(), style="yellow")
        elif row.status == "completed":
            missing = row.contest_missing
            if len(missing) == n:
                t.append("\nno contest task scored: no predicted contest score", style="dim")
            else:
                t.append(f"\nno predicted contest score: {len(missing)} of {n} contest tasks missing: ", style="yellow")
                t.append(", ".join(short_task(m) for m in missing))
                if c is not None:
                    t.append("\n" + c.headline(), style="dim")
    else:
        t.append("\nnot validated yet: score it on the Validation screen (4, then v)", style="dim")
    if row.valid_loss is not None or row.valid_losses:
        t.append(f"\nvalid loss {_f(row.valid_loss, 4)}")
        if row.valid_losses:
            t.append("  " + "  ".join(f"{k} {_f(v, 4)}" for k, v in row.valid_losses.items()), style="dim")
    if row.train_pass:
        t.append(
            "\nin-training pass@1 at this step: "
            + "  ".join(
                f"{'overall' if k == 'pass@1' else k.split('/', 1)[1]} {_f(v)}" for k, v in row.train_pass.items()
            )
        )
    return t


def comparison_text(cmp: Any) -> Text:
    t = Text()
    t.append("A ", style="bold reverse")
    t.append(f" {cmp.a_label}  ")
    t.append("→  ")
    t.append("B ", style="bold reverse")
    t.append(f" {cmp.b_label}\n")
    scope = f"{cmp.common} problems in both"
    if cmp.only_a or cmp.only_b:
        scope += f" ({cmp.only_a} only in A, {cmp.only_b} only in B: different task sets)"
    t.append(scope + "\n", style="dim")
    iv = cmp.overall
    style = "green" if iv.excludes_zero and iv.mean > 0 else ("red" if iv.excludes_zero else "yellow")
    t.append(f"pass@1 {_f(cmp.pass_a)} → {_f(cmp.pass_b)}: ", style="bold")
    t.append(iv.verdict(), style=f"bold {style}")
    if cmp.contest is not None:
        t.append(f"\n{cmp.contest_scope}: ")
        t.append(cmp.contest.verdict(), style="bold")
    if len(cmp.tasks) > 1:
        t.append("\n")
        parts = []
        for name, tv in cmp.tasks.items():
            mark = "+" if tv.excludes_zero and tv.mean > 0 else ("−" if tv.excludes_zero else "·")
            parts.append(f"{short_task(name)} {tv.mean * 100:+.1f}{mark}")
        t.append("  ".join(parts), style="dim")
    t.append(f"\n{len(cmp.gains)} gained, {len(cmp.losses)} lost", style="bold")
    return t
