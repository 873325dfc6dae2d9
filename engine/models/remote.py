"""Remote-code models that cannot run here, told in one line before loading them.

A checkpoint with `auto_map` in its config ships its own Python (trust_remote_code). That code
was written against the transformers of its day: it may import packages this environment lacks
(Qwen-1: tiktoken, einops, transformers_stream_generator, the last of which does not import on
transformers 5) or call `PreTrainedModel` methods transformers has since removed (Qwen-1's
forward calls `get_head_mask`, gone in transformers 5). Loading it anyway ends in a traceback
deep inside the first forward pass. `preflight` reads the code first and says what is wrong and
what fixes it: for an original Qwen-1 checkpoint, `workbench model import`, which converts it
to a native Qwen2 checkpoint that needs no remote code.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import re
import sys
from pathlib import Path
from typing import Any

from engine.errors import WorkbenchError

# PreTrainedModel methods that older remote code calls and newer transformers removed.
REMOVED_APIS = (
    "get_head_mask",
    "_convert_head_mask_to_5d",
    "get_extended_attention_mask",
    "invert_attention_mask",
    "_prepare_decoder_attention_mask",
)
_STDLIB = set(getattr(sys, "stdlib_module_names", ()))


def local_folder(source: str) -> Path | None:
    """A local model folder for `source`: the folder itself, or the hub id's snapshot in the
    local Hugging Face cache (no network)."""
    p = Path(source).expanduser()
    if p.is_dir():
        return p
    if source.count("/") != 1:
        return None
    try:
        from huggingface_hub import try_to_load_from_cache

        hit = try_to_load_from_cache(source, "config.json")
    except Exception:  # noqa: BLE001 - an odd id or cache is simply "not cached"
        return None
    return Path(hit).parent if isinstance(hit, str) else None


def _imports(path: Path) -> set[str]:
    """Top-level packages a remote-code file imports unconditionally (as transformers checks)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return set()
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.Try):
            return  # optional imports
        if isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return {m for m in found if m not in _STDLIB and m != "__future__"}


def _code_files(folder: Path, config: dict[str, Any], what: str) -> list[Path]:
    """The remote-code files a load of `what` (model | tokenizer) executes, with their relative imports."""
    auto = config.get("auto_map") or {}
    mods: list[str] = []
    for key, ref in auto.items():
        is_tok = key == "AutoTokenizer"
        if (what == "tokenizer") != is_tok and key != "AutoConfig":
            continue
        for r in ref if isinstance(ref, list) else [ref]:
            if isinstance(r, str) and "." in r:
                mods.append(r.split("--")[-1].rsplit(".", 1)[0])
    files: list[Path] = []
    todo = [folder / f"{m}.py" for m in mods]
    while todo:
        f = todo.pop()
        if f in files or not f.is_file():
            continue
        files.append(f)
        text = f.read_text(encoding="utf-8", errors="replace")
        todo += [folder / f"{m}.py" for m in re.findall(r"^\s*from\s+\.(\w+)\s+import", text, re.MULTILINE)]
    return files


def _package_problem(pkg: str) -> str | None:
    if importlib.util.find_spec(pkg) is None:
        return f"needs {pkg}, which is not installed"
    try:
        importlib.import_module(pkg)
    except Exception as e:  # noqa: BLE001 - any failure to import is the finding
        return (
            f"needs {pkg}, which is installed but does not import ({type(e).__name__}: {str(e).splitlines()[0][:120]})"
        )
    return None


def _api_problems(files: list[Path]) -> list[str]:
    calls = {
        (f.name, name)
        for f in files
        for name in REMOVED_APIS
        if re.search(rf"self\.{name}\(", f.read_text(encoding="utf-8", errors="replace"))
        and not re.search(rf"def {name}\(", f.read_text(encoding="utf-8", errors="replace"))
    }
    if not calls:
        return []
    import transformers
    from transformers import PreTrainedModel

    return [
        f"{fname} calls PreTrainedModel.{name}, which transformers {transformers.__version__} removed"
        for fname, name in sorted(calls)
        if not hasattr(PreTrainedModel, name)
    ]


def remote_code_problems(folder: Path, config: dict[str, Any], *, what: str = "model") -> list[str]:
    """What stops this folder's remote code from running here (empty when nothing does)."""
    files = _code_files(folder, config, what)
    problems = _api_problems(files) if what == "model" else []
    for pkg in sorted({p for f in files for p in _imports(f)} - {"transformers", "torch"}):
        issue = _package_problem(pkg)
        if issue:
            problems.append(issue)
    return problems


def _config_of(folder: Path) -> dict[str, Any]:
    import json

    try:
        data = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def preflight(source: str, *, trust_remote_code: bool, what: str = "model") -> None:
    """Raise one clear WorkbenchError when `source` is a remote-code model that cannot load here
    (or an original Qwen-1 checkpoint, which `workbench model import` makes native)."""
    from engine.models.qwen1_convert import is_qwen1_config

    folder = local_folder(source)
    if folder is None:
        return
    config = _config_of(folder)
    qwen1 = is_qwen1_config(config)
    fix = f"convert it to a native Qwen2 checkpoint (no remote code): workbench model import {source}"
    if qwen1 and not trust_remote_code:
        raise WorkbenchError(
            f"{source} is an original Qwen-1 checkpoint (model_type qwen, remote code) and "
            f"trust_remote_code is off; {fix}"
        )
    if not trust_remote_code or not config.get("auto_map"):
        return
    problems = remote_code_problems(folder, config, what=what)
    if problems:
        then = fix if qwen1 else "install what it needs or use a transformers version its code was written for"
        raise WorkbenchError(f"the remote code of {source} cannot run here: {'; '.join(problems)}; {then}")


def explain_load_error(source: str, exc: BaseException) -> WorkbenchError:
    """A one-line error for a failed load (an ImportError from remote code, a missing file ...)."""
    from engine.models.qwen1_convert import is_qwen1_config

    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    folder = local_folder(source)
    qwen1 = folder is not None and is_qwen1_config(_config_of(folder))
    hint = f"; convert it to a native Qwen2 checkpoint: workbench model import {source}" if qwen1 else ""
    return WorkbenchError(f"cannot load {source}: {type(exc).__name__}: {first}{hint}")
