"""The mixture spec file: validation with located errors, round trip, the id's inputs, edits."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import InputError, WorkbenchError
from engine.mixture.spec import (MixtureSpec, add_source, add_task, load_spec, mixture_id, parse_amount, remove,
                                 save_spec, set_task_valid_fraction, set_tokens, set_weight)

GOOD = """\
seed = 7
valid_fraction = 0.1

[tasks.code]
sources = [
  { dataset = "alpaca", weight = 2.5 },
  { dataset = "evol", weight = 0.3, languages = ["python"] },
]

[tasks.leetcode]
valid_fraction = 0.02
sources = [{ dataset = "lc", tokens = 200000 }]
"""


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "mix.toml"
    p.write_text(text)
    return p


def test_load_and_round_trip(tmp_path: Path) -> None:
    spec = load_spec(_write(tmp_path, GOOD))
    assert list(spec.tasks) == ["code", "leetcode"]
    assert spec.tasks["code"].sources[0].effective_weight == 2.5
    assert spec.tasks["leetcode"].sources[0].mode == "tokens"
    assert spec.task_valid_fraction("code") == 0.1 and spec.task_valid_fraction("leetcode") == 0.02
    out = save_spec(tmp_path / "again.toml", spec)
    again = load_spec(out)
    assert again == spec
    assert "unknown keys are errors" in out.read_text().lower()


@pytest.mark.parametrize("text, line, field, words", [
    (GOOD.replace("seed = 7", "seed = 7\nseeed = 8"), 2, "seeed", "unknown key"),
    (GOOD.replace('weight = 0.3, languages', 'weight = 0.3, tokens = 5, languages'), 5, "tasks.code.sources.1",
     "not both"),
    (GOOD.replace("[tasks.leetcode]", "[tasks.'leet code']"), None, "tasks", "letters, digits"),
    (GOOD.replace("weight = 2.5", "weight = -1"), 5, "tasks.code.sources.0.weight", "greater than or equal"),
    (GOOD.replace("valid_fraction = 0.02", "valid_fraction = 1.5"), 11, "tasks.leetcode.valid_fraction", "less than"),
    (GOOD.replace('{ dataset = "evol"', '{ dataset = "alpaca"'), 5, "tasks.code.sources", "listed twice"),
    (GOOD.replace("[tasks.code]", "[tasks.code]\nwieght = 1"), 5, "tasks.code.wieght", "unknown key"),
])
def test_bad_specs_name_file_line_field(tmp_path: Path, text: str, line: int | None, field: str, words: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(InputError) as ei:
        load_spec(path)
    e = ei.value
    assert e.file == str(path) and e.field == field and words in e.reason
    if line is not None:
        assert e.line == line, str(e)


def test_toml_syntax_error_is_located(tmp_path: Path) -> None:
    with pytest.raises(InputError) as ei:
        load_spec(_write(tmp_path, GOOD.replace("seed = 7", "seed = = 7")))
    assert ei.value.line == 1 and "invalid TOML" in ei.value.reason


def test_id_depends_on_content_and_inputs_only(tmp_path: Path) -> None:
    spec = load_spec(_write(tmp_path, GOOD))
    fps = {"alpaca": "a1", "evol": "e1", "lc": "l1"}
    base = mixture_id(spec, fps)
    assert base == mixture_id(spec, dict(reversed(list(fps.items()))))
    # cosmetic changes and spelling of defaults keep the id
    cosmetic = spec.model_copy(update={"description": "hello", "seq_length": 999})
    assert mixture_id(cosmetic, fps) == base
    explicit = load_spec(_write(tmp_path, GOOD.replace('{ dataset = "lc", tokens', '{ dataset = "lc", tokens')
                                .replace("[tasks.code]", "[tasks.code]\nvalid_fraction = 0.1")))
    assert mixture_id(explicit, fps) == base
    reordered = load_spec(_write(tmp_path, GOOD.replace(
        '  { dataset = "alpaca", weight = 2.5 },\n  { dataset = "evol", weight = 0.3, languages = ["python"] },',
        '  { dataset = "evol", weight = 0.3, languages = ["python"] },\n  { dataset = "alpaca", weight = 2.5 },')))
    assert mixture_id(reordered, fps) == base
    # what changes the rows changes the id
    assert mixture_id(spec.model_copy(update={"seed": 8}), fps) != base
    assert mixture_id(set_weight(spec, "code", "alpaca", 2.4), fps) != base
    assert mixture_id(spec, {**fps, "lc": "l2"}) != base
    assert mixture_id(set_task_valid_fraction(spec, "code", 0.2), fps) != base


def test_weight_one_and_no_weight_are_the_same_mixture() -> None:
    a = MixtureSpec.model_validate({"tasks": {"t": {"sources": [{"dataset": "d"}]}}})
    b = MixtureSpec.model_validate({"tasks": {"t": {"sources": [{"dataset": "d", "weight": 1.0}]}}})
    assert mixture_id(a, {"d": "x"}) == mixture_id(b, {"d": "x"})
    zero = MixtureSpec.model_validate({"tasks": {"t": {"sources": [{"dataset": "d", "weight": 0}]}}})
    assert not zero.tasks["t"].sources[0].enabled


def test_edits_return_new_validated_specs(tmp_path: Path) -> None:
    spec = load_spec(_write(tmp_path, GOOD))
    s2 = set_weight(spec, "code", "alpaca", 0.1 + 0.2)
    assert s2.tasks["code"].sources[0].weight == 0.3 and spec.tasks["code"].sources[0].weight == 2.5
    s3 = set_tokens(s2, "code", "alpaca", 5000)
    assert s3.tasks["code"].sources[0].mode == "tokens" and s3.tasks["code"].sources[0].weight is None
    s4 = add_source(add_task(s3, "extra"), "extra", "alpaca", weight=2.0)
    assert s4.tasks["extra"].sources[0].weight == 2.0
    assert list(remove(s4, "code", "evol").tasks["code"].sources) == [s3.tasks["code"].sources[0]]
    assert "code" not in remove(s4, "code").tasks
    with pytest.raises(WorkbenchError, match="no task"):
        set_weight(spec, "nope", "alpaca", 1)
    with pytest.raises(WorkbenchError, match="no source"):
        set_weight(spec, "code", "nope", 1)
    with pytest.raises(WorkbenchError, match="already"):
        add_task(spec, "code")
    with pytest.raises(InputError, match="letters"):   # a user error, not a bare ValueError
        add_task(spec, "bad name")
    with pytest.raises(InputError, match="less than or equal to 1000"):
        set_weight(spec, "code", "alpaca", 2000)
    with pytest.raises(WorkbenchError, match="between 0 and 1"):
        set_task_valid_fraction(spec, "code", 1.0)


def test_parse_amount() -> None:
    assert parse_amount("2.5") == 2.5
    assert parse_amount("300k") == 300_000
    assert parse_amount("1.5M") == 1_500_000
    assert parse_amount("2_000") == 2000
    with pytest.raises(InputError, match="not a number"):
        parse_amount("lots")
