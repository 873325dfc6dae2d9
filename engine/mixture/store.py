"""Mixtures inside a workspace: spec files, their plan and balance, their builds.

mixtures/<name>.toml                    the spec
mixtures/<name>/builds/<id>/            materialised builds (docs/mixture-layout.md)
mixtures/<name>/mftcoder.json           MFTCoder settings kept from an import (for export)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.data import store as data_store
from engine.errors import InputError, WorkbenchError
from engine.mixture.balance import Balance, compute_balance
from engine.mixture.manifest import read_manifest_or
from engine.mixture.plan import Plan, load_tables, make_plan
from engine.mixture.spec import (
    MixtureSpec,
    check_name,
    list_mixtures,
    load_spec,
    new_spec,
    save_spec,
    spec_path,
    task_name_for,
)
from engine.workspace import Workspace


def mixture_file(ws: Workspace, name: str) -> Path:
    try:
        return spec_path(ws.mixtures_dir, name)
    except ValueError as e:
        raise InputError(str(e), field="name") from None


def mixture_dir(ws: Workspace, name: str) -> Path:
    return ws.mixtures_dir / check_name(name, "mixture name")


def builds_dir(ws: Workspace, name: str) -> Path:
    return mixture_dir(ws, name) / "builds"


def names(ws: Workspace) -> list[str]:
    return list_mixtures(ws.mixtures_dir)


def open_spec(ws: Workspace, name: str) -> MixtureSpec:
    path = mixture_file(ws, name)
    if not path.exists():
        raise InputError(f"no mixture {name!r}; create one with `workbench mix new {name}`", file=path)
    return load_spec(path)


def write_spec(ws: Workspace, name: str, spec: MixtureSpec) -> Path:
    ws.mixtures_dir.mkdir(parents=True, exist_ok=True)
    return save_spec(mixture_file(ws, name), spec)


def processed_names(ws: Workspace) -> list[str]:
    return data_store.processed_names(ws.datasets_dir)


def create(
    ws: Workspace,
    name: str,
    *,
    tasks: dict[str, list[str]] | None = None,
    seed: int = 1234,
    valid_fraction: float = 0.05,
    description: str = "",
    force: bool = False,
) -> tuple[Path, MixtureSpec]:
    """A new spec. Without `tasks`: one task per processed dataset of the workspace."""
    path = mixture_file(ws, name)
    if path.exists() and not force:
        raise WorkbenchError(f"mixture {name!r} already exists ({path}); pass --force to replace it")
    if tasks is None:
        tasks = {}
        for ds in processed_names(ws):
            t = task_name_for(ds)
            while t in tasks:
                t += "_"
            tasks[t] = [ds]
    available = set(processed_names(ws))
    missing = sorted({d for ds in tasks.values() for d in ds} - available)
    if missing:
        raise InputError(
            f"not processed datasets: {', '.join(missing)} (available: "
            f"{', '.join(sorted(available)) or 'none'}); run `workbench data process`",
            field="datasets",
        )
    try:
        spec = new_spec(tasks, seed=seed, valid_fraction=valid_fraction, description=description)
    except ValueError as e:
        raise InputError(str(e).splitlines()[-1].strip(), field="tasks") from None
    return write_spec(ws, name, spec), spec


def seq_length_for(ws: Workspace, spec: MixtureSpec) -> int:
    return spec.seq_length or ws.config.defaults.seq_length


def plan_for(ws: Workspace, spec: MixtureSpec, name: str | None = None) -> Plan:
    file = str(mixture_file(ws, name)) if name else None
    tables = load_tables(ws.datasets_dir, spec, file=file)
    return make_plan(spec, tables, file=file)


def balance_for(ws: Workspace, spec: MixtureSpec, name: str | None = None, *, seq_length: int | None = None) -> Balance:
    plan = plan_for(ws, spec, name)
    return compute_balance(plan, seq_length=seq_length or seq_length_for(ws, spec))


def list_builds(ws: Workspace, name: str) -> list[dict[str, Any]]:
    d = builds_dir(ws, name)
    out = []
    if d.is_dir():
        for b in d.iterdir():
            man = read_manifest_or(b) if b.is_dir() else None
            if man is not None:
                tok = b / "tokens"
                out.append(
                    {
                        "id": b.name,
                        "path": str(b),
                        "created": man.get("created"),
                        "train_rows": sum(t.get("train_rows", 0) for t in man.get("tasks", {}).values()),
                        "token_caches": sorted(p.name for p in tok.iterdir()) if tok.is_dir() else [],
                    }
                )
    return sorted(out, key=lambda x: x.get("created") or 0, reverse=True)


def describe(ws: Workspace, name: str) -> dict[str, Any]:
    """What `mix show` prints: the spec, its id (when every input is processed), inputs, builds."""
    from engine.data.store import processed_fingerprint
    from engine.mixture.spec import mixture_id, spec_to_dict

    spec = open_spec(ws, name)
    inputs: dict[str, dict[str, Any]] = {}
    fps: dict[str, str] = {}
    for ds in spec.datasets():
        folder = ws.datasets_dir / ds
        ok = data_store.is_processed(folder)
        rep = (data_store.read_report(folder) or {}) if ok else {}
        fp = processed_fingerprint(folder) if ok else None
        inputs[ds] = {"processed": ok, "rows": rep.get("rows") if isinstance(rep, dict) else None, "fingerprint": fp}
        if fp is not None:
            fps[ds] = fp
    missing = [d for d, v in inputs.items() if not v["processed"]]
    return {
        "name": name,
        "path": str(mixture_file(ws, name)),
        "id": None if missing else mixture_id(spec, fps),
        "missing": missing,
        "spec": spec_to_dict(spec),
        "inputs": inputs,
        "builds": list_builds(ws, name),
        "seq_length": seq_length_for(ws, spec),
    }
