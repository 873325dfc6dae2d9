"""Limits profiles: which `Limits` a problem's programs are judged under.

    contest    the contest's harness (bigcode-evaluation-harness as in MFTCoder's
               `codeqwen_competition` branch): one wall-clock limit for the whole program, run
               once -- MBPP 3 s (`code_eval`'s default timeout), HumanEvalPack Python / JavaScript /
               Java 10 s, Go 20 s, C++ 60 s, Rust 300 s (`humanevalpack.py` LANGUAGE_TO_TIMEOUT) --;
               no memory cap (`reliability_guard(maximum_memory_bytes=None)`) beyond the machine's
               safety net; MBPP judged on `test_list` alone (bigcode `mbpp.py`).
    per-case   this project's own: 10 s of CPU per test case (wall clock up to 2x), 30 s per
               sample, 2 GiB of address space; a case that crashes or hangs does not stop the
               others. For round-2 test-case fractions and custom sets.

A `Profile` is a callable problem -> Limits, so one executor run can judge each task family
under its own wall limit (the executor groups programs by their limits).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

from engine.errors import WorkbenchError
from engine.execute.core import CONTEST, PER_CASE, Limits
from engine.problems.model import Problem

PROFILES = (CONTEST, PER_CASE)

# The harness's wall-clock seconds per whole program: MBPP (`code_eval`, timeout=3.0) and
# HumanEvalPack per language (bigcode humanevalpack.py LANGUAGE_TO_TIMEOUT).
CONTEST_WALL_S = {"mbpp": 3.0, "python": 10.0, "javascript": 10.0, "java": 10.0, "go": 20.0, "cpp": 60.0, "rust": 300.0}

# The contest's harness sets no memory limit; what stops a runaway program is the machine. Ours:
# the resident memory of a program's processes together may reach half of physical memory.
SAFETY_NET_FRACTION = 0.5

PROFILE_HELP = (
    "Limits profile: `contest` = the contest harness's wall-clock limit per whole program "
    "(MBPP 3 s; HumanEvalPack Python/JS/Java 10 s, Go 20 s, C++ 60 s, Rust 300 s), no memory cap "
    "beyond a safety net of half the machine's RAM, MBPP judged on test_list alone; `per-case` = "
    "10 s CPU per test case, 30 s per sample, 2 GiB (round-2 fractions, custom sets)."
)


def safety_net_mb() -> int:
    """The contest profile's memory safety net: half of physical memory, in MiB."""
    try:
        phys = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        phys = 8 << 30
    return max(1024, int(phys * SAFETY_NET_FRACTION) >> 20)


def family(problem: Problem) -> str:
    """The harness's task family of a problem: `mbpp` for MBPP-layout sets, else its language
    (HumanEvalPack's per-language limits apply to every other program-and-test set)."""
    return "mbpp" if problem.suite == "mbpp" else problem.language


@dataclass(frozen=True)
class Profile:
    """A limits profile: `name`, and for `per-case` the base limits (--timeout, --memory ...)."""

    name: str
    base: Limits = Limits()

    def __call__(self, problem: Problem) -> Limits:
        if self.name == PER_CASE:
            return self.base
        return contest_limits(family(problem), base=self.base)

    def describe(self) -> str:
        if self.name == PER_CASE:
            b = self.base
            return f"per-case: {b.timeout:g} s CPU per test case, {b.total:g} s per sample, {b.memory_mb} MiB"
        walls = ", ".join(f"{k} {v:g} s" for k, v in CONTEST_WALL_S.items())
        return f"contest: wall clock per whole program ({walls}), memory safety net {safety_net_mb()} MiB resident"


def contest_limits(fam: str, *, base: Limits | None = None) -> Limits:
    """The contest profile's limits for a task family (`mbpp` or a language)."""
    b = base or Limits()
    return dataclasses.replace(
        b,
        profile=CONTEST,
        whole_program=True,
        timeout=CONTEST_WALL_S[fam],
        sample_timeout=None,
        wall_factor=1.0,
        max_timeouts=0,
        memory_mb=safety_net_mb(),
        mbpp_setup=False,
    )


def get_profile(
    name: str | None = None,
    *,
    timeout: float | None = None,
    sample_timeout: float | None = None,
    memory_mb: int | None = None,
) -> Profile:
    """The named profile (default per-case); --timeout / --sample-timeout / --memory shape the
    per-case profile only: the contest profile's limits are the harness's."""
    name = name or PER_CASE
    if name not in PROFILES:
        raise WorkbenchError(f"unknown limits profile {name!r} (known: {', '.join(PROFILES)})")
    given = {
        k: v
        for k, v in (("timeout", timeout), ("sample_timeout", sample_timeout), ("memory_mb", memory_mb))
        if v is not None
    }
    if name == CONTEST:
        if given:
            flags = ", ".join("--" + k.replace("_mb", "").replace("_", "-") for k in given)
            raise WorkbenchError(
                f"{flags}: the contest profile's limits are the harness's; use --profile per-case to set your own"
            )
        return Profile(CONTEST)
    base = Limits()
    base = dataclasses.replace(base, timeout=float(timeout)) if timeout is not None else base
    base = dataclasses.replace(base, sample_timeout=float(sample_timeout)) if sample_timeout is not None else base
    base = dataclasses.replace(base, memory_mb=int(memory_mb)) if memory_mb is not None else base
    return Profile(PER_CASE, base)


def resolver(limits: Limits | Profile | Any | None) -> Any:
    """problem -> Limits from what `execute()` was given: one Limits for every problem, a
    Profile, or any callable."""
    if limits is None:
        limits = Limits()
    if isinstance(limits, Limits):
        return lambda _p, _l=limits: _l
    if callable(limits):
        return limits
    raise TypeError(f"limits must be Limits or a callable problem -> Limits, not {type(limits).__name__}")
