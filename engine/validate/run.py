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
    if postprocess is not None and postprocess not in POSTPROCESS_MODES:
        raise WorkbenchError(f"unknown post-processing mode {postprocess!r} (compatible or robust)")
    settings = settings or GenSettings()
    fmt_obj = load_format(fmt, ws)
    taskset = (
        tasks
        if isinstance(tasks, TaskSet)
        else resolve_taskset(tasks, ws=ws, data_dir=data_dir, fraction=fraction, limit=limit)
    )
    if taskset.n_problems == 0:
        raise WorkbenchError(f"task set {taskset.name!r} has no problems")
    ckpt: Checkpoint | None = None
    if loaded is None:
        if model is None:
            if ws is None:
                raise WorkbenchError("no model given")
            model = ws.model_path()
        ckpt = model if isinstance(model, Checkpoint) else resolve_checkpoint(str(model), ws, adapter=adapter)
        if ws is not None and not settings.trust_remote_code:
            from engine.models.catalog import trusts_remote_code

            if trusts_remote_code(ws, ckpt.model, run=ckpt.run):  # [models] / the run said so: no flag needed
                settings = settings.model_copy(update={"trust_remote_code": True})

    vdir: ValidationDir | None = None
    if write:
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
    report = _Reporter(vdir, progress)
    t_start = time.time()
    meta: dict[str, Any] = {
        "id": vdir.id if vdir else None,
        "status": "running",
        "created": t_start,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "proc_start": _proc_start(),
        "command": sys.argv if write else None,
        "checkpoint": ckpt.describe() if ckpt else {"model": "<in memory>"},
        "taskset": taskset.describe(),
        "format": fmt_obj.model_dump(),
        "postprocess": postprocess,
        "compare_modes": compare_modes,
        "backend": backend if loaded is None else loaded.name,
        "settings": settings.model_dump(),
    }
    if vdir:
        atomic_write_json(vdir.meta_json, meta)
    timings: dict[str, float | None] = {}
    profiles = judging_profiles(taskset, profile, timeout)
    meta["profiles"] = {name: prof.name for name, prof in profiles.items()}
    try:
        report("ground-truth", 0, 1, {"id": vdir.id, "dir": str(vdir.path)} if vdir else {})
        gt = _ground_truth(taskset, profiles, workers, exec_cache, report, log) if ground_truth else None
        if gt is not None:
            meta["ground_truth"] = gt
            if vdir:
                atomic_write_json(vdir.meta_json, meta)
        report("load", 0, 1, {"id": vdir.id, "dir": str(vdir.path)} if vdir else {})
        t0 = time.monotonic()
        if loaded is not None:
            be = loaded
        else:
            assert ckpt is not None  # (no loaded backend: the model was resolved above)
            be = open_backend(
                backend, ckpt.model, adapter=ckpt.adapter, settings=settings, vllm_python=vllm_python, log=log
            )
        timings["load_s"] = round(time.monotonic() - t0, 3)
        report("load", 1, 1, {})
        tok = be.tokenizer
        items: list[_Item] = []
        for task in taskset.tasks:
            f = fmt_obj.for_task(task)
            for p in task.problems:
                bp = build_prompt(task, p, fmt_obj, tok)
                items.append(_Item(task, p, task.uid(p), bp, postprocess or f.postprocess))
        ends = be.end_tokens(fmt_obj.eos)
        special = special_tokens_of(tok)
        effective = effective_generation(
            taskset,
            fmt_obj,
            settings,
            backend=be.name,
            tokenizer=tok,
            checkpoint=checkpoint_generation(be, ckpt),
            postprocess=postprocess,
            backend_end_tokens=ends,
        )
        settings = settings.model_copy(update={"batch_size": run_batch_size(settings, fmt_obj)[0]})
        meta.update({"settings": settings.model_dump(), "generation": {k: e.to_dict() for k, e in effective.items()}})
        reqs = _requests(items, effective)

        t0 = time.monotonic()
        outs = be.generate(reqs, settings, report, end_tokens=ends)
        gen_s = timings["generate_s"] = round(time.monotonic() - t0, 3)
        n_tokens = sum(o.n_tokens for os_ in outs for o in os_)
        timings["generated_tokens"] = n_tokens
        timings["tokens_per_s"] = round(n_tokens / gen_s, 2) if gen_s > 0 else None
        meta["backend_info"] = be.describe()
        if loaded is None:
            be.close()

        gens: list[dict[str, Any]] = []
        exec_id = _exec_ids(items)
        samples, alt_samples = [], []
        from engine.execute.samples import Sample

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
                    "test": _test_of(it.problem, main, profiles[it.task.name](it.problem)),
                }
                samples.append(Sample(exec_id[it.uid], main.code, main.kind, s))
                if compare_modes:
                    alt = extract(
                        _other(it.mode), it.task, it.problem, it.prompt, o.text, end_tokens=ends, special=special
                    )
                    g.update(
                        {
                            "alt_mode": _other(it.mode),
                            "alt_code": alt.code,
                            "alt_kind": alt.kind,
                            "alt_extract": alt.note,
                        }
                    )
                    if (alt.code, alt.kind) != (main.code, main.kind):
                        alt_samples.append(Sample(exec_id[it.uid], alt.code, alt.kind, s))
                gens.append(g)
        if vdir:
            write_jsonl(vdir.generations_jsonl, gens)
            _write_bigcode(vdir, items, gens)

        exec_problems = [dataclasses.replace(it.problem, task_id=exec_id[it.uid]) for it in items]
        uid_of = {v: k for k, v in exec_id.items()}
        judged = {exec_id[it.uid]: profiles[it.task.name](it.problem) for it in items}
        limits = lambda p: judged[p.task_id]  # noqa: E731 - each task under its own profile
        from engine.execute import execute

        def exec_progress(phase: str) -> Callable[[int, int, dict[str, Any]], None]:
            return lambda done, total, rec: report(phase, done, total, {"verdict": rec.get("verdict", "")})

        t0 = time.monotonic()
        rep = execute(
            exec_problems,
            samples,
            out_dir=vdir.exec_dir if vdir else None,
            workers=workers,
            limits=limits,
            progress=exec_progress("execute"),
            cache=exec_cache,
        )
        timings["execute_s"] = round(time.monotonic() - t0, 3)
        by_key = {(uid_of[r["task_id"]], int(r["sample"])): r for r in rep.results}
        alt_by_key: dict[tuple[str, int], dict[str, Any]] = {}
        if alt_samples:
            t0 = time.monotonic()
            alt_rep = execute(
                exec_problems,
                alt_samples,
                out_dir=vdir.exec_alt_dir if vdir else None,
                workers=workers,
                limits=limits,
                progress=exec_progress("execute-alt"),
                cache=exec_cache,
            )
            timings["execute_alt_s"] = round(time.monotonic() - t0, 3)
            alt_by_key = {(uid_of[r["task_id"]], int(r["sample"])): r for r in alt_rep.results}

        report("score", 0, 1, {})
        records, alt_records = [], []
        for g in gens:
            key = (g["uid"], g["sample"])
            r = by_key.get(key) or _missing(g)
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
                ra = alt_by_key.get(key, r)
                rec["alt_verdict"] = ra["verdict"]
                rec["alt_tests_passed"] = ra["tests_passed"]
                alt_records.append(
                    {
                        **rec,
                        "verdict": ra["verdict"],
                        "tests_passed": ra["tests_passed"],
                        "tests_total": ra["tests_total"],
                    }
                )
            records.append(rec)
        task_info = [
            {
                "name": t.name,
                "kind": t.kind,
                "languages": t.languages,
                "total": t.total,
                "profile": profiles[t.name].name,
            }
            for t in taskset.tasks
        ]
        summary = validation_summary(records, task_info, profile=profile_name(profiles))
        summary["limits"] = rep.summary.get("limits")
        if gt is not None:
            summary["ground_truth"] = gt
        modes = sorted({it.mode for it in items})
        summary["postprocess"] = {"mode": modes[0] if len(modes) == 1 else "mixed", "compared": compare_modes}
        if compare_modes:
            alt_probs = per_problem(alt_records)
            flipped = flips(records, alt_records)
            summary["postprocess"].update(
                {
                    "alt_mode": _other(modes[0]) if len(modes) == 1 else "mixed",
                    "alt": {
                        "pass@1": aggregate(alt_probs.values())["pass@1"],
                        "tasks": {
                            t["name"]: aggregate([p for p in alt_probs.values() if p["task"] == t["name"]])["pass@1"]
                            for t in task_info
                        },
                    },
                    "flips": flipped,
                }
            )
        summary["generation"] = {
            "samples": len(gens),
            "tokens": n_tokens,
            "finish": dict(_count(g["finish"] for g in gens)),
        }
        summary["timings"] = timings
        summary["wall_time"] = round(time.time() - t_start, 3)
        meta.update(
            {
                "status": "completed",
                "finished": time.time(),
                "timings": timings,
                "contest_score": summary.get("contest_score"),
                "contest": summary.get("contest"),
                "pass@1": summary.get("pass@1"),
                "n_problems": summary.get("n_problems"),
            }
        )
        if vdir:
            write_jsonl(vdir.results_jsonl, records)
            atomic_write_json(vdir.summary_json, summary)
            atomic_write_json(vdir.meta_json, meta)
        report("score", 1, 1, {})
        return ValidationResult(summary, records, gens, meta, vdir, alt_records)
    except BaseException as e:
        if vdir:
            meta.update(
                {
                    "status": "failed",
                    "finished": time.time(),
                    "timings": timings,
                    "error": f"{type(e).__name__}: {e}" if not isinstance(e, KeyboardInterrupt) else "interrupted",
                }
            )
            atomic_write_json(vdir.meta_json, meta)
        raise


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
