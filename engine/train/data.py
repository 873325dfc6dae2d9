"""From a mixture build's token shards to micro-batches.

- Every task's samples are fitted to `seq_length`: longer ones are truncated (or dropped) and
  counted; samples left with no trained token are dropped and counted. Nothing is lost silently:
  `DataPlan.report` holds the counts per task and split.
- Packing (best-fit decreasing, per task) never puts two tasks in one row, and each sample keeps
  its own `position_ids` (reset to 0 at its first token), which is what Hugging Face models use to
  isolate packed samples (block-diagonal mask for sdpa/eager, varlen for flash-attention).
  With `packing = false` every row holds one sample (MFTCoder's "padding" mode, dynamically
  trimmed to the longest row of the micro-batch).
- The order of rows is a function of (seed, epoch, step) and the global batch size only, so a
  step's global batch is the same whatever the number of ranks, and resume needs only the step.

Micro-batch tensors (numpy; the loop moves them to the device):
    input_ids, position_ids [B, L]   targets [B, L] (next token)   loss_mask [B, L] (bool)
    token_sample [B, L] (sample slot of each position, -1 on padding)
    sample_task [S] (task id of each sample slot)   n_tokens (non-pad tokens)
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.errors import InputError, WorkbenchError

PAD_MULTIPLE = 8  # round dynamic lengths up (tensor-core friendly), never past seq_length


# -- fitting samples to the sequence length -----------------------------------------------------


@dataclass
class TaskSplit:
    """The kept samples of one task/split: where they are in the shard and how long they are."""

    task: str
    task_id: int
    split: str
    input_ids: np.ndarray  # the shard's memmaps
    loss_mask: np.ndarray
    start: np.ndarray  # int64 [n] token offset of each kept sample
    length: np.ndarray  # int64 [n] tokens used (after truncation)
    trained: np.ndarray  # int64 [n] trained targets inside `length`
    sample_ids: list[Any] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.start)


def _trained_in_windows(mask: np.ndarray, a: np.ndarray, b: np.ndarray, block: int = 1 << 16) -> np.ndarray:
    """Σ mask[a_i:b_i] for sorted, non-overlapping windows, reading the memmap in blocks."""
    out = np.zeros(len(a), dtype=np.int64)
    for s in range(0, len(a), block):
        e = min(len(a), s + block)
        lo, hi = int(a[s:e].min(initial=0)), int(b[s:e].max(initial=0))
        if hi <= lo:
            continue
        cs = np.concatenate([[0], np.cumsum(np.asarray(mask[lo:hi], dtype=np.int64))])
        out[s:e] = cs[np.maximum(b[s:e] - lo, 0)] - cs[np.maximum(a[s:e] - lo, 0)]
    return out


def fit_split(
    shard: Any, task: str, task_id: int, split: str, seq_length: int, overlong: str, max_samples: int = 0
) -> tuple[TaskSplit, dict[str, Any]]:
    """Apply the length policy to one shard. A sample's first token is never a target, so a
    sample trains on mask[1:len]; it needs >= 1 trained target to be kept."""
    offsets = np.asarray(shard.offsets, dtype=np.int64)
    n_all = len(offsets) - 1
    starts, lens = offsets[:-1], np.diff(offsets)
    if max_samples and n_all > max_samples:
        starts, lens = starts[:max_samples], lens[:max_samples]
    n = len(starts)
    over = lens > seq_length
    eff = np.minimum(lens, seq_length)
    trained = _trained_in_windows(shard.loss_mask, starts + 1, starts + np.maximum(eff, 1))
    trained_full = (
        _trained_in_windows(shard.loss_mask, starts + 1, starts + np.maximum(lens, 1)) if over.any() else trained
    )
    keep = trained > 0
    dropped_overlong = 0
    if overlong == "drop":
        dropped_overlong = int((over & (trained_full > 0)).sum())
        keep &= ~over
    empty = trained_full == 0
    truncated_to_empty = over & ~empty & (trained == 0)
    if overlong == "drop":
        truncated_to_empty[:] = False
    report: dict[str, Any] = {
        "samples": int(n),
        "kept": int(keep.sum()),
        "tokens": int(lens.sum()),
        "tokens_kept": int(eff[keep].sum()),
        "trained_tokens_kept": int(trained[keep].sum()),
        "overlong": int(over.sum()),
        "truncated": int((over & keep).sum()) if overlong == "truncate" else 0,
        "tokens_truncated": int((lens - eff)[over & keep].sum()) if overlong == "truncate" else 0,
        "dropped_overlong": dropped_overlong,
        "dropped_truncated_to_no_trained": int(truncated_to_empty.sum()),
        "dropped_no_trained": int((empty).sum()),
        "longest": int(lens.max(initial=0)),
    }
    if max_samples and n_all > max_samples:
        report["capped_from"] = int(n_all)
    idx = np.nonzero(keep)[0]
    ts = TaskSplit(
        task=task,
        task_id=task_id,
        split=split,
        input_ids=shard.input_ids,
        loss_mask=shard.loss_mask,
        start=starts[idx],
        length=eff[idx],
        trained=trained[idx],
    )
    return ts, report


# -- packing ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pack:
    """One row: samples (positions into a TaskSplit) of a single task."""

    task_id: int
    split: str
    members: tuple[int, ...]
    tokens: int


def pack_best_fit(lengths: np.ndarray, capacity: int) -> list[list[int]]:
    """Best-fit decreasing bin packing: each sample (longest first) goes to the row whose free
    space fits it most tightly; ties broken by row age, so the result is deterministic."""
    order = sorted(range(len(lengths)), key=lambda i: (-int(lengths[i]), i))
    free: list[tuple[int, int]] = []  # sorted (free space, row index)
    rows: list[list[int]] = []
    for i in order:
        need = int(lengths[i])
        j = bisect.bisect_left(free, (need, -1))
        if j < len(free):
            space, r = free.pop(j)
            rows[r].append(i)
            space -= need
        else:
            r = len(rows)
            rows.append([i])
            space = capacity - need
        if space > 0:
            bisect.insort(free, (space, r))
    return rows


def make_packs(ts: TaskSplit, seq_length: int, packing: bool) -> list[Pack]:
    if not packing:
        return [Pack(ts.task_id, ts.split, (i,), int(ts.length[i])) for i in range(len(ts))]
    return [
        Pack(ts.task_id, ts.split, tuple(sorted(r)), int(ts.length[r].sum()))
        for r in pack_best_fit(ts.length, seq_length)
    ]


# -- batches ---------------------------------------------------------------------------------------


@dataclass
class MicroBatch:
    input_ids: np.ndarray
    position_ids: np.ndarray
    targets: np.ndarray
    loss_mask: np.ndarray
    token_sample: np.ndarray
    sample_task: np.ndarray
    n_tokens: int
    n_rows: int  # real rows (0 for a filler batch that only keeps ranks in step)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.input_ids.shape)


def collate(
    packs: Sequence[Pack], splits: dict[tuple[str, int], TaskSplit], *, seq_length: int, pad_id: int, packed: bool
) -> MicroBatch:
    """Rows of token ids with per-sample position resets, next-token targets and a loss mask
    that never crosses a sample boundary. `packs` empty -> a one-row filler with nothing trained."""
    if not packs:
        L = PAD_MULTIPLE
        z = np.zeros((1, L), dtype=np.int64)
        return MicroBatch(
            np.full((1, L), pad_id, np.int64),
            np.arange(L, dtype=np.int64)[None].copy(),
            z,
            np.zeros((1, L), bool),
            np.full((1, L), -1, np.int64),
            np.zeros(0, np.int64),
            0,
            0,
        )
    longest = max(p.tokens for p in packs)
    L = min(max(seq_length, longest), int(math.ceil(longest / PAD_MULTIPLE) * PAD_MULTIPLE))
    B = len(packs)
    ids = np.full((B, L), pad_id, dtype=np.int64)
    pos = np.zeros((B, L), dtype=np.int64)
    tgt = np.zeros((B, L), dtype=np.int64)
    lmask = np.zeros((B, L), dtype=bool)
    tsamp = np.full((B, L), -1, dtype=np.int64)
    stask: list[int] = []
    n_tok = 0
    for r, p in enumerate(packs):
        ts = splits[(p.split, p.task_id)]
        c = 0
        for m in p.members:
            a, n = int(ts.start[m]), int(ts.length[m])
            x = np.asarray(ts.input_ids[a : a + n], dtype=np.int64)
            y = np.asarray(ts.loss_mask[a : a + n], dtype=bool)
            ids[r, c : c + n] = x
            pos[r, c : c + n] = np.arange(n)
            tgt[r, c : c + n - 1] = x[1:]
            lmask[r, c : c + n - 1] = y[1:]
            tsamp[r, c : c + n] = len(stask)
            stask.append(p.task_id)
            c += n
        n_tok += c
        if c < L:
            # the pad tail continues the last positions: no extra segment, and no real token
            # attends to it (it comes after them)
            start = int(pos[r, c - 1]) + 1 if (packed and c) else c
            pos[r, c:] = np.arange(start, start + L - c)
    return MicroBatch(ids, pos, tgt, lmask, tsamp, np.asarray(stask, dtype=np.int64), n_tok, B)


@dataclass
class DataPlan:
    """Everything the loop needs about its data, computed identically on every rank."""

    tasks: list[str]
    seq_length: int
    packed: bool
    pad_id: int
    splits: dict[tuple[str, int], TaskSplit]
    train_packs: list[Pack]
    valid_packs: list[Pack]
    report: dict[str, Any]
    seed: int = 0
    # the current epoch's order and the round-robin validation rows: computed once, not per step
    _order: tuple[int, np.ndarray] | None = field(default=None, init=False, repr=False, compare=False)
    _interleaved: list[Pack] | None = field(default=None, init=False, repr=False, compare=False)

    # -- training order --------------------------------------------------------------------
    def steps_per_epoch(self, global_batch: int) -> int:
        return max(1, math.ceil(len(self.train_packs) / global_batch))

    def _epoch_order(self, epoch: int) -> np.ndarray:
        if self._order is None or self._order[0] != epoch:
            self._order = (epoch, np.random.default_rng([self.seed, epoch]).permutation(len(self.train_packs)))
        return self._order[1]

    def global_batch(self, step: int, global_batch: int) -> list[Pack]:
        """Rows of optimizer step `step` (0-based), over all ranks and micro-batches."""
        spe = self.steps_per_epoch(global_batch)
        epoch, k = divmod(step, spe)
        order = self._epoch_order(epoch)
        return [self.train_packs[i] for i in order[k * global_batch : (k + 1) * global_batch]]

    def split_global(self, packs: list[Pack], world: int, grad_accum: int, micro: int) -> list[list[list[Pack]]]:
        """[rank][micro] -> packs. Rows are sorted by length so each micro-batch holds rows of
        similar length (little padding); a short last batch is spread evenly."""
        rows = sorted(packs, key=lambda p: -p.tokens)
        slots = world * grad_accum
        chunks = [list(c) for c in np.array_split(np.arange(len(rows)), slots)]
        out: list[list[list[Pack]]] = [[[] for _ in range(grad_accum)] for _ in range(world)]
        for j, c in enumerate(chunks):
            out[j % world][j // world] = [rows[i] for i in c]
        return out

    def micro_batches(self, step: int, *, rank: int, world: int, grad_accum: int, micro: int) -> list[MicroBatch]:
        packs = self.global_batch(step, micro * grad_accum * world)
        mine = self.split_global(packs, world, grad_accum, micro)[rank]
        return [self.collate(m) for m in mine]

    def collate(self, packs: Sequence[Pack]) -> MicroBatch:
        return collate(packs, self.splits, seq_length=self.seq_length, pad_id=self.pad_id, packed=self.packed)

    # -- validation ------------------------------------------------------------------------
    def valid_batches(self, *, rank: int, world: int, micro: int) -> list[MicroBatch]:
        """This rank's share of the whole validation set; every rank gets the same number of
        micro-batches (fillers where needed) so collective forwards stay in step."""
        rows = sorted(self.valid_packs, key=lambda p: (p.task_id, -p.tokens))
        groups = [rows[i : i + micro] for i in range(0, len(rows), micro)]
        n = math.ceil(len(groups) / world) if groups else 0
        mine = [groups[i] if i < len(groups) else [] for i in range(rank, n * world, world)]
        return [self.collate(g) for g in mine]

    def valid_interleaved(self) -> list[Pack]:
        """Validation rows in task round-robin order (for CoBa's per-step samples)."""
        if self._interleaved is None:
            by_task: dict[int, list[Pack]] = {}
            for p in self.valid_packs:
                by_task.setdefault(p.task_id, []).append(p)
            longest = max((len(v) for v in by_task.values()), default=0)
            self._interleaved = [v[i % len(v)] for i in range(longest) for v in by_task.values()]
        return self._interleaved

    def valid_sample(self, counter: int, *, rank: int, world: int, micro: int) -> MicroBatch:
        """The `counter`-th CoBa validation micro-batch of this rank (cyclic, deterministic)."""
        seq = self.valid_interleaved()
        if not seq:
            return self.collate([])
        base = counter * micro * world + rank * micro
        return self.collate([seq[(base + i) % len(seq)] for i in range(micro)])

    def fill(self) -> dict[str, float]:
        """Useful (non-pad) share of the row slots if every row were padded to seq_length."""

        def f(packs: list[Pack]) -> float:
            return sum(p.tokens for p in packs) / max(1, len(packs) * self.seq_length)

        return {"train": f(self.train_packs), "valid": f(self.valid_packs)}


def build_plan(
    shards: dict[str, dict[str, Any]],
    tasks: list[str],
    *,
    seq_length: int,
    packing: bool,
    overlong: str,
    pad_id: int,
    seed: int,
    valid_max_samples: int = 0,
) -> DataPlan:
    """Fit, count and pack every task's train and valid shards."""
    splits: dict[tuple[str, int], TaskSplit] = {}
    report: dict[str, Any] = {"seq_length": seq_length, "packing": packing, "overlong": overlong, "tasks": {}}
    train_packs: list[Pack] = []
    valid_packs: list[Pack] = []
    for tid, task in enumerate(tasks):
        rep: dict[str, Any] = {}
        for split in ("train", "valid"):
            shard = shards.get(task, {}).get(split)
            if shard is None:
                if split == "train":
                    raise InputError(f"task '{task}' has no train split in the mixture build", field="data.mixture")
                continue
            ts, r = fit_split(
                shard, task, tid, split, seq_length, overlong, valid_max_samples if split == "valid" else 0
            )
            packs = make_packs(ts, seq_length, packing)
            r["rows"] = len(packs)
            r["fill"] = round(sum(p.tokens for p in packs) / max(1, len(packs) * seq_length), 4)
            rep[split] = r
            splits[(split, tid)] = ts
            (train_packs if split == "train" else valid_packs).extend(packs)
        report["tasks"][task] = rep
    if not train_packs:
        raise WorkbenchError(
            "no training sample left after applying the length policy "
            f"(seq_length {seq_length}, overlong '{overlong}'); see the data report"
        )
    for key in (
        "samples",
        "kept",
        "truncated",
        "dropped_overlong",
        "dropped_no_trained",
        "dropped_truncated_to_no_trained",
        "tokens_truncated",
    ):
        report[key] = sum(
            v.get("train", {}).get(key, 0) + v.get("valid", {}).get(key, 0) for v in report["tasks"].values()
        )
    plan = DataPlan(
        tasks=tasks,
        seq_length=seq_length,
        packed=packing,
        pad_id=pad_id,
        splits=splits,
        train_packs=train_packs,
        valid_packs=valid_packs,
        report=report,
        seed=seed,
    )
    report["fill"] = {k: round(v, 4) for k, v in plan.fill().items()}
    return plan


def iter_slots(
    plan: DataPlan, step: int, world: int, grad_accum: int, micro: int
) -> Iterator[tuple[int, int, list[Pack]]]:
    packs = plan.global_batch(step, micro * grad_accum * world)
    for r, per_rank in enumerate(plan.split_global(packs, world, grad_accum, micro)):
        for g, m in enumerate(per_rank):
            yield r, g, m
