"""`execute()`: run samples against their problems' tests in the sandbox, in parallel, and
return (and optionally write) per-sample results and a summary.

    OUT/results.jsonl   one line per sample: task id, language, sample index, verdict, tests
                        passed/total, duration, detail (compiler or stderr tail), failed tests,
                        the assembled program
    OUT/summary.json    pass@k for every k up to n, mean test-case pass rate, verdict counts:
                        overall, per language and per task; wall time
Samples already in OUT/results.jsonl with the same program are not run again (resume), and
identical programs are run once (within a call and, with the result cache, across calls).

Text: the assembled program is normalised once (`samples.clean_text`: a lone surrogate, which no
file can hold, becomes U+FFFD); everything is then written as JSON that any text survives
(`samples.json_text`), so no output of a model or a program can stop a run or its resume.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import os
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import WorkbenchError
from engine.execute.core import P_START, Context, Limits, Scheduler, Unit, rmtree_quiet
from engine.execute.passk import execution_summary
from engine.execute.samples import Sample, clean_program, json_text, resolve_samples
from engine.execute.verdicts import Outcome, classify
from engine.fsutil import atomic_write_text
from engine.problems.assemble import assemble
from engine.problems.model import Problem

if TYPE_CHECKING:
    from engine.execute.sandbox import SandboxInfo

# Part of every result-cache key: bump when verdict semantics change. 3: one program per process
# image in every language, the allowlist sandbox, early exits fail. 4: MultiPL-E C++ as C++17, a
# failing Go test without testify cases is 'failed', javatuples named as a missing dependency.
EXECUTOR_VERSION = "4"

Progress = Callable[[int, int, dict[str, Any]], None]


@dataclass
class ExecReport:
    results: list[dict[str, Any]]
    summary: dict[str, Any]
    out_dir: Path | None = None
    stats: dict[str, Any] = field(default_factory=dict)

    def by_task(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in self.results:
            out[r["task_id"]].append(r)
        return out


def program_key(problem: Problem, text: str, limits: Limits, fingerprint: str, sandbox: str = "") -> str:
    """The result-cache key: executor version, language, toolchain fingerprint, limits, sandbox
    mode and the program itself (its tests included)."""
    h = hashlib.sha256()
    for part in (EXECUTOR_VERSION, problem.language, fingerprint, limits.signature(), sandbox, text):
        h.update(part.encode("utf-8", "replace"))
        h.update(b"\0")
    return h.hexdigest()[:32]


def _read_previous(path: Path) -> dict[tuple[str, int], dict[str, Any]]:
    """Records of an interrupted run (a half-written last line is ignored)."""
    out: dict[tuple[str, int], dict[str, Any]] = {}
    if not path.is_file():
        return out
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                r = json.loads(line)
                out[(str(r["task_id"]), int(r["sample"]))] = r
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                continue
    return out


@dataclass
class _Batch:
    """The samples of one call, checked against their problems, and each problem's limits."""

    problems: list[Problem]
    samples: list[Sample]
    by_id: dict[str, Problem]
    limits_of: Callable[[Problem], Limits]


@dataclass
class _Plan:
    """What is left to run: one unit per distinct program (cache key), the samples waiting on
    each, and the records already known (resumed from OUT/results.jsonl)."""

    records: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    pending: dict[str, list[tuple[Sample, Any]]] = field(default_factory=lambda: defaultdict(list))
    units: dict[str, Unit] = field(default_factory=dict)


def execute(
    problems: list[Problem],
    samples: str | Path | list[Any],
    out_dir: str | Path | None = None,
    workers: int | None = None,
    timeout: float | None = None,
    progress: Progress | None = None,
    *,
    limits: Limits | Callable[[Problem], Limits] | None = None,
    cache: bool | str | Path = True,
    sandbox: str = "auto",
    resume: bool = True,
) -> ExecReport:
    """Execute samples (a JSONL path, "canonical", "buggy", or a list of Sample/dicts) against
    `problems`. `limits` is one `Limits` for every problem or a problem -> Limits callable (a
    `profiles.Profile`: each task family under its own limits); every result names the profile
    its limits belong to. `timeout` replaces the limits' `timeout` (see `Limits`); `workers`
    defaults to the number of cores; `cache` is True (the shared result cache), False, or a
    folder for a private cache; `sandbox` is auto | bwrap | unshare | none. Samples already in
    OUT/results.jsonl with the same program are kept (not infra errors: those are retried)."""
    t_start = time.monotonic()
    from engine.execute.sandbox import detect
    from engine.execute.toolchains import probe_all

    batch = _batch(problems, samples, limits, timeout)
    workers = max(1, int(workers or os.cpu_count() or 1))
    out_path = Path(out_dir) if out_dir is not None else None
    results_file = out_path / "results.jsonl" if out_path else None
    previous = _read_previous(results_file) if (results_file and resume) else {}

    probe_all(sorted({batch.by_id[s.task_id].language for s in batch.samples}))  # in parallel, cached
    info = detect(sandbox)
    # Only a sandbox that keeps programs apart (bubblewrap: nothing one leaves reaches the next)
    # gives verdicts that may be served to later runs.
    isolated = info.mode == "bwrap"
    plan = _plan_units(batch, previous, info.mode)
    rcache, cached = _consult_cache(cache, plan.units)
    collector = _Collector(plan, len(batch.samples), results_file, bool(previous), progress, rcache, isolated)
    collector.serve_cached(cached)
    stats: dict[str, Any] = {
        "programs": len(plan.units),
        "samples": len(batch.samples),
        "cache_hits": len(cached),
        "resumed": len(plan.records),
    }
    try:
        errors = _run_units(problems, plan.units, info, workers, collector)
    finally:
        collector.close()

    ordered = _ordered(plan.records, problems)
    summary = _summary(batch, ordered, stats, len(plan.units), info, errors, t_start)
    if out_path and results_file:
        atomic_write_text(results_file, "".join(json_text(r) + "\n" for r in ordered))
        atomic_write_text(out_path / "summary.json", json_text(summary, indent=2) + "\n")
    return ExecReport(ordered, summary, out_path, stats)


def _batch(
    problems: list[Problem],
    samples: str | Path | list[Any],
    limits: Limits | Callable[[Problem], Limits] | None,
    timeout: float | None,
) -> _Batch:
    """The samples resolved and checked (each names a known problem, no index twice) and the
    problem -> Limits function (`timeout` overriding the profile's)."""
    from engine.execute.profiles import resolver

    limits_of = resolver(limits)
    if timeout is not None:
        base_of = limits_of
        limits_of = lambda p: dataclasses.replace(base_of(p), timeout=float(timeout))  # noqa: E731 - a one-line override of the profile's timeout
    by_id = {p.task_id: p for p in problems}
    sample_list: list[Sample] = (
        resolve_samples(samples, problems)
        if not isinstance(samples, list) or not all(isinstance(s, Sample) for s in samples)
        else list(samples)
    )
    seen: set[tuple[str, int]] = set()
    for s in sample_list:
        if s.task_id not in by_id:
            raise WorkbenchError(f"sample for task {s.task_id!r}, which is not among the {len(by_id)} problems")
        if (s.task_id, s.index) in seen:
            raise WorkbenchError(f"two samples for task {s.task_id!r} have the same index {s.index}")
        seen.add((s.task_id, s.index))
    return _Batch(problems, sample_list, by_id, limits_of)


def _plan_units(batch: _Batch, previous: dict[tuple[str, int], dict[str, Any]], sandbox_mode: str) -> _Plan:
    """Assemble every sample's program, key it, keep a resumed record whose key still matches
    (and was no infra error), and dedupe the rest into units."""
    from engine.execute import iocases
    from engine.execute.langs import instrument
    from engine.execute.toolchains import probe

    plan = _Plan()
    plans: dict[tuple[str, str], Any] = {}
    for s in batch.samples:
        p = iocases.sample_problem(batch.by_id[s.task_id], s.language)  # (io problems: in the sample's language)
        lim = batch.limits_of(p)
        io = iocases.is_io(p)
        prog = clean_program(
            iocases.program(p, s.code, s.kind) if io else assemble(p, s.code, s.kind, mbpp_setup=lim.mbpp_setup)
        )
        tool = probe(p.language)
        # (an io problem's cases and limits decide its verdict as much as its program does)
        key = program_key(p, prog.text + (iocases.signature(p) if io else ""), lim, tool.fingerprint, sandbox_mode)
        prev = previous.get((s.task_id, s.index))
        if prev is not None and prev.get("key") == key and prev.get("verdict") != "infra_error":
            plan.records[(s.task_id, s.index)] = prev
            continue
        plan.pending[key].append((s, prog))
        if key not in plan.units:
            pk = (p.language, prog.test)
            if pk not in plans and not io:
                plans[pk] = instrument(p.language, prog.test)
            plan.units[key] = Unit(key, p, prog, iocases.plan(p) if io else plans[pk], lim)
    return plan


def _consult_cache(cache: bool | str | Path, units: dict[str, Unit]) -> tuple[Any, dict[str, dict[str, Any]]]:
    """The result cache (None when off or unusable) and its verdicts for these units."""
    if not (cache and units):
        return None, {}
    import sqlite3

    from engine.execute.cache import ResultCache
    from engine.execute.toolchains import results_cache_path

    path = results_cache_path() if cache is True else Path(cache) / "results.sqlite"
    try:
        rcache = ResultCache(path)
        return rcache, rcache.get_many(list(units))
    except (sqlite3.Error, OSError):
        return None, {}  # an unusable cache only costs time


class _Collector:
    """Turns each unit's outcome into the records of every sample waiting on it: written to
    OUT/results.jsonl as they come (resume), reported to `progress`, and (isolated sandbox
    only) put into the result cache. Runner threads call `emit`."""

    def __init__(
        self,
        plan: _Plan,
        total: int,
        results_file: Path | None,
        had_previous: bool,
        progress: Progress | None,
        rcache: Any,
        isolated: bool,
    ):
        self.plan, self.total, self.progress = plan, total, progress
        self.rcache, self.isolated = rcache, isolated
        self.lock = threading.Lock()
        self.done = len(plan.records)
        self.emitted: set[str] = set()
        self.out_f = None
        if results_file:
            results_file.parent.mkdir(parents=True, exist_ok=True)
            self.out_f = open(results_file, "a", encoding="utf-8")
            if had_previous and not plan.records:
                self.out_f.truncate(0)

    def serve_cached(self, cached: dict[str, dict[str, Any]]) -> None:
        """Cache hits first: their units are not run."""
        for key, val in cached.items():
            if key in self.plan.units:
                u = self.plan.units.pop(key)
                self.finish(u, val, float(val.get("duration", 0.0)), True)

    def finish(self, u: Unit, c: dict[str, Any], duration: float, was_cached: bool) -> None:
        with self.lock:
            for s, prog in self.plan.pending.pop(u.key, []):
                rec = _record(s, prog, u, c, duration, was_cached)
                self.plan.records[(s.task_id, s.index)] = rec
                self.done += 1
                if self.out_f:
                    self.out_f.write(json_text(rec) + "\n")
                    self.out_f.flush()
                if self.progress:
                    with contextlib.suppress(Exception):  # a progress display must not stop execution
                        self.progress(self.done, self.total, rec)

    def emit(self, u: Unit, out: Outcome) -> None:
        from engine.execute import iocases

        with self.lock:
            if u.key in self.emitted:
                return
            self.emitted.add(u.key)
        try:
            c = out.result if isinstance(out, iocases.Judged) else classify(out, u.language)
        except Exception as e:  # noqa: BLE001 - a classifier bug must not lose the sample
            c = {
                "verdict": "infra_error",
                "tests_passed": 0,
                "tests_total": max(u.plan.n, 1),
                "failed_tests": [],
                "detail": f"executor internal error while judging: {type(e).__name__}: {e}",
            }
        dur = float((out.run or {}).get("duration", 0.0))
        if self.rcache and self.isolated:
            self.rcache.put(u.key, {**c, "duration": dur})
        self.finish(u, c, dur, False)

    def close(self) -> None:
        if self.out_f:
            self.out_f.close()


def _record(s: Sample, prog: Any, u: Unit, c: dict[str, Any], duration: float, was_cached: bool) -> dict[str, Any]:
    return {
        "task_id": s.task_id,
        "language": u.language,
        "sample": s.index,
        "kind": s.kind,
        "verdict": c["verdict"],
        "tests_passed": c["tests_passed"],
        "tests_total": c["tests_total"],
        "duration": round(duration, 4),
        "detail": c["detail"],
        "failed_tests": c["failed_tests"],
        "profile": u.limits.profile if u.limits else None,
        "cached": was_cached,
        "key": u.key,
        "program": prog.text,
    }


def _run_units(
    problems: list[Problem], units: dict[str, Unit], info: SandboxInfo, workers: int, collector: _Collector
) -> list[str]:
    """Run the units through the language runners in a scratch folder; a unit no runner
    answered is an infra error. Returns the scheduler's internal errors."""
    from engine.execute import iocases
    from engine.execute.langs import runner_for
    from engine.execute.toolchains import build_cache_dir, probe, toolchain_cache_dir

    scheduler = Scheduler(workers)
    scratch = Path(tempfile.mkdtemp(prefix="wb-exec-", dir=_scratch_base()))
    os.chmod(scratch, 0o711)  # programs pass through it to their supervisor's folder, never list it
    # the problem sets' folders stay hidden even where they sit inside a mapped system folder
    hidden = tuple(
        sorted({os.path.dirname(os.path.abspath(p.source)) for p in problems if p.source and os.path.isfile(p.source)})
    )
    try:
        # one runner start per language and limits (a task family's own wall limit, say)
        by_lang: dict[tuple[str, Limits], list[Unit]] = defaultdict(list)
        for u in units.values():
            by_lang[(u.language, u.limits or Limits())].append(u)
        for (lang, lim), lus in sorted(by_lang.items(), key=lambda kv: (kv[0][0], kv[0][1].signature())):
            tool = probe(lang)
            ctx = Context(
                lim,
                info,
                scratch,
                tool,
                workers,
                collector.emit,
                scheduler.submit,
                toolchain_cache_dir(),
                build_cache_dir(),
                hidden,
            )
            if not tool.runnable:
                missing = f"{lang} toolchain incomplete: missing {', '.join(tool.missing)}"
                for u in lus:
                    ctx.emit(u, Outcome("infra_error", missing, n_cases=u.plan.n))
                continue
            start = iocases.dispatch(runner_for(lang))  # (io units go to engine.execute.iocases)
            scheduler.submit(P_START, functools.partial(start, ctx, lus))
        scheduler.run()
        internal = "\n".join(scheduler.errors)[-3000:]
        for u in list(units.values()):
            if u.key not in collector.emitted and u.key in collector.plan.pending:
                detail = "executor internal error" + (f":\n{internal}" if internal else "")
                collector.emit(u, Outcome("infra_error", detail, n_cases=u.plan.n))
    finally:
        rmtree_quiet(scratch)
    return scheduler.errors


def _summary(
    batch: _Batch,
    ordered: list[dict[str, Any]],
    stats: dict[str, Any],
    programs_run: int,
    info: SandboxInfo,
    errors: list[str],
    t_start: float,
) -> dict[str, Any]:
    """summary.json: pass@k and verdict counts, what ran, the profiles and sandbox."""
    summary = execution_summary(ordered)
    summary["wall_time"] = round(time.monotonic() - t_start, 3)
    summary["programs_run"] = programs_run
    summary["cache_hits"] = stats["cache_hits"]
    summary["resumed"] = stats["resumed"]
    used = [(batch.by_id[s.task_id], batch.limits_of(batch.by_id[s.task_id])) for s in batch.samples]
    summary.update(_profile_summary(ordered, used))
    summary["sandbox"] = info.describe()
    if errors:
        summary["internal_errors"] = len(errors)
    return summary


def _profile_summary(records: list[dict[str, Any]], used: list[tuple[Problem, Limits]]) -> dict[str, Any]:
    """What the verdicts were judged under: `profile` (its name, or "mixed"), samples per
    profile, and each distinct set of limits with the languages / families it applied to."""
    from engine.execute.profiles import family

    counts: dict[str, int] = defaultdict(int)
    for r in records:
        counts[str(r.get("profile"))] += 1
    scopes: dict[Limits, set[str]] = defaultdict(set)
    for p, lim in used:
        scopes[lim].add(family(p))
    names = sorted({lim.profile for lim in scopes})
    return {
        "profile": names[0] if len(names) == 1 else ("mixed" if names else None),
        "profiles": dict(counts),
        "limits": [
            {**lim.describe(), "applies_to": sorted(fams)}
            for lim, fams in sorted(scopes.items(), key=lambda kv: (kv[0].profile, kv[0].timeout, kv[0].signature()))
        ],
    }


def _scratch_base() -> str | None:
    """Where build folders go: $WORKBENCH_EXEC_TMP, else the system temp dir -- not /dev/shm,
    whose RAM nothing caps (programs write only into their capped sandbox tmpfs)."""
    return os.environ.get("WORKBENCH_EXEC_TMP") or None


def _ordered(records: dict[tuple[str, int], dict[str, Any]], problems: Iterable[Problem]) -> list[dict[str, Any]]:
    order = {p.task_id: i for i, p in enumerate(problems)}
    return [records[k] for k in sorted(records, key=lambda k: (order.get(k[0], 1 << 30), k[0], k[1]))]
