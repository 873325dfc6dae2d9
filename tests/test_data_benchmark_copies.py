"""Where decontamination gets the benchmarks when `[benchmarks] data_dir` is unset: the hub's
copies, read like a hub entry of the catalog ([hub] mirror, then the Hugging Face cache, then the
hub when it answers). A skipped or partial decontamination is a warning in the report and in
`data process` / `data stats` output, in plain words."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from engine.data.pipeline import ProcessOptions, dropped_rows, process
from engine.workspace import DatasetEntry, Workspace
from tests.conftest import run_cli

PROMPT = ('def below_zero(operations: List[int]) -> bool:\n    """ You are given a list of deposit and withdrawal '
          "operations on a bank account that starts with zero balance. Your task is to detect if at any point the "
          'balance of account falls below zero, and at that point function should return True."""\n')
SOLUTION = "    balance = 0\n    for op in operations:\n        balance += op\n        if balance < 0:\n" \
           "            return True\n    return False\n"
HEP_ROW = {"task_id": "Python/3", "prompt": PROMPT, "canonical_solution": SOLUTION,
           "instruction": "Write a Python function below_zero that detects a negative running balance of a bank "
                          "account given deposit and withdrawal operations starting from zero."}
MBPP_ROW = {"task_id": 11, "text": "Write a python function to remove first and last occurrence of a given character "
                                   "from the string while keeping every other character in its original order.",
            "code": "def remove_Occ(s, ch):\n    return s", "test_list": ["assert remove_Occ('hello','l') == 'heo'"]}


def _msg(q: str, a: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    """No model (no tokenizer: fast), no [benchmarks] data_dir; one row copies a benchmark item."""
    ws = Workspace.init(tmp_path / "ws", name="t", catalog=False)
    rows = [_msg("Sum a list in Python.", "```python\ndef total(xs):\n    return sum(xs)\n```"),
            _msg("Complete this function:\n" + PROMPT, "```python\n" + PROMPT + SOLUTION + "```")]
    ws.config.datasets["rows"] = DatasetEntry(path=str(_jsonl(tmp_path / "rows.jsonl", rows)))
    ws.save()
    return ws


def _mirror(ws: Workspace, root: Path) -> Path:
    """Hub copies laid out as the hub has them: one folder per config, splits by file name."""
    _jsonl(root / "bigcode" / "humanevalpack" / "python" / "test.jsonl", [HEP_ROW])
    _jsonl(root / "google-research-datasets" / "mbpp" / "full" / "test.jsonl", [MBPP_ROW])
    ws.config.hub.mirror = str(root)
    ws.save()
    return root


@pytest.mark.parametrize("offline_by", ["setting", "unreachable host"])
def test_skipped_decontamination_is_a_warning(ws: Workspace, monkeypatch: pytest.MonkeyPatch, offline_by: str) -> None:
    if offline_by == "unreachable host":  # no offline flag anywhere: the host name does not resolve
        from engine.data import sources

        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
        monkeypatch.setattr(sources, "hub_reachable", lambda timeout=3.0: False)
    else:
        ws.config.hub.offline = True
    rep = process(ws, "rows", ProcessOptions(inputs=["rows"]))
    assert rep["kept"] == 2 and rep["dropped"]["contaminated"] == 0
    dec = rep["decontamination"]
    assert dec["source"] == "hub" and "not available offline" in dec["skipped"]
    assert set(dec["missing"]) == {"humanevalpack/python", "humanevalpack/js", "humanevalpack/java",
                                   "humanevalpack/go", "humanevalpack/cpp", "humanevalpack/rust", "mbpp", "leetcode"}
    [warning] = rep["warnings"]
    assert warning.startswith("decontamination skipped: no [benchmarks] data_dir in workspace.toml, and the hub's "
                              "benchmark copies are not available offline")
    assert "rows that overlap the benchmarks are kept" in warning


def test_process_and_stats_print_the_warning(ws: Workspace) -> None:
    root = ["--workspace", str(ws.root)]
    p = run_cli(*root, "data", "process", "rows")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[-1].startswith("warning: decontamination skipped: no [benchmarks] data_dir"), p.stdout
    p = run_cli(*root, "data", "stats", "rows", "--json")
    assert json.loads(p.stdout)["warnings"][0].startswith("decontamination skipped")
    p = run_cli(*root, "data", "stats", "rows")
    assert "warning: decontamination skipped" in p.stdout


def test_hub_mirror_copies_are_used_when_data_dir_is_unset(ws: Workspace, tmp_path: Path) -> None:
    mirror = _mirror(ws, tmp_path / "mirror")
    rep = process(ws, "rows", ProcessOptions(inputs=["rows"]))
    assert rep["kept"] == 1 and rep["dropped"]["contaminated"] == 1
    [hit] = dropped_rows(ws, "rows", "contaminated")
    assert hit["id"] == "rows:1" and hit["matches"][0]["item"] == "humanevalpack/python:Python/3"
    dec = rep["decontamination"]
    assert dec["source"] == "hub" and dec["items"] == 2 and "skipped" not in dec
    assert dec["files"] == {"humanevalpack/python": ["bigcode/humanevalpack [python] :test"],
                            "mbpp": ["google-research-datasets/mbpp [full] :test"]}  # MBPP's other splits: optional
    # what was asked for and not checked is said, grouped by reason
    assert rep["warnings"] == [
        ("decontamination did not check humanevalpack/js, humanevalpack/java, humanevalpack/go, humanevalpack/cpp, "
         f"humanevalpack/rust: not in the mirror copy {mirror / 'bigcode' / 'humanevalpack'} (a folder per config: "
         "cpp/, go/, java/, js/, python/, rust/)"),
        ("decontamination did not check leetcode: not available offline (no [hub] mirror copy, not in the Hugging "
         "Face cache)")]
    # unchanged copies: up to date; a new copy in the mirror: redone
    assert process(ws, "rows", ProcessOptions(inputs=["rows"])).get("up_to_date")
    _jsonl(mirror / "newfacade" / "LeetCodeDataset" / "data" / "LeetCodeDataset-v0.2.0-test.jsonl",
           [{"task_id": "two-sum", "query": "Given an array of integers nums and an integer target, return indices "
                                            "of the two numbers such that they add up to target.", "response": "x"}])
    again = process(ws, "rows", ProcessOptions(inputs=["rows"]))
    assert not again.get("up_to_date") and "leetcode" in again["decontamination"]["files"]
    assert len(again["warnings"]) == 1 and "leetcode" not in again["warnings"][0]


def test_online_hub_is_read_through_the_catalog_loader(ws: Workspace, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """No network here: the hub answers through a stand-in for `datasets.load_dataset`, which
    sees exactly the ids, configs and splits the real one would."""
    import datasets

    from engine.data import sources

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # nothing cached
    monkeypatch.setattr(sources, "hub_reachable", lambda timeout=3.0: True)
    asked: list[tuple[str, str | None, str]] = []

    def load_dataset(path: str, name: str | None = None, *, split: str, **kw: Any) -> list[dict[str, Any]]:
        asked.append((path, name, split))
        if (path, name) == ("bigcode/humanevalpack", "python"):
            return [HEP_ROW]
        raise ValueError(f"stand-in hub: nothing for {path} {name}")

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    rep = process(ws, "rows", ProcessOptions(inputs=["rows"]))
    assert rep["dropped"]["contaminated"] == 1 and rep["decontamination"]["source"] == "hub"
    assert ("bigcode/humanevalpack", "python", "test") in asked and ("bigcode/humanevalpack", "rust", "test") in asked
    assert ("google-research-datasets/mbpp", "full", "test") in asked
    assert ("newfacade/LeetCodeDataset", None, "test") in asked
    missing = rep["decontamination"]["missing"]
    assert "humanevalpack/python" not in missing
    assert "stand-in hub: nothing for newfacade/LeetCodeDataset" in missing["leetcode"]
    assert any(w.startswith("decontamination did not check") and "leetcode" in w for w in rep["warnings"])


def test_data_dir_is_used_as_before_and_partial_folders_are_said(ws: Workspace, tmp_path: Path) -> None:
    from engine.data.benchmarks import load_copies

    d = tmp_path / "bench"
    _jsonl(d / "humanevalpack" / "python.jsonl", [HEP_ROW])
    ws.config.benchmarks.data_dir = str(d)
    _mirror(ws, tmp_path / "mirror")  # a data_dir wins over the hub copies
    copies = load_copies(ws, ["humanevalpack", "mbpp"])
    assert copies.origin == "data_dir" and [i.key for i in copies.items] == ["humanevalpack/python:Python/3"]
    assert set(copies.missing) == {"humanevalpack/js", "humanevalpack/java", "humanevalpack/go", "humanevalpack/cpp",
                                   "humanevalpack/rust", "mbpp"}
    ws.config.benchmarks.data_dir = str(tmp_path / "nowhere")
    rep = process(ws, "rows", ProcessOptions(inputs=["rows"]))
    assert rep["warnings"][0].startswith(f"decontamination skipped: benchmark folder not found: {tmp_path / 'nowhere'}")
    off = process(ws, "rows", ProcessOptions(inputs=["rows"], decontaminate=False))
    assert off["decontamination"] == {"skipped": "disabled"}
    assert off["warnings"] == [("decontamination was turned off for this run: "
                                "rows that overlap the benchmarks are kept")]
