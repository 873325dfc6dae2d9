"""Go: one package and one test binary per program.

A package's `init()` functions and package-level variable initialisers run in every binary
built from it, so programs never share a package. They share the build: one `go test` builds
many packages at once (vet included, as `go test` does; warm build cache in
`ctx.build_cache`), and a copying `-exec` program collects each package's test binary instead of
running it, so no program runs at build time. Each program then runs its own binary in its own
folder. Against Debian's testify in GOPATH mode, as the reference (`go test main_test.go`).
"""

from __future__ import annotations

import os
import secrets
from functools import partial
from pathlib import Path
from typing import Any

from engine.execute.core import (
    P_BUILD,
    P_RUN,
    Context,
    Unit,
    build_env,
    build_log,
    chunks,
    compile_step,
    errors_only_in,
    run_env,
    run_jobs,
    run_single,
)
from engine.execute.instrument import go_done_markers
from engine.execute.toolchains import GOCODE
from engine.execute.verdicts import Outcome

HELPER = r"""package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

var __wbStart = func() int { v, _ := strconv.Atoi(os.Getenv("WB_START")); return v }()
var __wbLast = -1
var __wbEnded = true
var __wbRep = map[int]string{}
var __wbOut = os.NewFile(3, "wb")
var __wbFinished int32

func __wbMark(s string) {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 400 {
		s = s[:400]
	}
	__wbOut.WriteString(s + "\n")
}

type __wbTT struct {
	t     *testing.T
	fails int
	msg   string
}

func (w *__wbTT) Errorf(format string, args ...interface{}) {
	w.fails++
	if w.msg == "" {
		w.msg = fmt.Sprintf(format, args...)
	}
	w.t.Errorf(format, args...)
}

func (w *__wbTT) Helper() { w.t.Helper() }

var __wbCur *__wbTT

func __wbT(t *testing.T) *__wbTT { __wbCur = &__wbTT{t: t}; return __wbCur }

func __wbEnd(id int, st, d string) {
	p, seen := __wbRep[id]
	if !seen || (p == "pass" && st != "pass") {
		__wbRep[id] = st
		__wbEnded = true
		__wbMark("E " + strconv.Itoa(id) + " " + st + " " + d)
	}
}

func __wbCase(id int, f func()) {
	if id < __wbStart {
		return
	}
	if id != __wbLast || __wbEnded {
		__wbMark("B " + strconv.Itoa(id))
		__wbLast = id
		__wbEnded = false
	}
	before := 0
	if __wbCur != nil {
		before = __wbCur.fails
		__wbCur.msg = ""
	}
	defer func() {
		if r := recover(); r != nil {
			__wbEnd(id, "error", fmt.Sprint("panic: ", r))
			if __wbCur != nil {
				__wbCur.t.Errorf("panic: %v", r)
			}
			return
		}
		if __wbCur != nil && __wbCur.fails > before {
			__wbEnd(id, "fail", __wbCur.msg)
		} else {
			__wbEnd(id, "pass", "")
		}
	}()
	f()
}

// "D 0" once every test function of the test part has returned (__wbTests of them): an exit or
// a panic before that leaves the program not done.
func __wbDone() {
	if r := recover(); r != nil {
		panic(r)
	}
	if atomic.AddInt32(&__wbFinished, 1) == __wbTests {
		__wbMark("D 0")
	}
}
"""

# -exec program of the batch build: keep the test binary (the package folder is its cwd)
COPY = '#!/bin/sh\nexec cp "$1" ./prog.test\n'
GOFLAGS = ["-count=1", "-gcflags=-e", "-ldflags=-s -w"]


def _test(u: Unit, instrumented: bool) -> tuple[str, int]:
    """The test part and its number of test functions (each reports itself done)."""
    if instrumented:
        return u.plan.test, u.plan.test.count("defer __wbDone()")
    return go_done_markers(u.program.test)


def _write(pkg: Path, u: Unit, instrumented: bool) -> tuple[int, int]:
    test, n = _test(u, instrumented)
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "main_test.go").write_text(u.program.code + "\n" + test, encoding="utf-8", errors="surrogatepass")
    (pkg / "wb_helper_test.go").write_text(HELPER + f"\nconst __wbTests = {n}\n")
    return 1, u.program.code.count("\n") + 1


def _sections(log: str) -> dict[str, str]:
    """`go test`'s output per package: the lines under each `# <import path>` header."""
    out: dict[str, list[str]] = {}
    cur: list[str] | None = None
    for line in log.splitlines():
        if line.startswith("# "):
            cur = out.setdefault(line[2:].split()[0], [])
        elif line.startswith(("ok ", "FAIL", "?")):
            cur = None
        elif cur is not None:
            cur.append(line)
    return {k: "\n".join(v) for k, v in out.items()}


def go_env(ctx: Context, d: str, gopath: str) -> dict[str, str]:
    """A Go compile step's environment: GOPATH mode against Debian's testify, the warm build
    cache, no network, no cgo."""
    gocache = ctx.build_cache / "go"
    gocache.mkdir(parents=True, exist_ok=True)
    return build_env(
        ctx,
        d,
        {
            "GOPATH": f"{gopath}{os.pathsep}{GOCODE}",
            "GO111MODULE": "off",
            "GOCACHE": str(gocache),
            "CGO_ENABLED": "0",
            "GOFLAGS": "",
            "GOENV": "off",
            "GOPROXY": "off",
            "GOTMPDIR": d,
            "GOTELEMETRY": "off",
        },
    )


def start(ctx: Context, units: list[Unit]) -> None:
    go = ctx.tool.commands["go"]

    def genv(d: str, gopath: str) -> dict[str, str]:
        return go_env(ctx, d, gopath)

    def job(u: Unit, binary: str, instrumented: bool) -> dict[str, Any]:
        # (a test part without test functions has nothing to report done: a clean exit is all)
        return {
            "id": u.key,
            "mode": "exec",
            "cases": u.plan.n if instrumented else 0,
            "limits": ctx.limits.run(memory_extra_mb=2048),
            "env": run_env(),
            "argv": ["./prog.test", "-test.paniconexit0"],
            "stage": {"prog.test": binary},
            "done_on_exit0": _test(u, instrumented)[1] == 0,
        }

    def single(u: Unit) -> None:
        def write(d: str, instrumented: bool) -> tuple[int, int]:
            return _write(Path(d), u, instrumented)

        run_single(
            ctx,
            u,
            prefix="go1-",
            filename="main_test.go",
            write=write,
            job=lambda d, inst: job(u, os.path.join(d, "prog.test"), inst),
            compile_=lambda d: compile_step(
                ctx,
                d,
                [go, "test", "-c", *GOFLAGS, "-o", "prog.test", "."],
                genv(d, os.path.join(d, "gopath")),
                ro=(str(GOCODE),),
            ),
        )

    def batch(group: list[Unit]) -> None:
        d = ctx.new_dir("go-")
        tag = "b" + secrets.token_hex(8)  # the import path prefix: no program can name another
        root = Path(d, "gopath", "src", tag)
        lines = {}
        for i, u in enumerate(group):
            lines[i] = _write(root / f"p{i}", u, True)
        copier = Path(d, "copy.sh")
        copier.write_text(COPY)
        copier.chmod(0o755)
        res = compile_step(
            ctx,
            d,
            [go, "test", "-exec", str(copier), *GOFLAGS, f"{tag}/..."],
            genv(d, os.path.join(d, "gopath")),
            n_programs=len(group),
            ro=(str(GOCODE),),
        )
        log = build_log(res)
        sections = _sections(log)
        built = []
        for i, u in enumerate(group):
            binary = root / f"p{i}" / "prog.test"
            if binary.exists():
                built.append((u, str(binary)))
                continue
            own = sections.get(f"{tag}/p{i}", "")
            if own and errors_only_in(own, "main_test.go", *lines[i]):
                ctx.emit(u, Outcome("compile_error", own, n_cases=max(u.plan.n, 1)))
            elif not own and res.get("reason") is not None:  # the whole build broke a limit
                ctx.emit(u, Outcome("compile_error", log, n_cases=max(u.plan.n, 1)))
            else:  # instrumentation or the harness may be at fault: build it alone, as written too
                ctx.submit(P_BUILD, partial(single, u))
        paths = {u.key: b for u, b in built}

        def batch_job(v: Unit) -> dict[str, Any]:
            return job(v, paths[v.key], True)

        for part in chunks([u for u, _ in built], ctx.workers):
            ctx.submit(P_RUN, partial(run_jobs, ctx, part, batch_job, {}))

    for group in chunks(units, ctx.workers, min_size=24, per_worker=1):
        ctx.submit(P_BUILD, partial(batch, group))
