"""A toy code curriculum written by the project: small templated functions in Python and
JavaScript, each instance with its own tests.

Every instance is one (language, family, parameter) triple, e.g. ("python", "add", 7) ->
`def add_7(x): return x + 7`. Instances are split into train and held-out by a hash of the
triple, so no held-out instance appears in training in any phrasing; the model has to
generalise the template to parameters it has not seen.

Problems use the generic "workbench" problem schema (docs/problems.md):
    task_id, language, family, instruction, entry_point, canonical_solution,
    test_setup, test_list (separable statements), test (the whole test program)
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LANGS = ("python", "javascript")
FENCE = {"python": "python", "javascript": "javascript"}
LANG_NAME = {"python": "Python", "javascript": "JavaScript"}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _py(v: Any) -> str:
    return repr(v)


def _js(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return json.dumps(v)


@dataclass(frozen=True)
class Family:
    name: str
    params: tuple[Any, ...]
    fname: str  # python function name with {p}
    arg: str  # argument name
    phrasings: tuple[str, ...]  # "returns ..." phrases with {p}
    py_body: str  # python return expression with {p}
    js_body: str  # javascript return expression with {p}
    inputs: Callable[[random.Random, Any], Any]  # test input from (rng, param)
    fn: Callable[[Any, Any], Any]  # reference semantics: fn(param, input)


def _ints(lo: int, hi: int) -> Callable[[random.Random, Any], int]:
    return lambda r, p: r.randint(lo, hi)


ALPHABET = "abcdefghijklmnopqrstuvwxyz"


def _word(r: random.Random, p: Any = None) -> str:
    return "".join(r.choice(ALPHABET) for _ in range(r.randint(3, 9)))


def _ilist(r: random.Random, p: Any) -> list[int]:
    return [r.randint(-9, 20) for _ in range(r.randint(1, 5))]


def _with_substring(r: random.Random, p: str) -> str:
    """A word holding the substring 0-3 times, so a wrong substring fails the tests."""
    parts = [_word(r)[: r.randint(0, 4)] for _ in range(r.randint(1, 4))]
    return p.join(parts) if r.random() < 0.8 else _word(r)


def _ending(r: random.Random, p: str) -> str:
    """Half the words end with the substring; the rest end with a near miss (same first character)."""
    near = p[0] + r.choice([c for c in "0123456789" if c != p[1]])
    return _word(r)[:5] + (p if r.random() < 0.5 else near)


KS = tuple(range(2, 61))
NS = tuple(range(1, 10))
# Substring parameters are two-digit strings: digits are single tokens everywhere (the demo
# tokenizer splits them, as Qwen's does), and every digit appears in each position in training,
# so a held-out substring is a new combination of known tokens that the model must copy. (Letter
# pairs would not work: BPE merges some of them into tokens that training never shows in that slot.)
SUBSTRINGS = tuple(str(i) for i in range(10, 100))

FAMILIES: tuple[Family, ...] = (
    Family(
        "add",
        KS,
        "add_{p}",
        "x",
        ("returns x plus {p}", "adds {p} to x and returns the result"),
        "x + {p}",
        "x + {p}",
        _ints(-50, 100),
        lambda p, x: x + p,
    ),
    Family(
        "subtract",
        KS,
        "subtract_{p}",
        "x",
        ("returns x minus {p}", "subtracts {p} from x"),
        "x - {p}",
        "x - {p}",
        _ints(-50, 100),
        lambda p, x: x - p,
    ),
    Family(
        "times",
        KS,
        "times_{p}",
        "x",
        ("returns x multiplied by {p}", "multiplies x by {p}"),
        "x * {p}",
        "x * {p}",
        _ints(-20, 30),
        lambda p, x: x * p,
    ),
    Family(
        "mod",
        KS,
        "mod_{p}",
        "x",
        ("returns the remainder of x divided by {p}", "returns x modulo {p}"),
        "x % {p}",
        "x % {p}",
        _ints(0, 500),
        lambda p, x: x % p,
    ),
    Family(
        "is_divisible_by",
        KS,
        "is_divisible_by_{p}",
        "x",
        ("returns whether x is divisible by {p}", "checks if x is a multiple of {p}"),
        "x % {p} == 0",
        "x % {p} === 0",
        lambda r, p: r.choice([r.randint(0, 300), p * r.randint(0, 9)]),
        lambda p, x: x % p == 0,
    ),
    Family(
        "greater_than",
        KS,
        "greater_than_{p}",
        "x",
        ("returns whether x is greater than {p}", "checks if x is bigger than {p}"),
        "x > {p}",
        "x > {p}",
        _ints(-10, 120),
        lambda p, x: x > p,
    ),
    Family(
        "sum_plus",
        KS,
        "sum_plus_{p}",
        "xs",
        ("returns the sum of the list xs plus {p}", "adds {p} to the sum of the numbers in xs"),
        "sum(xs) + {p}",
        "xs.reduce((a, b) => a + b, 0) + {p}",
        _ilist,
        lambda p, xs: sum(xs) + p,
    ),
    Family(
        "scale_by",
        KS,
        "scale_by_{p}",
        "xs",
        ("returns a list with every element of xs multiplied by {p}", "multiplies each number in xs by {p}"),
        "[v * {p} for v in xs]",
        "xs.map((v) => v * {p})",
        _ilist,
        lambda p, xs: [v * p for v in xs],
    ),
    Family(
        "repeat",
        NS,
        "repeat_{p}",
        "s",
        ("returns the string s repeated {p} times",),
        "s * {p}",
        "s.repeat({p})",
        _word,
        lambda p, s: s * p,
    ),
    Family(
        "first",
        NS,
        "first_{p}",
        "s",
        ("returns the first {p} characters of the string s",),
        "s[:{p}]",
        "s.slice(0, {p})",
        _word,
        lambda p, s: s[:p],
    ),
    Family(
        "count",
        SUBSTRINGS,
        "count_{p}",
        "s",
        ("returns how many times '{p}' appears in the string s",),
        "s.count('{p}')",
        "s.split('{p}').length - 1",
        _with_substring,
        lambda p, s: s.count(p),
    ),
    Family(
        "ends_with",
        SUBSTRINGS,
        "ends_with_{p}",
        "s",
        ("returns whether the string s ends with '{p}'",),
        "s.endswith('{p}')",
        "s.endsWith('{p}')",
        _ending,
        lambda p, s: s.endswith(p),
    ),
)

HELDOUT_PERCENT = 15


def _h(*parts: Any) -> int:
    return int(hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:8], 16)


def is_heldout(language: str, family: str, param: Any) -> bool:
    return _h("split", language, family, param) % 100 < HELDOUT_PERCENT


@dataclass
class Instance:
    language: str
    family: Family
    param: Any

    @property
    def entry_point(self) -> str:
        name = self.family.fname.format(p=self.param)
        return name if self.language == "python" else _camel(name)

    @property
    def task_id(self) -> str:
        return f"toy-{self.language}/{self.family.name}/{self.param}"

    def instruction(self, phrasing: int = 0) -> str:
        ph = self.family.phrasings[phrasing % len(self.family.phrasings)].format(p=self.param)
        return f"Write a {LANG_NAME[self.language]} function `{self.entry_point}({self.family.arg})` that {ph}."

    def solution(self) -> str:
        f, a = self.family, self.family.arg
        if self.language == "python":
            return f"def {self.entry_point}({a}):\n    return {f.py_body.format(p=self.param)}\n"
        return f"function {self.entry_point}({a}) {{\n  return {f.js_body.format(p=self.param)};\n}}\n"

    def answer(self) -> str:
        return f"```{FENCE[self.language]}\n{self.solution()}```"

    def tests(self, n: int = 4) -> tuple[str, list[str]]:
        """(setup, separable test statements) with expected values from the reference semantics."""
        r = random.Random(_h("tests", self.task_id))
        seen, cases = set(), []
        for _ in range(n * 6):
            x = self.family.inputs(r, self.param)
            key = json.dumps(x)
            if key in seen:
                continue
            seen.add(key)
            cases.append((x, self.family.fn(self.param, x)))
            if len(cases) == n:
                break
        if self.language == "python":
            return "", [f"assert {self.entry_point}({_py(x)}) == {_py(y)}" for x, y in cases]
        return (
            "const assert = require('node:assert');",
            [f"assert.deepStrictEqual({self.entry_point}({_js(x)}), {_js(y)});" for x, y in cases],
        )

    def problem(self) -> dict[str, Any]:
        setup, tests = self.tests()
        return {
            "task_id": self.task_id,
            "language": self.language,
            "family": self.family.name,
            "instruction": self.instruction(0),
            "entry_point": self.entry_point,
            "canonical_solution": self.solution(),
            "test_setup": setup,
            "test_list": tests,
            "test": "\n".join(([setup] if setup else []) + tests) + "\n",
        }

    def record(self, phrasing: int) -> dict[str, Any]:
        return {
            "id": f"{self.task_id}#{phrasing}",
            "source": f"toy-{self.language}",
            "row": 0,
            "language": self.language,
            "chat_rounds": [
                {"role": "human", "content": self.instruction(phrasing)},
                {"role": "bot", "content": self.answer()},
            ],
        }


def instances(language: str | None = None) -> Iterator[Instance]:
    for lang in LANGS if language is None else (language,):
        for fam in FAMILIES:
            for p in fam.params:
                yield Instance(lang, fam, p)


def train_records(language: str) -> list[dict[str, Any]]:
    """Every phrasing of every train instance of one language (never a held-out instance)."""
    out: list[dict[str, Any]] = []
    for inst in instances(language):
        if not is_heldout(language, inst.family.name, inst.param):
            for ph in range(len(inst.family.phrasings)):
                rec = inst.record(ph)
                rec["row"] = len(out)
                out.append(rec)
    return out


def heldout_problems(language: str | None = None) -> list[dict[str, Any]]:
    return [i.problem() for i in instances(language) if is_heldout(i.language, i.family.name, i.param)]


def train_problems(language: str | None = None) -> list[dict[str, Any]]:
    return [i.problem() for i in instances(language) if not is_heldout(i.language, i.family.name, i.param)]


def write_curriculum(folder: str | Path) -> dict[str, Any]:
    """Write toy_<lang>.jsonl (training conversations), heldout.jsonl (all held-out problems),
    heldout/<lang>.jsonl (the same per language: one validation task per language) and
    train_problems.jsonl."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    counts: dict[str, Any] = {}
    for lang in LANGS:
        recs = train_records(lang)
        _write_jsonl(folder / f"toy_{lang}.jsonl", recs)
        counts[f"train_{lang}"] = len(recs)
    held = heldout_problems()
    _write_jsonl(folder / "heldout.jsonl", held)
    (folder / "heldout").mkdir(exist_ok=True)
    for lang in LANGS:
        _write_jsonl(folder / "heldout" / f"{lang}.jsonl", [p for p in held if p["language"] == lang])
    _write_jsonl(folder / "train_problems.jsonl", train_problems())
    counts["heldout"] = len(held)
    counts["heldout_by_language"] = {lang: sum(p["language"] == lang for p in held) for lang in LANGS}
    return counts


def corpus_texts() -> Iterator[str]:
    """Text for training the demo tokenizer: the curriculum in every phrasing, held-out included
    (the tokenizer sees the vocabulary, never the training signal)."""
    for inst in instances():
        for ph in range(len(inst.family.phrasings)):
            yield inst.instruction(ph)
        yield inst.answer()
        yield "\n".join(inst.tests()[1])


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
