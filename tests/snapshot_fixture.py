"""A deterministic, filled workspace for the snapshot tests (and for a look by hand): two local
datasets (processed), one hub entry, a mixture, a finished run with two checkpoints, a run
mid-run (heartbeat from another host, so no live process is needed), and two validations of
the finished run with failures of every kind. Everything comes from fixed values: no training,
no generation, no clock, no host name, no absolute path on screen.

    python -m tests.snapshot_fixture DIR     # build it in DIR (then `workbench -w DIR`)
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

from engine.fsutil import atomic_write_json
from engine.runs import RunDir, RunState
from engine.validate.store import ValidationDir, write_jsonl
from engine.workspace import DatasetEntry, Workspace

FIXED_NOW = 1740830400.0          # 2025-03-01 12:00:00 UTC: what the app's clock says
HOST = "gpu-box-7"                # not this machine: a run there is trusted on its heartbeat
FINISHED = "20250301-091500-mft-1b8-a1b2"
MIDRUN = "20250301-113000-mft-1b8-coba-c3d4"
TASKS = ["python", "javascript"]
CONTEST = [f"humaneval{k}-{lang}" for k in ("synthesize", "fixtests")
           for lang in ("python", "js", "java", "go", "cpp", "rust")] + ["mbpp"]
LANG = {"python": "python", "js": "javascript", "java": "java", "go": "go", "cpp": "cpp", "rust": "rust"}
VERDICTS = ["passed", "failed", "passed", "compile_error", "passed", "timeout", "passed", "runtime_error"]


# -- datasets -------------------------------------------------------------------------------------
def _python_rows() -> list[dict[str, str]]:
    rows = [{"instruction": f"Write a Python function `add_{i}(x)` that returns x + {i}.",
             "output": f"```python\ndef add_{i}(x):\n    return x + {i}\n```"} for i in range(10)]
    rows.append({"instruction": "Reverse a string in Python.", "output": "I'm sorry, but I can't help with that."})
    rows.append({"instruction": "Parse a number.", "output": "```python\ndef parse(s:\n    return int(s)\n```"})
    return rows


def _javascript_rows() -> list[dict[str, str]]:
    return [{"instruction": f"Write a JavaScript function `times${i}(x)` that returns x * {i}.",
             "output": f"```javascript\nconst times{i} = (x) => x * {i};\n```"} for i in range(8)]


def _write_rows(path: Path, rows: list[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def add_datasets(ws: Workspace) -> None:
    from engine.data.pipeline import ProcessOptions, process

    _write_rows(ws.root / "data" / "code_python.jsonl", _python_rows())
    _write_rows(ws.root / "data" / "code_javascript.jsonl", _javascript_rows())
    ws.config.datasets["code_python"] = DatasetEntry(path="data/code_python.jsonl",
                                                     description="Python instructions with fenced answers")
    ws.config.datasets["code_javascript"] = DatasetEntry(path="data/code_javascript.jsonl",
                                                         description="JavaScript instructions")
    ws.config.datasets["magicoder_evol_instruct_110k"] = DatasetEntry(
        hub="ise-uiuc/Magicoder-Evol-Instruct-110K", description="Evol-Instruct code data (hub)")
    ws.config.hub.offline = True
    ws.save()
    for name in ("code_python", "code_javascript"):
        process(ws, name, ProcessOptions(inputs=[name], decontaminate=False, near_dedup=False, workers=1))
        report = ws.datasets_dir / name / "report.json"
        rep = json.loads(report.read_text())
        # the engine's fingerprints hash the folder's path and mtimes: fixed ones keep the
        # mixture's id (on the Mixtures screen) the same on every machine
        rep.update(created=FIXED_NOW - 7200, seconds=0.5, key=f"fixture-{name}", fingerprint=f"fixture-{name}")
        atomic_write_json(report, rep)
        for dropped in (ws.datasets_dir / name / "dropped").glob("*.jsonl"):   # where a row came from: relative
            dropped.write_text(dropped.read_text().replace(str(ws.root) + "/", ""))


def add_mixture(ws: Workspace) -> None:
    from engine.mixture import store

    store.create(ws, "py-js")


# -- runs -----------------------------------------------------------------------------------------
def _record(step: int, total: int, *, coba: bool = False) -> dict[str, Any]:
    """One logged step of a fixed, plausible curve (per-task loss, cosine lr, weights)."""
    frac = step / total
    wobble = 0.04 * math.sin(step / 7.0)
    rec: dict[str, Any] = {"step": step, "time": FIXED_NOW - 10_000 + step * 6,
                           "loss/python": round(2.4 * math.exp(-3 * frac) + 0.55 + wobble, 4),
                           "loss/javascript": round(2.8 * math.exp(-2.4 * frac) + 0.7 - wobble, 4),
                           "lr": round(2e-4 * 0.5 * (1 + math.cos(math.pi * frac)), 8), "grad_norm": round(0.8 + wobble, 3),
                           "tokens_per_s": 11800.0 + (step % 5) * 40, "gpu_mem_gb": 38.6, "epoch": round(frac * 2, 3)}
    rec["loss"] = round((rec["loss/python"] + rec["loss/javascript"]) / 2, 4)
    wp = 0.5 + (0.12 * math.sin(frac * 3) if coba else 0.0)
    rec.update({"weight/python": round(wp, 3), "weight/javascript": round(1 - wp, 3),
                "eta_s": round((total - step) * 6.0, 1)})
    return rec


def _valid(step: int, total: int) -> dict[str, Any]:
    frac = step / total
    vp, vj = round(2.2 * math.exp(-2.6 * frac) + 0.7, 4), round(2.5 * math.exp(-2.1 * frac) + 0.85, 4)
    return {"step": step, "time": FIXED_NOW - 10_000 + step * 6 + 1, "valid_loss/python": vp,
            "valid_loss/javascript": vj, "valid_loss": round((vp + vj) / 2, 4),
            "pass@1/python": round(0.1 + 0.35 * frac, 3), "pass@1/javascript": round(0.05 + 0.3 * frac, 3),
            "pass@1": round(0.075 + 0.325 * frac, 3)}


def metrics(until: int, total: int, *, every: int = 5, valid_every: int = 100, coba: bool = False) -> list[dict]:
    out: list[dict[str, Any]] = []
    for step in range(every, until + 1, every):
        out.append(_record(step, total, coba=coba))
        if step % valid_every == 0:
            out.append(_valid(step, total))
    return out


def _write_run(ws: Workspace, run_id: str, name: str, *, created: float, records: list[dict],
               status: dict[str, Any], log: list[str]) -> RunDir:
    run = RunDir(ws.runs_dir / run_id)
    (run.path / "control").mkdir(parents=True)
    run.checkpoints_dir.mkdir()
    run.write_info({"id": run_id, "name": name, "kind": "train", "created": created, "host": HOST,
                    "git_sha": "0123456789ab", "command": ["workbench", "train", "launch", f"configs/{name}.toml"],
                    "pid": 4242, "pgid": 4242, "status": status["state"], "tasks": TASKS})
    atomic_write_json(run.config_json, {"name": name, "model": {"path": "models/qwen-1_8b"},
                                        "data": {"mixture": "py-js", "seq_length": 2048}})
    run.metrics_path.write_text("".join(json.dumps(r) + "\n" for r in records))
    atomic_write_json(run.status_json, {"host": HOST, "pid": 4242, **status})
    run.stdout_log.write_text("".join(line + "\n" for line in log))
    return run


def _checkpoint(run: RunDir, step: int, valid: dict[str, Any]) -> None:
    d = run.checkpoint_dir(step)
    (d / "adapter").mkdir(parents=True)
    (d / "adapter" / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "models/qwen-1_8b",
                                                                   "peft_type": "LORA"}))
    atomic_write_json(d / "checkpoint.json", {"step": step, "time": FIXED_NOW - 9000 + step, "kind": "periodic",
                                              "weights": "adapter", "base_model": "models/qwen-1_8b", "peft": "lora",
                                              **{k: v for k, v in valid.items() if k.startswith(("valid_loss",
                                                                                                  "pass@1"))}})


def _log_lines(last: int, total: int, every: int = 20) -> list[str]:
    lines = ["[09:15:02] loading models/qwen-1_8b (LoRA r=16) · mixture py-js: 2 tasks, 17 train rows"]
    for step in range(every, last + 1, every):
        r = _record(step, total)
        lines.append(f"[{9 + step * 6 // 3600:02d}:{step * 6 // 60 % 60:02d}:{step * 6 % 60:02d}] step {step}/{total} "
                     f"loss {r['loss']:.4f} python {r['loss/python']:.4f} javascript {r['loss/javascript']:.4f} "
                     f"lr {r['lr']:.2e} tok/s {r['tokens_per_s']:,.0f}")
    return lines


def add_runs(ws: Workspace) -> None:
    done = _write_run(ws, FINISHED, "mft-1b8", created=FIXED_NOW - 10_000, records=metrics(600, 600),
                      status={"state": RunState.COMPLETED.value, "updated": FIXED_NOW - 6400, "step": 600,
                              "total_steps": 600, "eta_s": 0, "phase": "done", "best_valid_loss": _valid(600, 600)[
                                  "valid_loss"], "message": "completed 600 steps"},
                      log=_log_lines(600, 600, every=60) + ["[10:15:10] saved checkpoint step-0000600",
                                                            "[10:15:12] completed 600 steps"])
    for step in (300, 600):
        _checkpoint(done, step, _valid(step, 600))
    atomic_write_json(done.path / "data.json", {"fill": {"train": 0.934}, "truncated": 2, "dropped_overlong": 1,
                                                "packing_active": True})
    _write_run(ws, MIDRUN, "mft-1b8-coba", created=FIXED_NOW - 1800, records=metrics(260, 800, coba=True),
               status={"state": RunState.RUNNING.value, "updated": FIXED_NOW - 4, "step": 260, "total_steps": 800,
                       "eta_s": 3240, "phase": "training", "best_valid_loss": _valid(200, 800)["valid_loss"]},
               log=_log_lines(260, 800))


# -- validations ----------------------------------------------------------------------------------
def _problems(task: str) -> list[str]:
    if task == "mbpp":
        return ["11", "12", "14"]
    lang = task.rsplit("-", 1)[1]
    prefix = {"python": "Python", "js": "JavaScript", "java": "Java", "go": "Go", "cpp": "CPP", "rust": "Rust"}[lang]
    return [f"{prefix}/{i}" for i in (0, 1, 2)]


def _language(task: str) -> str:
    return "python" if task == "mbpp" else LANG[task.rsplit("-", 1)[1]]


def _results(seed: int) -> list[dict[str, Any]]:
    out = []
    for ti, task in enumerate(CONTEST):
        for pi, tid in enumerate(_problems(task)):
            verdict = VERDICTS[(ti * 3 + pi + seed) % len(VERDICTS)]
            ok = verdict == "passed"
            out.append({"uid": f"{task}/{tid}", "task": task, "task_id": tid, "language": _language(task),
                        "sample": 0, "verdict": verdict, "tests_passed": 5 if ok else (ti + pi) % 4, "tests_total": 5,
                        "duration": round(0.05 + 0.01 * ((ti + pi) % 9), 2),
                        "detail": "" if ok else f"{verdict.replace('_', ' ')} in case {(ti + pi) % 5}",
                        "failed_tests": [] if ok else [{"case": (ti + pi) % 5, "status": verdict,
                                                        "test": f"assert solution({pi}) == {pi + 1}"}],
                        "program": f"def solution(x):\n    return x + {1 if ok else 2}\n", "mode": "robust"})
    return out


def _generations(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"task": r["task"], "task_id": r["task_id"], "uid": r["uid"], "language": r["language"], "sample": 0,
             "prompt": f"<|im_start|>user\nComplete {r['uid']}.<|im_end|>\n<|im_start|>assistant\n",
             "raw": f"```\n{r['program']}```<|im_end|>", "tokens": 24, "finish": "stop", "mode": "robust",
             "code": r["program"], "kind": "full", "test": "assert solution(1) == 2\n"} for r in results]


def _write_validation(ws: Workspace, vid: str, step: int, seed: int, created: float) -> None:
    from engine.validate.score import validation_summary

    v = ValidationDir(ws.validations_dir / vid)
    v.path.mkdir(parents=True)
    results = _results(seed)
    info = [{"name": t, "kind": "mbpp" if t == "mbpp" else t.split("-")[0].removeprefix("humaneval"),
             "languages": [_language(t)], "total": 500 if t == "mbpp" else 164} for t in CONTEST]
    summary = validation_summary(results, info)
    write_jsonl(v.results_jsonl, results)
    write_jsonl(v.generations_jsonl, _generations(results))
    atomic_write_json(v.summary_json, summary)
    tasks = {t: {"kind": "x", "spec": t, "problems": 3, "total": 500 if t == "mbpp" else 164} for t in CONTEST}
    atomic_write_json(v.meta_json, {
        "id": vid, "status": "completed", "created": created, "host": HOST, "pid": 4343,
        "checkpoint": {"model": "models/qwen-1_8b", "adapter": f"runs/{FINISHED}/checkpoints/step-{step:07d}/adapter",
                       "label": f"mft-1b8 step {step}", "run": FINISHED, "step": step,
                       "path": f"runs/{FINISHED}/checkpoints/step-{step:07d}"},
        "taskset": {"name": "contest-quick", "fraction": 0.02, "seed": 0, "tasks": tasks},
        "format": {"name": "contest"}, "postprocess": "robust", "backend": "vllm",
        "settings": {"max_new_tokens": 512, "temperature": 0.0, "n": 1},
        "contest_score": summary.get("contest_score"), "pass@1": summary.get("pass@1"),
        "n_problems": summary.get("n_problems")})


def add_validations(ws: Workspace) -> None:
    _write_validation(ws, "20250301-103000-mft-1b8-step300-7a1c", 300, seed=1, created=FIXED_NOW - 5400)
    _write_validation(ws, "20250301-110500-mft-1b8-step600-9f3e", 600, seed=0, created=FIXED_NOW - 3300)


def build_snapshot_workspace(root: Path) -> Workspace:
    ws = Workspace.init(root, name="contest", catalog=False)
    ws.config.defaults.model = None   # no tokenizer to load: previews show the plain turns
    ws.save()
    add_datasets(ws)
    add_mixture(ws)
    add_runs(ws)
    add_validations(ws)
    return Workspace.open(root)


if __name__ == "__main__":
    build_snapshot_workspace(Path(sys.argv[1]))
