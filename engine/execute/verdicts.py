"""Verdicts: what happened to one sample, decided from what the supervisor observed.

    passed          every test case passed and the program finished normally
    failed          a test case's check was false (wrong answer, failed assertion)
    runtime_error   an exception, crash or abnormal exit
    compile_error   the program does not build
    timeout         a test case (or the whole sample) ran past its wall-clock or CPU budget
    oom             it ran out of its memory limit
    output_limit    it wrote more output than the cap
    infra_error     a missing toolchain or dependency, or a failure of the executor itself:
                    reported apart and never counted against the model
The verdict of a failing sample is that of its first non-passing test case, as the reference
harnesses (which stop at the first failure) would report it.
"""

from __future__ import annotations

import re
import signal
from dataclasses import dataclass
from typing import Any

VERDICTS = ("passed", "failed", "runtime_error", "compile_error", "timeout", "oom", "output_limit", "infra_error")

CASE_TO_VERDICT = {
    "pass": "passed",
    "fail": "failed",
    "error": "runtime_error",
    "timeout": "timeout",
    "oom": "oom",
    "output": "output_limit",
    "crash": "runtime_error",
    "exit": "runtime_error",
}

OOM_PATTERNS = re.compile(
    r"MemoryError|std::bad_alloc|memory allocation of \d+ bytes failed|OutOfMemoryError|"
    r"JavaScript heap out of memory|Reached heap limit|runtime: out of memory|fatal error: out of memory|"
    r"Cannot allocate memory|failed to allocate|cannot allocate memory|ENOMEM"
)

# Failures that are the machine's fault, not the model's (per language).
INFRA_PATTERNS = {
    "python": re.compile(r"No module named '(numpy)'"),
    "javascript": re.compile(r"Cannot find module '(js-md5)'"),
    "cpp": re.compile(r"fatal error: (boost/any\.hpp|openssl/\w+\.h): No such file|cannot find -l(crypto|ssl)"),
    "go": re.compile(
        r"cannot find package \"github\.com/stretchr/testify|package github\.com/stretchr/testify/assert is not in"
    ),
    "rust": re.compile(r"can't find crate for `(rand|regex|md5)`"),
    "java": re.compile(r"package (org\.javatuples) does not exist"),
}


@dataclass
class Outcome:
    """What a language runner reports for one program."""

    verdict_hint: str | None = None  # compile_error | infra_error (decided before running)
    detail: str = ""  # compiler output or infra reason
    run: dict[str, Any] | None = None  # the supervisor's result dict
    n_cases: int = 0
    labels: tuple[str, ...] = ()


def _signal_name(sig: int | None) -> str:
    if sig is None:
        return ""
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


# What to install when an INFRA_PATTERNS group names a missing dependency that needs a word more.
INFRA_HINTS = {
    "org.javatuples": "MultiPL-E Java needs javatuples on the class path: the jar is missing (Debian "
    "libjavatuples-java, /usr/share/java/javatuples.jar)",
}


def _infra_detail(language: str, detail: str) -> str:
    m = INFRA_PATTERNS[language].search(detail) if language in INFRA_PATTERNS else None
    hint = INFRA_HINTS.get(m.group(1)) if m and m.groups() else None
    return f"{hint}\n{_tail(detail)}" if hint else _tail(detail)


def classify(out: Outcome, language: str) -> dict[str, Any]:
    """verdict, tests_passed, tests_total, detail, failed_tests for one program."""
    if out.verdict_hint in ("compile_error", "infra_error"):
        pat = INFRA_PATTERNS.get(language)
        infra = bool(pat and pat.search(out.detail))
        verdict = "infra_error" if out.verdict_hint == "infra_error" or infra else "compile_error"
        return {
            "verdict": verdict,
            "tests_passed": 0,
            "tests_total": max(out.n_cases, 1),
            "detail": _infra_detail(language, out.detail) if infra else _tail(out.detail),
            "failed_tests": [],
        }
    r = out.run or {}
    stderr = r.get("stderr", "") or ""
    if r.get("infra"):
        return {
            "verdict": "infra_error",
            "tests_passed": 0,
            "tests_total": max(out.n_cases, 1),
            "detail": r["infra"],
            "failed_tests": [],
        }
    if r.get("compile_error") or (
        language == "javascript"
        and not r.get("done")
        and not any(r.get("cases") or [])
        and re.search(r"SyntaxError: .*\n\s+at (internalCompileFunction|wrapSafe)", stderr)
    ):
        return {
            "verdict": "compile_error",
            "tests_passed": 0,
            "tests_total": max(out.n_cases, 1),
            "detail": _tail(r.get("compile_error") or stderr),
            "failed_tests": [],
        }
    cases = r.get("cases") or []
    n = out.n_cases
    failures = r.get("failures") or []
    program_ok = (
        bool(r.get("done"))
        and (r.get("rc") or 0) == 0
        and not failures
        and (r.get("exit") in (0, None) and r.get("signal") is None or bool(r.get("server")))
    )
    failed_tests: list[dict[str, Any]] = []
    if n == 0:
        passed = program_ok and r.get("reason") is None
        verdict = "passed" if passed else _program_failure(r, stderr, language, failures)
        total, npass = 1, int(passed)
    else:
        statuses = [c[0] if c else None for c in cases] + [None] * (n - len(cases))
        npass = sum(1 for s in statuses if s == "pass")
        total = n
        first = next((i for i, s in enumerate(statuses) if s != "pass"), None)
        if first is None:
            verdict = "passed" if program_ok else _program_failure(r, stderr, language, failures)
        else:
            st = statuses[first]
            if st is None:  # never reached: why the program stopped decides
                verdict = _program_failure(r, stderr, language, failures)
            else:
                verdict = CASE_TO_VERDICT.get(st, "runtime_error")
                detail = (cases[first][1] if cases[first] else "") or ""
                if verdict == "runtime_error" and (
                    OOM_PATTERNS.search(detail) or (st in ("crash", "exit") and OOM_PATTERNS.search(stderr))
                ):
                    verdict = "oom"
            for i, s in enumerate(statuses):
                if s != "pass" and len(failed_tests) < 10:
                    failed_tests.append(
                        {
                            "case": i,
                            "status": s or "not_run",
                            "test": out.labels[i] if i < len(out.labels) else "",
                            "detail": (cases[i][1] if i < len(cases) and cases[i] else ""),
                        }
                    )
        if verdict == "passed" and npass != n:
            verdict = "failed"
    pat = INFRA_PATTERNS.get(language)
    if (
        verdict not in ("passed",)
        and pat
        and pat.search(stderr + " ".join(str(f.get("detail", "")) for f in failed_tests))
    ):
        verdict = "infra_error"
    detail = _run_detail(r, stderr, failures)
    return {
        "verdict": verdict,
        "tests_passed": npass if verdict != "infra_error" else 0,
        "tests_total": total,
        "detail": detail,
        "failed_tests": failed_tests,
    }


def _program_failure(r: dict[str, Any], stderr: str, language: str, failures: list[str]) -> str:
    reason = r.get("reason")
    if reason in ("timeout", "total"):
        return "timeout"
    if reason == "output":
        return "output_limit"
    if reason == "memory":  # over the resident-memory limit (the contest profile's safety net)
        return "oom"
    sig = r.get("signal")
    if sig == signal.SIGXCPU:
        return "timeout"
    if OOM_PATTERNS.search(stderr):
        return "oom"
    if failures:
        return "failed"
    if r.get("done") and (r.get("rc") or 0) != 0:
        # the test body ran to the end but reported failure (Java: AssertionError at the end)
        return "failed" if re.search(r"AssertionError|assert", stderr) else "runtime_error"
    if language == "java" and re.search(r"java\.lang\.AssertionError", stderr):
        return "failed"
    if language == "go" and "--- FAIL: " in (r.get("stdout") or ""):  # t.Error / t.Fatal (no testify)
        return "failed"
    if re.search(r"AssertionError|Assertion failed|assertion failed|assertion `|ERR_ASSERTION|Error Trace:", stderr):
        return "failed"
    return "runtime_error"


def _run_detail(r: dict[str, Any], stderr: str, failures: list[str]) -> str:
    bits = []
    if r.get("reason") in ("timeout", "total"):
        bits.append("time limit exceeded")
    elif r.get("reason") == "output":
        bits.append("output limit exceeded")
    elif r.get("reason") == "memory":
        bits.append(f"memory limit exceeded (resident {r.get('rss_peak_mb', '?')} MiB)")
    if r.get("signal"):
        bits.append(f"killed by {_signal_name(r.get('signal'))}")
    elif r.get("exit") not in (0, None):
        bits.append(f"exit code {r.get('exit')}")
    if failures:
        bits.append("failed: " + "; ".join(failures[:3]))
    tail = _tail(stderr)
    return ("; ".join(bits) + ("\n" if bits and tail else "") + tail).strip()


def _tail(text: str, n: int = 2000) -> str:
    text = (text or "").strip()
    return text if len(text) <= n else "..." + text[-n:]
