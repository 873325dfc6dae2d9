"""`workbench eval doctor`: is this machine able to judge model code faithfully?

It checks every toolchain and its dependencies, lists each sandbox layer (file-system view,
network, pid, ipc, uid, rlimits, scratch cap, build limits, build folders) as in force or missing
and why, then runs the canonical solutions (all must pass) and the buggy solutions (none may pass) of every
language: HumanEvalPack when a local copy is found, else the built-in self-test suite.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine.execute.api import execute
from engine.execute.core import BUILD_DIRS_PRIVATE, Limits
from engine.execute.sandbox import SandboxInfo, detect, layers
from engine.execute.toolchains import exec_cache_dir, probe_all
from engine.problems.model import LANGUAGES, Problem

# Canonical HumanEvalPack solutions that fail in every harness (data bugs upstream).
KNOWN_UPSTREAM = {
    "Go/27": "the prompt imports \"strings\" and the canonical solution never uses it: "
    "Go refuses to compile an unused import",
    "Go/95": "the canonical solution breaks out of a map iteration early, so it passes or fails depending on "
    "Go's randomised map order",
}


@dataclass
class LanguageReport:
    language: str
    toolchain: str
    missing: list[str]
    canonical_passed: int = 0
    canonical_total: int = 0
    buggy_passed: int = 0
    buggy_total: int = 0
    infra_errors: int = 0
    unexpected: list[str] = field(default_factory=list)  # task ids that broke expectations
    known: list[str] = field(default_factory=list)  # known upstream data bugs seen
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.missing and not self.unexpected and not self.infra_errors and self.canonical_total > 0


def run_doctor(
    data_dir: str | Path | None = None,
    *,
    limit: int | None = None,
    workers: int | None = None,
    languages: list[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Check toolchains and run the self-tests; returns a JSON-able report (`ok` says it all)."""
    say = progress or (lambda _m: None)
    langs = languages or list(LANGUAGES)
    info = detect()
    tools = probe_all(langs)
    problems, source = _problems(data_dir, langs, limit)
    reports = {
        lang: LanguageReport(lang, tools[lang].version or "not found", list(tools[lang].missing)) for lang in langs
    }
    t0 = time.monotonic()
    say(f"running {len(problems)} canonical and {len(problems)} buggy solutions ({source})")
    for which in ("canonical", "buggy"):
        sel = [p for p in problems if p.reference(which) is not None]
        t = time.monotonic()
        # buggy solutions may loop forever: short budgets, stop a sample after its first timeout
        lim = Limits(timeout=10.0) if which == "canonical" else Limits(timeout=3.0, max_timeouts=1)
        rep = execute(sel, which, workers=workers, limits=lim, cache=False)
        say(f"{which}: {rep.summary['verdicts']} in {time.monotonic() - t:.1f}s")
        for r in rep.results:
            lr = reports[r["language"]]
            if r["verdict"] == "infra_error":
                lr.infra_errors += 1
                lr.unexpected.append(f"{r['task_id']} ({which}: infra_error: {r['detail'][:160]})")
                continue
            passed = r["verdict"] == "passed"
            if which == "canonical":
                lr.canonical_total += 1
                lr.canonical_passed += passed
                if not passed:
                    (lr.known if r["task_id"] in KNOWN_UPSTREAM else lr.unexpected).append(
                        r["task_id"]
                        if r["task_id"] in KNOWN_UPSTREAM
                        else f"{r['task_id']} (canonical: {r['verdict']}: {r['detail'][:160]})"
                    )
            else:
                lr.buggy_total += 1
                lr.buggy_passed += passed
                if passed:
                    lr.unexpected.append(f"{r['task_id']} (buggy solution passed)")
        for lr in reports.values():
            lr.seconds = round(time.monotonic() - t0, 1)
    out = {
        "ok": all(r.ok for r in reports.values()),
        "source": source,
        "sandbox": sandbox_report(info),
        "cache_dir": str(exec_cache_dir()),
        "tools": {
            lang: {"version": t.version, "commands": t.commands, "missing": list(t.missing), "notes": list(t.notes)}
            for lang, t in tools.items()
        },
        "languages": {lang: {**asdict(r), "ok": r.ok} for lang, r in reports.items()},
        "linker": linker_report(),
        "known_upstream": {k: v for k, v in KNOWN_UPSTREAM.items() if any(k in r.known for r in reports.values())},
        "seconds": round(time.monotonic() - t0, 1),
    }
    return out


def linker_report() -> dict[str, Any]:
    """Is `ld.lld` there? The C++ and Rust per-program links use it: with lld each program of a
    compile-only batch is linked alone and keeps only what its entry reaches; without it every
    C++ program builds on its own (slower, same verdicts) and Rust links with the system linker."""
    import glob
    import os
    import shutil

    system = shutil.which("ld.lld")
    rust = ""
    try:
        from engine.execute.toolchains import probe

        sysroot = probe("rust").extra.get("sysroot", "")
        found = sorted(glob.glob(os.path.join(sysroot, "lib", "rustlib", "*", "bin", "gcc-ld", "ld.lld")))
        rust = found[0] if sysroot and found else ""
    except Exception:  # noqa: BLE001 - no Rust toolchain: no lld from there
        rust = ""
    cpp = (
        f"C++ links with {system or rust}"
        if (system or rust)
        else "C++: no lld, every program builds alone (slower; install Debian `lld`)"
    )
    rs = f"Rust with the toolchain's {rust}" if rust else "Rust with the system linker (no toolchain lld)"
    return {
        "name": "ld.lld",
        "found": bool(system or rust),
        "system": system,
        "rust_toolchain": rust or None,
        "detail": f"{cpp}; {rs}",
    }


def sandbox_report(info: SandboxInfo, limits: Limits | None = None) -> dict[str, Any]:
    """The sandbox's mode, its layers (each in force or not, with what it does or why not)."""
    lim = limits or Limits()
    ls = layers(
        info,
        scratch_mb=lim.scratch_mb,
        build_memory_mb=lim.build_memory_mb,
        build_timeout=lim.compile_timeout,
        build_dirs_hidden=BUILD_DIRS_PRIVATE,
    )
    return {
        "mode": info.mode,
        "description": info.describe(),
        "network_isolated": info.network_isolated,
        "pid_isolated": info.pid_isolated,
        "fs_readonly": info.fs_readonly,
        "fs_allowlist": info.fs_allowlist,
        "uid_switch": info.uid_switch,
        "notes": list(info.notes),
        "layers": [asdict(x) for x in ls],
        "missing": [x.name for x in ls if not x.in_force],
    }


def _problems(data_dir: str | Path | None, langs: list[str], limit: int | None) -> tuple[list[Problem], str]:
    from engine.problems.sources import load_problems

    if data_dir and (Path(data_dir) / "humanevalpack").is_dir():
        out: list[Problem] = []
        for lang in langs:
            try:
                ps = load_problems(f"humanevalpack:{lang}", data_dir, offline=True)
            except Exception:  # noqa: BLE001 - a missing language file falls back to the built-in problems
                from engine.execute.selftest import problems as builtin

                ps = [p for p in builtin() if p.language == lang]
            out += ps[:limit] if limit else ps
        return out, f"HumanEvalPack from {data_dir}" + (f" (first {limit} per language)" if limit else "")
    from engine.execute.selftest import problems as builtin

    return [p for p in builtin() if p.language in langs], "built-in self-test problems (no HumanEvalPack copy found)"
