"""evalplus HumanEval+ / MBPP+ (the release files HumanEvalPlus.jsonl.gz, MbppPlus.jsonl.gz):
rows with `base_input` / `plus_input` argument lists and an `atol`, judged the way
`evalplus.evaluate` judges them.

* expected outputs: the canonical solution (`prompt + canonical_solution`) run on a deep copy of
  every input, in the sandbox (engine.problems.oracle), cached by the file's content hash;
* MBPP+ inputs are deserialized per task id as `evalplus.data.mbpp.mbpp_deserialize_inputs`
  does (JSON has no tuples, sets or complex numbers);
* each input is one test case (base inputs first, then plus), compared as
  `evalplus.eval.unsafe_execute` compares: `out == exp`, the special oracles of a few tasks,
  and for floats `np.allclose(out, exp, rtol=1e-07, atol=atol)` (atol 1e-6 once a float output
  is seen when the task's atol is 0). `base_only` judges the base inputs alone.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any

from engine.errors import InputError
from engine.problems.fields import Where, source_of, task_id, text
from engine.problems.model import PlusInputs, Problem
from engine.problems.oracle import OracleGroup, encode

# evalplus.eval._special_oracle
MBPP_OUTPUT_NOT_NONE_TASKS = ("check_str", "text_match_three", "text_starta_endb")
MBPP_OUTPUT_SET_EQ_TASKS = (
    "similar_elements",
    "find_char_long",
    "common_in_nested_lists",
    "extract_singly",
    "larg_nnum",
    "intersection_array",
    "find_dissimilar",
    "Diff",
)
LABEL_CHARS = 120  # how much of a case's call a result line shows


def read_row(row: dict[str, Any], where: Where) -> Problem:
    tid = task_id(row, where=where)
    entry = text(row, "entry_point", where=where, required=True).strip()
    if not re.fullmatch(r"[A-Za-z_]\w*", entry):
        raise InputError(f"expected a function name, got {entry!r}", field="entry_point", **where)
    dataset = dataset_of(tid)
    base = _inputs(row, "base_input", tid, dataset, where)
    plus = _inputs(row, "plus_input", tid, dataset, where)
    if not base and not plus:
        raise InputError("no test inputs: base_input and plus_input are both empty", field="base_input", **where)
    atol = row.get("atol", 0) if row.get("atol") is not None else 0
    if isinstance(atol, bool) or not isinstance(atol, (int, float)) or not math.isfinite(atol) or atol < 0:
        raise InputError(f"expected a number >= 0, got {atol!r}", field="atol", **where)
    problem = Problem(
        task_id=tid,
        language="python",
        suite="evalplus",
        layout="evalplus",
        prompt=text(row, "prompt", where=where, required=True),
        entry_point=entry,
        canonical_solution=text(row, "canonical_solution", where=where, required=True),
        instruction=text(row, "instruction", where=where),
        solution_kind="completion",
        raw=row,
        plus=PlusInputs(dataset, base, plus, float(atol)),
        **source_of(where),
    )
    # a row read on its own is a group of one; load_file groups a file's rows by its content hash
    return with_group([problem], OracleGroup.for_rows([row]))[0]


def dataset_of(tid: str) -> str:
    """Which evalplus dataset a task id belongs to (decides the special oracles)."""
    head = tid.split("/", 1)[0].lower()
    return {"humaneval": "humaneval", "mbpp": "mbpp"}.get(head, "")


def _inputs(row: dict[str, Any], key: str, tid: str, dataset: str, where: Where) -> tuple[Any, ...]:
    v = row.get(key)
    if v is None:
        return ()
    if not isinstance(v, list) or not all(isinstance(x, list) for x in v):
        raise InputError("expected a list of argument lists", field=key, **where)
    if dataset == "mbpp":
        try:
            v = mbpp_deserialize_inputs(tid, v)
        except (TypeError, ValueError, IndexError, KeyError, AttributeError) as e:
            raise InputError(f"cannot deserialize the MBPP+ inputs as evalplus does: {e}", field=key, **where) from None
    return tuple(v)


def mbpp_deserialize_inputs(tid: str, inputs: list[Any]) -> list[Any]:
    """evalplus.data.mbpp.mbpp_deserialize_inputs, kept verbatim in its effect."""
    try:
        n = int(tid.split("/")[-1])
    except ValueError:
        return inputs
    if n in (
        2,
        116,
        132,
        143,
        222,
        261,
        273,
        394,
        399,
        421,
        424,
        429,
        470,
        560,
        579,
        596,
        616,
        630,
        726,
        740,
        744,
        809,
    ):
        return [[tuple(lst) for lst in inp] for inp in inputs]
    if n in (63, 64, 70, 94, 120, 237, 272, 299, 400, 409, 417, 438, 473, 614, 780):
        return [[[tuple(lst) for lst in lst_lst] for lst_lst in inp] for inp in inputs]
    if n in (75, 413, 444, 753):
        return [[[tuple(lst) for lst in inp[0]]] + [inp[1]] for inp in inputs]
    if n in (106, 750):
        return [[inp[0]] + [tuple(inp[1])] for inp in inputs]
    if n == 115:
        return [[[set(item) if isinstance(item, list) and len(item) else {} for item in inp[0]]] for inp in inputs]
    if n == 124:
        return [(float(inp[0]), complex(inp[1])) for inp in inputs]
    if n in (250, 405, 446, 617, 720, 763, 808):
        return [[tuple(inp[0])] + [inp[1]] for inp in inputs]
    if n in (259, 401, 445):
        nested = [[[tuple(lst) for lst in lst_lst] for lst_lst in inp] for inp in inputs]
        return [[tuple(lst) for lst in inp] for inp in nested]
    if n == 278:
        flat = [[[tuple(item) if isinstance(item, list) else item for item in inp[0]]] for inp in inputs]
        return [[tuple(lst) for lst in inp] for inp in flat]
    if n == 307:
        return [[tuple(inp[0])] + [inp[1], inp[2]] for inp in inputs]
    if n == 722:
        return [[{key: tuple(value) for key, value in inp[0].items()}] + inp[1:] for inp in inputs]
    if n == 252:
        return [[complex(inp[0])] for inp in inputs]
    if n in (580, 615, 791):
        return [_all_tuples(inp) for inp in inputs]
    return inputs


def _all_tuples(x: Any) -> Any:
    return tuple(_all_tuples(i) for i in x) if isinstance(x, list) else x


def with_group(problems: list[Problem], group: OracleGroup) -> list[Problem]:
    """The problems with their expected outputs in `group` (one per file)."""
    out = [dataclasses.replace(p, plus=dataclasses.replace(p.plus, group=group)) if p.plus else p for p in problems]
    group.members = [p for p in out if p.plus is not None]
    return out


def base_only(problems: list[Problem]) -> list[Problem]:
    """evalplus problems judged on their base inputs alone (evalplus `--base-only`); others as they are."""
    return [dataclasses.replace(p, plus=dataclasses.replace(p.plus, base_only=True)) if p.plus else p for p in problems]


def case_inputs(p: Problem) -> tuple[Any, ...]:
    """The inputs judged, in case order: base, then plus (unless base_only)."""
    assert p.plus is not None
    return p.plus.base + (() if p.plus.base_only else p.plus.plus)


def test_program(p: Problem) -> str:
    """The test half of an evalplus program: inputs and expected outputs embedded, one assert per
    input (so each is its own test case), evalplus's comparison in `_ep_case`."""
    assert p.plus is not None and p.plus.group is not None
    inputs = case_inputs(p)
    chunks = p.plus.group.expected(p)
    n_base = len(p.plus.base)
    head = [
        f"# evalplus {p.task_id}: {n_base} base + {len(inputs) - n_base} plus inputs, compared as evalplus does",
        f"_EP_IN = _ep_load({encode(list(inputs))!r})",
        "_EP_OUT = _ep_load(" + ", ".join(repr(c) for c in chunks) + ")",
        f"_EP_SPLITS = ((0, {n_base}), ({n_base}, {len(inputs)}))",
        f"_EP_ATOL, _EP_DATASET, _EP_ENTRY = {p.plus.atol!r}, {p.plus.dataset!r}, {p.entry_point!r}",
        f"_EP_SET_EQ, _EP_NOT_NONE = {MBPP_OUTPUT_SET_EQ_TASKS!r}, {MBPP_OUTPUT_NOT_NONE_TASKS!r}",
        "_EP_BEFORE, _EP_AFTER = _ep_atols()",
    ]
    cases = [f"assert _ep_case({i}, {_label(p, i, n_base, inp)!r})" for i, inp in enumerate(inputs)]
    return HELPERS + "\n".join(head) + "\n\n" + "\n".join(cases) + "\n"


def _label(p: Problem, i: int, n_base: int, inp: Any) -> str:
    call = f"{p.entry_point}({', '.join(map(repr, inp))})"
    if len(call) > LABEL_CHARS:
        call = call[: LABEL_CHARS - 3] + "..."
    return f"{'base' if i < n_base else 'plus'} {i if i < n_base else i - n_base}: {call}"


# The comparison, as evalplus.eval.unsafe_execute does it (its special oracles included). It runs
# in the sandbox, in the sample's own module: every name starts with _ep_ to stay out of its way.
HELPERS = r'''import base64 as _ep_b64, contextlib as _ep_ctx, io as _ep_io, math as _ep_math
import pickle as _ep_pickle, zlib as _ep_zlib


def _ep_load(*blobs):
    out = []
    for blob in blobs:
        out.extend(_ep_pickle.loads(_ep_zlib.decompress(_ep_b64.b85decode(blob))))
    return out


def _ep_is_floats(x):
    if isinstance(x, float):
        return True
    if isinstance(x, (list, tuple)) and x:
        return all(isinstance(i, float) for i in x)
    if type(x).__name__ == "ndarray" and type(x).__module__ == "numpy":
        import numpy as np
        return x.dtype == np.float64 or x.dtype == np.float32
    return False


def _ep_atols():
    # evalplus sets atol = 1e-6 at the first float output of a split (when the task's atol is 0)
    # and keeps it for the split's later inputs; find_zero returns before that line
    before, after = [], []
    for start, end in _EP_SPLITS:
        atol = _EP_ATOL
        for i in range(start, end):
            before.append(atol)
            if not (_EP_DATASET == "humaneval" and _EP_ENTRY == "find_zero"):
                if atol == 0 and _ep_is_floats(_EP_OUT[i]):
                    atol = 1e-6
            after.append(atol)
    return before, after


def _ep_poly(xs, x):
    return sum([coeff * _ep_math.pow(x, i) for i, coeff in enumerate(xs)])


def _ep_surface_area(base_edge, height):
    slant_height = _ep_math.sqrt((base_edge / 2) ** 2 + height**2)
    return round(base_edge**2 + 4 * (base_edge * slant_height) / 2)


def _ep_digit_distance_nums(num1, num2):
    a, b = str(num1), str(num2)
    width = max(len(a), len(b))
    return sum(abs(int(x) - int(y)) for x, y in zip(a.zfill(width), b.zfill(width)))


def _ep_short(x):
    s = repr(x)
    return s if len(s) <= 200 else s[:197] + "..."


def _ep_case(i, label):
    fn = globals()[_EP_ENTRY]
    inp, exp = _EP_IN[i], _EP_OUT[i]
    sink = _ep_io.StringIO()
    with _ep_ctx.redirect_stdout(sink), _ep_ctx.redirect_stderr(sink):
        out = fn(*inp)
    exact_match = out == exp
    atol = _EP_BEFORE[i]
    if _EP_DATASET == "mbpp":
        if _EP_ENTRY == "are_equivalent":
            exact_match = exact_match or True
        elif _EP_ENTRY == "sum_div":
            exact_match = exact_match or out == 0
        elif _EP_ENTRY == "surface_Area":
            exact_match = exact_match or abs(out - _ep_surface_area(*inp)) <= atol
        elif _EP_ENTRY == "digit_distance_nums":
            exact_match = exact_match or out == _ep_digit_distance_nums(*inp)
        elif _EP_ENTRY in _EP_SET_EQ:
            exact_match = set(out) == set(exp)
        elif _EP_ENTRY in _EP_NOT_NONE:
            exact_match = out == exp if isinstance(out, bool) else exp == (out is not None)
    if _EP_DATASET == "humaneval" and _EP_ENTRY == "find_zero":
        if not abs(_ep_poly(*inp, out)) <= atol:
            raise AssertionError(f"{label}: |poly(xs, x)| > {atol} at x = {_ep_short(out)}")
        return True
    atol = _EP_AFTER[i]
    if not exact_match and atol != 0:
        import numpy as np
        if type(out) != type(exp):
            raise AssertionError(f"{label}: got a {type(out).__name__}, expected a {type(exp).__name__}")
        if isinstance(exp, (list, tuple)) and len(out) != len(exp):
            raise AssertionError(f"{label}: got {len(out)} items, expected {len(exp)}")
        if not np.allclose(out, exp, rtol=1e-07, atol=atol):
            raise AssertionError(f"{label}: got {_ep_short(out)}, expected {_ep_short(exp)} (atol {atol})")
    elif not exact_match:
        raise AssertionError(f"{label}: got {_ep_short(out)}, expected {_ep_short(exp)}")
    return True


'''
