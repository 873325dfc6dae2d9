"""Qwen-1's tiktoken vocabulary (`qwen.tiktoken`) as a Hugging Face `tokenizer.json`.

`QWenTokenizer` (the remote code) is tiktoken with Qwen's split regex, NFC normalisation and 208
special tokens from id 151643 on. The same thing in the `tokenizers` library: a byte-level BPE
whose vocab is the ranks (id = rank), whose merges are every split of a token into two tokens
(ordered by the merged token's rank, as tiktoken picks the lowest-ranked pair), with
`ignore_merges` (tiktoken takes a piece that is itself a token as is), the same regex as a
`Split` pre-tokenizer, an NFC normaliser and the special tokens as added tokens with their ids.

Reading the vocabulary needs neither tiktoken nor transformers (the file is base64 + rank per
line); `verify_against_tiktoken` compares the result with tiktoken when it is installed.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

from engine.errors import InputError

# tokenization_qwen.py, verbatim
PAT_STR = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""  # noqa: E501  (verbatim from qwen.tiktoken)
ENDOFTEXT, IMSTART, IMEND = "<|endoftext|>", "<|im_start|>", "<|im_end|>"
SPECIAL_START_ID = 151643
SPECIAL_TOKENS: tuple[str, ...] = (ENDOFTEXT, IMSTART, IMEND) + tuple(f"<|extra_{i}|>" for i in range(205))
VOCAB_FILE = "qwen.tiktoken"


def read_tiktoken_ranks(path: str | Path) -> dict[bytes, int]:
    """token bytes -> rank, with a located error for a malformed line."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read the vocabulary: {e.strerror}", file=p) from None
    ranks: dict[bytes, int] = {}
    for n, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        try:
            if len(parts) != 2:
                raise ValueError
            ranks[base64.b64decode(parts[0], validate=True)] = int(parts[1])
        except ValueError:
            raise InputError("not a tiktoken vocabulary line (expected 'BASE64 RANK')", file=p, line=n) from None
    if not ranks:
        raise InputError("empty tiktoken vocabulary", file=p)
    ids = sorted(ranks.values())
    if ids[0] != 0 or ids[-1] != len(ids) - 1:
        raise InputError(f"ranks are not 0..{len(ids) - 1} without gaps (found {ids[0]}..{ids[-1]})", file=p)
    return ranks


@lru_cache(maxsize=1)
def _byte_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character map used by byte-level BPE."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


@lru_cache(maxsize=1)
def _translation() -> dict[int, str]:
    return {b: c for b, c in _byte_to_unicode().items()}


def _as_unicode(token: bytes) -> str:
    # latin-1 maps each byte to the code point of the same value; translate then maps those
    return token.decode("latin-1").translate(_translation())


def vocab_and_merges(ranks: dict[bytes, int]) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Byte-level vocab (id = rank) and the merges that rebuild every multi-byte token."""
    by_id = [""] * len(ranks)
    for tok, rank in ranks.items():
        by_id[rank] = _as_unicode(tok)
    get = ranks.get
    merges: list[tuple[int, int, int]] = []
    for tok, rank in ranks.items():
        for i in range(1, len(tok)):
            left = get(tok[:i])
            if left is not None:
                right = get(tok[i:])
                if right is not None:
                    merges.append((rank, left, right))
    merges.sort()
    return {u: i for i, u in enumerate(by_id)}, [(by_id[a], by_id[b]) for _, a, b in merges]


def build_tokenizer(vocab_file: str | Path) -> Any:
    """A `tokenizers.Tokenizer` with QWenTokenizer's ids for every regular and special token."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import BPE

    ranks = read_tiktoken_ranks(vocab_file)
    if len(ranks) != SPECIAL_START_ID:
        raise InputError(
            f"{len(ranks)} regular tokens; Qwen-1's special tokens start at id {SPECIAL_START_ID}, "
            "so this is not Qwen-1's vocabulary",
            file=vocab_file,
        )
    vocab, merges = vocab_and_merges(ranks)
    tok = Tokenizer(BPE(vocab=vocab, merges=merges, fuse_unk=False, byte_fallback=False, ignore_merges=True))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PAT_STR), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    # added in id order: they take the ids right after the vocab, 151643...
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS])
    for i, t in enumerate(SPECIAL_TOKENS):
        if tok.token_to_id(t) != SPECIAL_START_ID + i:
            raise InputError(
                f"special token {t} got id {tok.token_to_id(t)}, expected {SPECIAL_START_ID + i}", file=vocab_file
            )
    return tok


@lru_cache(maxsize=2)
def _serialized(path: str, mtime_ns: int, size: int) -> tuple[str, str, str, int]:
    """tokenizer.json, vocab.json and merges.txt as text, and the vocab size (cached per file
    version: a conversion takes seconds)."""
    tok = build_tokenizer(path)
    model = json.loads(tok.model.__getstate__())  # vocab + merges as tokenizers stores them
    merges = "#version: 0.2\n" + "".join((m if isinstance(m, str) else " ".join(m)) + "\n" for m in model["merges"])
    return tok.to_str(), json.dumps(model["vocab"], ensure_ascii=False), merges, tok.get_vocab_size(True)


def write_tokenizer_files(
    vocab_file: str | Path, dest: Path, *, chat_template: str, eos: str, pad: str, model_max_length: int
) -> dict[str, Any]:
    """tokenizer.json, tokenizer_config.json (+ vocab.json / merges.txt for slow loaders) in
    `dest`, laid out as the Qwen2 hub repositories are (loadable by transformers 4 and 5,
    vLLM, and `tokenizers` alone)."""
    p = Path(vocab_file).resolve()
    try:
        st = p.stat()
    except OSError as e:
        raise InputError(f"cannot read the vocabulary: {e.strerror}", file=p) from None
    tok_json, vocab_json, merges, n_vocab = _serialized(str(p), st.st_mtime_ns, st.st_size)
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "tokenizer.json").write_text(tok_json, encoding="utf-8")
    (dest / "vocab.json").write_text(vocab_json, encoding="utf-8")
    (dest / "merges.txt").write_text(merges, encoding="utf-8")
    added = {
        str(SPECIAL_START_ID + i): {
            "content": t,
            "lstrip": False,
            "normalized": False,
            "rstrip": False,
            "single_word": False,
            "special": True,
        }
        for i, t in enumerate(SPECIAL_TOKENS)
    }
    config = {
        "tokenizer_class": "Qwen2Tokenizer",
        "add_bos_token": False,
        "add_prefix_space": False,
        "bos_token": None,
        "eos_token": eos,
        "pad_token": pad,
        "unk_token": None,
        "errors": "replace",
        "clean_up_tokenization_spaces": False,
        "split_special_tokens": False,
        "model_max_length": model_max_length,
        "added_tokens_decoder": added,
        "additional_special_tokens": [IMSTART, IMEND],
        "chat_template": chat_template,
    }
    (dest / "tokenizer_config.json").write_text(
        json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (dest / "chat_template.jinja").write_text(chat_template, encoding="utf-8")
    return {"vocab": n_vocab, "regular": SPECIAL_START_ID, "special": len(SPECIAL_TOKENS)}


# A little of everything the contest tokenises: six languages, Chinese, whitespace runs, specials.
PROBE_TEXTS: tuple[str, ...] = (
    "def add(a, b):\n    \"\"\"Return a + b.\"\"\"\n    return a + b\n\n\nprint(add(1, 2))\n",
    "function f(xs) {\n\treturn xs.map((x) => x * 2);\n}\nconsole.log(f([1, 2, 3]));\n",
    "public class Main {\n    public static void main(String[] args) { System.out.println(\"hi\"); }\n}\n",
    "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(\"你好\")\n}\n",
    "#include <vector>\nint main() { std::vector<int> v{1, 2, 3}; return (int)v.size() - 3; }\n",
    "fn main() {\n    let v: Vec<i32> = vec![1, 2, 3];\n    println!(\"{:?}\", v);\n}\n",
    "编写一个函数，判断一个整数是否为素数。返回 True 或 False。",
    "   \n\n\t\t  x  =  1   \r\n        \n",
    "<|im_start|>system\n<|im_end|>\n<|im_start|>user\n写代码<|im_end|>\n<|im_start|>assistant\nok<|im_end|><|endoftext|>",
    "Café naïve résumé — ﬁ ½ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 😀 e\u0301",
)


def verify_against_tiktoken(
    vocab_file: str | Path, tokenizer_json: str | Path, texts: Iterable[str] = PROBE_TEXTS
) -> dict[str, Any] | None:
    """Encode `texts` with tiktoken (as QWenTokenizer does: NFC, every special allowed) and with
    the converted tokenizer; None when tiktoken is not installed. Raises on any difference."""
    import unicodedata

    try:
        import tiktoken
    except ImportError:
        return None
    from tokenizers import Tokenizer

    ranks = read_tiktoken_ranks(vocab_file)
    enc = tiktoken.Encoding(
        "Qwen",
        pat_str=PAT_STR,
        mergeable_ranks=ranks,
        special_tokens={t: SPECIAL_START_ID + i for i, t in enumerate(SPECIAL_TOKENS)},
    )
    tok = Tokenizer.from_file(str(tokenizer_json))
    n_texts = n_tokens = 0
    for text in texts:
        want = enc.encode(unicodedata.normalize("NFC", text), allowed_special="all")
        got = tok.encode(text, add_special_tokens=False).ids
        if got != want:
            at = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
            raise InputError(
                f"the converted tokenizer differs from tiktoken on {text[:40]!r} at token {at}", file=tokenizer_json
            )
        n_texts += 1
        n_tokens += len(want)
    return {"texts": n_texts, "tokens": n_tokens}
