"""Prompt formats: how a problem becomes the exact text the model sees.

Two styles:
  harness  the bigcode-evaluation-harness task prompt (HumanEvalPack `--prompt instruct`, MBPP's
           InCoder docstring prompt), wrapped as the contest's generation script did:
           `prefix + prompt(+"\\n") + suffix`
  chat     the same instruction text as one user turn through the model's own chat template
           (tokenizer.apply_chat_template, add_generation_prompt), optionally prefilled with
           the task's code prefix (bigcode's `codeqwen` idea, via the tokenizer's template)

Built-in formats (`FORMATS`): `contest` (the baseline's launch_generate_codeqwen.sh exactly:
MBPP wrapped in ChatML with no trailing newline after `assistant`, HumanEvalPack raw, eos
`<|im_end|>`, max length 2000), `instruct` (bigcode instruct prompts, never wrapped),
`chat` (tokenizer template, robust post-processing), `chat-prefill`. A TOML/JSON file with the
`PromptFormat` fields defines more; `rules` override fields per task (fnmatch on the task name,
or `kind:<kind>`).
"""

from __future__ import annotations

import contextlib
import fnmatch
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from engine.config import StrictModel
from engine.errors import WorkbenchError
from engine.problems.model import Problem
from engine.validate.tasks import HARNESS_OF_LANG, Task

# The contest's generation script (MFTCoder codeqwen_competition, launch_generate_codeqwen.sh).
CHATML_SYSTEM = "<|im_start|>system\n<|im_end|>\n"
CONTEST_PREFIX = CHATML_SYSTEM + "<|im_start|>user\n"
CONTEST_SUFFIX = "<|im_end|>\n<|im_start|>assistant"

# bigcode humanevalpack.py LANGUAGE_TO_STOP_WORDS (from CodeGeeX); "<|endoftext|>" is appended
# by the task and the tokenizer's eos by parallel_generations.
HEP_STOP_WORDS = {
    "python": ["\nclass", "\ndef", "\n#", "\n@", "\nprint", "\nif", "\nassert"],
    "cpp": [],
    "js": [],
    "java": [],
    "rust": [],
    "go": ["\n//", "\nfunc main(", "struct", "\nfunc"],
}
MBPP_STOP_WORDS = ["\nclass", "\nassert", '\n"""', "\nprint", "\nif", "\n<|/"]

Style = Literal["harness", "chat"]
PostMode = Literal["compatible", "robust"]
POSTPROCESS_MODES = ("compatible", "robust")


class FormatRule(StrictModel):
    """Overrides for the tasks matching any pattern (fnmatch on the task name, or `kind:<kind>`
    with kind synthesize | fixtests | fixdocs | mbpp | leetcode | custom)."""

    tasks: list[str] = Field(min_length=1)
    style: Style | None = None
    prefix: str | None = None
    suffix: str | None = None
    system: str | None = None
    prefill: bool | None = None
    postprocess: PostMode | None = None
    add_special_tokens: bool | None = None


class PromptFormat(StrictModel):
    name: str
    description: str = ""
    style: Style = "harness"
    prefix: str = Field("", description="harness: text before the task prompt")
    suffix: str = Field("", description="harness: text after it")
    system: str | None = Field(None, description="chat: a system message (none when unset)")
    prefill: bool = Field(False, description="chat: start the answer with the task's code prefix")
    eos: str | None = Field(None, description="end token (None: the tokenizer's eos)")
    postprocess: PostMode = "compatible"
    add_special_tokens: bool = Field(True, description="harness: tokenizer adds its special tokens (BOS)")
    max_length: int | None = Field(None, gt=0, description="prompt + generation tokens")
    max_new_tokens: int | None = Field(None, gt=0)
    batch_size: int | None = Field(
        None,
        ge=1,
        description="prompts per generate call when the run does not say (contest: 1, as the harness generated)",
    )
    rules: list[FormatRule] = Field(default_factory=list)

    def for_task(self, task: Task) -> PromptFormat:
        """This format with the first matching rule applied (rules dropped)."""
        data = self.model_dump()
        data["rules"] = []
        for rule in self.rules:
            if any(fnmatch.fnmatchcase(task.name, pat) or pat == f"kind:{task.kind}" for pat in rule.tasks):
                data.update({k: v for k, v in rule.model_dump(exclude={"tasks"}).items() if v is not None})
                break
        return PromptFormat(**data)


FORMATS: dict[str, PromptFormat] = {
    "contest": PromptFormat(
        name="contest",
        description="the contest baseline's generation script: HumanEvalPack prompts raw, MBPP (and "
        "LeetCode/custom sets) in ChatML, eos <|im_end|>, greedy, max length 2000",
        style="harness",
        eos="<|im_end|>",
        postprocess="compatible",
        max_length=2000,
        batch_size=1,
        rules=[
            FormatRule(
                tasks=["kind:mbpp", "kind:leetcode", "kind:custom"], prefix=CONTEST_PREFIX, suffix=CONTEST_SUFFIX
            )
        ],
    ),
    "instruct": PromptFormat(
        name="instruct",
        description="bigcode-evaluation-harness prompts (HumanEvalPack --prompt instruct, MBPP docstring), "
        "never wrapped; the tokenizer's eos",
        style="harness",
        postprocess="compatible",
        max_length=2000,
    ),
    "chat": PromptFormat(
        name="chat",
        description="the instruction as one user turn through the model's chat template; robust post-processing",
        style="chat",
        postprocess="robust",
        max_new_tokens=1024,
    ),
    "chat-prefill": PromptFormat(
        name="chat-prefill",
        description="chat template, the answer prefilled with the task's code prefix (signature); compatible",
        style="chat",
        prefill=True,
        postprocess="compatible",
        max_new_tokens=1024,
    ),
}


def load_format(spec: str | PromptFormat, ws: Any = None) -> PromptFormat:
    """A built-in name, a TOML/JSON file, or `formats/<name>.toml` of the workspace."""
    from engine.config import load_model

    if isinstance(spec, PromptFormat):
        return spec
    if spec in FORMATS:
        return FORMATS[spec].model_copy(deep=True)
    path = Path(spec).expanduser()
    if not path.exists() and ws is not None:
        for cand in (ws.root / "formats" / f"{spec}.toml", ws.resolve_path(spec)):
            if cand.exists():
                path = cand
                break
    if not path.exists():
        raise WorkbenchError(
            f"unknown prompt format {spec!r} (built-in: {', '.join(FORMATS)}; or a .toml file "
            "with the PromptFormat fields, see docs/validation.md)"
        )
    return load_model(PromptFormat, path)


@dataclass(frozen=True)
class BuiltPrompt:
    """The prompt for one (task, problem) and everything post-processing needs to undo it."""

    text: str  # exactly what is tokenized
    task_prompt: str  # the harness task's get_prompt(doc)
    code_prefix: str  # code the answer continues ("" when none)
    style: str
    prefix: str
    suffix: str
    eos: str  # the end token compatible post-processing removes
    add_special_tokens: bool
    postprocess: str
    harness_stops: tuple[str, ...]  # the harness's stop words (eos included)
    check: str | None  # the harness's check_fn: python | java | brace | None


def task_prompt(task: Task, problem: Problem) -> tuple[str, str]:
    """(the harness task's prompt, the code prefix the answer continues)."""
    kind = task.kind
    if kind == "synthesize" or (kind == "custom" and problem.suite == "humanevalpack"):
        pb = problem.prompt
        return (problem.instruction.strip() + "\n\n" + pb).strip(), pb
    if kind in ("fixtests", "fixdocs"):
        if kind == "fixtests":
            pb = ("fn main(){}\n" if problem.language == "rust" else "") + problem.declaration
        else:
            pb = problem.prompt
        context = pb + (problem.buggy_solution or "")
        if kind == "fixtests":
            context += "\n" + problem.test
        inp = context + "\n" + f"Fix bugs in {problem.entry_point}."
        return (inp + "\n\n" + pb).strip(), pb
    if kind == "mbpp" or problem.suite == "mbpp":
        first = problem.tests[0] if problem.tests else ""
        return f'"""\n{problem.instruction}\n{first}\n"""\n', ""
    if problem.suite == "leetcode":
        query = problem.raw.get("query") if isinstance(problem.raw, dict) else None
        if isinstance(query, str) and query.strip():
            return query, ""
        starter = problem.declaration.strip()
        text = problem.instruction.strip()
        if starter:
            text += "\n\nPlease complete the following python code precisely:\n```python\n" + starter + "\n```"
        return text, ""
    # workbench schema / other custom problems: the instruction, then any code to continue
    text = problem.instruction.strip()
    if problem.prompt.strip():
        text = (text + "\n\n" + problem.prompt).strip() if text else problem.prompt.rstrip()
    if not text:
        raise WorkbenchError(f"{problem.task_id}: the problem has no instruction and no prompt to generate from")
    return text, problem.prompt if problem.solution_kind == "completion" else ""


def harness_stops(task: Task, problem: Problem, eos: str) -> tuple[tuple[str, ...], str | None]:
    """The reference harness's stop words (with the eos it appends) and its check_fn kind."""
    if task.kind in ("synthesize", "fixtests", "fixdocs") and problem.suite == "humanevalpack":
        lang = HARNESS_OF_LANG[problem.language]
        words = list(HEP_STOP_WORDS[lang]) + ["<|endoftext|>"]
        check = "python" if lang == "python" else "java" if lang == "java" else "brace"
    elif task.kind == "mbpp" or problem.suite == "mbpp":
        words, check = list(MBPP_STOP_WORDS), None
    else:
        words, check = [], None
    if eos and eos not in words:
        words.append(eos)
    return tuple(words), check


def build_prompt(task: Task, problem: Problem, fmt: PromptFormat, tokenizer: Any = None) -> BuiltPrompt:
    f = fmt.for_task(task)
    tp, code_prefix = task_prompt(task, problem)
    eos = f.eos or (getattr(tokenizer, "eos_token", None) if tokenizer is not None else None) or "<|endoftext|>"
    stops, check = harness_stops(task, problem, eos)
    if f.style == "harness":
        contents = tp if tp.endswith("\n") else tp + "\n"  # bigcode TokenizedDataset
        text = f.prefix + contents + f.suffix
        add_special = f.add_special_tokens
    else:
        if tokenizer is None:
            raise WorkbenchError(f"format {fmt.name!r} uses the model's chat template: a tokenizer is needed")
        text = chat_text(tokenizer, tp.strip(), f.system)
        if f.prefill and code_prefix:
            text += code_prefix.rstrip() + "\n"
        add_special = False
    return BuiltPrompt(
        text=text,
        task_prompt=tp,
        code_prefix=code_prefix,
        style=f.style,
        prefix=f.prefix,
        suffix=f.suffix,
        eos=eos,
        add_special_tokens=add_special,
        postprocess=f.postprocess,
        harness_stops=stops,
        check=check,
    )


def chat_text(tokenizer: Any, user: str, system: str | None = None) -> str:
    if not getattr(tokenizer, "chat_template", None):
        raise WorkbenchError(
            "the model's tokenizer has no chat template: use a harness format "
            "(--format contest or instruct) or add a chat_template to the tokenizer"
        )
    messages = ([{"role": "system", "content": system}] if system is not None else []) + [
        {"role": "user", "content": user}
    ]
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def harness_end_tokens(tokenizer: Any, fmt_eos: str | None, extra_ids: Any = ()) -> list[str]:
    """The end tokens the harness's generation stopped at: its eos (`--eos`, else the
    tokenizer's), a stop word appended by bigcode, and the model's generation_config eos ids,
    which `generate` stops at. Nothing else: an end-looking special token the harness did not
    stop at must not end an answer early here."""
    out: list[str] = []
    for t in [fmt_eos or getattr(tokenizer, "eos_token", None), *_tokens_of(tokenizer, extra_ids)]:
        if isinstance(t, str) and t and t not in out:
            out.append(t)
    return out


def _tokens_of(tokenizer: Any, ids: Any) -> list[str]:
    out = []
    for i in ids or ():
        with contextlib.suppress(Exception):  # an id outside the vocab is simply not an end token
            out.append(tokenizer.convert_ids_to_tokens(int(i)))
    return out


def end_tokens(tokenizer: Any, fmt_eos: str | None = None, extra_ids: Any = ()) -> list[str]:
    """Tokens that end an answer: the format's eos, the tokenizer's, the model's
    generation_config eos ids, and special tokens that read as an end marker."""
    import re

    out: list[str] = []

    def add(t: Any) -> None:
        if isinstance(t, str) and t and t not in out:
            out.append(t)

    add(fmt_eos)
    add(getattr(tokenizer, "eos_token", None))
    for t in _tokens_of(tokenizer, extra_ids):
        add(t)
    for t in getattr(tokenizer, "all_special_tokens", []) or []:
        if re.search(r"end|eot|</s>", t, re.IGNORECASE) and not re.search(r"start|begin", t, re.IGNORECASE):
            add(t)
    return out
