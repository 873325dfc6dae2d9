"""Where problem sets come from: a file, or a built-in name resolved against a local mirror
folder (laid out like ../shared/data) or the Hugging Face hub.

Built-in names:
    humanevalpack                 all six languages          humanevalpack/<lang>.jsonl
    humanevalpack:<lang>          python js java go cpp rust  (hub: bigcode/humanevalpack)
    mbpp[:test|full|train|validation|prompt]   test = task ids 11-510   mbpp/mbpp.jsonl
    leetcode[:test|train|<version>[-<split>]]  newest version found      leetcode/*.jsonl[.gz]
Several specs can be joined with commas.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from engine.errors import InputError, WorkbenchError
from engine.problems.evalplus import with_group
from engine.problems.model import HEP_FILE, LANGUAGES, Problem, normalize_language
from engine.problems.oracle import OracleGroup
from engine.problems.schemas import problem_from_row

MBPP_SPLITS = {
    "test": (11, 510),
    "train": (601, 974),
    "validation": (511, 600),
    "prompt": (1, 10),
    "full": (1, 10**9),
    "all": (1, 10**9),
}
HUB_IDS = {
    "humanevalpack": "bigcode/humanevalpack",
    "mbpp": "google-research-datasets/mbpp",
    "leetcode": "newfacade/LeetCodeDataset",
}
BUILTINS = ("humanevalpack", "mbpp", "leetcode")


def read_rows(path: str | Path) -> Iterator[tuple[int | None, Any]]:
    """(line, row) pairs of a .jsonl / .jsonl.gz / .json (array) file; bad JSON names file and line."""
    path = Path(path)
    if path.is_dir():
        raise InputError("is a folder, not a file", file=path)
    if not path.is_file():
        raise InputError("file not found", file=path)
    opener = gzip.open if path.name.endswith(".gz") else open
    stem = path.name.removesuffix(".gz")
    try:
        if stem.endswith(".json"):
            with opener(path, "rt", encoding="utf-8") as f:
                yield from _json_array_rows(f.read(), path)
            return
        with opener(path, "rb") as f:
            for i, raw in enumerate(f, 1):
                try:  # line by line, so that a bad byte is reported with its line
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    raise InputError(f"not UTF-8 text (byte {e.start + 1} of the line)", file=path, line=i) from None
                if i == 1:
                    line = line.removeprefix("\ufeff")
                if not line.strip():
                    continue
                try:
                    yield i, json.loads(line)
                except json.JSONDecodeError as e:
                    raise InputError(f"invalid JSON: {e.msg}", file=path, line=i) from None
    except (OSError, EOFError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read: {e}", file=path) from None


def _json_array_rows(text: str, path: Path) -> Iterator[tuple[int, Any]]:
    """The elements of a JSON array, each with the line it starts on."""
    text = text.removeprefix("\ufeff")
    decoder = json.JSONDecoder()
    i = _skip_space(text, 0)
    if not text.startswith("[", i):
        try:
            json.loads(text)
        except json.JSONDecodeError as e:
            raise InputError(f"invalid JSON: {e.msg}", file=path, line=e.lineno) from None
        raise InputError("expected a JSON array of problems", file=path, line=1)
    line, counted, i = 1, 0, _skip_space(text, i + 1)
    while not text.startswith("]", i):
        line += text.count("\n", counted, i)
        counted = i
        try:
            row, i = decoder.raw_decode(text, i)
        except json.JSONDecodeError as e:
            raise InputError(f"invalid JSON: {e.msg}", file=path, line=e.lineno) from None
        yield line, row
        i = _skip_space(text, i)
        if text.startswith(",", i):
            i = _skip_space(text, i + 1)
        elif not text.startswith("]", i):
            raise InputError(
                "invalid JSON: expected ',' or ']' between array elements", file=path, line=1 + text.count("\n", 0, i)
            )
    if text[i + 1 :].strip():
        raise InputError("invalid JSON: extra data after the array", file=path, line=1 + text.count("\n", 0, i))


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i


def load_file(path: str | Path, *, schema: str | None = None) -> list[Problem]:
    """Every row of a problem file, its layout detected row by row. evalplus rows share one set of
    expected outputs, keyed by the file's content hash (engine.problems.oracle)."""
    problems = [problem_from_row(row, file=str(path), line=line, schema=schema) for line, row in read_rows(path)]
    if any(p.plus is not None for p in problems):
        problems = with_group(problems, OracleGroup.for_file(path))
    return problems


def resolve_data_dir(data_dir: str | Path | None) -> Path | None:
    if data_dir:
        return Path(os.path.expanduser(str(data_dir)))
    env = os.environ.get("WORKBENCH_BENCHMARKS")
    return Path(os.path.expanduser(env)) if env else None


def load_problems(
    spec: str, data_dir: str | Path | None = None, *, offline: bool | None = None, languages: list[str] | None = None
) -> list[Problem]:
    """Problems for a spec: a file path, a built-in name (see module doc), or several joined with
    commas. `data_dir` is the local mirror (default $WORKBENCH_BENCHMARKS); without a local copy
    the Hugging Face hub is tried unless offline ($HF_HUB_OFFLINE or `offline=True`)."""
    out: list[Problem] = []
    seen: dict[str, Problem] = {}
    for part in [p.strip() for p in spec.split(",") if p.strip()] or [spec]:
        for p in _load_one(part, resolve_data_dir(data_dir), offline):
            if languages and p.language not in languages:
                continue
            if p.task_id in seen:
                raise InputError(
                    f"duplicate task id {p.task_id!r} (also at {seen[p.task_id].source}:{seen[p.task_id].line})",
                    file=p.source or None,
                    line=p.line,
                    field="task_id",
                )
            seen[p.task_id] = p
            out.append(p)
    if not out:
        raise WorkbenchError(f"{spec}: no problems")
    return out


def _is_builtin(spec: str) -> bool:
    return spec.split(":", 1)[0].lower() in BUILTINS and not Path(spec).exists()


def _load_one(spec: str, data_dir: Path | None, offline: bool | None) -> list[Problem]:
    if not _is_builtin(spec):
        path = Path(os.path.expanduser(spec))
        if not path.exists():
            raise InputError(
                f"no such problem file, and not a built-in set ({', '.join(BUILTINS)}[:variant])", file=spec
            )
        return load_file(path)
    name, _, variant = spec.partition(":")
    name, variant = name.lower(), variant.strip().lower()
    if name == "humanevalpack":
        langs = [normalize_language(variant)] if variant else list(LANGUAGES)
        out: list[Problem] = []
        for lang in langs:
            out += _builtin_file_or_hub(
                f"humanevalpack:{HEP_FILE[lang]}",
                data_dir,
                offline,
                [f"humanevalpack/{HEP_FILE[lang]}.jsonl", f"humanevalpack/{HEP_FILE[lang]}.jsonl.gz"],
                lambda lang=lang: _hub_rows("humanevalpack", HEP_FILE[lang], "test", offline),
            )
        return out
    if name == "mbpp":
        split = variant or "test"
        if split == "sanitized":
            return _builtin_file_or_hub(
                "mbpp:sanitized",
                data_dir,
                offline,
                ["mbpp/sanitized-mbpp.json", "mbpp/sanitized-mbpp.jsonl"],
                lambda: _hub_rows("mbpp", "sanitized", "test", offline),
            )
        if split not in MBPP_SPLITS:
            raise WorkbenchError(f"mbpp: unknown split {variant!r} (test, full, train, validation, prompt, sanitized)")
        lo, hi = MBPP_SPLITS[split]
        probs = _builtin_file_or_hub(
            f"mbpp:{split}",
            data_dir,
            offline,
            ["mbpp/mbpp.jsonl", "mbpp/mbpp.jsonl.gz"],
            lambda: _hub_rows("mbpp", "full", None, offline),
        )
        return [p for p in probs if lo <= int(p.task_id) <= hi]
    # leetcode
    version, _, split = variant.partition("-")
    if version in ("test", "train"):
        version, split = "", version
    split = split or "test"
    local = _leetcode_file(data_dir, version, split) if data_dir else None
    return _builtin_file_or_hub(
        f"leetcode:{variant or 'test'}",
        data_dir,
        offline,
        [str(local.relative_to(data_dir))] if local and data_dir else [],
        lambda: _hub_rows("leetcode", None, split, offline),
    )


def _builtin_file_or_hub(
    label: str, data_dir: Path | None, offline: bool | None, rels: list[str], hub: Any
) -> list[Problem]:
    if data_dir is not None:
        for rel in rels:
            if (data_dir / rel).is_file():
                return load_file(data_dir / rel)
    if _offline(offline):
        where = f"in {data_dir}" if data_dir else "(no benchmark data folder set)"
        expect = rels[0] if rels else "leetcode/LeetCodeDataset-<version>-test.jsonl.gz"
        raise WorkbenchError(
            f"{label}: no local copy {where} (expected {expect}) and the Hugging Face hub "
            "is offline; pass --data-dir, or set [benchmarks] data_dir in workspace.toml, "
            "to a folder laid out like humanevalpack/<lang>.jsonl, mbpp/mbpp.jsonl, "
            "leetcode/*.jsonl.gz"
        )
    return hub()


def _offline(offline: bool | None) -> bool:
    if offline is not None:
        return offline
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes") or os.environ.get(
        "HF_DATASETS_OFFLINE", ""
    ).lower() in ("1", "true", "yes")


def _version_key(name: str) -> tuple[int, ...]:
    m = re.search(r"v(\d+(?:\.\d+)*)", name)
    return tuple(int(x) for x in m.group(1).split(".")) if m else ()


def _leetcode_file(data_dir: Path, version: str, split: str) -> Path | None:
    folder = data_dir / "leetcode"
    if not folder.is_dir():
        return None
    files = [
        p
        for p in folder.iterdir()
        if p.is_file()
        and re.search(r"\.jsonl?(\.gz)?$", p.name)
        and split in p.name.lower()
        and (not version or version in p.name.lower())
    ]
    return max(files, key=lambda p: (_version_key(p.name), p.name)) if files else None


def _hub_rows(name: str, config: str | None, split: str | None, offline: bool | None) -> list[Problem]:
    """Load a built-in set from the Hugging Face hub (the `datasets` library, imported lazily)."""
    repo = HUB_IDS[name]
    try:
        import inspect

        from datasets import load_dataset

        kwargs: dict[str, Any] = {}
        if name == "humanevalpack" and "trust_remote_code" in inspect.signature(load_dataset).parameters:
            kwargs["trust_remote_code"] = True  # older `datasets`: the set was a loading script
        ds = (
            load_dataset(repo, config, **kwargs) if split is None else load_dataset(repo, config, split=split, **kwargs)
        )
    except Exception as e:  # noqa: BLE001 - network, auth, missing config: one clear line
        raise WorkbenchError(
            f"{name}: could not load {repo} from the Hugging Face hub ({type(e).__name__}: "
            f"{str(e).splitlines()[0] if str(e) else ''}); use --data-dir with a local copy"
        ) from None
    rows: list[dict[str, Any]] = []
    if split is None:  # all splits (MBPP "full" is spread over train/test/validation/prompt)
        for part in ds.values():
            rows += list(part)
    else:
        rows = list(ds)
    problems = [
        problem_from_row(r, file=f"hf://{repo}" + (f"/{config}" if config else ""), line=i + 1)
        for i, r in enumerate(rows)
    ]
    if any(p.plus is not None for p in problems):
        problems = with_group(problems, OracleGroup.for_rows(rows, f"hf://{repo}"))
    return problems
