"""The checkpoint marked to submit: `submission.json` at the workspace root.

    {"run": "20250101-120000-lora-ab12", "checkpoint": "step-0000200", "step": 200,
     "path": ".../runs/<id>/checkpoints/step-0000200", "model": "<base or model folder>",
     "adapter": ".../adapter" | null, "label": "lora-ab12-step200", "spec": "<id>@200",
     "validation": "<validation id>" | null, "marked_at": 1735732800.0}

`spec` is what `workbench submit build --checkpoint` and `workbench eval run --model` accept.
The validation (optional) is the one the choice was made on; `submit build` reuses its
generations when they make a complete greedy contest submission.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from pydantic import Field

from engine.config import StrictModel, load_model
from engine.errors import WorkbenchError
from engine.fsutil import atomic_write_json

MARK_FILE = "submission.json"


class SubmissionMark(StrictModel):
    run: str | None = None
    checkpoint: str | None = None
    step: int | None = None
    path: str | None = None
    model: str = ""
    adapter: str | None = None
    label: str = ""
    spec: str = Field("", description="what `submit build --checkpoint` accepts")
    validation: str | None = None
    marked_at: float = 0.0

    def describe(self) -> str:
        what = f"{self.run} step {self.step}" if self.run else (self.label or self.model)
        return what + (f" (validation {self.validation})" if self.validation else "")

    def matches(
        self, *, run: str | None, step: int | None, model: str | None = None, adapter: str | None = None
    ) -> bool:
        """Same checkpoint: the same run and step, or (outside runs) the same model + adapter."""
        if self.run or run:
            return self.run == run and self.step == step
        return bool(model) and _same_path(self.model, model) and _same_path(self.adapter, adapter)


def _same_path(a: str | None, b: str | None) -> bool:
    if not a or not b:
        return not a and not b
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return a == b


def mark_path(ws: Any) -> Path:
    return Path(ws.root) / MARK_FILE


def read_mark(ws: Any) -> SubmissionMark | None:
    """The mark, or None. A hand-edited file with unknown keys or wrong types is an error that
    names the file and field."""
    p = mark_path(ws)
    if not p.is_file():
        return None
    return load_model(SubmissionMark, p)


def clear_mark(ws: Any) -> bool:
    p = mark_path(ws)
    if p.is_file():
        p.unlink()
        return True
    return False


def mark_checkpoint(ws: Any, spec: str | None = None, *, validation: str | None = None) -> SubmissionMark:
    """Mark a checkpoint (RUN_ID@STEP, a checkpoint/model/adapter folder, ...) and optionally
    the validation it was chosen on. With only a validation, its checkpoint is marked (even one
    whose folder retention has since removed: its generations can still be submitted)."""
    from engine.validate.checkpoints import resolve_checkpoint
    from engine.validate.store import open_validation

    if not spec and not validation:
        raise WorkbenchError("give a checkpoint (RUN_ID@STEP or a folder) or a validation id to mark")
    vmeta: dict[str, Any] = {}
    vid = None
    if validation:
        v = open_validation(ws.validations_dir, validation)
        vid, vmeta = v.id, v.meta()
        if v.status() != "completed":
            raise WorkbenchError(f"validation {v.id} is {v.status()}, not completed: mark it when it has finished")
    info: dict[str, Any] = {}
    if spec:
        try:
            ck = resolve_checkpoint(spec, ws)
        except (FileNotFoundError, LookupError) as e:  # run lookups speak in these
            raise WorkbenchError(str(e).strip("'\"")) from None
        info = {
            "run": ck.run,
            "step": ck.step,
            "path": ck.path,
            "model": ck.model,
            "adapter": ck.adapter,
            "label": ck.label,
        }
        if vmeta:
            vck = vmeta.get("checkpoint") or {}
            same = (
                (vck.get("run") == ck.run and vck.get("step") == ck.step)
                if (ck.run or vck.get("run"))
                else (_same_path(vck.get("model"), ck.model) and _same_path(vck.get("adapter"), ck.adapter))
            )
            if not same:
                raise WorkbenchError(
                    f"validation {vid} scored {vck.get('label') or vck.get('model')}, "
                    f"not {ck.label}: mark a validation of this checkpoint (or none)"
                )
    else:
        vck = vmeta.get("checkpoint") or {}
        if vck.get("model") == "<in memory>" or not vck.get("model"):
            raise WorkbenchError(f"validation {vid} did not record which checkpoint it scored")
        info = {k: vck.get(k) for k in ("run", "step", "path", "model", "adapter", "label")}
    run, step = info.get("run"), info.get("step")
    if run and step is not None:
        spec_out = f"{run}@{step}"
    else:
        spec_out = str(info.get("path") or info.get("adapter") or info.get("model") or "")
    mark = SubmissionMark(
        run=run,
        step=step,
        checkpoint=Path(info["path"]).name if info.get("path") else None,
        path=info.get("path"),
        model=str(info.get("model") or ""),
        adapter=info.get("adapter"),
        label=str(info.get("label") or ""),
        spec=spec_out,
        validation=vid,
        marked_at=round(time.time(), 3),
    )
    atomic_write_json(mark_path(ws), mark.model_dump())
    return mark
