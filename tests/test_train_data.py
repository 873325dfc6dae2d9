"""Training data: the length policy (counted, never silent), packing (never mixes tasks, whole
samples, tight), batches (position resets, loss never crosses a sample), the step order's
independence from the number of ranks, and packing isolation on the real tiny model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.tokens import ShardWriter, TokenShard
from engine.train.data import build_plan, collate, fit_split, iter_slots, pack_best_fit


def _shard(folder: Path, samples: list[tuple[list[int], list[int]]]) -> TokenShard:
    with ShardWriter(folder) as w:
        for ids, mask in samples:
            w.add(ids, mask)
    return TokenShard(folder)


def test_overlong_and_empty_samples_are_counted(tmp_path: Path) -> None:
    samples = [
        (list(range(1, 6)), [0, 0, 1, 1, 1]),             # fits
        (list(range(1, 21)), [0] * 12 + [1] * 8),          # overlong, trained only past the cut
        (list(range(1, 21)), [0, 0, 1, 1] + [0] * 16),     # overlong, trained inside the cut
        (list(range(1, 4)), [0, 0, 0]),                    # nothing trained
    ]
    shard = _shard(tmp_path / "s", samples)
    ts, rep = fit_split(shard, "a", 0, "train", 10, "truncate")
    assert rep["samples"] == 4 and rep["kept"] == 2 and rep["overlong"] == 2
    assert rep["truncated"] == 1 and rep["tokens_truncated"] == 10
    assert rep["dropped_truncated_to_no_trained"] == 1 and rep["dropped_no_trained"] == 1
    assert ts.length.tolist() == [5, 10] and ts.trained.tolist() == [3, 2]
    ts, rep = fit_split(shard, "a", 0, "train", 10, "drop")
    assert rep["kept"] == 1 and rep["dropped_overlong"] == 2 and rep["truncated"] == 0
    assert rep["dropped_no_trained"] == 1
    # every sample is accounted for
    assert rep["kept"] + rep["dropped_overlong"] + rep["dropped_no_trained"] == rep["samples"]


def test_best_fit_packing_is_whole_tight_and_deterministic() -> None:
    rng = np.random.default_rng(0)
    lengths = rng.integers(10, 300, size=2000)
    rows = pack_best_fit(lengths, 512)
    flat = sorted(i for r in rows for i in r)
    assert flat == list(range(len(lengths)))                      # every sample once
    assert all(lengths[r].sum() <= 512 for r in rows)             # never over the length
    assert lengths.sum() / (len(rows) * 512) > 0.97               # tight
    assert rows == pack_best_fit(lengths, 512)                    # deterministic


def _plan(tmp_path: Path, packing: bool = True, seq: int = 16):
    rng = np.random.default_rng(1)
    shards = {}
    for t, name in enumerate(["a", "b"]):
        shards[name] = {}
        for split, n in (("train", 40), ("valid", 6)):
            samples = []
            for _ in range(n):
                L = int(rng.integers(3, 12))
                ids = (rng.integers(5, 50, size=L) + 100 * t).tolist()
                mask = [0] * (L // 2) + [1] * (L - L // 2)
                samples.append((ids, mask))
            shards[name][split] = _shard(tmp_path / name / split, samples)
    return build_plan(shards, ["a", "b"], seq_length=seq, packing=packing, overlong="truncate", pad_id=0, seed=3)


def test_packs_never_mix_tasks_and_batches_isolate_samples(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    assert all(len({p.task_id}) == 1 for p in plan.train_packs)
    kept = {t: len(plan.splits[("train", t)]) for t in (0, 1)}
    for t in (0, 1):  # every kept sample is in exactly one pack of its own task
        members = sorted(m for p in plan.train_packs if p.task_id == t for m in p.members)
        assert members == list(range(kept[t]))
    packs = [p for p in plan.train_packs if len(p.members) >= 2][:3]
    mb = collate(packs, plan.splits, seq_length=16, pad_id=0, packed=True)
    for r, p in enumerate(packs):
        ts = plan.splits[("train", p.task_id)]
        c = 0
        for m in p.members:
            n = int(ts.length[m])
            assert mb.position_ids[r, c:c + n].tolist() == list(range(n))           # reset per sample
            ids = np.asarray(ts.input_ids[ts.start[m]:ts.start[m] + n])
            assert mb.targets[r, c:c + n - 1].tolist() == ids[1:].tolist()          # next token, same sample
            assert not mb.loss_mask[r, c + n - 1]                                   # never predicts the neighbour
            assert set(mb.token_sample[r, c:c + n].tolist()) == {mb.token_sample[r, c]}
            c += n
        assert not mb.loss_mask[r, c:].any()                                        # padding is never trained
        assert mb.input_ids[r, c:].tolist() == [0] * (mb.shape[1] - c)
    assert set(mb.sample_task.tolist()) == {p.task_id for p in packs}


def test_step_rows_do_not_depend_on_rank_count(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    for step in (0, 3, 9):  # 9 crosses into the second epoch
        one = sorted((p.task_id, p.members) for _, _, m in iter_slots(plan, step, 1, 1, 4) for p in m)
        two = sorted((p.task_id, p.members) for _, _, m in iter_slots(plan, step, 2, 1, 2) for p in m)
        acc = sorted((p.task_id, p.members) for _, _, m in iter_slots(plan, step, 2, 2, 1) for p in m)
        assert one == two == acc and len(one) == 4
    spe = plan.steps_per_epoch(4)
    seen = sorted((p.task_id, p.members) for s in range(spe) for p in plan.global_batch(s, 4))
    assert seen == sorted((p.task_id, p.members) for p in plan.train_packs)  # an epoch sees every row once
    # a short last batch is spread so no micro-batch is empty while rows remain
    last = plan.split_global(plan.global_batch(spe - 1, 4), 2, 1, 2)
    sizes = [len(m) for r in last for m in r]
    assert max(sizes) - min(sizes) <= 1


def test_padding_mode_one_sample_per_row(tmp_path: Path) -> None:
    plan = _plan(tmp_path, packing=False)
    assert all(len(p.members) == 1 for p in plan.train_packs)
    mb = collate(plan.train_packs[:3], plan.splits, seq_length=16, pad_id=0, packed=False)
    assert (mb.position_ids == np.arange(mb.shape[1])).all()  # plain causal rows (fast path)
    assert plan.fill()["train"] < _plan(tmp_path / "p", packing=True).fill()["train"]


# -- the real model -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny(tiny_model_dir: Path, torch_single_thread: None):
    from transformers import AutoModelForCausalLM

    from engine.train.model import masked_lm

    out = {}
    for attn in ("sdpa", "eager"):
        lm = AutoModelForCausalLM.from_pretrained(tiny_model_dir, attn_implementation=attn)
        lm.eval()
        out[attn] = masked_lm(lm)
    return out


def _losses(wrapper, rows: list[list[int]], positions: list[list[int]], trained: list[list[int]]):
    import torch

    L = max(map(len, rows))
    ids = torch.zeros(len(rows), L, dtype=torch.long)
    pos = torch.zeros(len(rows), L, dtype=torch.long)
    sel, tgt = [], []
    for r, (row, p, tr) in enumerate(zip(rows, positions, trained)):
        ids[r, :len(row)] = torch.tensor(row)
        pos[r, :len(p)] = torch.tensor(p)
        pos[r, len(p):] = torch.arange(len(p), L) if len(p) < L else pos[r, len(p):]
        for j in tr:
            sel.append(r * L + j)
            tgt.append(row[j + 1])
    with torch.no_grad():
        return wrapper(ids, pos, torch.tensor(sel), torch.tensor(tgt))


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_packed_sample_is_isolated_from_its_neighbour(tiny, attn: str) -> None:
    import torch

    w = tiny[attn]
    g = torch.Generator().manual_seed(0)
    a = torch.randint(10, 4000, (12,), generator=g).tolist()
    b = torch.randint(10, 4000, (9,), generator=g).tolist()
    alone = _losses(w, [a], [list(range(12))], [list(range(11))])
    packed = _losses(w, [b + a], [list(range(9)) + list(range(12))], [[9 + j for j in range(11)]])
    assert torch.allclose(alone, packed, atol=1e-5), (alone - packed).abs().max()
    # guard: without the position reset the neighbour leaks into A's predictions
    leaky = _losses(w, [b + a], [list(range(21))], [[9 + j for j in range(11)]])
    assert (alone - leaky).abs().max() > 1e-3
    from engine.train.model import isolation_probe

    assert isolation_probe(w, vocab_size=4096, device="cpu", half=False)[0]


def test_fast_loss_path_equals_full_logits(tiny) -> None:
    import torch

    w = tiny["sdpa"]
    assert w.fast
    g = torch.Generator().manual_seed(1)
    rows = [torch.randint(10, 4000, (15,), generator=g).tolist(), torch.randint(10, 4000, (15,), generator=g).tolist()]
    pos = [list(range(15)), list(range(7)) + list(range(8))]
    tr = [[2, 3, 4, 13], [0, 1, 9, 10, 12]]
    fast = _losses(w, rows, pos, tr)
    w.fast = False
    try:
        slow = _losses(w, rows, pos, tr)
    finally:
        w.fast = True
    assert torch.allclose(fast, slow, atol=1e-5)
    from engine.train import model as M

    M.LOSS_LOGITS_BUDGET = 6 * 4096 * 2  # force the chunked (checkpointed) output layer: 2 rows a chunk
    try:
        chunked = _losses(w, rows, pos, tr)
    finally:
        M.LOSS_LOGITS_BUDGET = None
    assert torch.allclose(fast, chunked, atol=1e-6)

    def grads(budget):  # the recomputed chunks give the same gradients as one pass
        M.LOSS_LOGITS_BUDGET = budget
        try:
            w.zero_grad()
            ids = torch.tensor(rows)
            sel = torch.tensor([r * 15 + j for r, t in enumerate(tr) for j in t])
            tgt = torch.tensor([rows[r][j + 1] for r, t in enumerate(tr) for j in t])
            w(ids, torch.tensor(pos), sel, tgt).sum().backward()
            return w.lm.model.embed_tokens.weight.grad.clone()
        finally:
            M.LOSS_LOGITS_BUDGET = None

    g1, g2 = grads(None), grads(6 * 4096 * 2)
    assert (g1 - g2).abs().max() <= 1e-5 * g1.abs().max(), (g1 - g2).abs().max()
