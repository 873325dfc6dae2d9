"""Sampling, split, balance and materialised builds, on processed datasets made from
../shared/data/instruct/ and ../shared/data/leetcode/ (token counts from the tiny tokenizer)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from engine.errors import InputError
from engine.mixture import store
from engine.mixture.materialize import build_for_training, materialize
from engine.mixture.spec import MixtureSpec, set_weight
from engine.workspace import Workspace
from tests.test_mixture_support import link_datasets, tiny_tokenizer



def spec_of(tasks: dict, **kw) -> MixtureSpec:
    return MixtureSpec.model_validate({"tasks": tasks, **kw})


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def test_same_spec_same_id_and_rows(ws: Workspace, tmp_path: Path, processed: Path) -> None:
    spec = spec_of({"code": {"sources": [{"dataset": "code_alpaca", "weight": 1.7},
                                         {"dataset": "evol_alpaca", "weight": 0.4}]},
                    "leetcode": {"sources": [{"dataset": "leetcode", "tokens": 250_000}]}})
    store.write_spec(ws, "m", spec)
    other = Workspace.init(tmp_path / "other")
    link_datasets(other, processed)
    store.write_spec(other, "m", spec)
    a = materialize(ws, "m", tokenize_cache=False)
    b = materialize(other, "m", tokenize_cache=False)
    assert a.id == b.id and not a.cached
    for task in ("code", "leetcode"):
        for split in ("train", "valid"):
            assert (a.build_dir / task / f"{split}.jsonl").read_bytes() == \
                (b.build_dir / task / f"{split}.jsonl").read_bytes()
    # a different seed: a different mixture
    store.write_spec(other, "m", spec.model_copy(update={"seed": 99}))
    assert materialize(other, "m", tokenize_cache=False).id != a.id


def test_split_is_disjoint_non_empty_and_independent_of_weights(ws: Workspace) -> None:
    base = spec_of({"code": {"sources": [{"dataset": "code_alpaca"}, {"dataset": "evol_alpaca"}]},
                    "lc": {"sources": [{"dataset": "leetcode"}], "valid_fraction": 0.001}})
    p1 = store.plan_for(ws, base)
    p2 = store.plan_for(ws, set_weight(set_weight(base, "code", "code_alpaca", 3.3), "code", "evol_alpaca", 0.2))
    for task in ("code", "lc"):
        v1 = {(s.dataset, int(r)) for s in p1.tasks[task].sources for r in s.valid}
        v2 = {(s.dataset, int(r)) for s in p2.tasks[task].sources for r in s.valid}
        assert v1 == v2 and v1  # weights never move rows between train and valid
        train = {(s.dataset, int(r)) for s in p2.tasks[task].sources for r in s.train_rows()}
        assert not (train & v1)
    code = p1.tasks["code"]
    assert code.n_valid == round(0.05 * code.n_unique)
    assert p1.tasks["lc"].n_valid == 2  # round(0.001 * 1890) == 2


def test_tiny_task_keeps_a_valid_row_and_one_row_is_an_error(ws: Workspace, tmp_path: Path) -> None:
    from engine.data.store import write_processed

    rec = lambda i: {"id": f"r{i}", "source": "t", "row": i, "n_tokens": 10, "languages": [],  # noqa: E731
                     "chat_rounds": [{"role": "human", "content": f"q{i}"}, {"role": "bot", "content": f"a{i}"}]}
    write_processed(ws.datasets_dir / "two", [rec(0), rec(1)], {})
    write_processed(ws.datasets_dir / "one", [rec(0)], {})
    plan = store.plan_for(ws, spec_of({"two": {"sources": [{"dataset": "two", "weight": 3}]}}))
    assert plan.tasks["two"].n_valid == 1 and plan.tasks["two"].n_train == 3
    store.write_spec(ws, "bad", spec_of({"one": {"sources": [{"dataset": "one"}]}}))
    with pytest.raises(InputError) as ei:
        materialize(ws, "bad", tokenize_cache=False)
    assert "at least 2" in ei.value.reason and ei.value.field == "tasks.one" and ei.value.file.endswith("bad.toml")


def test_split_does_not_depend_on_world_size(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = spec_of({"code": {"sources": [{"dataset": "code_alpaca", "weight": 0.5}]},
                    "lc": {"sources": [{"dataset": "leetcode"}]}})
    store.write_spec(ws, "w", spec)
    outs = []
    for env in ({}, {"WORLD_SIZE": "8", "RANK": "3", "LOCAL_RANK": "3"}, {"WORLD_SIZE": "2", "RANK": "0"}):
        for k in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
            monkeypatch.delenv(k, raising=False)
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        plan = store.plan_for(ws, spec)
        outs.append((plan.id, {t: sorted((s.dataset, int(r)) for s in tp.sources for r in s.valid)
                               for t, tp in plan.tasks.items()}))
    assert outs[0] == outs[1] == outs[2]


def test_weights_set_token_shares(ws: Workspace) -> None:
    """Token shares follow the weights: share_A = wA*TA / (wA*TA + wB*TB), within sampling error."""
    def shares(wa: float, wb: float) -> tuple[float, float, dict]:
        spec = spec_of({"a": {"sources": [{"dataset": "code_alpaca", "weight": wa}]},
                        "b": {"sources": [{"dataset": "leetcode", "weight": wb}]}})
        plan = store.plan_for(ws, spec)
        pool = {t: int(plan.tables[tp.sources[0].dataset].tokens[tp.sources[0].pool].sum())
                for t, tp in plan.tasks.items()}
        expected = wa * pool["a"] / (wa * pool["a"] + wb * pool["b"])
        b = store.balance_for(ws, spec)
        return b.task("a")["share_tokens"], expected, {"plan": plan, "balance": b}

    got1, exp1, _ = shares(1.0, 1.0)
    got2, exp2, ctx = shares(3.0, 0.25)
    assert got1 == pytest.approx(exp1, abs=1e-6)  # whole copies: exact (shares are rounded to 1e-6)
    assert got2 == pytest.approx(exp2, abs=0.02)  # a 25% draw of leetcode: sampling error only
    assert got2 > 3 * got1  # and the change is large, as asked for
    plan = ctx["plan"]
    lc = plan.tasks["b"].sources[0]
    drawn = Counter(lc.train_rows().tolist())
    assert max(drawn.values()) == 1 and len(drawn) == round(0.25 * len(lc.pool))  # without replacement
    al = plan.tasks["a"].sources[0]
    assert Counter(Counter(al.train_rows().tolist()).values()) == {3: len(al.pool)}  # up-sampling repeats


def test_fractional_upsampling_and_nested_draws(ws: Workspace) -> None:
    def src(w: float):
        return store.plan_for(ws, spec_of({"a": {"sources": [{"dataset": "evol_alpaca", "weight": w}]}})
                              ).tasks["a"].sources[0]

    s = src(2.5)
    counts = Counter(Counter(s.train_rows().tolist()).values())
    assert counts == {3: round(0.5 * len(s.pool)), 2: len(s.pool) - round(0.5 * len(s.pool))}
    small, big = set(src(0.3).train_rows().tolist()), set(src(0.6).train_rows().tolist())
    assert small < big  # raising a weight only adds rows


def test_token_budget(ws: Workspace) -> None:
    for budget in (50_000, 900_000):
        spec = spec_of({"a": {"sources": [{"dataset": "code_alpaca", "tokens": budget}]},
                        "b": {"sources": [{"dataset": "leetcode"}]}})
        b = store.balance_for(ws, spec)
        src = b.task("a")["sources"][0]
        plan = store.plan_for(ws, spec)
        biggest = int(plan.tables["code_alpaca"].tokens.max())
        assert budget <= src["train_tokens"] < budget + biggest
        assert src["repeats"] == budget // int(plan.tables["code_alpaca"].tokens[plan.tasks["a"].sources[0].pool].sum())


def test_balance_tables_add_up_and_warn(ws: Workspace) -> None:
    spec = spec_of({"py": {"sources": [{"dataset": "code_alpaca", "languages": ["python"]}, {"dataset": "leetcode"}]},
                    "js": {"sources": [{"dataset": "evol_alpaca", "languages": ["javascript"], "weight": 0.2}]}},
                   seq_length=1024)
    b = store.balance_for(ws, spec)
    d = b.to_dict()
    assert d["totals"]["train_tokens"] == sum(t["train_tokens"] for t in d["tasks"])
    for t in d["tasks"]:
        assert sum(v["tokens"] for v in t["languages"].values()) == t["train_tokens"]
        assert sum(v["rows"] for v in t["languages"].values()) == t["train_rows"]
        assert sum(s["train_rows"] for s in t["sources"]) == t["train_rows"]
    assert set(b.task("py")["languages"]) == {"python"} and set(b.task("js")["languages"]) == {"javascript"}
    assert sum(v["tokens"] for v in d["languages"].values()) == d["totals"]["train_tokens"]
    kinds = {w["kind"]: w for w in d["warnings"]}
    assert kinds["task_share_low"]["task"] == "js"
    assert "tasks_by_language" in kinds and "language_dominates" in kinds
    assert kinds["overlong"]["task"] == "py" and b.task("py")["overlong"] > 0
    # without the language split none of those fire
    mixed = spec_of({"a": {"sources": [{"dataset": "code_alpaca"}]}, "b": {"sources": [{"dataset": "evol_alpaca"}]}})
    assert not {w.kind for w in store.balance_for(ws, mixed).warnings} & {"tasks_by_language", "task_share_low"}


def test_shared_rows_and_estimated_tokens_are_reported(ws: Workspace) -> None:
    from engine.data.store import iter_processed, write_processed

    rows = [{**r, "n_tokens": -1} for r in iter_processed(ws.datasets_dir / "leetcode")][:300]
    write_processed(ws.datasets_dir / "lc_nocount", rows, {})
    spec = spec_of({"a": {"sources": [{"dataset": "code_alpaca"}]}, "b": {"sources": [{"dataset": "code_alpaca"}]},
                    "c": {"sources": [{"dataset": "lc_nocount"}]}})
    b = store.balance_for(ws, spec)
    kinds = {w.kind for w in b.warnings}
    assert {"shared_rows", "tokens_estimated"} <= kinds and b.estimated
    true = sum(r["n_tokens"] for r in iter_processed(ws.datasets_dir / "leetcode") if r["id"] in
               {x["id"] for x in rows})
    est = int(store.plan_for(ws, spec).tables["lc_nocount"].tokens.sum())
    assert 0.3 * true < est < 3 * true  # a rough estimate, flagged as such


def test_materialise_layout_token_cache_and_reuse(ws: Workspace, tiny_model_dir: Path) -> None:
    from engine.tokens import TokenShard

    spec = spec_of({"code": {"sources": [{"dataset": "code_alpaca", "weight": 0.3}]},
                    "lc": {"sources": [{"dataset": "leetcode", "weight": 0.1}]}})
    store.write_spec(ws, "small", spec)
    tok = tiny_tokenizer(tiny_model_dir)
    res = materialize(ws, "small", tokenizer=tok, template="chatml")
    man = json.loads((res.build_dir / "mixture.json").read_text())
    assert res.build_dir == ws.mixtures_dir / "small" / "builds" / res.id
    assert {"id", "name", "seed", "spec", "created", "tasks"} <= set(man) and man["id"] == res.id
    for task in ("code", "lc"):
        train, valid = _jsonl(res.build_dir / task / "train.jsonl"), _jsonl(res.build_dir / task / "valid.jsonl")
        assert len(train) == man["tasks"][task]["train_rows"] and len(valid) == man["tasks"][task]["valid_rows"] > 0
        assert all({"id", "source", "row", "chat_rounds"} <= set(r) for r in train + valid)
        assert not {r["id"] for r in train} & {r["id"] for r in valid}
        shard = TokenShard(res.token_cache / task / "train")
        assert len(shard) == len(train)
        # the balance's token figures are what the trainer will see
        assert shard.meta["n_tokens"] == man["tasks"][task]["train_tokens"]
        assert shard.meta["n_trained"] > 0
    stamp = {p: p.stat().st_mtime_ns for p in res.build_dir.rglob("*") if p.is_file()}
    again = materialize(ws, "small", tokenizer=tok, template="chatml")
    assert again.cached and again.tokens_cached and again.id == res.id
    assert stamp == {p: p.stat().st_mtime_ns for p in res.build_dir.rglob("*") if p.is_file()}
    assert build_for_training(ws, "small") == res.build_dir
    assert build_for_training(ws, str(res.build_dir)) == res.build_dir
    assert [b["id"] for b in store.list_builds(ws, "small")] == [res.id]
    assert np.asarray(TokenShard(res.token_cache / "lc" / "valid").lengths()).min() > 0


def test_missing_dataset_is_a_located_error(ws: Workspace) -> None:
    store.write_spec(ws, "broken", spec_of({"a": {"sources": [{"dataset": "code_alpaca"}, {"dataset": "nope"}]}}))
    with pytest.raises(InputError) as ei:
        store.balance_for(ws, store.open_spec(ws, "broken"), "broken")
    e = ei.value
    assert e.file.endswith("broken.toml") and e.field == "tasks.a.sources[1].dataset" and "nope" in e.reason
    assert store.describe(ws, "broken")["missing"] == ["nope"]
    with pytest.raises(InputError, match="workbench mix new"):
        store.open_spec(ws, "absent")


def test_weight_zero_leaves_a_task_out_with_a_warning(ws: Workspace) -> None:
    spec = spec_of({"a": {"sources": [{"dataset": "code_alpaca"}]},
                    "b": {"sources": [{"dataset": "leetcode", "weight": 0}]}, "c": {"sources": []}})
    b = store.balance_for(ws, spec)
    assert [t["task"] for t in b.tasks] == ["a"]
    assert {w.task: w.message for w in b.warnings if w.kind == "task_disabled"} == {
        "b": "task 'b' has only sources with weight 0: it is left out", "c": "task 'c' has no sources yet: it is left out"}
    store.write_spec(ws, "z", spec)
    assert list(materialize(ws, "z", tokenize_cache=False).manifest["tasks"]) == ["a"]
    with pytest.raises(InputError, match="every task"):
        store.balance_for(ws, spec_of({"b": {"sources": [{"dataset": "leetcode", "weight": 0}]}}))
