"""Score one checkpoint: prompts -> generation -> post-processing -> sandboxed execution ->
scores, stored in validations/<id>/ (layout in store.py, docs/validation.md).

    from engine.validate import run_validation
    res = run_validation(ws=ws, model="runs/<id>/checkpoints/step-0000200", tasks="contest-quick")
    res.summary["contest_score"], res.summary["tasks"]["mbpp"]["pass@1"]
"""

from __future__ import annotations

import dataclasses
import os
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.compare.pairwise import flips
from engine.errors import WorkbenchError
from engine.execute.core import Limits
from engine.execute.profiles import Profile
from engine.fsutil import atomic_write_json
from engine.problems.assemble import generation as harness_generation
from engine.validate.checkpoints import Checkpoint, resolve_checkpoint
from engine.validate.effective import TaskGeneration, run_batch_size, task_generation
from engine.validate.generate import Backend, GenRequest, GenSettings, Progress, open_backend
from engine.validate.groundtruth import check_ground_truth, summary_of
from engine.validate.length import CheckpointGeneration, read_checkpoint_generation
from engine.validate.postprocess import extract, special_tokens_of
from engine.validate.prompts import POSTPROCESS_MODES, PromptFormat, build_prompt, load_format
from engine.validate.score import aggregate, per_problem, validation_summary
from engine.validate.store import ValidationDir, new_validation_id, write_jsonl
from engine.validate.tasks import TaskSet, resolve_taskset


@dataclass
class ValidationResult:
    summary: dict[str, Any]
    records: list[dict[str, Any]]
    generations: list[dict[str, Any]]
    meta: dict[str, Any]
    dir: ValidationDir | None = None
    alt_records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def id(self) -> str | None:
        return self.dir.id if self.dir else None


@dataclass
class _Item:
    task: Any
    problem: Any
    uid: str
    prompt: Any
    mode: str


# what each phase reported to `progress` means to a user (the CLI's bars, the app's job line)
PHASES = {
    "ground-truth": "checking canonical solutions",
    "load": "loading model",
    "generate": "generating",
    "execute": "executing",
    "execute-alt": "executing (other post-processing)",
    "score": "scoring",
}


def _other(mode: str) -> str:
    return "robust" if mode == "compatible" else "compatible"


class _Reporter:
    """Progress to the caller and, throttled, to progress.json (the screen's heartbeat)."""

    def __init__(self, vdir: ValidationDir | None, cb: Progress | None):
        self.vdir, self.cb, self._last = vdir, cb, 0.0

    def __call__(self, phase: str, done: int, total: int, info: dict[str, Any] | None = None) -> None:
        info = info or {}
        if self.cb:
            try:
                self.cb(phase, done, total, info)
            except Exception:  # noqa: BLE001 - a display must not stop the work
                pass
        now = time.monotonic()
        if self.vdir and (now - self._last > 0.5 or done >= total):
            self._last = now
            self.vdir.write_progress(
                phase, done, total, **{k: v for k, v in info.items() if isinstance(v, (int, float, str))}
            )


def judging_profiles(taskset: TaskSet, profile: str | None = None, timeout: float | None = None) -> dict[str, Profile]:
    """Per task, the limits profile its programs (and, before them, the set's canonical
    solutions) are judged under: `profile` for every task when given; else `contest` (the
    harness's limits) for the contest tasks and `per-case` for every other set. `timeout`
    (CPU seconds per test case) shapes the per-case profile only."""
    from engine.execute.profiles import CONTEST, PER_CASE, get_profile
    from engine.validate.tasks import CONTEST_TASKS

    per_case = get_profile(PER_CASE, timeout=timeout)
    if profile is not None:
        forced = get_profile(profile, timeout=timeout)
        return {t.name: forced for t in taskset.tasks}
    return {t.name: get_profile(CONTEST) if t.name in CONTEST_TASKS else per_case for t in taskset.tasks}


def profile_name(profiles: dict[str, Profile]) -> str | None:
    """The one profile a validation was judged under, or "mixed"."""
    names = sorted({p.name for p in profiles.values()})
    return names[0] if len(names) == 1 else ("mixed" if names else None)


def _requests(items: list[_Item], effective: dict[str, TaskGeneration]) -> list[GenRequest]:
    out = []
    for it in items:
        eff = effective[it.task.name]
        out.append(
            GenRequest(
                prompt=it.prompt.text,
                add_special_tokens=it.prompt.add_special_tokens,
                stop=it.prompt.harness_stops if eff.harness_stop else (),
                check=it.prompt.check if eff.harness_stop else None,
                max_new_tokens=eff.length.max_new_tokens,
                max_length=eff.length.max_length,
                end_tokens=eff.end_tokens,
            )
        )
    return out


def checkpoint_generation(be: Any, ckpt: Checkpoint | None) -> CheckpointGeneration:
    """The checkpoint's generation config as the backend will start from it."""
    own = getattr(be, "generation_defaults", None)
    if callable(own):
        return own()
    return read_checkpoint_generation(ckpt.model) if ckpt else CheckpointGeneration()


def effective_generation(
    taskset: TaskSet,
    fmt: PromptFormat,
    settings: GenSettings,
    *,
    backend: str,
    tokenizer: Any,
    checkpoint: CheckpointGeneration,
    postprocess: str | None = None,
    backend_end_tokens: list[str] | None = None,
) -> dict[str, TaskGeneration]:
    """Per task, the generation it really runs with (`eval run --explain` prints it)."""
    return {
        t.name: task_generation(
            t,
            fmt,
            settings,
            backend=backend,
            tokenizer=tokenizer,
            checkpoint=checkpoint,
            postprocess=postprocess,
            backend_end_tokens=backend_end_tokens,
        )
        for t in taskset.tasks
    }


def explain_validation(
    *,
    ws: Any = None,
    model: str | Checkpoint | None = None,
    adapter: str | None = None,
    tasks: str | TaskSet = "contest-quick",
    fmt: str | PromptFormat = "contest",
    backend: str = "hf",
    settings: GenSettings | None = None,
    postprocess: str | None = None,
    data_dir: str | None = None,
    fraction: float | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """What `run_validation` would generate with, per task, without loading the model: the
    checkpoint's generation config is read from its folder and only its tokenizer is loaded."""
    from engine.validate.hf import load_tokenizer

    settings = settings or GenSettings()
    fmt_obj = load_format(fmt, ws)
    taskset = (
        tasks
        if isinstance(tasks, TaskSet)
        else resolve_taskset(tasks, ws=ws, data_dir=data_dir, fraction=fraction, limit=limit)
    )
    if model is None and ws is not None:
        model = ws.model_path()
    if model is None:
        raise WorkbenchError("no model given")
    ckpt = model if isinstance(model, Checkpoint) else resolve_checkpoint(str(model), ws, adapter=adapter)
    try:
        tok = load_tokenizer(ckpt.model, ckpt.adapter, trust_remote_code=settings.trust_remote_code)
    except WorkbenchError:
        if fmt_obj.style == "chat" or any(r.style == "chat" for r in fmt_obj.rules):
            raise
        tok = None  # harness prompts need no tokenizer; the end tokens then lack the tokenizer's eos
    ckgen = read_checkpoint_generation(ckpt.model)
    eff = effective_generation(
        taskset, fmt_obj, settings, backend=backend, tokenizer=tok, checkpoint=ckgen, postprocess=postprocess
    )
    return {
        "checkpoint": ckpt.describe(),
        "format": fmt_obj.name,
        "taskset": taskset.describe(),
        "generation_config": ckgen.to_dict(),
        "tasks": {k: e.to_dict() for k, e in eff.items()},
        "effective": eff,
    }


@dataclass
class _Run:
    """What travels between the steps of one validation."""

    taskset: TaskSet
    fmt: PromptFormat
    settings: GenSettings
    ckpt: Checkpoint | None
    postprocess: str | None
    compare_modes: bool
    vdir: ValidationDir | None
    report: _Reporter
    workers: int | None
    exec_cache: bool
    log: Callable[[str], None] | None
    t_start: float = field(default_factory=time.time)
    meta: dict[str, Any] = field(default_factory=dict)
    profiles: dict[str, Profile] = field(default_factory=dict)
    timings: dict[str, float | None] = field(default_factory=dict)

    def where(self) -> dict[str, Any]:
        """The progress info that tells a watcher where the validation is written."""
        return {"id": self.vdir.id, "dir": str(self.vdir.path)} if self.vdir else {}

    def write_meta(self) -> None:
        if self.vdir:
            atomic_write_json(self.vdir.meta_json, self.meta)


@dataclass
class _Judged:
    """Executor results of both post-processing modes, keyed by (uid, sample)."""

    main: dict[tuple[str, int], dict[str, Any]]
    alt: dict[tuple[str, int], dict[str, Any]]
    limits: Any  # the executor summary's `limits` (what the verdicts were judged under)


def run_validation(
    *,
    ws: Any = None,
    model: str | Checkpoint | None = None,
    adapter: str | None = None,
    tasks: str | TaskSet = "contest-quick",
    fmt: str | PromptFormat = "contest",
    backend: str = "hf",
    settings: GenSettings | None = None,
    postprocess: str | None = None,
    compare_modes: bool = True,
    out: str | os.PathLike | None = None,
    label: str | None = None,
    workers: int | None = None,
    timeout: float | None = None,
    progress: Progress | None = None,
    data_dir: str | None = None,
    fraction: float | None = None,
    limit: int | None = None,
    loaded: Backend | None = None,
    vllm_python: str | None = None,
    write: bool = True,
    exec_cache: bool = True,
    log: Callable[[str], None] | None = None,
    ground_truth: bool = True,
    profile: str | None = None,
) -> ValidationResult:
    """Check the problem sets' canonical solutions, then generate, post-process, execute and
    score. `loaded` reuses an open backend (e.g. a model already in memory); otherwise `model`
    (+ `adapter`) is resolved and loaded. `write=False` keeps everything in memory (no
    validations/<id>/). `ground_truth=False` skips the canonical-solution check. `profile`
    (contest | per-case) judges every task under that limits profile (default: contest for
    the contest tasks, per-case for other sets; `judging_profiles`)."""
    fmt_obj, taskset = _format_and_tasks(ws, tasks, fmt, postprocess, data_dir, fraction, limit)
    settings, ckpt = _resolve_model(ws, model, adapter, settings or GenSettings(), loaded)
    vdir = _open_dir(ws, out, label, write, ckpt, taskset)
    report = _Reporter(vdir, progress)
    run = _Run(taskset, fmt_obj, settings, ckpt, postprocess, compare_modes, vdir, report, workers, exec_cache, log)
    _write_start_meta(run, backend if loaded is None else loaded.name, write)
    run.profiles = judging_profiles(taskset, profile, timeout)
    run.meta["profiles"] = {name: prof.name for name, prof in run.profiles.items()}
    try:
        gt = _ground_truth_step(run, ground_truth)
        be = _load(run, loaded, backend, vllm_python)
        items = _items(run, be.tokenizer)
        ends = be.end_tokens(fmt_obj.eos)
        special = special_tokens_of(be.tokenizer)
        reqs = _plan_generation(run, be, items, ends)
        outs = _generate(run, be, reqs, ends, close=loaded is None)
        gens, samples, alt_samples = _post_process(run, items, outs, ends, special)
        judged = _judge(run, items, samples, alt_samples)
        run.report("score", 0, 1, {})
        records, alt_records = _records(gens, judged, compare_modes)
        summary = _summary(run, items, gens, records, alt_records, gt, judged.limits)
        _complete(run, records, summary)
        return ValidationResult(summary, records, gens, run.meta, vdir, alt_records)
    except BaseException as e:
        _fail(run, e)
        raise


def _format_and_tasks(
    ws: Any,
    tasks: str | TaskSet,
    fmt: str | PromptFormat,
    postprocess: str | None,
    data_dir: str | None,
    fraction: float | None,
    limit: int | None,
) -> tuple[PromptFormat, TaskSet]:
    if postprocess is not None and postprocess not in POSTPROCESS_MODES:
        raise WorkbenchError(f"unknown post-processing mode {postprocess!r} (compatible or robust)")
    fmt_obj = load_format(fmt, ws)
    taskset = (
        tasks
        if isinstance(tasks, TaskSet)
        else resolve_taskset(tasks, ws=ws, data_dir=data_dir, fraction=fraction, limit=limit)
    )
    if taskset.n_problems == 0:
        raise WorkbenchError(f"task set {taskset.name!r} has no problems")
    return fmt_obj, taskset


def _resolve_model(
    ws: Any, model: str | Checkpoint | None, adapter: str | None, settings: GenSettings, loaded: Backend | None
) -> tuple[GenSettings, Checkpoint | None]:
    """The checkpoint to load (none when a backend is given) and the settings it needs."""
    if loaded is not None:
        return settings, None
    if model is None:
        if ws is None:
            raise WorkbenchError("no model given")
        model = ws.model_path()
    ckpt = model if isinstance(model, Checkpoint) else resolve_checkpoint(str(model), ws, adapter=adapter)
    if ws is not None and not settings.trust_remote_code:
        from engine.models.catalog import trusts_remote_code

        if trusts_remote_code(ws, ckpt.model, run=ckpt.run):  # [models] / the run said so: no flag needed
            settings = settings.model_copy(update={"trust_remote_code": True})
    return settings, ckpt


def _open_dir(
    ws: Any,
    out: str | os.PathLike | None,
    label: str | None,
    write: bool,
    ckpt: Checkpoint | None,
    taskset: TaskSet,
) -> ValidationDir | None:
    """validations/<id>/ (or `out`), created; None when nothing is written."""
    if not write:
        return None
    if out is not None:
        vdir = ValidationDir(Path(out))
    else:
        if ws is None:
            raise WorkbenchError("give an output folder (--out) or a workspace")
        name = label or f"{ckpt.label if ckpt else 'model'}-{taskset.name if len(taskset.name) < 24 else 'tasks'}"
        vdir = ValidationDir(ws.validations_dir / new_validation_id(name))
    if vdir.exists() and vdir.status() != "failed":
        raise WorkbenchError(
            f"{vdir.path} already holds a {vdir.status()} validation; give another --out (a failed one is replaced)"
        )
    vdir.path.mkdir(parents=True, exist_ok=True)
    return vdir


def _write_start_meta(run: _Run, backend: str, write: bool) -> None:
    run.meta = {
        "id": run.vdir.id if run.vdir else None,
        "status": "running",
        "created": run.t_start,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "proc_start": _proc_start(),
        "command": sys.argv if write else None,
        "checkpoint": run.ckpt.describe() if run.ckpt else {"model": "<in memory>"},
        "taskset": run.taskset.describe(),
        "format": run.fmt.model_dump(),
        "postprocess": run.postprocess,
        "compare_modes": run.compare_modes,
        "backend": backend,
        "settings": run.settings.model_dump(),
    }
    run.write_meta()


def _ground_truth_step(run: _Run, check: bool) -> dict[str, Any] | None:
    run.report("ground-truth", 0, 1, run.where())  # (announced even unchecked: it carries the dir)
    if not check:
        return None
    gt = _ground_truth(run.taskset, run.profiles, run.workers, run.exec_cache, run.report, run.log)
    run.meta["ground_truth"] = gt
    run.write_meta()
    return gt


def _load(run: _Run, loaded: Backend | None, backend: str, vllm_python: str | None) -> Backend:
    run.report("load", 0, 1, run.where())
    t0 = time.monotonic()
    if loaded is not None:
        be = loaded
    else:
        assert run.ckpt is not None  # (no loaded backend: the model was resolved above)
        ckpt = run.ckpt
        be = open_backend(
            backend, ckpt.model, adapter=ckpt.adapter, settings=run.settings, vllm_python=vllm_python, log=run.log
        )
    run.timings["load_s"] = round(time.monotonic() - t0, 3)
    run.report("load", 1, 1, {})
    return be


def _items(run: _Run, tok: Any) -> list[_Item]:
    """One item per problem of every task: its prompt and post-processing mode."""
    items: list[_Item] = []
    for task in run.taskset.tasks:
        f = run.fmt.for_task(task)
        for p in task.problems:
            bp = build_prompt(task, p, run.fmt, tok)
            items.append(_Item(task, p, task.uid(p), bp, run.postprocess or f.postprocess))
    return items


def _plan_generation(run: _Run, be: Backend, items: list[_Item], ends: list[str]) -> list[GenRequest]:
    """The effective generation per task (into meta) and the requests it makes."""
    effective = effective_generation(
        run.taskset,
        run.fmt,
        run.settings,
        backend=be.name,
        tokenizer=be.tokenizer,
        checkpoint=checkpoint_generation(be, run.ckpt),
        postprocess=run.postprocess,
        backend_end_tokens=ends,
    )
    run.settings = run.settings.model_copy(update={"batch_size": run_batch_size(run.settings, run.fmt)[0]})
    run.meta.update(
        {"settings": run.settings.model_dump(), "generation": {k: e.to_dict() for k, e in effective.items()}}
    )
    return _requests(items, effective)


def _generate(run: _Run, be: Backend, reqs: list[GenRequest], ends: list[str], *, close: bool) -> Any:
    t0 = time.monotonic()
    outs = be.generate(reqs, run.settings, run.report, end_tokens=ends)
    gen_s = run.timings["generate_s"] = round(time.monotonic() - t0, 3)
    n_tokens = sum(o.n_tokens for os_ in outs for o in os_)
    run.timings["generated_tokens"] = n_tokens
    run.timings["tokens_per_s"] = round(n_tokens / gen_s, 2) if gen_s > 0 else None
    run.meta["backend_info"] = be.describe()
    if close:
        be.close()
    return outs


def _post_process(
    run: _Run, items: list[_Item], outs: Any, ends: list[str], special: Any
) -> tuple[list[dict[str, Any]], list[Any], list[Any]]:
    """Each output's program in the item's mode (and, compared, in the other mode): the
    generation records (written) and the samples to execute for each mode."""
    from engine.execute.samples import Sample

    gens: list[dict[str, Any]] = []
    exec_id = _exec_ids(items)
    samples, alt_samples = [], []
    for it, o_list in zip(items, outs):
        for s, o in enumerate(o_list):
            main = extract(it.mode, it.task, it.problem, it.prompt, o.text, end_tokens=ends, special=special)
            g = {
                "task": it.task.name,
                "task_id": it.problem.task_id,
                "uid": it.uid,
                "language": it.problem.language,
                "sample": s,
                "prompt": it.prompt.text,
                "raw": o.text,
                "tokens": o.n_tokens,
                "finish": o.finish,
                "mode": it.mode,
                "code": main.code,
                "kind": main.kind,
                "extract": main.note,
                "test": _test_of(it.problem, main, run.profiles[it.task.name](it.problem)),
            }
            samples.append(Sample(exec_id[it.uid], main.code, main.kind, s))
            if run.compare_modes:
                alt = extract(_other(it.mode), it.task, it.problem, it.prompt, o.text, end_tokens=ends, special=special)
                g.update(
                    {"alt_mode": _other(it.mode), "alt_code": alt.code, "alt_kind": alt.kind, "alt_extract": alt.note}
                )
                if (alt.code, alt.kind) != (main.code, main.kind):
                    alt_samples.append(Sample(exec_id[it.uid], alt.code, alt.kind, s))
            gens.append(g)
    if run.vdir:
        write_jsonl(run.vdir.generations_jsonl, gens)
        _write_bigcode(run.vdir, items, gens)
    return gens, samples, alt_samples


def _exec_progress(report: _Reporter, phase: str) -> Callable[[int, int, dict[str, Any]], None]:
    return lambda done, total, rec: report(phase, done, total, {"verdict": rec.get("verdict", "")})


def _judge(run: _Run, items: list[_Item], samples: list[Any], alt_samples: list[Any]) -> _Judged:
    """Execute the primary mode's samples, then the other mode's that differ, each task under
    its own profile."""
    from engine.execute import execute

    exec_id = _exec_ids(items)
    exec_problems = [dataclasses.replace(it.problem, task_id=exec_id[it.uid]) for it in items]
    uid_of = {v: k for k, v in exec_id.items()}
    judged = {exec_id[it.uid]: run.profiles[it.task.name](it.problem) for it in items}
    limits = lambda p: judged[p.task_id]  # noqa: E731 - each task under its own profile
    vdir = run.vdir

    def judge(these: list[Any], out_dir: Path | None, phase: str, timing: str) -> Any:
        t0 = time.monotonic()
        rep = execute(
            exec_problems,
            these,
            out_dir=out_dir,
            workers=run.workers,
            limits=limits,
            progress=_exec_progress(run.report, phase),
            cache=run.exec_cache,
        )
        run.timings[timing] = round(time.monotonic() - t0, 3)
        return rep

    def by_key(rep: Any) -> dict[tuple[str, int], dict[str, Any]]:
        return {(uid_of[r["task_id"]], int(r["sample"])): r for r in rep.results}

    rep = judge(samples, vdir.exec_dir if vdir else None, "execute", "execute_s")
    alt_rep = (
        judge(alt_samples, vdir.exec_alt_dir if vdir else None, "execute-alt", "execute_alt_s") if alt_samples else None
    )
    alt = by_key(alt_rep) if alt_rep is not None else {}
    return _Judged(by_key(rep), alt, rep.summary.get("limits"))


def _records(
    gens: list[dict[str, Any]], judged: _Judged, compare_modes: bool
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Per generation its result record, and (compared) the record under the other mode."""
    records, alt_records = [], []
    for g in gens:
        key = (g["uid"], g["sample"])
        r = judged.main.get(key) or _missing(g)
        rec = {
            "uid": g["uid"],
            "task": g["task"],
            "task_id": g["task_id"],
            "language": g["language"],
            "sample": g["sample"],
            "verdict": r["verdict"],
            "tests_passed": r["tests_passed"],
            "tests_total": r["tests_total"],
            "duration": r.get("duration"),
            "detail": r.get("detail", ""),
            "failed_tests": r.get("failed_tests", []),
            "program": r.get("program", ""),
            "mode": g["mode"],
            "profile": r.get("profile"),
        }
        if compare_modes:
            ra = judged.alt.get(key, r)
            rec["alt_verdict"] = ra["verdict"]
            rec["alt_tests_passed"] = ra["tests_passed"]
            alt_records.append(
                {**rec, "verdict": ra["verdict"], "tests_passed": ra["tests_passed"], "tests_total": ra["tests_total"]}
            )
        records.append(rec)
    return records, alt_records


def _summary(
    run: _Run,
    items: list[_Item],
    gens: list[dict[str, Any]],
    records: list[dict[str, Any]],
    alt_records: list[dict[str, Any]],
    gt: dict[str, Any] | None,
    exec_limits: Any,
) -> dict[str, Any]:
    """summary.json: the scores, the profiles and limits judged under, ground truth,
    post-processing, generation counts and timings."""
    task_info = [
        {
            "name": t.name,
            "kind": t.kind,
            "languages": t.languages,
            "total": t.total,
            "profile": run.profiles[t.name].name,
        }
        for t in run.taskset.tasks
    ]
    summary = validation_summary(records, task_info, profile=profile_name(run.profiles))
    summary["limits"] = exec_limits
    if gt is not None:
        summary["ground_truth"] = gt
    modes = sorted({it.mode for it in items})
    summary["postprocess"] = {"mode": modes[0] if len(modes) == 1 else "mixed", "compared": run.compare_modes}
    if run.compare_modes:
        summary["postprocess"].update(_alt_summary(modes, records, alt_records, task_info))
    summary["generation"] = {
        "samples": len(gens),
        "tokens": run.timings["generated_tokens"],
        "finish": dict(_count(g["finish"] for g in gens)),
    }
    summary["timings"] = run.timings
    summary["wall_time"] = round(time.time() - run.t_start, 3)
    return summary


def _alt_summary(
    modes: list[str], records: list[dict[str, Any]], alt_records: list[dict[str, Any]], task_info: list[dict[str, Any]]
) -> dict[str, Any]:
    """The other post-processing mode's pass@1 (overall and per task) and the verdicts it flips."""
    alt_probs = per_problem(alt_records)
    return {
        "alt_mode": _other(modes[0]) if len(modes) == 1 else "mixed",
        "alt": {
            "pass@1": aggregate(alt_probs.values())["pass@1"],
            "tasks": {
                t["name"]: aggregate([p for p in alt_probs.values() if p["task"] == t["name"]])["pass@1"]
                for t in task_info
            },
        },
        "flips": flips(records, alt_records),
    }


def _complete(run: _Run, records: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    run.meta.update(
        {
            "status": "completed",
            "finished": time.time(),
            "timings": run.timings,
            "contest_score": summary.get("contest_score"),
            "contest": summary.get("contest"),
            "pass@1": summary.get("pass@1"),
            "n_problems": summary.get("n_problems"),
        }
    )
    if run.vdir:
        write_jsonl(run.vdir.results_jsonl, records)
        atomic_write_json(run.vdir.summary_json, summary)
        atomic_write_json(run.vdir.meta_json, run.meta)
    run.report("score", 1, 1, {})


def _fail(run: _Run, e: BaseException) -> None:
    """meta.json says how the validation ended (the exception is raised on by the caller)."""
    if run.vdir:
        run.meta.update(
            {
                "status": "failed",
                "finished": time.time(),
                "timings": run.timings,
                "error": f"{type(e).__name__}: {e}" if not isinstance(e, KeyboardInterrupt) else "interrupted",
            }
        )
        atomic_write_json(run.vdir.meta_json, run.meta)


def _exec_ids(items: list[_Item]) -> dict[str, str]:
    """uid -> the id the executor sees: the problem's own id where no other task uses it (an
    evalplus problem's expected outputs are keyed by it), else the uid (task/id), as
    HumanEvalPack reuses `Python/0` in every task."""
    from collections import Counter

    uses = Counter(it.problem.task_id for it in items)
    ids = {it.uid: it.problem.task_id if uses[it.problem.task_id] == 1 else it.uid for it in items}
    return ids if len(set(ids.values())) == len(ids) else {u: u for u in ids}  # an own id that is another's uid


def _ground_truth(
    taskset: TaskSet,
    profiles: dict[str, Profile],
    workers: int | None,
    cache: bool,
    report: _Reporter,
    log: Callable[[str], None] | None,
) -> dict[str, Any]:
    """The canonical-solution check of every set, its warnings said through `log` at once."""
    checks = check_ground_truth(
        taskset,
        limits=dict(profiles),
        workers=workers,
        cache=cache,
        progress=lambda done, total: report("ground-truth", done, total, {}),
    )
    out = summary_of(checks)
    for line in out["warnings"] + out["notes"]:
        if log:
            log(line)
    report("ground-truth", 1, 1, {})
    return out


def _test_of(problem: Any, ex: Any, limits: Limits) -> str:
    """The test code the harness appends to this program (what the case view shows)."""
    from engine.problems.assemble import assemble

    try:
        return assemble(problem, ex.code, ex.kind, mbpp_setup=limits.mbpp_setup).test
    except Exception:  # noqa: BLE001 - a review nicety; the executor reports real assembly errors
        return problem.test


def _missing(g: dict[str, Any]) -> dict[str, Any]:
    return {"verdict": "infra_error", "tests_passed": 0, "tests_total": 1, "detail": "no executor result"}


def _count(it: Any) -> dict[str, int]:
    from collections import Counter

    return dict(Counter(it))


def _proc_start() -> float | None:
    try:
        import psutil

        return psutil.Process(os.getpid()).create_time()
    except Exception:  # noqa: BLE001 - no psutil or no process info: the start time is optional
        return None


def _write_bigcode(vdir: ValidationDir, items: list[_Item], gens: list[dict[str, Any]]) -> None:
    """generations_<task>.json: per problem (task order) the list of its samples' programs as
    bigcode-evaluation-harness saves them (`--save_generations`), i.e. before its per-language
    edits; task_ids_<task>.json gives the problem of each entry (a subset skips problems)."""
    by_uid: dict[str, list[str]] = {}
    order: dict[str, list[str]] = {}
    problem_of = {it.uid: it.problem for it in items}
    for g in gens:
        p = problem_of[g["uid"]]
        # compatible mode already produced the harness's program; otherwise assemble it the same way
        code = (
            g["code"]
            if (g["mode"], g["kind"]) == ("compatible", "solution")
            else harness_generation(p, g["code"], g["kind"])
        )
        by_uid.setdefault(g["uid"], []).append(code)
        if g["uid"] not in order.setdefault(g["task"], []):
            order[g["task"]].append(g["uid"])
    vdir.bigcode_dir.mkdir(parents=True, exist_ok=True)
    for task, uids in order.items():
        atomic_write_json(vdir.bigcode_dir / f"generations_{task}.json", [by_uid[u] for u in uids], indent=None)
        atomic_write_json(
            vdir.bigcode_dir / f"task_ids_{task}.json", [problem_of[u].task_id for u in uids], indent=None
        )
