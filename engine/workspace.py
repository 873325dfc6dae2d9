"""The workspace: one folder that holds everything a user makes.

    WORKSPACE/
      workspace.toml   models, dataset catalog, benchmark locations, defaults
      datasets/        processed datasets (datasets/<name>/ + report.json)
      mixtures/        mixture specs (<name>.toml) and their materialised builds
      runs/            one folder per training run (see docs/run-directory.md)
      validations/     one folder per validation (generation + execution results)

Selection order: an explicit path (`--workspace`), then `$WORKBENCH_WORKSPACE`, then the demo
workspace under the user's data dir (XDG), created on first use.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from engine.config import StrictModel, dump_toml, load_model
from engine.errors import InputError, WorkbenchError
from engine.fsutil import atomic_write_text

WORKSPACE_FILE = "workspace.toml"
SUBDIRS = ("datasets", "mixtures", "runs", "validations")
ENV_VAR = "WORKBENCH_WORKSPACE"


class WorkspaceMeta(StrictModel):
    name: str = "workspace"
    version: int = 1
    demo: bool = False


class ModelEntry(StrictModel):
    """A model: a local folder (absolute, or relative to the workspace) or a hub id."""

    path: str
    trust_remote_code: bool = False
    description: str = ""


class DatasetEntry(StrictModel):
    """A catalog entry: exactly one of `hub` (a Hugging Face id) or `path` (local file/glob)."""

    hub: str | None = None
    config: str | None = None
    split: str = "train"
    path: str | None = None
    format: str = "auto"
    columns: dict[str, str] = Field(default_factory=dict)
    streaming: bool = False
    description: str = ""

    @model_validator(mode="after")
    def _one_source(self) -> DatasetEntry:
        if (self.hub is None) == (self.path is None):
            raise ValueError("give exactly one of 'hub' (a hub id) or 'path' (local files)")
        return self


class HubConfig(StrictModel):
    """Where hub ids resolve. `mirror` is a local folder laid out like the hub
    (<mirror>/<owner>/<name>/...) and is tried first; `offline` skips the network."""

    mirror: str | None = None
    offline: bool = False


class BenchmarksConfig(StrictModel):
    """Local mirror of benchmark files: humanevalpack/<lang>.jsonl, mbpp/mbpp.jsonl, leetcode/*.jsonl[.gz]."""

    data_dir: str | None = None
    decontaminate: list[str] = Field(default_factory=lambda: ["humanevalpack", "mbpp", "leetcode"])


class DefaultsConfig(StrictModel):
    model: str | None = None
    seq_length: int = Field(default=2048, gt=0)
    chat_template: str = "chatml"


class TaskSetEntry(StrictModel):
    """A named set of validation tasks (harness names or problem files) and an optional fixed subset."""

    tasks: list[str]
    fraction: float = Field(default=1.0, gt=0, le=1)
    seed: int = 0
    description: str = ""


class WorkspaceConfig(StrictModel):
    workspace: WorkspaceMeta = Field(default_factory=WorkspaceMeta)
    defaults: DefaultsConfig = Field(default_factory=DefaultsConfig)
    hub: HubConfig = Field(default_factory=HubConfig)
    benchmarks: BenchmarksConfig = Field(default_factory=BenchmarksConfig)
    models: dict[str, ModelEntry] = Field(default_factory=dict)
    datasets: dict[str, DatasetEntry] = Field(default_factory=dict)
    tasksets: dict[str, TaskSetEntry] = Field(default_factory=dict)


# The seed's candidate datasets (the contest team's list); all from the hub.
DEFAULT_CATALOG: dict[str, dict[str, Any]] = {
    "code_instructions_122k": {"hub": "TokenBender/code_instructions_122k_alpaca_style"},
    "evol_codealpaca_v1": {"hub": "theblackcat102/evol-codealpaca-v1"},
    "xlcost_text_to_code": {
        "hub": "codeparrot/xlcost-text-to-code",
        "columns": {"prompt": "text", "completion": "code"},
    },
    "magicoder_evol_instruct_110k": {"hub": "ise-uiuc/Magicoder-Evol-Instruct-110K"},
    "evol_instruct_code_80k": {"hub": "nickrosh/Evol-Instruct-Code-80k-v1"},
    "wizardlm_evol_instruct_70k": {"hub": "WizardLM/WizardLM_evol_instruct_70k"},
    "codefuse_evol_instruction_66k": {"hub": "codefuse-ai/Evol-instruction-66k"},
    "codefuse_codeexercise_python_27k": {"hub": "codefuse-ai/CodeExercise-Python-27k"},
    "bigclonebench": {"hub": "code_x_glue_cc_clone_detection_big_clone_bench"},
}

CONTEST_TASKS = [
    f"humaneval{kind}-{lang}"
    for kind in ("synthesize", "fixtests")
    for lang in ("python", "js", "java", "go", "cpp", "rust")
] + ["mbpp"]

DEFAULT_TASKSETS: dict[str, dict[str, Any]] = {
    "contest": {"tasks": CONTEST_TASKS, "description": f"the {len(CONTEST_TASKS)} contest tasks, full"},
    "contest-quick": {
        "tasks": CONTEST_TASKS,
        "fraction": 0.2,
        "seed": 0,
        "description": "a fixed 20% subset of every contest task",
    },
    "leetcode": {"tasks": ["leetcode"], "description": "LeetCodeDataset test split"},
}


class Workspace:
    """An opened workspace folder."""

    def __init__(self, root: Path, config: WorkspaceConfig):
        self.root = root
        self.config = config

    # -- paths ---------------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.root / WORKSPACE_FILE

    @property
    def datasets_dir(self) -> Path:
        return self.root / "datasets"

    @property
    def mixtures_dir(self) -> Path:
        return self.root / "mixtures"

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    @property
    def validations_dir(self) -> Path:
        return self.root / "validations"

    def resolve_path(self, p: str | Path) -> Path:
        """A path from the config: absolute as is, relative to the workspace root otherwise."""
        p = Path(os.path.expanduser(str(p)))
        return p if p.is_absolute() else self.root / p

    def model_path(self, name: str | None = None) -> str:
        """Folder (or hub id) of a named model; the default model when no name is given.
        A name not in [models] is taken as a path or hub id itself."""
        name = name or self.config.defaults.model
        if not name:
            raise WorkbenchError("no model given and the workspace has no default model ([defaults] model)")
        entry = self.config.models.get(name)
        spec = entry.path if entry else name
        local = self.resolve_path(spec)
        return str(local) if local.exists() else spec

    def benchmarks_dir(self) -> Path | None:
        d = self.config.benchmarks.data_dir
        return self.resolve_path(d) if d else None

    # -- persistence ---------------------------------------------------------------------
    def save(self) -> None:
        data = self.config.model_dump(mode="json", exclude_defaults=False)
        atomic_write_text(self.config_path, _HEADER + dump_toml(data))

    def reload(self) -> None:
        self.config = load_model(WorkspaceConfig, self.config_path)

    @classmethod
    def open(cls, path: str | Path) -> Workspace:
        root = Path(os.path.expanduser(str(path))).resolve()
        cfg_path = root / WORKSPACE_FILE
        if not cfg_path.exists():
            raise InputError(
                f"not a workspace (no {WORKSPACE_FILE}); create one with `workbench init {root}`", file=root
            )
        ws = cls(root, load_model(WorkspaceConfig, cfg_path))
        ws.ensure_dirs()
        return ws

    @classmethod
    def init(cls, path: str | Path, *, name: str | None = None, demo: bool = False, catalog: bool = True) -> Workspace:
        """Create a workspace (idempotent: an existing workspace.toml is kept as is)."""
        root = Path(os.path.expanduser(str(path))).resolve()
        if (root / WORKSPACE_FILE).exists():
            return cls.open(root)
        root.mkdir(parents=True, exist_ok=True)
        cfg = WorkspaceConfig(
            workspace=WorkspaceMeta(name=name or root.name, demo=demo),
            datasets={k: DatasetEntry(**v) for k, v in DEFAULT_CATALOG.items()} if catalog else {},
            tasksets={k: TaskSetEntry(**v) for k, v in DEFAULT_TASKSETS.items()},
        )
        ws = cls(root, cfg)
        ws.ensure_dirs()
        ws.save()
        return ws

    def ensure_dirs(self) -> None:
        for d in SUBDIRS:
            (self.root / d).mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r})"


_HEADER = """\
# workbench workspace. Edit by hand or through `workbench` commands; unknown keys are errors.
# Sections: [workspace] [defaults] [hub] [benchmarks] [models.NAME] [datasets.NAME] [tasksets.NAME]

"""


def demo_workspace_path() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("workbench", appauthor=False)) / "demo"


def resolve_workspace_path(explicit: str | Path | None = None) -> tuple[Path, bool]:
    """(path, is_demo): --workspace, then $WORKBENCH_WORKSPACE, then the XDG demo workspace."""
    if explicit:
        return Path(os.path.expanduser(str(explicit))).resolve(), False
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(os.path.expanduser(env)).resolve(), False
    return demo_workspace_path(), True


def open_workspace(explicit: str | Path | None = None, *, create_demo: bool = True) -> Workspace:
    """Open the selected workspace; the demo workspace is created on first use."""
    path, is_demo = resolve_workspace_path(explicit)
    if is_demo and create_demo and not (path / WORKSPACE_FILE).exists():
        from engine.demo.workspace import create_demo_workspace

        return create_demo_workspace(path)
    return Workspace.open(path)
