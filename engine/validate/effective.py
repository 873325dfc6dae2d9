"""The generation each task of a validation really runs with: its length limit and where that
came from, the stop words and when they are checked, the end tokens, the decoding, the batching
and the post-processing, and where any of it departs from the contest's harness (bigcode's
generation as the contest's `launch_generate_codeqwen.sh` ran it: transformers `generate`, one
prompt per call, greedy, `max_length=2000`, eos `<|im_end|>`, stop words checked after every
token, compatible post-processing).

`eval run --explain` and `eval prompt` print it; validation.json keeps it under `generation`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.validate.generate import DEFAULT_BATCH_SIZE, GenSettings
from engine.validate.length import CheckpointGeneration, LengthRule, resolve_length
from engine.validate.prompts import PromptFormat, build_prompt, end_tokens, harness_end_tokens
from engine.validate.tasks import Task

CONTEST_FORMAT = "contest"


@dataclass(frozen=True)
class TaskGeneration:
    task: str
    length: LengthRule
    stops: tuple[str, ...]  # checked after every token; empty: only end tokens stop
    check: str | None  # the harness's block-end check_fn, when on
    eos: str
    end_tokens: tuple[str, ...]
    decoding: str
    batch_size: int
    batch_from: str
    postprocess: str
    backend: str
    checkpoint: CheckpointGeneration
    differs: tuple[str, ...]  # departures from the contest's harness (contest format only)

    @property
    def harness_stop(self) -> bool:
        return bool(self.stops or self.check)

    def to_dict(self) -> dict[str, Any]:
        return {
            "length": self.length.to_dict(),
            "stops": list(self.stops),
            "check": self.check,
            "eos": self.eos,
            "end_tokens": list(self.end_tokens),
            "decoding": self.decoding,
            "batch_size": self.batch_size,
            "batch_from": self.batch_from,
            "postprocess": self.postprocess,
            "backend": self.backend,
            "checkpoint": self.checkpoint.to_dict(),
            "differs": list(self.differs),
        }

    def lines(self) -> list[str]:
        stop = (
            (
                f"after every token at {', '.join(repr(s) for s in self.stops) or 'no stop word'}"
                + (f" and the {self.check} block end" if self.check else "")
            )
            if self.harness_stop
            else "end tokens only (no stop words)"
        )
        out = [
            f"limit        {self.length.describe()}",
            f"stop         {stop}",
            f"eos          {self.eos!r}; generation ends at {', '.join(repr(t) for t in self.end_tokens)}",
            f"decoding     {self.decoding}, backend {self.backend}",
            f"batching     {self.batch_size} prompt(s) per generate call ({self.batch_from})",
            f"post-process {self.postprocess}",
        ]
        if self.checkpoint.applied:
            applied = ", ".join(f"{k}={v}" for k, v in self.checkpoint.applied.items())
            out.append(f"checkpoint   {self.checkpoint.source} also applies {applied}")
        out += [f"differs      {d}" for d in self.differs]
        return out


def _length(task: Task, fmt: PromptFormat, settings: GenSettings, ckpt: CheckpointGeneration) -> LengthRule:
    """Lengths given to the run replace the format's as a pair: --max-length alone means the
    prompt + generation total, not that plus the format's max_new_tokens."""
    f = fmt.for_task(task)
    if settings.max_new_tokens is not None or settings.max_length is not None:
        return resolve_length(
            max_new_tokens=settings.max_new_tokens,
            max_new_from="--max-new-tokens",
            max_length=settings.max_length,
            max_length_from="--max-length",
            checkpoint=ckpt,
        )
    return resolve_length(
        max_new_tokens=f.max_new_tokens,
        max_new_from=f"format {fmt.name}",
        max_length=f.max_length,
        max_length_from=f"format {fmt.name}",
        checkpoint=ckpt,
    )


def run_batch_size(settings: GenSettings, fmt: PromptFormat) -> tuple[int, str]:
    """Prompts per generate call for the whole run, and where the number came from."""
    if settings.batch_size:
        return settings.batch_size, "--batch-size"
    if fmt.batch_size:
        return fmt.batch_size, f"format {fmt.name}"
    return DEFAULT_BATCH_SIZE, "the workbench default"


def _decoding(settings: GenSettings) -> str:
    if not settings.do_sample:
        return "greedy (num_beams 1)"
    return (
        f"sampled: n {settings.n}, temperature {settings.temperature}, top_p {settings.top_p}, "
        f"top_k {settings.top_k or 'off'}, seed {settings.seed}"
    )


def task_generation(
    task: Task,
    fmt: PromptFormat,
    settings: GenSettings,
    *,
    backend: str,
    tokenizer: Any,
    checkpoint: CheckpointGeneration,
    postprocess: str | None = None,
    backend_end_tokens: list[str] | None = None,
) -> TaskGeneration:
    """The effective generation of one task (its first problem stands for its stop words)."""
    f = fmt.for_task(task)
    mode = postprocess or f.postprocess
    harness_stop = settings.stop == "harness" or (settings.stop == "auto" and mode == "compatible")
    probe = build_prompt(task, task.problems[0], fmt, tokenizer) if task.problems else None
    eos = probe.eos if probe else (f.eos or "")
    if harness_stop:
        ends = harness_end_tokens(tokenizer, f.eos, checkpoint.eos_token_id)
    else:
        ends = backend_end_tokens or end_tokens(tokenizer, f.eos, checkpoint.eos_token_id)
    size, size_from = run_batch_size(settings, fmt)
    length = _length(task, fmt, settings, checkpoint)
    stops = probe.harness_stops if (probe and harness_stop) else ()
    check = probe.check if (probe and harness_stop) else None
    differs = (
        contest_departures(
            fmt, settings, backend=backend, mode=mode, harness_stop=harness_stop, batch_size=size, checkpoint=checkpoint
        )
        if fmt.name == CONTEST_FORMAT
        else ()
    )
    return TaskGeneration(
        task.name,
        length,
        tuple(stops),
        check,
        eos,
        tuple(ends),
        _decoding(settings),
        size,
        size_from,
        mode,
        backend,
        checkpoint,
        differs,
    )


def contest_departures(
    fmt: PromptFormat,
    settings: GenSettings,
    *,
    backend: str,
    mode: str,
    harness_stop: bool,
    batch_size: int,
    checkpoint: CheckpointGeneration,
) -> tuple[str, ...]:
    """What of this run the contest's harness did not do (each an option the user chose)."""
    out = []
    if backend != "hf":
        out.append(
            f"backend {backend}: not transformers' generate; greedy answers can differ where two tokens are nearly tied"
        )
    if batch_size > 1:
        out.append(
            f"batched ({batch_size} prompts per call, left-padded): the harness generated one prompt at a "
            "time; padding changes the arithmetic, so greedy answers can differ at near-ties"
        )
    if mode != "compatible":
        out.append(f"{mode} post-processing: the contest extracted code with the harness's (compatible) rules")
    if not harness_stop:
        out.append("no stop words: the harness also stopped at its stop words / block end")
    if settings.max_new_tokens is not None or settings.max_length is not None:
        out.append(
            "length set by --max-new-tokens / --max-length: the harness passed max_length "
            f"{fmt.max_length} and let the checkpoint's generation config decide"
        )
    if settings.do_sample:
        out.append("sampled: the contest's generation was greedy")
    if checkpoint.source is None:
        out.append(
            "the checkpoint's generation config could not be read (not a local folder): the harness's length may differ"
        )
    return tuple(out)
