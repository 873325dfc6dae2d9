"""What the contest wanted (docs/compare-submit.md, research mftcoder.md §4.5):

    generations_<model>.zip
      generations_<model>/
        generations_<task>_<model>.json     one per contest task (CONTEST_TASKS)

Each file is the bigcode-evaluation-harness `--save_generations` layout: a JSON list with one
entry per problem, in the benchmark's order, each entry a list of the problem's programs — one
string, since generation was greedy (n = 1, do_sample false, num_beams 1). A wrong name scores 0.
Problems per task: 164 for each HumanEvalPack task, 500 for mbpp (task ids 11-510).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from engine.errors import WorkbenchError
from engine.validate.tasks import HARNESS_LANGS, HEP_PROBLEMS, MBPP_PROBLEMS

MBPP_FIRST_ID = 11
# task_id prefix of each HumanEvalPack language file
HEP_ID_PREFIX = {"python": "Python", "js": "JavaScript", "java": "Java", "go": "Go", "cpp": "CPP", "rust": "Rust"}
_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$")


def check_model_name(name: str) -> str:
    """A model name that is safe in a file name and the contest's pattern."""
    if not _MODEL_NAME.match(name or ""):
        raise WorkbenchError(
            f"model name {name!r}: use letters, digits, '.', '_', '+' or '-' (at most 100, "
            "starting with a letter or digit); it becomes generations_<task>_<name>.json"
        )
    return name


def default_model_name(label: str) -> str:
    """A model name from a checkpoint label: unsafe characters become '-'."""
    s = re.sub(r"[^A-Za-z0-9._+-]+", "-", label or "").strip("-._+")
    return (s or "model")[:100]


def folder_name(model: str) -> str:
    return f"generations_{model}"


def file_name(task: str, model: str) -> str:
    return f"generations_{task}_{model}.json"


def task_file_stem(task: str) -> str:
    """The part of a file name a task contributes (a problem file's stem for custom tasks)."""
    if "/" in task or "\\" in task:
        raise WorkbenchError(f"task name {task!r} cannot go into a file name")
    return task


def default_problem_ids(task: str) -> list[str] | None:
    """The contest tasks' problem ids in benchmark order, without the benchmark files."""
    if task == "mbpp":
        return [str(MBPP_FIRST_ID + i) for i in range(MBPP_PROBLEMS)]
    for kind in ("humanevalsynthesize-", "humanevalfixtests-", "humanevalfixdocs-"):
        if task.startswith(kind) and task[len(kind) :] in HARNESS_LANGS:
            return [f"{HEP_ID_PREFIX[task[len(kind) :]]}/{i}" for i in range(HEP_PROBLEMS)]
    return None


def expected_problems(
    tasks: list[str], *, data_dir: str | Path | None = None, root: str | Path | None = None, strict: bool = True
) -> dict[str, list[dict[str, Any]]]:
    """Per task, its problems in order: [{"task_id", "entry_point"}]. From the benchmark files
    when `data_dir` holds them (or for problem files), else the contest's known ids (no entry
    points). A task that cannot be loaded and has no known ids raises (`strict`) or is left out."""
    from engine.validate.tasks import load_task

    out: dict[str, list[dict[str, Any]]] = {}
    for t in tasks:
        known = default_problem_ids(t)
        if known is not None and data_dir is None:
            out[t] = [{"task_id": i, "entry_point": ""} for i in known]
            continue
        try:
            task = load_task(t, data_dir=data_dir, root=root)
        except Exception as e:  # noqa: BLE001 - fall back to the known ids for contest tasks
            if known is None:
                if not strict:
                    continue
                raise WorkbenchError(f"cannot tell the problems of task {t!r}: {e}") from None
            out[t] = [{"task_id": i, "entry_point": ""} for i in known]
            continue
        out[t] = [{"task_id": str(p.task_id), "entry_point": p.entry_point or ""} for p in task.problems]
    return out
