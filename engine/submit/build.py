"""Build the contest submission for a checkpoint (the marked one by default).

    res = build_submission(ws)                                   # the marked checkpoint, every contest task
    res = build_submission(ws, checkpoint="<run>@200", model_name="myteam-qwen")
    res = build_submission(ws, from_validation="<id>")           # no generation at all
    res = build_submission(ws, merged_model=True)                # the merged model folder instead

Generations: an existing validation of the checkpoint is reused when it is a complete greedy
run of every task (status completed, n = 1, do_sample false, num_beams 1, all problems);
otherwise the checkpoint is validated now through `engine.validate` (a LoRA run checkpoint is
merged first, as the contest's generation loaded one merged model) and that validation's
bigcode files are used — so the submission's predicted score is on the Validation and Compare
screens too. The files are renamed `generations_<task>_<model>.json` into
`OUT/generations_<model>/`, zipped as `OUT/generations_<model>.zip` (the folder inside),
and the zip is verified with `engine.submit.check`. `OUT/build.json` records what was built
from what. `tasks` / `limit` restrict a trial build (tests, a dry run): it is marked
`contest_ready: false` and never passes `workbench submit check`.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import WorkbenchError
from engine.fsutil import atomic_write_json
from engine.submit.check import CheckReport, check_submission
from engine.submit.layout import (
    check_model_name,
    default_model_name,
    expected_problems,
    file_name,
    folder_name,
    task_file_stem,
)
from engine.validate.tasks import CONTEST_TASKS

Progress = Callable[[str, int, int, dict[str, Any]], None]
# the phases `build_submission` reports, as a user reads them (generation phases: engine.validate.run.PHASES)
PHASES = {
    "resolve": "resolving the checkpoint",
    "merge": "merging the LoRA adapter",
    "load": "loading the model",
    "generate": "generating",
    "execute": "executing (predicted score)",
    "score": "scoring",
    "write": "writing the files",
    "zip": "zipping",
    "check": "checking the zip",
}
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed: the same files give the same zip


@dataclass
class BuildResult:
    kind: str  # generations | merged-model
    out_dir: Path
    model_name: str
    checkpoint: dict[str, Any]
    tasks: list[str] = field(default_factory=list)
    folder: Path | None = None
    zip: Path | None = None
    merged: Path | None = None
    validation: str | None = None
    reused: bool = False  # the generations came from an existing validation
    check: CheckReport | None = None
    contest_ready: bool = False
    trial: bool = False
    predicted: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    record: Path | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "out_dir": str(self.out_dir),
            "model_name": self.model_name,
            "checkpoint": self.checkpoint,
            "tasks": self.tasks,
            "folder": _s(self.folder),
            "zip": _s(self.zip),
            "merged": _s(self.merged),
            "validation": self.validation,
            "reused": self.reused,
            "contest_ready": self.contest_ready,
            "trial": self.trial,
            "predicted": self.predicted,
            "notes": self.notes,
            "record": _s(self.record),
            "seconds": round(self.seconds, 2),
            "check": self.check.to_dict(problems=False) if self.check else None,
        }


def _s(p: Path | None) -> str | None:
    return str(p) if p is not None else None


def greedy_settings(settings: Any = None) -> Any:
    """The generation settings of a submission: greedy, one program per problem. Anything else
    is refused, not corrected: the user asked for something the contest does not accept."""
    from engine.validate.generate import GenSettings

    if settings is None:
        return GenSettings()
    num_beams = int(getattr(settings, "num_beams", 1) or 1)
    if settings.n != 1 or settings.do_sample or num_beams != 1:
        raise WorkbenchError(
            f"a contest submission is greedy: n = 1, do_sample false, num_beams 1 (got n = "
            f"{settings.n}, do_sample {str(settings.do_sample).lower()}, num_beams {num_beams})"
        )
    return settings


def task_names(tasks: list[str]) -> list[str]:
    """Task names as validations store them: a problem file is named by its stem."""
    out = []
    for t in tasks:
        t = t.strip()
        if "/" in t or t.endswith((".jsonl", ".json", ".gz")):
            name = Path(t).name
            for ext in (".gz", ".jsonl", ".json"):
                if name.endswith(ext):
                    name = name[: -len(ext)]
            t = name
        out.append(task_file_stem(t))
    if len(set(out)) != len(out):
        raise WorkbenchError("a task appears twice: " + ", ".join(out))
    return out


def unusable(v: Any, names: list[str], *, fmt: str | None = None, allow_partial: bool = False) -> list[str]:
    """Why a validation cannot become a submission of `names` (empty: it can)."""
    m = v.meta()
    why = []
    st = v.status()
    if st != "completed":
        why.append(f"it is {st}")
    s = m.get("settings") or {}
    n, sample, beams = int(s.get("n", 1)), bool(s.get("do_sample")), int(s.get("num_beams", 1) or 1)
    if n != 1 or sample or beams != 1:
        why.append(
            f"it was not greedy (n = {n}, do_sample {str(sample).lower()}, num_beams {beams}); the contest "
            "demands n = 1, do_sample false, num_beams 1"
        )
    if fmt and (m.get("format") or {}).get("name") != fmt:
        why.append(f"its prompt format is {(m.get('format') or {}).get('name')!r}, not {fmt!r}")
    ts = (m.get("taskset") or {}).get("tasks") or {}
    missing = [t for t in names if t not in ts]
    if missing:
        why.append(f"it did not score {', '.join(missing)}")
    if not allow_partial:
        part = [
            f"{t} ({ts[t].get('problems')} of {ts[t].get('total')})"
            for t in names
            if t in ts and ts[t].get("problems") != ts[t].get("total")
        ]
        if part:
            why.append("it scored a subset of " + ", ".join(part))
    if st == "completed":
        nofile = [t for t in names if t in ts and not (v.bigcode_dir / f"generations_{t}.json").is_file()]
        if nofile:
            why.append("its bigcode files are missing for " + ", ".join(nofile))
    return why


def _same_checkpoint(meta_ck: dict[str, Any], ck: Any) -> bool:
    from engine.compare.mark import _same_path

    if meta_ck.get("run") or ck.run:
        return meta_ck.get("run") == ck.run and meta_ck.get("step") == ck.step
    return _same_path(meta_ck.get("model"), ck.model) and _same_path(meta_ck.get("adapter"), ck.adapter)


def _checkpoint_of(v: Any) -> Any:
    from engine.validate.checkpoints import Checkpoint

    c = v.meta().get("checkpoint") or {}
    if not c.get("model") or c.get("model") == "<in memory>":
        raise WorkbenchError(f"validation {v.id} did not record which checkpoint it scored")
    return Checkpoint(
        str(c["model"]), c.get("adapter"), str(c.get("label") or v.id), c.get("run"), c.get("step"), c.get("path")
    )


def _default_name(ws: Any, ck: Any) -> str:
    if ck.run and ck.step is not None:
        try:
            from engine.runs import open_run

            name = open_run(ws.runs_dir, ck.run).read_info().get("name") or ck.run
        except (FileNotFoundError, LookupError):
            name = ck.run
        return default_model_name(f"{name}-step{ck.step}")
    return default_model_name(ck.label or Path(ck.model).name)


def _clear(path: Path, force: bool, what: str) -> None:
    if not path.exists():
        return
    if path.is_dir() and not any(path.iterdir()):
        path.rmdir()
        return
    if not force:
        raise WorkbenchError(f"{path} exists; give another --out or --model-name, or --force to replace the {what}")
    shutil.rmtree(path) if path.is_dir() else path.unlink()


def _merged_folder(ws: Any, ck: Any, log: Callable[[str], None] | None) -> Path:
    """The run's merged/<checkpoint>/ folder, merged now unless a finished merge is there."""
    from engine.runs import open_run
    from engine.train.merge import merge_checkpoint

    run = open_run(ws.runs_dir, ck.run)
    dest = run.path / "merged" / f"step-{int(ck.step):07d}"
    info = dest / "workbench-merge.json"
    if info.is_file() and (dest / "config.json").is_file():
        try:
            if json.loads(info.read_text(encoding="utf-8")).get("step") == ck.step:
                if log:
                    log(f"using the merged model in {dest}")
                return dest
        except (OSError, json.JSONDecodeError):
            pass
    if dest.exists():
        shutil.rmtree(dest)  # an interrupted merge of ours: no workbench-merge.json
    if log:
        log(f"merging the LoRA adapter of {ck.label} into {dest}")
    merge_checkpoint(run, ck.step, dest)
    return dest


def _expected_for(v: Any, ws: Any, names: list[str], data_dir: Any, trial: bool) -> dict[str, list[dict[str, Any]]]:
    """Each task's problems in order, from the benchmark (contest tasks) or the problem file
    the validation used; checked against the validation's own problem order."""
    from engine.validate.tasks import load_task

    ts = (v.meta().get("taskset") or {}).get("tasks") or {}
    out: dict[str, list[dict[str, Any]]] = {}
    for t in names:
        ids = json.loads((v.bigcode_dir / f"task_ids_{t}.json").read_text(encoding="utf-8"))
        ids = [str(i) for i in ids]
        if t in CONTEST_TASKS:
            ref = expected_problems([t], data_dir=data_dir)[t]
        else:
            try:
                ref = [
                    {"task_id": str(p.task_id), "entry_point": p.entry_point or ""}
                    for p in load_task(str(ts[t]["spec"]), data_dir=data_dir, root=ws.root).problems
                ]
            except Exception:  # noqa: BLE001 - the file moved: the validation's own order is all we have
                ref = [{"task_id": i, "entry_point": ""} for i in ids]
        if trial:
            by_id = {p["task_id"]: p for p in ref}
            out[t] = [by_id.get(i, {"task_id": i, "entry_point": ""}) for i in ids]
            continue
        ref_ids = [p["task_id"] for p in ref]
        if ids != ref_ids:
            at = next((i for i, (x, y) in enumerate(zip(ids, ref_ids)) if x != y), min(len(ids), len(ref_ids)))
            raise WorkbenchError(
                f"validation {v.id}, task {t}: its problems differ from the benchmark's "
                f"({len(ids)} vs {len(ref_ids)} problems, first difference at #{at})"
            )
        out[t] = ref
    return out


def write_zip(folder: Path, dest: Path) -> Path:
    """Zip `folder` as the contest wanted: the folder itself inside, its files in name order,
    fixed timestamps (the same files give the same bytes)."""
    tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        d = zipfile.ZipInfo(f"{folder.name}/", date_time=ZIP_TIME)
        d.external_attr = (0o40755 << 16) | 0x10
        zf.writestr(d, b"")
        for p in sorted(folder.iterdir()):
            info = zipfile.ZipInfo(f"{folder.name}/{p.name}", date_time=ZIP_TIME)
            info.external_attr = 0o100644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, p.read_bytes())
    os.replace(tmp, dest)
    return dest


def build_submission(
    ws: Any,
    *,
    checkpoint: str | None = None,
    model_name: str | None = None,
    out: str | os.PathLike | None = None,
    from_validation: str | None = None,
    merged_model: bool = False,
    tasks: list[str] | None = None,
    fmt: str | None = None,
    backend: str = "hf",
    settings: Any = None,
    data_dir: str | os.PathLike | None = None,
    limit: int | None = None,
    merge: bool = True,
    fresh: bool = False,
    force: bool = False,
    progress: Progress | None = None,
    log: Callable[[str], None] | None = None,
) -> BuildResult:
    """Build the submission (see the module docstring). `fmt` is the prompt format for new
    generations (default contest) and, when given, the format a reused validation must have."""
    from engine.compare.mark import read_mark
    from engine.validate.checkpoints import Checkpoint, resolve_checkpoint
    from engine.validate.store import list_validations, open_validation

    t0 = time.time()
    say = log or (lambda m: None)

    def report(phase: str, done: int, total: int, **info: Any) -> None:
        if progress:
            progress(phase, done, total, info)

    report("resolve", 0, 1)
    settings = greedy_settings(settings)
    mark = None
    source = None
    if from_validation:
        source = open_validation(ws.validations_dir, from_validation)
        ck = _checkpoint_of(source)
    elif checkpoint:
        try:
            ck = resolve_checkpoint(checkpoint, ws)
        except (FileNotFoundError, LookupError) as e:  # run lookups speak in these
            raise WorkbenchError(str(e).strip("'\"")) from None
    else:
        mark = read_mark(ws)
        if mark is None:
            raise WorkbenchError(
                "no checkpoint is marked to submit: mark one on the Compare screen (m) or with "
                "`workbench submit mark RUN_ID@STEP`, or pass --checkpoint / --from-validation"
            )
        ck = Checkpoint(mark.model, mark.adapter, mark.label, mark.run, mark.step, mark.path)
    name = check_model_name(model_name or _default_name(ws, ck))
    out_dir = Path(out).expanduser() if out else ws.root / "submissions" / name
    out_dir = out_dir if out_dir.is_absolute() else Path.cwd() / out_dir
    data_dir = data_dir if data_dir is not None else ws.benchmarks_dir()
    res = BuildResult("merged-model" if merged_model else "generations", out_dir, name, ck.describe())
    report("resolve", 1, 1)

    if merged_model:
        _merged_model(ws, ck, res, force, report, say)
        return _finish(res, t0)

    names = task_names(tasks) if tasks else list(CONTEST_TASKS)
    res.tasks = names
    if not force:  # before any generation: hours of it must not end on "exists"
        for p in (out_dir / folder_name(name), out_dir / f"{folder_name(name)}.zip"):
            if p.exists() and (p.is_file() or any(p.iterdir())):
                raise WorkbenchError(f"{p} exists; give another --out or --model-name, or --force to replace it")
    res.trial = limit is not None or sorted(names) != sorted(CONTEST_TASKS)
    if source is not None:
        why = unusable(source, names, fmt=fmt)
        if why:
            raise WorkbenchError(f"validation {source.id} cannot be submitted: " + "; ".join(why))
    elif not fresh and limit is None:  # a --limit trial asked for a small generation, not a reuse
        cands = [
            v for v in list_validations(ws.validations_dir) if _same_checkpoint(v.meta().get("checkpoint") or {}, ck)
        ]
        if mark is not None and mark.validation:
            cands.sort(key=lambda v: v.id != mark.validation)  # the marked validation first, then newest
        for v in cands:
            if not unusable(v, names, fmt=fmt):
                source = v
                break
    if source is not None:
        res.reused = True
        say(f"using the generations of validation {source.id}")
    else:
        source = _generate(
            ws,
            ck,
            names,
            tasks or names,
            res,
            fmt=fmt,
            backend=backend,
            settings=settings,
            data_dir=data_dir,
            limit=limit,
            merge=merge,
            progress=progress,
            log=say,
        )
        why = unusable(source, names, allow_partial=limit is not None)
        if why:
            raise WorkbenchError(f"the new validation {source.id} cannot be submitted: " + "; ".join(why))
    res.validation = source.id
    _describe_source(source, res)
    expected = _expected_for(source, ws, names, data_dir, res.trial)
    _write(source, names, expected, res, force, report)
    res.contest_ready = bool(res.check and res.check.ok and res.check.complete and not res.trial)
    if res.trial:
        res.notes.append("trial build (restricted tasks or --limit): not a contest submission")
    return _finish(res, t0)


def _generate(
    ws: Any,
    ck: Any,
    names: list[str],
    specs: list[str],
    res: BuildResult,
    *,
    fmt: str | None,
    backend: str,
    settings: Any,
    data_dir: Any,
    limit: int | None,
    merge: bool,
    progress: Progress | None,
    log: Callable[[str], None],
) -> Any:
    """Validate the checkpoint on the tasks now (greedy) and return the validation folder."""
    from engine.validate.checkpoints import Checkpoint
    from engine.validate.run import run_validation
    from engine.validate.tasks import resolve_taskset

    # the problems first: a missing benchmark must not cost a merge
    taskset = resolve_taskset(",".join(specs), ws=ws, data_dir=data_dir, limit=limit)
    model_ck = ck
    if ck.adapter and merge:
        if ck.run and ck.step is not None:
            if progress:
                progress("merge", 0, 1, {})
            merged = _merged_folder(ws, ck, log)
            res.merged = merged
            model_ck = Checkpoint(str(merged), None, ck.label, ck.run, ck.step, ck.path)
            if progress:
                progress("merge", 1, 1, {})
        else:
            res.notes.append("the LoRA adapter was applied without merging (not a run checkpoint)")
    elif ck.adapter:
        res.notes.append("the LoRA adapter was applied without merging (--no-merge)")
    v = run_validation(
        ws=ws,
        model=model_ck,
        tasks=taskset,
        fmt=fmt or "contest",
        backend=backend,
        settings=settings,
        compare_modes=False,
        label=f"submit-{res.model_name}",
        progress=progress,
        log=log,
    )
    assert v.dir is not None
    return v.dir


def _describe_source(v: Any, res: BuildResult) -> None:
    m, s = v.meta(), v.summary()
    fmt = (m.get("format") or {}).get("name")
    from engine.validate.score import contest_view

    contest = contest_view(s, m)
    res.predicted = {
        "contest_score": s.get("contest_score"),
        "contest": contest.to_dict() if contest else None,
        "infra_errors": s.get("infra_errors"),
        "pass@1": s.get("pass@1"),
        "tasks": {t: (s.get("tasks") or {}).get(t, {}).get("pass@1") for t in res.tasks},
        "format": fmt,
        "backend": m.get("backend"),
        "settings": m.get("settings"),
    }
    if fmt and fmt != "contest":
        res.notes.append(f"generated with the {fmt!r} prompt format; the contest's own generation used 'contest'")
    st = m.get("settings") or {}
    if st.get("max_new_tokens") or st.get("max_length"):
        res.notes.append(
            f"generation length set by hand (max_new_tokens {st.get('max_new_tokens')}, max_length "
            f"{st.get('max_length')}); the contest passed max_length 2000 and let the checkpoint's "
            "generation_config decide"
        )
    differs = sorted({d for g in (m.get("generation") or {}).values() for d in g.get("differs") or []})
    res.notes += [f"differs from the contest's generation: {d}" for d in differs]
    if contest is not None and contest.infra_errors:
        res.notes.append(
            f"{contest.infra_errors} infra errors counted as failures in the predicted score: "
            "run `workbench eval doctor`"
        )


def _write(
    v: Any,
    names: list[str],
    expected: dict[str, list[dict[str, Any]]],
    res: BuildResult,
    force: bool,
    report: Callable[..., None],
) -> None:
    out = res.out_dir
    out.mkdir(parents=True, exist_ok=True)
    folder = out / folder_name(res.model_name)
    zpath = out / f"{folder.name}.zip"
    _clear(folder, force, "submission")
    _clear(zpath, force, "submission")
    tmp = out / f".{folder.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        for i, t in enumerate(names):
            report("write", i, len(names), task=t)
            data = json.loads((v.bigcode_dir / f"generations_{t}.json").read_text(encoding="utf-8"))
            (tmp / file_name(t, res.model_name)).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report("write", len(names), len(names))
    report("zip", 0, 1)
    write_zip(folder, zpath)
    report("zip", 1, 1)
    report("check", 0, 1)
    res.folder, res.zip = folder, zpath
    res.check = check_submission(zpath, tasks=names, expected=expected)
    report("check", 1, 1)


def _merged_model(
    ws: Any, ck: Any, res: BuildResult, force: bool, report: Callable[..., None], say: Callable[[str], None]
) -> None:
    from engine.runs import open_run
    from engine.train.merge import merge_checkpoint

    if not ck.run or ck.step is None:
        if ck.adapter:
            raise WorkbenchError(
                f"{ck.label}: --merged-model merges a run checkpoint (RUN_ID@STEP); this is an adapter outside a run"
            )
        raise WorkbenchError(f"{ck.model} is already a full model folder: submit it as it is")
    if ck.path and not Path(ck.path).is_dir():
        raise WorkbenchError(f"checkpoint {ck.path} no longer exists (removed by retention?)")
    dest = res.out_dir / res.model_name
    _clear(dest, force, "merged model")
    res.out_dir.mkdir(parents=True, exist_ok=True)
    report("merge", 0, 1)
    say(f"{'merging' if ck.adapter else 'copying'} {ck.label} into {dest}")
    info = merge_checkpoint(open_run(ws.runs_dir, ck.run), ck.step, dest)
    report("merge", 1, 1)
    res.merged = dest
    res.contest_ready = (dest / "config.json").is_file()
    res.notes.append(
        f"{'LoRA merged into the base' if info.get('weights') != 'model' else 'full weights copied'} "
        f"in {info.get('seconds')} s ({info.get('dtype')})"
    )


def _finish(res: BuildResult, t0: float) -> BuildResult:
    res.seconds = time.time() - t0
    res.record = res.out_dir / "build.json"
    atomic_write_json(res.record, {"built": time.time(), **res.to_dict(), "record": str(res.record)})
    return res
