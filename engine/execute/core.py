"""Shared machinery of the language runners: units of work, limits, the task scheduler, and the
batch-build-with-eviction strategy of the compiled languages.

A *unit* is one distinct program (identical samples are deduplicated before). Compiled
languages build units in batches (one compiler call for many programs); when a batch fails,
the units the compiler's diagnostics point at are evicted and the rest is rebuilt; units that
cannot be blamed are bisected; an evicted unit is built and run on its own, first
instrumented, then as written, so no program is failed by a neighbour or by instrumentation.
"""

from __future__ import annotations

import heapq
import itertools
import os
import shutil
import tempfile
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from engine.execute.instrument import CasePlan
from engine.execute.sandbox import SandboxError, SandboxInfo, Supervisor, clean_env
from engine.execute.toolchains import Tool
from engine.execute.verdicts import Outcome
from engine.problems.assemble import Program
from engine.problems.model import Problem

# Task priorities (lower runs first): builds start early so compilers overlap with runs.
P_START, P_BUILD, P_SINGLE, P_RUN = 0, 10, 20, 30

# Build folders (`Context.new_dir`) are 0700: programs get their artefacts only through a job's
# "stage" (the supervisor copies them into the program's own folder), so a program reads its own
# artefacts and no other program's. (A runner that ran programs out of its build folder would
# need them world-readable: False.)
BUILD_DIRS_PRIVATE = True


PER_CASE, CONTEST = "per-case", "contest"  # the limits profiles (engine.execute.profiles)


@dataclass(frozen=True)
class Limits:
    """Budgets for one sample, under the limits profile `profile` (part of the signature and
    of every result).

    Per test case (`whole_program` off, the `per-case` profile): `timeout` is the CPU time per
    test case (and per program when its tests are not separable), with wall-clock time up to
    `wall_factor` x timeout on a busy machine; `sample_timeout` caps a whole sample (default
    3 x timeout); after `max_timeouts` timed-out cases the rest of the sample is not run (0: run
    every case); a case that crashes or hangs is killed and the program restarted at the next
    case; `memory_mb` is an address-space limit.

    Whole program (`whole_program`, the `contest` profile, as the contest's harness runs it):
    `timeout` is the wall-clock time of the whole program run once, to its end or its limit
    (never restarted at a later case, no CPU-time rule); `memory_mb` is no address-space cap but
    the machine's safety net: the resident memory of all the program's processes together.
    `mbpp_setup`: MBPP's `test_setup_code` runs before its `test_list` (the contest's harness
    runs `test_list` alone)."""

    profile: str = PER_CASE
    timeout: float = 10.0
    sample_timeout: float | None = None
    wall_factor: float = 2.0
    max_timeouts: int = 2
    compile_timeout: float = 120.0
    memory_mb: int = 2048
    output_kb: int = 4096
    nproc: int = 256
    fsize_mb: int = 64
    nofile: int = 256
    scratch_mb: int = 256  # writable space of a program: its folder (staged files too), /tmp, /dev/shm
    build_memory_mb: int = 2048  # resident memory of a compile step, all its processes together
    whole_program: bool = False
    mbpp_setup: bool = True

    @property
    def total(self) -> float:
        if self.whole_program:
            return float(self.timeout)
        return float(self.sample_timeout) if self.sample_timeout else 3 * self.timeout

    def signature(self) -> str:
        """What of the limits can change a verdict (part of the result-cache key)."""
        return (
            f"{self.profile}/{'W' if self.whole_program else 'C'}/t{self.timeout}/s{self.total}"
            f"/w{self.wall_factor}/x{self.max_timeouts}/m{self.memory_mb}"
            f"/o{self.output_kb}/p{self.nproc}/f{self.fsize_mb}/d{self.scratch_mb}/c{self.compile_timeout}"
            f"/b{self.build_memory_mb}/u{int(self.mbpp_setup)}"
        )

    def describe(self) -> dict[str, Any]:
        """The limits as summary.json reports them."""
        return {
            "profile": self.profile,
            "whole_program": self.whole_program,
            "timeout": self.timeout,
            "sample_timeout": self.total,
            "memory_mb": self.memory_mb,
            "memory": "resident safety net" if self.whole_program else "address space",
            "mbpp_test_setup": self.mbpp_setup,
            "output_kb": self.output_kb,
            "scratch_mb": self.scratch_mb,
            "build_memory_mb": self.build_memory_mb,
        }

    def run(
        self,
        *,
        memory_extra_mb: int = 0,
        relative: bool = False,
        memory: bool = True,
        nproc: int | None = None,
        cpu: bool = True,
    ) -> dict[str, Any]:
        common = {
            "fsize": self.fsize_mb << 20,
            "nofile": self.nofile,
            "nproc": nproc or self.nproc,
            "output": self.output_kb << 10,
            "keep": 8192,
        }
        if self.whole_program:
            # one run, wall clock only, no address-space cap: the supervisor watches resident memory
            return {
                "timeout": self.timeout,
                "total": self.total,
                "cpu": None,
                "wall_factor": 1.0,
                "wall_only": True,
                "restart": False,
                "max_timeouts": 0,
                "memory": None,
                "rss": self.memory_mb << 20,
                **common,
            }
        return {
            "timeout": self.timeout,
            "total": self.total,
            "cpu": int(self.total) + 1 if cpu else None,
            "wall_factor": self.wall_factor,
            "max_timeouts": self.max_timeouts,
            "memory": (self.memory_mb + memory_extra_mb) << 20 if memory else None,
            "memory_relative": relative,
            **common,
        }

    def build(self, n_programs: int = 1) -> dict[str, Any]:
        """Limits of a compile step: time, and resident memory summed over the compiler's
        processes ("rss", watched by the supervisor: an address-space limit breaks the JVM, Go and
        rustc, which reserve far more than they use)."""
        t = self.compile_timeout + 2.0 * n_programs
        return {
            "timeout": t,
            "total": t,
            "cpu": int(t) + 1,
            "memory": None,
            "fsize": 2 << 30,
            "nofile": 8192,
            "nproc": 4096,
            "output": 4 << 20,
            "keep": 1 << 20,
            "rss": self.build_memory_mb << 20 if self.build_memory_mb > 0 else None,
        }  # (0: no limit)


@dataclass
class Unit:
    key: str
    problem: Problem
    program: Program
    plan: CasePlan
    limits: Limits | None = None  # what it is judged under (the executor groups units by it)

    @property
    def language(self) -> str:
        return self.problem.language


@dataclass
class Context:
    limits: Limits
    sandbox: SandboxInfo
    scratch: Path
    tool: Tool
    workers: int
    emit: Callable[[Unit, Outcome], None]
    submit: Callable[[int, Callable[[], None]], None]
    cache: Path  # toolchain cache: sample-free, read-only in every sandbox
    build_cache: Path  # compiler caches (GOCACHE): read-write in compile steps only
    hidden: tuple[str, ...] = ()  # more folders no sandbox shows (the problem sets')

    def new_dir(self, prefix: str) -> str:
        """A build folder: the workbench's only (0700) once programs get artefacts by "stage"."""
        d = tempfile.mkdtemp(prefix=prefix, dir=self.scratch)
        os.chmod(d, 0o700 if BUILD_DIRS_PRIVATE else 0o755)
        return d

    def supervisor(self, *, build: bool = False, **kw: Any) -> Supervisor:
        """A supervisor whose sandbox shows the system, the toolchain, the toolchain cache and
        `ro`; a compile step (`build`) also gets its `rw` folders, a program the scratch folder
        read-only, for its supervisor to stage artefacts from (the 0700 build folders in it
        stay closed to the program's uid)."""
        from engine.execute.toolchains import toolchain_dirs

        own = (str(self.cache),) + (() if build else (str(self.scratch),))
        kw["ro"] = own + toolchain_dirs(self.tool) + tuple(kw.get("ro", ()))
        kw.setdefault("scratch_mb", self.limits.scratch_mb)
        kw.setdefault("hide", self.hidden)
        return Supervisor(self.new_dir("sup-"), self.sandbox, **kw)


class Scheduler:
    """A priority queue of tasks run by `workers` threads; a task may submit more tasks."""

    def __init__(self, workers: int):
        self.workers = max(1, workers)
        self._heap: list[tuple[int, int, Callable[[], None]]] = []
        self._count = itertools.count()
        self._cv = threading.Condition()
        self._running = 0
        self.errors: list[str] = []

    def submit(self, prio: int, fn: Callable[[], None]) -> None:
        with self._cv:
            heapq.heappush(self._heap, (prio, next(self._count), fn))
            self._cv.notify()

    def _worker(self) -> None:
        while True:
            with self._cv:
                while not self._heap and self._running:
                    self._cv.wait()
                if not self._heap:
                    self._cv.notify_all()
                    return
                _, _, fn = heapq.heappop(self._heap)
                self._running += 1
            try:
                fn()
            except BaseException:  # noqa: BLE001 - a runner bug must not stop the other tasks
                self.errors.append(traceback.format_exc())
            finally:
                with self._cv:
                    self._running -= 1
                    self._cv.notify_all()

    def run(self) -> None:
        threads = [threading.Thread(target=self._worker, daemon=True, name=f"exec-{i}") for i in range(self.workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


# ----------------------------------------------------------------------------------------------
# running jobs through supervisors


def run_jobs(
    ctx: Context,
    units: list[Unit],
    make_job: Callable[[Unit], dict[str, Any]],
    sup_kwargs: dict[str, Any],
    outcome: Callable[[Unit, dict[str, Any]], Outcome] | None = None,
) -> None:
    """Run one job per unit through one supervisor; emit an outcome per unit."""
    sup = ctx.supervisor(**sup_kwargs)
    try:
        sup.start()
        for u in units:
            try:
                res = sup.run(make_job(u))
            except SandboxError as e:
                ctx.emit(u, Outcome("infra_error", f"sandbox failure: {e}", n_cases=u.plan.n, labels=u.plan.labels))
                sup.kill()
                sup.close()
                sup = ctx.supervisor(**sup_kwargs)
                sup.start()
                continue
            ctx.emit(u, outcome(u, res) if outcome else Outcome(run=res, n_cases=u.plan.n, labels=u.plan.labels))
    except SandboxError as e:
        done: set[str] = set()
        for u in units:
            if u.key not in done:
                ctx.emit(u, Outcome("infra_error", f"sandbox failure: {e}", n_cases=u.plan.n, labels=u.plan.labels))
    finally:
        sup.close()


def chunks(items: list[Any], workers: int, *, min_size: int = 8, per_worker: int = 2) -> list[list[Any]]:
    """Split work into up to `per_worker` x workers chunks of at least `min_size` items,
    interleaved so that slow neighbours (same problem family) spread over the chunks."""
    if not items:
        return []
    n = max(1, min(len(items) // max(min_size, 1), per_worker * workers))
    return [items[i::n] for i in range(n)]


def compile_step(
    ctx: Context,
    workdir: str,
    argv: list[str],
    env: dict[str, str],
    n_programs: int = 1,
    rw: tuple[str, ...] = (),
    ro: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Run a compiler inside the sandbox (no network, the same file-system allowlist as programs
    plus its build folder and `ctx.build_cache` writable, as the workbench's uid because
    toolchains may live under /root), under the build's time and memory limits; returns the
    supervisor's result (a build over its memory limit fails with a log that says so)."""
    sup = ctx.supervisor(build=True, rw=(workdir, str(ctx.build_cache)) + rw, ro=ro, as_root=True)
    try:
        res = sup.run(
            {
                "id": "build",
                "mode": "exec",
                "argv": argv,
                "env": env,
                "cwd": workdir,
                "cases": 0,
                "limits": ctx.limits.build(n_programs),
                "workdir": workdir,
            }
        )
    finally:
        sup.close()
    if res.get("reason") == "memory":
        res["stderr"] = f"compiler ran out of memory (limit {ctx.limits.build_memory_mb} MiB)\n" + (
            res.get("stderr") or ""
        )
    return res


def build_ok(res: dict[str, Any]) -> bool:
    return res.get("exit") == 0 and res.get("reason") is None


def build_log(res: dict[str, Any]) -> str:
    if res.get("reason") in ("timeout", "total"):
        return "compilation timed out\n" + (res.get("stderr") or "") + (res.get("stdout") or "")
    return ((res.get("stderr") or "") + "\n" + (res.get("stdout") or "")).strip()


@dataclass
class BatchPlan:
    """Hooks a compiled language gives the generic batch/evict/fallback driver."""

    name: str
    build_batch: Callable[[list[Unit]], tuple[bool, str, Any]]  # -> ok, log, artifact
    blame: Callable[[str, list[Unit], Any], set[int]]  # indices of units to evict
    run_batch: Callable[[list[Unit], Any], None]  # run (emits outcomes)
    run_single: Callable[[Unit], None]  # build+run one on its own
    max_batch: int = 200
    rounds: int = 4
    state: dict[str, Any] = field(default_factory=dict)


def drive_batches(ctx: Context, plan: BatchPlan, groups: list[list[Unit]]) -> None:
    """Submit build tasks for the groups; failed builds evict, bisect, or fall back to singles."""

    def single(u: Unit) -> Callable[[], None]:
        def task() -> None:
            try:
                plan.run_single(u)
            except SandboxError as e:
                ctx.emit(u, Outcome("infra_error", f"sandbox failure: {e}", n_cases=u.plan.n, labels=u.plan.labels))

        return task

    def batch(units: list[Unit], round_: int) -> Callable[[], None]:
        def task() -> None:
            if len(units) == 1:
                single(units[0])()
                return
            try:
                ok, log, artifact = plan.build_batch(units)
            except SandboxError as e:
                for u in units:
                    ctx.emit(u, Outcome("infra_error", f"sandbox failure: {e}", n_cases=u.plan.n, labels=u.plan.labels))
                return
            if ok:
                for part in chunks(units, ctx.workers):
                    ctx.submit(P_RUN, partial(plan.run_batch, part, artifact))
                return
            blamed = plan.blame(log, units, artifact) if round_ < plan.rounds else set()
            if blamed and len(blamed) < len(units):
                rest = [u for i, u in enumerate(units) if i not in blamed]
                for i in sorted(blamed):
                    ctx.submit(P_SINGLE, single(units[i]))
                ctx.submit(P_BUILD, batch(rest, round_ + 1))
            elif len(units) <= 4 or round_ >= plan.rounds + 3 or len(blamed) == len(units):
                # (every unit has errors in its own lines -- typical of an untrained model's
                # output: bisecting would only rebuild the same failures; each gets its solo build)
                for u in units:
                    ctx.submit(P_SINGLE, single(u))
            else:  # nothing attributable: bisect
                mid = len(units) // 2
                ctx.submit(P_BUILD, batch(units[:mid], round_ + 1))
                ctx.submit(P_BUILD, batch(units[mid:], round_ + 1))

        return task

    for g in groups:
        for i in range(0, len(g), plan.max_batch):
            part = g[i : i + plan.max_batch]
            ctx.submit(P_BUILD, batch(part, 0))


def rmtree_quiet(path: str | Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def build_env(ctx: Context, workdir: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = clean_env(extra, home=workdir)
    env["TMPDIR"] = workdir
    return env


def run_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment of a program: HOME and TMPDIR are its own folder (set by the supervisor's cwd)."""
    env = clean_env(extra, home=".")
    env["TMPDIR"] = "."
    return env


def errors_only_in(log: str, filename: str, lo: int, hi: int) -> bool:
    """Do all the compiler's locations in `filename` fall within lines lo..hi (the model's
    code), so that the program would not compile without instrumentation either?"""
    import re

    lines = [int(m.group(1)) for m in re.finditer(re.escape(filename) + r":(\d+)", log)]
    return bool(lines) and all(lo <= n <= hi for n in lines)


def linked(ctx: Context, part: list[Unit], index: dict[str, int], bin_dir: str) -> list[Unit]:
    """The programs of a compile-only batch whose own binary linked (`bin_dir/<index>`); each of the
    others gets its own link log as its compile_error."""
    runnable = []
    for u in part:
        binary = os.path.join(bin_dir, str(index[u.key]))
        if os.path.exists(binary):
            runnable.append(u)
        else:
            log = Path(binary + ".log").read_text(errors="replace") if os.path.exists(binary + ".log") else ""
            ctx.emit(u, Outcome("compile_error", log.strip() or "link failed", n_cases=max(u.plan.n, 1)))
    return runnable


def _fixed_job(job: dict[str, Any]) -> Callable[[Unit], dict[str, Any]]:
    return lambda _u: job


def _outcome_of(n: int, labels: tuple[str, ...]) -> Callable[[Unit, dict[str, Any]], Outcome]:
    return lambda _u, r: Outcome(run=r, n_cases=n, labels=labels)


def run_single(
    ctx: Context,
    u: Unit,
    *,
    prefix: str,
    filename: str,
    write: Callable[[str, bool], tuple[int, int]],
    compile_: Callable[[str], dict[str, Any]],
    job: Callable[[str, bool], dict[str, Any]],
    sup_kwargs: dict[str, Any] | None = None,
) -> None:
    """Build and run one program on its own: instrumented first; if that does not compile for a
    reason in the test part, as written (so instrumentation never costs a program its verdict)."""
    variants = (True, False) if u.plan.test != u.program.test else (False,)
    log = ""
    for instrumented in variants:
        d = ctx.new_dir(prefix)
        lo, hi = write(d, instrumented)
        res = compile_(d)
        if build_ok(res):
            j = job(d, instrumented)
            n = j["cases"]
            labels = u.plan.labels if n else ()
            run_jobs(ctx, [u], _fixed_job(j), sup_kwargs or {}, outcome=_outcome_of(n, labels))
            return
        log = build_log(res)
        if instrumented and errors_only_in(log, filename, lo, hi):
            break  # the model's own code does not compile: no need to try without instrumentation
    ctx.emit(u, Outcome("compile_error", log, n_cases=max(u.plan.n, 1)))
