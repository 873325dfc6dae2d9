"""Shared fixtures. Heavy things (the tiny model) are built once per session and shared:
importing torch+transformers costs ~9 s on the CI machine."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# One torch thread: on 2 cores a second thread beside other work is 10-20x slower.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = (ROOT.parent / "shared" / "data").resolve()


@pytest.fixture(scope="session", autouse=True)
def _isolated_user_dirs(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep tests out of the real user's data dir (the demo workspace lives under XDG)."""
    home = tmp_path_factory.mktemp("xdg")
    os.environ["XDG_DATA_HOME"] = str(home / "data")
    os.environ["XDG_CACHE_HOME"] = str(home / "cache")
    os.environ.pop("WORKBENCH_WORKSPACE", None)


def shared_data(*parts: str) -> Path:
    """A file from ../shared/data (read-only, beside the project); skip if it is not there."""
    p = SHARED_DATA.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"shared data not found: {p}")
    return p


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo workspace with its assets (tiny Qwen2 + tokenizer + toy curriculum), built once."""
    from engine.demo.assets import build_demo_assets
    from engine.demo.workspace import create_demo_workspace

    root = tmp_path_factory.mktemp("demo-ws")
    create_demo_workspace(root)
    build_demo_assets(root)
    return root


@pytest.fixture(scope="session")
def tiny_model_dir(demo_root: Path) -> Path:
    return demo_root / "models" / "tiny"


@pytest.fixture(scope="session")
def torch_single_thread() -> None:
    import torch

    torch.set_num_threads(1)


@pytest.fixture
def workspace(tmp_path: Path):
    """A fresh, empty workspace (default catalog)."""
    from engine.workspace import Workspace

    return Workspace.init(tmp_path / "ws", name="test")


@pytest.fixture(scope="session")
def processed(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    """The mixture tests' processed datasets (from ../shared/data; built once per session)."""
    from tests.test_mixture_support import processed_root

    return processed_root(tmp_path_factory.mktemp("mixdata"), tiny_model_dir)


@pytest.fixture
def ws(workspace, processed: Path):
    """A fresh workspace that sees the mixture tests' processed datasets."""
    from tests.test_mixture_support import link_datasets

    link_datasets(workspace, processed)
    return workspace


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120):
    """Run the real `workbench` entry point in a subprocess."""
    import subprocess

    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "workbench", *args], capture_output=True, text=True,
                          env=full_env, timeout=timeout, cwd=str(ROOT))
