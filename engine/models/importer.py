"""`workbench model import SRC`: bring a model into the workspace's `[models]`.

    Qwen-1 checkpoint        converted to native Qwen2 in WORKSPACE/models/<name>/ (weights,
                             config, tokenizer.json from qwen.tiktoken, ChatML template, the
                             contest's eos/pad and generation_config), then registered
    Qwen-1 LoRA adapter      (MFTCoder) converted to an adapter of an imported Qwen-1 model
    native architecture      registered as it is (a local folder, or the hub id)
    remote-code model        registered with trust_remote_code = true (what stops it, if anything,
                             is reported)

SRC is a local folder, a folder of the workspace's hub mirror, or a hub id (downloaded into the
Hugging Face cache). A conversion is written to a temporary folder and moved into place when it
is complete, so a failed import leaves nothing behind.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import InputError, WorkbenchError
from engine.fsutil import atomic_write_json, read_json_or
from engine.models.catalog import HUB_ID, IMPORT_RECORD
from engine.models.detect import ModelInfo, describe
from engine.models.families import CHATML_TEMPLATE, lora_targets
from engine.models.qwen1_tokenizer import ENDOFTEXT, IMEND, SPECIAL_START_ID, SPECIAL_TOKENS, VOCAB_FILE
from engine.workspace import ModelEntry, Workspace

Progress = Callable[[str, int, int], None]
PHASES = {"tokenizer": "converting the tokenizer", "weights": "converting the weights"}  # (qwen1_convert: weights)
Log = Callable[[str], None]
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
EOS_ID = SPECIAL_START_ID + SPECIAL_TOKENS.index(IMEND)  # 151645: the contest's eos and pad
ENDOFTEXT_ID = SPECIAL_START_ID + SPECIAL_TOKENS.index(ENDOFTEXT)


@dataclass
class ImportResult:
    name: str
    path: str  # what [models] records (workspace-relative folder, or the hub id)
    kind: str  # converted | adapter | registered
    source: str
    family: str | None
    info: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def default_name(src: str) -> str:
    base = src.rstrip("/").split("/")[-1] or "model"
    name = re.sub(r"[^A-Za-z0-9_.\-]+", "-", base).strip("-.").lower()
    return name or "model"


def _resolve_source(ws: Workspace, src: str, log: Log) -> tuple[Path, bool]:
    """(local folder, came from the hub)."""
    from engine.data.catalog import mirror_dir

    for cand in (Path(src).expanduser(), ws.resolve_path(src)):
        if cand.is_dir():
            return cand.resolve(), False
        if cand.exists():
            raise InputError("is a file; give the model's folder", file=cand)
    if not HUB_ID.match(src):
        raise InputError("no such folder (and not a hub id like Qwen/Qwen-1_8B)", file=src)
    mirror = mirror_dir(ws, src)
    if mirror is not None and mirror.is_dir():
        return mirror, False
    return _download(ws, src, log), True


def _download(ws: Workspace, repo: str, log: Log) -> Path:
    """The hub snapshot: small files first, then the weights of the one format it will read."""
    from huggingface_hub import snapshot_download

    offline = ws.config.hub.offline or os.environ.get("HF_HUB_OFFLINE") == "1"
    small = ["*.json", "*.py", "*.tiktoken", "*.txt", "*.model", "*.jinja", "*.md", "LICENSE*", "NOTICE*"]
    try:
        folder = Path(snapshot_download(repo, allow_patterns=small, local_files_only=offline))
        weights = (
            ["*.safetensors"]
            if any(folder.glob("model*.safetensors*")) or (folder / "model.safetensors.index.json").is_file()
            else ["*.bin"]
        )
        log(f"downloading the weights of {repo} ({weights[0]}) into the Hugging Face cache ...")
        return Path(snapshot_download(repo, allow_patterns=small + weights, local_files_only=offline))
    except Exception as e:  # noqa: BLE001 - network, auth, missing repo: one line, naming the repo
        why = "offline and not in the local Hugging Face cache" if offline else f"{type(e).__name__}: {e}"
        raise WorkbenchError(f"cannot fetch {repo} from the hub: {str(why).splitlines()[0]}") from None


def _dest(ws: Workspace, name: str, force: bool) -> Path:
    dest = ws.root / "models" / name
    if dest.exists() and any(dest.iterdir()) and not force:
        raise WorkbenchError(f"{dest} exists; give another --name or --force to replace it")
    return dest


def _check_name(ws: Workspace, name: str, force: bool) -> None:
    if not _NAME.match(name):
        raise InputError("letters, digits, '.', '-' and '_' only", field="--name")
    entry = ws.config.models.get(name)
    if entry is not None and not force:
        raise WorkbenchError(
            f"[models] {name} exists (path {entry.path}); give another --name or --force to replace it"
        )


def _generation_config(src: Path) -> dict[str, Any]:
    """The contest's decoding defaults: greedy, stop at <|im_end|> (fine-tuned) or <|endoftext|> (base)."""
    old = read_json_or(src / "generation_config.json", {}) or {}
    return {
        "bos_token_id": ENDOFTEXT_ID,
        "eos_token_id": [EOS_ID, ENDOFTEXT_ID],
        "pad_token_id": EOS_ID,
        "do_sample": False,
        "max_new_tokens": int(old.get("max_new_tokens") or 512),
    }


def _convert_qwen1(src: Path, dest: Path, progress: Progress | None) -> tuple[dict[str, Any], list[str]]:
    from engine.models.qwen1_convert import convert_qwen1
    from engine.models.qwen1_tokenizer import verify_against_tiktoken, write_tokenizer_files

    vocab = src / VOCAB_FILE
    if not vocab.is_file():
        raise InputError(f"no {VOCAB_FILE} (the Qwen-1 vocabulary the tokenizer is built from)", file=src)
    conv = convert_qwen1(src, dest, eos_id=EOS_ID, pad_id=EOS_ID, bos_id=ENDOFTEXT_ID, progress=progress)
    if progress is not None:
        progress("tokenizer", 0, 1)
    tok = write_tokenizer_files(
        vocab, dest, chat_template=CHATML_TEMPLATE, eos=IMEND, pad=IMEND, model_max_length=conv.shape.context
    )
    atomic_write_json(dest / "generation_config.json", _generation_config(src))
    check = verify_against_tiktoken(vocab, dest / "tokenizer.json")
    if progress is not None:
        progress("tokenizer", 1, 1)
    info = {
        "dtype": conv.dtype,
        "bytes": conv.bytes,
        "shards": conv.shards,
        "layers": conv.shape.layers,
        "hidden_size": conv.shape.hidden,
        "vocab_size": conv.shape.vocab,
        "context": conv.shape.context,
        "tokenizer": {**tok, "checked_against_tiktoken": check},
    }
    return info, conv.warnings


def _find_imported_base(ws: Workspace, base: str | None) -> tuple[str, Path] | None:
    """The [models] entry an adapter's base_model_name_or_path was imported from."""
    if not base:
        return None
    want = {base.rstrip("/"), Path(base).name.lower()}
    for name, entry in ws.config.models.items():
        folder = ws.resolve_path(entry.path)
        rec = read_json_or(folder / IMPORT_RECORD, {}) or {}
        srcs = {str(rec.get("source", "")).rstrip("/"), str(rec.get("source_path", "")).rstrip("/")}
        if want & (srcs | {Path(s).name.lower() for s in srcs if s}) or name == base:
            return name, folder
    return None


def import_model(
    ws: Workspace,
    src: str,
    *,
    name: str | None = None,
    base: str | None = None,
    force: bool = False,
    progress: Progress | None = None,
    log: Log = lambda _m: None,
) -> ImportResult:
    t0 = time.time()
    name = name or default_name(src)
    _check_name(ws, name, force)
    folder, from_hub = _resolve_source(ws, src, log)
    info = describe(folder, name_hints=(src,))
    warnings: list[str] = []
    record: dict[str, Any] = {
        "source": src,
        "source_path": str(folder),
        "from_hub": from_hub,
        "imported": time.time(),
        "source_kind": info.kind,
        "family": info.family,
    }
    if info.kind in ("qwen1", "adapter"):
        dest = _dest(ws, name, force)
        tmp = dest.with_name(f".{name}.partial-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            if info.kind == "qwen1":
                details, warnings = _convert_qwen1(folder, tmp, progress)
                kind, description = "converted", f"{info.family or 'Qwen-1'} ({src}) converted to native Qwen2"
                info = ModelInfo(
                    str(tmp),
                    "native",
                    "qwen2",
                    ["Qwen2ForCausalLM"],
                    "Qwen-1",
                    lora_targets("qwen2"),
                    chat_template=True,
                    weights=f"safetensors: {details['shards']} file(s)",
                )
            else:
                details, description = _convert_adapter(ws, folder, tmp, base, info)
                kind = "adapter"
            atomic_write_json(tmp / IMPORT_RECORD, {**record, "kind": kind, "details": details, "warnings": warnings})
            if dest.exists():
                shutil.rmtree(dest)
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp.rename(dest)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        info.path = str(dest)
        path = f"models/{name}"
        entry = ModelEntry(path=path, description=description)
    else:
        kind, details = "registered", {}
        path = src if from_hub else str(folder)
        trust = info.kind == "remote"
        if info.problems:
            warnings.append(f"its remote code cannot run here: {'; '.join(info.problems)}")
        entry = ModelEntry(path=path, trust_remote_code=trust, description=f"{info.family or info.model_type} ({src})")
    ws.reload()
    ws.config.models[name] = entry
    if not ws.config.defaults.model and kind != "adapter":
        ws.config.defaults.model = name
    ws.save()
    return ImportResult(
        name, path, kind, src, info.family, {**info.to_json(), **details}, warnings, round(time.time() - t0, 2)
    )


def _convert_adapter(
    ws: Workspace, folder: Path, dest: Path, base: str | None, info: ModelInfo
) -> tuple[dict[str, Any], str]:
    from engine.models.lora_convert import convert_adapter

    if info.family != "Qwen-1":
        raise WorkbenchError(
            f"{folder}: a LoRA adapter with targets {info.lora_targets}; only Qwen-1 adapters "
            "(c_attn, c_proj, w1, w2) are converted. Score it as it is: "
            f"workbench eval run --model {folder}"
        )
    if base:
        if base not in ws.config.models:
            raise InputError(f"'{base}' is not a [models] name of the workspace", field="--base")
        found: tuple[str, Path] | None = (base, ws.resolve_path(ws.config.models[base].path))
    else:
        found = _find_imported_base(ws, info.base)
    if found is None:
        raise WorkbenchError(
            f"{folder}: the adapter was trained on {info.base or 'an unnamed base'}, which is not "
            "an imported model of this workspace; import the base first (workbench model import "
            f"{info.base or 'BASE'}) or name it with --base"
        )
    base_name, base_folder = found
    if not (base_folder / "config.json").is_file():
        raise InputError("the base model folder has no config.json", file=base_folder)
    details = convert_adapter(folder, dest, base_path=str(base_folder.resolve()))
    details["base"] = base_name
    return details, f"Qwen-1 LoRA adapter ({folder.name}) converted for {base_name}"
