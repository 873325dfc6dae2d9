"""Expected outputs of evalplus problems, computed as `evalplus.evaluate.get_groundtruth` does:
the canonical solution (`prompt + canonical_solution`) called on a deep copy of every input.

The canonical code is the problem file's, and a file is input: it runs only in the sandbox,
through `engine.execute.execute`, never in the workbench process, which never unpickles what
comes back either (the outputs travel as opaque base85 blobs, zlib-compressed pickles, that only
the sandboxed test programs decode). `execute()` returns a program's stderr tail (its result's
`detail`), not its output, so a program reports at most BUDGET characters:

    D <blob>          the outputs of inputs [start, end) in one blob
    S <n1,n2,...>     too large: the blob size of each block of inputs; the next round fetches
                      blocks (or runs of small blocks) that fit
    P <sha> <part>    part j of n of one output too large on its own (sets are pickled in a fixed
                      order, so every run serializes it alike; the sha checks the reassembly)

One `execute()` per round for every problem of the file at once; a round is usually all it
takes. Results are cached per file, keyed by the file's content hash (with the interpreter's
fingerprint), under the executor's cache folder: a second run reads them back.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import pickle
import re
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import InputError, WorkbenchError
from engine.problems.model import Problem

ORACLE_VERSION = "1"  # bump when what a cached entry holds changes
BUDGET = 1500  # payload characters one program reports (execute() keeps a 2000-character tail)
FILL = 0.85  # how full a planned fetch may be (blob sizes of merged blocks are estimates)
MAX_BLOCKS = 48  # block sizes one "S" report carries
MAX_ROUNDS = 12
TIMEOUT = 120.0  # CPU seconds for one program (a canonical solution on a share of its inputs)

Progress = Callable[[str], None]


def encode(obj: Any) -> str:
    """An opaque blob for a sandboxed program: base85 of a zlib-compressed pickle."""
    return base64.b85encode(zlib.compress(pickle.dumps(obj, protocol=4), 9)).decode("ascii")


class OracleGroup:
    """The expected outputs of one file's evalplus problems (`members`), computed once for all."""

    def __init__(self, content_key: str, label: str):
        self.content_key = content_key
        self.label = label
        self.members: list[Problem] = []
        self._outputs: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    @classmethod
    def for_file(cls, path: str | Path) -> OracleGroup:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        return cls(h.hexdigest(), str(path))

    @classmethod
    def for_rows(cls, rows: list[dict[str, Any]], label: str = "rows") -> OracleGroup:
        text = json.dumps(rows, sort_keys=True, default=repr)
        return cls(hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(), label)

    def expected(self, problem: Problem) -> list[str]:
        """The blobs of `problem`'s expected outputs, all its inputs (base, then plus) in order."""
        self.ensure()
        return self._outputs[problem.task_id]

    def ensure(self, progress: Progress | None = None) -> None:
        with self._lock:
            missing = [p for p in self.members if p.task_id not in self._outputs]
            if not missing:
                return
            path = self._cache_path()
            cached = _read_cache(path)
            fresh = {
                p.task_id: cached[p.task_id]["chunks"]
                for p in missing
                if cached.get(p.task_id, {}).get("n") == _n_inputs(p)
            }
            todo = [p for p in missing if p.task_id not in fresh]
            if todo:
                if progress:
                    progress(
                        f"computing the expected outputs of {len(todo)} evalplus problems of {self.label} "
                        "from their canonical solutions (in the sandbox; cached afterwards)"
                    )
                computed = compute(todo, progress)
                fresh.update(computed)
                cached.update({p.task_id: {"n": _n_inputs(p), "chunks": computed[p.task_id]} for p in todo})
                _write_cache(path, cached)
            self._outputs.update(fresh)

    def _cache_path(self) -> Path:
        from engine.execute.toolchains import exec_cache_dir, probe

        env = hashlib.sha256(f"{ORACLE_VERSION}|{probe('python').fingerprint}".encode()).hexdigest()[:12]
        return exec_cache_dir() / "evalplus" / f"{self.content_key[:40]}-{env}.json"


def prepare(problems: list[Problem], progress: Progress | None = None) -> None:
    """Compute (or read back) the expected outputs of every evalplus problem in `problems`, one
    file at a time, before execution asks for them."""
    groups: dict[int, OracleGroup] = {}
    for p in problems:
        if p.plus is not None and p.plus.group is not None:
            groups.setdefault(id(p.plus.group), p.plus.group)
    for g in groups.values():
        g.ensure(progress)


def _n_inputs(p: Problem) -> int:
    assert p.plus is not None
    return len(p.plus.base) + len(p.plus.plus)


def _read_cache(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    ok = isinstance(data, dict) and data.get("version") == ORACLE_VERSION and isinstance(data.get("tasks"), dict)
    return (
        {k: v for k, v in data["tasks"].items() if isinstance(v, dict) and isinstance(v.get("chunks"), list)}
        if ok
        else {}
    )


def _write_cache(path: Path, tasks: dict[str, Any]) -> None:
    from engine.fsutil import atomic_write_json

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, {"version": ORACLE_VERSION, "tasks": tasks}, indent=None)
    except OSError:
        pass  # an unwritable cache only costs the next run the same computation


# ----------------------------------------------------------------------------------------------
# rounds of sandboxed programs


@dataclass(frozen=True)
class Job:
    task_id: str
    start: int  # inputs [start, end) of the problem
    end: int
    piece: tuple[int, int] | None = None  # (j, n): part j of n of the single output `start`


def compute(problems: list[Problem], progress: Progress | None = None) -> dict[str, list[str]]:
    """{task_id: blobs} for problems whose canonical solution runs cleanly on every input."""
    by_id = {p.task_id: p for p in problems}
    chunks: dict[str, dict[int, str]] = {p.task_id: {} for p in problems}
    pieces: dict[tuple[str, int], dict[int, tuple[str, str]]] = {}
    jobs = [Job(p.task_id, 0, _n_inputs(p)) for p in problems if _n_inputs(p)]
    for rnd in range(1, MAX_ROUNDS + 1):
        if not jobs:
            break
        if progress and rnd > 1:
            progress(f"  expected outputs: round {rnd}, {len(jobs)} programs for the larger outputs")
        nxt: list[Job] = []
        for job, kind, payload in _run_round(jobs, by_id):
            if kind == "D":
                chunks[job.task_id][job.start] = payload
            elif kind == "S":
                nxt += _plan(job, [int(x) for x in payload.split(",")])
            else:
                _collect_piece(job, payload, pieces, chunks, by_id)
        jobs = nxt
    else:
        if jobs:
            raise WorkbenchError(f"expected outputs of {jobs[0].task_id}: not transferred in {MAX_ROUNDS} rounds")
    return {tid: [c[k] for k in sorted(c)] for tid, c in chunks.items()}


def _plan(job: Job, sizes: list[int]) -> list[Job]:
    """Fetch jobs for a range too large for one report, from its blocks' blob sizes."""
    block = _block(job)
    limit = int(BUDGET * FILL)
    out: list[Job] = []
    run_start, run_size = None, 0
    for k, size in enumerate(sizes):
        s, e = job.start + k * block, min(job.end, job.start + (k + 1) * block)
        if run_start is not None and (size > limit or run_size + size > limit):
            out.append(Job(job.task_id, run_start, s))  # close the run of small blocks
            run_start, run_size = None, 0
        if size > limit:
            if e - s > 1:
                out.append(Job(job.task_id, s, e))  # reports finer blocks
            else:
                n = math.ceil(size / limit)
                out += [Job(job.task_id, s, e, (j, n)) for j in range(n)]
            continue
        if run_start is None:
            run_start = s
        run_size += size
    if run_start is not None:
        out.append(Job(job.task_id, run_start, job.end))
    return out


def _block(job: Job) -> int:
    return max(1, math.ceil((job.end - job.start) / MAX_BLOCKS))


def _collect_piece(
    job: Job,
    payload: str,
    pieces: dict[tuple[str, int], dict[int, tuple[str, str]]],
    chunks: dict[str, dict[int, str]],
    by_id: dict[str, Problem],
) -> None:
    assert job.piece is not None
    j, n = job.piece
    sha, _, part = payload.partition(" ")
    got = pieces.setdefault((job.task_id, job.start), {})
    got[j] = (sha, part)
    if len(got) < n:
        return
    blob = "".join(got[k][1] for k in range(n))
    if {s for s, _ in got.values()} != {sha} or hashlib.sha256(blob.encode()).hexdigest()[:16] != sha:
        p = by_id[job.task_id]
        raise InputError(
            f"{p.task_id}: the canonical solution's output for input {job.start} differs from run "
            "to run; its expected output cannot be fixed",
            file=p.source or None,
            line=p.line,
            field="canonical_solution",
        )
    chunks[job.task_id][job.start] = blob


def _run_round(jobs: list[Job], by_id: dict[str, Problem]) -> list[tuple[Job, str, str]]:
    from engine.execute import Limits, execute
    from engine.execute.samples import Sample

    probs, samples = [], []
    for k, job in enumerate(jobs):
        p = by_id[job.task_id]
        gp = Problem(
            task_id=f"oracle/{k}",
            language="python",
            suite="workbench",
            layout="oracle",
            test=_driver(p, job),
            solution_kind="solution",
        )
        probs.append(gp)
        samples.append(Sample(gp.task_id, p.prompt + (p.canonical_solution or ""), "solution", 0))
    report = execute(probs, samples, cache=False, limits=Limits(timeout=TIMEOUT, max_timeouts=1))
    return [(jobs[int(r["task_id"].split("/")[1])],) + _payload(r, by_id, jobs) for r in report.results]


_REPORT = re.compile(r"@@WBGT ([DSP]) (\S+(?: \S+)?) @@")


def _payload(r: dict[str, Any], by_id: dict[str, Problem], jobs: list[Job]) -> tuple[str, str]:
    job = jobs[int(r["task_id"].split("/")[1])]
    p = by_id[job.task_id]
    detail = str(r.get("detail") or "")
    if r["verdict"] == "infra_error":
        raise WorkbenchError(
            f"{p.task_id}: cannot compute expected outputs, the Python toolchain is not usable: "
            f"{detail.splitlines()[0] if detail else 'infra error'} (run `workbench eval doctor`)"
        )
    if r["verdict"] != "passed":
        last = detail.strip().splitlines()[-1] if detail.strip() else r["verdict"]
        raise InputError(
            f"{p.task_id}: the canonical solution fails on its own inputs ({r['verdict']}: "
            f"{last[:300]}), so its expected outputs cannot be computed",
            file=p.source or None,
            line=p.line,
            field="canonical_solution",
        )
    m = _REPORT.search(detail)
    if not m:
        raise WorkbenchError(
            f"{p.task_id}: the expected-output program's report did not come back whole "
            f"(the executor kept {len(detail)} characters of its stderr)"
        )
    return m.group(1), m.group(2)


def _driver(p: Problem, job: Job) -> str:
    """The test half of a ground-truth program: call the canonical solution on inputs
    [start, end) and report their blob (or its size plan, or one part of it) on stderr."""
    from engine.problems.evalplus import MBPP_OUTPUT_NOT_NONE_TASKS

    assert p.plus is not None
    inputs = (p.plus.base + p.plus.plus)[job.start : job.end]
    not_none = p.plus.dataset == "mbpp" and p.entry_point in MBPP_OUTPUT_NOT_NONE_TASKS
    head = (
        f"_GT_ENTRY, _GT_INPUTS = {p.entry_point!r}, {encode(list(inputs))!r}\n"
        f"_GT_NOT_NONE, _GT_PIECE, _GT_BUDGET, _GT_BLOCK = {not_none!r}, {job.piece!r}, {BUDGET}, {_block(job)}\n"
    )
    return head + DRIVER


DRIVER = r'''import base64 as _gt_b64, copy as _gt_copy, hashlib as _gt_hashlib, io as _gt_io
import pickle as _gt_pickle, sys as _gt_sys, zlib as _gt_zlib


class _GtPickler(_gt_pickle.Pickler):
    # sets in a fixed order: a part of an output must come out the same in every run
    def reducer_override(self, obj):
        if type(obj) in (set, frozenset):
            return type(obj), (sorted(obj, key=repr),)
        return NotImplemented


def _gt_enc(obj):
    buf = _gt_io.BytesIO()
    _GtPickler(buf, protocol=4).dump(obj)
    return _gt_b64.b85encode(_gt_zlib.compress(buf.getvalue(), 9)).decode("ascii")


def _gt_report(kind, payload):
    _gt_sys.stderr.write("\n@@WBGT " + kind + " " + payload + " @@\n")
    _gt_sys.stderr.flush()


_gt_fn = globals()[_GT_ENTRY]
_gt_out = [_gt_fn(*_gt_copy.deepcopy(x)) for x in _gt_pickle.loads(_gt_zlib.decompress(_gt_b64.b85decode(_GT_INPUTS)))]
if _GT_NOT_NONE:
    _gt_out = [o is not None for o in _gt_out]
_gt_blob = _gt_enc(_gt_out)
if _GT_PIECE is not None:
    _gt_size = -(-len(_gt_blob) // _GT_PIECE[1])
    _gt_sha = _gt_hashlib.sha256(_gt_blob.encode()).hexdigest()[:16]
    _gt_report("P", _gt_sha + " " + _gt_blob[_GT_PIECE[0] * _gt_size:(_GT_PIECE[0] + 1) * _gt_size])
elif len(_gt_blob) <= _GT_BUDGET:
    _gt_report("D", _gt_blob)
else:
    _gt_report("S", ",".join(str(len(_gt_enc(_gt_out[i:i + _GT_BLOCK]))) for i in range(0, len(_gt_out), _GT_BLOCK)))
'''
