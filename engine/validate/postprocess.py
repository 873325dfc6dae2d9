"""Post-processing: a raw model output -> the program the executor runs.

compatible  the reference harness byte for byte: the contest generation script's prefix cut,
            suffix -> "\\n" and eos removal (bigcode utils.complete_code), then the task's
            postprocess_generation (humanevalpack.py remove_last_block, mbpp.py
            _pick_code_block + stop words). Scores match what the public harness reports.
robust      what a chat model meant: cut at the first end token, strip special tokens, take the
            fenced code block (the one in the task's language that defines the entry point) or
            else the longest parsable stretch of code, and use it as a whole solution when it
            defines the entry point, or as the continuation of the code prefix when not.

Both return an `Extracted(code, kind)`: `kind` is "solution" (a whole program, before the
harness's per-language edits) or "completion" (continues problem.prompt), as the executor takes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from engine.problems.model import Problem
from engine.validate.prompts import BuiltPrompt
from engine.validate.tasks import Task

FENCE_LANGS = {
    "python": {"python", "py", "python3", "py3"},
    "javascript": {"javascript", "js", "node", "nodejs", "jsx", "typescript", "ts"},
    "java": {"java"},
    "go": {"go", "golang"},
    "cpp": {"cpp", "c++", "cc", "cxx", "c", "hpp", "h"},
    "rust": {"rust", "rs"},
}
SPECIAL_TOKEN_RE = re.compile(r"<\|[A-Za-z0-9_]+\|>|<\|(?=\s*$)")


@dataclass(frozen=True)
class Extracted:
    code: str
    kind: str = "solution"  # solution | completion
    note: str = ""  # how it was found (fence, parsed, continuation, ...)


# -- compatible ---------------------------------------------------------------------------------


def remove_last_block(code: str, language: str, stop_words: tuple[str, ...] | list[str]) -> str:
    """bigcode humanevalpack.py HumanEvalPackGenerative.remove_last_block, verbatim in behaviour."""
    for w in stop_words:
        if w in code:
            code = code[: code.find(w)]
    if language == "python":
        for i, line in enumerate(code.split("\n")):
            if len(line.strip()) > 0 and line[0] != " " and line[0] != "\t":
                return "\n".join(code.split("\n")[:i])
    elif language in ("java", "js", "go", "cpp", "rust"):
        open_brackets = 2 if language == "java" else 1
        cut = False
        for i, c in enumerate(code):
            if c == "{":
                open_brackets += 1
            elif c == "}":
                open_brackets -= 1
            if open_brackets == 0:
                code = code[: i + 1]
                cut = True
                break
        if not cut:
            if language == "java":
                main_pos = code.find("public static void main")
                if main_pos != -1:
                    code = code[:main_pos] + "}"
                if "}" in code:
                    code = code[: code.rfind("}")] + "}"
                if code.count("{") - 1 == code.count("}"):
                    code += "\n}"
            elif "}" in code:
                code = code[: code.rfind("}")] + "}"
    return code


def mbpp_pick_code_block(generation: str) -> str:
    """bigcode (contest fork) mbpp.py MBPP._pick_code_block, verbatim in behaviour."""
    lines = generation.split("\n")
    new_generation = ""
    if "```" in generation:
        in_code = False
        for line in lines:
            if not in_code and line.startswith("```"):
                in_code = True
                continue
            if in_code:
                if line.rstrip().endswith("```"):
                    new_generation += line.rstrip()[:-3] + "\n"
                    break
                new_generation += line + "\n"
    else:
        in_code = False
        for line in lines:
            if not in_code and line.startswith("def "):
                in_code = True
                new_generation += line + "\n"
                continue
            if in_code:
                if len(line) > 0 and line[0].strip() != "" and not line.startswith("def"):
                    break
                new_generation += line + "\n"
    return new_generation


def stop_at_stop_token(decoded: str, stop_tokens: tuple[str, ...] | list[str]) -> str:
    """bigcode mbpp.py MBPP._stop_at_stop_token."""
    min_stop_index = len(decoded)
    for tok in stop_tokens:
        i = decoded.find(tok)
        if i != -1 and i < min_stop_index:
            min_stop_index = i
    return decoded[:min_stop_index]


def harness_decoded(prompt: BuiltPrompt, raw: str) -> str:
    """What bigcode's complete_code hands to postprocess_generation: the decoded prompt +
    generation, prefix cut by length, suffix replaced by "\\n", eos removed. A chat prompt
    counts as an empty prefix and its template markup as the suffix."""
    if prompt.style == "harness":
        full = prompt.text + raw
        gen = full[len(prompt.prefix) :]
        if prompt.suffix:
            gen = gen.replace(prompt.suffix, "\n")
    else:
        contents = prompt.task_prompt if prompt.task_prompt.endswith("\n") else prompt.task_prompt + "\n"
        gen = contents + "\n" + raw
    return gen.replace(prompt.eos, "") if prompt.eos else gen


def compatible(task: Task, problem: Problem, prompt: BuiltPrompt, raw: str) -> Extracted:
    gen = harness_decoded(prompt, raw)
    if task.kind in ("synthesize", "fixtests", "fixdocs") and problem.suite == "humanevalpack":
        from engine.validate.tasks import HARNESS_OF_LANG

        lang = HARNESS_OF_LANG[problem.language]
        body = remove_last_block(gen[len(prompt.task_prompt) :].rstrip(), lang, prompt.harness_stops)
        return Extracted(prompt.code_prefix.rstrip() + body, "solution", "harness")
    if task.kind == "mbpp" or problem.suite == "mbpp":
        tp = prompt.task_prompt
        picked = mbpp_pick_code_block(gen[len(tp) :])
        return Extracted(tp + stop_at_stop_token(picked, prompt.harness_stops), "solution", "harness")
    # No reference harness for LeetCode / custom sets: the MBPP rule (first fenced block, else
    # the first top-level def block) on the answer, as the contest's MBPP path would treat it.
    answer = gen[len(prompt.task_prompt) :] if gen.startswith(prompt.task_prompt) else gen
    picked = stop_at_stop_token(mbpp_pick_code_block(answer), prompt.harness_stops)
    if problem.suite == "leetcode":
        return Extracted(picked, "completion", "mbpp-rule")
    return Extracted(picked, "solution", "mbpp-rule")


# -- robust ---------------------------------------------------------------------------------------


def clean_output(raw: str, end_tokens: list[str] | tuple[str, ...], special: list[str] | tuple[str, ...] = ()) -> str:
    """Cut at the first end token; remove other special tokens and a dangling partial `<|`."""
    cut = len(raw)
    for t in end_tokens:
        i = raw.find(t) if t else -1
        if i != -1 and i < cut:
            cut = i
    text = raw[:cut]
    for t in sorted(special, key=len, reverse=True):
        if t and len(t) > 1:
            text = text.replace(t, "")
    return SPECIAL_TOKEN_RE.sub("", text)


def defines_entry(code: str, language: str, entry: str) -> bool:
    """Does the code define the problem's entry point (function / method / class)?"""
    if not entry:
        return False
    name = entry.split(".")[-1].split("(")[0].strip()
    if entry.startswith("Solution()"):
        return bool(re.search(r"\bclass\s+Solution\b", code))
    n = re.escape(name)
    pats = {
        "python": rf"^\s*(async\s+)?def\s+{n}\s*\(|^\s*class\s+{n}\b|^{n}\s*=",
        "javascript": rf"\bfunction\s*\*?\s*{n}\s*\(|\b(const|let|var)\s+{n}\s*=|^\s*{n}\s*=|\b{n}\s*\([^)]*\)\s*\{{",
        "java": r"\bclass\s+Solution\b",
        "go": rf"\bfunc\s+{n}\s*\(",
        "cpp": rf"\b{n}\s*\([^;{{]*\)\s*(const\s*)?\{{",
        "rust": rf"\bfn\s+{n}\s*[<(]",
    }
    pat = pats.get(language)
    return bool(pat and re.search(pat, code, re.M))


def _fence_matches(info: str, language: str) -> bool:
    tag = info.strip().split()[0].lower() if info.strip() else ""
    return tag in FENCE_LANGS.get(language, {language})


def pick_fenced(text: str, language: str, entry: str) -> str | None:
    """The fenced block to run: in the task's language and defining the entry point first,
    then any block defining it, then the first block in the language, then the first block."""
    from engine.data.code import fenced_blocks

    blocks = [b for b in fenced_blocks(text) if b.code.strip()]
    if not blocks:
        return None
    ranked = sorted(
        range(len(blocks)),
        key=lambda i: (
            not (_fence_matches(blocks[i].info, language) and defines_entry(blocks[i].code, language, entry)),
            not defines_entry(blocks[i].code, language, entry),
            not _fence_matches(blocks[i].info, language),
            i,
        ),
    )
    return blocks[ranked[0]].code


_CODE_START = {
    "python": re.compile(r"^(def |class |import |from |async def |@)"),
    "javascript": re.compile(
        r"^(function |const |let |var |class |async function |module\.|'use strict'|\"use strict\")"
    ),
    "java": re.compile(r"^(import |class |public |final |abstract |interface )"),
    "go": re.compile(r"^(package |import |func |type |var |const )"),
    "cpp": re.compile(
        r"^(#include|using |template|class |struct |int |long |bool |void |string |vector|std::"
        r"|double |float |char |auto |unsigned |static )"
    ),
    "rust": re.compile(r"^(fn |use |pub |struct |impl |enum |mod |#\[|const |static |trait )"),
}


def parsable_code(text: str, language: str) -> str | None:
    """Unfenced output: from the first line that starts code, the longest run of lines that
    parses (trailing prose dropped). None when nothing parses."""
    from engine.data.syntax import syntax_error

    lines = text.split("\n")
    start_re = _CODE_START.get(language)
    starts = [i for i, ln in enumerate(lines) if start_re and start_re.match(ln)]
    for s in starts[:3]:
        for e in range(len(lines), s, -1):
            chunk = "\n".join(lines[s:e]).rstrip()
            if chunk and syntax_error(language, chunk) is None:
                return chunk + "\n"
    return None


def _continuation_end(code: str, language: str) -> str:
    """Where a continued function body ends (block structure; no stop words, so comments and
    `if __name__` inside the body survive: bigcode#308)."""
    from engine.validate.tasks import HARNESS_OF_LANG

    return remove_last_block(code, HARNESS_OF_LANG.get(language, language), ())


def _python_drop_main(code: str) -> str:
    m = re.search(r"^if\s+__name__\s*==\s*['\"]__main__['\"]\s*:", code, re.M)
    return code[: m.start()].rstrip() + "\n" if m else code


def _java_drop_main_class(code: str) -> str:
    """The test brings `public class Main`; a model's own Main (with a main method) would clash."""
    m = re.search(r"^\s*(public\s+)?class\s+Main\b", code, re.M)
    if not m:
        return code
    depth, i, opened = 0, m.end(), False
    while i < len(code):
        if code[i] == "{":
            depth += 1
            opened = True
        elif code[i] == "}":
            depth -= 1
            if opened and depth == 0:
                return (code[: m.start()] + code[i + 1 :]).strip() + "\n"
        i += 1
    return code[: m.start()].rstrip() + "\n"


def _finish_solution(code: str, problem: Problem) -> str:
    lang = problem.language
    if lang == "python":
        code = _python_drop_main(code)
    elif lang == "java":
        code = _java_drop_main_class(code)
        if "class Solution" not in code and problem.suite == "humanevalpack":
            imports = "".join(ln + "\n" for ln in problem.declaration.splitlines() if ln.strip().startswith("import "))
            code = imports + "\nclass Solution {\n" + code.rstrip() + "\n}\n"
    return code


def robust(
    task: Task,
    problem: Problem,
    prompt: BuiltPrompt,
    raw: str,
    *,
    end_tokens: list[str] | tuple[str, ...] = (),
    special: list[str] | tuple[str, ...] = (),
) -> Extracted:
    ends = list(end_tokens) or [prompt.eos]
    text = clean_output(raw, ends, special)
    lang = problem.language
    entry = problem.entry_point
    prefix = prompt.code_prefix
    leet = problem.suite == "leetcode"
    if prompt.style == "chat" and prefix and prompt.text.endswith(prefix.rstrip() + "\n"):
        text = prefix.rstrip() + "\n" + text  # the answer began inside the prefilled code
    fenced = pick_fenced(text, lang, entry)
    if fenced is not None:
        if defines_entry(fenced, lang, entry) or not prefix:
            return Extracted(_finish_solution(fenced, problem), "completion" if leet else "solution", "fence")
        return Extracted(
            _finish_solution(prefix.rstrip() + "\n" + _continuation_end(fenced, lang), problem),
            "solution",
            "fence-continuation",
        )
    if defines_entry(text, lang, entry):
        code = parsable_code(text, lang) or text
        return Extracted(_finish_solution(code, problem), "completion" if leet else "solution", "parsed")
    if prefix:
        body = _continuation_end(text.rstrip(), lang)
        return Extracted(
            _finish_solution(prefix.rstrip() + ("" if body.startswith("\n") else "\n") + body, problem),
            "solution",
            "continuation",
        )
    parsed = parsable_code(text, lang)
    if parsed is not None:
        return Extracted(_finish_solution(parsed, problem), "completion" if leet else "solution", "parsed")
    return Extracted(text.strip() + "\n" if text.strip() else "", "completion" if leet else "solution", "raw")


def extract(
    mode: str,
    task: Task,
    problem: Problem,
    prompt: BuiltPrompt,
    raw: str,
    *,
    end_tokens: list[str] | tuple[str, ...] = (),
    special: list[str] | tuple[str, ...] = (),
) -> Extracted:
    if mode == "compatible":
        return compatible(task, problem, prompt, raw)
    if mode == "robust":
        return robust(task, problem, prompt, raw, end_tokens=end_tokens, special=special)
    raise ValueError(f"unknown post-processing mode {mode!r} (compatible or robust)")


def special_tokens_of(tokenizer: Any) -> list[str]:
    if tokenizer is None:
        return []
    toks = set(getattr(tokenizer, "all_special_tokens", []) or [])
    try:
        toks |= {str(t) for t in tokenizer.get_added_vocab() if str(t).startswith("<")}
    except Exception:  # noqa: BLE001 - slow tokenizers may not have it
        pass
    return sorted(toks)
