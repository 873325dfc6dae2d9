"""Go: programs are grouped into packages whose files declare no name twice (HumanEval reuses
names such as `IsPalindrome`), each package is built with one `go test -c` (vet included, as
`go test` does) against Debian's testify in GOPATH mode with a warm build cache, and each
program runs its own test functions in its own process (`pkg.test -test.run '^TestX$'`).
Programs of a package that fails to build are built on their own, as the reference does
(`go test main_test.go`)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from engine.execute.core import (BatchPlan, Context, P_SINGLE, Unit, build_env, build_log, build_ok,
                                 compile_step, drive_batches, run_env, run_jobs, run_single)
from engine.execute.instrument import mask
from engine.execute.toolchains import GOCODE

HELPER = r"""package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

var __wbStart = func() int { v, _ := strconv.Atoi(os.Getenv("WB_START")); return v }()
var __wbLast = -1
var __wbEnded = true
var __wbRep = map[int]string{}
var __wbOut = os.NewFile(3, "wb")

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

func __wbDone() {
	if r := recover(); r != nil {
		panic(r)
	}
	__wbMark("D 0")
}
"""

_DECL = re.compile(r"^(?:func\s+([A-Za-z_]\w*)\s*[\[(]|(?:type|var|const)\s+([A-Za-z_]\w*))", re.M)
_BLOCK = re.compile(r"^(?:type|var|const)\s*\(", re.M)


def identifiers(text: str) -> set[str]:
    """Package-level names a Go file declares (what must not clash inside one package)."""
    m = mask(text, "go")
    names = {a or b for a, b in _DECL.findall(m)}
    for hit in _BLOCK.finditer(m):
        depth, j = 1, hit.end()
        line_start = True
        while j < len(m) and depth:
            ch = m[j]
            if ch in "([{":
                depth += 1
            elif ch in ")]}":
                depth -= 1
            elif ch == "\n":
                line_start = True
                j += 1
                continue
            if line_start and depth == 1 and (ch.isalpha() or ch == "_"):
                w = re.match(r"[A-Za-z_]\w*", m[j:])
                if w:
                    names.add(w.group(0))
            if not ch.isspace():
                line_start = False
            j += 1
    names.discard("init")
    names.discard("_")
    return names


def test_names(text: str) -> list[str]:
    return re.findall(r"^func\s+(Test\w*)\s*\(\s*\w+\s+\*testing\.T\s*\)", mask(text, "go"), re.M)


def _file(u: Unit, instrumented: bool) -> str:
    return u.program.code + "\n" + (u.plan.test if instrumented else u.program.test)


_IMPORT_BLOCK = re.compile(r"^import\s*\(([^)]*)\)|^import\s+([^\n]+)", re.M)


def unused_import(text: str) -> bool:
    """Does a file import a package it never uses? Go refuses to compile that, and one such file
    would fail a whole package (HumanEvalPack Go/27 does it; models do it often)."""
    m = mask(text, "go")
    specs: list[tuple[str, str]] = []
    for hit in _IMPORT_BLOCK.finditer(m):
        a, b = hit.span()
        body = text[a:b]
        for line in body.splitlines():
            q = re.search(r'(?:^|\s|\()(\w+|\.|_)?\s*"([^"]+)"', line)
            if q:
                specs.append((q.group(1) or "", q.group(2)))
    code = _IMPORT_BLOCK.sub("", m)
    for alias, path in specs:
        if alias in (".", "_"):
            continue
        name = alias or path.rsplit("/", 1)[-1]
        if not re.search(r"\b" + re.escape(name) + r"\s*\.", code):
            return True
    return False


def batchable(u: Unit) -> bool:
    text = _file(u, True)
    m = mask(text, "go")
    return (m.count("{") == m.count("}") and bool(test_names(text)) and not unused_import(text)
            and re.search(r"^package\s+main\b", m, re.M) is not None and "__wb" not in u.program.code)


def group(units: list[Unit], workers: int, max_size: int = 90) -> list[list[Unit]]:
    """Greedy packing into packages without clashing names (at least `workers` packages)."""
    n_min = max(1, min(workers, len(units) // 24 or 1))
    bins: list[tuple[set[str], list[Unit]]] = [(set(), []) for _ in range(n_min)]
    for u in units:
        ids = identifiers(_file(u, True))
        best = None
        for b in sorted(bins, key=lambda b: len(b[1])):
            if len(b[1]) < max_size and not (ids & b[0]):
                best = b
                break
        if best is None:
            best = (set(), [])
            bins.append(best)
        best[0].update(ids)
        best[1].append(u)
    return [b[1] for b in bins if b[1]]


def start(ctx: Context, units: list[Unit]) -> None:
    go = ctx.tool.commands["go"]
    gocache = ctx.cache / "go-build"
    gocache.mkdir(parents=True, exist_ok=True)

    def genv(d: str) -> dict:
        return build_env(ctx, d, {"GOPATH": f"{d}/gopath{os.pathsep}{GOCODE}", "GO111MODULE": "off",
                                  "GOCACHE": str(gocache), "CGO_ENABLED": "0", "GOFLAGS": "", "GOENV": "off",
                                  "GOPROXY": "off", "GOTMPDIR": d, "GOTELEMETRY": "off"})

    def build(d: str, n: int) -> dict:
        return compile_step(ctx, d, [go, "test", "-c", "-gcflags=-e", "-o", "prog.test", "."], genv(d), n_programs=n,
                            rw=(str(gocache),), ro=(str(GOCODE),))

    def build_batch(grp: list[Unit]) -> tuple[bool, str, dict]:
        d = ctx.new_dir("go-")
        Path(d, "wb_helper_test.go").write_text(HELPER)
        for i, u in enumerate(grp):
            Path(d, f"p{i}_test.go").write_text(_file(u, True))
        res = build(d, len(grp))
        return build_ok(res), build_log(res), {"dir": d, "group": list(grp)}

    def blame(log: str, grp: list[Unit], art: dict) -> set[int]:
        out = set()
        for m in re.finditer(r"(?m)^(?:\./|[^\s:]*/)?p(\d+)_test\.go:\d+", log):
            if int(m.group(1)) < len(grp):
                out.add(int(m.group(1)))
        return out

    def run_batch(part: list[Unit], art: dict) -> None:
        binary = os.path.join(art["dir"], "prog.test")

        def job(u: Unit) -> dict:
            names = "|".join(test_names(_file(u, True)))
            return {"id": u.key, "mode": "exec", "cases": u.plan.n, "limits": ctx.limits.run(memory_extra_mb=2048),
                    "env": run_env(), "argv": [binary, "-test.run", f"^({names})$", "-test.paniconexit0"]}
        run_jobs(ctx, part, job, {})

    def single(u: Unit) -> None:
        def write(d: str, instrumented: bool) -> tuple[int, int]:
            Path(d, "main_test.go").write_text(_file(u, instrumented))
            if instrumented:
                Path(d, "wb_helper_test.go").write_text(HELPER)
            return 1, u.program.code.count("\n") + 1

        def job(d: str, instrumented: bool) -> dict:
            return {"id": u.key, "mode": "exec", "cases": u.plan.n if instrumented else 0,
                    "limits": ctx.limits.run(memory_extra_mb=2048), "env": run_env(),
                    "argv": [os.path.join(d, "prog.test"), "-test.paniconexit0"], "done_on_exit0": not instrumented}

        run_single(ctx, u, prefix="go1-", filename="main_test.go", write=write, job=job, compile_=lambda d: build(d, 1))

    plan = BatchPlan("go", build_batch, blame, run_batch, single, max_batch=120)
    ok = [u for u in units if batchable(u)]
    drive_batches(ctx, plan, group(ok, ctx.workers) if ok else [])
    for u in units:
        if not batchable(u):
            ctx.submit(P_SINGLE, lambda u=u: single(u))


__all__ = ["start", "identifiers", "group"]
