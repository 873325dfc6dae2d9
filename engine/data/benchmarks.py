"""The validation benchmarks' text, for decontamination. Read from the workspace's
`[benchmarks] data_dir` when it is set:

    humanevalpack/<lang>.jsonl   prompt, instruction, canonical_solution, buggy_solution
    mbpp/mbpp.jsonl              text, code, test_list
    leetcode/*.jsonl[.gz]        query, response, completion (files with "train" in the name
                                 are training data, not a benchmark, and are skipped)

else from the hub's copies (HUB_COPIES), read like a hub entry of the catalog
(engine/data/sources.py): the workspace's `[hub] mirror` first, then the Hugging Face cache,
then the hub when it can be reached. What could not be read is named, so that the pipeline can
warn about a decontamination that was skipped or partial.

Each item keeps its text per field so that a match can say which part of which item it hit.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from engine.errors import InputError, WorkbenchError
from engine.fsutil import file_fingerprint, stable_hash

if TYPE_CHECKING:
    from engine.workspace import Workspace

BENCHMARKS = ("humanevalpack", "mbpp", "leetcode")
HUMANEVAL_LANGS = ("python", "js", "java", "go", "cpp", "rust")
FIELDS = {
    "humanevalpack": ("prompt", "instruction", "canonical_solution", "buggy_solution"),
    "mbpp": ("text", "code", "test_list"),
    "leetcode": ("query", "response", "completion"),
}
OFFLINE = "not available offline (no [hub] mirror copy, not in the Hugging Face cache)"


class HubCopy(NamedTuple):
    """Where one benchmark part is on the hub: the validation side's hub id for `benchmark`
    (engine/problems/sources.py HUB_IDS), its config, and its splits; optional splits are read
    when the copy has them (MBPP is read whole where it can be, as the local mbpp.jsonl is)."""

    benchmark: str
    config: str | None
    splits: tuple[str, ...]
    optional_splits: tuple[str, ...] = ()


HUB_COPIES: dict[str, HubCopy] = {
    **{f"humanevalpack/{lang}": HubCopy("humanevalpack", lang, ("test",)) for lang in HUMANEVAL_LANGS},
    "mbpp": HubCopy("mbpp", "full", ("test",), ("train", "validation", "prompt")),
    "leetcode": HubCopy("leetcode", None, ("test",)),
}


@dataclass
class BenchmarkItem:
    benchmark: str  # "humanevalpack/python", "mbpp", "leetcode"
    item_id: str  # task id within it
    fields: dict[str, str]

    @property
    def key(self) -> str:
        return f"{self.benchmark}:{self.item_id}"


def _check_known(which: tuple[str, ...] | list[str]) -> None:
    unknown = [w for w in which if w not in BENCHMARKS]
    if unknown:
        raise InputError(f"unknown benchmark(s) {unknown}; known: {', '.join(BENCHMARKS)}", field="decontaminate")


def benchmark_files(data_dir: Path, which: tuple[str, ...] | list[str] = BENCHMARKS) -> dict[str, list[Path]]:
    """{benchmark name: files} present under data_dir (missing ones are simply absent)."""
    _check_known(which)
    out: dict[str, list[Path]] = {}
    if "humanevalpack" in which:
        for lang in HUMANEVAL_LANGS:
            p = data_dir / "humanevalpack" / f"{lang}.jsonl"
            if p.exists():
                out[f"humanevalpack/{lang}"] = [p]
    if "mbpp" in which:
        p = data_dir / "mbpp" / "mbpp.jsonl"
        if p.exists():
            out["mbpp"] = [p]
    if "leetcode" in which:
        d = data_dir / "leetcode"
        files = (
            sorted(f for f in d.glob("*.jsonl*") if f.suffix in (".jsonl", ".gz") and "train" not in f.name.lower())
            if d.is_dir()
            else []
        )
        if files:
            out["leetcode"] = files
    return out


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            if line.strip():
                try:
                    yield i, json.loads(line)
                except json.JSONDecodeError as e:
                    raise InputError(f"invalid JSON in a benchmark file: {e.msg}", file=path, line=i) from None


def _as_text(v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, list):
        return "\n".join(x for x in v if isinstance(x, str))
    return ""


def load_items(data_dir: str | Path, which: tuple[str, ...] | list[str] = BENCHMARKS) -> list[BenchmarkItem]:
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise WorkbenchError(f"benchmark folder not found: {data_dir} (workspace [benchmarks] data_dir)")
    items: list[BenchmarkItem] = []
    for name, files in benchmark_files(data_dir, which).items():
        for path in files:
            items += _items(name, ((f"{path.name}:{line}", row) for line, row in _rows(path)))
    return items


def _items(part: str, rows: Iterable[tuple[str, dict[str, Any]]]) -> list[BenchmarkItem]:
    """Items of one benchmark part from (where, row) pairs; rows without text are left out."""
    kind = part.split("/")[0]
    out = []
    for where, row in rows:
        ident = str(row.get("task_id", row.get("id", where)))
        fields = {f: _as_text(row.get(f)) for f in FIELDS[kind]}
        fields = {k: v for k, v in fields.items() if v.strip()}
        if fields:
            out.append(BenchmarkItem(part, ident, fields))
    return out


def benchmarks_fingerprint(data_dir: str | Path, which: tuple[str, ...] | list[str] = BENCHMARKS) -> str:
    files = benchmark_files(Path(data_dir), which) if Path(data_dir).is_dir() else {}
    return stable_hash({k: [file_fingerprint(p) for p in v] for k, v in files.items()})


def parts(which: tuple[str, ...] | list[str]) -> list[str]:
    """The benchmark parts a list of benchmarks asks for (HumanEvalPack: one per language)."""
    _check_known(which)
    return [p for p in HUB_COPIES if p.split("/")[0] in which]


# -- the copies decontamination uses ------------------------------------------------------------
@dataclass
class BenchmarkCopies:
    """The benchmark items decontamination checks against, where they came from, and what was
    asked for but could not be read (part -> reason)."""

    origin: str  # "data_dir" | "hub"
    items: list[BenchmarkItem]
    sources: dict[str, list[str]]  # part -> files or hub copies read
    missing: dict[str, str] = field(default_factory=dict)
    data_dir: str | None = None

    def summary(self) -> str:
        """Why there is nothing to check against (for a skipped decontamination)."""
        reasons = sorted(set(self.missing.values()))
        if not reasons:  # every file was read, and none held benchmark text
            return f"the benchmark copies read ({', '.join(self.sources)}) hold no benchmark text"
        why = reasons[0] if len(reasons) == 1 else "; ".join(f"{k}: {v}" for k, v in self.missing.items())
        if self.origin == "data_dir":
            return why
        return "no [benchmarks] data_dir in workspace.toml, and the hub's benchmark copies " + (
            "are " + why if reasons == [OFFLINE] else "could not be read: " + why
        )


def load_copies(ws: Workspace, which: tuple[str, ...] | list[str]) -> BenchmarkCopies:
    """The benchmarks in `which`: from `[benchmarks] data_dir` when set (a broken file there is
    an error), else the hub's copies (what cannot be read is listed in `missing`)."""
    d = ws.benchmarks_dir()
    if d is None:
        return _hub_copies(ws, which)
    wanted = parts(which)
    if not d.is_dir():
        return BenchmarkCopies("data_dir", [], {}, {p: f"benchmark folder not found: {d}" for p in wanted}, str(d))
    files = benchmark_files(d, which)
    missing = {p: f"no file for it under {d}" for p in wanted if p not in files}
    if not files:
        missing = {p: f"no benchmark files under {d} for {list(which)}" for p in wanted}
    return BenchmarkCopies(
        "data_dir",
        load_items(d, which) if files else [],
        {k: [str(p) for p in v] for k, v in files.items()},
        missing,
        str(d),
    )


def copies_identity(ws: Workspace, which: tuple[str, ...] | list[str]) -> Any:
    """Changes when the copies `load_copies` would read change (cheap: no rows are read)."""
    d = ws.benchmarks_dir()
    if d is not None:
        return {"dir": str(d), "which": list(which), "fp": benchmarks_fingerprint(d, which)}
    from engine.data.catalog import mirror_dir
    from engine.data.sources import hub_copy_state

    state: dict[str, str] = {}
    for hub_id in sorted({_hub_id(p) for p in parts(which)}):
        st = hub_copy_state(ws, hub_id)
        m = mirror_dir(ws, hub_id)
        state[hub_id] = (
            file_fingerprint(m) if st == "mirror" and m is not None else ("offline" if st == "offline" else "hub")
        )  # cached or online: the same hub copy
    return {"hub": state, "which": list(which)}


def _hub_id(part: str) -> str:
    return _hub_id_of(HUB_COPIES[part])


def _hub_id_of(copy: HubCopy) -> str:
    from engine.problems.sources import HUB_IDS

    return HUB_IDS[copy.benchmark]


def _hub_copies(ws: Workspace, which: tuple[str, ...] | list[str]) -> BenchmarkCopies:
    from engine.data.sources import hub_copy_state

    copies = BenchmarkCopies("hub", [], {})
    states: dict[str, str] = {}
    for part in parts(which):
        hub_id = _hub_id(part)
        if hub_id not in states:
            states[hub_id] = hub_copy_state(ws, hub_id)
        if states[hub_id] == "offline":
            copies.missing[part] = OFFLINE
            continue
        try:
            copies.items += _hub_part(ws, part, copies.sources.setdefault(part, []))
        except WorkbenchError as e:
            copies.sources.pop(part, None)
            copies.missing[part] = str(e)
    return copies


def _hub_part(ws: Workspace, part: str, read: list[str]) -> list[BenchmarkItem]:
    """Items of one part from its hub copy, every split of it; `read` gets what was read."""
    from engine.data.catalog import mirror_dir
    from engine.data.sources import raw_rows
    from engine.workspace import DatasetEntry

    hub_id, copy = _hub_id(part), HUB_COPIES[part]
    m = mirror_dir(ws, hub_id)
    if copy.config and m is not None and m.is_dir() and not (m / copy.config).is_dir():
        # the catalog would read the whole repository instead: here that would mix languages
        configs = sorted({c.config + "/" for c in HUB_COPIES.values() if c.config and _hub_id_of(c) == hub_id})
        raise WorkbenchError(f"not in the mirror copy {m} (a folder per config: {', '.join(configs)})")
    items: list[BenchmarkItem] = []
    for split in copy.splits + copy.optional_splits:
        entry = DatasetEntry(hub=hub_id, config=copy.config, split=split)
        try:
            items += _items(part, _good_rows(raw_rows(ws, entry)))
        except InputError as e:
            if split in copy.optional_splits and e.field == "split":  # a mirror may hold fewer
                continue
            raise
        read.append(hub_id + (f" [{copy.config}]" if copy.config else "") + f" :{split}")
    return items


def _good_rows(rows: Iterable[Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for r in rows:
        if r.data is None:
            raise InputError(f"unreadable benchmark row: {r.error}", file=r.where)
        yield r.where, r.data
