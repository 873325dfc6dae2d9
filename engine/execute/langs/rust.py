"""Rust: compile-only batches, one binary per program.

Programs that pass the admission rule (`admit.rust_admissible`: items only fn/struct/enum/union/
trait/impl/type/const/use/mod, no `static` anywhere, attributes from an allowlist, no extern
items, no macros but the standard library's expression macros, no `#[test]` outside the test
part) are compiled into one crate (`--crate-type staticlib --cfg test`), each in a module whose
name is drawn per batch, with its `#[test]` functions turned into plain functions and an entry
point per program. Each program is then linked into a binary of its own whose `main` is its own
entry (`--gc-sections`): the binary holds none of its neighbours' code, and runs its tests as
libtest does with one thread. Debug build with overflow checks, as `cargo test` (the reference)
builds; regex, md5 and a rand 0.4 shim are built once. Everything else builds alone with
`rustc --test`.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import secrets
import shlex
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
from engine.execute.instrument import rust_done_markers
from engine.execute.langs.admit import parse, rust_admissible, rust_tests, text_of
from engine.execute.langs.rust_support import RAND_SHIM, WB_MACROS, WB_MODULE
from engine.execute.toolchains import crate_dir
from engine.execute.verdicts import Outcome
from engine.fsutil import file_lock

UNICODE = [
    "unicode",
    "unicode-age",
    "unicode-bool",
    "unicode-case",
    "unicode-gencat",
    "unicode-perl",
    "unicode-script",
    "unicode-segment",
]
RUSTFLAGS = [
    "--edition",
    "2021",
    "-C",
    "opt-level=0",
    "-C",
    "debuginfo=0",
    "-C",
    "debug-assertions=on",
    "-C",
    "overflow-checks=on",
    "--cap-lints",
    "allow",
]
# Whole programs judged on stdin/stdout cases (engine.execute.iocases): an optimised build, as
# contest judges build Rust (Codeforces, AtCoder: -O), so solutions written for them run in time.
STDIO_RUSTFLAGS = ["--edition", "2021", "-C", "opt-level=2", "-C", "debuginfo=0", "--cap-lints", "allow"]
# what a staticlib needs from the system when linked into an executable (recorded per toolchain)
NATIVE_LIBS_DEFAULT = ["-lgcc_s", "-lutil", "-lrt", "-lpthread", "-lm", "-ldl", "-lc"]
LINK_FLAGS = [
    "-pie",
    "-Wl,--gc-sections",
    "-Wl,--strip-debug",
    "-Wl,--eh-frame-hdr",
    "-Wl,-z,noexecstack",
    "-Wl,-z,relro,-z,now",
]


def _feats(names: list[str]) -> list[str]:
    out: list[str] = []
    for n in names:
        out += ["--cfg", f'feature="{n}"']
    return out


def rustc_path(ctx: Context) -> str:
    """The toolchain's real rustc (not the rustup proxy, which needs $HOME/.rustup)."""
    sysroot = ctx.tool.extra.get("sysroot", "")
    real = os.path.join(sysroot, "bin", "rustc") if sysroot else ""
    return real if real and os.path.exists(real) else ctx.tool.commands["rustc"]


def _native_libs(rustc: str, d: Path) -> None:
    """Record the system libraries a staticlib of this toolchain needs (`native-libs.txt`)."""
    (d / "empty.rs").write_text("")
    p = subprocess.run(
        [
            rustc,
            "--crate-type",
            "staticlib",
            "--print",
            "native-static-libs",
            "-o",
            str(d / "libempty.a"),
            str(d / "empty.rs"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    m = re.search(r"native-static-libs: (.*)", p.stderr)
    (d / "native-libs.txt").write_text(m.group(1).strip() if m else " ".join(NATIVE_LIBS_DEFAULT))
    for f in ("empty.rs", "libempty.a"):
        (d / f).unlink(missing_ok=True)


def deps_dir(ctx: Context) -> str:
    """rlibs of rand (shim), regex (+regex-syntax) and md5, built once per rustc version."""
    rustc = rustc_path(ctx)
    found = {c: crate_dir(c) for c in ("regex", "regex-syntax", "md5")}
    srcs = {k: v for k, v in found.items() if v is not None}
    if len(srcs) < len(found):
        raise RuntimeError("missing Rust crate sources: " + ", ".join(k for k in found if k not in srcs))
    tag = hashlib.sha256(
        (ctx.tool.version + RAND_SHIM + repr(sorted((k, str(v)) for k, v in srcs.items()))).encode()
    ).hexdigest()[:12]
    d = ctx.cache / "rust" / f"deps-{tag}"
    done = d / "ok"
    if done.exists() and (d / "native-libs.txt").exists():
        return str(d)
    with file_lock(ctx.cache / "rust" / ".lock"):
        if done.exists():
            if not (d / "native-libs.txt").exists():
                _native_libs(rustc, d)
            return str(d)
        d.mkdir(parents=True, exist_ok=True)
        (d / "rand.rs").write_text(RAND_SHIM)
        env = {**os.environ, "RUSTC_BOOTSTRAP": "0"}
        base = [
            rustc,
            "--crate-type",
            "rlib",
            "-C",
            "opt-level=2",
            "-C",
            "debuginfo=0",
            "--cap-lints",
            "allow",
            "--out-dir",
            str(d),
            "-L",
            f"dependency={d}",
        ]
        steps = [
            base + ["--edition", "2018", "--crate-name", "rand", str(d / "rand.rs")],
            base
            + ["--edition", "2018", "--crate-name", "regex_syntax", str(srcs["regex-syntax"] / "src/lib.rs")]
            + _feats(["default", *UNICODE]),
            base
            + [
                "--edition",
                "2018",
                "--crate-name",
                "regex",
                str(srcs["regex"] / "src/lib.rs"),
                "--extern",
                f"regex_syntax={d}/libregex_syntax.rlib",
            ]
            + _feats(["std", "perf-cache", "perf-dfa", "perf-inline", *UNICODE]),
            base + ["--edition", "2015", "--crate-name", "md5", str(srcs["md5"] / "src/lib.rs")],
        ]
        for argv in steps:
            p = subprocess.run(argv, capture_output=True, text=True, check=False, env=env, timeout=900)
            if p.returncode != 0:
                raise RuntimeError("building the Rust crates failed:\n" + p.stderr[-2000:])
        _native_libs(rustc, d)
        done.write_text("ok\n")
    return str(d)


def extern_flags(deps: str) -> list[str]:
    return [
        "-L",
        f"dependency={deps}",
        "--extern",
        f"rand={deps}/librand.rlib",
        "--extern",
        f"regex={deps}/libregex.rlib",
        "--extern",
        f"md5={deps}/libmd5.rlib",
    ]


def rustc_argv(
    rustc: str, deps: str, src: str, out: str, *, test: bool = True, flags: list[str] = RUSTFLAGS
) -> list[str]:
    """rustc building one program on its own: a libtest binary (`test`), or a plain one."""
    return [rustc, *(["--test"] if test else []), *flags, *extern_flags(deps), "-o", out, src]


def compile_ro(ctx: Context, deps: str) -> tuple[str, ...]:
    """What a Rust compile step must see read-only: the prebuilt crates and the toolchain."""
    sysroot = ctx.tool.extra.get("sysroot", "")
    return (deps,) + ((sysroot,) if sysroot else ())


def batch_test(test: str) -> str | None:
    """The instrumented test part as plain code a batch entry can call: `#[test]` attributes
    dropped, test functions and the modules holding them made `pub(crate)`."""
    root = parse("rust", test)
    if root is None:
        return None
    data = test.encode("utf-8", "surrogatepass")
    edits: list[tuple[int, int, bytes]] = []

    def public(item: Any) -> None:
        if not any(c.type == "visibility_modifier" for c in item.children):
            start = next(c for c in item.children if c.type in ("fn", "mod")).start_byte
            edits.append((start, start, b"pub(crate) "))

    def visit(items: list[Any]) -> bool:
        found = False
        for k, item in enumerate(items):
            if item.type == "attribute_item" and text_of(item).replace(" ", "") == "#[test]":
                edits.append((item.start_byte, item.end_byte, b""))
                fn = next((x for x in items[k + 1 :] if x.type == "function_item"), None)
                if fn is not None:
                    public(fn)
                found = True
            elif item.type == "mod_item" and item.child_by_field_name("body") is not None:
                body = item.child_by_field_name("body")
                if visit([c for c in body.children if c.type not in ("{", "}")]):
                    public(item)
                    found = True
        return found

    visit(list(root.children))
    for a, b, rep in sorted(edits, reverse=True):
        data = data[:a] + rep + data[b:]
    return data.decode("utf-8", "surrogatepass")


@dataclass
class Batch:
    dir: str
    units: list[Unit]
    tag: str
    ranges: list[tuple[int, int]]


def batch_source(units: list[Unit], tag: str) -> tuple[str, list[tuple[int, int]]]:
    parts = [WB_MACROS + WB_MODULE.replace("__WB_TESTS__", "usize::MAX")]  # (each entry reports done)
    ranges = []
    line = parts[0].count("\n") + 1
    for i, u in enumerate(units):
        tests = rust_tests(u.program.test)
        test = batch_test(u.plan.test)
        assert test is not None  # admitted programs parse
        table = ", ".join(f'("{t.path}", {t.path} as fn())' for t in tests)
        block = (
            f"#[allow(dead_code, unused_imports)]\npub mod __wb_{tag}_{i} {{\n{u.program.code}\n{test}\n"
            f"pub(crate) fn __wb_tests() -> Vec<(&'static str, fn())> {{ vec![{table}] }}\n}}\n"
            f"#[no_mangle]\npub extern \"C\" fn __wb_main_{tag}_{i}() -> i32 "
            f"{{ crate::__wb::run(&__wb_{tag}_{i}::__wb_tests()) }}\n"
        )
        ranges.append((line, line + block.count("\n")))
        line += block.count("\n")
        parts.append(block)
    return "".join(parts), ranges


def _linker_flags(sysroot: str) -> list[str]:
    """rustc's own choice of linker: the toolchain's lld through `cc` when it ships one."""
    found = glob.glob(os.path.join(sysroot, "lib", "rustlib", "*", "bin", "gcc-ld")) if sysroot else []
    return [f"-B{found[0]}", "-fuse-ld=lld"] if found else []


def admissible(u: Unit) -> bool:
    return rust_admissible(u.program.code, u.program.test) and batch_test(u.plan.test) is not None


def start(ctx: Context, units: list[Unit]) -> None:
    try:
        deps = deps_dir(ctx)
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        for u in units:
            ctx.emit(u, Outcome("infra_error", str(e), n_cases=u.plan.n))
        return
    rustc = rustc_path(ctx)
    sysroot = ctx.tool.extra.get("sysroot", "")
    ro = compile_ro(ctx, deps)
    native = Path(deps, "native-libs.txt").read_text().split()
    link = ["cc", *_linker_flags(sysroot), *LINK_FLAGS]

    def build_script(n: int, tag: str) -> str:
        q = shlex.quote
        rc = [
            rustc,
            "--crate-type",
            "staticlib",
            "--crate-name",
            "wbbatch",
            "--cfg",
            "test",
            *RUSTFLAGS,
            *extern_flags(deps),
            "-o",
            "libbatch.a",
            "batch.rs",
        ]
        lines = ["set -u", " ".join(map(q, rc)) + " || exit 1", "mkdir -p bin"]
        for i in range(n):
            entry = f"__wb_main_{tag}_{i}"
            argv = [*link, "-o", f"bin/{i}", f"-Wl,-u,{entry}", f"-Wl,--defsym=main={entry}", "libbatch.a", *native]
            lines.append(" ".join(map(q, argv)) + f" >bin/{i}.log 2>&1 || true")
        return "\n".join(lines) + "\n"

    def build_batch(group: list[Unit]) -> tuple[bool, str, Batch]:
        d = ctx.new_dir("rust-")
        tag = secrets.token_hex(8)
        src, ranges = batch_source(group, tag)
        Path(d, "batch.rs").write_text(src, encoding="utf-8", errors="surrogatepass")
        Path(d, "build.sh").write_text(build_script(len(group), tag))
        res = compile_step(ctx, d, ["/bin/sh", "build.sh"], build_env(ctx, d), n_programs=len(group), ro=ro)
        return build_ok(res), build_log(res), Batch(d, list(group), tag, ranges)

    def blame(log: str, group: list[Unit], b: Batch) -> set[int]:
        out: set[int] = set()
        for m in re.finditer(r"batch\.rs:(\d+):\d+", log):
            ln = int(m.group(1))
            out.update(i for i, (a, z) in enumerate(b.ranges) if a <= ln <= z)
        return out

    def run_batch(part: list[Unit], b: Batch) -> None:
        index = {u.key: i for i, u in enumerate(b.units)}
        runnable = linked(ctx, part, index, os.path.join(b.dir, "bin"))

        def job(u: Unit) -> dict[str, Any]:
            return {
                "id": u.key,
                "mode": "exec",
                "cases": u.plan.n,
                "limits": ctx.limits.run(),
                "env": run_env(),
                "argv": ["./prog"],
                "stage": {"prog": os.path.join(b.dir, "bin", str(index[u.key]))},
            }

        if runnable:
            run_jobs(ctx, runnable, job, {})

    def single(u: Unit) -> None:
        def write(d: str, instrumented: bool) -> tuple[int, int]:
            code = u.program.code
            lead = re.match(r"(\s*(?:#!\s*\[[^\]]*\]\s*)*)", code)
            head = lead.group(1) if lead else ""
            if instrumented:  # (rust_cases marked its test functions already)
                test, n = u.plan.test, u.plan.test.count("crate::__wb::Done;")
            else:
                test, n = rust_done_markers(u.program.test)
            pre = head + WB_MACROS
            src = pre + code[len(head) :] + "\n" + test + "\n" + WB_MODULE.replace("__WB_TESTS__", str(n))
            Path(d, "main.rs").write_text(src, encoding="utf-8", errors="surrogatepass")
            lo = pre.count("\n") + 1
            return lo, lo + code[len(head) :].count("\n")

        def job(d: str, instrumented: bool) -> dict[str, Any]:
            # (a test part without test functions has nothing to report done: a clean exit is all)
            none = rust_done_markers(u.program.test)[1] == 0
            return {
                "id": u.key,
                "mode": "exec",
                "cases": u.plan.n if instrumented else 0,
                "limits": ctx.limits.run(),
                "env": run_env(),
                "argv": ["./prog", "--test-threads=1", "-q"],
                "stage": {"prog": os.path.join(d, "main")},
                "done_on_exit0": none,
            }

        run_single(
            ctx,
            u,
            prefix="rust1-",
            filename="main.rs",
            write=write,
            job=job,
            compile_=lambda d: compile_step(
                ctx, d, rustc_argv(rustc, deps, "main.rs", "main"), build_env(ctx, d), ro=ro
            ),
        )

    plan = BatchPlan("rust", build_batch, blame, run_batch, single, max_batch=120)
    ok = [u for u in units if admissible(u)]
    drive_batches(ctx, plan, chunks(ok, ctx.workers, min_size=24, per_worker=1) if ok else [])
    okeys = {u.key for u in ok}
    for u in units:
        if u.key not in okeys:
            ctx.submit(P_SINGLE, partial(single, u))
