"""C++: compile-only batches, one binary per program.

Programs that pass the admission rule (`admit.cpp_parts`: namespace scope holds only functions,
types, namespaces and literal constants; no object with static or thread storage duration
anywhere, no attribute, `asm`, linkage specification or preprocessor line past an allowlisted
`#include` preamble) and share the same preamble are compiled as one translation unit, each
inside a namespace whose name is drawn per batch (`g++ -c -ffunction-sections -fdata-sections`).
Each program is then linked into a binary of its own whose entry point is its own test's `main`
(`-Wl,--gc-sections`, with lld: gold and bfd keep merged constants whole): the linker keeps only
what that entry reaches, so a binary holds none of its neighbours' code or data. Everything else
builds alone, as the reference does (`g++ -std=c++11 test.cpp -lcrypto -lssl`); so does
everything when no lld is found.

The harness (case reporting on fd 3) includes no header and comes first, so neither a program's
macros nor its includes reach it, and it changes nothing the program sees.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import secrets
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from engine.execute.core import (
    P_SINGLE,
    BatchPlan,
    Context,
    Unit,
    build_env,
    build_log,
    build_ok,
    chunks,
    compile_step,
    drive_batches,
    linked,
    run_env,
    run_jobs,
    run_single,
)
from engine.execute.instrument import cpp_rename_main
from engine.execute.langs.admit import CppParts, cpp_parts
from engine.fsutil import file_lock

CXXFLAGS = ["-std=c++11", "-O0", "-w"]
# MultiPL-E's C++ prompts use C++17 (std::optional, structured bindings) and its eval_cpp builds
# with g++ -std=c++17; HumanEvalPack's reference builds with -std=c++11, which stays for it (C++17
# removed things a model may write for C++11, e.g. std::random_shuffle).
CXX17FLAGS = ["-std=c++17", "-O0", "-w"]
LIBS = ["-lcrypto", "-lssl"]
# Whole programs judged on stdin/stdout cases (engine.execute.iocases): what contest judges build
# with (Codeforces, AtCoder: GNU C++17, -O2), so solutions written for them compile and run in time.
STDIO_CXXFLAGS = ["-std=c++17", "-O2", "-w"]
# The header contest programs include; precompiled once per compiler for STDIO_CXXFLAGS.
PCH_HEADER = "bits/stdc++.h"
# Every function, object and constant in a section of its own (string literals and numeric
# constants in mergeable sections, which lld collects piece by piece), so that the linker can drop
# whatever a program's entry does not reach: its neighbours' code and data.
SECTIONS = ["-ffunction-sections", "-fdata-sections", "-fmerge-constants"]

# Case reporting without a single #include: C functions are declared inside the harness's
# namespace (same types as glibc's, so a later <unistd.h> agrees), numbers are formatted by hand.
HARNESS = r"""
namespace __wb_h {
void anchor() {}  // first external symbol of the unit: g++ names its static-initialiser after it
extern "C" long write(int, const void*, unsigned long);
extern "C" char** environ;
static int start_ = 0, last_ = -1;
static bool ended_ = true;
static unsigned char rep_[4096];
static void emit(const char* s, long n) { while (n > 0) { long w = write(3, s, (unsigned long) n); if (w <= 0) return; s += w; n -= w; } }
static char* put(char* p, const char* s) { while (*s) *p++ = *s++; return p; }
static char* put_num(char* p, long v) {
  char t[24]; int n = 0; unsigned long u = v < 0 ? 0UL - (unsigned long) v : (unsigned long) v;
  do { t[n++] = (char) ('0' + u % 10); u /= 10; } while (u);
  if (v < 0) *p++ = '-';
  while (n) *p++ = t[--n];
  return p;
}
static void mark(const char* kind, long id, const char* rest) { char b[96]; char* p = put(put_num(put(b, kind), id), rest); *p++ = '\n'; emit(b, p - b); }
static bool begin(int id) {
  if (id < start_) return false;
  if (id != last_ || ended_) { mark("B ", id, ""); last_ = id; ended_ = false; }
  return true;
}
static void result(int id, bool ok) {
  int prev = (id >= 0 && id < 4096) ? rep_[id] : 0, cur = ok ? 1 : 2;
  if (prev == 0 || (prev == 1 && cur == 2)) {
    if (id >= 0 && id < 4096) rep_[id] = (unsigned char) cur;
    mark("E ", id, ok ? " pass" : " fail assertion failed");
    ended_ = true;
  }
}
static void init() {
  static const char key[] = "WB_START=";
  for (char** e = environ; e && *e; ++e) {
    const char* s = *e; int k = 0;
    while (key[k] && s[k] == key[k]) ++k;
    if (key[k]) continue;
    int v = 0;
    for (s += k; *s >= '0' && *s <= '9'; ++s) v = v * 10 + (*s - '0');
    start_ = v;
  }
}
// "D rc" only once the test's main has returned: an exit before that is never "done"
static int run(int argc, char** argv, int (*test_main)(int, char**)) { init(); int rc = test_main(argc, argv); mark("D ", rc, ""); return rc; }
}
#define __WB_ASSERT(id, ...) do { if (::__wb_h::begin(id)) ::__wb_h::result(id, static_cast<bool>(__VA_ARGS__)); } while (0)
"""

SINGLE_MAIN = (
    "int __wb_main(int, char**);\nint main(int argc, char** argv) { return ::__wb_h::run(argc, argv, &__wb_main); }\n"
)


@dataclass
class Batch:
    """A built (or failed) batch: its folder, the units in entry order, line ranges for blame."""

    dir: str
    units: list[Unit]
    tag: str
    ranges: list[list[tuple[int, int]]]


def compile_argv(gpp: str, src: str, out: str, flags: list[str] = CXXFLAGS, libs: list[str] = LIBS) -> list[str]:
    """g++ building one program on its own, as the reference does."""
    return [gpp, *flags, "-o", out, src, *libs]


def stdio_pch(ctx: Context) -> str | None:
    """A folder holding `<bits/stdc++.h>` precompiled with STDIO_CXXFLAGS (built once per g++,
    from the system headers alone, in the toolchain cache), for `-I`: g++ then uses it for a
    program whose first include it is (1.6 s of parsing become 0.3 s) and the header itself for
    any other, with the same result. None when it cannot be built."""
    gpp = ctx.tool.commands["g++"]
    probe = subprocess.run(
        [gpp, *STDIO_CXXFLAGS, "-x", "c++", "-E", "-H", "-o", os.devnull, "-"],
        input=f"#include <{PCH_HEADER}>\n",
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    header = next((ln[2:].strip() for ln in probe.stderr.splitlines() if ln.startswith(". ")), "")
    if probe.returncode != 0 or not header.endswith(PCH_HEADER):
        return None
    tag = hashlib.sha256("\0".join([ctx.tool.version, gpp, header, *STDIO_CXXFLAGS]).encode()).hexdigest()[:12]
    d = ctx.cache / "cpp" / f"pch-{tag}"
    gch = d / (PCH_HEADER + ".gch")
    if gch.exists():
        return str(d)
    with file_lock(ctx.cache / "cpp" / ".lock"):
        if not gch.exists():
            gch.parent.mkdir(parents=True, exist_ok=True)
            tmp = gch.with_suffix(".tmp")
            p = subprocess.run(
                [gpp, *STDIO_CXXFLAGS, "-x", "c++-header", header, "-o", str(tmp)],
                capture_output=True,
                text=True,
                check=False,
                timeout=600,
            )
            if p.returncode != 0:
                tmp.unlink(missing_ok=True)
                return None
            os.replace(tmp, gch)
            for x in (d, gch.parent):
                os.chmod(x, 0o755)
    return str(d)


def _admit(u: Unit) -> CppParts | None:
    renamed = cpp_rename_main(u.plan.test)
    return cpp_parts(u.program.code, renamed) if renamed is not None else None


def batch_source(parts: list[CppParts], tag: str) -> tuple[str, list[list[tuple[int, int]]]]:
    """One translation unit: harness, the group's preamble, each program's code in its namespace,
    the test preamble, each program's test in the same namespace and a C entry point per
    program. Returns the text and, per program, the line ranges it occupies (for blame)."""
    code_pre, test_pre = parts[0].key
    out: list[str] = []
    ranges: list[list[tuple[int, int]]] = [[] for _ in parts]
    line = 1

    def add(text: str, owner: int | None = None) -> None:
        nonlocal line
        n = text.count("\n")
        if owner is not None:
            ranges[owner].append((line, line + n))
        out.append(text)
        line += n

    add(HARNESS)
    add("\n".join(code_pre) + "\n")
    for i, p in enumerate(parts):
        add(f"namespace __wb_{tag}_{i} {{\n{p.code_body}\n}}\n", i)
    add("\n".join(test_pre) + "\n")
    for i, p in enumerate(parts):
        add(f"namespace __wb_{tag}_{i} {{\n{p.test_body}\n}}\n", i)
        add(
            f'extern "C" int __wb_entry_{tag}_{i}(int argc, char** argv) '
            f"{{ return ::__wb_h::run(argc, argv, &__wb_{tag}_{i}::__wb_main); }}\n",
            i,
        )
    return "".join(out), ranges


def lld_flags() -> tuple[list[str], tuple[str, ...]] | None:
    """How to make g++ link with lld (its flags, and a folder the compile sandbox must show), or
    None without one: the system's `ld.lld`, else the copy a Rust toolchain ships."""
    if shutil.which("ld.lld"):
        return ["-fuse-ld=lld"], ()
    try:
        from engine.execute.toolchains import probe

        sysroot = probe("rust").extra.get("sysroot", "")
    except Exception:  # noqa: BLE001 - no Rust toolchain: no lld from there
        sysroot = ""
    found = sorted(glob.glob(os.path.join(sysroot, "lib", "rustlib", "*", "bin", "gcc-ld"))) if sysroot else []
    if found and os.path.exists(os.path.join(found[0], "ld.lld")):
        return [f"-B{found[0]}", "-fuse-ld=lld"], (sysroot,)
    return None


def cxxflags(u: Unit) -> list[str]:
    """The flags a program is compiled with: its suite's C++ standard."""
    return CXX17FLAGS if u.problem.suite == "multiple" else CXXFLAGS


def link_script(gpp: str, n: int, tag: str, ssl: list[bool], lld: list[str], flags: list[str] = CXXFLAGS) -> str:
    """Compile the batch once, then link every program into `bin/<i>` on its own (a link that
    fails leaves `bin/<i>.log`: undefined references are the program's own)."""
    q = shlex.quote
    lines = [
        "set -u",
        " ".join([q(gpp), *flags, *SECTIONS, "-c", "batch.cpp", "-o", "batch.o"]) + " || exit 1",
        "mkdir -p bin",
    ]
    for i in range(n):
        entry = f"__wb_entry_{tag}_{i}"
        argv = [
            q(gpp),
            *map(q, lld),
            "-o",
            f"bin/{i}",
            "batch.o",
            "-Wl,--gc-sections",
            f"-Wl,-u,{entry}",
            f"-Wl,--defsym=main={entry}",
            *(LIBS if ssl[i] else []),
        ]
        lines.append(" ".join(argv) + f" >bin/{i}.log 2>&1 || true")
    return "\n".join(lines) + "\n"


def start(ctx: Context, units: list[Unit]) -> None:
    gpp = ctx.tool.commands["g++"]
    linker = lld_flags()
    lld, lld_ro = linker if linker is not None else ([], ())
    admitted: dict[str, CppParts] = {}
    for u in units if linker is not None else []:
        p = _admit(u)
        if p is not None:
            admitted[u.key] = p

    def build_batch(group: list[Unit]) -> tuple[bool, str, Batch]:
        d = ctx.new_dir("cpp-")
        tag = secrets.token_hex(8)
        parts = [admitted[u.key] for u in group]
        src, ranges = batch_source(parts, tag)
        Path(d, "batch.cpp").write_text(src, encoding="utf-8", errors="surrogatepass")
        ssl = [p.needs_openssl for p in parts]
        Path(d, "build.sh").write_text(link_script(gpp, len(group), tag, ssl, lld, cxxflags(group[0])))
        res = compile_step(ctx, d, ["/bin/sh", "build.sh"], build_env(ctx, d), n_programs=len(group), ro=lld_ro)
        return build_ok(res), build_log(res), Batch(d, list(group), tag, ranges)

    def blame(log: str, group: list[Unit], b: Batch) -> set[int]:
        out: set[int] = set()
        for m in re.finditer(r"batch\.cpp:(\d+)(?::\d+)?", log):
            ln = int(m.group(1))
            out.update(i for i, rs in enumerate(b.ranges) if any(a <= ln <= z for a, z in rs))
        out.update(int(m.group(1)) for m in re.finditer(rf"__wb_{b.tag}_(\d+)::", log) if int(m.group(1)) < len(group))
        return out

    def run_batch(part: list[Unit], b: Batch) -> None:
        index = {u.key: i for i, u in enumerate(b.units)}
        runnable = linked(ctx, part, index, os.path.join(b.dir, "bin"))

        def job(u: Unit) -> dict[str, Any]:
            return {
                "id": u.key,
                "mode": "exec",
                "argv": ["./prog"],
                "cases": u.plan.n,
                "limits": ctx.limits.run(),
                "env": run_env(),
                "stage": {"prog": os.path.join(b.dir, "bin", str(index[u.key]))},
            }

        if runnable:
            run_jobs(ctx, runnable, job, {})

    def single(u: Unit) -> None:
        def write(d: str, instrumented: bool) -> tuple[int, int]:
            test = cpp_rename_main(u.plan.test if instrumented else u.program.test)
            if test is None:  # no `int main` in the test: the program exactly as the reference runs it
                src, lo = u.program.text, 1
            else:
                src, lo = HARNESS + SINGLE_MAIN + u.program.code + "\n" + test, (HARNESS + SINGLE_MAIN).count("\n") + 1
            Path(d, "test.cpp").write_text(src, encoding="utf-8", errors="surrogatepass")
            return lo, lo + u.program.code.count("\n")

        def job(d: str, instrumented: bool) -> dict[str, Any]:
            plain = cpp_rename_main(u.plan.test if instrumented else u.program.test) is None
            # (plain: nothing tells when the tests have run, so a clean exit is the only "done")
            return {
                "id": u.key,
                "mode": "exec",
                "argv": ["./prog"],
                "stage": {"prog": os.path.join(d, "prog")},
                "cases": 0 if plain or not instrumented else u.plan.n,
                "limits": ctx.limits.run(),
                "env": run_env(),
                "done_on_exit0": plain,
            }

        run_single(
            ctx,
            u,
            prefix="cpp1-",
            filename="test.cpp",
            write=write,
            job=job,
            compile_=lambda d: compile_step(
                ctx, d, compile_argv(gpp, "test.cpp", "prog", cxxflags(u)), build_env(ctx, d)
            ),
        )

    plan = BatchPlan("cpp", build_batch, blame, run_batch, single, max_batch=120)
    by_key: dict[Any, list[Unit]] = {}
    for u in units:
        if u.key in admitted:
            # one translation unit, one standard
            by_key.setdefault((admitted[u.key].key, tuple(cxxflags(u))), []).append(u)
    groups = [part for g in by_key.values() for part in chunks(g, ctx.workers, min_size=16, per_worker=1)]
    drive_batches(ctx, plan, groups)
    for u in units:
        if u.key not in admitted:
            ctx.submit(P_SINGLE, partial(single, u))
