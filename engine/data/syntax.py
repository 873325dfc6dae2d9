"""Syntax checks of code blocks with a real parser per language: Python's own `ast`, and the
maintained tree-sitter grammars (PyPI wheels tree-sitter-{javascript,java,go,cpp,rust}) for the
others.

Answers often hold fragments rather than whole files (a method without its class, statements
without a function), so a block also passes when it parses inside the smallest wrapper its
language needs. Doctest/REPL Python (`>>> `) is checked on its input lines.
"""

from __future__ import annotations

import ast
import threading
import warnings
from typing import Any

_GRAMMARS = {
    "javascript": "tree_sitter_javascript",
    "java": "tree_sitter_java",
    "go": "tree_sitter_go",
    "cpp": "tree_sitter_cpp",
    "rust": "tree_sitter_rust",
}

# How to wrap a fragment so it becomes a whole program, tried in order after the bare block.
_WRAPS: dict[str, list[tuple[str, str]]] = {
    "javascript": [("async function __w() {\n", "\n}"), ("class __W {\n", "\n}")],
    "java": [("class __W {\n", "\n}"), ("class __W { void __m() throws Exception {\n", "\n}}")],
    "go": [("package main\n", ""), ("package main\nfunc __w() {\n", "\n}")],
    "cpp": [("void __w() {\n", "\n}"), ("struct __W {\n", "\n};")],
    "rust": [("fn __w() {\n", "\n}"), ("impl __W {\n", "\n}")],
}
MAX_CHECK_CHARS = 400_000

_local = threading.local()


def _parser(lang: str) -> Any:
    """A tree-sitter parser per language and thread (parsers are not thread-safe)."""
    cache = getattr(_local, "parsers", None)
    if cache is None:
        cache = _local.parsers = {}
    p = cache.get(lang)
    if p is None:
        import importlib

        import tree_sitter

        mod = importlib.import_module(_GRAMMARS[lang])
        p = cache[lang] = tree_sitter.Parser(tree_sitter.Language(mod.language()))
    return p


def parser(lang: str) -> Any:
    """A tree-sitter parser for `lang` (one per thread: parsers are not thread-safe); raises
    when its grammar is not installed. For other modules that read syntax trees
    (engine.execute.langs.admit)."""
    return _parser(lang)


def available() -> dict[str, bool]:
    out = {"python": True}
    for lang in _GRAMMARS:
        try:
            _parser(lang)
            out[lang] = True
        except Exception:  # noqa: BLE001 - a grammar that cannot load, for whatever reason, is unavailable
            out[lang] = False
    return out


def _python_error(code: str) -> str | None:
    lines = code.splitlines()
    if lines and lines[0].lstrip().startswith(">>>"):  # doctest/REPL: check what was typed
        code = "\n".join(ln.lstrip()[4:] for ln in lines if ln.lstrip().startswith((">>>", "...")))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences etc. are not syntax errors
            ast.parse(code)
        return None
    except SyntaxError as e:
        return f"line {e.lineno}: {e.msg}"
    except (ValueError, MemoryError, RecursionError) as e:
        return str(e)


def _first_error(node: Any) -> Any:
    stack = [node]
    while stack:
        n = stack.pop()
        if n.is_error or n.is_missing:
            return n
        stack.extend(c for c in reversed(n.children) if c.has_error or c.is_missing)
    return None


def _ts_error(lang: str, code: str) -> str | None:
    parser = _parser(lang)
    data = code.encode("utf-8", errors="surrogatepass")
    tree = parser.parse(data)
    if not tree.root_node.has_error:
        return None
    bad = _first_error(tree.root_node)
    for pre, post in _WRAPS.get(lang, []):
        if not parser.parse((pre + code + post).encode("utf-8", errors="surrogatepass")).root_node.has_error:
            return None
    if bad is None:
        return "syntax error"
    kind = f"missing {bad.type}" if bad.is_missing else "unexpected input"
    return f"line {bad.start_point[0] + 1}: {kind}"


def syntax_error(lang: str, code: str) -> str | None:
    """None when `code` parses as `lang` (or the language has no parser); a short reason otherwise."""
    if not code.strip() or len(code) > MAX_CHECK_CHARS:
        return None
    if lang == "python":
        return _python_error(code)
    if lang in _GRAMMARS:
        return _ts_error(lang, code)
    return None
