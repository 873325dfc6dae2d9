"""The whole pipeline after generation, for real: prompts -> (recorded answers) ->
post-processing in both modes -> sandboxed execution -> scores -> validations/<id>/ files,
and the `workbench eval` commands that read them. The model is a replay backend, so no torch."""

from __future__ import annotations

import json

import pytest

from engine.errors import WorkbenchError
from engine.validate import open_validation, run_validation
from engine.validate.generate import GenSettings
from tests.conftest import run_cli, shared_data
from tests.validate_support import ReplayBackend, toy_answerer, toy_rows, write_toy


@pytest.fixture
def replayed(workspace):
    rows = toy_rows(6)
    path = write_toy(workspace.root / "data" / "toy.jsonl", rows)
    backend = ReplayBackend(toy_answerer(rows))
    res = run_validation(ws=workspace, loaded=backend, tasks=str(path), fmt="chat", label="replay",
                         settings=GenSettings(max_new_tokens=64))
    return workspace, res, backend, rows


def test_scores_and_flips(replayed) -> None:
    ws, res, backend, rows = replayed
    s = res.summary
    # robust (the chat format's mode): right answers at i % 6 in {0, 2, 4, 5} of each language
    assert s["pass@1"] == pytest.approx(8 / 12)
    assert s["languages"]["python"]["pass@1"] == pytest.approx(4 / 6)
    assert s["languages"]["javascript"]["pass@1"] == pytest.approx(4 / 6)
    assert s["tasks"]["toy"]["problems"] == 12 and s["contest_score"] is None
    by_uid = {r["uid"]: r for r in res.records}
    wrong = by_uid[f"toy/{rows[1]['task_id']}"]
    assert wrong["verdict"] == "failed" and 0 <= wrong["tests_passed"] < wrong["tests_total"] == 4
    assert wrong["failed_tests"] and wrong["failed_tests"][0]["test"].startswith("assert")
    assert by_uid[f"toy/{rows[3]['task_id']}"]["verdict"] in ("compile_error", "runtime_error")
    # compatible (the MBPP rule) misses the bare JavaScript answer: one flip
    pp = s["postprocess"]
    assert pp["mode"] == "robust" and pp["alt_mode"] == "compatible"
    assert pp["alt"]["pass@1"] == pytest.approx(7 / 12)
    assert pp["flips"]["lost"] == [f"toy/{rows[11]['task_id']}"] and pp["flips"]["gained"] == []
    assert by_uid[f"toy/{rows[11]['task_id']}"]["alt_verdict"] != "passed"
    # the prompts were the chat template around the instruction, as the demo trains
    assert backend.seen[0].prompt == f"<|im_start|>user\n{rows[0]['instruction']}<|im_end|>\n<|im_start|>assistant\n"
    assert backend.seen[0].stop == () and backend.seen[0].max_new_tokens == 64


def test_files_on_disk(replayed) -> None:
    ws, res, _, rows = replayed
    d = res.dir.path
    meta = json.loads((d / "validation.json").read_text())
    assert meta["status"] == "completed" and meta["format"]["name"] == "chat" and meta["backend"] == "replay"
    assert meta["taskset"]["tasks"]["toy"]["problems"] == 12 and meta["settings"]["max_new_tokens"] == 64
    gens = [json.loads(line) for line in (d / "generations.jsonl").read_text().splitlines()]
    assert len(gens) == 12 and {"prompt", "raw", "code", "kind", "test", "alt_code", "finish"} <= set(gens[0])
    assert gens[0]["raw"].endswith("<|im_start|>user\nthanks") and "<|im_end|>" not in gens[0]["code"]
    assert gens[0]["test"].startswith("assert ")
    big = json.loads((d / "bigcode" / "generations_toy.json").read_text())
    ids = json.loads((d / "bigcode" / "task_ids_toy.json").read_text())
    assert len(big) == 12 and all(isinstance(x, list) and len(x) == 1 for x in big)
    assert ids == [r["task_id"] for r in rows] and big[0][0] == gens[0]["code"]
    results = [json.loads(line) for line in (d / "results.jsonl").read_text().splitlines()]
    assert len(results) == 12 and results[0]["program"].endswith(gens[0]["test"])
    assert (d / "exec" / "results.jsonl").is_file() and (d / "exec-alt" / "summary.json").is_file()
    assert json.loads((d / "progress.json").read_text())["phase"] == "score"
    v = open_validation(ws.validations_dir, res.id[-4:])
    case = v.case(f"toy/{rows[1]['task_id']}")
    assert case["prompt"] and case["raw"] and case["program"] and case["verdict"] == "failed"


def test_n_samples_and_pass_at_k(workspace) -> None:
    rows = toy_rows(2)
    path = write_toy(workspace.root / "toy2.jsonl", rows)
    res = run_validation(ws=workspace, loaded=ReplayBackend(toy_answerer(rows)), tasks=str(path), fmt="chat",
                         settings=GenSettings(n=3, max_new_tokens=8), compare_modes=False)
    assert len(res.generations) == 12 and {g["sample"] for g in res.generations} == {0, 1, 2}
    assert set(res.summary["pass@k"]) == {"pass@1", "pass@2", "pass@3"}
    assert res.meta["settings"]["do_sample"] is True    # n > 1 samples


def test_failed_validation_is_recorded(workspace) -> None:
    rows = toy_rows(1)
    path = write_toy(workspace.root / "toy3.jsonl", rows)

    def broken(prompt: str) -> str:
        raise RuntimeError("model exploded")

    with pytest.raises(RuntimeError, match="model exploded"):
        run_validation(ws=workspace, loaded=ReplayBackend(broken), tasks=str(path), fmt="chat", label="boom")
    (v,) = [v for v in __import__("engine.validate", fromlist=["x"]).list_validations(workspace.validations_dir)
            if "boom" in v.id]
    assert v.status() == "failed" and "model exploded" in v.meta()["error"]
    with pytest.raises(WorkbenchError, match="unknown post-processing"):
        run_validation(ws=workspace, loaded=ReplayBackend(broken), tasks=str(path), postprocess="fuzzy")


def test_cli_show_compare_and_errors(replayed) -> None:
    ws, res, _, rows = replayed
    res2 = run_validation(ws=ws, loaded=ReplayBackend(lambda p: "```python\nnothing\n```"), tasks=str(
        ws.root / "data" / "toy.jsonl"), fmt="chat", label="junk", compare_modes=False)
    env = {"WORKBENCH_WORKSPACE": str(ws.root)}
    out = run_cli("eval", "show", "--json", env=env)
    assert out.returncode == 0, out.stderr
    assert {r["id"] for r in json.loads(out.stdout)} == {res.id, res2.id}
    out = run_cli("eval", "show", res.id, "--failing", env=env)
    assert out.returncode == 0 and "pass@1 0.667" in out.stdout and f"toy/{rows[1]['task_id']}" in out.stdout
    out = run_cli("eval", "show", res.id, "--case", f"toy/{rows[1]['task_id']}", env=env)
    assert "prompt as sent" in out.stdout and "verdict: failed" in out.stdout
    out = run_cli("eval", "compare", res.id, res2.id, "--json", env=env)
    cmp = json.loads(out.stdout)
    assert cmp["tasks"]["toy"]["a"] == pytest.approx(8 / 12) and cmp["tasks"]["toy"]["b"] == 0
    assert len(cmp["lost"]) == 8 and cmp["gained"] == []
    out = run_cli("eval", "prompt", "--tasks", "mbpp", "--format", "contest", "--data-dir",
                  str(shared_data()), "--json", env=env)
    (p,) = json.loads(out.stdout)
    assert p["task_id"] == "11" and p["prompt"].endswith("<|im_end|>\n<|im_start|>assistant") and p["eos"] == "<|im_end|>"
    with pytest.raises(WorkbenchError, match="already holds a completed validation"):
        run_validation(ws=ws, loaded=ReplayBackend(lambda p: ""), tasks=str(ws.root / "data" / "toy.jsonl"),
                       fmt="chat", out=res.dir.path)
    bad = run_cli("eval", "run", "--model", "tiny", "--tasks", "no-such-set", env=env)
    assert bad.returncode == 1 and "unknown task set or task 'no-such-set'" in bad.stderr
    assert "Traceback" not in bad.stderr
    bad = run_cli("eval", "run", "--model", "tiny", "--tasks", "toy", "--max-new-tokens", "0", env=env)
    assert bad.returncode == 1 and "field 'max_new_tokens'" in bad.stderr and "Traceback" not in bad.stderr
