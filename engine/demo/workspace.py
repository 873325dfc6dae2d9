"""The built-in demo workspace: the tiny model, the toy curriculum as two catalog datasets
(one per language) and a `toy` task set of held-out problems."""

from __future__ import annotations

from pathlib import Path

from engine.workspace import DatasetEntry, ModelEntry, TaskSetEntry, Workspace


def configure_demo(ws: Workspace) -> Workspace:
    cfg = ws.config
    cfg.workspace.demo = True
    cfg.models.setdefault("tiny", ModelEntry(path="models/tiny", description="tiny random Qwen2 built offline"))
    cfg.defaults.model = cfg.defaults.model or "tiny"
    cfg.defaults.seq_length = 256
    cfg.datasets.setdefault(
        "toy_python",
        DatasetEntry(
            path="data/toy/toy_python.jsonl", format="chat_rounds", description="toy curriculum, Python (train split)"
        ),
    )
    cfg.datasets.setdefault(
        "toy_javascript",
        DatasetEntry(
            path="data/toy/toy_javascript.jsonl",
            format="chat_rounds",
            description="toy curriculum, JavaScript (train split)",
        ),
    )
    cfg.tasksets.setdefault(
        "toy",
        TaskSetEntry(
            tasks=["data/toy/heldout/python.jsonl", "data/toy/heldout/javascript.jsonl"],
            description="held-out toy problems, one task per language",
        ),
    )
    ws.save()
    return ws


def create_demo_workspace(path: str | Path) -> Workspace:
    """Create (or complete) the demo workspace. Cheap: the assets are built by `workbench demo
    build` (which the app runs in a worker when they are missing)."""
    ws = Workspace.init(path, name="demo", demo=True)
    return configure_demo(ws)
