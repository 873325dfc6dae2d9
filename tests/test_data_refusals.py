"""`data add` refuses a local source that cannot be a dataset, with one line naming the file (and
the line where one applies) and nothing written; a valid file of every supported kind is still
accepted. Corrupt archives name the file and the error in every command, never `Aborted.`."""

from __future__ import annotations

import codecs
import gzip
import json
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.data.catalog import add_entry
from engine.errors import InputError
from engine.workspace import Workspace
from tests.conftest import run_cli

ROW = {"instruction": "Reverse a list in Python.", "output": "```python\nxs[::-1]\n```"}
GZ = gzip.compress(b"".join(json.dumps({**ROW, "n": i}).encode() + b"\n" for i in range(200)))


def _bytes(data: bytes) -> Callable[[Path], object]:
    return lambda p: p.write_bytes(data)


def _parquet(rows: dict[str, list]) -> Callable[[Path], None]:
    def write(p: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table(rows), p)
    return write


def _truncated_parquet(p: Path) -> None:
    _parquet({"instruction": ["a"] * 50, "output": ["b"] * 50})(p)
    data = p.read_bytes()
    p.write_bytes(data[:8] + data[-8:])  # header and footer magic, the rest gone


def _bit_flip(data: bytes, at: int) -> bytes:
    b = bytearray(data)
    b[at] ^= 0xFF
    return bytes(b)


def _empty_folder(p: Path) -> None:
    p.mkdir()
    (p / "notes.txt").write_text("no data here")


def _folder_of_empty_files(p: Path) -> None:
    p.mkdir()
    (p / "a.jsonl").write_bytes(b"")
    (p / "b.jsonl").write_text("\n\n")


LATIN1 = json.dumps({"instruction": "Écris une fonction", "output": "déjà"}, ensure_ascii=False).encode("latin-1")
RANDOM = random.Random(0).randbytes(4096)

# (file name, how to write it, what the one-line reason says, the line it names or None)
REFUSED = [
    ("random.jsonl", _bytes(RANDOM), "not a text file", None),
    ("random.csv", _bytes(RANDOM), "not a text file", None),
    ("random.json", _bytes(RANDOM), "not a text file", None),
    ("latin1.jsonl", _bytes(LATIN1 + b"\n" + LATIN1 + b"\n"), "not valid UTF-8", 1),
    ("latin1.json", _bytes(b"[" + LATIN1 + b"]"), "not valid UTF-8", 1),
    ("latin1.csv", _bytes("instruction,output\nÉcris,déjà\n".encode("latin-1")), "not valid UTF-8", 2),
    ("utf16.jsonl", _bytes(json.dumps(ROW).encode("utf-16")), "UTF-16", None),
    ("empty.jsonl", _bytes(b""), "the file is empty", None),
    ("empty.json", _bytes(b""), "the file is empty", None),
    ("empty.csv", _bytes(b""), "the file is empty", None),
    ("blank.jsonl", _bytes(b"\n  \n\n"), "holds no rows", None),
    ("header.csv", _bytes(b"instruction,output\n"), "holds no rows", None),
    ("empty-array.json", _bytes(b"[]"), "holds no rows", None),
    ("numbers.json", _bytes(b"[1, 2, 3]"), "expected a JSON object per row, got a number", 1),
    ("arrays.json", _bytes(b"[[1], [2]]"), "expected a JSON object per row, got an array", 1),
    ("scalar.json", _bytes(b"42"), "expected a JSON array of objects", 1),
    ("string.json", _bytes(b'"just a string"'), "got a string", 1),
    ("prose.json", _bytes(b"this is not JSON"), "invalid JSON", 1),
    ("numbers.jsonl", _bytes(b"1\n2\n3\n"), "expected a JSON object per row, got a number", 1),
    ("broken.jsonl", _bytes(b'{"instruction": "a", "output": \n{oops\n'), "invalid JSON", 1),
    ("ragged.csv", _bytes(b"prompt,answer\nonly-one\nalso-one\n"), "has 1 fields, the header has 2", 2),
    ("not.parquet", _bytes(b"PAR1 this is not parquet"), "not a readable Parquet file", None),
    ("truncated.parquet", _truncated_parquet, "not a readable Parquet file", None),
    ("empty.parquet", _parquet({"instruction": [], "output": []}), "holds no rows", None),
    ("truncated.jsonl.gz", _bytes(GZ[: len(GZ) // 2]), "truncated gzip archive", None),
    ("not-gzip.jsonl.gz", _bytes(b"plain text pretending"), "corrupt gzip archive: Not a gzipped file", None),
    ("flipped.jsonl.gz", _bytes(_bit_flip(GZ, 40)), "corrupt gzip archive", None),
    ("truncated.parquet.gz", _bytes(gzip.compress(b"PAR1" + RANDOM)[:2000]), "truncated gzip archive", None),
    ("no-data-files", _empty_folder, "folder has no data files", None),
    ("empty-files", _folder_of_empty_files, "no rows in any of its 2 files", None),
    ("missing.jsonl", lambda p: None, "file not found", None),
]


@pytest.mark.parametrize("name, write, reason, line", REFUSED, ids=[r[0] for r in REFUSED])
def test_unreadable_sources_are_refused_and_nothing_is_written(workspace: Workspace, tmp_path: Path, name: str,
                                                               write: Callable[[Path], object], reason: str,
                                                               line: int | None) -> None:
    path = tmp_path / name
    write(path)
    before = workspace.config_path.read_bytes()
    with pytest.raises(InputError) as e:
        add_entry(workspace, "bad", str(path), check=True)
    msg = str(e.value)
    assert reason in msg and "\n" not in msg
    assert msg.startswith(str(path) + (f":{line}: " if line else "")), msg
    assert "bad" not in workspace.config.datasets
    assert workspace.config_path.read_bytes() == before
    assert "bad" not in Workspace.open(workspace.root).config.datasets
    assert not workspace.datasets_dir.exists() or not any(workspace.datasets_dir.iterdir())


def test_refusal_keeps_the_previous_entry(workspace: Workspace, tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps(ROW) + "\n")
    add_entry(workspace, "mine", str(good), check=True)
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        add_entry(workspace, "mine", str(empty), check=True, replace=True)
    assert Workspace.open(workspace.root).config.datasets["mine"].path == str(good)


def test_hints_say_what_to_do(workspace: Workspace, tmp_path: Path) -> None:
    latin = tmp_path / "latin1.jsonl"
    latin.write_bytes(LATIN1 + b"\n")
    with pytest.raises(InputError, match="iconv"):
        add_entry(workspace, "x", str(latin), check=True)
    nums = tmp_path / "nums.jsonl"
    nums.write_text("1\n2\n")
    with pytest.raises(InputError, match="none of the first 2 rows.*JSON objects"):
        add_entry(workspace, "x", str(nums), check=True)
    # an explicit format that the rows do not fit: the first row's field is named
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps(ROW) + "\n")
    with pytest.raises(InputError, match=r"good\.jsonl:1, field 'conversations': missing field"):
        add_entry(workspace, "x", str(good), format="sharegpt", check=True)


# -- every supported kind is still accepted --------------------------------------------------------------
def _csv(delim: str) -> bytes:
    return f"instruction{delim}output\nReverse a list{delim}xs[::-1]\n".encode()


JSONL = (json.dumps(ROW) + "\n").encode()
ACCEPTED = [
    ("rows.jsonl", _bytes(JSONL), "evol"),
    ("rows.ndjson", _bytes(JSONL), "evol"),
    ("array.json", _bytes(json.dumps([ROW, ROW]).encode()), "evol"),
    ("wrapped.json", _bytes(json.dumps({"data": [ROW, ROW]}).encode()), "evol"),
    ("one.json", _bytes(json.dumps(ROW).encode()), "evol"),
    ("lines.json", _bytes(JSONL * 2), "evol"),
    ("rows.csv", _bytes(_csv(",")), "evol"),
    ("rows.tsv", _bytes(_csv("\t")), "evol"),
    ("rows.parquet", _parquet({"prompt": ["p"], "completion": ["c"]}), "prompt_completion"),
    ("rows.jsonl.gz", _bytes(gzip.compress(JSONL)), "evol"),
    ("rows.json.gz", _bytes(gzip.compress(json.dumps([ROW]).encode())), "evol"),
    ("rows.csv.gz", _bytes(gzip.compress(_csv(","))), "evol"),
    ("bom.csv", _bytes(codecs.BOM_UTF8 + _csv(",")), "evol"),          # what Excel writes
    ("bom.jsonl", _bytes(codecs.BOM_UTF8 + JSONL), "evol"),
    ("bom.json", _bytes(codecs.BOM_UTF8 + json.dumps([ROW]).encode()), "evol"),
    ("first-bad.jsonl", _bytes(b"{broken\n" + JSONL), "evol"),        # later rows are fine: quarantined later
    ("utf8.jsonl", _bytes(json.dumps({"instruction": "Écris 函数", "output": "ok"}, ensure_ascii=False).encode()
                          + b"\n"), "evol"),
]


@pytest.mark.parametrize("name, write, fmt", ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_valid_files_of_every_kind_are_accepted(workspace: Workspace, tmp_path: Path, name: str,
                                                write: Callable[[Path], object], fmt: str) -> None:
    path = tmp_path / name
    write(path)
    _, peeked = add_entry(workspace, "good", str(path), check=True)
    assert peeked is not None and peeked["format"] == fmt and peeked["fields"]
    assert Workspace.open(workspace.root).config.datasets["good"].path == str(path)


def test_gzipped_parquet_is_read(workspace: Workspace, tmp_path: Path) -> None:
    plain = tmp_path / "rows.parquet"
    _parquet({"prompt": ["p1", "p2"], "answer": ["a1", "a2"]})(plain)
    gz = tmp_path / "rows.parquet.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    _, peeked = add_entry(workspace, "pq", str(gz), check=True)
    assert peeked is not None and [r["chat_rounds"][1]["content"] for r in peeked["records"]] == ["a1", "a2"]


# -- corrupt archives through the real entry point -------------------------------------------------------
def test_corrupt_gzip_is_one_line_in_every_command(workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "shard.jsonl.gz"
    path.write_bytes(GZ[: len(GZ) // 2])
    ws = ["--workspace", str(workspace.root)]
    want = f"error: {path}: truncated gzip archive: it ends before the end-of-stream marker"
    p = run_cli(*ws, "data", "add", "shard", str(path))
    assert p.returncode == 1
    assert p.stderr.strip().splitlines() == [want], p.stderr
    assert "shard" not in Workspace.open(workspace.root).config.datasets
    # added unchecked (or corrupted later): inspect, stats and process say the same in one line
    assert run_cli(*ws, "data", "add", "shard", str(path), "--no-check").returncode == 0
    for cmd in (["inspect", "shard"], ["stats", "shard", "--no-tokens"], ["process", "shard", "--no-decontaminate"]):
        p = run_cli(*ws, "data", *cmd)
        err = [x for x in p.stderr.splitlines() if x.startswith("error:")]
        assert p.returncode == 1 and err == [want], (cmd, p.stderr)
        assert "Aborted" not in p.stderr + p.stdout and "Traceback" not in p.stderr, cmd
