"""The validation directory: one folder per scored checkpoint.

validations/<id>/
  validation.json     what was scored and how: checkpoint (model, adapter, run, step), task set,
                      prompt format (full spec), post-processing, backend, generation settings,
                      status (running | completed | failed), timings, error
  progress.json       heartbeat while running: phase (load | generate | execute | score), done, total
  generations.jsonl   one line per sample: task, task_id, uid, language, sample, prompt (as sent),
                      raw (decoded output, special tokens kept), code + kind (what was executed),
                      alt_code + alt_kind (the other post-processing mode), tokens, finish
  bigcode/generations_<task>.json   the bigcode harness layout: a list (per problem, in task
                      order) of lists (per sample) of programs; task_ids_<task>.json beside it
  exec/               the executor's results.jsonl + summary.json (primary mode)
  exec-alt/           the same for the other post-processing mode (when compared)
  results.jsonl       one line per sample: uid, task, task_id, language, sample, verdict, tests
                      passed/total, duration, detail, failed tests, program, alt_verdict
  summary.json        pass@k + test-case pass rate per task / language / overall, predicted
                      contest score, verdict counts, post-processing flips
"""

from __future__ import annotations

import json
import secrets
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from engine.errors import WorkbenchError
from engine.fsutil import atomic_write_json, read_json_or


def new_validation_id(label: str = "val") -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in label).strip("-.")[:48] or "val"
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{safe}-{secrets.token_hex(2)}"


class ValidationDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    @property
    def id(self) -> str:
        return self.path.name

    meta_json = property(lambda self: self.path / "validation.json")
    progress_json = property(lambda self: self.path / "progress.json")
    generations_jsonl = property(lambda self: self.path / "generations.jsonl")
    results_jsonl = property(lambda self: self.path / "results.jsonl")
    summary_json = property(lambda self: self.path / "summary.json")
    bigcode_dir = property(lambda self: self.path / "bigcode")
    exec_dir = property(lambda self: self.path / "exec")
    exec_alt_dir = property(lambda self: self.path / "exec-alt")

    def exists(self) -> bool:
        return self.meta_json.is_file()

    def meta(self) -> dict[str, Any]:
        return read_json_or(self.meta_json, {}) or {}

    def update_meta(self, **changes: Any) -> dict[str, Any]:
        m = self.meta()
        m.update(changes)
        atomic_write_json(self.meta_json, m)
        return m

    def summary(self) -> dict[str, Any]:
        return read_json_or(self.summary_json, {}) or {}

    def progress(self) -> dict[str, Any]:
        return read_json_or(self.progress_json, {}) or {}

    def write_progress(self, phase: str, done: int, total: int, **info: Any) -> None:
        atomic_write_json(
            self.progress_json, {"phase": phase, "done": done, "total": total, "updated": time.time(), **info}
        )

    def status(self, meta: dict[str, Any] | None = None) -> str:
        """running / completed / failed; a running validation whose heartbeat went quiet for
        10 minutes and whose process is gone reads as failed. `meta`: this folder's meta() when
        the caller has just read it (saves reading validation.json again)."""
        m = self.meta() if meta is None else meta
        st = m.get("status", "running")
        if st == "running":
            pid = m.get("pid")
            if m.get("host") and m.get("host") != socket.gethostname():
                return st  # running elsewhere: trust it
            if pid:
                from engine.runs.layout import process_alive

                if not process_alive(pid, m.get("proc_start")):
                    return "failed"
            elif time.time() - float(self.progress().get("updated", m.get("created", 0)) or 0) > 600:
                return "failed"
        return st

    def results(self) -> list[dict[str, Any]]:
        return list(_read_jsonl(self.results_jsonl))

    def generations(self) -> list[dict[str, Any]]:
        return list(_read_jsonl(self.generations_jsonl))

    def generation_index(self) -> dict[tuple[str, int], dict[str, Any]]:
        return {(g["uid"], int(g.get("sample", 0))): g for g in self.generations()}

    def case(self, uid: str, sample: int = 0) -> dict[str, Any]:
        """Everything about one sample, for review: prompt as sent, raw output, the program as
        executed, the test, the verdict and the compiler/runtime message."""
        res = next((r for r in self.results() if r["uid"] == uid and int(r.get("sample", 0)) == sample), None)
        gen = self.generation_index().get((uid, sample))
        if res is None and gen is None:
            raise WorkbenchError(f"validation {self.id}: no sample {uid!r} #{sample}")
        return {**(gen or {}), **(res or {})}

    def __repr__(self) -> str:
        return f"ValidationDir({str(self.path)!r})"


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    if not path.is_file():
        return
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue  # a half-written last line while the validation runs


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    from engine.fsutil import atomic_write_text

    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def list_validations(validations_dir: str | Path) -> list[ValidationDir]:
    """Validation folders, newest first."""
    d = Path(validations_dir)
    if not d.is_dir():
        return []
    items = [ValidationDir(p) for p in d.iterdir() if p.is_dir() and (p / "validation.json").is_file()]
    return sorted(items, key=lambda v: (v.meta().get("created", 0), v.id), reverse=True)


def open_validation(validations_dir: str | Path, ident: str) -> ValidationDir:
    """By id, unique id prefix, or path."""
    p = Path(ident).expanduser()
    if (p / "validation.json").is_file():
        return ValidationDir(p)
    d = Path(validations_dir)
    exact = d / ident
    if (exact / "validation.json").is_file():
        return ValidationDir(exact)
    matches = [v for v in list_validations(d) if v.id.startswith(ident) or ident in v.id]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise WorkbenchError(f"no validation {ident!r} in {d}")
    raise WorkbenchError(f"{ident!r} matches {len(matches)} validations: " + ", ".join(v.id for v in matches[:5]))
