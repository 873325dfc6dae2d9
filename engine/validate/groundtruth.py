"""Ground truth before scores: before a model is scored on a problem set, the set's own
canonical solutions go through the executor (`execute(..., "canonical")`) under the limits the
model will be judged by. A set whose reference solutions fail scores any model low for the
set's fault or the machine's (BigCodeBench once reported a ground-truth pass rate of 0.000 on
a broken environment), so a failure is a warning that names the set and the problems.

The check is cached per problem set, keyed by the set's content, the toolchains of its
languages, the sandbox mode, the limits and the executor version: a second run of the same set
on the same machine reads the verdicts back. Canonical solutions that fail in every harness
(`engine.execute.doctor.KNOWN_UPSTREAM`, upstream data bugs) are listed apart, not as failures.

    checks = check_ground_truth(taskset)
    [c.warning() for c in checks if c.warning()]
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.execute.core import Limits
from engine.fsutil import atomic_write_json, read_json_or
from engine.problems.model import Problem
from engine.validate.tasks import Task, TaskSet

CACHE_VERSION = "1"  # bump when what a cached check holds changes
# MBPP problems whose canonical solution needs its test_setup_code, which the contest's harness
# does not run (test_list alone): they fail there too, so under the contest profile they are known.
MBPP_WITHOUT_SETUP = {"367": "the canonical solution uses the Node class that test_setup_code defines"}
SHOWN = 8  # failing problems named in a one-line warning


@dataclass(frozen=True)
class Failure:
    task_id: str
    verdict: str
    detail: str = ""


@dataclass
class SetCheck:
    """One problem set's canonical solutions under the executor."""

    task: str  # the set (a task of the task set)
    problems: int  # problems in the set
    checked: int  # problems with a canonical solution
    failed: list[Failure] = field(default_factory=list)  # canonical solutions that do not pass
    known: list[Failure] = field(default_factory=list)  # ... because of a known upstream data bug
    cached: bool = False
    key: str = ""

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def infra_errors(self) -> int:
        return sum(f.verdict == "infra_error" for f in self.failed)

    def warning(self) -> str | None:
        """One line naming the set, how many canonical solutions fail and which; None when none do."""
        if not self.failed:
            return None
        names = ", ".join(f"{f.task_id} ({f.verdict})" for f in self.failed[:SHOWN])
        more = f" and {len(self.failed) - SHOWN} more" if len(self.failed) > SHOWN else ""
        hint = "; the toolchain could not judge some: `workbench eval doctor`" if self.infra_errors else ""
        return (
            f"ground truth: {self.task}: {len(self.failed)} of {self.checked} canonical solutions fail: "
            f"{names}{more}{hint}"
        )

    def note(self) -> str | None:
        """The known upstream data bugs seen, apart from the failures; or that nothing could be
        checked."""
        if not self.checked:
            return f"ground truth: {self.task}: no canonical solutions to check ({self.problems} problems)"
        if not self.known:
            return None
        return f"ground truth: {self.task}: known upstream data bugs (not counted): " + ", ".join(
            f.task_id for f in self.known
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "problems": self.problems,
            "checked": self.checked,
            "ok": self.ok,
            "failed": [dataclasses.asdict(f) for f in self.failed],
            "known": [dataclasses.asdict(f) for f in self.known],
            "cached": self.cached,
            "key": self.key,
            "warning": self.warning(),
            "note": self.note(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, cached: bool = False) -> SetCheck:
        return cls(
            str(d["task"]),
            int(d["problems"]),
            int(d["checked"]),
            [Failure(**f) for f in d.get("failed") or []],
            [Failure(**f) for f in d.get("known") or []],
            cached,
            str(d.get("key") or ""),
        )


def _known_upstream() -> dict[str, str]:
    from engine.execute.doctor import KNOWN_UPSTREAM

    return KNOWN_UPSTREAM


def _content(value: Any) -> Any:
    """A JSON-able form of a problem's fields: nested records (evalplus inputs, io cases) by their
    compared fields (an evalplus input set's output cache is not content)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value) if f.compare}
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    return repr(value)


def _problem_text(p: Problem) -> str:
    """Everything of a problem that decides how its canonical solution is judged."""
    d = {f.name: getattr(p, f.name) for f in dataclasses.fields(p) if f.compare and f.name not in ("source", "line")}
    return json.dumps(d, sort_keys=True, default=_content, ensure_ascii=False)


LimitsFor = Callable[[Problem], Limits]  # a limits profile (engine.execute.profiles.Profile)


def set_key(task: Task, limits: Limits | LimitsFor, sandbox: str) -> str:
    """The cache key of one set's check: content, toolchains, sandbox, limits (of every problem,
    under a profile), executor."""
    from engine.execute.profiles import resolver

    limits_of = resolver(limits)
    signature = "|".join(sorted({limits_of(p).signature() for p in task.problems}))
    from engine.execute.api import EXECUTOR_VERSION
    from engine.execute.toolchains import probe

    h = hashlib.sha256()
    fingerprints = {lang: probe(lang).fingerprint for lang in sorted({p.language for p in task.problems})}
    for part in (CACHE_VERSION, EXECUTOR_VERSION, signature, sandbox, json.dumps(fingerprints)):
        h.update(part.encode())
        h.update(b"\0")
    for p in task.problems:
        h.update(_problem_text(p).encode("utf-8", "replace"))
        h.update(b"\0")
    return h.hexdigest()[:32]


def cache_dir() -> Path:
    from engine.execute.toolchains import exec_cache_dir

    return exec_cache_dir() / "ground-truth"


def _verdicts(task: Task, results: dict[tuple[str, str], dict[str, Any]], key: str, limits_of: LimitsFor) -> SetCheck:
    known = _known_upstream()
    check = SetCheck(task.name, len(task.problems), 0, key=key)
    for p in task.problems:
        r = results.get((p.task_id, _judged_text(p, limits_of)))
        if r is None:
            continue
        check.checked += 1
        if r["verdict"] == "passed":
            continue
        f = Failure(p.task_id, r["verdict"], str(r.get("detail") or "")[:300])
        upstream = r["verdict"] != "infra_error" and (
            (p.suite == "humanevalpack" and p.task_id in known)
            or (p.suite == "mbpp" and p.task_id in MBPP_WITHOUT_SETUP and not limits_of(p).mbpp_setup)
        )
        (check.known if upstream else check.failed).append(f)
    return check


def _judged_text(p: Problem, limits_of: LimitsFor) -> str:
    """A problem's text and the limits it is judged under: what makes two checks the same."""
    return _problem_text(p) + "\0" + limits_of(p).signature()


def _rounds(tasks: list[tuple[Task, LimitsFor]]) -> list[dict[str, tuple[str, Problem, Limits]]]:
    """The problems to run, in as few executor calls as ids allow: one problem per task id in a
    call (ids stay as the set wrote them: an evalplus problem's expected outputs are keyed by
    its own id), and a problem two tasks share (HumanEvalPack synthesize and fix) under the same
    limits run once."""
    rounds: list[dict[str, tuple[str, Problem, Limits]]] = []
    for task, limits_of in tasks:
        for p in task.problems:
            if p.canonical_solution is None:
                continue
            text = _judged_text(p, limits_of)
            for r in rounds:
                have = r.get(p.task_id)
                if have is None or have[0] == text:
                    r[p.task_id] = (text, p, limits_of(p))
                    break
            else:
                rounds.append({p.task_id: (text, p, limits_of(p))})
    return rounds


def check_ground_truth(
    taskset: TaskSet,
    *,
    limits: Limits | LimitsFor | Mapping[str, LimitsFor] | None = None,
    workers: int | None = None,
    cache: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> list[SetCheck]:
    """Run (or read back) the canonical solutions of every task of `taskset`, one `SetCheck`
    per task in order, under `limits`: one Limits, a profile, or a profile per task name.
    Tasks whose problems carry no canonical solution are reported with `checked` 0."""
    from engine.execute import execute
    from engine.execute.profiles import resolver
    from engine.execute.sandbox import detect

    per_task = {t.name: resolver(limits.get(t.name) if isinstance(limits, Mapping) else limits) for t in taskset.tasks}
    mode = detect().mode
    out: dict[str, SetCheck] = {}
    todo: list[tuple[Task, str]] = []
    for task in taskset.tasks:
        key = set_key(task, per_task[task.name], mode)
        hit = read_json_or(cache_dir() / f"{key}.json", None) if cache else None
        if isinstance(hit, dict) and hit.get("task") == task.name:
            out[task.name] = SetCheck.from_dict(hit, cached=True)
        else:
            todo.append((task, key))
    rounds = _rounds([(t, per_task[t.name]) for t, _ in todo])
    total = sum(len(r) for r in rounds)
    results: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rounds:
        offset = len(results)

        def tick(done: int, _total: int, _rec: dict[str, Any], offset: int = offset) -> None:
            if progress:
                progress(offset + done, total)

        def judged_under(p: Problem, r: dict[str, tuple[str, Problem, Limits]] = r) -> Limits:
            return r[p.task_id][2]

        rep = execute(
            [p for _, p, _ in r.values()], "canonical", workers=workers, cache=cache, progress=tick, limits=judged_under
        )
        results.update({(str(x["task_id"]), r[str(x["task_id"])][0]): x for x in rep.results})
    for task, key in todo:
        check = _verdicts(task, results, key, per_task[task.name])
        out[task.name] = check
        if cache and not check.infra_errors:  # a broken toolchain is retried next time
            atomic_write_json(cache_dir() / f"{key}.json", check.to_dict())
    return [out[t.name] for t in taskset.tasks]


def summary_of(checks: list[SetCheck]) -> dict[str, Any]:
    """What validation.json / summary.json keep: per set, and every warning line."""
    return {
        "sets": [c.to_dict() for c in checks],
        "ok": all(c.ok for c in checks),
        "warnings": [w for c in checks if (w := c.warning())],
        "notes": [n for c in checks if (n := c.note())],
    }
