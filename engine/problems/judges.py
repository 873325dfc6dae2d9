"""Output comparison of stdin/stdout problems, exactly as each set's own judge compares
(docs/problems.md). Pure functions on text: the program runs in the sandbox, its captured stdout
is compared here.

    lcb           LiveCodeBench `grade_stdio`: strip the whole output, split it into lines, strip
                  each line; the line counts must agree and each line be equal, or else equal as
                  whitespace-separated Decimals ("1.0" == "1", no tolerance)
    codecontests  CodeContests `OutputsMatch`: split on " \\n\\t\\r\\v", drop empty tokens,
                  lowercase; equal token lists match, else same length and every token pair equal
                  as text or, when both are numbers, within 1e-5 as doubles
    apps          APPS `testing_util.run_test`: a cascade of looser checks (stripped text, lines
                  with blanks dropped, all lines as floats within numpy's allclose, each line as
                  a set of tokens, the same with tokens rounded to 3 decimals)

Call-based problems (judge "call") compare return values inside the sandbox; their rules:

    lcb-call      a tuple result becomes a list, then `result == json.loads(expected)`
    apps-call     a tuple result becomes a list; `result == expected`, or `result == expected[0]`
                  (APPS wraps return values in a list), or its tuples as lists equal `expected[0]`
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

STDIO_RULES = ("lcb", "codecontests", "apps")
CALL_RULES = ("lcb-call", "apps-call")


def lcb(stdout: str, expected: str) -> bool:
    got, want = _stripped_lines(stdout), _stripped_lines(expected)
    if len(got) != len(want):
        return False
    for a, b in zip(got, want):
        if a == b:
            continue
        da, db = _decimals(a), _decimals(b)
        if da is None or db is None or da != db:
            return False
    return True


def _stripped_lines(text: str) -> list[str]:
    return [line.strip() for line in text.strip().split("\n")]


def _decimals(line: str) -> list[Decimal] | None:
    try:
        return [Decimal(tok) for tok in line.split()]
    except (InvalidOperation, ValueError):
        return None


_CC_SPLIT = re.compile(r"[ \n\t\r\v]+")
_INT32 = re.compile(r"[+-]?\d+")
_DOUBLE = re.compile(r"[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?|inf(inity)?|nan)", re.IGNORECASE)


def codecontests(stdout: str, expected: str) -> bool:
    got = [t.lower() for t in _CC_SPLIT.split(stdout) if t]
    want = [t.lower() for t in _CC_SPLIT.split(expected) if t]
    if got == want:
        return True
    return len(got) == len(want) and all(_cc_values_match(a, b) for a, b in zip(got, want))


def _cc_number(tok: str) -> float | None:
    """absl::SimpleAtoi (32-bit) or SimpleAtod accepts the token."""
    if _INT32.fullmatch(tok) and -(2**31) <= int(tok) < 2**31:
        return float(int(tok))
    if _DOUBLE.fullmatch(tok):
        return float(tok)
    return None


def _cc_values_match(a: str, b: str) -> bool:
    x, y = _cc_number(a), _cc_number(b)
    if x is None or y is None:
        return a == b
    return abs(x - y) < 1e-5  # every number is also a double: integers get the tolerance too


def apps(stdout: str, expected: str) -> bool:
    output = stdout.splitlines()  # APPS captures stdout as its lines
    if _same_stripped("\n".join(output), expected) or _same_stripped("\n".join(o.strip() for o in output), expected):
        return True
    if output == [expected]:
        return True
    want = [x.strip() for x in expected.split("\n") if x]
    if output == [want] or output == want:
        return True
    output = [o for o in output if o]
    if output == want or _all_close(output, want):
        return True
    want_sets = [set(w.split()) for w in want]
    got_sets = [set(words) for words in (o.split() for o in output) if words]
    if {frozenset(s) for s in got_sets} == {frozenset(s) for s in want_sets}:
        return True
    try:
        return {frozenset(round(float(t), 3) for t in s) for s in got_sets} == {
            frozenset(round(float(t), 3) for t in s) for s in want_sets
        }
    except ValueError:
        return False


def _same_stripped(a: str, b: str) -> bool:
    return a.strip() == b.strip()


def _all_close(got: list[str], want: list[str]) -> bool:
    """numpy.allclose(got, want) with its defaults (rtol 1e-05, atol 1e-08) on floats."""
    try:
        a, b = [float(x) for x in got], [float(x) for x in want]
    except ValueError:
        return False
    return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))


def _close(x: float, y: float) -> bool:
    if math.isnan(x) or math.isnan(y):
        return False
    return x == y or abs(x - y) <= 1e-08 + 1e-05 * abs(y)


RULES: dict[str, Callable[[str, str], bool]] = {"lcb": lcb, "codecontests": codecontests, "apps": apps}


def outputs_match(rule: str, stdout: str, expected: str) -> bool:
    """Does a program's stdout pass a case whose expected output is `expected`, under `rule`?"""
    return RULES[rule](stdout, expected)


def lcb_call(result: Any, expected: Any) -> bool:
    """LiveCodeBench `grade_call_based` on a return value (`expected` already JSON-decoded)."""
    if isinstance(result, tuple):
        result = list(result)
    return bool(result == expected)


def apps_call(result: Any, expected: Any) -> bool:
    """APPS `run_test` on a call-based return value (`expected` already JSON-decoded)."""
    if isinstance(result, tuple):
        result = list(result)
    ok = bool(result == expected)
    if isinstance(expected, list) and expected:
        ok = ok or bool(result == expected[0])
    try:
        if isinstance(result[0], tuple):
            ok = ok or [list(x) for x in result] == expected[0]
    except (TypeError, IndexError, KeyError):
        pass
    return ok
