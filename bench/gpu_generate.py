"""Generation throughput on a GPU: the validation engine's batched transformers path vs naive
one-prompt-at-a-time `generate`, and vLLM vs ours where vLLM is installed. One process, one
model, the same prompts. Finishes within ~8 minutes on an H200.

Model: a Qwen-1.8B-shaped Qwen2 (hidden 2048, 24 layers, 16 heads, FFN 5504, vocab 151936; the
shape of Qwen1.5-1.8B) with random weights, bf16. Tokenizer: the demo's byte-level BPE (its ids
are a subset of the model's vocabulary). Prompts: the 164 contest prompts of
humanevalsynthesize-python exactly as the contest baseline built them (`contest` format), read
from --data-dir (default $WORKBENCH_BENCHMARKS, else ../shared/data); when that folder is missing,
164 toy problems through the chat format instead (said so in the output).

  ours     engine.validate.hf.HFBackend.generate: length-sorted batches of --batch-size, left
           padding, greedy, per-row stop (end token / length budget)
  naive    model.generate on one prompt at a time (what bigcode-evaluation-harness does with
           --batch_size 1), timed on the first --naive-prompts prompts and extrapolated
  vllm     engine.validate.vllm_backend.VLLMBackend (a subprocess; engine start reported apart)

A random model rarely emits an end token, so nearly every answer runs to --max-new-tokens; the
figure is generated tokens per second of generation time (model load and vLLM engine start
excluded, and printed apart). Goal: ours >= 10x naive.

    .venv/bin/python bench/gpu_generate.py                 # on a GPU machine
    .venv/bin/python bench/gpu_generate.py --smoke         # a tiny CPU check that the script works
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shapes import QWEN_1_8B  # noqa: E402  (bench/shapes.py)

SMOKE: dict[str, Any] = dict(
    hidden_size=128,
    intermediate_size=256,
    num_hidden_layers=2,
    num_attention_heads=2,
    num_key_value_heads=2,
    vocab_size=4096,
    max_position_embeddings=4096,
    tie_word_embeddings=True,
)


def build_tokenizer():
    from engine.demo.assets import tokenizer_corpus, train_tokenizer

    return train_tokenizer(tokenizer_corpus(), 4096)


def build_model(tok, shape: dict, dtype, device: str):
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    cfg = Qwen2Config(
        **shape, bos_token_id=None, eos_token_id=tok.convert_tokens_to_ids("<|im_end|>"), pad_token_id=tok.pad_token_id
    )
    torch.manual_seed(0)
    with torch.device(device):
        model = Qwen2ForCausalLM(cfg).to(dtype)
    model.eval()
    model.generation_config.eos_token_id = cfg.eos_token_id
    model.generation_config.pad_token_id = cfg.pad_token_id
    return model


def contest_prompts(data_dir: Path | None, n: int, tok) -> tuple[list[str], bool, str]:
    """(prompts, add_special_tokens, what they are)."""
    from engine.validate.prompts import FORMATS, build_prompt
    from engine.validate.tasks import load_task, taskset_from_problems

    if data_dir is not None and (data_dir / "humanevalpack" / "python.jsonl").is_file():
        t = load_task("humanevalsynthesize-python", data_dir=data_dir)
        ps = [build_prompt(t, p, FORMATS["contest"], tok).text for p in t.problems[:n]]
        return ps, True, f"{len(ps)} humanevalsynthesize-python prompts, contest format"
    from engine.demo.curriculum import heldout_problems, train_problems

    rows = (heldout_problems() + train_problems())[:n]
    t = taskset_from_problems(rows).tasks[0]
    ps = [build_prompt(t, p, FORMATS["chat"], tok).text for p in t.problems]
    return ps, False, f"{len(ps)} toy problems, chat format (HumanEvalPack not found under {data_dir})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--n-prompts", type=int, default=164)
    ap.add_argument("--max-new-tokens", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--naive-prompts", type=int, default=12, help="prompts timed one at a time (extrapolated)")
    ap.add_argument("--skip-vllm", action="store_true")
    ap.add_argument("--vllm-python", default=None)
    ap.add_argument("--smoke", action="store_true", help="tiny model on CPU, few prompts: checks the script runs")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "gpu_generate.json")
    args = ap.parse_args()

    import torch

    from engine.validate.generate import GenRequest, GenSettings
    from engine.validate.hf import HFBackend

    if args.smoke:
        torch.set_num_threads(1)
        device, dtype, shape = "cpu", torch.float32, SMOKE
        args.n_prompts, args.max_new_tokens, args.batch_size, args.naive_prompts = 16, 16, 8, 4
    else:
        if not torch.cuda.is_available():
            print("no CUDA device: run this on a GPU machine (or --smoke for a CPU check)", file=sys.stderr)
            return 2
        device, dtype, shape = "cuda", torch.bfloat16, QWEN_1_8B
    data_dir = args.data_dir or Path(os.environ.get("WORKBENCH_BENCHMARKS") or (ROOT.parent / "shared" / "data"))
    t0 = time.time()
    tok = build_tokenizer()
    model = build_model(tok, shape, dtype, device)
    n_params = sum(p.numel() for p in model.parameters())
    prompts, add_special, what = contest_prompts(data_dir, args.n_prompts, tok)
    setup_s = time.time() - t0
    lens = sorted(len(tok(p, add_special_tokens=add_special)["input_ids"]) for p in prompts)
    print(
        f"model {n_params / 1e9:.2f}B params {str(dtype).replace('torch.', '')} on {device}"
        + (f" ({torch.cuda.get_device_name()})" if device == "cuda" else "")
        + f"; setup {setup_s:.1f}s"
    )
    print(
        f"prompts: {what}; prompt tokens median {lens[len(lens) // 2]}, max {lens[-1]}; "
        f"{args.max_new_tokens} new tokens each"
    )

    def sync() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    ends = ["<|im_end|>", "<|endoftext|>"]
    reqs = [GenRequest(p, add_special_tokens=add_special, max_new_tokens=args.max_new_tokens) for p in prompts]
    be = HFBackend.from_loaded(model, tok)
    settings = GenSettings(batch_size=args.batch_size, stop="eos")
    be.generate(reqs[:2], GenSettings(batch_size=2, max_new_tokens=8), end_tokens=ends)  # warm-up (kernels, allocator)
    sync()
    t = time.time()
    outs = be.generate(reqs, settings, end_tokens=ends)
    sync()
    ours_s = time.time() - t
    ours_tok = sum(o[0].n_tokens for o in outs)
    ours_tps = ours_tok / ours_s

    # naive: one prompt per generate call
    naive_tok, t = 0, time.time()
    for p in prompts[: args.naive_prompts]:
        ids = tok(p, add_special_tokens=add_special, return_tensors="pt")["input_ids"].to(device)
        with torch.no_grad():
            out = model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=args.max_new_tokens,
                do_sample=False,
                eos_token_id=[tok.convert_tokens_to_ids(e) for e in ends],
                pad_token_id=tok.pad_token_id,
            )
        naive_tok += out.shape[1] - ids.shape[1]
    sync()
    naive_s = time.time() - t
    naive_tps = naive_tok / naive_s
    rows: list[tuple[str, int | None, float | None, float | None, str]] = [
        ("ours (batched hf)", ours_tok, ours_s, ours_tps, f"batch {args.batch_size}, {len(prompts)} prompts"),
        (
            "naive (one at a time)",
            naive_tok,
            naive_s,
            naive_tps,
            f"{args.naive_prompts} prompts; all {len(prompts)} ≈ "
            f"{naive_s / max(1, args.naive_prompts) * len(prompts):.0f}s",
        ),
    ]
    result = {
        "model_params": n_params,
        "device": device,
        "prompts": what,
        "max_new_tokens": args.max_new_tokens,
        "batch_size": args.batch_size,
        "ours": {"tokens": ours_tok, "seconds": ours_s, "tokens_per_s": ours_tps},
        "naive": {"tokens": naive_tok, "seconds": naive_s, "tokens_per_s": naive_tps, "prompts": args.naive_prompts},
        "ratio_ours_vs_naive": ours_tps / naive_tps,
        "vllm": None,
    }

    if not args.skip_vllm:
        try:
            from engine.validate.vllm_backend import VLLMBackend, find_vllm_python

            py, cpu = find_vllm_python(args.vllm_python)
            if cpu and device == "cuda":
                raise RuntimeError("only the CPU build of vLLM is installed")
            with tempfile.TemporaryDirectory(prefix="wb-bench-model-") as d:
                model.save_pretrained(d, safe_serialization=True)
                tok.save_pretrained(d)
                del be
                model.to("cpu")
                if device == "cuda":
                    torch.cuda.empty_cache()
                vb = VLLMBackend(d, settings=GenSettings(dtype="bf16" if device == "cuda" else "fp32"), python=py)
                t = time.time()
                vouts = vb.generate(
                    reqs,
                    GenSettings(
                        dtype="bf16" if device == "cuda" else "fp32",
                        stop="eos",
                        max_model_len=lens[-1] + args.max_new_tokens + 8,
                    ),
                    end_tokens=ends,
                )
                wall = time.time() - t
            v_tok = sum(o[0].n_tokens for o in vouts)
            gen_s = vb.last_timing.get("generate_s") or wall
            result["vllm"] = {
                "tokens": v_tok,
                "seconds": gen_s,
                "tokens_per_s": v_tok / gen_s,
                "engine_start_s": vb.last_timing.get("init_s"),
                "wall_s": wall,
                "python": py,
            }
            rows.append(
                (
                    "vllm",
                    v_tok,
                    gen_s,
                    v_tok / gen_s,
                    f"engine start {vb.last_timing.get('init_s', 0):.0f}s apart; wall {wall:.0f}s",
                )
            )
        except Exception as e:  # noqa: BLE001 - the vLLM row is optional: say why it is empty
            result["vllm"] = {"skipped": str(e).splitlines()[0] if str(e) else type(e).__name__}
            rows.append(("vllm", None, None, None, "not run: " + result["vllm"]["skipped"]))

    print(f"\n{'path':24} {'tokens':>8} {'seconds':>8} {'tokens/s':>10}  note")
    for name, n_tok, sec, tps, note in rows:
        print(
            f"{name:24} {n_tok if n_tok is not None else '-':>8} {f'{sec:.1f}' if sec else '-':>8} "
            f"{f'{tps:.0f}' if tps else '-':>10}  {note}"
        )
    print(f"\nours / naive = {result['ratio_ours_vs_naive']:.1f}x (goal >= 10x)")
    if isinstance(result["vllm"], dict) and result["vllm"].get("tokens_per_s"):
        print(f"vllm / ours = {result['vllm']['tokens_per_s'] / ours_tps:.2f}x")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":  # vLLM (when benchmarked) starts processes: keep the guard
    sys.exit(main())
