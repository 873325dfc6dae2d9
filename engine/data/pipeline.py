"""The processing pipeline: catalog entries in, `datasets/<name>/` out (engine/data/store.py).

Stages, in order (a row is dropped by the first check it fails, and counted under it):
  read + convert   every input's rows → canonical records; unreadable/unconvertible rows go to
                   quarantine.jsonl with file, line, field and reason
  normalise        full-width punctuation/digits inside code → ASCII (counted, not a drop)
  empty_prompt, empty_answer, refusal, truncated     answer quality
  language         the sample's code is in none of the wanted languages (or has no code)
  syntax_error     a code block of an answer does not parse in its language
  too_short, too_long   token length under the workspace tokenizer (max: the sequence length)
  contaminated     n-gram overlap with a validation benchmark item
  exact_duplicate, near_duplicate   (clusters reported; the kept member follows `keep`)

Outputs: data.parquet + report.json, quarantine.jsonl, dropped/<reason>.jsonl (each dropped row
with its detail), all under datasets/<name>/. A run whose inputs, options, tokenizer and
benchmarks are unchanged is not redone (the report says `up_to_date`).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from engine.config import StrictModel
from engine.data import code as codemod
from engine.data import quality
from engine.data.catalog import check_name
from engine.data.langs import LANGUAGES, TaggedBlock, looks_like_code, record_languages, tag_rounds
from engine.data.notices import decontamination_warnings
from engine.data.sources import Loaded, get_entry, source_fingerprint
from engine.data.stats import Accumulator
from engine.data.store import REPORT_FILE, is_processed, read_report, write_processed
from engine.data.syntax import syntax_error
from engine.data.tokenizer import tokenizer_identity
from engine.errors import InputError, WorkbenchError
from engine.fsutil import atomic_write_json, stable_hash
from engine.workspace import Workspace

PIPELINE_VERSION = 1
REASONS = (
    "empty_prompt",
    "empty_answer",
    "refusal",
    "truncated",
    "language",
    "syntax_error",
    "too_short",
    "too_long",
    "contaminated",
    "exact_duplicate",
    "near_duplicate",
)
QUARANTINE_FILE = "quarantine.jsonl"
DROPPED_DIR = "dropped"
EXAMPLES = 5
INLINE_ROWS = 2000  # rows checked in this process before a big input gets a worker pool
CHUNK_ROWS = 250

Progress = Callable[[str, int, "int | None"], None]


class ProcessOptions(StrictModel):
    """What `workbench data process` does; every field has a CLI option of the same name."""

    inputs: list[str] = Field(min_length=1)
    languages: list[str] | None = None  # keep rows with code in one of these (None: no language filter)
    keep_no_code: bool = False  # with a language filter, also keep rows that have no code
    normalize_fullwidth: bool = True
    quality: bool = True  # empty / refusal / truncated answers
    syntax: bool = True
    min_tokens: int = Field(default=0, ge=0)
    max_tokens: int | None = Field(default=None, gt=0)  # None: the workspace's seq_length
    model: str | None = None  # tokenizer; None: the workspace's default model
    template: str | None = None  # chat template; None: the workspace's default
    decontaminate: bool = True
    benchmarks: list[str] | None = None  # None: the workspace's [benchmarks] decontaminate list
    decontam_ngram: int = Field(default=10, ge=3, le=50)
    decontam_min_coverage: float = Field(default=0.5, gt=0, le=1)
    decontam_min_hits: int = Field(default=3, ge=1)
    exact_dedup: bool = True
    near_dedup: bool = True
    near_threshold: float = Field(default=0.85, gt=0, le=1)
    num_perm: int = 128
    shingle: int = Field(default=5, ge=1, le=20)
    keep: Literal["first", "longest"] = "first"
    limit: int | None = Field(default=None, gt=0)  # rows per input (a quick look at a big set)
    workers: int | None = Field(default=None, ge=1)  # processes for the per-row checks (None: CPU count)

    @field_validator("languages")
    @classmethod
    def _known_languages(cls, v: list[str] | None) -> list[str] | None:
        if v is not None:
            bad = [x for x in v if x not in LANGUAGES]
            if bad:
                raise ValueError(f"unknown language(s) {bad}; contest languages: {', '.join(LANGUAGES)}")
        return v

    @field_validator("num_perm")
    @classmethod
    def _pow2(cls, v: int) -> int:
        if v & (v - 1) or not 8 <= v <= 1024:
            raise ValueError("num_perm must be a power of two between 8 and 1024")
        return v


class _Drops:
    def __init__(self, folder: Path):
        self.folder = folder
        self.counts: dict[str, int] = {r: 0 for r in REASONS}
        self.examples: dict[str, list[dict[str, Any]]] = {r: [] for r in REASONS}
        self._files: dict[str, Any] = {}

    def add(self, rec: dict[str, Any], reason: str, detail: str, **extra: Any) -> None:
        self.counts[reason] += 1
        if len(self.examples[reason]) < EXAMPLES:
            self.examples[reason].append({"id": rec["id"], "detail": detail, **extra})
        f = self._files.get(reason)
        if f is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            f = self._files[reason] = open(self.folder / f"{reason}.jsonl", "w", encoding="utf-8")
        row = {
            "id": rec["id"],
            "source": rec["source"],
            "row": rec["row"],
            "file": rec.get("_file"),
            "line": rec.get("_line"),
            "reason": reason,
            "detail": detail,
            **extra,
            "languages": rec.get("languages") or [],
            "chat_rounds": rec["chat_rounds"],
        }
        f.write(json.dumps(row, ensure_ascii=False) + "\n")

    def close(self) -> None:
        for f in self._files.values():
            f.close()


def _answer_code_ok(rounds: list[dict[str, str]], tagged: list[list[TaggedBlock]]) -> tuple[str, str] | None:
    """(reason, detail) for the first answer code block that does not parse."""
    for ti, r in enumerate(rounds):
        if r["role"] != "bot":
            continue
        for bi, tb in enumerate(tagged[ti]):
            if tb.language in LANGUAGES:
                err = syntax_error(tb.language, tb.block.code)
                if err:
                    return "syntax_error", f"turn {ti}, {tb.language} block {bi + 1}: {err}"
    return None


def normalize_rounds(rounds: list[dict[str, str]]) -> tuple[list[dict[str, str]], int]:
    """Full-width → ASCII inside the code of every turn; (new rounds, characters changed)."""
    total = 0
    out = []
    for r in rounds:
        text = r["content"]
        bare = r["role"] == "bot" and not codemod.fenced_blocks(text) and looks_like_code(text)
        fixed, n = codemod.normalize_text_code(text, bare_code=bare)
        total += n
        out.append({"role": r["role"], "content": fixed} if n else r)
    return out, total


def check_row(rec: dict[str, Any], opts: ProcessOptions) -> tuple[str, str] | None:
    """Per-row checks (quality, language, syntax), in order; sets rec['languages']."""
    rounds = rec["chat_rounds"]
    bots = [r["content"] for r in rounds if r["role"] == "bot"]
    humans = [r["content"] for r in rounds if r["role"] == "human"]
    if opts.quality:
        for reason, fn, arg in (
            ("empty_prompt", quality.empty_prompt, humans),
            ("empty_answer", quality.empty_answer, bots),
        ):
            d = fn(arg)
            if d:
                return reason, d
        for b in bots:
            d = quality.refusal(b)
            if d:
                return "refusal", d
        d = quality.truncated(bots[-1])
        if d:
            return "truncated", d
    tagged = tag_rounds(rounds)
    contest, other = record_languages(rounds, tagged)
    rec["languages"] = contest
    if opts.languages is not None:
        if not contest and not (opts.keep_no_code and not other):
            return "language", ("code in " + ", ".join(other) + " only") if other else "no code"
        if contest and not set(contest) & set(opts.languages):
            return "language", "code in " + ", ".join(contest + other)
    if opts.syntax:
        bad = _answer_code_ok(rounds, tagged)
        if bad:
            return bad
    return None


def _check_one(rec: dict[str, Any], opts: ProcessOptions) -> tuple[tuple[str, str] | None, int]:
    nch = 0
    if opts.normalize_fullwidth:
        rec["chat_rounds"], nch = normalize_rounds(rec["chat_rounds"])
    return check_row(rec, opts), nch


_WORKER_TOKENIZER: Any = None


def _init_worker(tokenizer_json: str | None) -> None:
    global _WORKER_TOKENIZER
    if tokenizer_json is not None:
        from tokenizers import Tokenizer

        _WORKER_TOKENIZER = Tokenizer.from_str(tokenizer_json)


def _check_chunk(
    args: tuple[list[dict[str, Any]], ProcessOptions],
) -> list[tuple[Any, Any, list[str], int, int | None]]:
    """Worker side: (drop, normalised rounds or None, languages, chars changed, tokens) per record.
    Tokens are counted here (chatml rendering, the model's own tokenizer pipeline) when the pool
    was given the tokenizer."""
    from engine.chat import render_text

    recs, opts = args
    out: list[list[Any]] = []  # lists while tokens are filled in, tuples on the way out
    for rec in recs:
        bad, nch = _check_one(rec, opts)
        out.append([bad, rec["chat_rounds"] if nch else None, rec.get("languages") or [], nch, None])
    if _WORKER_TOKENIZER is not None:
        todo = [i for i, o in enumerate(out) if o[0] is None]
        encs = _WORKER_TOKENIZER.encode_batch(
            [render_text(recs[i]["chat_rounds"]) for i in todo], add_special_tokens=False
        )
        for i, e in zip(todo, encs):
            out[i][4] = len(e.ids)
    return [(o[0], o[1], o[2], o[3], o[4]) for o in out]


def _workers(opts: ProcessOptions) -> int:
    return opts.workers if opts.workers is not None else min(os.cpu_count() or 1, 8)


def _pool(n: int, tokenizer_json: str | None = None) -> Any:
    import multiprocessing as mp

    # spawn: safe beside the app's threads; each worker rebuilds the tokenizer from its JSON
    # (the exact pipeline transformers built, without importing transformers)
    return mp.get_context("spawn").Pool(n, initializer=_init_worker, initargs=(tokenizer_json,))


def _checked_rows(records: Any, opts: ProcessOptions, pool_of: Callable[[], Any]) -> Any:
    """(record, drop or None, chars normalised) in input order. Rows are checked here until a
    pool exists (the caller starts one once an input proves big), then in chunks by the pool."""
    it = iter(records)
    for rec in it:
        bad, nch = _check_one(rec, opts)
        yield rec, bad, nch
        pool = pool_of()
        if pool is not None:
            break
    else:
        return

    def chunks() -> Any:
        while True:
            chunk = [r for _, r in zip(range(CHUNK_ROWS), it)]
            if not chunk:
                return
            yield chunk

    pending: list[list[dict[str, Any]]] = []

    def feed() -> Any:
        for c in chunks():
            pending.append(c)
            yield (c, opts)

    for results in pool.imap(_check_chunk, feed()):
        chunk = pending.pop(0)
        for rec, (bad, rounds, langs, nch, n_tokens) in zip(chunk, results):
            if rounds is not None:
                rec["chat_rounds"] = rounds
            rec["languages"] = langs
            if n_tokens is not None:
                rec["n_tokens"] = n_tokens
            yield rec, bad, nch


def process(
    ws: Workspace, name: str, opts: ProcessOptions, *, progress: Progress | None = None, force: bool = False
) -> dict[str, Any]:
    """Run the pipeline into datasets/<name>/ and return its report."""
    check_name(name)
    t_start = time.time()
    tick = progress or (lambda stage, done, total: None)
    entries = {i: get_entry(ws, i) for i in opts.inputs}
    template = opts.template or ws.config.defaults.chat_template
    max_tokens = opts.max_tokens or ws.config.defaults.seq_length
    out_dir = ws.datasets_dir / name

    # Identity of everything the result depends on, cheap to compute: an unchanged run is not redone.
    tok_id = tokenizer_identity(ws, opts.model)
    bench_id = _benchmarks_identity(ws, opts) if opts.decontaminate else None
    key = stable_hash(
        {
            "v": PIPELINE_VERSION,
            "opts": opts.model_dump(mode="json"),
            "template": template,
            "max": max_tokens,
            "inputs": {i: source_fingerprint(ws, e) for i, e in entries.items()},
            "tok": tok_id,
            "bench": bench_id,
        }
    )
    old = read_report(out_dir)
    if not force and isinstance(old, dict) and old.get("key") == key and is_processed(out_dir):
        return {**old, "up_to_date": True}

    # Tokenizer (optional: without a model, length filters are skipped and said so)
    tokenizer, tok_info, tok_note = None, None, None
    try:
        from engine.data.tokenizer import load_tokenizer
        from engine.tokens import tokenizer_fingerprint

        tick("loading tokenizer", 0, None)
        tokenizer = load_tokenizer(ws, opts.model)
        tok_info = {
            "model": ws.model_path(opts.model),
            "template": template,
            "fingerprint": tokenizer_fingerprint(tokenizer),
        }
    except WorkbenchError as e:
        if opts.model is not None:
            raise
        tok_note = f"skipped: {e}"

    # Workers count tokens too when the template renders without the tokenizer (chatml).
    backend = getattr(tokenizer, "backend_tokenizer", None)
    tok_json = backend.to_str() if backend is not None and template == "chatml" else None

    # Benchmarks (optional likewise)
    bench_index, bench_info = None, None
    if opts.decontaminate:
        tick("indexing benchmarks", 0, None)
        bench_index, bench_info = _benchmark_index(ws, opts)

    if (out_dir / DROPPED_DIR).exists():
        shutil.rmtree(out_dir / DROPPED_DIR)
    out_dir.mkdir(parents=True, exist_ok=True)
    drops = _Drops(out_dir / DROPPED_DIR)
    timings: dict[str, float] = {}
    inputs_report: dict[str, Any] = {}
    kept: list[dict[str, Any]] = []
    normalized_rows = normalized_chars = 0
    quarantine = open(out_dir / QUARANTINE_FILE, "w", encoding="utf-8")
    try:
        # 1. read, convert, per-row checks
        t0 = time.time()
        n_seen = 0
        pool = None
        try:
            for iname, entry in entries.items():
                loaded = Loaded(ws, iname, entry, opts.limit)
                for rec, bad, nch in _checked_rows(loaded, opts, lambda: pool):  # noqa: B023 - pool made below, on purpose
                    n_seen += 1
                    if nch:
                        normalized_rows += 1
                        normalized_chars += nch
                    if bad:
                        drops.add(rec, *bad)
                    else:
                        kept.append(rec)
                    if n_seen % 500 == 0:
                        tick(f"reading {iname}", n_seen, None)
                    if pool is None and n_seen == INLINE_ROWS and _workers(opts) > 1:
                        pool = _pool(_workers(opts), tok_json)  # a big input: check the rest in parallel
                for b in loaded.bad:
                    quarantine.write(json.dumps(b.to_json(), ensure_ascii=False) + "\n")
                inputs_report[iname] = {
                    "location": entry.path or entry.hub,
                    "format": loaded.format,
                    "read": loaded.n_read,
                    "converted": loaded.n_read - len(loaded.bad),
                    "quarantined": len(loaded.bad),
                    "quarantine_examples": [b.describe() for b in loaded.bad[:EXAMPLES]],
                }
        finally:
            if pool is not None:
                pool.terminate()
        timings["read_and_check"] = round(time.time() - t0, 3)

        # 2. token lengths
        t0 = time.time()
        if tokenizer is not None:
            from engine.data.tokenizer import token_lengths

            todo = [r for r in kept if "n_tokens" not in r]  # workers counted the others
            for s in range(0, len(todo), 1000):
                chunk = todo[s : s + 1000]
                for rec, n in zip(
                    chunk, token_lengths(tokenizer, [r["chat_rounds"] for r in chunk], template=template)
                ):
                    rec["n_tokens"] = n
                tick("counting tokens", min(len(todo), s + 1000), len(todo))
            survivors = []
            for rec in kept:
                n = rec["n_tokens"]
                if n < opts.min_tokens:
                    drops.add(rec, "too_short", f"{n} tokens < min {opts.min_tokens}", n_tokens=n)
                elif n > max_tokens:
                    drops.add(rec, "too_long", f"{n} tokens > max {max_tokens}", n_tokens=n)
                else:
                    survivors.append(rec)
            kept = survivors
        else:
            for rec in kept:
                rec["n_tokens"] = -1
        timings["tokens"] = round(time.time() - t0, 3)

        # 3. decontamination + 4. dedup share one tokenisation of each text
        dedup_report, decon_report = _decontaminate_and_dedup(kept, opts, bench_index, bench_info, drops, tick, timings)
        kept = [r for r in kept if not r.get("_dropped")]
    finally:
        drops.close()
        quarantine.close()

    # 5. stats + write
    t0 = time.time()
    acc = Accumulator(max_tokens)
    for r in kept:
        acc.add(r)
    stats = acc.result()
    timings["stats"] = round(time.time() - t0, 3)
    total_quarantined = sum(v["quarantined"] for v in inputs_report.values())
    n_read = sum(v["read"] for v in inputs_report.values())
    report = {
        "name": name,
        "created": time.time(),
        "key": key,
        "pipeline_version": PIPELINE_VERSION,
        "options": opts.model_dump(mode="json"),
        "max_tokens": max_tokens,
        "template": template,
        "inputs": inputs_report,
        "tokenizer": tok_info,
        "tokenizer_note": tok_note,
        "read": n_read,
        "quarantined": total_quarantined,
        "kept": len(kept),
        "normalized": {"rows": normalized_rows, "chars": normalized_chars},
        "dropped": {r: c for r, c in drops.counts.items()},
        "filters": [{"name": r, "dropped": drops.counts[r], "examples": drops.examples[r]} for r in REASONS],
        "decontamination": decon_report,
        "dedup": dedup_report,
        "stats": stats,
        "warnings": decontamination_warnings(decon_report),
    }
    t0 = time.time()
    tick("writing", 0, len(kept))
    records = (
        {
            "id": r["id"],
            "source": r["source"],
            "row": r["row"],
            "chat_rounds": r["chat_rounds"],
            "languages": r.get("languages") or [],
            "n_tokens": r.get("n_tokens", -1),
        }
        for r in kept
    )
    report["seconds"] = {**timings, "total": round(time.time() - t_start, 3)}
    report = write_processed(out_dir, records, report)
    report["seconds"]["write"] = round(time.time() - t0, 3)
    atomic_write_json(out_dir / REPORT_FILE, report)
    return report


def _which_benchmarks(ws: Workspace, opts: ProcessOptions) -> list[str]:
    return list(opts.benchmarks if opts.benchmarks is not None else ws.config.benchmarks.decontaminate)


def _benchmarks_identity(ws: Workspace, opts: ProcessOptions) -> Any:
    from engine.data.benchmarks import copies_identity

    return copies_identity(ws, _which_benchmarks(ws, opts))


def _benchmark_index(ws: Workspace, opts: ProcessOptions) -> tuple[Any, dict[str, Any]]:
    """The decontamination index and its report part; without benchmark text, the report says
    why it was skipped. `missing` names the parts that were asked for but not checked."""
    from engine.data.benchmarks import benchmarks_fingerprint, load_copies
    from engine.data.decontam import build_index

    copies = load_copies(ws, _which_benchmarks(ws, opts))
    if not copies.items:
        return None, {"skipped": copies.summary(), "source": copies.origin, "missing": copies.missing}
    index = build_index(copies.items, ngram=opts.decontam_ngram)
    info = {
        "source": copies.origin,
        "data_dir": copies.data_dir,
        "benchmarks": sorted(copies.sources),
        "items": len(copies.items),
        "files": copies.sources,
        "missing": copies.missing,
        "fingerprint": benchmarks_fingerprint(copies.data_dir, _which_benchmarks(ws, opts))
        if copies.data_dir
        else None,
        "boilerplate_ngrams": index.stopped,
    }
    return index, info


def _decontaminate_and_dedup(
    kept: list[dict[str, Any]],
    opts: ProcessOptions,
    bench_index: Any,
    bench_info: dict[str, Any] | None,
    drops: _Drops,
    tick: Progress,
    timings: dict[str, float],
) -> tuple[dict[str, Any], dict[str, Any]]:
    import numpy as np

    from engine.data.decontam import match_tokens
    from engine.data.dedup import NearDupIndex, normalized_key
    from engine.data.shingles import token_hashes

    t0 = time.time()
    n = len(kept)

    def texts_of(r: dict[str, Any]) -> str:
        return "\n".join(x["content"] for x in r["chat_rounds"])

    near = NearDupIndex(num_perm=opts.num_perm, ngram=opts.shingle) if opts.near_dedup else None
    alive = np.ones(n, dtype=bool)
    by_bench: dict[str, int] = {}
    decon_examples: list[dict[str, Any]] = []
    t_dec = 0.0
    for s in range(0, n, 2000):
        chunk = kept[s : s + 2000]
        h, off = token_hashes([texts_of(r) for r in chunk])
        if bench_index is not None:
            td = time.time()
            found = match_tokens(
                bench_index, h, off, min_coverage=opts.decontam_min_coverage, min_hits=opts.decontam_min_hits
            )
            for i, ms in found.items():
                rec = chunk[i]
                best = ms[0]
                detail = f"{best.item} ({best.field}: {best.coverage:.0%} of its {opts.decontam_ngram}-grams)"
                drops.add(rec, "contaminated", detail, matches=[m.to_json() for m in ms[:5]])
                rec["_dropped"] = True
                alive[s + i] = False
                bench = best.item.split(":")[0]
                by_bench[bench] = by_bench.get(bench, 0) + 1
                if len(decon_examples) < 20:
                    decon_examples.append({"id": rec["id"], **best.to_json()})
            t_dec += time.time() - td
        if near is not None:
            near.add_tokens(h, off)
        tick("decontaminate + signatures", min(n, s + 2000), n)
    timings["decontaminate"] = round(t_dec, 3)
    if bench_index is not None:
        decon = {
            **(bench_info or {}),
            "ngram": opts.decontam_ngram,
            "min_coverage": opts.decontam_min_coverage,
            "min_hits": opts.decontam_min_hits,
            "dropped": drops.counts["contaminated"],
            "by_benchmark": by_bench,
            "examples": decon_examples,
        }
    else:
        decon = bench_info or {"skipped": "disabled"}

    dedup: dict[str, Any] = {
        "keep": opts.keep,
        "keep_rule": "first: the earliest row (inputs in the order given, then row order)"
        if opts.keep == "first"
        else "longest: the longest answer (ties: the earliest row)",
    }
    t_exact = time.time()
    if opts.exact_dedup:
        groups: dict[bytes, list[int]] = {}
        for i in np.flatnonzero(alive).tolist():
            groups.setdefault(normalized_key(texts_of(kept[i])), []).append(i)
        clusters = 0
        for members in groups.values():
            if len(members) < 2:
                continue
            clusters += 1
            rep = max(members, key=lambda i: (_answer_len(kept[i]), -i)) if opts.keep == "longest" else members[0]
            for m in members:
                if m != rep:
                    drops.add(
                        kept[m], "exact_duplicate", f"same text as {kept[rep]['id']}", duplicate_of=kept[rep]["id"]
                    )
                    kept[m]["_dropped"] = True
                    alive[m] = False
        dedup["exact"] = {"clusters": clusters, "dropped": drops.counts["exact_duplicate"]}
    timings["exact_dedup"] = round(time.time() - t_exact, 3)
    timings["signatures"] = round(t_exact - t0 - t_dec, 3)
    if near is not None:
        t1 = time.time()
        tick("near-duplicate clusters", 0, None)
        res = near.clusters(
            threshold=opts.near_threshold, keep=opts.keep, answer_lengths=[_answer_len(r) for r in kept], alive=alive
        )
        examples: list[dict[str, Any]] = []
        for c in res.clusters:
            for m in c[1:]:
                drops.add(
                    kept[m],
                    "near_duplicate",
                    f"Jaccard {res.similarity[m]:.2f} with {kept[c[0]]['id']}",
                    duplicate_of=kept[c[0]]["id"],
                    similarity=res.similarity[m],
                )
                kept[m]["_dropped"] = True
            if len(examples) < 20:
                examples.append(
                    {
                        "kept": kept[c[0]]["id"],
                        "dropped": [{"id": kept[m]["id"], "similarity": res.similarity[m]} for m in c[1:]],
                    }
                )
        dedup["near"] = {
            "threshold": opts.near_threshold,
            "num_perm": opts.num_perm,
            "shingle": opts.shingle,
            "bands": res.bands,
            "rows_per_band": res.rows,
            "candidate_pairs": res.candidate_pairs,
            "confirmed_pairs": res.confirmed_pairs,
            "clusters": len(res.clusters),
            "dropped": drops.counts["near_duplicate"],
            "examples": examples,
        }
        timings["near_dedup"] = round(time.time() - t1, 3)
    return dedup, decon


def _answer_len(rec: dict[str, Any]) -> int:
    return sum(len(r["content"]) for r in rec["chat_rounds"] if r["role"] == "bot")


def dropped_rows(ws: Workspace, name: str, reason: str, *, offset: int = 0, limit: int = 50) -> list[dict[str, Any]]:
    """Dropped rows of a processed dataset for one reason (or 'quarantine')."""
    folder = ws.datasets_dir / check_name(name)
    path = folder / QUARANTINE_FILE if reason == "quarantine" else folder / DROPPED_DIR / f"{reason}.jsonl"
    if reason != "quarantine" and reason not in REASONS:
        raise InputError(f"unknown reason {reason!r}; one of: quarantine, {', '.join(REASONS)}", field="reason")
    if not path.exists():
        return []
    out: list[dict[str, Any]] = []
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i < offset:
                continue
            if len(out) >= limit:
                break
            out.append(json.loads(line))
    return out
