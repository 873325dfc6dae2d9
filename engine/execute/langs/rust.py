"""Rust: one `rustc --test` crate per batch, each program in its own module (`mod __wb_pN`),
linked against prebuilt rand (the 0.4 API shim), regex and md5; each program then runs its
tests in its own process (`./batch __wb_pN:: --test-threads=1`). Debug build with overflow
checks, as `cargo test` (the reference) builds. Programs with crate-level attributes and
programs of a batch that fails to build are compiled on their own."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from pathlib import Path

from engine.execute.core import (BatchPlan, Context, P_SINGLE, Unit, build_env, build_log, build_ok, chunks,
                                 compile_step, drive_batches, run_env, run_jobs, run_single)
from engine.execute.instrument import mask
from engine.execute.langs.rust_support import RAND_SHIM, WB_MACROS, WB_MODULE
from engine.execute.toolchains import crate_dir
from engine.execute.verdicts import Outcome
from engine.fsutil import file_lock

UNICODE = ["unicode", "unicode-age", "unicode-bool", "unicode-case", "unicode-gencat", "unicode-perl",
           "unicode-script", "unicode-segment"]
RUSTFLAGS = ["--edition", "2021", "-C", "opt-level=0", "-C", "debuginfo=0", "-C", "debug-assertions=on",
             "-C", "overflow-checks=on", "--cap-lints", "allow"]


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


def deps_dir(ctx: Context) -> str:
    """rlibs of rand (shim), regex (+regex-syntax) and md5, built once per rustc version."""
    rustc = rustc_path(ctx)
    srcs = {c: crate_dir(c) for c in ("regex", "regex-syntax", "md5")}
    if any(v is None for v in srcs.values()):
        raise RuntimeError("missing Rust crate sources: " + ", ".join(k for k, v in srcs.items() if v is None))
    tag = hashlib.sha256((ctx.tool.version + RAND_SHIM + repr(sorted((k, str(v)) for k, v in srcs.items())))
                         .encode()).hexdigest()[:12]
    d = ctx.cache / "rust" / f"deps-{tag}"
    done = d / "ok"
    if done.exists():
        return str(d)
    with file_lock(ctx.cache / "rust" / ".lock"):
        if done.exists():
            return str(d)
        d.mkdir(parents=True, exist_ok=True)
        (d / "rand.rs").write_text(RAND_SHIM)
        env = {**os.environ, "RUSTC_BOOTSTRAP": "0"}
        base = [rustc, "--crate-type", "rlib", "-C", "opt-level=2", "-C", "debuginfo=0", "--cap-lints", "allow",
                "--out-dir", str(d), "-L", f"dependency={d}"]
        steps = [
            base + ["--edition", "2018", "--crate-name", "rand", str(d / "rand.rs")],
            base + ["--edition", "2018", "--crate-name", "regex_syntax", str(srcs["regex-syntax"] / "src/lib.rs")]
            + _feats(["default", *UNICODE]),
            base + ["--edition", "2018", "--crate-name", "regex", str(srcs["regex"] / "src/lib.rs"),
                    "--extern", f"regex_syntax={d}/libregex_syntax.rlib"]
            + _feats(["std", "perf-cache", "perf-dfa", "perf-inline", *UNICODE]),
            base + ["--edition", "2015", "--crate-name", "md5", str(srcs["md5"] / "src/lib.rs")],
        ]
        for argv in steps:
            p = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=900)
            if p.returncode != 0:
                raise RuntimeError("building the Rust crates failed:\n" + p.stderr[-2000:])
        done.write_text("ok\n")
    return str(d)


def extern_flags(deps: str) -> list[str]:
    return ["-L", f"dependency={deps}", "--extern", f"rand={deps}/librand.rlib",
            "--extern", f"regex={deps}/libregex.rlib", "--extern", f"md5={deps}/libmd5.rlib"]


def batchable(u: Unit) -> bool:
    m = mask(u.program.code + "\n" + u.plan.test, "rust")
    return (not re.search(r"#!\s*\[", m) and m.count("{") == m.count("}") and "__wb" not in u.program.code
            and "#[test]" in m.replace(" ", ""))


def start(ctx: Context, units: list[Unit]) -> None:
    try:
        deps = deps_dir(ctx)
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        for u in units:
            ctx.emit(u, Outcome("infra_error", str(e), n_cases=u.plan.n))
        return
    rustc = rustc_path(ctx)
    sysroot = ctx.tool.extra.get("sysroot", "")
    ro = (deps,) + ((sysroot,) if sysroot else ())

    def compile_(d: str, src: str, out: str, n: int) -> dict:
        return compile_step(ctx, d, [rustc, "--test", *RUSTFLAGS, *extern_flags(deps), "-o", out, src],
                            build_env(ctx, d), n_programs=n, ro=ro)

    def build_batch(group: list[Unit]) -> tuple[bool, str, dict]:
        d = ctx.new_dir("rust-")
        parts = [WB_MACROS, WB_MODULE]
        ranges = []
        line = sum(p.count("\n") for p in parts) + 1
        for i, u in enumerate(group):
            block = f"mod __wb_p{i} {{\n{u.program.code}\n{u.plan.test}\n}}\n"
            ranges.append((line, line + block.count("\n")))
            line += block.count("\n")
            parts.append(block)
        Path(d, "batch.rs").write_text("".join(parts))
        res = compile_(d, "batch.rs", "batch", len(group))
        return build_ok(res), build_log(res), {"dir": d, "group": list(group), "ranges": ranges}

    def blame(log: str, group: list[Unit], art: dict) -> set[int]:
        out = set()
        for m in re.finditer(r"batch\.rs:(\d+):\d+", log):
            ln = int(m.group(1))
            for i, (a, b) in enumerate(art["ranges"]):
                if a <= ln <= b:
                    out.add(i)
        return out

    def run_batch(part: list[Unit], art: dict) -> None:
        index = {u.key: i for i, u in enumerate(art["group"])}
        binary = os.path.join(art["dir"], "batch")

        def job(u: Unit) -> dict:
            return {"id": u.key, "mode": "exec", "cases": u.plan.n, "limits": ctx.limits.run(), "env": run_env(),
                    "argv": [binary, f"__wb_p{index[u.key]}::", "--test-threads=1", "-q"]}
        run_jobs(ctx, part, job, {"ro": ro})

    def single(u: Unit) -> None:
        def write(d: str, instrumented: bool) -> tuple[int, int]:
            code = u.program.code
            lead = re.match(r"(\s*(?:#!\s*\[[^\]]*\]\s*)*)", code)
            head = lead.group(1) if lead else ""
            pre = head + (WB_MACROS if instrumented else "")
            src = pre + code[len(head):] + "\n" + (u.plan.test if instrumented else u.program.test) + \
                ("\n" + WB_MODULE if instrumented else "")
            Path(d, "main.rs").write_text(src)
            lo = pre.count("\n") + 1
            return lo, lo + code[len(head):].count("\n")

        def job(d: str, instrumented: bool) -> dict:
            return {"id": u.key, "mode": "exec", "cases": u.plan.n if instrumented else 0, "limits": ctx.limits.run(),
                    "env": run_env(), "argv": [os.path.join(d, "main"), "--test-threads=1", "-q"],
                    "done_on_exit0": not instrumented}

        run_single(ctx, u, prefix="rust1-", filename="main.rs", write=write, job=job, sup_kwargs={"ro": ro},
                   compile_=lambda d: compile_(d, "main.rs", "main", 1))

    plan = BatchPlan("rust", build_batch, blame, run_batch, single, max_batch=120)
    ok = [u for u in units if batchable(u)]
    drive_batches(ctx, plan, chunks(ok, ctx.workers, min_size=24, per_worker=1) if ok else [])
    for u in units:
        if not batchable(u):
            ctx.submit(P_SINGLE, lambda u=u: single(u))
