"""Stdin/stdout problems: the executor against a plain subprocess-per-case harness, in one command.

A synthetic CodeContests-layout set (no stdio set ships with the shared data): P problems of C
cases each (sum of n integers, n up to 2000, some sums past 32 bits), a right program per
language for every problem. Run twice:
  * ours      engine.execute: each program built once with its runner's compile command, each
              case a process of its own in the sandbox (fresh folder and uid), outputs compared
              by the CodeContests rule;
  * baseline  what a plain harness does: the same program built once with the usual contest
              command (g++ -std=c++17 -O2, rustc -O, go build, javac, node, python3), then
              `subprocess.run(argv, input=case)` per case in a temp folder, no sandbox, the same
              comparison; as many threads as cores.
Prints wall time, cases/s, the ratio (baseline time / ours: below 1 is what the sandbox costs per
case) overall and per language, and any verdict that differs.

    .venv/bin/python bench/executor_stdio.py [--problems 8] [--cases 25] [--languages python,cpp]
                                             [--workers N] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.execute import execute  # noqa: E402
from engine.execute.toolchains import probe  # noqa: E402
from engine.problems import judges, load_problems  # noqa: E402

PROGRAMS = {
    "python": (
        "main.py",
        None,
        ["python3", "main.py"],
        "import sys\nd = sys.stdin.buffer.read().split()\nprint(sum(map(int, d[1:1 + int(d[0])])))\n",
    ),
    "cpp": (
        "main.cpp",
        ["g++", "-std=c++17", "-O2", "-w", "-o", "prog", "main.cpp"],
        ["./prog"],
        "#include <bits/stdc++.h>\nint main() { int n; long long s = 0, x; if (scanf(\"%d\", &n) != 1) return 1;\n"
        "  for (int i = 0; i < n; i++) { if (scanf(\"%lld\", &x) != 1) return 1; s += x; }\n"
        "  printf(\"%lld\\n\", s); }\n",
    ),
    "rust": (
        "main.rs",
        ["rustc", "--edition", "2021", "-O", "-o", "prog", "main.rs"],
        ["./prog"],
        "use std::io::Read;\nfn main() {\n    let mut t = String::new();\n"
        "    std::io::stdin().read_to_string(&mut t).unwrap();\n"
        "    let v: Vec<i64> = t.split_whitespace().map(|x| x.parse().unwrap()).collect();\n"
        "    let s: i64 = v[1..=v[0] as usize].iter().sum();\n    println!(\"{}\", s);\n}\n",
    ),
    "go": (
        "main.go",
        ["go", "build", "-o", "prog", "main.go"],
        ["./prog"],
        "package main\n\nimport (\n\t\"bufio\"\n\t\"fmt\"\n\t\"os\"\n)\n\nfunc main() {\n"
        "\tr := bufio.NewReader(os.Stdin)\n\tvar n int\n\tfmt.Fscan(r, &n)\n\tvar s int64\n"
        "\tfor i := 0; i < n; i++ {\n\t\tvar x int64\n\t\tfmt.Fscan(r, &x)\n\t\ts += x\n\t}\n\tfmt.Println(s)\n}\n",
    ),
    "java": (
        "Main.java",
        ["javac", "-d", ".", "Main.java"],
        ["java", "-Xss8m", "-cp", ".", "Main"],
        "import java.io.*;\nimport java.util.*;\n\npublic class Main {\n"
        "  public static void main(String[] a) throws IOException {\n"
        "    StreamTokenizer t = new StreamTokenizer(new BufferedReader(new InputStreamReader(System.in)));\n"
        "    t.resetSyntax(); t.wordChars('-', '-'); t.wordChars('0', '9'); t.whitespaceChars(0, ' ');\n"
        "    t.nextToken(); int n = Integer.parseInt(t.sval); long s = 0;\n"
        "    for (int i = 0; i < n; i++) { t.nextToken(); s += Long.parseLong(t.sval); }\n"
        "    System.out.println(s);\n  }\n}\n",
    ),
    "javascript": (
        "main.js",
        None,
        ["node", "main.js"],
        "const t = require('fs').readFileSync(0, 'utf8').trim().split(/\\s+/).map(Number);\n"
        "let s = 0;\nfor (let i = 1; i <= t[0]; i++) s += t[i];\nconsole.log(String(s));\n",
    ),
}


def make_set(path: Path, n_problems: int, n_cases: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    rows = []
    for p in range(n_problems):
        ins, outs = [], []
        for _ in range(n_cases):
            xs = [rng.randint(-2 * 10**9, 2 * 10**9) for _ in range(rng.randint(1, 2000))]
            ins.append(f"{len(xs)}\n{' '.join(map(str, xs))}\n")
            outs.append(f"{sum(xs)}\n")
        rows.append(
            {
                "name": f"{p}_A. Sum",
                "description": "Print the sum.",
                "public_tests": {"input": ins[:1], "output": outs[:1]},
                "private_tests": {"input": ins[1:], "output": outs[1:]},
                "time_limit": {"seconds": 5},
                "memory_limit_bytes": 512 << 20,
            }
        )
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _tool(argv: list[str]) -> list[str]:
    """The same binaries as the executor's (not a PATH shim)."""
    cmds = {k: v for lang in PROGRAMS for k, v in probe(lang).commands.items()}
    head = {"python3": cmds.get("python"), "rustc": cmds.get("rustc")}.get(argv[0]) or cmds.get(argv[0]) or argv[0]
    return [head, *argv[1:]]


def baseline_one(lang: str, cases: list[tuple[str, str]], timeout: float) -> bool:
    """Build once, run every case as a plain subprocess (stdin from a file, as ours); passed when
    every case matches."""
    src, build, run, code = PROGRAMS[lang]
    d = tempfile.mkdtemp(prefix="wb-stdio-base-")
    try:
        Path(d, src).write_text(code)
        env = {**os.environ, "GO111MODULE": "off", "CGO_ENABLED": "0"}
        if build and subprocess.run(_tool(build), cwd=d, capture_output=True, env=env, timeout=300).returncode != 0:
            return False
        ok = True
        for k, (inp, want) in enumerate(cases):
            Path(d, f"in{k}").write_text(inp)
            try:
                with open(Path(d, f"in{k}")) as stdin:
                    p = subprocess.run(_tool(run), cwd=d, stdin=stdin, capture_output=True, timeout=timeout, env=env)
            except subprocess.TimeoutExpired:
                ok = False
                continue
            ok = (
                ok
                and p.returncode == 0
                and judges.outputs_match("codecontests", p.stdout.decode(errors="replace"), want)
            )
        return ok
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--problems", type=int, default=8)
    ap.add_argument("--cases", type=int, default=25)
    ap.add_argument("--languages", default=",".join(PROGRAMS))
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    langs = args.languages.split(",")
    for lang in langs:
        if not probe(lang).ok:
            print(f"warning: {lang} toolchain incomplete: {probe(lang).missing}", file=sys.stderr)
    work = Path(tempfile.mkdtemp(prefix="wb-stdio-bench-"))
    try:
        make_set(work / "set.jsonl", args.problems, args.cases)
        problems = load_problems(str(work / "set.jsonl"))
        samples = [
            {"task_id": p.task_id, "solution": PROGRAMS[lang][3], "language": lang} for lang in langs for p in problems
        ]
        n_cases = len(samples) * args.cases
        # warm the one-time caches (Rust crates, Go's standard library) for both sides
        execute(problems[:1], [dict(s) for s in samples if s["task_id"] == problems[0].task_id], cache=False)
        print(
            f"{len(samples)} programs x {args.cases} cases, {args.workers} workers, {os.cpu_count()} cores", flush=True
        )
        figures: dict = {"programs": len(samples), "cases": n_cases, "workers": args.workers}
        ours_t: dict[str, float] = {}
        ours_ok: dict[tuple[str, str], bool] = {}
        base_t: dict[str, float] = {}
        base_ok: dict[tuple[str, str], bool] = {}
        for lang in langs:  # (interleaved: a change of the machine's load hits both sides)
            t0 = time.monotonic()
            rep = execute(problems, [s for s in samples if s["language"] == lang], workers=args.workers, cache=False)
            ours_t[lang] = time.monotonic() - t0
            ours_ok.update({(lang, r["task_id"]): r["verdict"] == "passed" for r in rep.results})
            t0 = time.monotonic()
            with ThreadPoolExecutor(max_workers=args.workers) as pool:
                got = pool.map(
                    lambda p, lang=lang: baseline_one(lang, [(c.input, c.output) for c in p.io_cases], 10.0), problems
                )
                base_ok.update({(lang, p.task_id): ok for p, ok in zip(problems, got)})
            base_t[lang] = time.monotonic() - t0
        ours_s, base_s = sum(ours_t.values()), sum(base_t.values())
        for name, t, ok in (("ours", ours_s, ours_ok), ("baseline", base_s, base_ok)):
            print(f"{name:9} {t:7.1f}s  {n_cases / t:7.1f} cases/s  passed {sum(ok.values())}/{len(ok)}")
        print(f"ratio     {base_s / ours_s:.2f}x (baseline time / ours; below 1: the sandbox's cost per case)")
        for lang in langs:
            print(
                f"  {lang:10} ours {ours_t[lang]:6.1f}s  baseline {base_t[lang]:6.1f}s  "
                f"{base_t[lang] / ours_t[lang]:5.2f}x"
            )
        disagree = sorted(f"{k[0]}:{k[1]}" for k in ours_ok if ours_ok[k] != base_ok.get(k))
        print(
            f"agreement {len(ours_ok) - len(disagree)}/{len(ours_ok)}" + (f"  differ: {disagree}" if disagree else "")
        )
        figures.update(
            {
                "ours_s": round(ours_s, 2),
                "baseline_s": round(base_s, 2),
                "ratio": round(base_s / ours_s, 2),
                "ratio_per_language": {k: round(base_t[k] / ours_t[k], 2) for k in langs},
                "ours_per_language_s": {k: round(v, 2) for k, v in ours_t.items()},
                "baseline_per_language_s": {k: round(v, 2) for k, v in base_t.items()},
                "agreement": len(ours_ok) - len(disagree),
                "disagreements": disagree,
            }
        )
        if args.json:
            Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
