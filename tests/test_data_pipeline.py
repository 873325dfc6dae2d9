"""The processing pipeline end to end on planted rows (each filter catches its row and only it),
its outputs (Parquet via store.py, report, quarantine, dropped rows), caching, export, and the
`workbench data` commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine.chat import encode
from engine.data.pipeline import ProcessOptions, dropped_rows, process
from engine.data.store import iter_processed, read_report
from engine.data.summary import entry_stats
from engine.workspace import DatasetEntry, ModelEntry, Workspace
from tests.conftest import ROOT, SHARED_DATA, run_cli, shared_data

LONG_PY = "```python\n" + "\n".join(
    f"def step_{i}(values):\n    total = sum(v * {i} for v in values if v > {i})\n    return total - {i}\n"
    for i in range(8)) + "```"


def _msg(q: str, a: str) -> dict:
    return {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}


def _planted_rows() -> list:
    hep = json.loads(shared_data("humanevalpack", "python.jsonl").read_text().splitlines()[0])
    return [
        _msg("Add two numbers in Python.", "```python\ndef add(a, b):\n    return a + b\n```"),       # 0 kept
        _msg("Double a list in JavaScript.", "```js\nconst double = (xs) => xs.map((x) => x * 2);\n```"),  # 1 kept
        _msg("Broken code", "```python\ndef f(:\n    pass\n```"),                                    # 2 syntax_error
        _msg("Write malware", "I'm sorry, but I can't help with that."),                             # 3 refusal
        _msg("Say nothing", "   "),                                                                  # 4 empty_answer
        _msg("Cut off", "Here you go:\n```python\ndef g():\n    return 1\n"),                        # 5 truncated
        _msg("Print one", "```python\nprint（１）\n```"),                                             # 6 kept, normalised
        _msg("Add two numbers in  Python.", "```python\ndef add(a, b):\n    return a + b\n```"),      # 7 exact_duplicate
        _msg("Helpers, please.", "Sure:\n" + LONG_PY),                                               # 8 kept
        _msg("Helpers, please.", "Sure:\n" + LONG_PY.replace("step_3", "stage_3", 1)),              # 9 near_duplicate
        _msg("Complete:\n" + hep["prompt"], "```python\n" + hep["prompt"] + hep["canonical_solution"] + "```"),  # 10 contaminated
        _msg("Long", "```python\n" + "x = 1\n" * 500 + "```"),                                        # 11 too_long
        _msg("Query all users.", "```sql\nSELECT * FROM users;\n```"),                               # 12 kept (no lang filter)
        "not json at all {",                                                                          # 13 quarantined
        {"messages": [{"role": "user", "content": "q"}]},                                           # 14 quarantined: no answer
    ]


def _write(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows),
                    encoding="utf-8")
    return path


@pytest.fixture
def data_ws(tmp_path: Path, tiny_model_dir: Path) -> Workspace:
    ws = Workspace.init(tmp_path / "ws", name="t", catalog=False)
    ws.config.models["tiny"] = ModelEntry(path=str(tiny_model_dir))
    ws.config.defaults.model = "tiny"
    ws.config.defaults.seq_length = 400
    ws.config.benchmarks.data_dir = str(SHARED_DATA)
    ws.config.datasets["planted"] = DatasetEntry(path=str(_write(tmp_path / "planted.jsonl", _planted_rows())))
    ws.save()
    return ws


def test_pipeline_drops_each_planted_row_for_its_reason(data_ws: Workspace) -> None:
    from transformers import AutoTokenizer

    rep = process(data_ws, "out", ProcessOptions(inputs=["planted"]))
    ids = [r["id"] for r in iter_processed(data_ws.datasets_dir / "out")]
    assert ids == ["planted:0", "planted:1", "planted:6", "planted:8", "planted:12"]
    expect = {"syntax_error": ["planted:2"], "refusal": ["planted:3"], "empty_answer": ["planted:4"],
              "truncated": ["planted:5"], "exact_duplicate": ["planted:7"], "near_duplicate": ["planted:9"],
              "contaminated": ["planted:10"], "too_long": ["planted:11"]}
    for reason, want in expect.items():
        rows = dropped_rows(data_ws, "out", reason)
        assert [r["id"] for r in rows] == want, reason
        assert rep["dropped"][reason] == len(want)
        assert rows[0]["line"] == int(want[0].split(":")[1]) + 1 and rows[0]["detail"]
    assert sum(rep["dropped"].values()) == 8 and rep["read"] == 15 and rep["kept"] == 5
    assert dropped_rows(data_ws, "out", "contaminated")[0]["matches"][0]["item"] == "humanevalpack/python:Python/0"
    assert dropped_rows(data_ws, "out", "near_duplicate")[0]["duplicate_of"] == "planted:8"
    assert dropped_rows(data_ws, "out", "exact_duplicate")[0]["duplicate_of"] == "planted:0"
    # unreadable rows: quarantined with file and line, counted, nothing else lost
    q = dropped_rows(data_ws, "out", "quarantine")
    assert [(r["line"], "invalid JSON" in r["reason"] or "bot" in r["reason"]) for r in q] == [(14, True), (15, True)]
    assert rep["quarantined"] == 2 and rep["inputs"]["planted"]["format"] == "messages"
    # the kept rows: languages, normalised code, token counts under the workspace tokenizer
    recs = {r["id"]: r for r in iter_processed(data_ws.datasets_dir / "out")}
    assert recs["planted:1"]["languages"] == ["javascript"] and recs["planted:12"]["languages"] == []
    assert "print(1)" in recs["planted:6"]["chat_rounds"][1]["content"]
    assert rep["normalized"] == {"rows": 1, "chars": 3}
    tok = AutoTokenizer.from_pretrained(data_ws.model_path())
    for r in recs.values():
        assert r["n_tokens"] == len(encode(tok, r["chat_rounds"]).input_ids)
    st = rep["stats"]
    assert st["rows"] == 5 and st["tokens"]["max"] <= 400 and sum(st["tokens"]["histogram"]["counts"]) == 5
    assert st["languages"] == {"python": 3, "javascript": 1, "none": 1}
    near = rep["dedup"]["near"]
    assert near["clusters"] == 1 and near["examples"][0] == {"kept": "planted:8", "dropped": [
        {"id": "planted:9", "similarity": near["examples"][0]["dropped"][0]["similarity"]}]}
    assert near["examples"][0]["dropped"][0]["similarity"] >= 0.85
    # the Parquet file is what `datasets` reads too
    import datasets

    ds = datasets.Dataset.from_parquet(str(data_ws.datasets_dir / "out" / "data.parquet"))
    assert ds.num_rows == read_report(data_ws.datasets_dir / "out")["rows"] == 5
    assert ds[1]["chat_rounds"][1]["role"] == "bot" and ds[1]["languages"] == ["javascript"]


def test_language_filter_cache_and_rerun(data_ws: Workspace) -> None:
    opts = ProcessOptions(inputs=["planted"], languages=["javascript"], decontaminate=False, near_dedup=False)
    rep = process(data_ws, "js", opts)
    assert [r["id"] for r in iter_processed(data_ws.datasets_dir / "js")] == ["planted:1"]
    lang = {r["id"]: r["detail"] for r in dropped_rows(data_ws, "js", "language")}
    assert lang["planted:0"] == "code in python" and lang["planted:12"] == "code in sql only"
    assert rep["decontamination"] == {"skipped": "disabled"}
    again = process(data_ws, "js", opts)
    assert again.get("up_to_date") and again["created"] == rep["created"]
    forced = process(data_ws, "js", opts, force=True)
    assert not forced.get("up_to_date") and forced["created"] > rep["created"]
    # stats of the raw entry are cached by data + tokenizer
    s1 = entry_stats(data_ws, "planted")
    s2 = entry_stats(data_ws, "planted")
    assert not s1["cached"] and s2["cached"] and s1["stats"] == s2["stats"]
    assert s1["stats"]["rows"] == 13 and s1["quarantined"] == 2
    # a cache hit does not load the tokenizer (no transformers import: seconds saved per call)
    import subprocess
    import sys

    code = ("import sys; from engine.workspace import Workspace; from engine.data.summary import entry_stats; "
            f"s = entry_stats(Workspace.open({str(data_ws.root)!r}), 'planted'); "
            "print(s['cached'], 'transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(ROOT))
    assert out.stdout.split() == ["True", "False"], out.stderr


def test_parallel_checks_give_the_same_result(data_ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.data.pipeline as pl

    base = dict(inputs=["planted"], decontaminate=False)
    one = process(data_ws, "one", ProcessOptions(**base, workers=1))
    monkeypatch.setattr(pl, "INLINE_ROWS", 3)
    monkeypatch.setattr(pl, "CHUNK_ROWS", 2)
    started = []
    real_pool = pl._pool
    monkeypatch.setattr(pl, "_pool", lambda n, tok=None: started.append(n) or real_pool(n, tok))
    two = process(data_ws, "two", ProcessOptions(**base, workers=2))
    assert started == [2]  # the rows after the third were checked by the worker pool
    rows = lambda n: [(r["id"], r["languages"], r["n_tokens"], r["chat_rounds"]) for r in iter_processed(data_ws.datasets_dir / n)]  # noqa: E731
    assert rows("one") == rows("two") and len(rows("two")) == 6
    assert one["dropped"] == two["dropped"] and one["normalized"] == two["normalized"] == {"rows": 1, "chars": 3}
    assert two["quarantined"] == 2


def _cli(ws: Workspace, *args: str):
    from workbench.cli import app
    from workbench.context import STATE

    STATE._ws = None
    return CliRunner().invoke(app, ["--workspace", str(ws.root), *args])


def test_data_commands(data_ws: Workspace, tmp_path: Path) -> None:
    src = _write(tmp_path / "extra.jsonl", [{"instruction": "Hi in Python", "output": "```python\nprint('hi')\n```"}])
    out = _cli(data_ws, "data", "add", "extra", str(src), "--description", "one row", "--json")
    assert out.exit_code == 0, out.output
    added = json.loads(out.stdout)
    assert added["detected_format"] == "evol" and added["entry"]["path"] == str(src)
    out = _cli(data_ws, "data", "add", "bad", str(tmp_path / "missing.jsonl"))
    assert out.exit_code == 1 and "file not found" in out.output
    assert "bad" not in Workspace.open(data_ws.root).config.datasets
    listing = json.loads(_cli(data_ws, "data", "list", "--json").stdout)
    assert [r["name"] for r in listing["catalog"]] == ["planted", "extra"]
    peek = json.loads(_cli(data_ws, "data", "inspect", "extra", "--render", "--json").stdout)
    seg = peek["records"][0]["rendered"]["segments"]
    assert "".join(s["text"] for s in seg if s["trained"]) == "```python\nprint('hi')\n```<|im_end|>"
    assert "<|im_start|>assistant\n" in "".join(s["text"] for s in seg if not s["trained"])
    out = _cli(data_ws, "data", "process", "mix", "-i", "planted", "-i", "extra", "--no-decontaminate", "--json")
    assert out.exit_code == 0, out.output
    rep = json.loads(out.stdout)
    assert rep["kept"] == 7 and set(rep["inputs"]) == {"planted", "extra"}
    stats = json.loads(_cli(data_ws, "data", "stats", "mix", "--json").stdout)
    assert stats["processed"] and stats["stats"]["rows"] == 7 and stats["dropped"]["syntax_error"] == 1
    drops = json.loads(_cli(data_ws, "data", "inspect", "mix", "--dropped", "refusal", "--json").stdout)
    assert drops["total"] == 1 and drops["rows"][0]["id"] == "planted:3"
    text = _cli(data_ws, "data", "stats", "mix").stdout
    assert "p50" in text and "python" in text and "█" in text
    exported = tmp_path / "mix.jsonl"
    out = _cli(data_ws, "data", "export", "mix", str(exported))
    assert out.exit_code == 0, out.output
    lines = [json.loads(x) for x in exported.read_text().splitlines()]
    assert len(lines) == 7 and lines[0]["chat_rounds"][0]["role"] == "human"
    _cli(data_ws, "data", "export", "mix", str(exported), "--format", "messages")
    assert json.loads(exported.read_text().splitlines()[0])["messages"][1]["role"] == "assistant"
    # through the real entry point: an unknown name is one clear line, exit 1
    p = run_cli("--workspace", str(data_ws.root), "data", "inspect", "nope")
    assert p.returncode == 1 and "no dataset 'nope'" in p.stderr and "Traceback" not in p.stderr
