"""The tokenizer.json built from qwen.tiktoken gives QWenTokenizer's ids (the original remote
code, on the real 151,851-token vocabulary): every regular and special token keeps its id, and
a multilingual code corpus (six languages, Chinese text, whitespace runs, special tokens)
encodes identically, loaded the way the trainer loads it (AutoTokenizer, no remote code)."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest

from engine.errors import InputError
from tests.conftest import SHARED_DATA
from tests.test_models_support import imported_workspace, qwen1_shared, write_qwen1_folder

SNIPPETS = {
    "python": "def fib(n: int) -> int:\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n",
    "js": "const sum = (xs) => xs.reduce((a, b) => a + b, 0);\nmodule.exports = { sum };\n// 注释：求和\n",
    "java": "import java.util.*;\nclass Solution {\n    public List<Integer> f(int n) {\n        return new ArrayList<>();\n    }\n}\n",
    "go": "package main\n\nimport (\n\t\"fmt\"\n\t\"strings\"\n)\n\nfunc main() {\n\tfmt.Println(strings.Repeat(\"ab\", 3))\n}\n",
    "cpp": "#include <bits/stdc++.h>\nusing namespace std;\nint main(){vector<long long> v(10,0LL);cout<<accumulate(v.begin(),v.end(),0LL)<<endl;}\n",
    "rust": "fn main() {\n    let s: String = \"héllo\".chars().rev().collect();\n    println!(\"{s} {:>8.3}\", 3.14159_f64);\n}\n",
}
CHINESE = [
    "给定一个整数数组 nums 和一个目标值 target，请你在该数组中找出和为目标值的那两个整数，并返回它们的数组下标。",
    "实现一个函数，判断字符串是否为回文串（忽略大小写和非字母数字字符）。例如：「A man, a plan」。",
    "模型微调：多任务学习（MFT）在代码生成上的效果，pass@1 提升了 12.5%。",
]
WHITESPACE = ["    \n\n\n        \t\t\n", "x\u00a0=\u3000y", "a   \r\n   b\n\n\n\n    c", " " * 37 + "\n" + "\t" * 9,
              "\n \n \n", "end   "]
SPECIALS = [("<|im_start|>system\n<|im_end|>\n<|im_start|>user\n写一个快速排序<|im_end|>\n<|im_start|>assistant\n"
             "def qsort(xs):\n    return xs<|im_end|><|endoftext|>"),
            "<|extra_0|><|extra_204|> <|im_end|>x<|im_start|>", "<|im_end", "<|endoftext |>"]


def _corpus() -> list[str]:
    import collections
    import difflib
    import json as json_mod
    import textwrap

    texts = list(SNIPPETS.values()) + CHINESE + WHITESPACE + SPECIALS
    texts += [inspect.getsource(m) for m in (textwrap, difflib, json_mod.decoder, collections)]
    hep = SHARED_DATA / "humanevalpack"
    for lang in ("python", "js", "java", "go", "cpp", "rust"):   # the benchmark's own code, when at hand
        f = hep / f"{lang}.jsonl"
        if f.is_file():
            for line in f.read_text(encoding="utf-8").splitlines()[:40]:
                r = json.loads(line)
                texts += [r.get("prompt", ""), r.get("canonical_solution", ""), r.get("buggy_solution", ""),
                          r.get("test", "")]
    return [t for t in texts if t]


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """(QWenTokenizer from the remote code, the converted tokenizer as AutoTokenizer loads it)."""
    from transformers import AutoTokenizer

    orig_dir = write_qwen1_folder(tmp_path_factory.mktemp("qwen1-tok"))
    orig = AutoTokenizer.from_pretrained(orig_dir, trust_remote_code=True)
    assert type(orig).__name__ == "QWenTokenizer"
    _ws, dest = imported_workspace(tmp_path_factory)
    conv = AutoTokenizer.from_pretrained(dest)
    assert type(conv).__module__.startswith("transformers.")   # a transformers class, no remote code
    return orig, conv


def test_every_regular_and_special_token_keeps_its_id(both) -> None:
    from engine.models.qwen1_tokenizer import SPECIAL_TOKENS, read_tiktoken_ranks

    orig, conv = both
    ranks = read_tiktoken_ranks(qwen1_shared() / "qwen.tiktoken")
    assert len(ranks) == 151643 and len(SPECIAL_TOKENS) == 208
    assert len(conv) == len(orig) == 151851
    vocab = conv.get_vocab()
    back = conv.backend_tokenizer.decoder
    # every regular token: its byte-level form has the rank as id, and decodes to its bytes
    bad = [r for tok, r in ranks.items() if orig.convert_tokens_to_ids(tok) != r]
    assert not bad
    ids_by_piece = {i: p for p, i in vocab.items()}
    for tok, r in list(ranks.items())[::997]:   # decode a spread of them byte-exactly
        assert back.decode([ids_by_piece[r]]).encode("utf-8", "surrogatepass") == tok or not _utf8(tok)
    assert sorted(i for p, i in vocab.items() if i < 151643) == list(range(151643))
    for i, t in enumerate(SPECIAL_TOKENS):
        assert conv.convert_tokens_to_ids(t) == orig.convert_tokens_to_ids(t) == 151643 + i
        assert conv(t, add_special_tokens=False)["input_ids"] == orig(t)["input_ids"] == [151643 + i]
    assert (conv.eos_token, conv.pad_token) == ("<|im_end|>", "<|im_end|>")


def _utf8(b: bytes) -> bool:
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def test_multilingual_code_corpus_encodes_identically(both) -> None:
    import unicodedata

    orig, conv = both
    texts = _corpus()
    same = tokens = 0
    first_bad = None
    for t in texts:
        a = orig(t)["input_ids"]
        b = conv(t, add_special_tokens=False)["input_ids"]
        tokens += len(a)
        if a == b:
            same += 1
        elif first_bad is None:
            first_bad = (t[:60], a[:12], b[:12])
        assert conv.decode(b) == unicodedata.normalize("NFC", t)
    print(f"\ntokenizer agreement: {same}/{len(texts)} texts, {tokens} tokens identical to QWenTokenizer")
    assert same == len(texts), first_bad
    assert tokens > 20_000


def test_a_bad_vocabulary_line_is_located(tmp_path: Path) -> None:
    from engine.models.qwen1_tokenizer import read_tiktoken_ranks

    p = tmp_path / "qwen.tiktoken"
    p.write_text("IQ== 0\nIg== 1\nnot-base64!! x\n")
    with pytest.raises(InputError) as e:
        read_tiktoken_ranks(p)
    assert e.value.line == 3 and str(p) in str(e.value)
    p.write_text("IQ== 0\nIg== 5\n")
    with pytest.raises(InputError, match="without gaps"):
        read_tiktoken_ranks(p)
