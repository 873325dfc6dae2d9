"""Layering rules: the engine never imports Textual; the CLI's --help and the app's start do
not import torch or transformers (they cost ~9 s)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import engine
from tests.conftest import ROOT


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys\nprint('\\n'.join(sys.modules))"],
                         capture_output=True, text=True, cwd=str(ROOT), timeout=120)
    assert out.returncode == 0, out.stderr
    return set(out.stdout.split())


def test_engine_never_imports_textual() -> None:
    names = [m.name for m in pkgutil.walk_packages(engine.__path__, "engine.")]
    assert len(names) > 10
    code = "\n".join(f"import {n}" for n in names)
    mods = _modules_after(code)
    assert not any(m == "textual" or m.startswith("textual.") for m in mods), \
        "engine must not import textual"


def test_cli_help_does_not_import_torch() -> None:
    mods = _modules_after("from workbench.cli import app")
    assert "torch" not in mods and "transformers" not in mods


def test_app_start_does_not_import_torch() -> None:
    mods = _modules_after("import workbench.app, screens.datasets, screens.runs, screens.mixtures, "
                          "screens.validation, screens.compare")
    heavy = {"torch", "transformers", "datasets", "peft", "accelerate"} & mods
    assert not heavy, f"app start imports {heavy}"


def test_help_exits_cleanly() -> None:
    out = subprocess.run([sys.executable, "-m", "workbench", "--help"], capture_output=True, text=True,
                         cwd=str(ROOT), timeout=60)
    assert out.returncode == 0
    for group in ("data", "mix", "train", "eval", "submit", "demo", "runs", "init"):
        assert group in out.stdout
