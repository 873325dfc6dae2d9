"""Training throughput and MFU on a GPU: the workbench loop vs Hugging Face `Trainer`, same model,
same samples, same micro-batch, measured in one process. Finishes within ~8 minutes on an H200.

Model: a Qwen-1.8B-shaped Qwen2 (hidden 2048, 24 layers, 16 heads, FFN 5504, vocab 151936, untied
output layer; Qwen1.5-1.8B's shape) with random weights, LoRA r=96 / alpha=32 on every linear
layer of the blocks, bf16, sequence length 2048, micro-batch 8, no gradient accumulation.
Data: synthetic two-task code chat (prompt + answer, lengths drawn like instruction data: median
~700 tokens), tokenised with the demo tokenizer (its ids are a subset of the model's vocabulary).

  workbench   engine.train.loop.train on a run directory: per-task packing into 2048-token rows
              (samples isolated), output layer on trained positions only, case3 loss.
  baseline    transformers.Trainer on the same samples in the same order, 8 samples a step,
              DataCollatorForSeq2Seq (pad to the longest sample), labels -100 off the answer,
              optim adamw_torch_fused, same LoRA config and attention implementation.

tokens/s counts real (non-pad) tokens, over the steps after --warmup. MFU = model FLOPs / s over
the GPU's dense bf16 peak, printed two ways: the usual 6N (+ attention) per token, and the
LoRA-aware 4N (+ attention) (frozen weights get no weight gradient). Goals: workbench >= 1.3x the
baseline's tokens/s, and >= 45 % MFU.

    .venv/bin/python bench/gpu_train.py                   # on a GPU machine
    .venv/bin/python bench/gpu_train.py --smoke           # a tiny CPU check that the script works
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shapes import QWEN_1_8B  # noqa: E402  (bench/shapes.py)

TINY = dict(hidden_size=128, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, vocab_size=4096, max_position_embeddings=2048, tie_word_embeddings=False)
PEAK_BF16 = {"H200": 989.4e12, "H100": 989.4e12, "H800": 989.4e12, "A100": 312e12, "A800": 312e12,
             "L40S": 362e12, "L40": 181e12, "A10": 125e12, "4090": 165e12}


def build_model(dest: Path, shape: dict, device: str) -> tuple[Path, int]:
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from engine.demo.assets import tokenizer_corpus, train_tokenizer

    tok = train_tokenizer(tokenizer_corpus())
    cfg = Qwen2Config(**shape, eos_token_id=tok.convert_tokens_to_ids("<|im_end|>"), pad_token_id=tok.pad_token_id,
                      bos_token_id=None)
    torch.manual_seed(0)
    with torch.device(device):
        model = Qwen2ForCausalLM(cfg).to(torch.bfloat16 if device == "cuda" else torch.float32)
    model.save_pretrained(dest)
    tok.save_pretrained(dest)
    n = sum(p.numel() for p in model.parameters())
    del model
    return dest, n


def synthetic_build(dest: Path, tok, *, samples: int, seed: int = 0) -> Path:
    """Two tasks of chat samples cut from real code (Python's stdlib sources) with instruction-like
    length statistics: prompts ~lognormal(median 120 tokens), answers ~lognormal(median 550)."""
    from engine.demo.assets import _stdlib_sources

    text = "".join(_stdlib_sources(2_000_000))
    rng = random.Random(seed)
    chars_per_token = max(1.0, len(text[:200_000]) / len(tok(text[:200_000])["input_ids"]))

    def piece(tokens: int) -> str:
        n = int(tokens * chars_per_token)
        a = rng.randrange(0, max(1, len(text) - n))
        return text[a:a + n]

    manifest = {"id": "synthetic", "name": "synthetic", "seed": seed, "spec": {}, "created": time.time(), "tasks": {}}
    for task in ("synthesize", "fix"):
        (dest / task).mkdir(parents=True, exist_ok=True)
        for split, n in (("train", samples // 2), ("valid", 8)):
            with open(dest / task / f"{split}.jsonl", "w") as f:
                for i in range(n):
                    p = int(min(1500, rng.lognormvariate(math.log(120), 0.6)))
                    a = int(min(3000, rng.lognormvariate(math.log(550), 0.7)))
                    rec = {"id": f"{task}-{split}-{i}", "source": task, "row": i,
                           "chat_rounds": [{"role": "human", "content": piece(p)}, {"role": "bot", "content": piece(a)}]}
                    f.write(json.dumps(rec) + "\n")
        manifest["tasks"][task] = {"train_rows": samples // 2, "valid_rows": 8}
    (dest / "mixture.json").write_text(json.dumps(manifest))
    return dest


def flops_per_token(n_params: int, shape: dict, ctx: float) -> tuple[float, float]:
    """(6N + attention, 4N + attention) model FLOPs per token; N excludes the input embedding (a
    lookup); attention counts QK^T and AV over the token's causal context `ctx` (fwd + bwd)."""
    n = n_params - shape["vocab_size"] * shape["hidden_size"]
    attn = 12 * shape["num_hidden_layers"] * shape["hidden_size"] * ctx
    return 6 * n + attn, 4 * n + attn


def run_workbench(model_dir: Path, build: Path, runs: Path, args, on_gpu: bool) -> dict:
    from engine.train.config import TrainConfig
    from engine.train.launch import prepare_run
    from engine.train.loop import train

    cfg = TrainConfig.model_validate({
        "name": "bench-workbench",
        "model": {"path": str(model_dir), "template": "chatml"},
        "data": {"mixture": str(build), "seq_length": args.seq, "packing": True, "overlong": "truncate"},
        "peft": {"method": "lora", "lora_rank": 96, "lora_alpha": 32, "lora_dropout": 0.05},
        "optim": {"lr": 5e-5, "min_lr": 1e-6, "warmup_steps": 5},
        "loop": {"max_steps": args.warmup + args.steps, "micro_batch_size": args.micro, "grad_accum": 1,
                 "log_every": 1, "eval_every": 0, "save_every": 0, "bf16": on_gpu,
                 "gradient_checkpointing": args.gc, "keep_last": 1, "keep_best": 0},
        "loss": {"mode": "case3"},
        "launch": {"num_gpus": 1 if on_gpu else 0, "deepspeed_stage": 0, "offload_optimizer": False},
    })
    run = prepare_run(None, cfg, runs_dir=runs)
    t0 = time.time()
    train(run.path)
    recs = [json.loads(x) for x in run.metrics_path.read_text().splitlines()]
    steady = [r for r in recs if "tokens_per_s" in r and r["step"] > args.warmup]
    data = json.loads((run.path / "data.json").read_text())
    return {"tokens_per_s": statistics.median(r["tokens_per_s"] for r in steady),
            "mean_tokens_per_s": statistics.mean(r["tokens_per_s"] for r in steady),
            "gpu_mem_gb": max((r.get("gpu_mem_gb") or 0) for r in steady), "wall_s": time.time() - t0,
            "fill": data["fill"]["train"]}


def run_hf_trainer(model_dir: Path, build: Path, args, on_gpu: bool, attn: str) -> dict:
    import torch
    from datasets import Dataset
    from peft import LoraConfig, get_peft_model
    from transformers import (AutoModelForCausalLM, AutoTokenizer, DataCollatorForSeq2Seq, Trainer, TrainerCallback,
                              TrainingArguments)

    from engine.chat import encode
    from engine.train.model import default_target_modules

    tok = AutoTokenizer.from_pretrained(model_dir)
    rows = []
    for task in ("synthesize", "fix"):
        for line in open(build / task / "train.jsonl"):
            enc = encode(tok, json.loads(line)["chat_rounds"], template="chatml")
            ids, mask = enc.input_ids[:args.seq], enc.loss_mask[:args.seq]
            rows.append({"input_ids": ids, "attention_mask": [1] * len(ids),
                         "labels": [t if m else -100 for t, m in zip(ids, mask)]})
    random.Random(0).shuffle(rows)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.bfloat16 if on_gpu else torch.float32,
                                                 attn_implementation=attn)
    model.config.use_cache = False
    if args.gc:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model = get_peft_model(model, LoraConfig(r=96, lora_alpha=32, lora_dropout=0.05, task_type="CAUSAL_LM",
                                             target_modules=default_target_modules("qwen2")))
    times: list[float] = []
    tokens: list[int] = []
    slots: list[int] = []

    class Clock(TrainerCallback):
        def on_step_end(self, *a, **k):
            if on_gpu:
                torch.cuda.synchronize()
            times.append(time.time())

    class CountingTrainer(Trainer):
        def training_step(self, model, inputs, *a, **k):
            tokens.append(int(inputs["attention_mask"].sum()))
            slots.append(int(inputs["attention_mask"].numel()))
            return super().training_step(model, inputs, *a, **k)

    targs = TrainingArguments(
        output_dir=str(build.parent / "hf"), per_device_train_batch_size=args.micro, max_steps=args.warmup + args.steps,
        learning_rate=5e-5, warmup_steps=5, lr_scheduler_type="cosine", bf16=on_gpu, logging_steps=10**6,
        save_strategy="no", report_to=[], optim="adamw_torch_fused" if on_gpu else "adamw_torch",
        dataloader_num_workers=2 if on_gpu else 0, remove_unused_columns=False, seed=0, use_cpu=not on_gpu,
        disable_tqdm=True)
    trainer = CountingTrainer(model=model, args=targs, train_dataset=Dataset.from_list(rows),
                              data_collator=DataCollatorForSeq2Seq(tok, padding="longest", pad_to_multiple_of=8,
                                                                   label_pad_token_id=-100),
                              callbacks=[Clock()])
    t0 = time.time()
    if on_gpu:
        torch.cuda.reset_peak_memory_stats()
    trainer.train()
    rates = [tokens[i] / (times[i] - times[i - 1]) for i in range(args.warmup + 1, len(times))]
    return {"tokens_per_s": statistics.median(rates), "mean_tokens_per_s": statistics.mean(rates),
            "gpu_mem_gb": torch.cuda.max_memory_allocated() / 2**30 if on_gpu else 0.0, "wall_s": time.time() - t0,
            "fill": sum(tokens) / max(1, sum(slots)), "lengths": [len(r["input_ids"]) for r in rows]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=30, help="measured optimizer steps per loop")
    ap.add_argument("--warmup", type=int, default=5, help="steps before measuring")
    ap.add_argument("--micro", type=int, default=8)
    ap.add_argument("--seq", type=int, default=2048)
    ap.add_argument("--gc", action="store_true", help="gradient checkpointing in both loops")
    ap.add_argument("--peak-tflops", type=float, help="dense bf16 peak of this GPU (default: by name)")
    ap.add_argument("--smoke", action="store_true", help="tiny model on CPU: checks the script, not the speed")
    args = ap.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()

    on_gpu = torch.cuda.is_available() and not args.smoke
    if not on_gpu and not args.smoke:
        sys.exit("no CUDA GPU: this benchmark needs one (or run --smoke to check the script on CPU)")
    if args.smoke:
        torch.set_num_threads(1)
        args.seq, args.micro, args.steps, args.warmup = 256, 2, 3, 1
    shape = TINY if args.smoke else QWEN_1_8B
    device = "cuda" if on_gpu else "cpu"
    name = torch.cuda.get_device_name(0) if on_gpu else "cpu"
    peak = (args.peak_tflops * 1e12 if args.peak_tflops else
            next((v for k, v in PEAK_BF16.items() if k in name), None) if on_gpu else None)
    t_all = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model_dir, n_params = build_model(tmp / "model", shape, device)
        from transformers import AutoTokenizer

        from engine.train.model import resolve_attn

        tok = AutoTokenizer.from_pretrained(model_dir)
        need = (args.warmup + args.steps + 2) * args.micro * args.seq
        build = synthetic_build(tmp / "build", tok, samples=max(64, int(need / 650 * 1.3)))
        attn = resolve_attn("auto", on_gpu=on_gpu, half=on_gpu)
        print(f"device {name}; model {n_params / 1e9:.2f}B params ({'Qwen-1.8B shape' if not args.smoke else 'tiny'}), "
              f"LoRA r96, {'bf16' if on_gpu else 'fp32'}, seq {args.seq}, micro-batch {args.micro}, attention {attn}, "
              f"gradient checkpointing {'on' if args.gc else 'off'}; setup {time.time() - t_all:.0f}s", flush=True)
        ours = run_workbench(model_dir, build, tmp / "runs", args, on_gpu)
        if on_gpu:
            torch.cuda.empty_cache()
        base = run_hf_trainer(model_dir, build, args, on_gpu, attn)
        lengths = base["lengths"]  # a token at position i attends to i + 1 tokens: E[len^2] / 2 E[len]
        ctx = sum(n * n for n in lengths) / (2 * sum(lengths))
    f6, f4 = flops_per_token(n_params, shape, ctx)
    print(f"\n{'loop':12} {'tokens/s':>12} {'MFU 6N':>8} {'MFU 4N':>8} {'peak mem':>9} {'wall':>7}")
    for label, r in (("workbench", ours), ("HF Trainer", base)):
        m6 = f"{r['tokens_per_s'] * f6 / peak:7.1%}" if peak else "      ?"
        m4 = f"{r['tokens_per_s'] * f4 / peak:7.1%}" if peak else "      ?"
        print(f"{label:12} {r['tokens_per_s']:12,.0f} {m6:>8} {m4:>8} {r['gpu_mem_gb']:8.1f}G {r['wall_s']:6.0f}s")
    ratio = ours["tokens_per_s"] / base["tokens_per_s"]
    print(f"\nratio workbench / HF Trainer: {ratio:.2f}x (goal >= 1.3x: {'met' if ratio >= 1.3 else 'NOT met'})")
    if peak:
        mfu = ours["tokens_per_s"] * f6 / peak
        print(f"workbench MFU (6N convention): {mfu:.1%} (goal >= 45%: {'met' if mfu >= 0.45 else 'NOT met'}); "
              f"peak {peak / 1e12:.0f} TFLOPS bf16 dense")
    print(f"row fill: workbench {ours['fill']:.1%} (packed), baseline batches {base['fill']:.1%} of 8 x longest; "
          f"total {time.time() - t_all:.0f}s")


if __name__ == "__main__":
    main()
