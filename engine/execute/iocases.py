"""Running stdin/stdout and call-based problems (APPS, CodeContests, LiveCodeBench: judge "stdio"
or "call", docs/problems.md) in the sandbox.

A sample is a whole program in its own language (the problem's, unless the sample names one:
the judge is language-neutral). It is built once, through its language runner's own compile
command (`cpp.compile_argv`, `rust.rustc_argv`, `go.go_env`, `java.javac_argv`, `node_command`),
then run once per IO case, each case a process of its own in the sandbox with a fresh folder and
uid, that case's stdin, a per-case time limit (the problem's `time_limit`, else the profile's
timeout) and memory limit (the problem's `memory_limit_mb`, else the profile's), under the
output cap:

    stdio   stdout is compared with the case's expected output by `judges.outputs_match` under
            the problem's rule (whitespace-normalised in each set's own way)
    call    Python: the program is the sample plus a harness that calls `Solution().fn(*args)`
            (or the top-level `fn(*args)`) on the case's JSON arguments and compares the return
            value with `judges.lcb_call` / `apps_call`, whose source the harness carries, inside
            the sandbox (a return value never leaves it)

A case's verdict depends on that case alone; the sample's is `passed` when every case passes,
else that of its first non-passing case; `tests_passed / tests_total` count cases, so per-case
fractions work as they do for asserts. After `Limits.max_timeouts` (else MAX_TIMEOUTS) timed-out
cases the rest are not run (and count as not passed). Each case's output cap leaves room for
twice its expected output. The cases' input files are written once per problem into a 0700
build folder and reach a program as its stdin (`.stdin` in its own folder).
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import os
import re
import secrets
import subprocess
import textwrap
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from engine.errors import WorkbenchError
from engine.execute.core import (
    P_BUILD,
    P_RUN,
    BatchPlan,
    Context,
    Limits,
    Unit,
    build_env,
    build_log,
    build_ok,
    chunks,
    compile_step,
    drive_batches,
    run_env,
)
from engine.execute.instrument import CasePlan, mask
from engine.execute.sandbox import SandboxError
from engine.execute.verdicts import Outcome, classify
from engine.problems import judges
from engine.problems.assemble import Program
from engine.problems.model import JUDGE_CALL, JUDGE_STDIO, Problem

SNIPPET = 200  # characters of a failing case's input, expected and actual output kept
# Timed-out cases after which a sample's other cases are not run, when the limits give no
# number (the contest profile's 0 means "no restart" for program-and-test samples; here every
# case is a run of its own, and a hanging program would cost every case its whole time limit).
MAX_TIMEOUTS = 2
STDIN = ".stdin"  # the case's input, in the program's own folder


def is_io(problem: Problem) -> bool:
    return problem.judge in (JUDGE_STDIO, JUDGE_CALL)


def sample_problem(problem: Problem, language: str) -> Problem:
    """The problem as this sample runs it: in the sample's language when it names one."""
    lang = language or problem.language
    if problem.judge == JUDGE_CALL and lang != "python":
        raise WorkbenchError(
            f"{problem.task_id}: call-based problems ({problem.layout}, fn_name "
            f"{problem.fn_name!r}) are judged for Python samples only, not {lang}"
        )
    return problem if lang == problem.language else dataclasses.replace(problem, language=lang)


# What each set's harness puts before a Python program (stdio and call alike): LiveCodeBench
# `testing_util.import_string`; APPS `testing_util.run_test`'s `sol` header, whose
# `import numpy as np` is bound lazily here (numpy is imported the first time `np` is used,
# not by every case of every program). CodeContests runs programs as written.
PYTHON_PRELUDE = {
    "livecodebench": "from string import *\nfrom re import *\nfrom datetime import *\nfrom collections import *\n"
    "from heapq import *\nfrom bisect import *\nfrom copy import *\nfrom math import *\n"
    "from random import *\nfrom statistics import *\nfrom itertools import *\n"
    "from functools import *\nfrom operator import *\nfrom io import *\nfrom sys import *\n"
    "from json import *\nfrom builtins import *\nfrom typing import *\nimport string\nimport re\n"
    "import datetime\nimport collections\nimport heapq\nimport bisect\nimport copy\nimport math\n"
    "import random\nimport statistics\nimport itertools\nimport functools\nimport operator\n"
    "import io\nimport sys\nimport json\nsys.setrecursionlimit(50000)\n\n",
    "apps": "import sys\nimport time\nimport itertools\nfrom itertools import accumulate, product, permutations, "
    "combinations\nimport collections\nfrom collections import Counter, OrderedDict, deque, defaultdict, "
    "ChainMap\nfrom functools import lru_cache\nimport math\nfrom math import sqrt, sin, cos, tan, ceil, "
    "fabs, floor, gcd, exp, log, log2\nimport fractions\nfrom typing import List, Tuple\n"
    "class __WbNumpy:\n    def __getattr__(self, name):\n        import numpy\n"
    "        globals()['np'] = numpy\n        return getattr(numpy, name)\nnp = __WbNumpy()\n"
    "import random\nimport heapq\nfrom heapq import *\n",
}


def program(problem: Problem, code: str, kind: str) -> Program:
    """What runs: the sample as written (a completion continues the starter code), after the
    set's own Python header where its harness puts one."""
    text = problem.prompt + code if kind == "completion" else code
    if problem.language == "python":
        text = PYTHON_PRELUDE.get(problem.layout, "") + text
    return Program(problem.language, text, "")


def signature(problem: Problem) -> str:
    """What of the problem decides a verdict besides the program (part of the result-cache key):
    the judge, its rule, the function called, the limits and every case's content."""
    h = hashlib.sha256(
        json.dumps(
            [
                problem.judge,
                problem.compare,
                problem.fn_name,
                problem.time_limit,
                problem.memory_limit_mb,
                len(problem.io_cases),
            ]
        ).encode()
    )
    for c in problem.io_cases:
        for part in (c.input, c.output):
            h.update(part.encode("utf-8", "surrogatepass"))
            h.update(b"\0")
    return "\0io\0" + h.hexdigest()


def plan(problem: Problem) -> CasePlan:
    """One label per case: `public 0`, `private 3`, `generated 12`."""
    seen: dict[str, int] = {}
    labels = []
    for c in problem.io_cases:
        labels.append(f"{c.visibility} {seen.get(c.visibility, 0)}")
        seen[c.visibility] = seen.get(c.visibility, 0) + 1
    return CasePlan("", tuple(labels))


def case_limits(limits: Limits, problem: Problem) -> Limits:
    """One case's budget: the problem's own time and memory limits where it has them. Under the
    per-case profile the time is CPU time (wall clock up to wall_factor x), under the contest
    profile wall-clock time."""
    t = float(problem.time_limit or limits.timeout)
    return dataclasses.replace(
        limits,
        timeout=t,
        sample_timeout=t * limits.wall_factor + 1.0,
        memory_mb=problem.memory_limit_mb or limits.memory_mb,
    )


@dataclass
class Judged(Outcome):
    """A sample judged case by case here: `result` is its classification (api.execute uses it
    as it stands)."""

    result: dict[str, Any] = field(default_factory=dict)


# -- the call judge's harness (Python) --------------------------------------------------------

CALL_HARNESS = r'''

def __wb_judge_call():
    import json, os

    def mark(line):
        try:
            os.write(3, (line.replace("\n", " ").replace("\r", " ")[:400] + "\n").encode("utf-8", "replace"))
        except OSError:
            pass
    rules = {"Any": object}
    exec(__WB_RULE_SOURCE__, rules)
    same = rules[__WB_RULE__]
    with open(0, encoding="utf-8", closefd=False) as f:
        case = json.load(f)
    fn = __WB_FN__
    mark("B 0")
    try:
        args = [json.loads(line) for line in case["input"].split("\n") if line.strip()]
        expected = json.loads(case["output"])
    except ValueError as e:
        mark(f"E 0 error the case is not JSON: {e}")
        return
    if __WB_INT_KEYS__:
        # APPS: "JSON forces dictionaries to have string keys; this undoes this"
        def int_keys(d):
            return {int(k): v for k, v in d.items()}
        try:
            if isinstance(args[0], dict):
                args = [int_keys(args[0])]
        except (IndexError, ValueError, TypeError):
            pass
        try:
            if isinstance(expected, dict):
                expected = [int_keys(expected)]
            elif isinstance(expected[0], dict):
                expected = [int_keys(expected[0])]
        except (IndexError, KeyError, ValueError, TypeError):
            pass
    g = globals()
    try:
        sol = g.get("Solution")
        if isinstance(sol, type) and hasattr(sol, fn):
            target = getattr(sol(), fn)
        elif callable(g.get(fn)):
            target = g[fn]
        else:
            mark(f"E 0 error the program defines neither {fn}() nor Solution.{fn}()")
            return
        got = target(*args)
    except MemoryError:
        mark("E 0 oom MemoryError")
        return
    except BaseException as e:
        mark(f"E 0 error {type(e).__name__}: {e}")
        return
    try:
        ok = bool(same(got, expected))
    except Exception:
        ok = False
    mark("E 0 pass" if ok else f"E 0 fail got {repr(got)[:150]}, expected {case['output'][:150]}")


__wb_judge_call()
__import__("os").write(3, b"D 0\n")
'''

CALL_RULES: dict[str, Callable[[Any, Any], bool]] = {"lcb-call": judges.lcb_call, "apps-call": judges.apps_call}


def call_harness(problem: Problem) -> str:
    rule = CALL_RULES.get(problem.compare)
    if rule is None:
        raise WorkbenchError(
            f"{problem.task_id}: unknown call rule {problem.compare!r} (known: {', '.join(CALL_RULES)})"
        )
    src = textwrap.dedent(inspect.getsource(rule))
    return (
        CALL_HARNESS.replace("__WB_RULE_SOURCE__", repr(src))
        .replace("__WB_RULE__", repr(rule.__name__))
        .replace("__WB_FN__", repr(problem.fn_name))
        .replace("__WB_INT_KEYS__", repr(problem.compare == "apps-call"))
    )


# -- builds -----------------------------------------------------------------------------------


@dataclass
class Built:
    """A built program: how each case runs it."""

    argv: list[str]  # run with the case's stdin ("python": the fork-server's child)
    stage: dict[str, str]  # its artefacts, copied into each case's folder
    mode: str = "exec"  # exec | python (a fork of the warm interpreter, as a script)
    memory_extra_mb: int = 0
    nproc: int | None = None
    env: dict[str, str] = field(default_factory=run_env)


Builder = Callable[[Unit, str], "Built | str"]  # (unit, build folder) -> Built, or the compiler's log


def _write(d: str, name: str, text: str) -> str:
    p = os.path.join(d, name)
    Path(p).write_text(text, encoding="utf-8", errors="surrogatepass")
    return p


def _compiled(res: dict[str, Any], built: Built) -> Built | str:
    return built if build_ok(res) else (build_log(res) or "compilation failed")


def _python(ctx: Context, units: list[Unit]) -> tuple[Builder, dict[str, Any]]:
    from engine.execute.langs.python import fork_server

    def build(u: Unit, d: str) -> Built | str:
        # a fork of the runner's warm interpreter runs it as `python main.py` would (a fork,
        # ~5 ms, instead of an interpreter start, ~45 ms here); it reads main.py from its own folder
        code = u.program.code + (call_harness(u.problem) if u.problem.judge == JUDGE_CALL else "")
        return Built([], {"main.py": _write(d, "main.py", code)}, mode="python")

    return build, fork_server(units)


def _javascript(ctx: Context, _units: list[Unit]) -> tuple[Builder, dict[str, Any]]:
    from engine.execute.langs.javascript import PRELOAD, node_command

    argv, env, ro = node_command(ctx)

    def build(u: Unit, d: str) -> Built | str:
        return Built(
            argv,
            {"main.js": _write(d, "main.js", u.program.code), "wb_preload.js": _write(d, "wb_preload.js", PRELOAD)},
            memory_extra_mb=2048,
            env=env,
        )

    return build, {"ro": ro}


def _cpp(ctx: Context, _units: list[Unit]) -> tuple[Builder, dict[str, Any]]:
    from engine.execute.langs.cpp import STDIO_CXXFLAGS, compile_argv, stdio_pch

    gpp = ctx.tool.commands["g++"]
    pch = stdio_pch(ctx)
    flags = STDIO_CXXFLAGS + (["-I", pch] if pch else [])

    def build(u: Unit, d: str) -> Built | str:
        _write(d, "main.cpp", u.program.code)
        res = compile_step(ctx, d, compile_argv(gpp, "main.cpp", "prog", flags, []), build_env(ctx, d))
        return _compiled(res, Built(["./prog"], {"prog": os.path.join(d, "prog")}))

    return build, {}


def _rust(ctx: Context, _units: list[Unit]) -> tuple[Builder, dict[str, Any]]:
    from engine.execute.langs.rust import STDIO_RUSTFLAGS, compile_ro, deps_dir, rustc_argv, rustc_path

    deps = deps_dir(ctx)
    rustc, ro = rustc_path(ctx), compile_ro(ctx, deps)

    def build(u: Unit, d: str) -> Built | str:
        _write(d, "main.rs", u.program.code)
        res = compile_step(
            ctx,
            d,
            rustc_argv(rustc, deps, "main.rs", "prog", test=False, flags=STDIO_RUSTFLAGS),
            build_env(ctx, d),
            ro=ro,
        )
        return _compiled(res, Built(["./prog"], {"prog": os.path.join(d, "prog")}))

    return build, {}


GO_BUILD_FLAGS = ["-gcflags=-e", "-ldflags=-s -w"]


def _go(ctx: Context, _units: list[Unit]) -> tuple[Builder, dict[str, Any]]:
    from engine.execute.langs.go import go_env
    from engine.execute.toolchains import GOCODE

    go = ctx.tool.commands["go"]

    def build(u: Unit, d: str) -> Built | str:
        _write(d, "main.go", u.program.code)
        res = compile_step(
            ctx,
            d,
            [go, "build", *GO_BUILD_FLAGS, "-o", "prog", "main.go"],
            go_env(ctx, d, os.path.join(d, "gopath")),
            ro=(str(GOCODE),),
        )
        return _compiled(res, Built(["./prog"], {"prog": os.path.join(d, "prog")}, memory_extra_mb=2048))

    return build, {}


def java_main(code: str) -> tuple[str, str]:
    """(source file stem, class to run) of a whole Java program: the file is named after its
    public top-level class (Java requires it), the class run is the top-level class that
    declares `main` (the public one when several do); a `package` prefixes it."""
    text = mask(code, "java")
    pkg = re.search(r"^\s*package\s+([\w.]+)\s*;", text, re.MULTILINE)
    tops: list[tuple[str, bool, int, int]] = []  # name, public, body start, body end
    depth, i = 0, 0
    decl = re.compile(
        r"\b(public\s+)?(?:(?:abstract|final|static|strictfp|sealed|non-sealed)\s+)*"
        r"(?:class|interface|enum|record)\s+(\w+)"
    )
    while i < len(text):
        ch = text[i]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0 and tops and tops[-1][3] < 0:
                tops[-1] = (*tops[-1][:3], i)
        elif depth == 0:
            m = decl.match(text, i)
            if m and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
                tops.append((m.group(2), bool(m.group(1)), m.end(), -1))
                i = m.end()
                continue
        i += 1
    main_decl = re.compile(r"\bstatic\b[^;{}()]*\bvoid\s+main\s*\(")
    mains = [t for t in tops if main_decl.search(text[t[2] : t[3] if t[3] > 0 else None])]
    public = next((t[0] for t in tops if t[1]), None)
    run = next((t[0] for t in mains if t[1]), None) or (mains[0][0] if mains else public or "Main")
    prefix = pkg.group(1) + "." if pkg else ""
    return public or run, prefix + run


def java_built(ctx: Context, u: Unit, main: str, stage: dict[str, str]) -> Built:
    """A compiled Java program: one JVM per case, its own classes (staged under classes/) alone on
    the class path, the runner's JVM flags with the case's memory limit."""
    from engine.execute.langs.java import jvm_flags

    mem = case_limits(ctx.limits, u.problem).memory_mb
    return Built(
        [ctx.tool.commands["java"], *jvm_flags(mem), "-cp", "classes", main],
        stage,
        memory_extra_mb=2048,
        nproc=ctx.limits.nproc + 256,
    )


def _java(ctx: Context, _units: list[Unit]) -> tuple[Builder, dict[str, Any]]:
    from engine.execute.langs.java import javac_argv

    javac = ctx.tool.commands["javac"]

    def build(u: Unit, d: str) -> Built | str:
        stem, main = java_main(u.program.code)
        src = f"{stem}.java"
        _write(d, src, u.program.code)
        res = compile_step(ctx, d, javac_argv(javac, [src]), build_env(ctx, d))
        return _compiled(res, java_built(ctx, u, main, {"classes": os.path.join(d, "classes")}))

    return build, {}


def _java_batches(ctx: Context, units: list[Unit], builder: Builder, inputs: _Inputs) -> list[Unit]:
    """One javac for many Java programs, as the Java runner batches (javac runs no program code
    at compile time): each program that declares no package of its own goes into a package
    drawn per batch, its JVM gets that package's classes alone. A batch that fails is rebuilt
    without the programs javac blames (`core.drive_batches`); those build alone. Returns the
    programs that must build alone from the start."""
    from engine.execute.langs.admit import java_admissible
    from engine.execute.langs.java import javac_argv

    javac = ctx.tool.commands["javac"]
    batched = [u for u in units if java_admissible(u.program.code)]

    def build_batch(group: list[Unit]) -> tuple[bool, str, tuple[str, list[Unit], list[str], list[str]]]:
        d, tag = ctx.new_dir("io-java-"), secrets.token_hex(8)
        pkgs, mains, files = [], [], []
        for i, u in enumerate(group):
            pkg = f"p{tag}_{i}"
            stem, main = java_main(u.program.code)
            os.makedirs(os.path.join(d, "src", pkg))
            _write(os.path.join(d, "src", pkg), f"{stem}.java", f"package {pkg};\n" + u.program.code)
            pkgs.append(pkg)
            mains.append(f"{pkg}.{main}")
            files.append(f"src/{pkg}/{stem}.java")
        res = compile_step(ctx, d, javac_argv(javac, files), build_env(ctx, d), n_programs=len(group))
        return build_ok(res), build_log(res), (d, list(group), pkgs, mains)

    def blame(log: str, group: list[Unit], b: tuple[str, list[Unit], list[str], list[str]]) -> set[int]:
        index = {p: i for i, p in enumerate(b[2])}
        return {index[m.group(1)] for m in re.finditer(r"src/(p\w+)/\w+\.java:\d+", log) if m.group(1) in index}

    def run_batch(part: list[Unit], b: tuple[str, list[Unit], list[str], list[str]]) -> None:
        d, group, pkgs, mains = b
        at = {u.key: i for i, u in enumerate(group)}
        box: list[Any] = [None]
        try:
            for u in part:
                i = at[u.key]
                stage = {f"classes/{pkgs[i]}": os.path.join(d, "classes", pkgs[i])}
                _run_unit(ctx, box, {}, u, java_built(ctx, u, mains[i], stage), inputs.files(u.problem))
        finally:
            if box[0] is not None:
                box[0].close()

    def single(u: Unit) -> None:
        built = builder(u, ctx.new_dir("io-java1-"))
        if isinstance(built, str):
            ctx.emit(u, Outcome("compile_error", built, n_cases=u.plan.n))
            return
        _run_alone(ctx, u, built, inputs)

    if batched:
        drive_batches(ctx, BatchPlan("java-io", build_batch, blame, run_batch, single, max_batch=200), [batched])
    keys = {u.key for u in batched}
    return [u for u in units if u.key not in keys]


def _go_batches(ctx: Context, units: list[Unit], builder: Builder, inputs: _Inputs) -> None:
    """One `go build` for many Go programs, each a main package of its own under an import path
    drawn per batch (a package's init() runs only in its own binary; nothing runs at build
    time), each linked into a binary of its own (`-o bin/`). go writes the binaries of the
    packages that build even when others fail; a program without a binary builds alone."""
    from engine.execute.langs.go import go_env
    from engine.execute.toolchains import GOCODE

    go = ctx.tool.commands["go"]

    def batch(group: list[Unit]) -> None:
        d, tag = ctx.new_dir("io-go-"), "b" + secrets.token_hex(8)
        for i, u in enumerate(group):
            os.makedirs(os.path.join(d, "gopath", "src", tag, f"p{i}"))
            _write(os.path.join(d, "gopath", "src", tag, f"p{i}"), "main.go", u.program.code)
        os.makedirs(os.path.join(d, "bin"))
        argv = [go, "build", *GO_BUILD_FLAGS, "-o", "bin/", f"{tag}/..."]
        compile_step(ctx, d, argv, go_env(ctx, d, os.path.join(d, "gopath")), n_programs=len(group), ro=(str(GOCODE),))
        box: list[Any] = [None]
        try:
            for i, u in enumerate(group):
                binary = os.path.join(d, "bin", f"p{i}")
                if os.path.isfile(binary):
                    built = Built(["./prog"], {"prog": binary}, memory_extra_mb=2048)
                    _run_unit(ctx, box, {}, u, built, inputs.files(u.problem))
                    continue
                alone = builder(u, ctx.new_dir("io-go1-"))  # (its own log, line numbers as written)
                if isinstance(alone, str):
                    ctx.emit(u, Outcome("compile_error", alone, n_cases=u.plan.n))
                else:
                    _run_unit(ctx, box, {}, u, alone, inputs.files(u.problem))
        except SandboxError as e:
            for u in group:
                ctx.emit(u, Outcome("infra_error", f"sandbox failure: {e}", n_cases=u.plan.n))
        finally:
            if box[0] is not None:
                box[0].close()

    for group in chunks(units, ctx.workers, min_size=4, per_worker=1):
        ctx.submit(P_BUILD, partial(batch, group))


def _run_alone(ctx: Context, u: Unit, built: Built, inputs: _Inputs) -> None:
    box: list[Any] = [None]
    try:
        _run_unit(ctx, box, {}, u, built, inputs.files(u.problem))
    finally:
        if box[0] is not None:
            box[0].close()


BUILDERS: dict[str, Callable[[Context, list[Unit]], tuple[Builder, dict[str, Any]]]] = {
    "python": _python,
    "javascript": _javascript,
    "cpp": _cpp,
    "rust": _rust,
    "go": _go,
    "java": _java,
}
COMPILED = ("cpp", "rust", "go", "java")


# -- judging ------------------------------------------------------------------------------------


def _snip(text: str) -> str:
    return text if len(text) <= SNIPPET else text[:SNIPPET] + f"... ({len(text)} characters)"


def judge_case(u: Unit, res: dict[str, Any], expected: str) -> tuple[str, str]:
    """(verdict, detail) of one case's run."""
    call = u.problem.judge == JUDGE_CALL
    c = classify(Outcome(run=res, n_cases=1 if call else 0), u.language)
    verdict = c["verdict"]  # (a Python program that does not parse: compile_error)
    if call:
        ft = c["failed_tests"]
        return verdict, (ft[0]["detail"] if ft and ft[0]["detail"] else c["detail"])
    if verdict == "passed":
        if judges.outputs_match(u.problem.compare, res.get("stdout") or "", expected):
            return "passed", ""
        return "failed", "wrong answer"
    if verdict == "failed":  # (an assertion of the program's own: the judge's runtime error)
        verdict = "runtime_error"
    return verdict, c["detail"]


def _summary(u: Unit, per_case: list[tuple[str, str, str] | None], duration: float) -> Judged:
    cases = u.problem.io_cases
    labels = u.plan.labels
    n = len(cases)
    npass = sum(1 for r in per_case if r and r[0] == "passed")
    first = next((i for i, r in enumerate(per_case) if not r or r[0] != "passed"), None)
    failed: list[dict[str, Any]] = []
    for i, r in enumerate(per_case):
        if r and r[0] == "passed":
            continue
        if len(failed) < 10:
            failed.append(
                {
                    "case": i,
                    "status": r[0] if r else "not_run",
                    "test": labels[i],
                    "detail": (r[1] if r else "not run: too many cases timed out")[:300],
                    "input": _snip(cases[i].input),
                    "expected": _snip(cases[i].output),
                    "got": _snip(r[2]) if r else "",
                }
            )
    if first is None:
        verdict, detail = "passed", ""
    else:
        r = per_case[first]
        verdict = r[0] if r else "timeout"
        detail = f"{labels[first]}: {r[1] if r else 'not run'}".strip()
    return Judged(
        run={"duration": duration},
        n_cases=n,
        labels=labels,
        result={
            "verdict": verdict,
            "tests_passed": npass,
            "tests_total": n,
            "detail": detail[:2000],
            "failed_tests": failed,
        },
    )


class _Inputs:
    """Each problem's case inputs as files, written once (0700 build folders)."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.lock = threading.Lock()
        self.dirs: dict[tuple[str, str], list[str]] = {}

    def files(self, p: Problem) -> list[str]:
        with self.lock:
            key = (p.task_id, p.judge)
            if key not in self.dirs:
                d = self.ctx.new_dir("io-in-")
                paths = []
                for i, c in enumerate(p.io_cases):
                    text = json.dumps({"input": c.input, "output": c.output}) if p.judge == JUDGE_CALL else c.input
                    paths.append(_write(d, str(i), text))
                self.dirs[key] = paths
            return self.dirs[key]


def _run_unit(
    ctx: Context, sup_box: list[Any], sup_kwargs: dict[str, Any], u: Unit, built: Built, inputs: list[str]
) -> None:
    """Every case of one program, each a process of its own, through the chunk's supervisor."""
    lim = case_limits(ctx.limits, u.problem)
    run_lim = lim.run(memory_extra_mb=built.memory_extra_mb, nproc=built.nproc, relative=built.mode == "python")
    cap = int(run_lim["output"])
    how = (
        {"mode": "python", "filename": "main.py", "script": True}
        if built.mode == "python"
        else {"mode": "exec", "argv": built.argv}
    )
    call = u.problem.judge == JUDGE_CALL
    per_case: list[tuple[str, str, str] | None] = []
    timeouts, duration = 0, 0.0
    max_timeouts = ctx.limits.max_timeouts or MAX_TIMEOUTS
    for i, case in enumerate(u.problem.io_cases):
        if timeouts >= max_timeouts:
            per_case.append(None)
            continue
        # the whole output is compared; a case whose expected output is large gets room for it
        room = max(cap, 2 * len(case.output.encode("utf-8", "surrogatepass")) + (64 << 10))
        job = {
            "id": f"{u.key}:{i}",
            **how,
            "env": built.env,
            "limits": {**run_lim, "output": room, "keep": room},
            "stdin": STDIN,
            "cases": 1 if call else 0,
            "done_on_exit0": not call,
            "stage": {**built.stage, STDIN: inputs[i]},
        }
        try:
            if sup_box[0] is None:
                sup_box[0] = ctx.supervisor(**sup_kwargs).start()
            res = sup_box[0].run(job)
        except SandboxError as e:
            if sup_box[0] is not None:
                sup_box[0].kill()
                sup_box[0].close()
                sup_box[0] = None
            ctx.emit(u, Outcome("infra_error", f"sandbox failure: {e}", n_cases=len(u.problem.io_cases)))
            return
        duration += float(res.get("duration") or 0.0)
        verdict, detail = judge_case(u, res, case.output)
        if verdict in ("compile_error", "infra_error"):  # the program's, not this case's
            ctx.emit(
                u,
                Judged(
                    run={"duration": duration},
                    result={
                        "verdict": verdict,
                        "tests_passed": 0,
                        "tests_total": len(u.problem.io_cases),
                        "detail": detail,
                        "failed_tests": [],
                    },
                ),
            )
            return
        if verdict == "timeout":
            timeouts += 1
        per_case.append((verdict, detail, "" if call else (res.get("stdout") or "")))
    ctx.emit(u, _summary(u, per_case, duration))


def start(ctx: Context, units: list[Unit]) -> None:
    """The runner of stdio/call units of one language: build each program once, then run its cases."""
    lang = units[0].language
    try:
        builder, sup_kwargs = BUILDERS[lang](ctx, units)
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:  # (Rust's prebuilt crates)
        for u in units:
            ctx.emit(u, Outcome("infra_error", str(e), n_cases=u.plan.n))
        return
    inputs = _Inputs(ctx)
    if lang == "java":  # one javac for many programs; the rest build alone below
        units = _java_batches(ctx, units, builder, inputs)
        if not units:
            return
    if lang == "go":  # one go build for many programs
        _go_batches(ctx, units, builder, inputs)
        return

    def task(part: list[Unit]) -> None:
        box: list[Any] = [None]
        try:
            for u in part:
                built = builder(u, ctx.new_dir(f"io-{lang}-"))
                if isinstance(built, str):
                    ctx.emit(u, Outcome("compile_error", built, n_cases=u.plan.n))
                    continue
                _run_unit(ctx, box, sup_kwargs, u, built, inputs.files(u.problem))
        except SandboxError as e:
            for u in part:
                ctx.emit(u, Outcome("infra_error", f"sandbox failure: {e}", n_cases=u.plan.n))
        finally:
            if box[0] is not None:
                box[0].close()

    compiled = lang in COMPILED
    # compiled: small chunks, so that compilers run on every core; scripts: larger ones
    for part in chunks(units, ctx.workers, min_size=1 if compiled else 4, per_worker=4 if compiled else 2):
        ctx.submit(P_BUILD if compiled else P_RUN, partial(task, part))


def dispatch(runner: Callable[[Context, list[Unit]], None]) -> Callable[[Context, list[Unit]], None]:
    """A language runner that hands stdio/call units to `start` and the rest to `runner`."""

    def both(ctx: Context, units: list[Unit]) -> None:
        io = [u for u in units if is_io(u.problem)]
        rest = [u for u in units if not is_io(u.problem)]
        if io:
            start(ctx, io)
        if rest:
            runner(ctx, rest)

    return both
