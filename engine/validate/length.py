"""How many new tokens a generation may take, decided the way transformers' `generate` decides it.

The contest's harness called `generate(max_length=2000, ...)` (prompt + generation). transformers
starts from the checkpoint's own generation config (`generation_config.json`, or the generation
keys of `config.json` when that file is absent) and lays the call's arguments over it; then
`_prepare_generated_length` lets a `max_new_tokens` from either place win over `max_length`.
That is so in the 4.32 the contest's script pins and in 5.x alike. Qwen-1's config has
`max_new_tokens: 512`, so every contest answer got 512 new tokens whatever its prompt's length;
a checkpoint without it got `2000 - prompt` tokens, and at least one (4.32's decoding loop
appends a token before it first checks the length; 5.x refuses such a call instead — no
contest prompt comes near 2,000 tokens).

Everything here reads JSON or a loaded config object: no torch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_MAX_NEW_TOKENS = 512  # when neither the call, the format nor the checkpoint sets a length

# Settings a checkpoint's generation config can hold that change greedy decoding too (sampling
# knobs do not: greedy ignores them), with the value that means "off".
GREEDY_EFFECTS: dict[str, Any] = {
    "repetition_penalty": 1.0,
    "no_repeat_ngram_size": 0,
    "encoder_no_repeat_ngram_size": 0,
    "bad_words_ids": None,
    "min_new_tokens": None,
    "min_length": 0,
    "suppress_tokens": None,
    "begin_suppress_tokens": None,
    "forced_bos_token_id": None,
    "forced_eos_token_id": None,
    "sequence_bias": None,
    "exponential_decay_length_penalty": None,
    "stop_words_ids": None,  # Qwen-1's remote generate() turns these into a logits processor
}


@dataclass(frozen=True)
class CheckpointGeneration:
    """What a checkpoint's generation config contributes to `generate`."""

    source: str | None = None  # the file read, "loaded model", or None (nothing found)
    max_new_tokens: int | None = None
    max_length: int | None = None
    eos_token_id: tuple[int, ...] = ()
    applied: dict[str, Any] = field(default_factory=dict)  # non-default GREEDY_EFFECTS

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "max_new_tokens": self.max_new_tokens,
            "max_length": self.max_length,
            "eos_token_id": list(self.eos_token_id),
            "applied": dict(self.applied),
        }


def _ids(value: Any) -> tuple[int, ...]:
    if isinstance(value, bool):
        return ()
    if isinstance(value, int):
        return (value,)
    if isinstance(value, (list, tuple)):
        return tuple(int(v) for v in value if isinstance(v, int) and not isinstance(v, bool))
    return ()


def _positive(value: Any) -> int | None:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def generation_from_dict(data: dict[str, Any], source: str) -> CheckpointGeneration:
    applied = {k: data[k] for k, off in GREEDY_EFFECTS.items() if data.get(k) not in (None, off, [], {})}
    return CheckpointGeneration(
        source,
        _positive(data.get("max_new_tokens")),
        _positive(data.get("max_length")),
        _ids(data.get("eos_token_id")),
        applied,
    )


def read_checkpoint_generation(model: str | Path | None) -> CheckpointGeneration:
    """A local model folder's generation config as transformers would load it: its
    generation_config.json, else the generation keys of its config.json. A hub id or a missing
    folder gives an empty one (source None)."""
    if not model:
        return CheckpointGeneration()
    folder = Path(str(model)).expanduser()
    for name in ("generation_config.json", "config.json"):
        path = folder / name
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            return generation_from_dict(data, str(path))
    return CheckpointGeneration()


def loaded_generation(model: Any) -> CheckpointGeneration:
    """The generation config a loaded transformers model carries (what its generate() starts from)."""
    gc = getattr(model, "generation_config", None)
    if gc is None:
        return CheckpointGeneration()
    to_dict = getattr(gc, "to_diff_dict", None) or getattr(gc, "to_dict", None)
    data = to_dict() if callable(to_dict) else {}
    data = {
        **data,
        "eos_token_id": getattr(gc, "eos_token_id", None),
        "max_new_tokens": getattr(gc, "max_new_tokens", None),
    }
    return generation_from_dict(data, "the loaded model's generation_config")


@dataclass(frozen=True)
class LengthRule:
    """The resolved length of one task's generations: `max_new_tokens` when anything set it
    (it wins, as in transformers), else `max_length - prompt` (at least 1)."""

    max_new_tokens: int | None
    max_length: int | None
    source: str  # where the deciding number came from, in words

    def budget(self, prompt_tokens: int) -> int:
        if self.max_new_tokens is not None:
            return self.max_new_tokens
        if self.max_length is not None:
            return max(1, self.max_length - prompt_tokens)
        return DEFAULT_MAX_NEW_TOKENS

    def describe(self) -> str:
        if self.max_new_tokens is not None:
            return f"{self.max_new_tokens} new tokens ({self.source})"
        if self.max_length is not None:
            return f"{self.max_length} - prompt tokens, at least 1 ({self.source})"
        return f"{DEFAULT_MAX_NEW_TOKENS} new tokens ({self.source})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_new_tokens": self.max_new_tokens,
            "max_length": self.max_length,
            "source": self.source,
            "rule": self.describe(),
        }


def resolve_length(
    *,
    max_new_tokens: int | None,
    max_new_from: str,
    max_length: int | None,
    max_length_from: str,
    checkpoint: CheckpointGeneration | None,
) -> LengthRule:
    """transformers' precedence: an explicit `max_new_tokens` (the call's), else the
    checkpoint's `max_new_tokens`, wins over any `max_length`; else the explicit `max_length`,
    else the checkpoint's."""
    ck = checkpoint or CheckpointGeneration()
    if max_new_tokens is not None:
        return LengthRule(max_new_tokens, None, max_new_from)
    if ck.max_new_tokens is not None:
        over = f", which transformers lets win over {max_length_from}'s max_length {max_length}" if max_length else ""
        return LengthRule(ck.max_new_tokens, None, f"max_new_tokens of {ck.source}{over}")
    if max_length is not None:
        return LengthRule(
            None, max_length, f"max_length {max_length} from {max_length_from}; the checkpoint sets no max_new_tokens"
        )
    if ck.max_length is not None:
        return LengthRule(None, ck.max_length, f"max_length of {ck.source}")
    return LengthRule(None, None, "the workbench default: nothing sets a length")
