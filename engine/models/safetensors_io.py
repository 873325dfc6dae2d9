"""safetensors files read and written as bytes, without torch.

A safetensors file is an 8-byte little-endian header length, a JSON header
(`{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}`) and the
tensors' bytes. Renaming tensors or splitting one along its first axis (rows are contiguous)
is byte copying, so a checkpoint converts one tensor range at a time, in chunks: memory stays
at a few chunks whatever the shard size, and no framework is imported.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from engine.errors import InputError

DTYPE_BYTES = {
    "F64": 8,
    "F32": 4,
    "F16": 2,
    "BF16": 2,
    "I64": 8,
    "I32": 4,
    "I16": 2,
    "I8": 1,
    "U8": 1,
    "BOOL": 1,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
}
CHUNK = 16 << 20  # bytes per read/write while copying
_MAX_HEADER = 100 << 20


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dtype: str
    shape: tuple[int, ...]
    file: Path
    start: int  # absolute byte offset in `file`
    end: int

    @property
    def nbytes(self) -> int:
        return self.end - self.start

    @property
    def row_bytes(self) -> int:
        """Bytes of one slice along the first axis."""
        return self.nbytes // self.shape[0] if self.shape and self.shape[0] else self.nbytes


def read_header(path: Path) -> dict[str, TensorInfo]:
    """The tensors of one safetensors file, checked against the file's size."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            raw = f.read(8)
            if len(raw) < 8:
                raise InputError("not a safetensors file (shorter than its 8-byte header length)", file=path)
            (n,) = struct.unpack("<Q", raw)
            if n > _MAX_HEADER or 8 + n > size:
                raise InputError(f"not a safetensors file (header length {n} for a {size}-byte file)", file=path)
            header = json.loads(f.read(n))
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror}", file=path) from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InputError("not a safetensors file (its header is not JSON)", file=path) from None
    base = 8 + n
    out: dict[str, TensorInfo] = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (a, b) = meta["dtype"], tuple(int(x) for x in meta["shape"]), meta["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise InputError(f"tensor {name}: malformed header entry", file=path) from None
        count = 1
        for d in shape:
            count *= d
        if dtype not in DTYPE_BYTES or b - a != count * DTYPE_BYTES[dtype]:
            raise InputError(f"tensor {name}: {dtype} {list(shape)} does not match its {b - a} bytes", file=path)
        if base + b > size:
            raise InputError(
                f"tensor {name} ends at byte {base + b} but the file has {size} bytes (truncated download?)", file=path
            )
        out[name] = TensorInfo(name, dtype, shape, path, base + a, base + b)
    return out


@dataclass(frozen=True)
class Piece:
    """An output tensor: `length` bytes of `src` starting `offset` bytes into it."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    src: TensorInfo
    offset: int
    length: int


def write_file(
    dest: Path,
    pieces: list[Piece],
    progress: Callable[[int], None] | None = None,
    metadata: dict[str, str] | None = None,
) -> int:
    """Write `pieces` as one safetensors file, copying their bytes in chunks. Returns bytes written."""
    header: dict[str, object] = {"__metadata__": metadata or {"format": "pt"}}
    pos = 0
    for p in pieces:
        header[p.name] = {"dtype": p.dtype, "shape": list(p.shape), "data_offsets": [pos, pos + p.length]}
        pos += p.length
    blob = json.dumps(header, separators=(",", ":")).encode("utf-8")
    blob += b" " * (-len(blob) % 8)  # the data starts 8-byte aligned, as safetensors writes it
    handles: dict[Path, BinaryIO] = {}
    with ExitStack() as stack:
        out = stack.enter_context(open(dest, "wb"))
        out.write(struct.pack("<Q", len(blob)))
        out.write(blob)
        for p in pieces:
            f = handles.get(p.src.file)
            if f is None:
                f = handles[p.src.file] = stack.enter_context(open(p.src.file, "rb"))
            f.seek(p.src.start + p.offset)
            left = p.length
            while left:
                chunk = f.read(min(CHUNK, left))
                if not chunk:
                    raise InputError(f"tensor {p.src.name}: the file ends early", file=p.src.file)
                out.write(chunk)
                left -= len(chunk)
                if progress is not None:
                    progress(len(chunk))
    return 8 + len(blob) + pos
