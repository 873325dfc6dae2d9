"""The Datasets screen in a Pilot: catalog with state, preview with trained tokens highlighted,
stats, processing in a worker, dropped rows by reason, filter, offline hub entries, empty state."""

from __future__ import annotations

import html
import json
import time
from pathlib import Path
from typing import Any, Callable

from rich.text import Text
from textual.widgets import DataTable, Static

from engine.workspace import DatasetEntry, ModelEntry, Workspace
from screens.datasets_views import TRAINED
from workbench.app import WorkbenchApp

SIZE = (130, 40)


def _screen_text(app: Any) -> str:
    return html.unescape(app.export_screenshot()).replace("\xa0", " ")


def _content(app: Any, wid: str) -> str:
    c = app.screen.query_one(wid, Static).content
    return c.plain if isinstance(c, Text) else Text.from_markup(str(c)).plain


async def _until(pilot: Any, cond: Callable[[], bool], timeout: float = 60.0) -> None:
    t0 = time.time()
    while not cond():
        if time.time() - t0 > timeout:
            raise AssertionError("timed out waiting for the screen")
        await pilot.pause(0.05)


def _workspace(tmp_path: Path, tiny_model_dir: Path) -> Workspace:
    ws = Workspace.init(tmp_path / "ws", name="screen", catalog=False)
    ws.config.models["tiny"] = ModelEntry(path=str(tiny_model_dir))
    ws.config.defaults.model = "tiny"
    rows = [
        {"instruction": "Add two numbers in Python.", "output": "```python\ndef add(a, b):\n    return a + b\n```"},
        {"instruction": "Double a list in JavaScript.", "output": "```js\nconst d = (xs) => xs.map((x) => x * 2);\n```"},
        {"instruction": "Broken", "output": "```python\ndef f(:\n    pass\n```"},
        {"instruction": "Refuse", "output": "I'm sorry, but I can't help with that."},
    ]
    src = tmp_path / "small.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows) + "{broken\n")
    ws.config.datasets["small"] = DatasetEntry(path=str(src), description="four rows and a broken line")
    ws.config.datasets["faraway"] = DatasetEntry(hub="someone/not-cached-anywhere")
    ws.save()
    return ws


def _select(app: Any, name: str) -> None:
    t = app.screen.query_one("#catalog", DataTable)
    t.move_cursor(row=t.get_row_index(name))


async def test_preview_stats_process_and_dropped(tmp_path: Path, tiny_model_dir: Path) -> None:
    ws = _workspace(tmp_path, tiny_model_dir)
    app = WorkbenchApp(ws, build_demo=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        shot = _screen_text(app)
        assert "small" in shot and "not available offline" in shot
        _select(app, "small")
        await pilot.pause()
        assert "four rows and a broken line" in _content(app, "#dataset-detail")

        # preview: rendered with the chat template, the answer and <|im_end|> trained
        await pilot.press("v")
        await _until(pilot, lambda: "tokens," in _content(app, "#dataset-preview"))
        content = app.screen.query_one("#dataset-preview", Static).content
        plain = content.plain
        assert "<|im_start|>user\nAdd two numbers in Python.<|im_end|>\n<|im_start|>assistant\n" in plain
        body = plain.index("<|im_start|>")  # after the header and its colour legend
        trained = "".join(plain[s.start:s.end] for s in content.spans if str(s.style) == TRAINED and s.start >= body)
        assert trained == "```python\ndef add(a, b):\n    return a + b\n```<|im_end|>"
        await pilot.press("n")
        await pilot.pause()
        assert "Double a list" in _content(app, "#dataset-preview")
        await pilot.press("t")  # token boundaries: same text, per-token shading
        await pilot.pause()
        assert "Double a list" in _content(app, "#dataset-preview")

        # stats of the raw entry (worker, tokenizer counts)
        await pilot.press("s")
        await _until(pilot, lambda: "p50" in _content(app, "#dataset-stats"))
        stats = _content(app, "#dataset-stats")
        assert "rows 4" in stats and "python" in stats and "javascript" in stats

        # process through the form; the worker reports progress and the result
        await pilot.press("p")
        await pilot.pause(0.2)
        await pilot.press("enter")
        await pilot.pause(0.1)
        await _until(pilot, lambda: app.screen.processing is None and "processed small" in _content(app, "#ds-label"))
        assert (ws.datasets_dir / "small" / "data.parquet").exists()
        assert "2 rows" in _screen_text(app)
        assert "drops per filter" in _content(app, "#dataset-stats")
        # no [benchmarks] data_dir and the hub offline: the report says so first, in plain words
        assert _content(app, "#dataset-stats").split("\n")[2].startswith(
            "warning: decontamination skipped: no [benchmarks] data_dir in workspace.toml")
        assert "warning: decontamination skipped" in _content(app, "#dataset-detail")

        # dropped rows by reason
        await pilot.press("x")
        await _until(pilot, lambda: "(n next" in _content(app, "#dataset-dropped"))
        reasons = app.screen.query_one("#drop-reasons", DataTable)
        names = [reasons.get_row_at(i)[0] for i in range(reasons.row_count)]
        assert names == ["refusal", "syntax_error", "quarantine"]
        assert "small:3" in _content(app, "#dataset-dropped")
        reasons.move_cursor(row=1)
        await _until(pilot, lambda: "syntax_error" in _content(app, "#dataset-dropped"))
        assert "python block 1: line 1" in _content(app, "#dataset-dropped")
        reasons.move_cursor(row=2)
        await _until(pilot, lambda: "invalid JSON" in _content(app, "#dataset-dropped"))
        assert "small.jsonl:5" in _content(app, "#dataset-dropped")
        assert not app.workers._workers or all(w.is_finished for w in app.workers._workers)


async def test_offline_hub_entry_filter_and_empty_state(tmp_path: Path, tiny_model_dir: Path) -> None:
    from screens.dialogs import ErrorDialog

    ws = _workspace(tmp_path, tiny_model_dir)
    app = WorkbenchApp(ws, build_demo=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        _select(app, "faraway")
        await pilot.press("v")
        await _until(pilot, lambda: "not available offline" in _content(app, "#dataset-preview"))
        assert not isinstance(app.screen, ErrorDialog)  # a state shown in place, not a failure
        await pilot.press("slash")
        await pilot.press(*"small")
        await pilot.pause()
        t = app.screen.query_one("#catalog", DataTable)
        assert t.row_count == 1
        await pilot.press("escape")
        await pilot.pause()
        assert t.row_count == 2
        cmds = [c.title for c in app.screen.palette_commands()]
        assert "dataset: add to catalog" in cmds and any(c.startswith("dataset: process") for c in cmds)

    empty = Workspace.init(tmp_path / "empty", catalog=False)
    app = WorkbenchApp(empty, build_demo=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        text = _content(app, "#datasets-empty")
        assert "The catalog is empty" in text and "Press a to add" in text
        assert app.screen.query_one("#datasets-empty").display


async def test_corrupt_archive_is_one_line_on_the_screen(tmp_path: Path) -> None:
    import gzip
    import random

    from screens.dialogs import ErrorDialog

    ws = _workspace(tmp_path, tmp_path / "no-model")
    shard = tmp_path / "shard.jsonl.gz"
    rows = [json.dumps({"instruction": random.Random(i).randbytes(32).hex(), "output": "o"}) for i in range(200)]
    shard.write_bytes(gzip.compress("\n".join(rows).encode())[:300])  # cut in its first rows
    ws.config.datasets["shard"] = DatasetEntry(path=str(shard))
    ws.config.defaults.model = None  # no tokenizer to load: the pipeline reaches the input at once
    ws.save()
    want = f"{shard}: truncated gzip archive: it ends before the end-of-stream marker"
    app = WorkbenchApp(ws, build_demo=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        _select(app, "shard")
        await pilot.press("v")  # the preview says it in place
        await _until(pilot, lambda: "gzip" in _content(app, "#dataset-preview"))
        assert _content(app, "#dataset-preview") == want
        await pilot.press("p")
        await pilot.pause(0.2)
        await pilot.press("enter")
        await _until(pilot, lambda: isinstance(app.screen, ErrorDialog))
        assert app.screen.message == want
        await pilot.press("escape")
        await _until(pilot, lambda: not isinstance(app.screen, ErrorDialog) and app.screen.processing is None)
        assert not (ws.datasets_dir / "shard" / "report.json").exists()


def test_preview_and_stats_keep_transformers_out_of_the_app(tmp_path: Path, tiny_model_dir: Path) -> None:
    """The preview and the stats need the tokenizer: they run `workbench data …` in a
    subprocess (docs/app.md), so the app process imports neither transformers nor torch."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    ws = _workspace(tmp_path, tiny_model_dir)
    code = f"""
import asyncio, sys
from engine.workspace import Workspace
from workbench.app import WorkbenchApp
ws = Workspace.open({str(ws.root)!r})
async def main():
    app = WorkbenchApp(ws, build_demo=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        t = app.screen.query_one("#catalog")
        t.move_cursor(row=t.get_row_index("small"))
        for key, target, done in (("v", "#dataset-preview", "tokens,"), ("s", "#dataset-stats", "p50")):
            await pilot.press(key)
            for _ in range(600):
                await pilot.pause(0.1)
                if done in str(app.screen.query_one(target).content):
                    break
            print("SHOWN", key, done in str(app.screen.query_one(target).content))
asyncio.run(main())
print("HEAVY", sorted({{"torch", "transformers"}} & set(sys.modules)))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(ROOT), timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "SHOWN v True" in out.stdout and "SHOWN s True" in out.stdout, out.stdout
    assert "HEAVY []" in out.stdout
