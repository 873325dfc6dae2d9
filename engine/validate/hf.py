"""The transformers backend: `generate`, one prompt per call or batched (left-padded), greedy or
sampled.

Prompts are sorted by length (longest first, so a batch that does not fit fails at once) and
cut into batches of `GenSettings.batch_size` (the contest format: 1, as the harness ran it).
Each row stops on its own at an end token, at its harness stop word / check_fn (checked after
every token, as the harness did) or at its own length budget, so one long answer does not
change what its neighbours keep. Batching still changes the arithmetic each row sees (padding,
other matrix shapes, and models such as Qwen-1 that number positions from the padded start),
so a batched greedy answer can differ from the one-at-a-time answer where two tokens are
nearly tied: an option, off under the contest format.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import WorkbenchError
from engine.validate.generate import DEFAULT_BATCH_SIZE, GenOutput, GenRequest, GenSettings, Progress, harness_stopped
from engine.validate.length import CheckpointGeneration, loaded_generation


def torch_dtype(name: str, device: str) -> Any:
    import torch

    if name == "auto":
        if device.startswith("cuda"):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[name]


def default_device(requested: str | None = None) -> str:
    if requested:
        return requested
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_tokenizer(model: str, adapter: str | None = None, *, trust_remote_code: bool = False) -> Any:
    """The checkpoint's tokenizer (the adapter's own when it has one); batched generation pads,
    so a tokenizer without a pad token pads with eos."""
    from engine.models.tokenizer import load_tokenizer as load

    src = adapter if adapter and (Path(adapter) / "tokenizer_config.json").exists() else model
    return load(src, trust_remote_code=trust_remote_code, pad="eos")


def load_model(model: str, adapter: str | None = None, *, settings: GenSettings) -> tuple[Any, Any, str]:
    """(model, tokenizer, device). A LoRA adapter is attached with peft and NOT merged: the
    evaluated weights are exactly the checkpoint's."""
    import transformers
    from transformers import AutoModelForCausalLM

    device = default_device(settings.device)
    dtype = torch_dtype(settings.dtype, device)
    tok = load_tokenizer(model, adapter, trust_remote_code=settings.trust_remote_code)
    from engine.models.remote import explain_load_error, preflight

    kw = {"dtype": dtype} if int(transformers.__version__.split(".")[0]) >= 5 else {"torch_dtype": dtype}
    preflight(model, trust_remote_code=settings.trust_remote_code)
    try:
        # Any: the auto class is typed as its generate mixin; PeftModel wraps it below
        m: Any = AutoModelForCausalLM.from_pretrained(model, trust_remote_code=settings.trust_remote_code, **kw)
    except (OSError, ValueError, ImportError, AttributeError) as e:
        raise explain_load_error(model, e) from None
    if adapter:
        from peft import PeftModel

        try:
            m = PeftModel.from_pretrained(m, adapter)
        except (OSError, ValueError) as e:
            raise WorkbenchError(f"cannot load the adapter {adapter} onto {model}: {e}") from None
    m.to(device)
    m.eval()
    return m, tok, device


def _end_ids(model: Any, tokenizer: Any, end_tokens: list[str]) -> list[int]:
    ids: list[int] = []
    unk = getattr(tokenizer, "unk_token_id", None)
    for t in end_tokens:
        i = tokenizer.convert_tokens_to_ids(t)
        if isinstance(i, int) and i >= 0 and i != unk and i not in ids:
            ids.append(i)
    gc = getattr(model, "generation_config", None)
    extra = getattr(gc, "eos_token_id", None) if gc is not None else None
    for i in [extra] if isinstance(extra, int) else list(extra or []):
        if i not in ids:
            ids.append(int(i))
    return ids


@dataclass(frozen=True)
class RowSpec:
    """How one row of a batch stops: its stop strings and check_fn (the harness's), its length
    budget and its end-token ids."""

    stops: tuple[str, ...]
    check: str | None
    budget: int
    end_ids: frozenset[int]


def make_row_stop(tokenizer: Any, start: int, rows: list[RowSpec]) -> Any:
    """A StoppingCriteria marking each row done on its own: end token, length budget, stop
    string / check_fn. transformers calls it after every new token; the stop words are checked
    on every call, as bigcode's EndOfFunctionCriteria does, so a row keeps exactly the tokens
    the harness kept (checking less often keeps a few more, which can change what the
    post-processing extracts)."""
    import torch
    from transformers import StoppingCriteria

    class RowStop(StoppingCriteria):
        def __init__(self) -> None:
            self.done = [False] * len(rows)
            self.stopped_at: list[int | None] = [None] * len(rows)  # generated tokens when stopped

        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            n_gen = input_ids.shape[1] - start
            gen = input_ids[:, start:].tolist() if n_gen > 0 else [[] for _ in rows]
            for r, spec in enumerate(rows):
                if self.done[r]:
                    continue
                if gen[r] and gen[r][-1] in spec.end_ids:
                    self.done[r] = True
                elif (
                    n_gen >= spec.budget
                    or (spec.stops or spec.check)
                    and n_gen > 0
                    and harness_stopped(tokenizer.decode(gen[r], skip_special_tokens=False), spec.stops, spec.check)
                ):
                    self.done[r] = True
                    self.stopped_at[r] = n_gen
            return torch.tensor(self.done, dtype=torch.bool, device=input_ids.device)

    return RowStop()


class HFBackend:
    name = "hf"

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        device: str | None = None,
        source: dict[str, Any] | None = None,
        end_tokens: list[str] | None = None,
    ):
        self.model = model
        self.tokenizer = tokenizer
        self.device = device or str(next(model.parameters()).device)
        self.source = source or {}
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        self._end_tokens = end_tokens

    @classmethod
    def load(cls, model: str, *, adapter: str | None = None, settings: GenSettings) -> HFBackend:
        m, tok, device = load_model(model, adapter, settings=settings)
        return cls(m, tok, device=device, source={"model": model, "adapter": adapter})

    @classmethod
    def from_loaded(cls, model: Any, tokenizer: Any) -> HFBackend:
        return cls(model, tokenizer)

    def end_tokens(self, fmt_eos: str | None = None) -> list[str]:
        from engine.validate.prompts import end_tokens

        gc = getattr(self.model, "generation_config", None)
        extra = getattr(gc, "eos_token_id", None) if gc is not None else None
        extra_ids = [extra] if isinstance(extra, int) else list(extra or [])
        return end_tokens(self.tokenizer, fmt_eos, extra_ids)

    def describe(self) -> dict[str, Any]:
        import torch

        p = next(self.model.parameters())
        return {
            "backend": "hf",
            "device": self.device,
            "dtype": str(p.dtype).replace("torch.", ""),
            "torch": torch.__version__,
            "peft_adapter": bool(getattr(self.model, "peft_config", None)),
            **self.source,
        }

    def close(self) -> None:
        self.model = None

    def generation_defaults(self) -> CheckpointGeneration:
        """The loaded model's generation config: what generate() starts from (length.py)."""
        return loaded_generation(self.model)

    def generate(
        self,
        requests: list[GenRequest],
        settings: GenSettings,
        progress: Progress | None = None,
        *,
        end_tokens: list[str] | None = None,
    ) -> list[list[GenOutput]]:
        import torch

        tok = self.tokenizer
        model = self.model
        ends = end_tokens or self._end_tokens or self.end_tokens()
        shared = _end_ids(model, tok, ends)
        row_ends = [frozenset(_end_ids(model, tok, list(r.end_tokens)) if r.end_tokens else shared) for r in requests]
        pad_id = tok.pad_token_id if tok.pad_token_id is not None else (shared[0] if shared else 0)
        enc = [tok(r.prompt, add_special_tokens=r.add_special_tokens)["input_ids"] for r in requests]
        order = sorted(range(len(requests)), key=lambda i: (-len(enc[i]), i))
        n_ret = settings.n if settings.do_sample else 1
        size = settings.batch_size or DEFAULT_BATCH_SIZE
        results: list[list[GenOutput] | None] = [None] * len(requests)
        if settings.do_sample:
            torch.manual_seed(settings.seed)
            if torch.cuda.is_available():
                torch.cuda.manual_seed_all(settings.seed)
        was_training = bool(getattr(model, "training", False))
        model.eval()
        done = 0
        t0 = time.monotonic()
        gen_tokens = 0
        try:
            for b0 in range(0, len(order), size):
                batch = order[b0 : b0 + size]
                outs = self._generate_batch(
                    [requests[i] for i in batch],
                    [enc[i] for i in batch],
                    settings,
                    n_ret,
                    [row_ends[i] for i in batch],
                    pad_id,
                )
                for i, o in zip(batch, outs):
                    results[i] = o if settings.do_sample else [o[0]] * settings.n
                    gen_tokens += sum(x.n_tokens for x in o)
                done += len(batch)
                if progress:
                    dt = max(time.monotonic() - t0, 1e-9)
                    progress("generate", done, len(requests), {"tokens": gen_tokens, "tokens_per_s": gen_tokens / dt})
        finally:
            if was_training:
                model.train()
        return [r or [] for r in results]

    def _generate_batch(
        self,
        reqs: list[GenRequest],
        ids: list[list[int]],
        settings: GenSettings,
        n_ret: int,
        ends: list[frozenset[int]],
        pad_id: int,
    ) -> list[list[GenOutput]]:
        import torch

        tok = self.tokenizer
        budgets = [r.budget(len(x)) for r, x in zip(reqs, ids)]
        width = max(len(x) for x in ids)
        input_ids = torch.full((len(ids), width), pad_id, dtype=torch.long)
        attn = torch.zeros((len(ids), width), dtype=torch.long)
        for r, x in enumerate(ids):
            input_ids[r, width - len(x) :] = torch.tensor(x, dtype=torch.long)
            attn[r, width - len(x) :] = 1
        rows = [RowSpec(req.stop, req.check, b, e) for req, b, e in zip(reqs, budgets, ends) for _ in range(n_ret)]
        crit = make_row_stop(tok, width, rows)
        kwargs: dict[str, Any] = {
            "max_new_tokens": max(budgets),
            "pad_token_id": pad_id,
            "use_cache": True,
            "num_return_sequences": n_ret,
            "stopping_criteria": [crit],
        }
        common = frozenset.intersection(*ends)
        if common:  # the rows' other end tokens are RowStop's: generate must not stop a row at another's
            kwargs["eos_token_id"] = sorted(common)
        if settings.do_sample:
            kwargs.update(
                do_sample=True, temperature=settings.temperature, top_p=settings.top_p, top_k=settings.top_k
            )  # 0 = off (None would mean the model's default, often 50)
        else:
            # num_beams=1: a model's generation_config asking for beam search must not turn greedy into it
            kwargs.update(do_sample=False, num_beams=1, temperature=None, top_p=None, top_k=None)
        with torch.no_grad():
            gen = self.model.generate(
                input_ids=input_ids.to(self.device), attention_mask=attn.to(self.device), **kwargs
            )
        gen = gen[:, width:].tolist()
        out: list[list[GenOutput]] = [[] for _ in reqs]
        for r, spec in enumerate(rows):
            row, finish = _kept(gen[r], crit.stopped_at[r], spec)
            text = tok.decode(row, skip_special_tokens=False, clean_up_tokenization_spaces=False)
            out[r // n_ret].append(GenOutput(text, len(row), finish))
        return out


def _kept(tokens: list[int], stopped_at: int | None, spec: RowSpec) -> tuple[list[int], str]:
    """The tokens a row keeps (up to its stop, its budget or its first end token) and why it ended."""
    limit = min(spec.budget, stopped_at if stopped_at is not None else spec.budget)
    row = tokens[:limit]
    finish = "stop" if stopped_at is not None and stopped_at < spec.budget else "length"
    for p, t in enumerate(row):
        if t in spec.end_ids:
            return row[: p + 1], "eos"
    return row, finish
