"""What a Hugging Face model folder holds: its config and its weight files.

Weights come as safetensors (`model.safetensors`, or shards listed by
`model.safetensors.index.json`) or as PyTorch pickles (`pytorch_model.bin` / its index: what
transformers 4.32, the contest's version, saved by default, so MFTCoder's merged checkpoints
look like this). Every problem is reported with the file it is in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.config import read_json
from engine.errors import InputError

CONFIG = "config.json"
ADAPTER_CONFIG = "adapter_config.json"
SAFE_INDEX, SAFE_SINGLE = "model.safetensors.index.json", "model.safetensors"
BIN_INDEX, BIN_SINGLE = "pytorch_model.bin.index.json", "pytorch_model.bin"


def read_json_file(path: Path) -> dict[str, Any]:
    """A JSON object from `path`, or an InputError naming the file (and the line)."""
    data, _ = read_json(path)
    if not isinstance(data, dict):
        raise InputError("expected a JSON object", file=path)
    return data


def read_config(folder: Path) -> dict[str, Any]:
    """config.json of a model folder; a clear error when the folder is not a model."""
    if not folder.is_dir():
        raise InputError("no such folder", file=folder)
    if not (folder / CONFIG).is_file():
        what = (
            "a LoRA adapter (adapter_config.json), not a model"
            if (folder / ADAPTER_CONFIG).is_file()
            else "not a model folder (no config.json)"
        )
        raise InputError(what, file=folder)
    return read_json_file(folder / CONFIG)


@dataclass
class WeightFiles:
    """The weight files of a folder, in shard order, and where each tensor is said to be."""

    kind: str  # "safetensors" | "bin"
    files: list[Path]
    index: Path | None = None  # the *.index.json, when sharded
    weight_map: dict[str, str] = field(default_factory=dict)  # tensor -> file name (from the index)


def weight_files(folder: Path) -> WeightFiles:
    for kind, index_name, single in (("safetensors", SAFE_INDEX, SAFE_SINGLE), ("bin", BIN_INDEX, BIN_SINGLE)):
        index = folder / index_name
        if index.is_file():
            data = read_json_file(index)
            wm = data.get("weight_map")
            if not isinstance(wm, dict) or not wm:
                raise InputError("has no 'weight_map' (tensor -> shard file)", file=index)
            names = list(dict.fromkeys(str(v) for v in wm.values()))
            files = [folder / n for n in names]
            missing = [f.name for f in files if not f.is_file()]
            if missing:
                raise InputError(
                    f"lists shard {missing[0]}, which is not in the folder"
                    + (f" ({len(missing)} missing)" if len(missing) > 1 else ""),
                    file=index,
                )
            return WeightFiles(kind, files, index, {str(k): str(v) for k, v in wm.items()})
        if (folder / single).is_file():
            return WeightFiles(kind, [folder / single])
    stray = sorted(p.name for p in folder.glob("*.safetensors")) or sorted(p.name for p in folder.glob("*.bin"))
    if stray:
        raise InputError(
            f"weight files ({', '.join(stray[:3])}) without an index "
            f"({SAFE_INDEX} / {BIN_INDEX}) naming which tensor is where",
            file=folder,
        )
    raise InputError(f"no weights ({SAFE_SINGLE}, {SAFE_INDEX}, {BIN_SINGLE} or {BIN_INDEX})", file=folder)
