"""MFTCoder interop: export a mixture as MFTCoder's layout + training config JSON, and import
such a config (with its `data_paths` task folders) as a mixture spec plus a run config.

MFTCoder layout: one folder per task holding `train.jsonl` in chat_rounds; the config's
`data_paths` lists the folders ("[/p/task1,/p/task2]"); MFTCoder splits each folder itself by
`data_split` and reads every file in it, so nothing else is written inside a task folder.
MFTCoder ignores `data_weights`, so the export writes the *sampled* rows: weights and token
budgets take effect through the data itself.

Key mapping (run config <-> MFTCoder; `competition` = the codeqwen_competition branch's
qwen_train_config_1_8B.json, `main` = mftcoder_accelerate's MftTrainArgs):

    model.path               pretrained_model_path (+ vocab_file)
    model.trust_remote_code  trust_remote_code
    data.seq_length          seq_length
    data.packing             padding_mode ("pack" | "padding")
    data.overlong            - (MFTCoder drops long samples: "drop" on import)
    peft.method              peft_type (+ quantization "4bit" for qlora)
    peft.lora_*              lora_rank, lora_alpha, lora_dropout; target_modules (main)
    optim.*                  learning_rate, min_lr, weight_decay, num_warmup_steps, lr_scheduler_type
    loop.*                   num_train_epochs, max_train_steps (0 <-> null),
                             per_device_{train,eval}_batch_size, gradient_accumulation_steps,
                             log_interval, checkpointing_steps, evalation_steps (competition,
                             sic) / evaluation_steps (main), early_stopping(+_stall_num), seed,
                             saving_limit (main)
    loss.mode / task_weights weighted_loss_mode / task_weights (main, "[w1,w2]" in task order)
    launch.num_gpus x num_machines   world_size (competition; MFTCoder itself ignores it)
    mixture valid_fraction   data_split ("95,5,0")

MFTCoder keys without a workbench meaning (output_dir, tb_dir, tokenize_mode, use_xformers, ...)
are kept from an import in `mixtures/<name>/mftcoder.json` and written back on export, so an
import followed by an export gives back every key the contest config used; a mapped key keeps
its original spelling unless the run config changed it since the import.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.config import read_json, validate
from engine.errors import InputError, WorkbenchError
from engine.fsutil import atomic_write_json, atomic_write_text, read_json_or
from engine.mixture.mftcoder_config import (
    ALWAYS_COMPUTED,
    COMPETITION_CONFIG,
    MAIN_CONFIG,
    Flavor,
    MftcoderConfig,
    check_run_config,
    format_split,
    load_run_settings,
    merged_run,
    mft_from_run,
    parse_list,
    parse_split,
    run_config_toml,
    run_from_mft,
)
from engine.mixture.mftcoder_records import BadLine, read_task
from engine.workspace import Workspace

SIDECAR = "mftcoder.json"
PHASES = {"export": "writing task folders"}  # what export_mftcoder's progress phases mean
EXPORT_MARKER = "workbench-export.json"
CONFIG_FILE = "train_config.json"


# -- export ----------------------------------------------------------------------------------------


def _launch_script(run: dict[str, Any], config_file: str, flavor: Flavor) -> str:
    la, lp, o = run["launch"], run["loop"], run["optim"]
    n_proc = int(la["num_gpus"]) * int(la["num_machines"])
    script = "mft_accelerate.py" if flavor == "competition" else "pefts/mft_accelerate.py"
    args = ["accelerate", "launch", "--num_machines", str(la["num_machines"]), "--num_processes", str(n_proc)]
    if int(la.get("deepspeed_stage", 0)):
        args += [
            "--use_deepspeed",
            "--deepspeed_multinode_launcher",
            "standard",
            "--zero_stage",
            str(la["deepspeed_stage"]),
            "--offload_optimizer_device",
            "cpu" if la.get("offload_optimizer") else "none",
            "--offload_param_device",
            "cpu" if la.get("offload_params") else "none",
            "--gradient_accumulation_steps",
            str(lp["grad_accum"]),
            "--gradient_clipping",
            f"{o['max_grad_norm']:g}",
            "--zero3_init_flag",
            "false",
            "--zero3_save_16bit_model",
            "false",
        ]
    args += [
        "--mixed_precision",
        "bf16" if lp.get("bf16", True) else "no",
        "--dynamo_backend",
        "no",
        "--machine_rank",
        "${RANK:-" + str(la["machine_rank"]) + "}",
        "--main_process_ip",
        "${MASTER_ADDR:-" + str(la["main_process_ip"]) + "}",
        "--main_process_port",
        "${MASTER_PORT:-" + str(la["main_process_port"]) + "}",
        script,
        "--train_config",
        config_file,
    ]
    quoted = " ".join(a if a.startswith("${") else shlex.quote(a) for a in args)
    return (
        "#!/usr/bin/env bash\n# Written by workbench: MFTCoder launch for this export (run it from MFTCoder's "
        f"{'mft_peft_hf/src/pefts' if flavor == 'competition' else 'mftcoder_accelerate/src'} folder).\n"
        "set -euo pipefail\nHERE=\"$(cd \"$(dirname \"${BASH_SOURCE[0]}\")\" && pwd)\"\n"
        + quoted.replace(shlex.quote(config_file), "\"$HERE/" + os.path.basename(config_file) + "\"")
        + "\n"
    )


def export_mftcoder(
    ws: Workspace,
    name: str,
    out_dir: str | Path,
    *,
    run_config: str | Path | None = None,
    flavor: Flavor | None = None,
    data_root: str | None = None,
    output_dir: str | None = None,
    tb_dir: str | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Write the MFTCoder layout and config for a mixture (its sampled rows: weights applied)."""
    from engine.mixture.materialize import materialize
    from engine.mixture.store import mixture_dir, open_spec

    spec = open_spec(ws, name)
    side = read_json_or(mixture_dir(ws, name) / SIDECAR) or {}
    flavor = flavor or side.get("flavor") or "competition"
    if flavor not in ("competition", "main"):
        raise InputError(f"unknown flavor {flavor!r}; expected competition or main", field="flavor")
    if run_config is not None:
        run = load_run_settings(run_config)
    elif side.get("imported_run"):
        run = merged_run(side["imported_run"])
    else:
        run = merged_run(
            {"name": name, "data": {"mixture": name, "seq_length": spec.seq_length or ws.config.defaults.seq_length}}
        )
    out = Path(out_dir).expanduser().resolve()
    if out.exists() and any(out.iterdir()) and not (out / EXPORT_MARKER).exists():
        raise WorkbenchError(f"{out} exists and is not a workbench export; choose an empty or new folder")

    build = materialize(ws, name, spec=spec, tokenize_cache=False, progress=progress)
    tasks = list(build.manifest["tasks"])
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    counts: dict[str, int] = {}
    total = sum(t["train_rows"] + t["valid_rows"] for t in build.manifest["tasks"].values())
    done = 0
    try:
        for task in tasks:
            (tmp / task).mkdir()
            n = 0
            with open(tmp / task / "train.jsonl", "w", encoding="utf-8") as f:
                # MFTCoder splits each folder by data_split itself: give it the task's valid rows too
                for split in ("train", "valid"):
                    with open(build.build_dir / task / f"{split}.jsonl", encoding="utf-8") as src:
                        for line in src:
                            rec = json.loads(line)
                            f.write(
                                json.dumps(
                                    {"id": rec.get("id"), "data_name": task, "chat_rounds": rec["chat_rounds"]},
                                    ensure_ascii=False,
                                )
                                + "\n"
                            )
                            n += 1
                            done += 1
                            if progress and done % 2048 == 0:
                                progress("export", done, total)
            counts[task] = n
        root = data_root.rstrip("/") if data_root else str(out)
        values, notes = mft_from_run(run, flavor=flavor, tasks=tasks)
        fractions = {spec.task_valid_fraction(t) for t in spec.tasks}
        if len(fractions) > 1:
            notes.append("MFTCoder has one data_split for all tasks; the mixture's top-level valid_fraction is used")
        values["data_paths"] = "[" + ",".join(f"{root}/{t}" for t in tasks) + "]"
        values["data_split"] = format_split(spec.valid_fraction)
        original = side.get("original") or {}
        values["output_dir"] = output_dir or original.get("output_dir") or f"{root}/output"
        values["tb_dir"] = tb_dir or original.get("tb_dir") or f"{root}/tensorboard"
        # unchanged since the import -> the original spelling of the value
        if side.get("imported_run") and side.get("flavor") == flavor:
            before, _ = mft_from_run(merged_run(side["imported_run"]), flavor=flavor, tasks=side.get("tasks") or tasks)
            for k, v in list(values.items()):
                if k not in ALWAYS_COMPUTED and k in original and before.get(k) == v:
                    values[k] = original[k]
        base = COMPETITION_CONFIG if flavor == "competition" else MAIN_CONFIG
        order = [k for k in (side.get("key_order") or []) if side.get("flavor") == flavor] or list(base)
        config: dict[str, Any] = {}
        for k in order + [k for k in base if k not in order] + [k for k in values if k not in order and k not in base]:
            if k in values:
                config[k] = values[k]
            elif k in original:
                config[k] = original[k]
            elif k in base:
                config[k] = base[k]
        if config.get("data_weights") is not None:
            config["data_weights"] = "[" + ",".join("1" for _ in tasks) + "]"
            notes.append("data_weights set to 1: the exported rows are already sampled by the mixture's weights")
        atomic_write_text(tmp / CONFIG_FILE, json.dumps(config, indent=4, ensure_ascii=False) + "\n")
        atomic_write_text(tmp / "launch.sh", _launch_script(run, str(out / CONFIG_FILE), flavor))
        (tmp / "launch.sh").chmod(0o755)
        info = {
            "mixture": name,
            "id": build.id,
            "flavor": flavor,
            "created": time.time(),
            "config": CONFIG_FILE,
            "tasks": counts,
            "notes": notes,
        }
        atomic_write_json(tmp / EXPORT_MARKER, info)
        if out.exists():
            shutil.rmtree(out)
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if progress:
        progress("done", 1, 1)
    return {
        "out_dir": str(out),
        "config": str(out / CONFIG_FILE),
        "launch": str(out / "launch.sh"),
        "id": build.id,
        "flavor": flavor,
        "tasks": counts,
        "notes": notes,
        "values": config,
    }


# -- import ----------------------------------------------------------------------------------------


def _resolve_data_path(p: str, config_path: Path) -> Path:
    q = Path(os.path.expanduser(p))
    if q.is_absolute():
        return q
    for base in (config_path.parent, Path.cwd()):
        if (base / q).exists():
            return (base / q).resolve()
    return (config_path.parent / q).resolve()


def count_tokens(records: list[dict[str, Any]], tokenizer: Any, template: str) -> None:
    """Fill n_tokens (the rendered conversation's length, as the data pipeline counts it) in batches."""
    from engine.data.tokenizer import token_lengths

    for a in range(0, len(records), 256):
        batch = records[a : a + 256]
        for r, n in zip(batch, token_lengths(tokenizer, [r["chat_rounds"] for r in batch], template=template)):
            r["n_tokens"] = n


def import_mftcoder(
    ws: Workspace,
    config_path: str | Path,
    *,
    name: str | None = None,
    data_paths: str | list[str] | None = None,
    run_config_out: str | Path | None = None,
    dataset_prefix: str | None = None,
    tokenizer: Any = None,
    count: bool = True,
    force: bool = False,
) -> dict[str, Any]:
    """Turn an MFTCoder config (+ its task folders) into processed datasets, a mixture spec, a run
    config TOML and the sidecar of MFTCoder-only keys. Nothing is written until every input is read."""
    from engine.config import _locate
    from engine.data.store import write_processed
    from engine.mixture.spec import MixtureSpec, SourceSpec, TaskSpec, check_name, task_name_for
    from engine.mixture.store import mixture_dir, mixture_file, write_spec

    config_path = Path(config_path).expanduser().resolve()
    raw, text = read_json(config_path)
    if not isinstance(raw, dict):
        raise InputError("expected a JSON object of MFTCoder settings", file=config_path, line=1)
    if data_paths is not None:
        raw = {**raw, "data_paths": data_paths}
    cfg = validate(MftcoderConfig, raw, file=config_path, text=text)
    flavor: Flavor = (
        "main"
        if ("evaluation_steps" in raw and "evalation_steps" not in raw)
        or any(k in raw for k in ("task_weights", "saving_limit", "coba_warmup_steps", "attn_implementation"))
        else "competition"
    )
    name = name or task_name_for(config_path.stem)
    try:
        check_name(name, "mixture name")
    except ValueError as e:
        raise InputError(str(e), field="name") from None

    def where(field: str) -> dict[str, Any]:
        return {"file": config_path, "line": _locate(text, (field,)), "field": field}

    paths = parse_list(cfg.data_paths)
    if not paths:
        raise InputError("no task folders listed", **where("data_paths"))
    tasks: dict[str, Path] = {}
    notes: list[str] = []
    for p in paths:
        folder = _resolve_data_path(p, config_path)
        if not folder.exists():
            raise InputError(f"task folder not found: {folder} (override with --data-paths)", **where("data_paths"))
        stem = folder.name[:-6] if folder.name.endswith(".jsonl") else folder.name
        t = task_name_for(stem)
        if t in tasks:
            k = 2
            while f"{t}_{k}" in tasks:
                k += 1
            notes.append(
                f"two data paths are named {t!r} (MFTCoder would merge them into one task id); "
                f"the second is task {t}_{k}"
            )
            t = f"{t}_{k}"
        tasks[t] = folder
    try:
        valid_fraction = parse_split(cfg.data_split)
    except ValueError as e:
        raise InputError(str(e), **where("data_split")) from None
    if valid_fraction <= 0:
        notes.append("data_split has no validation share; the mixture keeps 1% per task for validation")
        valid_fraction = 0.01
    if valid_fraction >= 1:
        raise InputError("data_split leaves nothing to train on", **where("data_split"))
    try:
        run, run_notes = run_from_mft(cfg, raw, name=name, mixture=name, tasks=list(tasks), flavor=flavor)
    except ValueError as e:
        msg = str(e)
        field = "task_weights" if "task_weights" in msg else "weighted_loss_mode"
        raise InputError(msg, **where(field)) from None
    notes += run_notes
    weights = parse_list(cfg.data_weights)
    if weights and len(weights) != len(tasks):
        raise InputError(f"data_weights has {len(weights)} entries for {len(tasks)} tasks", **where("data_weights"))
    try:
        wvals = [float(w) for w in weights]
    except ValueError:
        raise InputError("data_weights must be numbers", **where("data_weights")) from None
    if wvals and any(w != 1 for w in wvals):
        notes.append("MFTCoder ignores data_weights; workbench applies them as sampling weights")

    prefix = dataset_prefix if dataset_prefix is not None else f"{name}_"
    ds_names = {t: f"{prefix}{t}" for t in tasks}
    run_path = Path(run_config_out).expanduser() if run_config_out else ws.root / "configs" / f"{name}.toml"
    conflicts = [
        str(p)
        for p in [mixture_file(ws, name), run_path, *(ws.datasets_dir / d for d in ds_names.values())]
        if p.exists()
    ]
    if conflicts and not force:
        raise WorkbenchError("would overwrite " + ", ".join(conflicts) + "; pass --force to replace them")
    check_run_config(
        run,
        file=run_path,
        source=config_path,
        source_text=text,
        eval_key="evalation_steps" if flavor == "competition" else "evaluation_steps",
    )

    # read every task before writing anything
    read: dict[str, list[dict[str, Any]]] = {}
    bad_by_task: dict[str, list[BadLine]] = {}
    for t, folder in tasks.items():
        recs, bad = read_task(folder, source=str(folder))
        bad_by_task[t] = bad
        if len(recs) < 2:
            first = f" (first problem: {bad[0].describe()})" if bad else ""
            raise InputError(f"task {t!r} has {len(recs)} usable rows; a task needs at least 2{first}", file=folder)
        read[t] = recs
    template = run["model"]["template"]
    counted = False
    if count:
        tok = tokenizer
        if tok is None:
            try:
                from engine.data.tokenizer import load_tokenizer

                tok = load_tokenizer(ws)
            except WorkbenchError as e:
                notes.append(f"token counts not computed ({e}); balance estimates them from characters")
        if tok is not None:
            for recs in read.values():
                count_tokens(recs, tok, template)
            counted = True

    bad_all = [b for bad in bad_by_task.values() for b in bad]
    for t, recs in read.items():
        bad = bad_by_task[t]
        write_processed(
            ws.datasets_dir / ds_names[t],
            recs,
            {
                "name": ds_names[t],
                "imported_from": "mftcoder",
                "config": str(config_path),
                "path": str(tasks[t]),
                "task": t,
                "skipped": len(bad),
                "problems": [b.describe() for b in bad[:50]],
                "tokens_counted": counted,
            },
        )
    spec = MixtureSpec(
        description=f"imported from {config_path}",
        seed=cfg.seed,
        valid_fraction=round(valid_fraction, 6),
        seq_length=cfg.seq_length,
        tasks={
            t: TaskSpec(
                sources=[SourceSpec(dataset=ds_names[t], weight=(wvals[i] if wvals and wvals[i] != 1 else None))]
            )
            for i, t in enumerate(tasks)
        },
    )
    spec_file = write_spec(ws, name, spec)
    run_path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_path, run_config_toml(run))
    atomic_write_json(
        mixture_dir(ws, name) / SIDECAR,
        {
            "source": str(config_path),
            "imported": time.time(),
            "flavor": flavor,
            "key_order": list(raw),
            "original": raw,
            "imported_run": run,
            "tasks": list(tasks),
            "task_paths": {t: str(p) for t, p in tasks.items()},
            "run_config": str(run_path),
        },
    )
    return {
        "mixture": name,
        "spec": str(spec_file),
        "run_config": str(run_path),
        "flavor": flavor,
        "tasks": {
            t: {"dataset": ds_names[t], "rows": len(read[t]), "path": str(tasks[t]), "skipped": len(bad_by_task[t])}
            for t in tasks
        },
        "problems": [b.describe() for b in bad_all[:20]],
        "problems_total": len(bad_all),
        "tokens_counted": counted,
        "notes": notes,
    }
