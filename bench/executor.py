"""The executor against the reference harness's shape, in one command.

All 984 HumanEvalPack canonical programs (six languages x 164) run twice:
  * ours      engine.execute (compile-only batches linked one program per binary, one process per
              program, sandbox, per-test-case results), all languages at once and each alone;
  * baseline  one process per program with the commands of bigcode's `code_eval_octopack`
              (CodeGeeX's execution.py): Python exec'd in a forked process with a
              multiprocessing.Manager per sample; `g++ -std=c++11 test.cpp -lcrypto -lssl && ./a.out`;
              `go test main_test.go`; `javac Main.java` (5 s timeout, 5 tries) and `java -cp . Main`;
              `node test.js` judged by exit code; Rust: `cargo check` + `cargo test` in one shared
              project (hence one worker). Its worker counts and timeouts are bigcode's.
Both use the same toolchains, the same offline crates (regex, md5, a rand 0.4 shim) and the same
testify, so the comparison is about the executors. Prints wall time, programs/s, the ratio
overall and per language (ours with that language alone against the reference's time for it),
and where the verdicts disagree (with the reason when the reference is the one that is wrong).

    .venv/bin/python bench/executor.py [--data-dir ../shared/data] [--languages python,go] [--limit N]
                                       [--samples canonical|buggy] [--skip-baseline] [--skip-per-language]
                                       [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.execute import Limits, execute  # noqa: E402
from engine.execute.doctor import KNOWN_UPSTREAM  # noqa: E402
from engine.execute.langs.rust_support import RAND_SHIM  # noqa: E402
from engine.execute.toolchains import GOCODE, crate_dir, exec_cache_dir, find_js_md5, probe  # noqa: E402
from engine.problems import assemble, load_problems  # noqa: E402

# bigcode humanevalpack.py: LANGUAGE_TO_TIMEOUT / LANGUAGE_TO_NUM_WORKERS
REF_TIMEOUT = {"python": 10, "cpp": 60, "javascript": 10, "java": 10, "go": 20, "rust": 300}
REF_WORKERS = {"python": 4, "cpp": 4, "javascript": 4, "java": 1, "go": 4, "rust": 1}


# ----------------------------------------------------------------------------------------------
# the baseline: one process per program, the reference's commands and pass rules

def _py_child(program: str, timeout: float, result) -> None:  # noqa: ANN001
    """What the reference does in its forked process: exec with stdout swallowed and a SIGALRM limit."""
    import contextlib
    import io
    import signal

    d = tempfile.mkdtemp()
    os.chdir(d)

    def on_alarm(*_a) -> None:  # noqa: ANN002
        raise TimeoutError("timed out")
    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            exec(program, {})  # noqa: S102 - the baseline is the unsandboxed reference shape
        result.append("passed")
    except TimeoutError:
        result.append("timed out")
    except BaseException as e:  # noqa: BLE001
        result.append(f"failed: {e}")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        shutil.rmtree(d, ignore_errors=True)


def ref_python(program: str, timeout: float) -> bool:
    manager = multiprocessing.Manager()
    try:
        result = manager.list()
        p = multiprocessing.Process(target=_py_child, args=(program, timeout, result))
        p.start()
        p.join(timeout + 1)
        if p.is_alive():
            p.kill()
        return bool(result) and result[0] == "passed"
    finally:
        manager.shutdown()


def _run(argv: list[str], cwd: str, timeout: float, env: dict | None = None) -> subprocess.CompletedProcess | None:
    try:
        return subprocess.run(argv, cwd=cwd, timeout=timeout, capture_output=True, env=env)
    except subprocess.TimeoutExpired:
        return None


def ref_cpp(program: str, timeout: float) -> bool:
    with tempfile.TemporaryDirectory() as d:
        Path(d, "test.cpp").write_text(program)
        c = _run(["g++", "-std=c++11", "test.cpp", "-lcrypto", "-lssl"], d, timeout)
        if c is None or c.returncode != 0:
            return False
        r = _run(["./a.out"], d, timeout)
        return r is not None and r.returncode == 0


def ref_go(program: str, timeout: float, env: dict) -> bool:
    with tempfile.TemporaryDirectory() as d:
        Path(d, "main_test.go").write_text(program)
        r = _run(["go", "test", f"-timeout={timeout}s", "main_test.go"], d, timeout, env)
        return r is not None and r.returncode == 0


def ref_java(program: str, timeout: float) -> bool:
    with tempfile.TemporaryDirectory() as d:
        Path(d, "Main.java").write_text(program)
        c = None
        for _ in range(5):  # the reference retries javac on its fixed 5 s timeout
            c = _run(["javac", "Main.java"], d, 5)
            if c is not None:
                break
        if c is None or c.returncode != 0:
            return False
        r = _run(["java", "-cp", ".", "Main"], d, timeout)
        return r is not None and r.returncode == 0


def ref_js(program: str, timeout: float, env: dict) -> bool:
    with tempfile.TemporaryDirectory() as d:
        Path(d, "test.js").write_text(program)
        r = _run(["node", "test.js"], d, timeout, env)
        return r is not None and r.returncode == 0   # exit code only: console.assert never fails it


def cargo_project(base: Path) -> tuple[Path, dict]:
    """A cargo project like the reference's, with its crates served offline from a local folder."""
    vendor = base / "vendor"
    for name in ("regex", "regex-syntax", "md5"):
        src = crate_dir(name)
        if src is None:
            raise SystemExit(f"crate {name} missing (apt-get install librust-{name}-dev)")
        dst = vendor / src.name
        if not dst.exists():
            shutil.copytree(src, dst, symlinks=True)
            (dst / ".cargo-checksum.json").write_text(json.dumps({"files": {}, "package": None}))
    rand = vendor / "rand-0.4.6"
    (rand / "src").mkdir(parents=True, exist_ok=True)
    (rand / "src" / "lib.rs").write_text(RAND_SHIM)
    (rand / "Cargo.toml").write_text('[package]\nname = "rand"\nversion = "0.4.6"\nedition = "2018"\n')
    (rand / ".cargo-checksum.json").write_text(json.dumps({"files": {}, "package": None}))
    proj = base / "rust"
    (proj / "src" / "bin").mkdir(parents=True, exist_ok=True)
    (proj / ".cargo").mkdir(exist_ok=True)
    (proj / ".cargo" / "config.toml").write_text(
        f'[source.crates-io]\nreplace-with = "local"\n[source.local]\ndirectory = "{vendor}"\n'
        '[net]\noffline = true\n')
    # the reference's Cargo.toml (rand 0.4, regex 1, md5 0.7); regex without its default "perf"
    # feature, whose extra crates Debian does not package
    (proj / "Cargo.toml").write_text(
        '[package]\nname = "rust"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\nrand = "0.4"\n'
        'regex = { version = "1", default-features = false, features = ["std", "unicode", "perf-cache", '
        '"perf-dfa", "perf-inline"] }\nmd5 = "0.7.0"\n')
    env = {**os.environ, "CARGO_TARGET_DIR": str(proj / "target"), "CARGO_NET_OFFLINE": "true"}
    return proj, env


def ref_rust(program: str, timeout: float, proj: Path, env: dict) -> bool:
    (proj / "src" / "bin" / "test.rs").write_text(program)
    c = _run(["cargo", "check", "--bin", "test", "--message-format", "json"], str(proj), timeout, env)
    if c is None or c.returncode != 0:
        return False
    r = _run(["cargo", "test", "--bin", "test", "--message-format", "json"], str(proj), timeout, env)
    return r is not None and r.returncode == 0


def baseline(problems: list, which: str, scale: float = 1.0) -> tuple[dict[str, bool], float, dict[str, float]]:
    """Verdicts (task id -> passed) of the one-process-per-program executor, its wall time, and
    the wall time per language."""
    base = Path(tempfile.mkdtemp(prefix="wb-bench-"))
    go_env = {**os.environ, "GO111MODULE": "off", "GOPATH": str(GOCODE), "GOFLAGS": "",
              "GOCACHE": str(exec_cache_dir() / "go-build"), "CGO_ENABLED": "0"}
    md5 = find_js_md5()
    js_env = {**os.environ, **({"NODE_PATH": str(md5)} if md5 else {})}
    out: dict[str, bool] = {}
    per_lang: dict[str, float] = {}
    t_all = time.monotonic()
    try:
        proj, cargo_env = cargo_project(base) if any(p.language == "rust" for p in problems) else (None, None)
        if proj is not None:  # the reference's first cargo build fetches and compiles the crates
            (proj / "src" / "bin" / "test.rs").write_text("fn main() {}\n")
            _run(["cargo", "build", "--quiet", "--bin", "test"], str(proj), 900, cargo_env)
        for lang in ("python", "javascript", "java", "go", "cpp", "rust"):
            ps = [p for p in problems if p.language == lang and p.reference(which) is not None]
            if not ps:
                continue
            progs = [(p.task_id, assemble(p, p.reference(which), p.solution_kind).text) for p in ps]
            tmo = REF_TIMEOUT[lang]
            fn = {"python": lambda t: ref_python(t, tmo), "cpp": lambda t: ref_cpp(t, tmo),
                  "go": lambda t: ref_go(t, tmo, go_env), "java": lambda t: ref_java(t, tmo),
                  "javascript": lambda t: ref_js(t, tmo, js_env),
                  "rust": lambda t: ref_rust(t, tmo, proj, cargo_env)}[lang]
            t0 = time.monotonic()
            with ThreadPoolExecutor(max_workers=max(1, int(REF_WORKERS[lang] * scale))) as pool:
                for (tid, _), ok in zip(progs, pool.map(fn, [t for _, t in progs])):
                    out[tid] = ok
            per_lang[lang] = time.monotonic() - t0
            print(f"  baseline {lang:10} {len(progs):4d} programs {per_lang[lang]:7.1f}s", flush=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return out, time.monotonic() - t_all, per_lang


# ----------------------------------------------------------------------------------------------

WHY_REFERENCE_WRONG = {
    "javascript": "judged by exit code, but the tests use console.assert, which never fails the process",
}


def run_ours(problems: list, samples: str, workers: int) -> tuple[object, float]:
    t0 = time.monotonic()
    rep = execute(problems, samples, workers=workers, limits=Limits(timeout=10.0), cache=False)
    return rep, time.monotonic() - t0


def per_language_ours(problems: list, samples: str, workers: int, langs: list[str]) -> dict[str, float]:
    """Each language run on its own (the combined run overlaps them, so its time does not split)."""
    out = {}
    for lang in langs:
        ps = [p for p in problems if p.language == lang]
        if ps:
            out[lang] = run_ours(ps, samples, workers)[1]
            print(f"  ours     {lang:10} {len(ps):4d} programs {out[lang]:7.1f}s (alone)", flush=True)
    return out


def report_disagreements(ours: dict[str, bool], ref: dict[str, bool], rep, problems: list) -> list[str]:  # noqa: ANN001
    disagree = sorted(t for t in ours if ref.get(t) is not None and ref[t] != ours[t])
    lang_of = {p.task_id: p.language for p in problems}
    print(f"agreement {len(ours) - len(disagree)}/{len(ours)} verdicts (passed / not passed)")
    for t in disagree:
        lang = lang_of[t]
        v = next(r for r in rep.results if r["task_id"] == t)
        why = WHY_REFERENCE_WRONG.get(lang, "")
        note = (f"(reference wrong: {why})" if why and ref[t] and not ours[t]
                else f"(known upstream: {KNOWN_UPSTREAM[t]})" if t in KNOWN_UPSTREAM
                else v["detail"][:120].replace("\n", " "))
        print(f"  {t:16} ours: {v['verdict']:14} reference: {'passed' if ref[t] else 'failed':7} {note}")
    return disagree


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--languages", default="python,javascript,java,go,cpp,rust")
    ap.add_argument("--limit", type=int, default=None, help="first N problems per language")
    ap.add_argument("--samples", default="canonical", choices=["canonical", "buggy"])
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="our executor's workers")
    ap.add_argument("--skip-baseline", action="store_true")
    ap.add_argument("--skip-per-language", action="store_true", help="do not time each language alone")
    ap.add_argument("--json", default=None, help="also write the figures to this JSON file")
    args = ap.parse_args()
    langs = args.languages.split(",")
    problems = []
    for lang in langs:
        ps = load_problems(f"humanevalpack:{lang}", args.data_dir, offline=True)
        problems += ps[: args.limit] if args.limit else ps
    for lang in set(langs):
        if not probe(lang).ok:
            print(f"warning: {lang} toolchain incomplete: {probe(lang).missing}", file=sys.stderr)

    # warm the one-time caches (Rust crates, Go's standard library, the Java helper) first, so
    # both executors start warm, as a contest machine does after its first run
    execute([p for p in problems if p.task_id.endswith("/0")], args.samples, workers=args.workers,
            cache=False)
    print(f"{len(problems)} {args.samples} programs, {args.workers} workers, {os.cpu_count()} cores", flush=True)
    rep, ours_s = run_ours(problems, args.samples, args.workers)
    ours = {r["task_id"]: r["verdict"] == "passed" for r in rep.results}
    by_lang_ours = {lang: sum(1 for r in rep.results if r["language"] == lang and r["verdict"] == "passed")
                    for lang in langs}
    print(f"ours      {ours_s:7.1f}s  {len(problems) / ours_s:6.1f} programs/s  passed {sum(ours.values())}"
          f"/{len(ours)}  {dict(rep.summary['verdicts'])}", flush=True)
    figures: dict = {"programs": len(problems), "samples": args.samples, "workers": args.workers,
                     "cores": os.cpu_count(), "ours_s": round(ours_s, 2),
                     "ours_programs_per_s": round(len(problems) / ours_s, 2), "ours_passed": by_lang_ours}
    alone = {} if args.skip_per_language else per_language_ours(problems, args.samples, args.workers, langs)
    if alone:
        figures["ours_per_language_s"] = {k: round(v, 2) for k, v in alone.items()}
    if not args.skip_baseline:
        ref, ref_s, per_lang = baseline(problems, args.samples)
        print(f"baseline  {ref_s:7.1f}s  {len(problems) / ref_s:6.1f} programs/s  passed {sum(ref.values())}/{len(ref)}")
        print(f"ratio     {ref_s / ours_s:.1f}x faster overall (goal: >= 15x)")
        ratios = {lang: round(per_lang[lang] / alone[lang], 2) for lang in alone if lang in per_lang}
        for lang, r in ratios.items():
            print(f"  {lang:10} reference {per_lang[lang]:7.1f}s  ours alone {alone[lang]:6.1f}s  {r:6.1f}x")
        disagree = report_disagreements(ours, ref, rep, problems)
        figures.update({"baseline_s": round(ref_s, 2), "baseline_programs_per_s": round(len(problems) / ref_s, 2),
                        "ratio": round(ref_s / ours_s, 2), "agreement": len(ours) - len(disagree),
                        "disagreements": disagree, "ratio_per_language": ratios,
                        "baseline_per_language_s": {k: round(v, 1) for k, v in per_lang.items()}})
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
