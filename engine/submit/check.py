"""Verify a submission folder or zip before it is sent: a wrong name or a malformed file
scores 0, and nobody finds out until the leaderboard.

Checks: the zip holds exactly one folder `generations_<model>/` and nothing else; the folder
holds exactly one file per task (one per CONTEST_TASKS entry for the contest), named `generations_<task>_<model>.json`
with the folder's model name; each is valid UTF-8 JSON, a list with one entry per problem of
the task (164 per HumanEvalPack task, 500 for mbpp; checked against the benchmark files when
their folder is known), each entry a list of exactly one string (greedy: one program per
problem). Every problem found is reported (index, task id, size); empty programs and programs
that never mention their problem's function (a sign of a wrong problem order) are warnings.
Nothing is executed and nothing is extracted to disk.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import WorkbenchError
from engine.submit.layout import expected_problems, file_name
from engine.validate.tasks import CONTEST_TASKS

MAX_FILE_BYTES = 512 * 1024 * 1024
_MAX_LISTED = 8  # problems named per kind of error in one file


@dataclass
class ProblemFound:
    index: int
    task_id: str | None  # None: beyond the task's problems
    chars: int | None  # None: the entry is not one string
    empty: bool = False
    mentions_entry_point: bool | None = None


@dataclass
class TaskCheck:
    task: str
    file: str
    present: bool = False
    expected: int | None = None
    found: int = 0
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    problems: list[ProblemFound] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.present and not self.errors


@dataclass
class CheckReport:
    path: str
    kind: str  # folder | zip
    model: str | None
    folder: str | None
    tasks: list[TaskCheck]
    errors: list[str] = field(default_factory=list)  # about the whole submission
    warnings: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # every entry found, as named in the folder / zip

    @property
    def ok(self) -> bool:
        return not self.errors and all(t.ok for t in self.tasks)

    @property
    def complete(self) -> bool:
        """Checked against the contest tasks (CONTEST_TASKS) (a restricted trial build is not)."""
        return sorted(t.task for t in self.tasks) == sorted(CONTEST_TASKS)

    def all_errors(self) -> list[str]:
        return self.errors + [f"{t.file}: {e}" for t in self.tasks for e in t.errors]

    def all_warnings(self) -> list[str]:
        return self.warnings + [f"{t.file}: {w}" for t in self.tasks for w in t.warnings]

    def to_dict(self, *, problems: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": self.path,
            "kind": self.kind,
            "model": self.model,
            "folder": self.folder,
            "ok": self.ok,
            "complete": self.complete,
            "errors": self.all_errors(),
            "warnings": self.all_warnings(),
            "files": self.files,
            "tasks": [],
        }
        for t in self.tasks:
            d = {k: v for k, v in asdict(t).items() if k != "problems"}
            d["ok"] = t.ok
            if problems:
                d["problems"] = [asdict(p) for p in t.problems]
            out["tasks"].append(d)
        return out


class _Source:
    """The files of a submission, from a folder or a zip, read into memory on demand."""

    def __init__(self, path: Path):
        self.path = path
        self.kind = "zip" if path.is_file() else "folder"
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self.folder: str | None = None
        self.entries: dict[str, Any] = {}  # file name inside the folder -> loader
        self.listing: list[str] = []
        if path.is_file():
            self._zip()
        elif path.is_dir():
            self._dir()
        else:
            raise WorkbenchError(f"{path}: no such folder or zip")

    def _zip(self) -> None:
        if not zipfile.is_zipfile(self.path):
            raise WorkbenchError(f"{self.path}: not a zip file (give the zip or the generations_<model>/ folder)")
        files: list[tuple[str, str, zipfile.ZipInfo]] = []
        folders: set[str] = set()
        with zipfile.ZipFile(self.path) as zf:
            for info in zf.infolist():
                name = info.filename
                self.listing.append(name)
                parts = [p for p in name.split("/") if p]
                if info.is_dir():
                    if len(parts) == 1:
                        folders.add(parts[0])
                    else:
                        self.errors.append(f"zip entry {name!r}: a nested folder (the folder must hold only the files)")
                elif len(parts) == 1:
                    self.errors.append(
                        f"zip entry {name!r} is not inside a folder: the contest wants the folder "
                        "generations_<model>/ zipped, not its files"
                    )
                elif len(parts) > 2:
                    self.errors.append(f"zip entry {name!r}: nested too deep (expected generations_<model>/<file>)")
                else:
                    folders.add(parts[0])
                    files.append((parts[0], parts[1], info))
            gen = sorted(f for f in folders if f.startswith("generations_"))
            other = sorted(f for f in folders if not f.startswith("generations_"))
            if len(gen) > 1:
                self.errors.append("zip holds several submission folders: " + ", ".join(gen))
            self.folder = gen[0] if gen else (other[0] if len(other) == 1 else None)
            if not gen and self.folder:
                self.errors.append(
                    f"zip folder {self.folder + '/'!r}: the contest's folder is named generations_<model>"
                )
            elif not self.folder:
                self.errors.append("zip holds no folder generations_<model>/")
            for f in other:
                if f != self.folder:
                    self.errors.append(
                        f"zip holds an unexpected folder {f + '/'!r} (only generations_<model>/ belongs there)"
                    )
            for top, fname, info in files:
                if top != self.folder:
                    continue
                if fname in self.entries:
                    self.errors.append(f"zip entry {info.filename!r} appears twice")
                elif info.file_size > MAX_FILE_BYTES:
                    self.errors.append(f"zip entry {info.filename!r}: {info.file_size} bytes uncompressed, too large")
                else:
                    data = zf.read(info)
                    self.entries[fname] = lambda d=data: d

    def _dir(self) -> None:
        d = self.path
        if not d.name.startswith("generations_"):
            inner = [p for p in d.iterdir() if p.is_dir() and p.name.startswith("generations_")]
            if len(inner) == 1:
                self.warnings.append(f"checked the folder {inner[0].name}/ inside {d}")
                d = inner[0]
            elif len(inner) > 1:
                raise WorkbenchError(
                    f"{d} holds several submission folders: " + ", ".join(p.name for p in inner) + "; give one of them"
                )
            else:
                self.errors.append(
                    f"folder {d.name!r}: the contest's folder is named generations_<model> (it is zipped as is)"
                )
        self.folder = d.name
        for p in sorted(d.iterdir()):
            self.listing.append(p.name + ("/" if p.is_dir() else ""))
            if p.is_dir():
                self.errors.append(f"unexpected folder {p.name + '/'!r} inside {d.name}/")
                continue
            if p.stat().st_size > MAX_FILE_BYTES:
                self.errors.append(f"{p.name}: {p.stat().st_size} bytes, too large")
                continue
            self.entries[p.name] = lambda q=p: q.read_bytes()


def check_submission(
    path: str | Path,
    *,
    tasks: list[str] | None = None,
    expected: dict[str, list[dict[str, Any]]] | None = None,
    data_dir: str | Path | None = None,
    root: str | Path | None = None,
) -> CheckReport:
    """Check a folder or zip. `tasks` defaults to the contest tasks (CONTEST_TASKS) (a real submission needs
    all of them); `expected` gives each task's problems in order ([{"task_id", "entry_point"}]),
    else they come from the benchmark files in `data_dir`, else the contest's known ids."""
    tasks = list(tasks or CONTEST_TASKS)
    src = _Source(Path(path).expanduser())
    folder = src.folder
    model = folder[len("generations_") :] if folder and folder.startswith("generations_") else None
    report = CheckReport(str(path), src.kind, model, folder, [], list(src.errors), list(src.warnings), src.listing)
    if folder == "generations_":
        report.errors.append(f"folder {folder!r} has no model name (expected generations_<model>)")
    if model is None and folder and not folder.startswith("generations_"):
        model = _model_from_files(list(src.entries), tasks)
    if expected is None:
        expected = expected_problems(tasks, data_dir=data_dir, root=root, strict=False)
    for t in tasks:
        if t not in expected:
            report.warnings.append(f"cannot tell how many problems task {t!r} has: its count is not checked")
    wanted = {file_name(t, model): t for t in tasks} if model else {}
    for fname in sorted(src.entries):
        if fname in wanted:
            continue
        owner = next((t for t in tasks if fname.startswith(f"generations_{t}_") and fname.endswith(".json")), None)
        if owner is not None and model:
            other = fname[len(f"generations_{owner}_") : -len(".json")]
            report.errors.append(
                f"{fname}: model name {other!r} differs from the folder's {model!r} "
                f"(expected {file_name(owner, model)})"
            )
        elif fname.lower().endswith(".json") and fname.startswith("generations_"):
            report.errors.append(
                f"{fname}: not one of the expected tasks' files "
                f"(generations_<task>_{model or '<model>'}.json for {len(tasks)} tasks)"
            )
        else:
            report.errors.append(
                f"unexpected file {fname!r} (the folder must hold only the {len(tasks)} generations files)"
            )
    n_files = len(src.entries)
    if n_files != len(tasks):
        report.errors.append(f"{n_files} files, expected exactly {len(tasks)} (one per task)")
    for t in tasks:
        fname = file_name(t, model) if model else f"generations_{t}_<model>.json"
        tc = TaskCheck(t, fname, expected=len(expected[t]) if t in expected else None)
        report.tasks.append(tc)
        loader = src.entries.get(fname) if model else None
        if loader is None:
            tc.errors.append("missing")
            continue
        tc.present = True
        _check_file(tc, loader(), expected.get(t))
    return report


def _model_from_files(names: list[str], tasks: list[str]) -> str | None:
    models = set()
    for n in names:
        for t in tasks:
            if n.startswith(f"generations_{t}_") and n.endswith(".json"):
                models.add(n[len(f"generations_{t}_") : -len(".json")])
    return models.pop() if len(models) == 1 else None


def _listed(items: list[str]) -> str:
    more = f" ... and {len(items) - _MAX_LISTED} more" if len(items) > _MAX_LISTED else ""
    return ", ".join(items[:_MAX_LISTED]) + more


def _check_file(tc: TaskCheck, data: bytes, expected: list[dict[str, Any]] | None) -> None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        tc.errors.append(f"not UTF-8 (byte {e.start})")
        return
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        tc.errors.append(f"invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}")
        return
    if not isinstance(obj, list):
        tc.errors.append(f"the top level is a JSON {type(obj).__name__}, expected a list with one entry per problem")
        return
    tc.found = len(obj)
    ids = [p["task_id"] for p in expected] if expected is not None else None
    entry_points = [p.get("entry_point") or "" for p in expected] if expected is not None else None
    not_list, wrong_len, not_str, empty, strays = [], [], [], [], []
    for i, entry in enumerate(obj):
        tid = ids[i] if ids is not None and i < len(ids) else None
        name = f"#{i}" + (f" ({tid})" if tid else "")
        prog: str | None = None
        if not isinstance(entry, list):
            not_list.append(f"{name}: {type(entry).__name__}")
        elif len(entry) != 1:
            wrong_len.append(f"{name}: {len(entry)} programs")
            if entry and all(isinstance(x, str) for x in entry):
                prog = entry[0]
        elif not isinstance(entry[0], str):
            not_str.append(f"{name}: {type(entry[0]).__name__}")
        else:
            prog = entry[0]
        found = ProblemFound(i, tid, len(prog) if prog is not None else None, prog is not None and not prog.strip())
        if prog is not None and prog.strip() and entry_points and i < len(entry_points) and entry_points[i]:
            found.mentions_entry_point = entry_points[i] in prog
            if not found.mentions_entry_point:
                strays.append(name)
        if found.empty:
            empty.append(name)
        tc.problems.append(found)
    if not_list:
        tc.errors.append(
            f"{len(not_list)} entries are not a list of programs (expected [\"program\"]): " + _listed(not_list)
        )
    if wrong_len:
        tc.errors.append(
            f"{len(wrong_len)} problems do not hold exactly one program (the contest is greedy: "
            "n = 1): " + _listed(wrong_len)
        )
    if not_str:
        tc.errors.append(f"{len(not_str)} programs are not strings: " + _listed(not_str))
    if ids is not None and len(obj) != len(ids):
        if len(obj) < len(ids):
            missing = ids[len(obj) :]
            tc.errors.append(f"{len(obj)} problems, expected {len(ids)}: missing " + _listed(missing))
        else:
            tc.errors.append(f"{len(obj)} problems, expected {len(ids)}: {len(obj) - len(ids)} too many")
    if empty:
        tc.warnings.append(f"{len(empty)} empty programs (they score 0): " + _listed(empty))
    scored = [p for p in tc.problems if p.mentions_entry_point is not None]
    if strays and len(strays) * 2 > len(scored):
        tc.warnings.append(
            f"{len(strays)} of {len(scored)} programs never mention their problem's function: "
            "is the problem order right? " + _listed(strays)
        )
    elif strays:
        tc.warnings.append(f"{len(strays)} programs never mention their problem's function: " + _listed(strays))
