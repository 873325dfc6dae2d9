"""Generation as the contest's harness ran it: stop words checked after every token (the MBPP
case where a check every 4 tokens kept 3 more and turned a right program into an empty one),
the same tokens as a reference harness loop over transformers' generate, and the length limit
computed as transformers computes it (a checkpoint's generation_config.json max_new_tokens
wins over the max_length the harness passed), shown by `eval run --explain`."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import pytest

from engine.problems.model import Problem
from engine.validate import GenRequest, GenSettings
from engine.validate.prompts import MBPP_STOP_WORDS, build_prompt, load_format
from engine.validate.tasks import Task

pytestmark = pytest.mark.slow

QWEN1 = Path(__file__).resolve().parents[2] / "shared" / "models" / "qwen1"


def _harness_keeps(tok: Any, gen: list[int], stops: list[str] | tuple[str, ...]) -> int | None:
    """bigcode's EndOfFunctionCriteria at batch size 1, as the contest's harness has it: after
    every new token, batch_decode the generation; stop once any stop word is in it."""
    for n in range(1, len(gen) + 1):
        if any(s in tok.batch_decode([gen[:n]])[0] for s in stops):
            return n
    return None


def _as_generate_calls(crit: Any, prompt: list[int], gen: list[int]) -> int | None:
    """Call a StoppingCriteria the way generate does: after each appended token."""
    import torch

    for n in range(1, len(gen) + 1):
        if bool(crit(torch.tensor([prompt + gen[:n]]), None)[0]):
            return n
    return None


def _mbpp() -> tuple[Task, Problem]:
    p = Problem(task_id="11", language="python", suite="mbpp", entry_point="twice",
                instruction="Write a python function to double a number.", tests=("assert twice(2) == 4",),
                test="assert twice(2) == 4\n")
    return Task("mbpp", "mbpp", "mbpp:test", (p,), 1), p


def _four_token_case(tok: Any, stops: tuple[str, ...]) -> tuple[list[int], int]:
    """An MBPP answer ending in `\\n\"\"\"\\n```` whose stop word completes after 64 tokens at a
    token count that is no multiple of 4, the fence within the next 3 tokens."""
    for pad in range(60):
        body = "".join(f"    # step {i}\n" for i in range(pad))
        text = f'\ndef twice(x):\n{body}    return 2 * x\n"""\n```\n<|im_end|>'
        gen = tok(text, add_special_tokens=False)["input_ids"]
        k = _harness_keeps(tok, gen, stops)
        if k and k > 64 and k % 4:
            late = 4 * math.ceil(k / 4)
            if "```" in tok.decode(gen[:late]) and "```" not in tok.decode(gen[:k]):
                return gen, k
    raise AssertionError("no padding gives the 4-token case with this tokenizer")


def _tokenizers(tiny_model_dir: Path) -> list[Any]:
    from transformers import AutoTokenizer

    toks = [AutoTokenizer.from_pretrained(str(tiny_model_dir))]
    if (QWEN1 / "qwen.tiktoken").is_file():   # the contest's own tokenizer, when its files are at hand
        try:
            toks.append(AutoTokenizer.from_pretrained(str(QWEN1), trust_remote_code=True))
        except (OSError, ValueError, ImportError):
            pass
    return toks


def test_mbpp_four_token_case_keeps_what_the_harness_kept(tiny_model_dir, torch_single_thread) -> None:
    from engine.validate.hf import RowSpec, _kept, make_row_stop
    from engine.validate.postprocess import compatible
    from engine.validate.vllm_backend import cut_as_harness

    task, problem = _mbpp()
    for tok in _tokenizers(tiny_model_dir):
        bp = build_prompt(task, problem, load_format("contest"), tok)
        assert set(MBPP_STOP_WORDS) <= set(bp.harness_stops)
        prompt = tok(bp.text, add_special_tokens=True)["input_ids"]
        gen, k = _four_token_case(tok, bp.harness_stops)
        spec = RowSpec(bp.harness_stops, None, 512, frozenset())
        crit = make_row_stop(tok, len(prompt), [spec])
        assert _as_generate_calls(crit, prompt, gen) == k and crit.stopped_at == [k]
        kept, finish = _kept(gen, crit.stopped_at[0], spec)
        assert kept == gen[:k] and finish == "stop"
        ours = compatible(task, problem, bp, tok.decode(kept, skip_special_tokens=False))
        harness = compatible(task, problem, bp, tok.decode(gen[:k], skip_special_tokens=False))
        assert ours.code == harness.code and "def twice(x):" in ours.code and "return 2 * x" in ours.code
        # what a check every 4 tokens kept: the fence's opening, and an empty program after it
        late = compatible(task, problem, bp, tok.decode(gen[:4 * math.ceil(k / 4)], skip_special_tokens=False))
        assert "def twice" not in late.code and late.code.strip() == bp.task_prompt.strip()
        # vLLM's output (its text cut inside the stop token, its tokens run on) is cut to the same tokens
        vllm_out = {"text": "(vLLM's own text)", "token_ids": gen, "n_tokens": len(gen), "finish": "stop"}
        got = cut_as_harness(tok, GenRequest(bp.text, stop=bp.harness_stops), vllm_out)
        assert got.n_tokens == k and got.text == tok.decode(gen[:k], skip_special_tokens=False)


def test_a_block_end_without_stop_words_is_cut_where_the_harness_stopped(tiny_model_dir) -> None:
    """HumanEvalPack's check_fn for brace languages: stop when the prompt's open brace closes.
    vLLM knows no check_fn; its longer answer is cut at the harness's token."""
    from transformers import AutoTokenizer

    from engine.validate.vllm_backend import cut_as_harness

    tok = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    gen = tok("    return a + b;\n}\n\nint main() {\n    return 0;\n}\n", add_special_tokens=False)["input_ids"]
    k = next(n for n in range(1, len(gen) + 1) if tok.decode(gen[:n]).count("}") == 1)
    got = cut_as_harness(tok, GenRequest("", stop=(), check="brace"),
                         {"text": tok.decode(gen), "token_ids": gen, "n_tokens": len(gen), "finish": "length"})
    assert got.n_tokens == k and got.text.endswith("}") and "main" not in got.text


@pytest.fixture(scope="module")
def tiny(tiny_model_dir, torch_single_thread):
    from engine.validate.hf import HFBackend

    return HFBackend.load(str(tiny_model_dir), settings=GenSettings())


def _prompts(tok: Any, n: int) -> list[str]:
    from engine.demo.curriculum import heldout_problems
    from engine.validate.prompts import chat_text

    return [chat_text(tok, r["instruction"]) for r in heldout_problems()[:n]]


def test_per_token_stops_match_a_reference_harness_loop(tiny) -> None:
    """Stop strings chosen in the model's own free output, completing after 64 tokens at counts
    that are no multiple of 4: each row keeps exactly the tokens a one-prompt generate with
    bigcode's criteria keeps, batched beside a row that does not stop."""
    import torch
    from transformers import StoppingCriteria

    tok, model = tiny.tokenizer, tiny.model
    prompts = _prompts(tok, 10)
    cases = []
    for p in prompts:
        ids = tok(p, add_special_tokens=False)["input_ids"]
        gen = model.generate(input_ids=torch.tensor([ids]), max_new_tokens=100, do_sample=False)[0, len(ids):].tolist()
        for j in (n for n in range(65, len(gen)) if n % 4):
            upto = tok.decode(gen[:j])
            for stop in (upto[-n:] for n in range(2, 9) if upto[-n:].strip()):
                if _harness_keeps(tok, gen, (stop,)) == j:
                    cases.append((p, stop))
                    break
            if cases and cases[-1][0] == p:
                break
        if len(cases) == 2:
            break
    assert cases, "the tiny model's free output gives no stop string after 64 tokens"

    class EndOfFunction(StoppingCriteria):      # bigcode generation.py, batch size 1
        def __init__(self, start: int, stops: tuple[str, ...]) -> None:
            self.start, self.stops = start, stops

        def __call__(self, input_ids: Any, scores: Any, **kw: Any) -> bool:
            return all(any(s in d for s in self.stops) for d in tok.batch_decode(input_ids[:, self.start:]))

    for p, stop in cases:
        ids = tok(p, add_special_tokens=False)["input_ids"]
        ref = model.generate(input_ids=torch.tensor([ids]), max_new_tokens=100, do_sample=False,
                             stopping_criteria=[EndOfFunction(len(ids), (stop,))])[0, len(ids):].tolist()
        free = tiny.generate([GenRequest(prompts[-1], False, max_new_tokens=100)], GenSettings(batch_size=1))
        ours = tiny.generate([GenRequest(p, False, stop=(stop,), max_new_tokens=100),
                              GenRequest(prompts[-1], False, max_new_tokens=100)], GenSettings(batch_size=2))
        assert ours[0][0].n_tokens == len(ref) and len(ref) % 4 and len(ref) > 64
        assert ours[0][0].text == tok.decode(ref, skip_special_tokens=False) and ours[0][0].finish == "stop"
        assert ours[1][0].text == free[0][0].text          # its neighbour ran on


def _model_copy(src: Path, dest: Path, max_new_tokens: int | None) -> Path:
    shutil.copytree(src, dest)
    gc = json.loads((dest / "generation_config.json").read_text())
    gc.pop("max_new_tokens", None)
    if max_new_tokens is not None:
        gc["max_new_tokens"] = max_new_tokens
    (dest / "generation_config.json").write_text(json.dumps(gc))
    return dest


def test_the_checkpoints_generation_config_decides_the_length(tiny_model_dir, demo_root, tmp_path,
                                                              torch_single_thread) -> None:
    import torch
    from typer.testing import CliRunner

    from engine.validate.hf import HFBackend
    from engine.validate.run import explain_validation, run_validation
    from engine.workspace import Workspace
    from workbench.cli import app
    from workbench.context import STATE

    capped = _model_copy(tiny_model_dir, tmp_path / "capped", 7)
    plain = _model_copy(tiny_model_dir, tmp_path / "plain", None)
    ws = Workspace.init(tmp_path / "ws", name="len")
    toy = str(demo_root / "data" / "toy" / "heldout.jsonl")
    exp = explain_validation(ws=ws, model=str(capped), tasks=toy, fmt="contest", limit=2)
    (length,) = [t["length"] for t in exp["tasks"].values()]
    assert length["max_new_tokens"] == 7 and length["max_length"] is None
    assert str(capped / "generation_config.json") in length["source"] and "max_length 2000" in length["source"]
    (other,) = [t["length"] for t in explain_validation(ws=ws, model=str(plain), tasks=toy, fmt="contest",
                                                       limit=2)["tasks"].values()]
    assert other["max_new_tokens"] is None and other["max_length"] == 2000
    # the run generates that way, one prompt per call (the contest format's batching)
    res = run_validation(ws=ws, model=str(capped), tasks=toy, fmt="contest", limit=3, compare_modes=False,
                         ground_truth=False, label="capped")
    assert max(g["tokens"] for g in res.generations) == 7 and all(g["tokens"] <= 7 for g in res.generations)
    gen = res.meta["generation"]["heldout"]
    assert gen["length"]["max_new_tokens"] == 7 and gen["batch_size"] == 1 and gen["differs"] == []
    # ... and the harness's own call, generate(max_length=2000), gives the same answer
    be = HFBackend.load(str(capped), settings=GenSettings())
    first = res.generations[0]
    ids = be.tokenizer(first["prompt"], add_special_tokens=True)["input_ids"]
    ref = be.model.generate(input_ids=torch.tensor([ids]), max_length=2000, do_sample=False)[0, len(ids):].tolist()
    assert len(ref) == first["tokens"] and be.tokenizer.decode(ref, skip_special_tokens=False) == first["raw"]
    STATE._ws = None
    try:
        out = CliRunner().invoke(app, ["-w", str(ws.root), "eval", "run", "--model", str(capped), "--tasks", toy,
                                       "--limit", "2", "--explain"])
        batched = CliRunner().invoke(app, ["-w", str(ws.root), "eval", "run", "--model", str(capped), "--tasks", toy,
                                           "--limit", "2", "--explain", "--batch-size", "8"])
    finally:
        STATE._ws = None
    assert out.exit_code == 0, out.output
    assert "limit        7 new tokens (max_new_tokens of" in out.stdout
    assert "batching     1 prompt(s) per generate call (format contest)" in out.stdout
    assert "stop         after every token at" in out.stdout and "differs" not in out.stdout
    assert batched.exit_code == 0 and "differs      batched (8 prompts per call" in batched.stdout
