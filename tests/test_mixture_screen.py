"""The Mixtures screen driven with Textual's pilot: edit weights with the keyboard and watch the
balance follow; save; empty state; create; export in a worker."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from engine.mixture import store
from engine.mixture.spec import MixtureSpec, set_weight
from engine.workspace import Workspace
from workbench.app import WorkbenchApp

SIZE = (150, 48)



def _text(app) -> str:
    """The screen as lines of text (the SVG splits styled runs into separate elements)."""
    svg = app.export_screenshot()
    rows: dict[float, list[tuple[float, str]]] = {}
    for m in re.finditer(r'<text[^>]* x="([\d.]+)" y="([\d.]+)"[^>]*>(.*?)</text>', svg):
        rows.setdefault(float(m.group(2)), []).append((float(m.group(1)), html.unescape(m.group(3))))
    return "\n".join("".join(t for _, t in sorted(r)).replace("\xa0", " ") for _, r in sorted(rows.items()))


async def settle(app, pilot) -> None:
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


def two_tasks() -> MixtureSpec:
    return MixtureSpec.model_validate({"tasks": {"code": {"sources": [{"dataset": "code_alpaca"}]},
                                                 "lc": {"sources": [{"dataset": "leetcode"}]}}})


async def test_editing_a_weight_moves_the_balance(ws: Workspace) -> None:
    store.write_spec(ws, "mix", two_tasks())
    store.write_spec(ws, "another", MixtureSpec.model_validate(
        {"tasks": {"only": {"sources": [{"dataset": "evol_alpaca"}]}}}))
    app = WorkbenchApp(ws, build_demo=False, start_mode="mixtures")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        screen = app.screen
        assert screen.current == "another" and set(screen.balance.to_dict()["tasks"][0]) >= {"task"}
        screen.query_one("#mixtures").focus()
        await pilot.press("down")  # the second mixture
        await settle(app, pilot)
        assert screen.current == "mix"
        before = screen.balance.task("code")["share_tokens"]
        assert f"{100 * before:.1f}%" in _text(app) and "Tokens per language" in _text(app)
        tree = screen.query_one("#mix-tree")
        tree.focus()
        await pilot.pause()
        assert tree.cursor_node.data == {"kind": "task", "task": "code"}
        await pilot.press("down")  # the source code_alpaca
        assert tree.cursor_node.data["kind"] == "source"
        for _ in range(5):
            await pilot.press("plus")
        await settle(app, pilot)
        after = screen.balance.task("code")["share_tokens"]
        expected = store.balance_for(ws, set_weight(two_tasks(), "code", "code_alpaca", 1.5)).task("code")
        assert after == expected["share_tokens"] > before
        shot = _text(app)
        assert f"{100 * after:.1f}%" in shot and "weight 1.5" in shot and "modified" in shot
        assert store.open_spec(ws, "mix").tasks["code"].sources[0].weight is None  # a draft until saved
        assert tree.cursor_node.data == {"kind": "source", "task": "code", "dataset": "code_alpaca"}
        await pilot.press("s")
        await pilot.pause()
        assert store.open_spec(ws, "mix").tasks["code"].sources[0].weight == 1.5
        # switch to a token budget: the same rows, now held by a budget
        await pilot.press("b")
        await settle(app, pilot)
        src = screen.spec.tasks["code"].sources[0]
        assert src.mode == "tokens" and src.tokens == expected["sources"][0]["train_tokens"]
        assert screen.balance.task("code")["share_tokens"] == pytest.approx(after, abs=1e-6)
        # type an exact weight
        await pilot.press("e")
        await pilot.pause()
        form = app.screen
        for bad, words in (("lots", "not a number"), ("x2000", "less than or equal to 1000")):
            form.query_one("#value").value = bad
            await pilot.press("enter")
            await pilot.pause()
            assert app.screen is form and words in _text(app)  # the form stays, says why
        form.query_one("#value").value = "0.02"
        await pilot.press("enter")
        await settle(app, pilot)
        assert screen.spec.tasks["code"].sources[0].weight == 0.02
        shot = _text(app)
        assert "task 'code' has" in shot and "under 5%" in shot  # the warning shows inline
        # the whole task at once: doubling it from the task node
        await pilot.press("up", "greater_than_sign")
        await settle(app, pilot)
        assert screen.spec.tasks["code"].sources[0].weight == 0.04
        await pilot.press(*["greater_than_sign"] * 16)  # past the maximum weight: refused, no crash
        await settle(app, pilot)
        assert screen.spec.tasks["code"].sources[0].weight == 655.36 and app.is_running


async def test_empty_state_then_create_with_n(ws: Workspace) -> None:
    app = WorkbenchApp(ws, build_demo=False, start_mode="mixtures")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        shot = _text(app)
        assert "No mixtures yet" in shot and "Press n" in shot
        await pilot.press("n")
        await pilot.pause()
        app.screen.query_one("#value").value = "bad name"
        await pilot.press("enter")
        await pilot.pause()
        assert "letters, digits" in _text(app)  # inline error, the form stays
        app.screen.query_one("#value").value = "fresh"
        await pilot.press("enter")
        await settle(app, pilot)
        spec = store.open_spec(ws, "fresh")
        assert set(spec.tasks) == {"code_alpaca", "evol_alpaca", "leetcode"}
        shot = _text(app)
        assert "fresh" in shot and "Tokens per task" in shot and "No mixtures yet" not in shot
        # remove a task (asks first), then save
        await pilot.press("d")
        await pilot.pause()
        await pilot.press("y")
        await settle(app, pilot)
        assert "code_alpaca" not in app.screen.spec.tasks
        await pilot.press("s")
        await pilot.pause()
        assert set(store.open_spec(ws, "fresh").tasks) == {"evol_alpaca", "leetcode"}


async def test_export_runs_in_a_worker(ws: Workspace, tmp_path: Path) -> None:
    store.write_spec(ws, "mix", two_tasks())
    app = WorkbenchApp(ws, build_demo=False, start_mode="mixtures")
    out = tmp_path / "mft"
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("x")
        await pilot.pause()
        app.screen.query_one("#value").value = str(out)
        await pilot.press("enter")
        await settle(app, pilot)
        assert "exported" in _text(app) and app.screen.job is None
    cfg = json.loads((out / "train_config.json").read_text())
    assert cfg["data_paths"] == f"[{out}/code,{out}/lc]"
    assert len((out / "lc" / "train.jsonl").read_text().splitlines()) == 1890


async def test_materialise_runs_in_a_subprocess_with_progress(ws: Workspace, tiny_model_dir: Path) -> None:
    """`m` runs `workbench mix materialize` in a subprocess (the tokenizer loads there, not in the
    app) and its progress lines drive the bar; the build and its token cache land on disk."""
    from engine.tokens import TokenShard

    ws.config.defaults.model = str(tiny_model_dir)
    ws.save()
    small = MixtureSpec.model_validate({"tasks": {"code": {"sources": [{"dataset": "code_alpaca", "weight": 0.2}]},
                                                  "lc": {"sources": [{"dataset": "leetcode", "weight": 0.05}]}}})
    store.write_spec(ws, "mix", small)
    app = WorkbenchApp(ws, build_demo=False, start_mode="mixtures")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        screen = app.screen
        await pilot.press("m")
        await settle(app, pilot)
        assert screen.job is None and "wrote build" in _text(app) and "token cache written" in _text(app)
        stages = set(screen.query_one("#mix").phases)   # the phases the job line showed
    assert {"write", "tokenize"} <= stages
    build = store.list_builds(ws, "mix")[0]
    cache = Path(build["path"]) / "tokens" / build["token_caches"][0]
    assert len(TokenShard(cache / "lc" / "train")) == store.balance_for(ws, small).task("lc")["train_rows"]
