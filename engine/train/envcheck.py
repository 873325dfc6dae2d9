"""Pre-launch environment check: can this machine run this config? Each check is ok / warn /
fail with a message that says what to do; `launch` refuses to start when one fails."""

from __future__ import annotations

import importlib.metadata as md
import importlib.util
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

OK, WARN, FAIL, INFO = "ok", "warn", "fail", "info"


@dataclass
class Check:
    name: str
    status: str
    message: str

    def to_json(self) -> dict[str, str]:
        return asdict(self)


def _version(pkg: str) -> str | None:
    try:
        return md.version(pkg)
    except md.PackageNotFoundError:
        return None


def _has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def estimate_weights_gib(model_dir: str | Path, method: str) -> float | None:
    """Rough size of the weights each GPU holds (bf16, or 4-bit for QLoRA) from config.json."""
    try:
        c = json.loads((Path(model_dir) / "config.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None
    h = c.get("hidden_size") or c.get("n_embd")
    L = c.get("num_hidden_layers") or c.get("n_layer")
    V = c.get("vocab_size")
    inter = c.get("intermediate_size") or (4 * h if h else None)
    if not (h and L and V and inter):
        return None
    heads = c.get("num_attention_heads") or 1
    kv = c.get("num_key_value_heads") or heads
    attn = h * h * 2 + 2 * h * (h * kv // heads)
    params = L * (attn + 3 * h * inter) + V * h * (1 if c.get("tie_word_embeddings") else 2)
    bytes_per = 0.55 if method == "qlora" else 2.0
    return params * bytes_per / 2**30


def check_environment(cfg: Any = None, *, workspace_root: Path | None = None) -> list[Check]:
    out: list[Check] = []
    out.append(Check("python", OK if sys.version_info >= (3, 10) else FAIL, sys.version.split()[0]))
    for pkg in ("transformers", "peft", "accelerate"):
        v = _version(pkg)
        out.append(Check(pkg, OK if v else FAIL, v or f"not installed (pip install {pkg})"))
    try:
        import torch

        cuda = torch.cuda.is_available()
        n_cuda = torch.cuda.device_count() if cuda else 0
        devices = f"available: {n_cuda} device(s), CUDA {torch.version.cuda}" if cuda else "not available (CPU only)"
        out.append(Check("torch", OK, f"{torch.__version__}; CUDA {devices}"))
    except ImportError:
        out.append(Check("torch", FAIL, "not installed"))
        cuda, n_cuda = False, 0
    from engine.train.gpu import gpu_snapshot

    snap = gpu_snapshot()
    if snap.available:
        for g in snap.gpus:
            out.append(
                Check(
                    f"gpu{g.index}",
                    OK,
                    f"{g.name}: {g.mem_free_mib / 1024:.1f} of "
                    f"{g.mem_total_mib / 1024:.1f} GiB free, {len(g.processes)} process(es)",
                )
            )
    else:
        out.append(Check("gpu", INFO, snap.summary()))
    ds_v, bnb_v = _version("deepspeed"), _version("bitsandbytes")
    out.append(
        Check(
            "flash_attn",
            INFO,
            _version("flash-attn") or _version("flash_attn") or "not installed (sdpa attention is used)",
        )
    )
    if cfg is None:
        out.append(Check("deepspeed", INFO, ds_v or "not installed"))
        out.append(Check("bitsandbytes", INFO, bnb_v or "not installed"))
        return out

    L = cfg.launch
    if L.num_gpus == 0:
        out.append(Check("launch", INFO, "[launch] num_gpus = 0: one plain CPU process (DeepSpeed settings unused)"))
        if cfg.loop.bf16:
            out.append(Check("precision", INFO, "bf16 is a GPU setting; this CPU run trains in float32"))
    else:
        if not cuda:
            out.append(
                Check(
                    "launch",
                    FAIL,
                    f"the config asks for {L.num_gpus} GPU(s) per machine but torch sees no "
                    "CUDA device; set [launch] num_gpus = 0 to train on CPU",
                )
            )
        elif n_cuda < L.num_gpus:
            out.append(Check("launch", FAIL, f"the config asks for {L.num_gpus} GPU(s) but {n_cuda} are visible"))
        else:
            out.append(Check("launch", OK, f"{L.num_gpus} GPU(s) x {L.num_machines} machine(s)"))
        if cfg.uses_deepspeed:
            out.append(
                Check(
                    "deepspeed",
                    OK if ds_v else FAIL,
                    ds_v
                    or f"deepspeed_stage = {L.deepspeed_stage} needs DeepSpeed: pip install 'workbench[gpu]' "
                    "(or set deepspeed_stage = 0)",
                )
            )
        if cfg.loop.bf16 and snap.available:
            old = [g for g in snap.gpus[: L.num_gpus] if g.compute_capability and g.compute_capability < (8, 0)]
            if old:
                out.append(
                    Check(
                        "precision",
                        FAIL,
                        f"bf16 needs compute capability 8.0+ ({old[0].name} is "
                        f"{old[0].compute_capability}); set [loop] bf16 = false",
                    )
                )
    if cfg.peft.method == "qlora":
        if not cuda or L.num_gpus == 0:
            out.append(
                Check(
                    "qlora",
                    FAIL,
                    "QLoRA (bitsandbytes 4-bit NF4) needs a CUDA GPU; use method = \"lora\" or \"none\" on CPU",
                )
            )
        else:
            out.append(
                Check(
                    "bitsandbytes",
                    OK if bnb_v else FAIL,
                    bnb_v or "QLoRA needs bitsandbytes: pip install 'workbench[gpu]'",
                )
            )
    if cfg.export.tensorboard:
        out.append(
            Check(
                "tensorboard",
                OK if _has("tensorboard") else FAIL,
                "installed" if _has("tensorboard") else "[export] tensorboard needs: pip install tensorboard",
            )
        )
    if cfg.export.wandb:
        out.append(
            Check(
                "wandb",
                OK if _has("wandb") else FAIL,
                "installed" if _has("wandb") else "[export] wandb needs: pip install wandb",
            )
        )

    out += _model_checks(cfg, workspace_root, snap)
    out.append(_mixture_check(cfg, workspace_root))
    return out


def _model_checks(cfg: Any, workspace_root: Path | None, snap: Any) -> list[Check]:
    """The model folder (or hub id) and whether its weights fit the GPUs."""
    from engine.train.launch import resolve_model_path

    out: list[Check] = []
    L = cfg.launch
    mpath = resolve_model_path(cfg.model.path, workspace_root)
    if Path(mpath).is_dir():
        has_cfg = (Path(mpath) / "config.json").exists()
        out.append(Check("model", OK if has_cfg else FAIL, mpath if has_cfg else f"{mpath} has no config.json"))
        need = estimate_weights_gib(mpath, cfg.peft.method)
        if need is not None and snap.available and L.num_gpus:
            per_gpu = need / (L.world_size if L.deepspeed_stage == 3 else 1)
            free = min(g.mem_free_mib for g in snap.gpus[: L.num_gpus]) / 1024
            status = OK if free > per_gpu * 1.3 else WARN
            out.append(
                Check(
                    "gpu memory",
                    status,
                    f"weights about {per_gpu:.1f} GiB per GPU, {free:.1f} GiB free on "
                    "the fullest GPU" + ("" if status == OK else " - may not fit (activations come on top)"),
                )
            )
    elif cfg.model.path.startswith("models/") and workspace_root is not None:
        name = cfg.model.path.split("/", 1)[1]
        out.append(
            Check(
                "model",
                FAIL,
                f"{cfg.model.path} is not in the workspace yet; import it first: "
                f"workbench model import SRC --name {name}  (SRC: a folder or hub id, "
                "e.g. Qwen/Qwen-1_8B)",
            )
        )
    else:
        import os

        offline = os.environ.get("HF_HUB_OFFLINE") == "1"
        out.append(
            Check(
                "model",
                FAIL if offline else WARN,
                f"'{cfg.model.path}' is not a local folder; it will be fetched from the hub"
                + (" but HF_HUB_OFFLINE=1" if offline else ""),
            )
        )
    return out


def _mixture_check(cfg: Any, workspace_root: Path | None) -> Check:
    from engine.mixture.resolve import MixtureStatus, resolve_mixture

    ref = resolve_mixture(cfg.data.mixture, workspace_root)
    if ref.status == MixtureStatus.BUILT:
        return Check("mixture", OK, str(ref.build))
    if ref.status == MixtureStatus.SPEC_ONLY:
        return Check("mixture", OK, f"{ref.spec} (materialised at launch)")
    return Check("mixture", FAIL, str(ref.error()))


def failures(checks: list[Check]) -> list[Check]:
    return [c for c in checks if c.status == FAIL]
