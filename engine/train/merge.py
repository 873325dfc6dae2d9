"""Export a checkpoint as a standard Hugging Face model folder: LoRA adapters are merged into
the base weights (`merge_and_unload`); a full fine-tune's weights are copied. The result loads
with `AutoModelForCausalLM.from_pretrained` and needs neither peft nor this project.

A model trained on ChatML ends its answers with `<|im_end|>`: that becomes the merged model's
eos (config, generation_config and tokenizer), as MFTCoder's merge script writes it, so plain
`generate` stops where the model was trained to stop."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from engine.errors import WorkbenchError
from engine.fsutil import atomic_write_json
from engine.runs import RunDir
from engine.train.checkpoints import find_checkpoint


def merge_checkpoint(
    run: RunDir,
    which: str | int | None = "best",
    out: str | Path | None = None,
    *,
    dtype: str = "auto",
    trust_remote_code: bool | None = None,
) -> dict[str, Any]:
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
    torch_dtype = {
        "auto": torch.bfloat16 if torch.cuda.is_available() else torch.float32,
        "bf16": torch.bfloat16,
        "fp16": torch.float16,
        "fp32": torch.float32,
    }[dtype]
    weights = ck.get("weights", "adapter")
    if weights == "model":
        shutil.copytree(ck_dir / "model", dest)
        base = str(ck_dir / "model")
    else:
        from peft import PeftModel

        base = ck.get("base_model") or cfg["model"]["path"]
        from engine.models.remote import explain_load_error, preflight

        kw = (
            {"dtype": torch_dtype}
            if int(__import__("transformers").__version__.split(".")[0]) >= 5
            else {"torch_dtype": torch_dtype}
        )
        preflight(base, trust_remote_code=trust)
        try:
            model = AutoModelForCausalLM.from_pretrained(base, trust_remote_code=trust, **kw)
        except (OSError, ValueError, ImportError, AttributeError, KeyError) as e:
            raise explain_load_error(base, e) from None
        adapted: Any = PeftModel.from_pretrained(model, str(ck_dir / "adapter"))
        merged = adapted.merge_and_unload()
        merged.config.use_cache = True
        dest.mkdir(parents=True, exist_ok=True)
        merged.save_pretrained(str(dest), safe_serialization=True)
        tok_src = ck_dir / "adapter" if (ck_dir / "adapter" / "tokenizer_config.json").exists() else base
        AutoTokenizer.from_pretrained(str(tok_src), trust_remote_code=trust).save_pretrained(str(dest))
    eos = _set_trained_eos(dest, cfg["model"].get("template", "chatml"), trust)
    info = {
        "run": run.id,
        "checkpoint": ck["name"],
        "step": ck["step"],
        "base_model": base,
        "weights": weights,
        "dtype": dtype,
        "seconds": round(time.time() - t0, 2),
        "path": str(dest),
        "eos_token": eos,
        **{k: v for k, v in ck.items() if k.startswith("valid_loss")},
    }
    atomic_write_json(dest / "workbench-merge.json", info)
    return info


def _run_config(run: RunDir) -> dict[str, Any]:
    import json

    try:
        return json.loads(run.config_json.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise WorkbenchError(f"cannot read {run.config_json}: {e}") from None


def _set_trained_eos(dest: Path, template: str, trust: bool) -> str | None:
    """Make `<|im_end|>` the eos of a merged ChatML-trained model (config.json, generation_config
    eos first, tokenizer), keeping the tokenizer's pad (or using the eos, as MFTCoder does, when
    there is none). Returns the eos token now in force."""
    import json

    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(dest), trust_remote_code=trust)
    end = "<|im_end|>"
    end_id = tok.convert_tokens_to_ids(end) if template == "chatml" else None
    if not isinstance(end_id, int) or end_id < 0 or end_id == getattr(tok, "unk_token_id", None):
        return getattr(tok, "eos_token", None)
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else end_id
    cfg_path = dest / "config.json"
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    cfg.update(eos_token_id=end_id, pad_token_id=pad_id)
    atomic_write_json(cfg_path, cfg)
    gen_path = dest / "generation_config.json"
    gen = json.loads(gen_path.read_text(encoding="utf-8")) if gen_path.is_file() else {}
    old = gen.get("eos_token_id")
    others = [i for i in ([old] if isinstance(old, int) else list(old or [])) if i != end_id]
    gen.update(eos_token_id=[end_id, *others] if others else end_id, pad_token_id=pad_id)
    atomic_write_json(gen_path, gen)
    if tok.eos_token != end:
        tok.eos_token = end
        if tok.pad_token is None:
            tok.pad_token = end
        tok.save_pretrained(str(dest))
    return end
