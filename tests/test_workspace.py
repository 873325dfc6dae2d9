from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.errors import InputError
from engine.workspace import SUBDIRS, Workspace, open_workspace, resolve_workspace_path


def test_init_creates_layout_and_catalog(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "w", name="mine")
    for d in SUBDIRS:
        assert (ws.root / d).is_dir()
    text = (ws.root / "workspace.toml").read_text()
    assert "ise-uiuc/Magicoder-Evol-Instruct-110K" in text
    again = Workspace.open(ws.root)
    assert again.config.workspace.name == "mine"
    assert "contest-quick" in again.config.tasksets
    assert len(again.config.tasksets["contest"].tasks) == 13


def test_init_is_idempotent_and_keeps_edits(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "w")
    ws.config.defaults.seq_length = 4096
    ws.save()
    assert Workspace.init(tmp_path / "w").config.defaults.seq_length == 4096


def test_unknown_key_error_names_file_line_and_field(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "w")
    p = ws.config_path
    lines = p.read_text().splitlines()
    i = lines.index("[defaults]")
    lines.insert(i + 1, "seq_lenght = 10")
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as ei:
        Workspace.open(ws.root)
    e = ei.value
    assert e.file == str(p) and e.field == "defaults.seq_lenght" and e.line == i + 2
    assert "unknown key" in str(e)


def test_bad_value_and_bad_toml(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "w")
    p = ws.config_path
    p.write_text(p.read_text().replace("seq_length = 2048", "seq_length = -3"))
    with pytest.raises(InputError) as ei:
        Workspace.open(ws.root)
    assert ei.value.field == "defaults.seq_length"
    p.write_text("[defaults\nx=1\n")
    with pytest.raises(InputError) as ei:
        Workspace.open(ws.root)
    assert ei.value.line == 1 and "invalid TOML" in str(ei.value)


def test_dataset_entry_needs_exactly_one_source(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "w")
    p = ws.config_path
    p.write_text(p.read_text() + '\n[datasets.broken]\nhub = "a/b"\npath = "x.jsonl"\n')
    with pytest.raises(InputError) as ei:
        Workspace.open(ws.root)
    assert "exactly one" in str(ei.value) and ei.value.field.startswith("datasets.broken")


def test_selection_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_WORKSPACE", str(tmp_path / "from-env"))
    assert resolve_workspace_path(tmp_path / "explicit") == ((tmp_path / "explicit").resolve(), False)
    assert resolve_workspace_path(None) == ((tmp_path / "from-env").resolve(), False)
    monkeypatch.delenv("WORKBENCH_WORKSPACE")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    path, is_demo = resolve_workspace_path(None)
    assert is_demo and path == tmp_path / "xdg" / "workbench" / "demo"
    ws = open_workspace(None)
    assert ws.config.workspace.demo and ws.config.defaults.model == "tiny"
    assert "toy" in ws.config.tasksets and "toy_python" in ws.config.datasets


def test_open_missing_workspace_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="workbench init"):
        Workspace.open(tmp_path / "nothing")


def test_model_path_resolution(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "w")
    (ws.root / "models" / "m").mkdir(parents=True)
    from engine.workspace import ModelEntry

    ws.config.models["local"] = ModelEntry(path="models/m")
    ws.config.models["hub"] = ModelEntry(path="Qwen/Qwen2-1.5B")
    assert ws.model_path("local") == str(ws.root / "models" / "m")
    assert ws.model_path("hub") == "Qwen/Qwen2-1.5B"
    assert ws.model_path("/abs/path") == "/abs/path"
    assert os.path.isabs(ws.model_path("models/m"))
