"""Validation tasks and task sets.

A task is a named list of problems scored together:
    humanevalsynthesize-<lang>   HumanEvalPack synthesize (lang: python js java go cpp rust)
    humanevalfixtests-<lang>     HumanEvalPack fix, buggy code + its tests shown
    humanevalfixdocs-<lang>      HumanEvalPack fix, buggy code + docstring shown
    mbpp                         MBPP test split (task ids 11-510, as the contest's harness)
    leetcode[:variant]           LeetCodeDataset (engine.problems built-in names)
    PATH                         any problem file (docs/problems.md schemas); named by its stem
The contest tasks are `CONTEST_TASKS`. A task set is a named `[tasksets.NAME]` entry of the
workspace (tasks + an optional fixed `fraction`), or an ad-hoc comma list of task names.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import InputError, WorkbenchError
from engine.problems.model import Problem

HARNESS_LANGS = ("python", "js", "java", "go", "cpp", "rust")
LANG_OF_HARNESS = {"python": "python", "js": "javascript", "java": "java", "go": "go", "cpp": "cpp", "rust": "rust"}
HARNESS_OF_LANG = {v: k for k, v in LANG_OF_HARNESS.items()}
CONTEST_TASKS = [
    f"humaneval{kind}-{lang}"
    for kind in ("synthesize", "fixtests")
    for lang in ("python", "js", "java", "go", "cpp", "rust")
] + ["mbpp"]
CONTEST_SET = "contest"  # the name a full-contest task set goes by
HEP_PROBLEMS = 164  # problems per HumanEvalPack task
MBPP_PROBLEMS = 500  # the MBPP test split the contest used (task ids 11-510)


def contest_task_size(name: str) -> int:
    """Problems of a contest task in the contest (without loading the benchmark)."""
    return MBPP_PROBLEMS if name == "mbpp" else HEP_PROBLEMS


def contest_size() -> int:
    """Problems of the full contest set (2,468)."""
    return sum(contest_task_size(t) for t in CONTEST_TASKS)


_HEP_NAME = re.compile(r"^humaneval(synthesize|fixtests|fixdocs)-([a-z+]+)$")


@dataclass(frozen=True)
class Task:
    """One scored task: its harness name, kind and problems (ids unique within the task)."""

    name: str
    kind: str  # synthesize | fixtests | fixdocs | mbpp | leetcode | custom
    spec: str  # what engine.problems.load_problems was given
    problems: tuple[Problem, ...] = field(default=(), repr=False)
    total: int = 0  # problems before any subset

    @property
    def languages(self) -> list[str]:
        return sorted({p.language for p in self.problems})

    def uid(self, problem: Problem) -> str:
        """A problem id unique across tasks (HumanEvalPack reuses `Python/0` in every task)."""
        return f"{self.name}/{problem.task_id}"


@dataclass(frozen=True)
class TaskSet:
    name: str
    tasks: tuple[Task, ...]
    fraction: float = 1.0
    seed: int = 0
    description: str = ""

    @property
    def n_problems(self) -> int:
        return sum(len(t.problems) for t in self.tasks)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "fraction": self.fraction,
            "seed": self.seed,
            "description": self.description,
            "tasks": {
                t.name: {"kind": t.kind, "spec": t.spec, "problems": len(t.problems), "total": t.total}
                for t in self.tasks
            },
        }


def task_kind(name: str) -> str:
    """The kind of a task name (without loading anything); a path is `custom`."""
    m = _HEP_NAME.match(name)
    if m:
        return m.group(1)
    base = name.split(":", 1)[0].lower()
    if base == "mbpp":
        return "mbpp"
    if base == "leetcode":
        return "leetcode"
    return "custom"


def _file_stem(path: Path) -> str:
    name = path.name
    for ext in (".gz", ".jsonl", ".json"):
        if name.endswith(ext):
            name = name[: -len(ext)]
    return name or path.name


def load_task(name: str, *, data_dir: str | Path | None = None, root: str | Path | None = None) -> Task:
    """Load one task's problems. `data_dir` is the benchmark mirror ([benchmarks] data_dir);
    `root` resolves relative problem-file paths (the workspace)."""
    from engine.problems import load_problems

    name = name.strip()
    if not name:
        raise WorkbenchError("empty task name")
    m = _HEP_NAME.match(name)
    if m:
        kind, lang = m.group(1), m.group(2)
        if lang not in LANG_OF_HARNESS:
            raise WorkbenchError(f"task {name!r}: unknown language {lang!r} (one of {', '.join(HARNESS_LANGS)})")
        spec = f"humanevalpack:{lang}"
        probs = load_problems(spec, data_dir)
        if kind != "synthesize":
            missing = [p.task_id for p in probs if p.buggy_solution is None]
            if missing:
                raise WorkbenchError(
                    f"task {name!r}: {len(missing)} problems have no buggy_solution "
                    f"(first: {missing[0]}); the fix tasks need HumanEvalPack"
                )
        return Task(name, kind, spec, tuple(probs), len(probs))
    base = name.split(":", 1)[0].lower()
    if base == "mbpp" and not _looks_like_path(name):
        spec = name if ":" in name else "mbpp:test"
        probs = load_problems(spec, data_dir)
        return Task(name, "mbpp", spec, tuple(probs), len(probs))
    if base == "leetcode" and not _looks_like_path(name):
        probs = load_problems(name, data_dir)
        return Task(name, "leetcode", name, tuple(probs), len(probs))
    path = Path(name).expanduser()
    if not path.is_absolute() and root is not None:
        path = Path(root) / path
    if not path.exists():
        raise InputError(
            "no such problem file, and not a task name (humanevalsynthesize-<lang>, "
            "humanevalfixtests-<lang>, humanevalfixdocs-<lang>, mbpp, leetcode[:variant])",
            file=name,
        )
    probs = load_problems(str(path))
    return Task(_file_stem(path), "custom", str(path), tuple(probs), len(probs))


def _looks_like_path(name: str) -> bool:
    return "/" in name or name.endswith((".jsonl", ".json", ".gz"))


def subset_key(task: Task, problem: Problem, seed: int) -> str:
    """Ordering key of the fixed subset. HumanEvalPack problems hash by their number alone, so
    a subset holds the same problems in every language and in synthesize and fix alike."""
    tid = problem.task_id
    if problem.suite == "humanevalpack" and "/" in tid:
        group, ident = "humanevalpack", tid.rsplit("/", 1)[1]
    else:
        group, ident = task.name, tid
    return hashlib.sha256(f"{seed}\0{group}\0{ident}".encode()).hexdigest()


def select_subset(task: Task, fraction: float, seed: int = 0, limit: int | None = None) -> Task:
    """A fixed subset: the ceil(fraction * n) problems with the smallest hash keys, in their
    original order; then at most `limit` of them."""
    if not 0 < fraction <= 1:
        raise WorkbenchError(f"fraction must be in (0, 1], got {fraction}")
    probs = list(task.problems)
    if fraction < 1:
        keep_n = max(1, math.ceil(fraction * len(probs)))
        chosen = set(sorted(range(len(probs)), key=lambda i: subset_key(task, probs[i], seed))[:keep_n])
        probs = [p for i, p in enumerate(probs) if i in chosen]
    if limit is not None:
        probs = probs[: max(0, int(limit))]
    return dataclasses.replace(task, problems=tuple(probs))


def resolve_taskset(
    spec: str,
    *,
    ws: Any = None,
    data_dir: str | Path | None = None,
    fraction: float | None = None,
    seed: int | None = None,
    limit: int | None = None,
) -> TaskSet:
    """A task set by name (`[tasksets.NAME]` of the workspace) or a comma list of task names /
    problem files. `fraction` / `seed` override the set's; `limit` caps problems per task."""
    spec = spec.strip()
    if not spec:
        raise WorkbenchError("no tasks given (a task set name, or task names joined with commas)")
    entry = None
    if ws is not None:
        entry = ws.config.tasksets.get(spec)
        if data_dir is None and ws.benchmarks_dir() is not None:
            data_dir = ws.benchmarks_dir()
    root = ws.root if ws is not None else None
    if entry is not None:
        names, frac, sd, desc = list(entry.tasks), entry.fraction, entry.seed, entry.description
    else:
        names = [n.strip() for n in spec.split(",") if n.strip()]
        frac, sd, desc = 1.0, 0, ""
        if (
            ws is not None
            and len(names) == 1
            and task_kind(names[0]) == "custom"
            and not _looks_like_path(names[0])
            and not Path(names[0]).exists()
        ):
            known = ", ".join(sorted(ws.config.tasksets)) or "none"
            raise WorkbenchError(
                f"unknown task set or task {names[0]!r} (task sets in this workspace: {known}; "
                "tasks: humanevalsynthesize-<lang>, humanevalfixtests-<lang>, mbpp, leetcode, "
                "or a problem file)"
            )
    frac = frac if fraction is None else fraction
    sd = sd if seed is None else seed
    tasks: list[Task] = []
    seen: set[str] = set()
    for n in names:
        t = load_task(n, data_dir=data_dir, root=root)
        if t.name in seen:
            raise WorkbenchError(f"task {t.name!r} appears twice in {spec!r}")
        seen.add(t.name)
        tasks.append(select_subset(t, frac, sd, limit))
    return TaskSet(spec if entry is not None else ",".join(t.name for t in tasks), tuple(tasks), frac, sd, desc)


def full_contest_taskset(*, ws: Any = None, data_dir: str | Path | None = None) -> TaskSet:
    """Every problem of every contest task (`CONTEST_TASKS`), whatever the workspace's
    `[tasksets.contest]` says: what `eval run --full` scores."""
    ts = resolve_taskset(",".join(CONTEST_TASKS), ws=ws, data_dir=data_dir, fraction=1.0, seed=0)
    return dataclasses.replace(ts, name=CONTEST_SET, description="all problems of the contest tasks")


def taskset_from_problems(problems: Any, name: str = "problems") -> TaskSet:
    """A task set from problems in memory: a list (one task named `name`) or {task: list}.
    Items are `Problem`s or rows in any problem schema."""
    from engine.problems import problem_from_row

    groups = problems if isinstance(problems, dict) else {name: problems}
    tasks = []
    for tname, items in groups.items():
        probs = []
        for i, it in enumerate(items):
            probs.append(it if isinstance(it, Problem) else problem_from_row(it, file=f"<{tname}>", line=i + 1))
        kinds = {p.suite for p in probs}
        kind = {
            frozenset({"mbpp"}): "mbpp",
            frozenset({"leetcode"}): "leetcode",
            frozenset({"humanevalpack"}): "synthesize",
        }.get(frozenset(kinds), "custom")
        tasks.append(Task(str(tname), kind, f"<{tname}>", tuple(probs), len(probs)))
    return TaskSet(name, tuple(tasks))
