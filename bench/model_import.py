"""`workbench model import` at real size: a random Qwen-1_8B-shaped checkpoint (24 layers, hidden
2048, 151,936 vocabulary, bf16, two safetensors shards as the hub ships it) converted to native
Qwen2. Goals: peak RSS under twice the largest shard, and well under a minute.

    .venv/bin/python bench/model_import.py [--work DIR] [--keep]

Phase 1 (not measured, its own process): write the random checkpoint (+ the real qwen.tiktoken
from ../shared/models/qwen1 when present). Phase 2 (measured): the import command as a user runs
it, in a child process: wall time and that child's peak RSS (wait4). Baseline, same run:
copying the same shard files (`shutil.copyfile`), the I/O floor of any conversion that writes a
new checkpoint.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QWEN1 = ROOT.parent / "shared" / "models" / "qwen1"
SHAPE = {
    "hidden_size": 2048,
    "num_hidden_layers": 24,
    "num_attention_heads": 16,
    "kv_channels": 128,
    "intermediate_size": 11008,
    "vocab_size": 151936,
    "seq_length": 8192,
}


def generate(dest: Path) -> None:
    """The random checkpoint, written shard by shard (run in its own process)."""
    import torch
    from safetensors.torch import save_file

    dest.mkdir(parents=True, exist_ok=True)
    H, F, V, L = SHAPE["hidden_size"], SHAPE["intermediate_size"] // 2, SHAPE["vocab_size"], SHAPE["num_hidden_layers"]
    names: list[tuple[str, tuple[int, ...]]] = [("transformer.wte.weight", (V, H))]
    for i in range(L):
        p = f"transformer.h.{i}."
        names += [
            (p + "ln_1.weight", (H,)),
            (p + "attn.c_attn.weight", (3 * H, H)),
            (p + "attn.c_attn.bias", (3 * H,)),
            (p + "attn.c_proj.weight", (H, H)),
            (p + "ln_2.weight", (H,)),
            (p + "mlp.w1.weight", (F, H)),
            (p + "mlp.w2.weight", (F, H)),
            (p + "mlp.c_proj.weight", (H, F)),
        ]
    names += [("transformer.ln_f.weight", (H,)), ("lm_head.weight", (V, H))]
    half = len(names) // 2  # two shards, as Qwen/Qwen-1_8B has
    weight_map = {}
    g = torch.Generator().manual_seed(0)
    for k, part in enumerate((names[:half], names[half:])):
        fname = f"model-{k + 1:05d}-of-00002.safetensors"
        tensors = {n: (torch.randn(shape, generator=g) * 0.02).to(torch.bfloat16) for n, shape in part}
        save_file(tensors, str(dest / fname), metadata={"format": "pt"})
        weight_map.update({n: fname for n, _ in part})
        del tensors
    (dest / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    cfg = {
        "architectures": ["QWenLMHeadModel"],
        "model_type": "qwen",
        "auto_map": {
            "AutoConfig": "configuration_qwen.QWenConfig",
            "AutoModelForCausalLM": "modeling_qwen.QWenLMHeadModel",
        },
        **SHAPE,
        "max_position_embeddings": SHAPE["seq_length"],
        "rotary_emb_base": 10000,
        "rotary_pct": 1.0,
        "layer_norm_epsilon": 1e-6,
        "no_bias": True,
        "use_dynamic_ntk": True,
        "use_logn_attn": True,
        "bf16": True,
        "tie_word_embeddings": False,
        "torch_dtype": "bfloat16",
    }
    (dest / "config.json").write_text(json.dumps(cfg, indent=2))
    if not (QWEN1 / "qwen.tiktoken").is_file():
        sys.exit(f"the Qwen-1 vocabulary is not at {QWEN1}; the import needs qwen.tiktoken")
    for f in ("qwen.tiktoken", "tokenizer_config.json", "generation_config.json"):
        shutil.copy(QWEN1 / f, dest / f)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=None, help="Working folder (default: a temporary one).")
    ap.add_argument("--keep", action="store_true", help="Keep the generated checkpoint (reused next time).")
    ap.add_argument("--generate", type=Path, help=argparse.SUPPRESS)  # phase 1, in its own process
    args = ap.parse_args()
    if args.generate:
        generate(args.generate)
        return 0
    work = args.work or Path(tempfile.mkdtemp(prefix="wb-bench-import-"))
    src = work / "Qwen-1_8B-random"
    if not (src / "model.safetensors.index.json").is_file():
        print(f"generating a random Qwen-1_8B-shaped checkpoint in {src} (not measured) ...", flush=True)
        t = time.time()
        subprocess.run([sys.executable, __file__, "--generate", str(src)], check=True)
        print(f"  generated in {time.time() - t:.1f} s", flush=True)
    shards = sorted(src.glob("model-*.safetensors"))
    largest = max(f.stat().st_size for f in shards)
    total = sum(f.stat().st_size for f in shards)

    copy_dir = work / "copy-baseline"
    shutil.rmtree(copy_dir, ignore_errors=True)
    copy_dir.mkdir()
    t = time.time()
    for f in shards:
        shutil.copyfile(f, copy_dir / f.name)
    copy_s = time.time() - t
    shutil.rmtree(copy_dir)

    ws = work / "ws"
    shutil.rmtree(ws, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "workbench", "init", str(ws)], check=True, capture_output=True)
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        t = time.time()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "workbench",
                "-w",
                str(ws),
                "model",
                "import",
                str(src),
                "--name",
                "qwen1_8b",
                "--json",
            ],
            stdout=stdout,
            stderr=stderr,
        )
        _pid, status, usage = os.wait4(proc.pid, 0)  # this child's own peak RSS, not the generator's
        import_s = time.time() - t
        proc.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        stderr.seek(0)
        if proc.returncode != 0:
            print(stderr.read().decode()[-3000:], file=sys.stderr)
            return 1
        res = json.loads(stdout.read())
    peak = usage.ru_maxrss * 1024  # KiB -> bytes (Linux)
    gb = 1e9
    print(f"\ncheckpoint: {len(shards)} shards, {total / gb:.2f} GB bf16, largest shard {largest / gb:.2f} GB")
    print(
        f"import:     {import_s:.1f} s wall ({res['info']['shards']} shards written, tokenizer checked against "
        f"tiktoken: {bool(res['info']['tokenizer']['checked_against_tiktoken'])})"
    )
    print(f"baseline:   copying the shards takes {copy_s:.1f} s -> import / copy = {import_s / max(copy_s, 1e-9):.2f}x")
    print(f"peak RSS:   {peak / gb:.3f} GB = {peak / largest:.3f} x the largest shard   (goal < 2x)")
    print(f"time:       {import_s:.1f} s = {import_s / 60:.2f} x one minute   (goal: well under 1x)")
    if not args.keep and args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
