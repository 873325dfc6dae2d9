"""Helpers for the validation tests: a ChatML tokenizer stand-in and a replay backend that
answers from recorded outputs (a deterministic "model": the pipeline after generation — post-
processing, execution, scoring, storage, the screen — runs for real without torch)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable

from engine.validate.generate import GenOutput, GenRequest, GenSettings


class ChatTok:
    """A tokenizer stand-in with a ChatML chat template."""

    eos_token = "<|im_end|>"
    chat_template = "chatml"
    all_special_tokens = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

    def apply_chat_template(self, messages, tokenize=False, add_generation_prompt=False):
        out = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
        return out + ("<|im_start|>assistant\n" if add_generation_prompt else "")


class ReplayBackend:
    name = "replay"

    def __init__(self, answer: Callable[[str], str]):
        self.answer = answer
        self.tokenizer = ChatTok()
        self.seen: list[GenRequest] = []

    def end_tokens(self, fmt_eos: str | None = None) -> list[str]:
        return ["<|im_end|>", "<|endoftext|>"]

    def describe(self) -> dict[str, Any]:
        return {"backend": "replay"}

    def close(self) -> None:
        pass

    def generate(self, requests: list[GenRequest], settings: GenSettings, progress: Any = None, *,
                 end_tokens: list[str] | None = None) -> list[list[GenOutput]]:
        self.seen += requests
        out = []
        for i, r in enumerate(requests):
            text = self.answer(r.prompt)
            out.append([GenOutput(text, max(1, len(text) // 4), "eos")] * settings.n)
            if progress:
                progress("generate", i + 1, len(requests), {})
        return out


def toy_rows(n_per_lang: int = 6) -> list[dict[str, Any]]:
    from engine.demo.curriculum import heldout_problems

    py = [r for r in heldout_problems("python")][:n_per_lang]
    js = [r for r in heldout_problems("javascript")][:n_per_lang]
    return py + js


def write_toy(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def toy_answerer(rows: list[dict[str, Any]]) -> Callable[[str], str]:
    """Answers like a half-trained chat model, by position i % 6: 0, 2 right and fenced; 1 wrong;
    3 does not parse; 4 right, prose around the fence; 5 right, bare code then prose (robust
    recovers it in both languages, compatible only in Python)."""
    by_instruction = {r["instruction"]: (i, r) for i, r in enumerate(rows)}
    fence = {"python": "python", "javascript": "javascript"}

    def answer(prompt: str) -> str:
        m = re.search(r"user\n(.*?)<\|im_end\|>", prompt, re.S)
        key = m.group(1).strip() if m else prompt
        i, r = by_instruction[key]
        sol, lang = r["canonical_solution"], r["language"]
        if i % 6 == 1:      # wrong answer: returns its argument
            arg = re.search(r"\((\w+)\)", sol).group(1)
            sol = re.sub(r"return .*", f"return {arg}" + (";" if lang == "javascript" else ""), sol)
        elif i % 6 == 3:    # does not parse
            sol = sol.replace("return", "retrun (", 1)
        if i % 6 == 4:      # prose around the fence
            return f"Sure, here it is.\n```{fence[lang]}\n{sol}```\nThat is all.<|im_end|>"
        if i % 6 == 5:      # bare code, then prose: the MBPP rule finds Python's `def` block only
            return f"{sol}\nThis returns the answer.<|im_end|>"
        return f"```{fence[lang]}\n{sol}```<|im_end|>\n<|im_start|>user\nthanks"

    return answer
