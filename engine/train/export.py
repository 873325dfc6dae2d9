"""Optional copies of the metrics stream to TensorBoard and Weights & Biases (same keys as
metrics.jsonl; the JSONL file stays the source of truth)."""

from __future__ import annotations

import math
from typing import Any

from engine.errors import WorkbenchError


class Exporters:
    def __init__(self, cfg: Any, run: Any):
        self._sinks: list[Any] = []
        if cfg.export.tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                raise WorkbenchError(
                    "[export] tensorboard = true needs the tensorboard package (pip install tensorboard)"
                ) from None
            self._sinks.append(("tb", SummaryWriter(log_dir=str(run.path / "tensorboard"))))
        if cfg.export.wandb:
            try:
                import wandb
            except ImportError:
                raise WorkbenchError("[export] wandb = true needs the wandb package (pip install wandb)") from None
            wb = wandb.init(
                project=cfg.export.wandb_project,
                name=cfg.name,
                id=run.id,
                resume="allow",
                dir=str(run.path),
                config=cfg.model_dump(mode="json"),
            )
            self._sinks.append(("wandb", wb))

    def log(self, step: int, metrics: dict[str, Any]) -> None:
        clean = {
            k: float(v)
            for k, v in metrics.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        }
        for kind, sink in self._sinks:
            if kind == "tb":
                for k, v in clean.items():
                    sink.add_scalar(k, v, step)
                sink.flush()
            else:
                sink.log(clean, step=step)

    def close(self) -> None:
        for kind, sink in self._sinks:
            sink.close() if kind == "tb" else sink.finish()
