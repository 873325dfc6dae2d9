"""C++: programs are compiled in batches as one translation unit, each program inside its own
namespace (its `#include`s hoisted to the top), with a driver `main` that runs program N;
each program then runs in its own process (`./batch N`). Programs with other preprocessor
directives (a `#define` would leak into the next namespace) and programs of a batch that
fails to build are compiled on their own, exactly as the reference does
(`g++ -std=c++11 test.cpp -lcrypto -lssl`)."""

from __future__ import annotations

import os
import re

from engine.execute.core import (BatchPlan, Context, P_SINGLE, Unit, build_env, build_log, build_ok, chunks,
                                 compile_step, drive_batches, run_env, run_jobs, run_single)
from engine.execute.instrument import cpp_rename_main, mask

CXXFLAGS = ["-std=c++11", "-O0", "-w"]
LIBS = ["-lcrypto", "-lssl"]

WB_HELPER = r"""
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <unistd.h>
static int __wb_start = 0;
static int __wb_last = -1;
static bool __wb_ended = true;
static unsigned char __wb_rep[4096];
static void __wb_emit(const char* s) { size_t n = strlen(s); while (n > 0) { ssize_t w = write(3, s, n); if (w <= 0) return; s += w; n -= (size_t) w; } }
static void __wb_end(int id, const char* st, const char* d) {
  int prev = (id >= 0 && id < 4096) ? __wb_rep[id] : 0;
  int cur = strcmp(st, "pass") == 0 ? 1 : 2;
  if (prev == 0 || (prev == 1 && cur == 2)) {
    if (id >= 0 && id < 4096) __wb_rep[id] = (unsigned char) cur;
    char buf[400]; snprintf(buf, sizeof buf, "E %d %s %.300s\n", id, st, d ? d : "");
    for (char* p = buf; *p; ++p) if (*p == '\n' && p[1]) *p = ' ';
    __wb_emit(buf);
    __wb_ended = true;
  }
}
static bool __wb_begin(int id) {
  if (id < __wb_start) return false;
  if (id != __wb_last || __wb_ended) { char b[32]; snprintf(b, sizeof b, "B %d\n", id); __wb_emit(b); __wb_last = id; __wb_ended = false; }
  return true;
}
static void __wb_result(int id, bool ok) { __wb_end(id, ok ? "pass" : "fail", ok ? "" : "assertion failed"); }
// No try/catch here (it doubles compile time): an exception escaping a case ends the process,
// and the supervisor restarts it at the next case.
#define __WB_ASSERT(id, ...) do { if (__wb_begin(id)) __wb_result(id, static_cast<bool>(__VA_ARGS__)); } while (0)
static void __wb_init() { const char* s = getenv("WB_START"); __wb_start = s ? atoi(s) : 0; }
static void __wb_done(int rc) { char b[32]; snprintf(b, sizeof b, "D %d\n", rc); __wb_emit(b); }
"""

_INCLUDE = re.compile(r"^[ \t]*#[ \t]*include[ \t]*[<\"][^>\"]+[>\"][ \t]*$", re.M)
_OTHER_PP = re.compile(r"^[ \t]*#(?![ \t]*include\b)(?![ \t]*undef[ \t]+NDEBUG\b)(?![ \t]*pragma[ \t]+once\b)", re.M)


def _parts(u: Unit, instrumented: bool) -> tuple[str, str] | None:
    """(code, test-with-__wb_main) or None when the test has no recognisable main."""
    test = u.plan.test if instrumented else u.program.test
    renamed = cpp_rename_main(test)
    if renamed is None:
        return None
    return u.program.code, renamed


def batchable(u: Unit) -> bool:
    text = u.program.code + "\n" + u.plan.test
    m = mask(text, "cpp")
    if _OTHER_PP.search(m) or re.search(r'#[ \t]*include[ \t]*"', text):
        return False
    if m.count("{") != m.count("}") or m.count("(") != m.count(")"):
        return False
    return cpp_rename_main(u.plan.test) is not None and not re.search(r"\bnamespace\s+__wb", text)


def _strip_pp(text: str) -> tuple[str, list[str]]:
    incs = [ln.strip() for ln in _INCLUDE.findall(text)]
    body = _INCLUDE.sub("", text)
    body = re.sub(r"^[ \t]*#[ \t]*(undef[ \t]+NDEBUG|pragma[ \t]+once)\b.*$", "", body, flags=re.M)
    return body, incs


def start(ctx: Context, units: list[Unit]) -> None:
    gpp = ctx.tool.commands["g++"]

    def build_batch(group: list[Unit]) -> tuple[bool, str, dict]:
        d = ctx.new_dir("cpp-")
        includes: list[str] = []
        blocks, ranges = [], []
        for u in group:
            parts = _parts(u, True)
            assert parts is not None
            code, incs1 = _strip_pp(parts[0])
            test, incs2 = _strip_pp(parts[1])
            for inc in incs1 + incs2:
                if inc not in includes:
                    includes.append(inc)
            blocks.append(f"namespace __wb_p{len(blocks)} {{\nusing namespace std;\n{code}\n{test}\n}}\n")
        head = "\n".join(includes) + "\nusing namespace std;\n" + WB_HELPER
        line = head.count("\n") + 1
        src = [head]
        for b in blocks:
            ranges.append((line, line + b.count("\n")))
            line += b.count("\n")
            src.append(b)
        cases = "\n".join(f"    case {i}: rc = __wb_p{i}::__wb_main(); break;" for i in range(len(blocks)))
        src.append("int main(int argc, char** argv) {\n  __wb_init();\n  int rc = 0;\n"
                   "  switch (argc > 1 ? atoi(argv[1]) : -1) {\n" + cases +
                   "\n    default: return 2;\n  }\n  fflush(stdout); fflush(stderr);\n  __wb_done(rc);\n  return rc;\n}\n")
        with open(os.path.join(d, "batch.cpp"), "w") as f:
            f.write("".join(src))
        res = compile_step(ctx, d, [gpp] + CXXFLAGS + ["-o", "batch", "batch.cpp"] + LIBS, build_env(ctx, d),
                           n_programs=len(group))
        return build_ok(res), build_log(res), {"dir": d, "ranges": ranges}

    def blame(log: str, group: list[Unit], art: dict) -> set[int]:
        out = set()
        for m in re.finditer(r"batch\.cpp:(\d+)(?::\d+)?", log):
            ln = int(m.group(1))
            for i, (a, b) in enumerate(art["ranges"]):
                if a <= ln <= b:
                    out.add(i)
        for m in re.finditer(r"__wb_p(\d+)::", log):
            if int(m.group(1)) < len(group):
                out.add(int(m.group(1)))
        return out

    def run_batch(part: list[Unit], art: dict) -> None:
        index = {}
        # the batch index of a unit is its position in the group that was built
        for i, u in enumerate(art["group"]):
            index[u.key] = i
        binary = os.path.join(art["dir"], "batch")

        def job(u: Unit) -> dict:
            return {"id": u.key, "mode": "exec", "argv": [binary, str(index[u.key])], "cases": u.plan.n,
                    "limits": ctx.limits.run(), "env": run_env()}
        run_jobs(ctx, part, job, {})

    def single(u: Unit) -> None:
        def write(d: str, instrumented: bool) -> tuple[int, int]:
            parts = _parts(u, instrumented)
            if parts is None:  # no `int main` found: the program exactly as the reference runs it
                src, code = u.program.text, u.program.code
            else:
                code, test = parts
                src = code + "\n" + WB_HELPER + "\n" + test + \
                    "\nint main() {\n  __wb_init();\n  int rc = __wb_main();\n  fflush(stdout); fflush(stderr);\n" \
                    "  __wb_done(rc);\n  return rc;\n}\n"
            with open(os.path.join(d, "test.cpp"), "w") as f:
                f.write(src)
            return 1, code.count("\n") + 1

        def job(d: str, instrumented: bool) -> dict:
            plain = _parts(u, instrumented) is None
            return {"id": u.key, "mode": "exec", "argv": [os.path.join(d, "a.out")],
                    "cases": u.plan.n if instrumented and not plain else 0, "limits": ctx.limits.run(),
                    "env": run_env(), "done_on_exit0": plain}

        run_single(ctx, u, prefix="cpp1-", filename="test.cpp", write=write, job=job,
                   compile_=lambda d: compile_step(ctx, d, [gpp] + CXXFLAGS + ["-o", "a.out", "test.cpp"] + LIBS,
                                                   build_env(ctx, d)))

    plan = BatchPlan("cpp", lambda g: _with_group(build_batch, g), blame, run_batch, single, max_batch=120)
    batch_units = [u for u in units if batchable(u)]
    singles = [u for u in units if not batchable(u)]
    groups = chunks(batch_units, ctx.workers, min_size=16, per_worker=1) if batch_units else []
    drive_batches(ctx, plan, groups)
    for u in singles:
        ctx.submit(P_SINGLE, lambda u=u: single(u))


def _with_group(fn, group):  # noqa: ANN001, ANN202 - remember which units a batch holds
    ok, log, art = fn(group)
    art["group"] = list(group)
    return ok, log, art
