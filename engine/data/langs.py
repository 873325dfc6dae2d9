"""Which contest language a piece of code is in.

Order of evidence: a fence's info string (```python), then the code itself: weighted
patterns that are characteristic of each language (e.g. `fn`/`let mut`/`::` for Rust,
`:=`/`func`/`package` for Go), with a small bonus for a language the prompt names.

Contest languages: python, javascript, java, go, cpp, rust. Anything else is tagged `other:<name>`
internally and never becomes one of a record's `languages`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from engine.data.code import Block, fenced_blocks

LANGUAGES = ("python", "javascript", "java", "go", "cpp", "rust")

FENCE_ALIASES = {
    "python": "python",
    "py": "python",
    "python3": "python",
    "py3": "python",
    "python2": "other:python2",
    "ipython": "python",
    "ipython3": "python",
    "sage": "python",
    "javascript": "javascript",
    "js": "javascript",
    "node": "javascript",
    "nodejs": "javascript",
    "jsx": "javascript",
    "mjs": "javascript",
    "cjs": "javascript",
    "ecmascript": "javascript",
    "java": "java",
    "go": "go",
    "golang": "go",
    "cpp": "cpp",
    "c++": "cpp",
    "cc": "cpp",
    "cxx": "cpp",
    "hpp": "cpp",
    "h++": "cpp",
    "cplusplus": "cpp",
    "rust": "rust",
    "rs": "rust",
}

# (pattern, weight) per language. Patterns run with re.M on the code.
_FEATURES: dict[str, list[tuple[str, float]]] = {
    "python": [
        (r"^\s*def \w+\s*\(.*\)\s*(->\s*[^:]+)?:\s*(#.*)?$", 4),
        (r"^\s*class \w+(\(.*\))?:\s*$", 3),
        (r"^\s*(el)?if .+:\s*(#.*)?$", 1.5),
        (r"^\s*else:\s*$", 1.5),
        (r"^\s*for \w+(, *\w+)* in .+:\s*$", 2),
        (r"^\s*while .+:\s*$", 1),
        (r"^\s*(from [\w.]+ )?import [\w., ]+$", 1.5),
        (r"\bself\.", 1.5),
        (r"\belif\b", 2),
        (r"\bNone\b", 1),
        (r"\b(True|False)\b", 0.5),
        (r"^\s*return\b[^;{}]*$", 0.5),
        (r"\bprint\(", 0.5),
        (r"\blen\(", 1),
        (r"\brange\(", 1),
        (r'"""', 1.5),
        (r"^\s*#(?!include|define|pragma|if|endif)", 0.5),
        (r"\b(and|or|not) \w", 0.5),
        (r"\blambda\b\s*\w*:", 1),
        (r"^\s*try:\s*$", 1.5),
        (r"^\s*except\b.*:\s*$", 2),
        (r"\bdef __\w+__\(", 2),
        (r"\[\s*\w+ for \w+ in ", 2),
        (r"\bis not None\b|\bis None\b", 1.5),
        (r"^\s*@\w+", 0.5),
        (r"\bnonlocal\b|\byield from\b", 1),
    ],
    "javascript": [
        (r"\bfunction\s*\w*\s*\(", 2.5),
        (r"\b(const|let|var) \w+\s*=", 1.5),
        (r"=>", 1.5),
        (r"===|!==", 2),
        (r"\bconsole\.log\(", 3),
        (r"\bdocument\.|\bwindow\.", 2),
        (r"\brequire\(", 2),
        (r"\bmodule\.exports\b", 3),
        (r"\.length\b", 0.5),
        (r"\bundefined\b", 2),
        (r"\bnull\b", 0.3),
        (r"\.push\(", 1),
        (r"\.forEach\(|\.map\(|\.filter\(|\.reduce\(", 1),
        (r"\bexport (default|const|function)\b", 2),
        (r"\bimport .* from ['\"]", 2),
        (r"\bnew (Map|Set|Array|Promise|Date)\b", 1.5),
        (r"\basync function\b|\bawait\b", 0.5),
        (r"\bJSON\.", 1),
        (r"\bMath\.\w+\(", 0.5),
        (r"\bparseInt\(|\bparseFloat\(", 2),
        (r"\.toString\(\)|\.split\(['\"]", 0.3),
        (r"\btypeof\b", 2),
        (r"\bfor \((let|const|var) ", 3),
        (r"^\s*(let|const|var) \w+( = [^;]*)?;\s*$", 1),
        (r"\.(charAt|indexOf|slice|substring|toLowerCase|toUpperCase|sort)\(", 0.5),
        (r"`[^`]*\$\{", 2),
        (r"\bArray\.from\(|\bObject\.(keys|values|entries)\(", 2),
    ],
    "java": [
        (r"\bpublic (static )?(final )?(class|void|int|String|boolean|double|long|List|Map)\b", 3),
        (r"\bSystem\.out\.print", 4),
        (r"\bString\[\]", 2),
        (r"\b(ArrayList|HashMap|HashSet|LinkedList|Arrays|Collections)\b", 2),
        (r"^\s*import java\.", 5),
        (r"\bprivate (static )?(final )?\w+", 1.5),
        (r"\bnew \w+(<[^>]*>)?\(", 0.5),
        (r"\b(Integer|Boolean|Character|Double|Long)\b", 1),
        (r"\bclass \w+( extends \w+)?( implements [\w, ]+)?\s*\{", 1.5),
        (r"\bList<\w+>", 1.5),
        (r"\.equals\(", 1.5),
        (r"\.size\(\)", 1),
        (r"\.get\(\w+\)", 0.5),
        (r"@Override", 3),
        (r"\bthrows \w+", 2),
        (r"\bString \w+\s*=", 1.5),
        (r"\bint\[\] \w+", 2),
        (r"\bfinal \w+", 0.5),
        (r"\bboolean\b", 1),
        (r"\.length\(\)", 1),
        (r"\bStringBuilder\b", 2),
        (r"\bOptional<", 2),
        (r"\.stream\(\)", 2),
        (r"\bpackage [\w.]+;", 3),
        (r"\bchar\b", 0.3),
        (r"\.(charAt|add|get|put|contains|containsKey|isEmpty|toCharArray)\(", 1.5),
        (r"\bfor \((int|double|long|String|char|Integer) \w+ : ", 1.5),
        (r"\bString\b", 1),
        (r"\bMath\.\w+\(", 0.5),
    ],
    "go": [
        (r"^\s*package \w+\s*$", 4),
        (r"\bfunc (\(\w+ \*?\w+\) )?\w+\(", 4),
        (r":=", 2),
        (r"\bfmt\.\w+\(", 3),
        (r"^\s*import \(", 3),
        (r"\bfunc\b", 1),
        (r"\[\](int|string|float64|byte|rune|bool|\w+)\b", 2),
        (r"\bmap\[\w+\]", 2),
        (r"\bmake\(", 2),
        (r"\brange \w+", 1.5),
        (r"\bnil\b", 1),
        (r"\bfor \w+(, \w+)? :=", 2),
        (r"\b(int64|float64|uint8|int32|rune)\b", 1.5),
        (r"\bappend\(", 1),
        (r"\bstrings\.\w+\(|\bstrconv\.\w+\(", 2),
        (r"\berr != nil\b", 3),
        (r"\bvar \w+ \w+", 1),
        (r"\b(if|for) [^(\n][^\n]*\{\s*$", 1),
        (r"\bgo func\b|\bchan\b|\bdefer\b", 2),
        (r"^\s*type \w+ struct\b", 3),
    ],
    "cpp": [
        (r"^\s*#include\s*[<\"]", 3),
        (r"\bstd::", 3),
        (r"\busing namespace std\b", 4),
        (r"\bcout\s*<<|\bcin\s*>>", 3),
        (r"\bvector<", 2.5),
        (r"\b(int|void|bool|float|double|string|auto|long)\s+\w+\s*\([^)]*\)\s*\{", 1.5),
        (r"\btemplate\s*<", 3),
        (r"\bprintf\(", 1),
        (r"->", 0.3),
        (r"\bnullptr\b", 3),
        (r"::", 0.5),
        (r"\b(unordered_map|unordered_set|map|set|pair|string)<", 2),
        (r"\bconst \w+&", 2),
        (r"\bendl\b", 2),
        (r"\bint main\s*\(", 2),
        (r"\b(struct|class) \w+\s*\{", 0.5),
        (r"\bpublic:|\bprivate:|\bprotected:", 3),
        (r"\bdelete\b|\bnew \w+\[", 1),
        (r"\bsizeof\(", 1),
        (r"\b(size_t|uint\d+_t|int\d+_t)\b", 1),
        (r"\w+\s*&\s*\w+\s*[,)]", 0.5),
        (r"\.size\(\)|\.push_back\(|\.begin\(\)|\.end\(\)", 1.5),
        (r"\bconst char\s*\*", 1),
        (r"\bstring \w+", 2),
        (r"\.(substr|rbegin|rend|find|erase|insert|back|front|pop_back)\(", 1.5),
        (r"\babs\(", 0.5),
        (r"\bfor \(auto\b|\bauto \w+ =", 2),
        (r"\b(int|float|double|char|bool) \w+(\[\w*\])?(,\s*\w+)*;", 1),
    ],
    "rust": [
        (r"\bfn \w+\s*(<[^>]*>)?\s*\(", 4),
        (r"\blet (mut )?\w+", 2),
        (r"\bmut\b", 1),
        (r"\bimpl\b", 2.5),
        (r"\bprintln!\(|\bvec!\[|\bformat!\(|\bpanic!\(|\bassert_eq!\(", 3),
        (r"\buse std::", 3),
        (r"\b(i32|i64|u32|u64|usize|isize|f32|f64|u8)\b", 2),
        (r"&str\b|\bString::", 2),
        (r"\bVec<", 2.5),
        (r"\bOption<|\bSome\(|\bNone\b|\bResult<|\bOk\(|\bErr\(", 1.5),
        (r"\bmatch \w+.*\{", 1.5),
        (r"=>", 0.3),
        (r"\bpub (fn|struct|enum)\b", 2),
        (r"\.unwrap\(\)|\.iter\(\)|\.collect::<|\.collect\(\)", 2),
        (r"->", 0.3),
        (r"&mut\b|&self\b", 2.5),
        (r"\bstruct \w+\s*\{", 0.5),
        (r"\benum \w+\s*\{", 0.5),
        (r"::new\(", 1),
        (r"\bloop \{|\bfor \w+ in \w+", 0.5),
        (r"\w+\.\.=?\w+", 1),
        (r"#\[derive\(", 3),
        (r"\b(if|while) [^(\n][^\n]*\{\s*$", 1),
        (r"\bas (usize|i32|i64|u32|u64|f32|f64|u8|char)\b", 2),
    ],
}


def _required_literal(pattern: str) -> str | None:
    """The longest literal run every match of `pattern` must contain (None if unknown): a cheap
    substring test that skips most regex scans."""
    try:
        import re._parser as sre  # type: ignore[import-not-found]  # private module, not in typeshed
    except ImportError:  # Python 3.10
        import sre_parse as sre
    try:
        parsed = sre.parse(pattern)
    except Exception:  # noqa: BLE001 - any pattern the parser refuses simply has no literal to use
        return None
    best, run = "", ""
    for op, av in parsed:
        if str(op) == "LITERAL":
            run += chr(av)
            best = max(best, run, key=len)
        elif str(op) == "AT":
            continue
        else:
            run = ""
    return best or None


_COMPILED = {
    lang: [(re.compile(p, re.M), w, _required_literal(p)) for p, w in feats] for lang, feats in _FEATURES.items()
}

# Non-contest languages that are easily confused with a contest one: (name, pattern, decisive).
# A decisive pattern is proof on its own; a weak one wins only over weak contest evidence.
_OTHER = [
    ("c", re.compile(r"^\s*#include\s*<(stdio|stdlib|string|math)\.h>", re.M), False),
    (
        "typescript",
        re.compile(r"\b(interface \w+\s*\{|: (string|number|boolean)\b[;,)=]|\w+: \w+\[\]\)?\s*[:{=])"),
        False,
    ),
    (
        "csharp",
        re.compile(
            r"\busing System\b|\bConsole\.Write(Line)?\(|\bpublic (static )?string\b|\bstring\[\] \w+|\.Length\b"
        ),
        True,
    ),
    (
        "swift",
        re.compile(
            r"\bfunc \w+\([^)]*\w+: *\[?[A-Z]\w*|\bvar \w+: [A-Z]\w*\s*=|\bimport (UIKit|Foundation|SwiftUI)\b|\.\.<"
        ),
        True,
    ),
    ("kotlin", re.compile(r"\bfun \w+\(|\bprintln\(\$"), True),
    ("php", re.compile(r"<\?php|^\s*\$\w+\s*=", re.M), True),
    ("sql", re.compile(r"^\s*(SELECT|INSERT INTO|UPDATE|CREATE TABLE|DELETE FROM)\b", re.M | re.I), False),
    ("html", re.compile(r"^\s*<(!DOCTYPE|html|div|head|body|p|span|ul|li|table|form)\b", re.M | re.I), False),
    ("bash", re.compile(r"^\s*(\$ |sudo |apt(-get)? |pip install |npm install |echo |cd |ls\b)", re.M), False),
    ("ruby", re.compile(r"^\s*(def \w+[^:(]*$|end$|puts )", re.M), False),
]

# Matched against the lower-cased prompt.
_PROMPT_NAMES = {
    "python": re.compile(r"\bpython\b"),
    "javascript": re.compile(r"\b(javascript|node\.?js|js)\b"),
    "java": re.compile(r"\bjava\b(?!script)"),
    "go": re.compile(r"\b(golang|go (function|program|code))\b|\bin go\b"),
    "cpp": re.compile(r"c\+\+|\bcpp\b"),
    "rust": re.compile(r"\brust\b"),
}

MIN_SCORE = 3.0  # below this, a bare text is not taken for code
CLASSIFY_CHARS = 3000  # evidence from the start of long code is enough
CODE_LINE = re.compile(
    r"[;{}():=\[\]]\s*$|^\s{2,}\S|^\s*(def|class|return|if|for|while|import|#include|fn|func|let|const|var|public|package)\b"
)


def fence_language(info: str) -> str | None:
    """Contest language (or 'other:<name>') of a fence info string; None when it is empty."""
    word = info.strip().lower().lstrip("{.").split()[0] if info.strip() else ""
    word = word.split(",")[0].rstrip("}")
    if not word:
        return None
    return FENCE_ALIASES.get(word, f"other:{word}")


def scores(code: str) -> dict[str, float]:
    if len(code) > CLASSIFY_CHARS:
        cut = code.rfind("\n", 0, CLASSIFY_CHARS)
        code = code[: cut if cut > 0 else CLASSIFY_CHARS]
    out = {}
    for lang, feats in _COMPILED.items():
        s = 0.0
        for rx, w, lit in feats:
            if lit is not None and lit not in code:
                continue
            n = len(rx.findall(code))
            if n:
                s += w * min(n, 3) ** 0.5  # repeated evidence counts, with diminishing returns
        out[lang] = s
    # Decisive exclusions between close relatives.
    if re.search(r"^\s*(def|class) .*:\s*$", code, re.M) and not re.search(r"[{};]\s*$", code, re.M):
        for lang in ("javascript", "java", "cpp", "rust", "go"):
            out[lang] *= 0.3
    if re.search(r"^\s*#include\b", code, re.M):
        for lang in ("python", "javascript", "java", "go", "rust"):
            out[lang] *= 0.3
    if re.search(r"\b(if|while|for) \(", code):  # parenthesised conditions: not Rust, not Go
        out["rust"] *= 0.5
        out["go"] *= 0.5
    if re.search(r"^\s*\}\s*$", code, re.M) or re.search(r";\s*$", code, re.M):  # braces/semicolons: not Python
        out["python"] *= 0.5
    if re.search(r"\bfn \w+", code) and re.search(r"\blet\b|->|::", code):
        out["javascript"] *= 0.5
        out["cpp"] *= 0.6
    return out


def classify(code: str, *, hint: str | None = None) -> str | None:
    """Contest language of bare code, 'other:<name>' for a recognised other language, or None."""
    if not code.strip():
        return None
    sc = scores(code)
    if hint in sc:
        sc[hint] += 2.0
    best = max(sc, key=lambda k: sc[k])
    top = sc[best]
    for name, rx, decisive in _OTHER:
        if rx.search(code):
            if name == "c":
                if not re.search(r"\bstd::|\bvector<|\bcout\b|\bclass\b|\btemplate\b|\bnamespace\b|\bbool\b", code):
                    return "other:c"
            elif name == "typescript":
                if best == "javascript":
                    return "other:typescript"
            elif decisive or top < 6:
                return f"other:{name}"
    if top < MIN_SCORE:
        return None
    return best


def looks_like_code(text: str) -> bool:
    """Whether an unfenced text is (mostly) code rather than prose."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        return False
    codeish = sum(1 for ln in lines if CODE_LINE.search(ln))
    words = len(re.findall(r"[A-Za-z]{2,}", text))
    sentences = len(re.findall(r"[a-z]{2,}[.!?](\s|$)", text))
    return codeish / len(lines) >= 0.5 and sentences <= max(1, len(lines) // 4) and words > 0


def prompt_hint(prompt: str) -> str | None:
    """The one contest language a prompt names, if it names exactly one."""
    low = prompt.lower()
    named = [lang for lang, rx in _PROMPT_NAMES.items() if rx.search(low)]
    return named[0] if len(named) == 1 else None


@dataclass
class TaggedBlock:
    block: Block
    language: str | None  # contest language, 'other:<name>' or None (not recognised)


def code_blocks(text: str, *, hint: Any = None, bare: bool = True) -> list[TaggedBlock]:
    """Tagged code of one message: its fenced blocks, or the whole text when it is bare code.
    `hint` is a language, or a callable giving it (computed only when some code is unlabelled)."""
    hint_of = hint if callable(hint) else (lambda: hint)
    blocks = fenced_blocks(text)
    if blocks:
        out = []
        for b in blocks:
            lang = fence_language(b.info)
            out.append(TaggedBlock(b, lang if lang is not None else classify(b.code, hint=hint_of())))
        return out
    if bare and looks_like_code(text):
        lang = classify(text, hint=hint_of())
        if lang is not None:
            return [TaggedBlock(Block("", text, 0, len(text), fenced=False), lang)]
    return []


def tag_rounds(rounds: list[dict[str, str]]) -> list[list[TaggedBlock]]:
    """Tagged code blocks of each turn (bare code counts only in answers)."""
    memo: list[str | None] = []

    def hint() -> str | None:
        if not memo:
            memo.append(prompt_hint(" ".join(r["content"] for r in rounds if r["role"] == "human")))
        return memo[0]

    return [code_blocks(r["content"], hint=hint, bare=r["role"] == "bot") for r in rounds]


def record_languages(
    rounds: list[dict[str, str]], tagged: list[list[TaggedBlock]] | None = None
) -> tuple[list[str], list[str]]:
    """(contest languages, other languages) of a conversation's code: answers first, then prompts."""
    tagged = tagged if tagged is not None else tag_rounds(rounds)
    order = [i for i, r in enumerate(rounds) if r["role"] == "bot"] + [
        i for i, r in enumerate(rounds) if r["role"] != "bot"
    ]
    contest: list[str] = []
    other: list[str] = []
    for i in order:
        for tb in tagged[i]:
            lang = tb.language
            if lang is None:
                continue
            if lang in LANGUAGES:
                if lang not in contest:
                    contest.append(lang)
            elif lang[6:] not in other:
                other.append(lang[6:])
    return contest, other
