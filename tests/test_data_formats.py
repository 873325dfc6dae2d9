"""Loading and converting data: every format to canonical chat_rounds, bad rows quarantined with
file/line/reason while every good row is kept, local files of every kind, hub mirror, offline."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from engine.data.catalog import add_entry, catalog_rows
from engine.data.formats import detect
from engine.data.sources import Loaded, NotAvailable
from engine.errors import InputError
from engine.workspace import Workspace
from tests.conftest import shared_data


def _load(ws: Workspace, name: str, source: str | Path, **kw) -> tuple[list[dict], Loaded]:
    add_entry(ws, name, str(source), replace=True, **kw)
    loaded = Loaded(ws, name, ws.config.datasets[name])
    return list(loaded), loaded


def _write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


# -- the shared real files --------------------------------------------------------------------------
@pytest.mark.parametrize("rel, fmt, human_of, bot_of", [
    (("instruct", "code_alpaca_2k.json"), "alpaca",
     lambda r: r["instruction"] + ("\n\n" + r["input"] if r["input"].strip() else ""), lambda r: r["output"]),
    (("instruct", "evol_codealpaca_2k.json"), "evol", lambda r: r["instruction"], lambda r: r["output"]),
    (("instruct", "oasst_commitpackft.jsonl"), "prompt_completion", lambda r: r["prompt"], lambda r: r["completion"]),
    (("leetcode", "LeetCodeDataset-v0.2.0-train.jsonl.gz"), "leetcode", lambda r: r["query"], lambda r: r["response"]),
])
def test_shared_files_convert_completely(workspace: Workspace, rel, fmt, human_of, bot_of) -> None:
    path = shared_data(*rel)
    recs, loaded = _load(workspace, "shared", path)
    assert loaded.format == fmt and not loaded.bad
    if path.suffix == ".gz":
        raw = [json.loads(x) for x in gzip.open(path, "rt", encoding="utf-8")]
    elif path.suffix == ".jsonl":
        raw = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    else:
        raw = json.loads(path.read_text())
    assert len(recs) == len(raw)
    for i in (0, len(raw) // 2, len(raw) - 1):
        rounds = recs[i]["chat_rounds"]
        assert rounds == [{"role": "human", "content": human_of(raw[i])}, {"role": "bot", "content": bot_of(raw[i])}]
        assert recs[i]["id"] == f"shared:{i}" and recs[i]["row"] == i and recs[i]["source"] == "shared"


# -- every format, written by the test -------------------------------------------------------------------
FORMAT_ROWS = {
    "alpaca": {"instruction": "Add.", "input": "1 2", "output": "3", "system": "Be terse."},
    "evol": {"instruction": "Say hi", "response": "hi"},  # Magicoder's spelling
    "prompt_completion": {"prompt": "p", "completion": "c"},
    "prompt_answer": {"prompt": "p", "answer": "a"},
    "sharegpt": {"conversations": [{"from": "system", "value": "s"}, {"from": "human", "value": "q1"},
                                   {"from": "gpt", "value": "a1"}, {"from": "human", "value": "q2"},
                                   {"from": "gpt", "value": "a2"}]},
    "messages": {"messages": [{"role": "user", "content": [{"type": "text", "text": "q"}]},
                              {"role": "assistant", "content": "a"}]},
    "chat_rounds": {"chat_rounds": [{"role": "user", "content": "q"}, {"role": "bot", "content": "a"}]},
    "leetcode": {"task_id": "two-sum", "query": "q", "response": "a"},
}
EXPECTED = {
    "alpaca": [("system", "Be terse."), ("human", "Add.\n\n1 2"), ("bot", "3")],
    "evol": [("human", "Say hi"), ("bot", "hi")],
    "prompt_completion": [("human", "p"), ("bot", "c")],
    "prompt_answer": [("human", "p"), ("bot", "a")],
    "sharegpt": [("system", "s"), ("human", "q1"), ("bot", "a1"), ("human", "q2"), ("bot", "a2")],
    "messages": [("human", "q"), ("bot", "a")],
    "chat_rounds": [("human", "q"), ("bot", "a")],
    "leetcode": [("human", "q"), ("bot", "a")],
}


@pytest.mark.parametrize("fmt", sorted(FORMAT_ROWS))
def test_every_format_detected_and_converted(workspace: Workspace, tmp_path: Path, fmt: str) -> None:
    path = _write_jsonl(tmp_path / f"{fmt}.jsonl", [FORMAT_ROWS[fmt]] * 2)
    recs, loaded = _load(workspace, fmt, path)
    assert loaded.format == fmt
    assert [(r["role"], r["content"]) for r in recs[0]["chat_rounds"]] == EXPECTED[fmt]
    # the explicit format gives the same result
    recs2, loaded2 = _load(workspace, fmt, path, format=fmt)
    assert loaded2.format == fmt and recs2[0]["chat_rounds"] == recs[0]["chat_rounds"]


def test_column_mapping_overrides_detection(workspace: Workspace, tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "xl.jsonl", [{"text": "reverse a list", "code": "xs[::-1]", "prompt": "noise"}])
    recs, loaded = _load(workspace, "xl", path, columns={"prompt": "text", "completion": "code"})
    assert loaded.format == "prompt_completion"
    assert recs[0]["chat_rounds"] == [{"role": "human", "content": "reverse a list"},
                                      {"role": "bot", "content": "xs[::-1]"}]
    with pytest.raises(InputError, match="mapped column 'nope'"):
        _load(workspace, "xl", path, columns={"prompt": "nope", "completion": "code"})


def test_unknown_layout_names_fields_and_formats(workspace: Workspace, tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "clone.jsonl", [{"func1": "a", "func2": "b", "label": True}])
    with pytest.raises(InputError) as e:
        _load(workspace, "clone", path)
    msg = str(e.value)
    assert "func1" in msg and "label" in msg and "sharegpt" in msg and "alpaca" in msg and "--column" in msg
    with pytest.raises(InputError, match="fields found"):
        detect([{"x": 1}])


# -- bad rows ----------------------------------------------------------------------------------------------
def test_malformed_jsonl_rows_are_quarantined_and_good_rows_kept(workspace: Workspace, tmp_path: Path) -> None:
    good = {"instruction": "i", "output": "o"}
    lines = [
        json.dumps(good).encode(),                                   # 1 good
        b'{"instruction": "broken", "output": ',                     # 2 invalid JSON
        json.dumps({"instruction": "no answer"}).encode(),          # 3 missing field
        json.dumps({"instruction": ["a"], "output": "o"}).encode(),  # 4 wrong type
        b'{"instruction": "caf\xe9", "output": "o"}',               # 5 not UTF-8
        b"",                                                          # 6 blank: skipped silently
        b"[1, 2]",                                                    # 7 not an object
        json.dumps(good).encode(),                                   # 8 good
        b'{"instruction": "\\ud800 lone", "output": "o"}',          # 9 lone surrogate (escaped)
        b"[" * 100_000 + b"]" * 100_000,                             # 10 nested too deeply
    ]
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    recs, loaded = _load(workspace, "bad", path, format="evol")
    assert [r["_line"] for r in recs] == [1, 8]
    by_line = {b.line: b for b in loaded.bad}
    assert sorted(by_line) == [2, 3, 4, 5, 7, 9, 10]
    assert "surrogate" in by_line[9].reason and "invalid JSON" in by_line[10].reason
    assert "invalid JSON" in by_line[2].reason
    assert by_line[3].field == "output" and "missing" in by_line[3].reason
    assert by_line[4].field == "instruction" and "must be a string" in by_line[4].reason
    assert "UTF-8" in by_line[5].reason and "\\xe9" in by_line[5].raw
    assert "object" in by_line[7].reason
    assert all(b.file == str(path) for b in loaded.bad)
    assert by_line[3].describe().startswith(f"{path}:3: field 'output'")
    # auto-detection works around the bad rows too
    recs, loaded = _load(workspace, "bad", path)
    assert loaded.format == "evol" and len(recs) == 2 and len(loaded.bad) == 7
    for bad_name in ("../escape", ".hidden", "a/b", ""):
        with pytest.raises(InputError, match="dataset name"):
            add_entry(workspace, bad_name, str(path))


def test_json_array_bad_element_costs_one_row(workspace: Workspace, tmp_path: Path) -> None:
    rows = [{"instruction": f"q{i}", "input": "", "output": f"a{i}"} for i in range(4)]
    text = json.dumps(rows, indent=2)
    text = text.replace('"output": "a1"', '"output": a1')  # unquoted: invalid JSON in element 2
    path = tmp_path / "arr.json"
    path.write_bytes(text.encode().replace(b"q3", b"q\xff3"))  # element 4: not UTF-8
    recs, loaded = _load(workspace, "arr", path)
    assert [r["chat_rounds"][0]["content"] for r in recs] == ["q0", "q2"]
    assert len(loaded.bad) == 2
    assert "invalid JSON" in loaded.bad[0].reason and loaded.bad[0].line == 7
    assert "UTF-8" in loaded.bad[1].reason and loaded.bad[1].line == text.splitlines().index("  {", 14) + 1


def test_csv_parquet_gzip_and_globs(workspace: Workspace, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    d = tmp_path / "many"
    d.mkdir()
    (d / "a.csv").write_bytes(b'prompt,answer\n"multi\nline",x\nonly-one-field\n"caf\xe9",y\nq,a\n')
    pq.write_table(pa.table({"prompt": ["p1", "p2"], "answer": ["a1", None]}), d / "b.parquet")
    with gzip.open(d / "c.jsonl.gz", "wt") as f:
        f.write(json.dumps({"prompt": "gz", "answer": "yes"}) + "\n")
    recs, loaded = _load(workspace, "many", str(d / "*"))
    assert [r["chat_rounds"][0]["content"] for r in recs] == ["multi\nline", "q", "p1", "gz"]
    reasons = {(Path(b.file).name, b.line, b.index): b.reason for b in loaded.bad}
    assert reasons[("a.csv", 4, 1)].startswith("has 1 fields")
    assert "UTF-8" in reasons[("a.csv", 5, 2)]
    assert "missing field 'answer'" in reasons[("b.parquet", None, 1)]
    # a folder works like the glob of its data files
    recs2, _ = _load(workspace, "many", d)
    assert len(recs2) == 4
    with pytest.raises(InputError, match="no file matches"):
        _load(workspace, "none", str(tmp_path / "*.jsonl"))


# -- hub: mirror and offline ------------------------------------------------------------------------------
def test_hub_mirror_works_like_the_hub_and_offline_is_clear(workspace: Workspace, tmp_path: Path) -> None:
    rows = catalog_rows(workspace)
    assert any(r.name == "magicoder_evol_instruct_110k" and r.state == "not available offline" for r in rows)
    with pytest.raises(NotAvailable, match="not available offline"):
        list(Loaded(workspace, "magicoder_evol_instruct_110k",
                    workspace.config.datasets["magicoder_evol_instruct_110k"], limit=1))
    mirror = tmp_path / "mirror"
    repo = mirror / "ise-uiuc" / "Magicoder-Evol-Instruct-110K" / "data"
    repo.mkdir(parents=True)
    _write_jsonl(repo / "train-00000-of-00001.jsonl", [{"instruction": "m", "response": "r"}] * 3)
    _write_jsonl(repo / "test-00000-of-00001.jsonl", [{"instruction": "t", "response": "r"}])
    workspace.config.hub.mirror = str(mirror)
    workspace.save()
    entry = workspace.config.datasets["magicoder_evol_instruct_110k"]
    assert next(r for r in catalog_rows(workspace) if r.name == "magicoder_evol_instruct_110k").state == "hub (local mirror)"
    loaded = Loaded(workspace, "magicoder_evol_instruct_110k", entry)
    recs = list(loaded)
    assert loaded.format == "evol" and len(recs) == 3 and recs[0]["chat_rounds"][0]["content"] == "m"
    entry.split = "validation"
    with pytest.raises(InputError, match="split 'validation' not found"):
        list(Loaded(workspace, "magicoder_evol_instruct_110k", entry))
