"""Loading the model and tokenizer for training, and the module the loop actually trains.

`MaskedLM` wraps a causal LM so that a forward pass returns the cross-entropy of the trained
targets only: for architectures whose logits are just `lm_head(last hidden state)` it runs the
decoder, keeps the hidden states of the trained positions and applies the output layer to those
in chunks (no [batch, seq, vocab] logits tensor); other architectures go through their own
forward. Either way the loop sees one flat vector of per-token losses, in float32.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from engine.errors import WorkbenchError

# Architectures whose CausalLM forward is exactly `lm_head(decoder(...).last_hidden_state)`
# (no logit scaling / soft-capping / router loss), so the output layer can run on trained
# positions only.
FAST_LOSS_MODEL_TYPES = {"qwen2", "qwen3", "llama", "mistral", "starcoder2"}

# Memory for the output layer's logits (bf16 logits + fp32 softmax kept for backward, ~6 bytes a
# value). Within it the logits of all trained positions are computed at once; beyond it they are
# computed in chunks that are recomputed in backward (activation checkpointing): less memory,
# one more output-layer forward. None = 10 % of the GPU's memory (1 GiB on CPU).
LOSS_LOGITS_BUDGET: int | None = None


def default_target_modules(model_type: str | None) -> list[str] | str:
    """The family's LoRA targets (engine.models.families), "all-linear" when not known."""
    from engine.models.families import lora_targets

    return lora_targets(model_type)


def _dtype_kw(dtype: Any) -> dict[str, Any]:
    import transformers

    major = int(transformers.__version__.split(".")[0])
    return {"dtype": dtype} if major >= 5 else {"torch_dtype": dtype}


def resolve_attn(choice: str, *, on_gpu: bool, half: bool) -> str | None:
    """'auto' -> flash_attention_2 when installed on a GPU in bf16/fp16, else sdpa."""
    if choice != "auto":
        return choice
    if on_gpu and half:
        try:
            import flash_attn  # noqa: F401 - imported only to check it is installed

            return "flash_attention_2"
        except ImportError:
            pass
    return "sdpa"


def load_tokenizer(path: str, *, trust_remote_code: bool = False) -> tuple[Any, int]:
    """The training tokenizer (engine.models.tokenizer; saved with every checkpoint as loaded, so
    its pad token is left alone) and the id rows are padded with (pad, else eos, else 0)."""
    from engine.models.tokenizer import load_tokenizer as load
    from engine.models.tokenizer import pad_id

    tok = load(path, trust_remote_code=trust_remote_code, pad="keep")
    return tok, pad_id(tok)


def load_for_training(cfg: Any, *, device: Any, bf16: bool) -> Any:
    """The causal LM with LoRA / QLoRA / full fine-tuning set up as `cfg` says."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    method = cfg.peft.method
    on_gpu = getattr(device, "type", str(device)) == "cuda"
    if method == "qlora":
        if not on_gpu:
            raise WorkbenchError(
                "QLoRA (4-bit NF4 through bitsandbytes) needs a CUDA GPU and this process has "
                "none; use [peft] method = \"lora\" (or \"none\") to train on CPU"
            )
        try:
            import bitsandbytes  # noqa: F401 - imported only to check it is installed
        except ImportError:
            raise WorkbenchError("QLoRA needs bitsandbytes: pip install 'workbench[gpu]' (or bitsandbytes)") from None
    from engine.models.remote import explain_load_error, preflight

    dtype = torch.bfloat16 if bf16 else torch.float32
    preflight(cfg.model.path, trust_remote_code=cfg.model.trust_remote_code)
    try:
        hf_cfg = AutoConfig.from_pretrained(cfg.model.path, trust_remote_code=cfg.model.trust_remote_code)
    except (OSError, ValueError, ImportError, KeyError) as e:
        raise explain_load_error(cfg.model.path, e) from None
    kwargs: dict[str, Any] = {"trust_remote_code": cfg.model.trust_remote_code, **_dtype_kw(dtype)}
    attn = resolve_attn(cfg.model.attn_implementation, on_gpu=on_gpu, half=bf16)
    if attn and not cfg.model.trust_remote_code:
        kwargs["attn_implementation"] = attn
    if method == "qlora":
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=dtype
        )
        kwargs["device_map"] = {"": device}
    try:
        model: Any = AutoModelForCausalLM.from_pretrained(cfg.model.path, **kwargs)
    except (OSError, ValueError, ImportError, AttributeError, KeyError) as e:
        raise explain_load_error(cfg.model.path, e) from None
    if cfg.model.trust_remote_code:
        # a hub id's remote code is on disk only now: check it before the first forward pass
        preflight(cfg.model.path, trust_remote_code=True)
    model.config.use_cache = False
    gc_kwargs = {"use_reentrant": False}
    if method == "qlora":
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=cfg.loop.gradient_checkpointing, gradient_checkpointing_kwargs=gc_kwargs
        )
    elif cfg.loop.gradient_checkpointing and getattr(model, "supports_gradient_checkpointing", False):
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=gc_kwargs)
    if method in ("lora", "qlora"):
        from peft import LoraConfig, get_peft_model

        targets = cfg.peft.target_modules or default_target_modules(getattr(hf_cfg, "model_type", None))
        lcfg = LoraConfig(
            r=cfg.peft.lora_rank,
            lora_alpha=cfg.peft.lora_alpha,
            lora_dropout=cfg.peft.lora_dropout,
            target_modules=targets,
            bias="none",
            task_type="CAUSAL_LM",
        )
        try:
            model = get_peft_model(model, lcfg)
        except ValueError as e:
            raise WorkbenchError(
                f"LoRA targets {targets} do not fit this model: {e}; set [peft] target_modules"
            ) from None
    return model


def base_model_of(lm: Any) -> Any:
    """The transformers model under a peft wrapper (or the model itself)."""
    get = getattr(lm, "get_base_model", None)
    return get() if callable(get) else lm


def trainable_parameters(lm: Any) -> tuple[int, int]:
    total = sum(p.numel() for p in lm.parameters())
    train = sum(p.numel() for p in lm.parameters() if p.requires_grad)
    return train, total


def _make_masked_lm() -> type:
    import torch
    from torch import nn
    from torch.nn import functional as F
    from torch.utils.checkpoint import checkpoint

    def _ce(head: Any, h: Any, y: Any) -> Any:
        return F.cross_entropy(head(h).float(), y, reduction="none")

    class MaskedLM(nn.Module):
        """forward(input_ids, position_ids, sel, targets) -> float32 CE of each selected position.

        `sel` are flat indices into [batch * seq] of the trained positions, `targets` their
        next tokens. No attention mask is passed: rows are right-padded (no real token sees a
        pad) and packed samples are separated by their position_ids resets."""

        def __init__(self, lm: Any):
            super().__init__()
            self.lm = lm
            base = base_model_of(lm)
            mtype = getattr(getattr(base, "config", None), "model_type", "")
            self.fast = mtype in FAST_LOSS_MODEL_TYPES and base.get_output_embeddings() is not None
            self._base = [base]  # not a submodule (it is inside self.lm already)

        def hidden(self, input_ids: Any, position_ids: Any) -> Any:
            """Per-position outputs used by the loss: hidden states (fast path) or logits."""
            base = self._base[0]
            if self.fast:
                return base.get_decoder()(
                    input_ids=input_ids, position_ids=position_ids, use_cache=False
                ).last_hidden_state
            return self.lm(input_ids=input_ids, position_ids=position_ids, use_cache=False).logits

        def forward(self, input_ids: Any, position_ids: Any, sel: Any, targets: Any) -> Any:
            out = self.hidden(input_ids, position_ids)
            flat = out.reshape(-1, out.shape[-1])
            if sel.numel() == 0:
                # nothing trained here (a filler micro-batch): keep every parameter in the graph
                # so data-parallel gradient reduction stays in step; the value is 0
                h = flat[:1]
                y = torch.zeros(1, dtype=torch.long, device=flat.device)
                ce = (
                    _ce(self._base[0].get_output_embeddings(), h, y)
                    if self.fast
                    else F.cross_entropy(h.float(), y, reduction="none")
                )
                return ce * 0.0
            h = flat.index_select(0, sel)
            if not self.fast:
                return F.cross_entropy(h.float(), targets, reduction="none")
            head = self._base[0].get_output_embeddings()
            per_row = 6 * max(1, head.weight.shape[0])
            chunk = max(1, _logits_budget(h.device) // per_row)
            if h.shape[0] <= chunk:
                return _ce(head, h, targets)
            parts = [
                checkpoint(_ce, head, h[i : i + chunk], targets[i : i + chunk], use_reentrant=False)
                for i in range(0, h.shape[0], chunk)
            ]
            return torch.cat(parts)

    return MaskedLM


def _logits_budget(device: Any) -> int:
    if LOSS_LOGITS_BUDGET is not None:
        return LOSS_LOGITS_BUDGET
    if getattr(device, "type", "cpu") == "cuda":
        import torch

        return int(torch.cuda.get_device_properties(device).total_memory * 0.10)
    return 1 << 30


_MASKED_LM: type | None = None


def masked_lm(lm: Any) -> Any:
    global _MASKED_LM
    if _MASKED_LM is None:
        _MASKED_LM = _make_masked_lm()
    return _MASKED_LM(lm)


def isolation_probe(wrapper: Any, *, vocab_size: int, device: Any, half: bool) -> tuple[bool | None, float]:
    """Does this model keep packed samples apart when given reset position_ids?

    Runs sample A alone and A packed after sample B and compares A's outputs. Returns
    (isolated, relative max difference); isolated is None when the outputs are not finite."""
    import torch

    g = torch.Generator().manual_seed(1234)
    lo = min(16, vocab_size - 2)
    a = torch.randint(lo, vocab_size, (11,), generator=g)
    b = torch.randint(lo, vocab_size, (7,), generator=g)
    ids_alone = a[None].to(device)
    pos_alone = torch.arange(len(a))[None].to(device)
    ids_packed = torch.cat([b, a])[None].to(device)
    pos_packed = torch.cat([torch.arange(len(b)), torch.arange(len(a))])[None].to(device)
    was_training = wrapper.training
    wrapper.eval()
    try:
        with torch.no_grad():
            h1 = wrapper.hidden(ids_alone, pos_alone)[0].float()
            h2 = wrapper.hidden(ids_packed, pos_packed)[0, len(b) :].float()
    finally:
        wrapper.train(was_training)
    scale = float(h1.abs().max().clamp_min(1e-6))
    diff = float((h1 - h2).abs().max()) / scale
    if not math.isfinite(diff):
        return None, diff  # non-finite outputs: inconclusive
    return diff <= (5e-2 if half else 1e-3), diff


def save_pretrained_model(lm: Any, state_dict: dict[str, Any] | None, dest: Path, tokenizer: Any = None) -> None:
    """Adapter (peft) or full model in Hugging Face format, plus the tokenizer."""
    dest.mkdir(parents=True, exist_ok=True)
    lm.save_pretrained(str(dest), state_dict=state_dict, safe_serialization=True)
    if tokenizer is not None:
        tokenizer.save_pretrained(str(dest))
