"""Post-processing on recorded raw outputs (fences, chatter, special tokens, truncation):
compatible reproduces the reference harness's trimming exactly; robust recovers what a chat
model meant. A few programs are executed for real to show a problem flipping between modes.
No torch here."""

from __future__ import annotations

import pytest

from engine.validate.postprocess import (clean_output, compatible, defines_entry, mbpp_pick_code_block, pick_fenced,
                                         remove_last_block, robust)
from engine.validate.prompts import FORMATS, build_prompt
from engine.validate.tasks import load_task
from tests.conftest import shared_data
from tests.validate_support import ChatTok

ENDS = ["<|im_end|>", "<|endoftext|>"]
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def _task(name: str):
    return load_task(name, data_dir=shared_data())


def _case(task_name: str, index: int = 0, fmt: str = "contest"):
    t = _task(task_name)
    p = t.problems[index]
    return t, p, build_prompt(t, p, FORMATS[fmt], ChatTok())


# -- compatible: the harness's trimming, exactly --------------------------------------------------

def test_python_continuation_is_cut_at_the_first_stop_word() -> None:
    t, p, bp = _case("humanevalsynthesize-python")
    raw = ("    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])\n"
           "\n\ndef main():\n    print(has_close_elements([1.0], 0.5))\n<|im_end|>")
    ex = compatible(t, p, bp, raw)
    assert ex.kind == "solution"
    assert ex.code == p.prompt.rstrip() + ("\n    return any(abs(a - b) < threshold for i, a in enumerate(numbers) "
                                           "for b in numbers[i + 1:])\n\n")


def test_python_chat_answer_is_lost_by_the_harness() -> None:
    """A markdown answer to a raw prompt: the harness stops at the first unindented line."""
    t, p, bp = _case("humanevalsynthesize-python")
    raw = ("Here is the implementation:\n```python\nfrom typing import List\n\n"
           "def has_close_elements(numbers: List[float], threshold: float) -> bool:\n"
           "    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])\n"
           "```\nIt compares every pair.<|im_end|>")
    assert compatible(t, p, bp, raw).code == p.prompt.rstrip()
    ex = robust(t, p, bp, raw, end_tokens=ENDS, special=SPECIAL)
    assert ex.kind == "solution" and ex.note == "fence"
    assert ex.code.startswith("from typing import List\n\ndef has_close_elements(") and "It compares" not in ex.code


def test_brace_languages_cut_where_the_function_closes() -> None:
    t, p, bp = _case("humanevalsynthesize-js")
    raw = ("  for (let i = 0; i < numbers.length; i++) {\n    for (let j = i + 1; j < numbers.length; j++) {\n"
           "      if (Math.abs(numbers[i] - numbers[j]) < threshold) { return true; }\n    }\n  }\n  return false;\n}\n\n"
           "console.log(hasCloseElements([1.0, 2.0], 0.5));\n}\n")
    code = compatible(t, p, bp, raw).code
    assert code.endswith("  return false;\n}") and "console.log" not in code
    # Java: class + method are open (2 brackets): the cut is where the class closes, so a main
    # method the model adds inside the class stays (it compiles; the test's Main still runs)
    t, p, bp = _case("humanevalsynthesize-java")
    raw = ("        for (int i = 0; i < numbers.size(); i++) {\n            for (int j = i + 1; j < numbers.size(); j++) {\n"
           "                if (Math.abs(numbers.get(i) - numbers.get(j)) < threshold) return true;\n            }\n        }\n"
           "        return false;\n    }\n\n    public static void main(String[] args) {\n        System.out.println(1);\n"
           "    }\n}\n")
    code = compatible(t, p, bp, raw).code
    assert code == p.prompt.rstrip() + "\n" + raw.rstrip()
    raw2 = raw.replace("    }\n}\n", "    }\n}\n}\nclass Extra {}\n")
    assert compatible(t, p, bp, raw2).code == code           # everything after the class closes is dropped


def test_go_stop_words_are_kept_faithfully() -> None:
    """bigcode's Go stop word `struct` (no newline) truncates any answer that mentions it."""
    t, p, bp = _case("humanevalsynthesize-go")
    raw = "    seen := struct{}{}\n    _ = seen\n    return false\n}\n"
    assert compatible(t, p, bp, raw).code == p.prompt.rstrip() + "\n    seen := "
    assert remove_last_block("\n    return 1\n}\n\nfunc Other() {}", "go", ["\nfunc"]) == "\n    return 1\n}"


def test_fix_task_output_continues_the_declaration() -> None:
    t, p, bp = _case("humanevalfixtests-python")
    raw = ("    for idx, elem in enumerate(numbers):\n        for idx2, elem2 in enumerate(numbers):\n"
           "            if idx != idx2 and abs(elem - elem2) < threshold:\n                return True\n"
           "    return False\n<|im_end|>")
    code = compatible(t, p, bp, raw).code
    assert code.startswith(p.declaration.rstrip() + "\n    for idx, elem")
    assert code.rstrip().endswith("return False")


def test_mbpp_picks_the_first_fence_then_stops() -> None:
    t, p, bp = _case("mbpp")
    raw = ("\nSure! Here is a function:\n\n```python\ndef remove_Occ(s, ch):\n    s = s.replace(ch, '', 1)\n"
           "    return s[::-1].replace(ch, '', 1)[::-1]\n\nprint(remove_Occ('hello', 'l'))\n```\n\nExplanation: "
           "it removes the first and the last occurrence.<|im_end|>")
    code = compatible(t, p, bp, raw).code
    assert code == (bp.task_prompt + "def remove_Occ(s, ch):\n    s = s.replace(ch, '', 1)\n"
                    "    return s[::-1].replace(ch, '', 1)[::-1]\n")
    # without a fence: the first def block
    assert mbpp_pick_code_block("text\ndef f(x):\n    return x\nprint(f(1))\n") == "def f(x):\n    return x\n"


# -- robust: what a chat model meant -----------------------------------------------------------------

def test_robust_cuts_at_the_end_token_and_strips_special_tokens() -> None:
    assert clean_output("code<|im_end|>\n<|im_start|>user\nmore", ENDS, SPECIAL) == "code"
    assert clean_output("x = 1 <|endoftext|>", ["<|im_end|>"], SPECIAL) == "x = 1 "
    assert clean_output("return 1\n<|", ENDS, SPECIAL) == "return 1\n"      # a dangling partial token
    assert clean_output("a<|fim_middle|>b", ENDS, SPECIAL) == "ab"


def test_robust_picks_the_block_defining_the_entry_point() -> None:
    text = ("Usage:\n```python\nprint(add_7(1))\n```\nImplementation:\n```python\ndef add_7(x):\n    return x + 7\n```\n"
            "```javascript\nfunction add7(x) { return x + 7; }\n```")
    assert pick_fenced(text, "python", "add_7") == "def add_7(x):\n    return x + 7"
    assert pick_fenced(text, "javascript", "add7") == "function add7(x) { return x + 7; }"
    # an unclosed fence (the answer ran into the length limit) still counts
    assert pick_fenced("```python\ndef f(x):\n    return x", "python", "f") == "def f(x):\n    return x"
    assert defines_entry("const hasCloseElements = (numbers, threshold) => {", "javascript", "hasCloseElements")
    assert defines_entry("class Solution:\n    def twoSum(self):", "python", "Solution().twoSum")
    assert not defines_entry("print(f(1))", "python", "f")


def test_robust_unfenced_code_drops_trailing_prose() -> None:
    t = _task(str(_toy_file()))
    p = t.problems[0]
    bp = build_prompt(t, p, FORMATS["chat"], ChatTok())
    name = p.entry_point
    raw = f"def {name}(x):\n    return x\n\nThis function returns its input unchanged.<|im_end|>"
    ex = robust(t, p, bp, raw, end_tokens=ENDS, special=SPECIAL)
    assert ex.code == f"def {name}(x):\n    return x\n" and ex.note == "parsed"


def test_robust_continuation_of_a_raw_prompt() -> None:
    t, p, bp = _case("humanevalsynthesize-python")
    raw = "    return False\n\nif __name__ == '__main__':\n    import doctest\n    doctest.testmod()\n<|endoftext|>"
    ex = robust(t, p, bp, raw, end_tokens=ENDS, special=SPECIAL)
    assert ex.note == "continuation" and ex.code == p.prompt.rstrip() + "\n    return False\n"


def test_robust_java_drops_a_clashing_main_class_and_leetcode_is_a_completion() -> None:
    t, p, bp = _case("humanevalsynthesize-java", fmt="chat")
    raw = ("```java\nimport java.util.*;\n\nclass Solution {\n    public boolean hasCloseElements(List<Double> numbers, "
           "double threshold) {\n        return false;\n    }\n}\n\npublic class Main {\n    public static void "
           "main(String[] args) {\n        System.out.println(new Solution().hasCloseElements(List.of(1.0), 0.5));\n"
           "    }\n}\n```")
    ex = robust(t, p, bp, raw, end_tokens=ENDS, special=SPECIAL)
    assert "class Solution" in ex.code and "class Main" not in ex.code and ex.code.count("{") == ex.code.count("}")
    lc = _task("leetcode")
    lp = lc.problems[0]
    lbp = build_prompt(lc, lp, FORMATS["chat"], ChatTok())
    raw = "```python\nclass Solution:\n    def minOperations(self, nums, k):\n        return 0\n```<|im_end|>"
    ex = robust(lc, lp, lbp, raw, end_tokens=ENDS, special=SPECIAL)
    assert ex.kind == "completion" and ex.code.startswith("class Solution:")


def _toy_file():
    import json
    import tempfile
    from pathlib import Path

    from engine.demo.curriculum import heldout_problems

    d = Path(tempfile.mkdtemp(prefix="wb-toy-"))
    path = d / "toy.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in heldout_problems()[:4]))
    return path


# -- executed for real: a problem flips between modes -----------------------------------------------

def test_flip_between_modes_executed(tmp_path) -> None:
    import dataclasses

    from engine.execute import execute
    from engine.execute.samples import Sample

    t, p, bp = _case("humanevalsynthesize-python")
    mb, mp, mbp = _case("mbpp")
    chat_answer = ("Here is the implementation:\n```python\nfrom typing import List\n\n"
                   "def has_close_elements(numbers: List[float], threshold: float) -> bool:\n"
                   "    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])\n"
                   "```<|im_end|>")
    mbpp_answer = ("```python\ndef remove_Occ(s, ch):\n    s = s.replace(ch, '', 1)\n"
                   "    return s[::-1].replace(ch, '', 1)[::-1]\n```<|im_end|>")
    probs = [dataclasses.replace(p, task_id="syn/0"), dataclasses.replace(mp, task_id="mbpp/11")]
    samples = []
    for i, mode in enumerate(("compatible", "robust")):
        a = (compatible if mode == "compatible" else lambda *x: robust(*x, end_tokens=ENDS, special=SPECIAL))(
            t, p, bp, chat_answer)
        b = (compatible if mode == "compatible" else lambda *x: robust(*x, end_tokens=ENDS, special=SPECIAL))(
            mb, mp, mbp, mbpp_answer)
        samples += [Sample("syn/0", a.code, a.kind, i), Sample("mbpp/11", b.code, b.kind, i)]
    rep = execute(probs, samples, cache=False)
    v = {(r["task_id"], r["sample"]): r["verdict"] for r in rep.results}
    assert v[("syn/0", 0)] == "failed" and v[("syn/0", 1)] == "passed"     # the flip
    assert v[("mbpp/11", 0)] == "passed" and v[("mbpp/11", 1)] == "passed"


@pytest.mark.parametrize("lang,raw,expect", [
    ("python", "\n    x = 1\n    return x\nprint(1)\n", "\n    x = 1\n    return x"),
    ("cpp", "\n    return 1;\n}\nint main(){}\n", "\n    return 1;\n}"),
    ("rust", "\n    1\n}\n\nfn main(){}\n", "\n    1\n}"),
    ("java", "\n        return 1;\n    }\n}\nclass X {}\n", "\n        return 1;\n    }\n}"),
    ("java", "\n        return 1;\n    }\n", "\n        return 1;\n    }"),       # the class stays open
    ("java", "\n        if (x) {\n            while (y) {\n            }\n",          # one brace short: added
     "\n        if (x) {\n            while (y) {\n            }\n}"),
])
def test_remove_last_block(lang: str, raw: str, expect: str) -> None:
    assert remove_last_block(raw, lang, []) == expect
