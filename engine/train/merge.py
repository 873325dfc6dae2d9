"""Export a checkpoint as a standard Hugging Face model folder: LoRA adapters are merged into
the base weights (`merge_and_unload`); a full fine-tune's weights are copied. The result loads
with `AutoModelForCausalLM.from_pretrained` and needs neither peft nor this project."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from engine.errors import WorkbenchError
from engine.fsutil import atomic_write_json
from engine.runs import RunDir
from engine.train.checkpoints import find_checkpoint


def merge_checkpoint(run: RunDir, which: str | int | None = "best", out: str | Path | None = None, *,
                     dtype: str = "auto", trust_remote_code: bool | None = None) -> dict[str, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        ck = find_checkpoint(run, which)
    except FileNotFoundError:
        if which == "best":
            ck = find_checkpoint(run, "last")  # no validation ran: the newest is the best we know
        else:
            raise
    ck_dir = Path(ck["path"])
    cfg = _run_config(run)
    trust = cfg["model"].get("trust_remote_code", False) if trust_remote_code is None else trust_remote_code
    dest = Path(out) if out else run.path / "merged" / ck["name"]
    if dest.exists() and any(dest.iterdir()):
        raise WorkbenchError(f"{dest} exists and is not empty; give another --out or remove it")
    t0 = time.time()
    torch_dtype = {"auto": torch.bfloat16 if torch.cuda.is_available() else torch.float32,
                   "bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[dtype]
    weights = ck.get("weights", "adapter")
    if weights == "model":
        shutil.copytree(ck_dir / "model", dest)
        base = str(ck_dir / "model")
    else:
        from peft import PeftModel

        base = ck.get("base_model") or cfg["model"]["path"]
        kw = {"dtype": torch_dtype} if int(__import__("transformers").__version__.split(".")[0]) >= 5 \
            else {"torch_dtype": torch_dtype}
        try:
            model = AutoModelForCausalLM.from_pretrained(base, trust_remote_code=trust, **kw)
        except OSError as e:
            raise WorkbenchError(f"cannot load the base model '{base}': {e}") from None
        model = PeftModel.from_pretrained(model, str(ck_dir / "adapter"))
        merged = model.merge_and_unload()
        merged.config.use_cache = True
        dest.mkdir(parents=True, exist_ok=True)
        merged.save_pretrained(str(dest), safe_serialization=True)
        tok_src = ck_dir / "adapter" if (ck_dir / "adapter" / "tokenizer_config.json").exists() else base
        AutoTokenizer.from_pretrained(str(tok_src), trust_remote_code=trust).save_pretrained(str(dest))
    info = {"run": run.id, "checkpoint": ck["name"], "step": ck["step"], "base_model": base, "weights": weights,
            "dtype": dtype, "seconds": round(time.time() - t0, 2), "path": str(dest),
            **{k: v for k, v in ck.items() if k.startswith("valid_loss")}}
    atomic_write_json(dest / "workbench-merge.json", info)
    return info


def _run_config(run: RunDir) -> dict[str, Any]:
    import json

    try:
        return json.loads(run.config_json.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise WorkbenchError(f"cannot read {run.config_json}: {e}") from None
