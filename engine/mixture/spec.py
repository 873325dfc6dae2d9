"""The mixture spec: `mixtures/<name>.toml`, typed and validated (unknown keys are errors).

    description = "contest mix"
    seed = 1234
    valid_fraction = 0.05        # per task, of its unique rows; never empty
    # max_valid_rows = 500       # optional cap per task
    # seq_length = 4096          # for over-length warnings (default: workspace [defaults])

    [tasks.code_instruct]
    sources = [
      { dataset = "code_alpaca", weight = 1.0 },     # sampling ratio: 2.5 = 2 copies + half again
      { dataset = "evol", weight = 0.5 },            # < 1: sampled without replacement
    ]

    [tasks.leetcode]
    valid_fraction = 0.02
    sources = [{ dataset = "leetcode_train", tokens = 2_000_000 }]   # a token budget instead

A source names a processed dataset (`datasets/<name>/`) and gives either a `weight` (default 1)
or a `tokens` budget; `languages` keeps only rows whose code is in one of those languages
("none" = rows without code). The edit helpers at the bottom are what the screen and the CLI
use, so both change specs the same way.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from engine.config import StrictModel, dump_toml, load_model
from engine.errors import InputError, WorkbenchError
from engine.fsutil import atomic_write_text, stable_hash

NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")
# Bump when sampling/split semantics change: old builds then get new ids.
FORMAT_VERSION = 1
DEFAULT_VALID_FRACTION = 0.05


def check_name(name: str, what: str = "name") -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ValueError(f"{what} {name!r} must be letters, digits, '-' or '_'")
    return name


class SourceSpec(StrictModel):
    dataset: str = Field(min_length=1)
    weight: float | None = Field(default=None, ge=0, le=1000)
    tokens: int | None = Field(default=None, gt=0)
    languages: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _weight_or_tokens(self) -> SourceSpec:
        if self.weight is not None and self.tokens is not None:
            raise ValueError("give either 'weight' (a sampling ratio) or 'tokens' (a token budget), not both")
        return self

    @property
    def mode(self) -> str:
        return "tokens" if self.tokens is not None else "weight"

    @property
    def effective_weight(self) -> float:
        return 1.0 if self.weight is None else float(self.weight)

    @property
    def enabled(self) -> bool:
        return self.tokens is not None or self.effective_weight > 0


class TaskSpec(StrictModel):
    description: str = ""
    valid_fraction: float | None = Field(default=None, gt=0, lt=1)
    max_valid_rows: int | None = Field(default=None, ge=1)
    sources: list[SourceSpec] = Field(default_factory=list)

    @field_validator("sources")
    @classmethod
    def _unique_sources(cls, v: list[SourceSpec]) -> list[SourceSpec]:
        seen: set[str] = set()
        for s in v:
            if s.dataset in seen:
                raise ValueError(
                    f"dataset {s.dataset!r} is listed twice in this task (one entry per dataset; "
                    f"use another task for another slice of it)"
                )
            seen.add(s.dataset)
        return v


class BalanceSettings(StrictModel):
    """Thresholds of the balance warnings."""

    min_task_share: float = Field(default=0.05, ge=0, le=1)
    max_language_share: float = Field(default=0.8, gt=0, le=1)
    max_repeats: float = Field(default=4.0, ge=1)


class MixtureSpec(StrictModel):
    description: str = ""
    seed: int = 1234
    valid_fraction: float = Field(default=DEFAULT_VALID_FRACTION, gt=0, lt=1)
    max_valid_rows: int | None = Field(default=None, ge=1)
    seq_length: int | None = Field(default=None, gt=0)
    balance: BalanceSettings = Field(default_factory=BalanceSettings)
    tasks: dict[str, TaskSpec] = Field(default_factory=dict)

    @field_validator("tasks")
    @classmethod
    def _task_names(cls, v: dict[str, TaskSpec]) -> dict[str, TaskSpec]:
        for name in v:
            check_name(name, "task name")
        return v

    # -- resolved values ------------------------------------------------------------------
    def task_valid_fraction(self, task: str) -> float:
        t = self.tasks[task]
        return t.valid_fraction if t.valid_fraction is not None else self.valid_fraction

    def task_max_valid(self, task: str) -> int | None:
        t = self.tasks[task]
        return t.max_valid_rows if t.max_valid_rows is not None else self.max_valid_rows

    def datasets(self) -> list[str]:
        out: list[str] = []
        for t in self.tasks.values():
            for s in t.sources:
                if s.dataset not in out:
                    out.append(s.dataset)
        return out

    def content(self) -> dict[str, Any]:
        """What decides the rows drawn: the id hashes this (plus input fingerprints). Cosmetic
        fields (descriptions, warning thresholds, seq_length) and how defaults are spelled
        (weight 1 vs no weight, a fraction set per task vs inherited) do not change it."""
        tasks = {}
        for name, t in self.tasks.items():
            srcs = sorted(
                (
                    {
                        "dataset": s.dataset,
                        "languages": sorted(s.languages),
                        **({"tokens": s.tokens} if s.tokens is not None else {"weight": round(s.effective_weight, 6)}),
                    }
                    for s in t.sources
                    if s.enabled
                ),
                key=lambda d: (d["dataset"], d["languages"]),
            )
            tasks[name] = {
                "valid_fraction": round(self.task_valid_fraction(name), 9),
                "max_valid_rows": self.task_max_valid(name),
                "sources": srcs,
            }
        return {"format": FORMAT_VERSION, "seed": self.seed, "tasks": tasks}


def mixture_id(spec: MixtureSpec, fingerprints: dict[str, str]) -> str:
    """Hash of the spec's content and the fingerprints of the datasets it reads."""
    used = {d: fingerprints[d] for d in spec.datasets() if d in fingerprints}
    return stable_hash({"spec": spec.content(), "inputs": used}, n=12)


# -- files ---------------------------------------------------------------------------------------

_HEADER = """\
# workbench mixture spec (see docs/mixtures.md). Unknown keys are errors.
# Per source: weight = sampling ratio (2.5 = two copies + half again; 0.3 = 30% drawn without
# replacement) or tokens = a token budget; languages = keep only rows in these languages.

"""


def spec_path(mixtures_dir: str | Path, name: str) -> Path:
    check_name(name, "mixture name")
    return Path(mixtures_dir) / f"{name}.toml"


def list_mixtures(mixtures_dir: str | Path) -> list[str]:
    d = Path(mixtures_dir)
    if not d.is_dir():
        return []
    return sorted(p.stem for p in d.glob("*.toml") if NAME_RE.match(p.stem))


def load_spec(path: str | Path) -> MixtureSpec:
    return load_model(MixtureSpec, path)


def spec_to_dict(spec: MixtureSpec) -> dict[str, Any]:
    """A compact TOML-ready dict: defaults left out, so hand-written specs stay short."""
    data = spec.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    tasks = {}
    for name, t in spec.tasks.items():  # keep sources (even an empty list) and task order
        td = t.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
        td["sources"] = [s.model_dump(mode="json", exclude_none=True, exclude_defaults=True) for s in t.sources]
        tasks[name] = td
    data["tasks"] = tasks
    if "seed" not in data:
        data = {"seed": spec.seed, **data}
    return data


def save_spec(path: str | Path, spec: MixtureSpec) -> Path:
    path = Path(path)
    atomic_write_text(path, _HEADER + dump_toml(spec_to_dict(spec)))
    return path


def new_spec(
    tasks: dict[str, list[str]] | None = None,
    *,
    seed: int = 1234,
    valid_fraction: float = DEFAULT_VALID_FRACTION,
    description: str = "",
) -> MixtureSpec:
    """A spec with one task per entry: {task: [dataset, ...]} (weight 1 each)."""
    return MixtureSpec(
        seed=seed,
        valid_fraction=valid_fraction,
        description=description,
        tasks={
            check_name(t, "task name"): TaskSpec(sources=[SourceSpec(dataset=d) for d in ds])
            for t, ds in (tasks or {}).items()
        },
    )


def task_name_for(dataset: str) -> str:
    """A valid task name derived from a dataset name or folder."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", dataset).strip("_") or "task"
    return name[:64]


# -- edits (screen and CLI) ----------------------------------------------------------------------
# Each returns a new validated spec; the input is never modified. A value the spec does not allow
# (a weight past 1000, a bad task name) is an InputError naming the field, not a pydantic error.


def _edit(fn: Any) -> Any:
    import functools

    from pydantic import ValidationError

    from engine.config import format_validation_error

    @functools.wraps(fn)
    def wrapper(*a: Any, **kw: Any) -> MixtureSpec:
        try:
            return fn(*a, **kw)
        except ValidationError as e:
            raise format_validation_error(e, file=None, text=None) from None
        except ValueError as e:
            raise InputError(str(e)) from None

    return wrapper


def _copy(spec: MixtureSpec) -> MixtureSpec:
    return MixtureSpec.model_validate(spec.model_dump())


def _source(spec: MixtureSpec, task: str, dataset: str) -> SourceSpec:
    if task not in spec.tasks:
        raise WorkbenchError(f"no task {task!r} in this mixture (tasks: {', '.join(spec.tasks) or 'none'})")
    for s in spec.tasks[task].sources:
        if s.dataset == dataset:
            return s
    raise WorkbenchError(f"task {task!r} has no source {dataset!r}")


@_edit
def set_weight(spec: MixtureSpec, task: str, dataset: str, weight: float) -> MixtureSpec:
    out = _copy(spec)
    s = _source(out, task, dataset)
    s.tokens = None
    s.weight = round(max(0.0, float(weight)), 4)
    return out


@_edit
def set_tokens(spec: MixtureSpec, task: str, dataset: str, tokens: int) -> MixtureSpec:
    if int(tokens) <= 0:
        raise WorkbenchError("a token budget must be positive")
    out = _copy(spec)
    s = _source(out, task, dataset)
    s.weight = None
    s.tokens = int(tokens)
    return out


@_edit
def set_task_valid_fraction(spec: MixtureSpec, task: str, fraction: float | None) -> MixtureSpec:
    if task not in spec.tasks:
        raise WorkbenchError(f"no task {task!r} in this mixture")
    if fraction is not None and not 0 < fraction < 1:
        raise WorkbenchError("the validation fraction must be between 0 and 1 (exclusive)")
    out = _copy(spec)
    out.tasks[task].valid_fraction = fraction
    return out


@_edit
def add_task(spec: MixtureSpec, task: str, datasets: list[str] | None = None) -> MixtureSpec:
    check_name(task, "task name")
    if task in spec.tasks:
        raise WorkbenchError(f"task {task!r} already exists")
    out = _copy(spec)
    out.tasks = {**out.tasks, task: TaskSpec(sources=[SourceSpec(dataset=d) for d in datasets or []])}
    return out


@_edit
def add_source(
    spec: MixtureSpec, task: str, dataset: str, *, weight: float | None = None, tokens: int | None = None
) -> MixtureSpec:
    if task not in spec.tasks:
        raise WorkbenchError(f"no task {task!r} in this mixture")
    if any(s.dataset == dataset for s in spec.tasks[task].sources):
        raise WorkbenchError(f"task {task!r} already reads {dataset!r}")
    out = _copy(spec)
    out.tasks[task].sources = [*out.tasks[task].sources, SourceSpec(dataset=dataset, weight=weight, tokens=tokens)]
    return out


@_edit
def remove(spec: MixtureSpec, task: str, dataset: str | None = None) -> MixtureSpec:
    """Remove a task, or one source of a task."""
    if task not in spec.tasks:
        raise WorkbenchError(f"no task {task!r} in this mixture")
    out = _copy(spec)
    if dataset is None:
        out.tasks = {k: v for k, v in out.tasks.items() if k != task}
    else:
        _source(out, task, dataset)
        out.tasks[task].sources = [s for s in out.tasks[task].sources if s.dataset != dataset]
    return out


def parse_amount(text: str) -> float:
    """'2.5' -> 2.5, '200k' -> 200000, '1.5M' -> 1500000, '2_000' -> 2000."""
    t = text.strip().replace("_", "").replace(",", "")
    mult = 1.0
    if t and t[-1].lower() in "kmg":
        mult = {"k": 1e3, "m": 1e6, "g": 1e9}[t[-1].lower()]
        t = t[:-1]
    try:
        return float(t) * mult
    except ValueError:
        raise InputError(f"not a number: {text!r} (examples: 1.5, 0.3, 200k, 2M)") from None
