"""The Compare matrix: every run checkpoint and every validation of the workspace, one row per
(checkpoint, validation) — a checkpoint never validated gets one row with its losses only,
a validation of something outside the runs (a base model, a merged folder) gets its own row.

Per row: pass@1 per task and overall (from validations/<id>/summary.json), the predicted
contest score (mean pass@1 over the contest tasks: the contest score only for every problem of
every contest task; a subset's is labelled "subset (N of M problems)"; which tasks are missing
otherwise), its infra errors (counted as failures), the validation loss (checkpoint.json, else
metrics.jsonl at that step) and the in-training pass@1 measured at that step (`pass@1`,
`pass@1/<task or language>`). Rows sort by any column; missing values always sort last, and
the contest column puts full-set scores before subset scores.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.validate.score import ContestScore, contest_view
from engine.validate.tasks import CONTEST_TASKS

_LANG_SHORT = {"python": "py", "js": "js", "java": "java", "go": "go", "cpp": "cpp", "rust": "rs"}


@dataclass
class CompareRow:
    key: str  # stable: "<run>@<step>#<validation>", "val:<id>", ...
    run: str | None = None
    run_name: str | None = None
    checkpoint: str | None = None  # step-0000200, or the model's label outside runs
    step: int | None = None
    checkpoint_path: str | None = None
    checkpoint_exists: bool = False  # the folder is still there (retention may remove it)
    model: str | None = None
    adapter: str | None = None
    validation: str | None = None
    status: str | None = None  # the validation's: running | completed
    taskset: str | None = None
    fraction: float | None = None  # < 1: scores are on a fixed subset
    format: str | None = None
    greedy: bool | None = None
    n_problems: int = 0
    pass_at_1: float | None = None  # over all problems of the validation
    tasks: dict[str, float | None] = field(default_factory=dict)
    contest: ContestScore | None = None  # the contest score, or a subset's (its label says which)
    contest_missing: list[str] = field(default_factory=list)
    valid_loss: float | None = None
    valid_losses: dict[str, float] = field(default_factory=dict)
    train_pass: dict[str, float] = field(default_factory=dict)  # in-training pass@1 keys at this step
    created: float = 0.0
    run_created: float = 0.0
    marked: bool = False

    @property
    def spec(self) -> str | None:
        """What `eval run --model` / `submit build --checkpoint` accept for this checkpoint."""
        if self.run and self.step is not None:
            return f"{self.run}@{self.step}"
        return self.checkpoint_path or self.adapter or self.model

    @property
    def label(self) -> str:
        who = self.run_name or self.run
        if who and self.step is not None:
            return f"{who} step {self.step}"
        return self.checkpoint or self.model or "?"

    @property
    def train_pass_at_1(self) -> float | None:
        return self.train_pass.get("pass@1")

    @property
    def contest_tasks_scored(self) -> int:
        return sum(1 for t in CONTEST_TASKS if self.tasks.get(t) is not None)

    @property
    def contest_score(self) -> float | None:
        """The contest score: only for every problem of every contest task."""
        return self.contest.score if self.contest is not None and self.contest.full else None

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return {
            **asdict(self),
            "contest": self.contest.to_dict() if self.contest else None,
            "contest_score": self.contest_score,
            "spec": self.spec,
            "label": self.label,
        }


@dataclass(frozen=True)
class Column:
    key: str  # "run", "step", "validation", "contest", "pass@1", "task:<name>", "valid_loss", ...
    title: str
    better: str | None  # "high" | "low" | None (text): the default sort puts the best first


@dataclass
class Matrix:
    rows: list[CompareRow]
    tasks: list[str]  # task columns, contest tasks first (in contest order)
    failed_validations: int = 0  # not shown: they have no scores
    mark: Any = None  # SubmissionMark | None

    @property
    def columns(self) -> list[Column]:
        return columns_for(self.tasks)


def short_task(name: str) -> str:
    """humanevalsynthesize-python -> syn-py, humanevalfixtests-rust -> fix-rs; others as is."""
    for kind, short in (
        ("humanevalsynthesize-", "syn-"),
        ("humanevalfixtests-", "fix-"),
        ("humanevalfixdocs-", "doc-"),
    ):
        if name.startswith(kind):
            lang = name[len(kind) :]
            return short + _LANG_SHORT.get(lang, lang)
    return name if len(name) <= 14 else name[:13] + "…"


def columns_for(tasks: list[str]) -> list[Column]:
    return (
        [
            Column("run", "run", None),
            Column("step", "step", "high"),
            Column("validation", "validation", None),
            Column("contest", "contest", "high"),
            Column("pass@1", "pass@1", "high"),
        ]
        + [Column(f"task:{t}", short_task(t), "high") for t in tasks]
        + [Column("valid_loss", "valid loss", "low"), Column("train_pass", "train p@1", "high")]
    )


def value(row: CompareRow, key: str) -> Any:
    """The sortable value of a column (None when the row has none)."""
    if key == "run":
        return row.run_name or row.run or row.checkpoint or row.model
    if key == "step":
        return row.step
    if key == "validation":
        return row.validation
    if key == "contest":
        return row.contest.score if row.contest is not None else None
    if key == "pass@1":
        return row.pass_at_1
    if key == "valid_loss":
        return row.valid_loss
    if key == "train_pass":
        return row.train_pass_at_1
    if key.startswith("task:"):
        return row.tasks.get(key[5:])
    raise KeyError(f"unknown column {key!r}")


def sort_rows(
    rows: Iterable[CompareRow], key: str | None, descending: bool | None = None, tasks: list[str] | None = None
) -> list[CompareRow]:
    """Rows sorted by a column; `descending=None` puts the best first (highest pass@1, lowest
    loss, text A-Z). Rows without a value come last either way; ties keep the default order."""
    rows = list(rows)
    if not key:
        return rows
    col = next((c for c in columns_for(tasks or []) if c.key == key), None)
    if descending is None:
        descending = col is not None and col.better == "high"
    have = [r for r in rows if value(r, key) is not None]
    missing = [r for r in rows if value(r, key) is None]

    def k(r: CompareRow) -> Any:
        v = value(r, key)
        if key == "contest":  # a subset's score never ranks among full-set scores
            return (bool(r.contest and r.contest.full) == bool(descending), v)
        return v.lower() if isinstance(v, str) else v

    return sorted(have, key=k, reverse=descending) + missing


# -- collecting ------------------------------------------------------------------------------------


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else None


def _step_metrics(metrics_path: Path, steps: set[int]) -> dict[int, dict[str, Any]]:
    """valid_loss* and pass@1* values logged at the given steps (later records win). Only lines
    that mention one of those keys are parsed: metrics files can hold 100k steps."""
    out: dict[int, dict[str, Any]] = {}
    if not steps or not metrics_path.is_file():
        return out
    with open(metrics_path, "rb") as f:
        for raw in f:
            if b'"valid_loss' not in raw and b'"pass@1' not in raw:
                continue
            try:
                rec = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue  # a half-written last line while the run trains
            if not isinstance(rec, dict) or rec.get("step") not in steps:
                continue
            keep = {
                k: v
                for k, v in rec.items()
                if (k.startswith("valid_loss") or k.startswith("pass@1")) and _num(v) is not None
            }
            if keep:
                out.setdefault(rec["step"], {}).update(keep)
    return out


def _losses_and_pass(
    meta: dict[str, Any], logged: dict[str, Any]
) -> tuple[float | None, dict[str, float], dict[str, float]]:
    merged = {**logged, **{k: v for k, v in meta.items() if _num(v) is not None}}
    vl = _num(merged.get("valid_loss"))
    per = {
        k.split("/", 1)[1]: float(v) for k, v in merged.items() if k.startswith("valid_loss/") and _num(v) is not None
    }
    tp = {k: float(v) for k, v in merged.items() if (k == "pass@1" or k.startswith("pass@1/")) and _num(v) is not None}
    return vl, per, tp


def _apply_validation(row: CompareRow, v: Any) -> None:
    m, s = v.meta(), v.summary()
    row.validation, row.status = v.id, v.status(m)
    ts = m.get("taskset") or {}
    row.taskset, row.fraction = ts.get("name"), _num(ts.get("fraction"))
    row.format = (m.get("format") or {}).get("name")
    st = m.get("settings") or {}
    row.greedy = bool(int(st.get("n", 1)) == 1 and not st.get("do_sample") and int(st.get("num_beams", 1) or 1) == 1)
    row.created = float(m.get("created") or 0.0)
    row.n_problems = int(s.get("n_problems") or m.get("n_problems") or 0)
    row.pass_at_1 = _num(s.get("pass@1", m.get("pass@1")))
    task_names = list((ts.get("tasks") or {}).keys()) or list((s.get("tasks") or {}).keys())
    row.tasks = {t: _num(((s.get("tasks") or {}).get(t) or {}).get("pass@1")) for t in task_names}
    row.contest = contest_view(s, m)
    row.contest_missing = [t for t in CONTEST_TASKS if row.tasks.get(t) is None] if row.status == "completed" else []


def collect(ws: Any) -> Matrix:
    """Read the workspace's runs, checkpoints and validations into the Compare matrix. Cheap
    files only (run.json, checkpoint.json, metrics lines with losses, summary.json)."""
    from engine.compare.mark import read_mark
    from engine.runs import list_runs
    from engine.validate.checkpoints import run_base_model
    from engine.validate.store import list_validations

    try:
        mark = read_mark(ws)
    except Exception:  # noqa: BLE001 - a broken mark file must not hide the matrix; `submit mark` reports it
        mark = None
    by_ckpt: dict[tuple[str, int], list[Any]] = {}
    outside: list[Any] = []
    failed = 0
    for v in list_validations(ws.validations_dir):
        m = v.meta()
        if v.status(m) == "failed":
            failed += 1
            continue
        ck = m.get("checkpoint") or {}
        if ck.get("run") and isinstance(ck.get("step"), int):
            by_ckpt.setdefault((str(ck["run"]), ck["step"]), []).append(v)
        else:
            outside.append(v)
    for vs in by_ckpt.values():
        vs.sort(key=lambda v: (v.meta().get("created", 0), v.id))

    rows: list[CompareRow] = []
    for run in list_runs(ws.runs_dir):
        info = run.read_info()
        ckpts = {c["step"]: c for c in run.checkpoints()}
        steps = set(ckpts) | {s for (r, s) in by_ckpt if r == run.id}
        logged = _step_metrics(run.metrics_path, steps)
        cfg_model = None
        for step in sorted(steps):
            meta = ckpts.get(step, {})
            vl, per, tp = _losses_and_pass(meta, logged.get(step, {}))
            path = meta.get("path") or str(run.checkpoint_dir(step))
            base = meta.get("base_model")
            if base is None and meta.get("weights", "adapter") != "model":
                cfg_model = cfg_model or run_base_model(run.path)
                base = cfg_model
            weights = meta.get("weights") or ("model" if (Path(path) / "model").is_dir() else "adapter")
            common: dict[str, Any] = dict(
                run=run.id,
                run_name=info.get("name") or run.id,
                checkpoint=Path(path).name,
                step=step,
                checkpoint_path=path,
                checkpoint_exists=step in ckpts,
                valid_loss=vl,
                valid_losses=per,
                train_pass=tp,
                run_created=float(info.get("created") or 0.0),
                model=str(Path(path) / "model") if weights == "model" else base,
                adapter=str(Path(path) / "adapter") if weights != "model" else None,
            )
            vs = by_ckpt.pop((run.id, step), [])
            if not vs:
                rows.append(CompareRow(key=f"{run.id}@{step}", created=float(meta.get("time") or 0.0), **common))
            for v in vs:
                row = CompareRow(key=f"{run.id}@{step}#{v.id}", **common)
                _apply_validation(row, v)
                rows.append(row)
    # validations of runs no longer in the workspace, then of models outside runs
    for (run_id, step), vs in sorted(by_ckpt.items()):
        for v in vs:
            ck = v.meta().get("checkpoint") or {}
            row = CompareRow(
                key=f"{run_id}@{step}#{v.id}",
                run=run_id,
                run_name=run_id,
                step=step,
                checkpoint=Path(ck["path"]).name if ck.get("path") else f"step-{step:07d}",
                checkpoint_path=ck.get("path"),
                model=ck.get("model"),
                adapter=ck.get("adapter"),
            )
            _apply_validation(row, v)
            rows.append(row)
    for v in sorted(outside, key=lambda v: (v.meta().get("created", 0), v.id)):
        ck = v.meta().get("checkpoint") or {}
        path = ck.get("path") or ck.get("adapter") or ck.get("model")
        row = CompareRow(
            key=f"val:{v.id}",
            checkpoint=ck.get("label") or ck.get("model"),
            checkpoint_path=ck.get("path"),
            checkpoint_exists=bool(path) and Path(str(path)).exists(),
            model=ck.get("model"),
            adapter=ck.get("adapter"),
        )
        _apply_validation(row, v)
        rows.append(row)
    if mark is not None:
        for r in rows:
            r.marked = mark.matches(run=r.run, step=r.step, model=r.model, adapter=r.adapter)
    return Matrix(rows, _task_columns(rows), failed, mark)


def _task_columns(rows: list[CompareRow]) -> list[str]:
    seen: dict[str, None] = {}
    for r in rows:
        for t in r.tasks:
            seen.setdefault(t, None)
    contest = [t for t in CONTEST_TASKS if t in seen]
    return contest + [t for t in seen if t not in CONTEST_TASKS]


def find_row(matrix: Matrix, ident: str) -> CompareRow:
    """A row by its key, a validation id (or unique part), or RUN@STEP (its newest completed
    validation, else the checkpoint row)."""
    from engine.errors import WorkbenchError

    exact = [r for r in matrix.rows if r.key == ident or r.validation == ident]
    if exact:
        return exact[0]
    if "@" in ident:
        run_part, _, step_part = ident.rpartition("@")
        step = int(step_part) if step_part.isdigit() else None
        cands = [
            r
            for r in matrix.rows
            if r.run and step is not None and r.step == step and (r.run == run_part or run_part in r.run)
        ]
        if len({r.run for r in cands}) > 1:
            raise WorkbenchError(
                f"{run_part!r} matches several runs: " + ", ".join(sorted({r.run or "" for r in cands}))
            )
        if cands:
            done = [r for r in cands if r.status == "completed"]
            return max(done, key=lambda r: r.created) if done else cands[0]
    parts = [r for r in matrix.rows if r.validation and ident in r.validation]
    if len(parts) == 1:
        return parts[0]
    if len(parts) > 1:
        raise WorkbenchError(
            f"{ident!r} matches {len(parts)} validations: " + ", ".join(r.validation or "" for r in parts[:5])
        )
    raise WorkbenchError(
        f"no checkpoint or validation {ident!r} in the Compare matrix (give a validation id, RUN_ID@STEP or a row key)"
    )
