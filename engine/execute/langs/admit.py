"""Which programs may share a compile-only batch: rules read from a real syntax tree.

A batch is compiled once and linked one program per binary (C++, Rust), with the linker keeping
only what the program's own entry point reaches (`--gc-sections`). That is sound only when
nothing of a program runs, or takes memory, without being called: no object with static storage
duration (its constructor, destructor or bytes would land in every binary: a translation unit's
dynamic initialisers share one `.init_array` entry), nothing the linker must keep on its own
(`#[used]`, attributes, sections, `asm`), nothing that names another program's symbols (linkage
specifications, `extern` blocks, `no_mangle`), no preprocessor or macro that could reach past the
program's own namespace or module. The rules are allowlists over the tree-sitter parse; anything
else, and any parse with ERROR or MISSING nodes, means "build alone" (exactly as the reference
does). docs/executor.md ("Isolation") states them per language and why they are sound.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from engine.data.syntax import parser

Node = Any  # tree_sitter.Node


def parse(lang: str, text: str) -> Node | None:
    """The root of a clean parse, or None when the parse has errors (or the grammar is missing)."""
    try:  # (a last line without its newline is an error to tree-sitter's preprocessor rules)
        tree = parser(lang).parse(text.encode("utf-8", "surrogatepass") + b"\n")
    except Exception:  # noqa: BLE001 - no grammar, or text it cannot take: the program runs alone
        return None
    root = tree.root_node
    return None if root.has_error else root


def walk(node: Node) -> Iterator[Node]:
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(n.children))


def text_of(node: Node) -> str:
    return node.text.decode("utf-8", "surrogatepass")


# ----------------------------------------------------------------------------------------------
# C++

# Headers a batched program may include: the C and C++ standard libraries, boost, OpenSSL. They
# all have include guards, so including one twice is a no-op (what lets a group share one
# preamble); <assert.h>/<cassert> are the exception and are kept in place.
CPP_STD_HEADERS = frozenset(
    {
        "algorithm",
        "any",
        "array",
        "atomic",
        "bitset",
        "cassert",
        "ccomplex",
        "cctype",
        "cerrno",
        "cfenv",
        "cfloat",
        "chrono",
        "cinttypes",
        "ciso646",
        "climits",
        "clocale",
        "cmath",
        "codecvt",
        "complex",
        "condition_variable",
        "csetjmp",
        "csignal",
        "cstdarg",
        "cstdbool",
        "cstddef",
        "cstdint",
        "cstdio",
        "cstdlib",
        "cstring",
        "ctgmath",
        "ctime",
        "cuchar",
        "cwchar",
        "cwctype",
        "deque",
        "exception",
        "forward_list",
        "fstream",
        "functional",
        "future",
        "initializer_list",
        "iomanip",
        "ios",
        "iosfwd",
        "iostream",
        "istream",
        "iterator",
        "limits",
        "list",
        "locale",
        "map",
        "memory",
        "mutex",
        "new",
        "numeric",
        "optional",
        "ostream",
        "queue",
        "random",
        "ratio",
        "regex",
        "scoped_allocator",
        "set",
        "shared_mutex",
        "sstream",
        "stack",
        "stdexcept",
        "streambuf",
        "string",
        "string_view",
        "system_error",
        "thread",
        "tuple",
        "type_traits",
        "typeindex",
        "typeinfo",
        "unordered_map",
        "unordered_set",
        "utility",
        "valarray",
        "variant",
        "vector",
        "bits/stdc++.h",
        "assert.h",
        "complex.h",
        "ctype.h",
        "errno.h",
        "fenv.h",
        "float.h",
        "inttypes.h",
        "iso646.h",
        "limits.h",
        "locale.h",
        "math.h",
        "setjmp.h",
        "signal.h",
        "stdarg.h",
        "stdbool.h",
        "stddef.h",
        "stdint.h",
        "stdio.h",
        "stdlib.h",
        "string.h",
        "tgmath.h",
        "time.h",
        "uchar.h",
        "wchar.h",
        "wctype.h",
    }
)
_UNGUARDED = frozenset({"assert.h", "cassert"})
# Names the preprocessor or compiler expands differently inside a batch (line numbers, file
# names, the enclosing namespace), and the harness's reserved prefix.
_CPP_BATCH_SENSITIVE = frozenset(
    {
        "__LINE__",
        "__FILE__",
        "__COUNTER__",
        "__BASE_FILE__",
        "__FILE_NAME__",
        "__INCLUDE_LEVEL__",
        "__PRETTY_FUNCTION__",
        "__DATE__",
        "__TIME__",
        "__TIMESTAMP__",
        "_Pragma",
        "__pragma",
        "asm",
        "__asm",
        "__asm__",
    }
)
_CPP_IDENTS = frozenset({"identifier", "type_identifier", "field_identifier", "namespace_identifier"})
_CPP_NAMESPACE_ITEMS = frozenset(
    {
        "comment",
        ";",
        "function_definition",
        "declaration",
        "template_declaration",
        "struct_specifier",
        "class_specifier",
        "union_specifier",
        "enum_specifier",
        "namespace_definition",
        "namespace_alias_definition",
        "using_declaration",
        "alias_declaration",
        "type_definition",
        "static_assert_declaration",
    }
)
_CPP_TEMPLATED = frozenset(
    {
        "function_definition",
        "declaration",
        "struct_specifier",
        "class_specifier",
        "union_specifier",
        "alias_declaration",
        "template_declaration",
    }
)
_CPP_LITERAL_EXPR = frozenset(
    {
        "number_literal",
        "char_literal",
        "true",
        "false",
        "unary_expression",
        "binary_expression",
        "parenthesized_expression",
    }
)
_CPP_ARITH_TYPES = frozenset({"primitive_type", "sized_type_specifier"})


@dataclass(frozen=True)
class CppParts:
    """A C++ program split for a batch: `key` (its preamble, normalised) decides its group; the
    bodies are what goes inside the program's namespace."""

    key: tuple[tuple[str, ...], tuple[str, ...]]
    code_body: str
    test_body: str
    needs_openssl: bool


def _cpp_directive(node: Node) -> str | None:
    """A preamble line in normal form, or None when the node does not belong to a preamble."""
    if node.type == "preproc_include":
        path = node.child_by_field_name("path")
        if path is None or path.type != "system_lib_string":
            return None  # "file.h" searches the build folder first
        name = text_of(path)[1:-1].strip()
        ok = name in CPP_STD_HEADERS or (name.startswith(("boost/", "openssl/")) and ".." not in name)
        return f"#include <{name}>" if ok else None
    if node.type == "preproc_call":
        line = " ".join(text_of(node).split())
        return line if line in ("#undef NDEBUG", "#pragma once") else None
    if node.type == "using_declaration" and " ".join(text_of(node).split()) == "using namespace std;":
        return "using namespace std;"
    return None


def _cpp_split(root: Node) -> tuple[tuple[str, ...], list[Node]]:
    """(normalised preamble, the items after it): the preamble is the leading run of comments,
    allowed `#include`s, `#undef NDEBUG`, `#pragma once` and `using namespace std;`."""
    lines: list[str] = []
    items = [c for c in root.children if c.type != "comment"]
    for k, child in enumerate(items):
        d = _cpp_directive(child)
        if d is None:
            return tuple(lines), items[k:]
        header = d[len("#include <") : -1] if d.startswith("#include") else ""
        if d not in lines or header in _UNGUARDED or d == "#undef NDEBUG":
            lines.append(d)  # a guarded header or `using` twice is a no-op
    return tuple(lines), []


def _cpp_is_function_decl(decl: Node) -> bool:
    """Does a (field_)declaration declare only functions (no object)?"""
    declarators = decl.children_by_field_name("declarator")
    if not declarators:
        return False
    for d in declarators:
        while d is not None and d.type in ("pointer_declarator", "reference_declarator"):
            d = d.child_by_field_name("declarator")
        if d is None or d.type != "function_declarator":
            return False
        inner = d.child_by_field_name("declarator")
        if inner is None or inner.type == "parenthesized_declarator":  # a pointer to a function
            return False
    return True


def _cpp_literal_constant(decl: Node) -> bool:
    """`const int N = 100;` / `constexpr double EPS = 1e-9;`: no code runs, nothing to destroy."""
    quals = {text_of(c) for c in decl.children if c.type == "type_qualifier"}
    typ = decl.child_by_field_name("type")
    if not quals & {"const", "constexpr"} or typ is None or typ.type not in _CPP_ARITH_TYPES:
        return False
    for d in decl.children_by_field_name("declarator"):
        if d.type != "init_declarator":
            return False
        name, value = d.child_by_field_name("declarator"), d.child_by_field_name("value")
        if name is None or name.type != "identifier" or value is None:
            return False
        if any(n.is_named and n.type not in _CPP_LITERAL_EXPR for n in walk(value)):
            return False
    return True


def _cpp_static_ok(spec: Node) -> bool:
    """`static` on a function is fine; on an object (local static, static data member) it is not."""
    parent = spec.parent
    if parent is None:
        return False
    if parent.type == "function_definition":
        return True
    return parent.type in ("declaration", "field_declaration") and _cpp_is_function_decl(parent)


def _cpp_node_ok(n: Node, *, in_test: bool) -> bool:
    """Rules that hold everywhere in a batched program (function bodies and classes included);
    the `__wb` prefix is the harness's, which only the (instrumented) test may use."""
    t = n.type
    if t.startswith("preproc_") or t in (
        "attribute_specifier",
        "attribute_declaration",
        "ms_declspec_modifier",
        "linkage_specification",
        "gnu_asm_expression",
        "asm_declaration",
        "template_instantiation",
    ):
        return False
    if t == "storage_class_specifier":
        word = text_of(n)
        return word == "inline" or (word == "static" and _cpp_static_ok(n))
    if t in _CPP_IDENTS or t == "asm":
        word = text_of(n)
        return word not in _CPP_BATCH_SENSITIVE and (in_test or not word.startswith("__wb"))
    if t == "field_declaration":
        is_static = any(c.type == "storage_class_specifier" and text_of(c) == "static" for c in n.children)
        return not is_static or _cpp_is_function_decl(n)
    return True


def _cpp_namespace_ok(items: list[Node]) -> bool:
    """Namespace scope: definitions of functions, types, namespaces, aliases and literal
    constants only; every object there has static storage duration."""
    for item in items:
        t = item.type
        if t not in _CPP_NAMESPACE_ITEMS:
            return False
        if t == "declaration" and not (_cpp_is_function_decl(item) or _cpp_literal_constant(item)):
            return False
        if t == "template_declaration":
            inner = [c for c in item.children if c.is_named and c.type != "template_parameter_list"]
            if not inner or any(c.type not in _CPP_TEMPLATED for c in inner):
                return False
            if any(c.type == "declaration" and not _cpp_is_function_decl(c) for c in inner):
                return False  # a variable template
        if t == "namespace_definition":
            name = item.child_by_field_name("name")
            if name is not None and (text_of(name) == "std" or text_of(name).startswith("__")):
                return False
            body = item.child_by_field_name("body")
            if body is None or not _cpp_namespace_ok([c for c in body.children if c.type not in ("{", "}")]):
                return False
    return True


def cpp_parts(code: str, test: str) -> CppParts | None:
    """The batch form of a C++ program, or None when it must be built alone."""
    halves = []
    for text, in_test in ((code, False), (test, True)):
        root = parse("cpp", text)
        if root is None:
            return None
        preamble, items = _cpp_split(root)
        if not _cpp_namespace_ok(items) or not all(
            _cpp_node_ok(n, in_test=in_test) for item in items for n in walk(item)
        ):
            return None
        data = text.encode("utf-8", "surrogatepass")
        body = data[items[0].start_byte :].decode("utf-8", "surrogatepass") if items else ""
        halves.append((preamble, body))
    (code_pre, code_body), (test_pre, test_body) = halves
    ssl = any(d.startswith("#include <openssl/") for d in code_pre + test_pre)
    return CppParts((code_pre, test_pre), code_body, test_body, ssl)


# ----------------------------------------------------------------------------------------------
# Rust

_RUST_ITEMS = frozenset(
    {
        "function_item",
        "struct_item",
        "enum_item",
        "union_item",
        "trait_item",
        "impl_item",
        "type_item",
        "const_item",
        "use_declaration",
        "mod_item",
        "attribute_item",
        "extern_crate_declaration",
        "line_comment",
        "block_comment",
        "empty_statement",
    }
)
_RUST_CRATES = frozenset({"std", "core", "alloc", "rand", "regex", "md5"})
_RUST_ATTRS = frozenset(
    {
        "derive",
        "allow",
        "warn",
        "deny",
        "forbid",
        "expect",
        "inline",
        "cold",
        "must_use",
        "doc",
        "cfg",
        "deprecated",
        "non_exhaustive",
        "repr",
        "track_caller",
        "automatically_derived",
    }
)
_RUST_TOOL_ATTRS = ("rustfmt::", "clippy::")
# Expression macros of the standard library; their token trees are checked token by token.
# (line!/file!/column!/module_path! are left out: they expand differently inside a batch.)
RUST_MACROS = frozenset(
    {
        "println",
        "print",
        "eprintln",
        "eprint",
        "format",
        "format_args",
        "write",
        "writeln",
        "vec",
        "assert",
        "assert_eq",
        "assert_ne",
        "debug_assert",
        "debug_assert_eq",
        "debug_assert_ne",
        "panic",
        "unreachable",
        "unimplemented",
        "todo",
        "matches",
        "dbg",
        "stringify",
        "concat",
        "cfg",
    }
)
# Tokens that introduce what the rules forbid: statics, attributes, extern items, modules, macros.
_RUST_TREE_TOKENS = frozenset({"#", "static", "extern", "mod", "macro_rules!", "macro_rules"})


def _rust_attr_ok(item: Node, *, in_test: bool) -> bool:
    attr = next((c for c in item.children if c.type == "attribute"), None)
    if attr is None:
        return False
    path = text_of(attr.children[0]) if attr.children else ""
    if path.startswith(_RUST_TOOL_ATTRS):
        return True
    if path == "test":
        return in_test and len(attr.children) == 1
    return path in _RUST_ATTRS and not any(n.type == "macro_invocation" for n in walk(attr))


def _rust_token_tree_ok(tree: Node) -> bool:
    """Inside a macro's tokens no static, attribute, extern, module or macro definition may
    appear, and nested macros must be allowlisted too (`'static` is a lifetime, not the token)."""
    kids = [c for c in walk(tree) if c is not tree]
    for i, c in enumerate(kids):
        if c.type == "lifetime":
            continue
        if not c.is_named and c.type in _RUST_TREE_TOKENS and (c.parent is None or c.parent.type != "lifetime"):
            return False
        if c.type == "identifier" and text_of(c).startswith("__wb"):
            return False
        if (
            not c.is_named
            and c.type == "!"
            and i > 0
            and kids[i - 1].type == "identifier"
            and text_of(kids[i - 1]) not in RUST_MACROS
        ):
            return False
    return True


def _rust_node_ok(n: Node, *, in_test: bool) -> bool:
    t = n.type
    if t in ("static_item", "foreign_mod_item", "macro_definition", "inner_attribute_item", "extern_modifier"):
        return False
    if t == "attribute_item":
        return _rust_attr_ok(n, in_test=in_test)
    if t == "macro_invocation":
        name = n.child_by_field_name("macro")
        if name is None or name.type != "identifier":
            return False
        word = text_of(name)
        if in_test and word.startswith("__wb_assert"):
            return True  # the harness's own macros (instrumented tests)
        tree = next((c for c in n.children if c.type == "token_tree"), None)
        return word in RUST_MACROS and (tree is None or _rust_token_tree_ok(tree))
    if t == "mod_item" and n.child_by_field_name("body") is None:
        return False  # `mod x;` reads another file
    if t == "extern_crate_declaration":
        name = n.child_by_field_name("name")
        return name is not None and text_of(name) in _RUST_CRATES
    return not (t == "identifier" and not in_test and text_of(n).startswith("__wb"))


def _rust_items_ok(items: list[Node], *, in_test: bool) -> bool:
    for item in items:
        if item.type not in _RUST_ITEMS:
            return False
        if item.type == "mod_item":
            body = item.child_by_field_name("body")
            if body is None or not _rust_items_ok(
                [c for c in body.children if c.type not in ("{", "}")], in_test=in_test
            ):
                return False
    return True


@dataclass(frozen=True)
class RustTest:
    """A `#[test]` function of the test part: its path inside the program's module."""

    path: str


def rust_admissible(code: str, test: str) -> bool:
    """May this Rust program be compiled into a batch crate as a module?"""
    for text, in_test in ((code, False), (test, True)):
        root = parse("rust", text)
        if root is None or not _rust_items_ok(list(root.children), in_test=in_test):
            return False
        if not all(_rust_node_ok(n, in_test=in_test) for n in walk(root)):
            return False
    return bool(rust_tests(test))


def rust_tests(test: str) -> list[RustTest]:
    """`#[test] fn name()` of a test part (top level or in inline modules), in source order; empty
    when one takes arguments, returns a value or carries other attributes (`should_panic`,
    `ignore`): those run under libtest, alone."""
    root = parse("rust", test)
    if root is None:
        return []
    out: list[RustTest] = []

    def visit(items: list[Node], prefix: str) -> bool:
        pending_test = False
        for item in items:
            if item.type == "attribute_item":
                attr = next((c for c in item.children if c.type == "attribute"), None)
                name = text_of(attr) if attr is not None else ""
                if name == "test":
                    pending_test = True
                elif pending_test or name in ("should_panic", "ignore") or name.startswith(("should_panic", "ignore")):
                    return False
                continue
            if item.type in ("line_comment", "block_comment"):
                continue
            if pending_test:
                params = item.child_by_field_name("parameters")
                if (
                    item.type != "function_item"
                    or item.child_by_field_name("return_type") is not None
                    or params is None
                    or any(c.is_named for c in params.children)
                ):
                    return False
                out.append(RustTest(prefix + text_of(item.child_by_field_name("name"))))
                pending_test = False
            elif item.type == "mod_item" and item.child_by_field_name("body") is not None:
                body = item.child_by_field_name("body")
                name = text_of(item.child_by_field_name("name"))
                if not visit([c for c in body.children if c.type not in ("{", "}")], prefix + name + "::"):
                    return False
        return not pending_test

    return out if visit(list(root.children), "") else []


# ----------------------------------------------------------------------------------------------
# Java


def java_admissible(text: str) -> bool:
    """A Java program can share a `javac` run (in a package of its own) when it parses and
    declares no package or module of its own: javac runs no program code at compile time
    (annotation processing is off), so programs meet only through names, and each program's
    package name is unguessable."""
    root = parse("java", text)
    if root is None:
        return False
    kinds = {c.type for c in root.children}
    if kinds & {"package_declaration", "module_declaration"}:
        return False
    return any(
        c.type == "class_declaration" and text_of(c.child_by_field_name("name")) == "Main"
        for c in root.children
        if c.child_by_field_name("name") is not None
    )
