"""Prompt construction: the contest baseline's strings exactly, for every problem of the 13
contest tasks, checked against an independent transcription of the baseline's code path
(MFTCoder codeqwen_competition: launch_generate_codeqwen.sh prefix/suffix, bigcode
TokenizedDataset, humanevalpack.py / mbpp.py get_prompt) fed with the raw JSON rows; plus
literal golden strings, format rules and format files. No torch here."""

from __future__ import annotations

import json

import pytest

from engine.errors import InputError, WorkbenchError
from engine.validate.prompts import FORMATS, build_prompt, load_format
from engine.validate.tasks import CONTEST_TASKS, load_task
from tests.conftest import shared_data
from tests.validate_support import ChatTok

# -- the baseline, transcribed from its sources (not from engine/validate) ----------------------
SYSTEM = "<|im_start|>" + "system" + "\n" + "<|im_end|>" + "\n"          # launch_generate_codeqwen.sh


def baseline_task_prompt(task: str, doc: dict) -> str:
    if task == "mbpp":
        return f'"""\n{doc["text"]}\n{doc["test_list"][0]}\n"""\n'
    kind, lang = task[len("humaneval"):].split("-")
    if kind == "synthesize":                  # HumanEvalSynthesizeBase.get_prompt, with_docs=True
        prompt_base = doc["prompt"]
        instruction = doc["instruction"].strip()
        inp = instruction                      # context is None
        return (inp + "\n\n" + prompt_base).strip()
    # HumanEvalFixBase.get_prompt, fixtests: with_docs=False
    prompt_base = "fn main(){}\n" + doc["declaration"] if lang == "rust" else doc["declaration"]
    instruction = f'Fix bugs in {doc["entry_point"]}.'
    context = prompt_base + doc["buggy_solution"]
    context += "\n" + doc["test"]
    inp = context + "\n" + instruction         # `instruct`: context first
    prompt = (inp + "\n\n" + prompt_base).strip()
    return prompt.strip()


def baseline_prompt(task: str, doc: dict) -> str:
    if task == "mbpp":
        prefix = SYSTEM + "<|im_start|>" + "user" + "\n"
        suffix = "<|im_end|>" + "\n" + "<|im_start|>" + "assistant"
    else:
        prefix = suffix = ""
    contents = baseline_task_prompt(task, doc)
    contents = contents if contents.endswith("\n") else contents + "\n"   # TokenizedDataset.__iter__
    return prefix + contents + suffix


HEP_FILES = {"python": "python", "js": "js", "java": "java", "go": "go", "cpp": "cpp", "rust": "rust"}


def _raw_rows(task: str) -> list[dict]:
    if task == "mbpp":
        rows = [json.loads(line) for line in shared_data("mbpp", "mbpp.jsonl").open(encoding="utf-8")]
        return rows[10:510]                    # MBPP.get_dataset: dataset.select(range(10, 510))
    lang = task.rsplit("-", 1)[1]
    return [json.loads(line) for line in shared_data("humanevalpack", f"{HEP_FILES[lang]}.jsonl").open(encoding="utf-8")]


@pytest.mark.parametrize("task", CONTEST_TASKS)
def test_contest_prompts_match_the_baseline_for_every_problem(task: str) -> None:
    rows = _raw_rows(task)
    t = load_task(task, data_dir=shared_data())
    assert len(t.problems) == len(rows) == (500 if task == "mbpp" else 164)
    fmt = FORMATS["contest"]
    for doc, p in zip(rows, t.problems):
        assert str(p.task_id) == str(doc["task_id"])
        bp = build_prompt(t, p, fmt)
        assert bp.text == baseline_prompt(task, doc), f"{task} {p.task_id}"
        assert bp.eos == "<|im_end|>" and bp.postprocess == "compatible"
        assert bp.add_special_tokens is True


def test_golden_strings() -> None:
    """Literal strings, so a change to both the code and the transcription is still caught."""
    syn = load_task("humanevalsynthesize-python", data_dir=shared_data())
    p0 = syn.problems[0]
    assert build_prompt(syn, p0, FORMATS["contest"]).text == (
        "Write a Python function `has_close_elements(numbers: List[float], threshold: float) -> bool` to solve the "
        "following problem:\nCheck if in given list of numbers, are any two numbers closer to each other than\n"
        "given threshold.\n>>> has_close_elements([1.0, 2.0, 3.0], 0.5)\nFalse\n"
        ">>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)\nTrue\n\n"
        "from typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n"
        '    """ Check if in given list of numbers, are any two numbers closer to each other than\n'
        "    given threshold.\n    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)\n    False\n"
        "    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)\n    True\n"
        '    """\n')
    fix = load_task("humanevalfixtests-python", data_dir=shared_data())
    text = build_prompt(fix, fix.problems[0], FORMATS["contest"]).text
    assert text.startswith("from typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float) "
                           "-> bool:\n    for idx, elem in enumerate(numbers):\n")
    assert text.endswith("check(has_close_elements)\nFix bugs in has_close_elements.\n\nfrom typing import List\n\n\n"
                         "def has_close_elements(numbers: List[float], threshold: float) -> bool:\n")
    rust = load_task("humanevalfixtests-rust", data_dir=shared_data())
    assert build_prompt(rust, rust.problems[0], FORMATS["contest"]).text.startswith("fn main(){}\n")
    mbpp = load_task("mbpp", data_dir=shared_data())
    assert mbpp.problems[0].task_id == "11"
    assert build_prompt(mbpp, mbpp.problems[0], FORMATS["contest"]).text == (
        "<|im_start|>system\n<|im_end|>\n<|im_start|>user\n"
        '"""\nWrite a python function to remove first and last occurrence of a given character from the string.\n'
        'assert remove_Occ("hello","l") == "heo"\n"""\n'
        "<|im_end|>\n<|im_start|>assistant")


def test_instruct_format_never_wraps_and_uses_the_tokenizer_eos() -> None:
    mbpp = load_task("mbpp", data_dir=shared_data())

    class Tok:
        eos_token = "<|endoftext|>"

    bp = build_prompt(mbpp, mbpp.problems[0], FORMATS["instruct"], Tok())
    assert bp.text.startswith('"""\nWrite a python function') and "<|im_start|>" not in bp.text
    assert bp.eos == "<|endoftext|>"
    assert bp.harness_stops == ("\nclass", "\nassert", '\n"""', "\nprint", "\nif", "\n<|/", "<|endoftext|>")


def test_harness_stop_words_per_language() -> None:
    go = load_task("humanevalsynthesize-go", data_dir=shared_data())
    bp = build_prompt(go, go.problems[0], FORMATS["contest"])
    assert bp.harness_stops == ("\n//", "\nfunc main(", "struct", "\nfunc", "<|endoftext|>", "<|im_end|>")
    assert bp.check == "brace"
    java = load_task("humanevalfixtests-java", data_dir=shared_data())
    assert build_prompt(java, java.problems[0], FORMATS["contest"]).check == "java"


def test_chat_formats_and_prefill(tmp_path) -> None:
    syn = load_task("humanevalsynthesize-python", data_dir=shared_data())
    p = syn.problems[0]
    chat = build_prompt(syn, p, FORMATS["chat"], ChatTok())
    assert chat.text.startswith("<|im_start|>user\nWrite a Python function `has_close_elements(")
    assert chat.text.endswith('    """<|im_end|>\n<|im_start|>assistant\n')
    assert chat.postprocess == "robust" and chat.add_special_tokens is False
    pre = build_prompt(syn, p, FORMATS["chat-prefill"], ChatTok())
    assert pre.text.endswith("<|im_start|>assistant\n" + p.prompt.rstrip() + "\n")
    with pytest.raises(WorkbenchError, match="tokenizer is needed"):
        build_prompt(syn, p, FORMATS["chat"], None)

    class NoTemplate:
        eos_token = "</s>"
        chat_template = None

    with pytest.raises(WorkbenchError, match="no chat template"):
        build_prompt(syn, p, FORMATS["chat"], NoTemplate())
    # a system message from a format file
    f = tmp_path / "sys.toml"
    f.write_text('name = "sys"\nstyle = "chat"\nsystem = "You are a careful programmer."\n')
    assert build_prompt(syn, p, load_format(str(f)), ChatTok()).text.startswith(
        "<|im_start|>system\nYou are a careful programmer.<|im_end|>\n<|im_start|>user\n")


def test_format_rules_and_files(tmp_path) -> None:
    f = tmp_path / "mine.toml"
    f.write_text('name = "mine"\nstyle = "harness"\neos = "<|im_end|>"\npostprocess = "robust"\n'
                 '[[rules]]\ntasks = ["humanevalfix*"]\nprefix = "<|im_start|>user\\n"\n'
                 'suffix = "<|im_end|>\\n<|im_start|>assistant\\n"\n')
    fmt = load_format(str(f))
    fix = load_task("humanevalfixtests-js", data_dir=shared_data())
    syn = load_task("humanevalsynthesize-js", data_dir=shared_data())
    a = build_prompt(fix, fix.problems[0], fmt)
    b = build_prompt(syn, syn.problems[0], fmt)
    assert a.text.startswith("<|im_start|>user\n") and a.text.endswith("<|im_end|>\n<|im_start|>assistant\n")
    assert not b.text.startswith("<|im_start|>") and b.postprocess == "robust"
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\nstyel = "chat"\n')
    with pytest.raises(InputError) as e:
        load_format(str(bad))
    assert "styel" in str(e.value) and "bad.toml" in str(e.value)
    with pytest.raises(WorkbenchError, match="unknown prompt format"):
        load_format("no-such-format")


def test_custom_and_leetcode_prompts(tmp_path) -> None:
    from engine.demo.curriculum import heldout_problems

    path = tmp_path / "toy.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in heldout_problems()[:3]))
    t = load_task(str(path))
    assert t.kind == "custom" and t.name == "toy"
    bp = build_prompt(t, t.problems[0], FORMATS["contest"])
    assert bp.text == (FORMATS["contest"].rules[0].prefix + t.problems[0].instruction + "\n"
                       + FORMATS["contest"].rules[0].suffix)
    assert build_prompt(t, t.problems[0], FORMATS["chat"], ChatTok()).text == \
        f"<|im_start|>user\n{t.problems[0].instruction}<|im_end|>\n<|im_start|>assistant\n"
    lc = load_task("leetcode", data_dir=shared_data())
    bp = build_prompt(lc, lc.problems[0], FORMATS["chat"], ChatTok())
    assert "Please complete the following python code precisely" in bp.text   # the set's own query text
