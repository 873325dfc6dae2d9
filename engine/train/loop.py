"""The training loop, top to bottom. Every rank runs `train(run_dir)`; the main process owns the
run directory (metrics.jsonl, status.json heartbeats, checkpoint.json, retention).

    1. config, accelerator, signals       5. resume: full state + data position; metrics cut back
    2. tokenizer + the mixture's shards   6. for each optimizer step: control requests, task
    3. model (LoRA / QLoRA / full),          totals across ranks, micro-batch forward/backward,
       optimizer, prepare, packing probe     non-finite guard, clip, step, log, validate, hooks, save
    4. data plan, schedule                7. final checkpoint, terminal state

Signals: SIGTERM = stop (save, then exit `stopped`); SIGUSR1 = save now. The same requests
arrive as files in control/ (engine.runs.control).
"""

from __future__ import annotations

import math
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from engine.errors import InputError, WorkbenchError
from engine.fsutil import atomic_write_json
from engine.runs import MetricsWriter, RunDir, RunState
from engine.runs import control
from engine.train import checkpoints as ckpts
from engine.train.config import load_run_config
from engine.train.losses import (FocalCoefficients, StepTotals, effective_weights, local_counts, micro_batch_part,
                                 objective_part, token_sums)

HEARTBEAT_S = 1.0


class _Requests:
    """stop / save requests from signals (any rank) and control files (main process)."""

    def __init__(self) -> None:
        self.stop = False
        self.save = False
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        try:
            self._previous[signal.SIGTERM] = signal.signal(signal.SIGTERM, lambda *_: setattr(self, "stop", True))
            self._previous[signal.SIGUSR1] = signal.signal(signal.SIGUSR1, lambda *_: setattr(self, "save", True))
        except ValueError:  # not the main thread (e.g. called from a test runner thread)
            pass

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def truncate_metrics(run: RunDir, keep_through_step: int) -> int:
    """Drop metrics.jsonl records after the step a resume restarts from (they will be logged
    again), so every step appears once. Returns how many were dropped."""
    import json

    p = run.metrics_path
    if not p.exists():
        return 0
    kept, dropped = [], 0
    for line in p.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
            step = rec.get("step")
        except json.JSONDecodeError:
            dropped += 1
            continue
        if isinstance(step, int) and step <= keep_through_step:
            kept.append(line)
        else:
            dropped += 1
    from engine.fsutil import atomic_write_text

    atomic_write_text(p, "".join(x + "\n" for x in kept))
    return dropped


def train(run_dir: str | Path, *, resume: bool = False, echo: Callable[[str], None] = log) -> RunState:
    import torch
    from accelerate import Accelerator
    from accelerate.utils import DistributedType, set_seed

    from engine.tokens import build_tasks, tokenize_build
    from engine.train import model as M
    from engine.train.coba import CoBa
    from engine.train.data import build_plan
    from engine.train.export import Exporters
    from engine.train.hooks import HookContext, build_hooks, run_hooks
    from engine.train.schedule import apply_lr, make_scheduler

    # 1. config, accelerator, signals -----------------------------------------------------------
    import warnings

    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # stdout.log is read by people and the app: no tqdm bars
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")
    run = RunDir(run_dir)
    cfg = load_run_config(run)
    requests = _Requests()
    requests.install()
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        # a fresh accelerator state for this run (matters when train() runs twice in one process)
        from accelerate.state import AcceleratorState, GradientState

        AcceleratorState._reset_state(reset_partial_state=True)
        GradientState._reset_state()
    on_gpu = torch.cuda.is_available() and cfg.launch.num_gpus > 0
    bf16 = bool(cfg.loop.bf16 and on_gpu and torch.cuda.is_bf16_supported())
    accelerator = Accelerator(cpu=not on_gpu, mixed_precision="bf16" if bf16 else "no",
                              gradient_accumulation_steps=cfg.loop.grad_accum)
    is_ds = accelerator.distributed_type == DistributedType.DEEPSPEED
    main, rank, world = accelerator.is_main_process, accelerator.process_index, accelerator.num_processes
    device = accelerator.device
    GA, MB, T_mode = cfg.loop.grad_accum, cfg.loop.micro_batch_size, cfg.loss.mode
    say = echo if main else (lambda _m: None)
    last_beat = [0.0]
    status: dict[str, Any] = {"total_steps": None, "phase": "starting", "started": time.time()}

    def beat(state: RunState = RunState.RUNNING, force: bool = False, **fields: Any) -> None:
        status.update(fields)
        if main and (force or time.time() - last_beat[0] >= HEARTBEAT_S):
            run.write_status(state, **status)
            last_beat[0] = time.time()

    def reduce_sum(x: np.ndarray) -> np.ndarray:
        if world == 1:  # no round trip through the device (a sync on a GPU)
            return np.array(x, dtype=np.float64)
        t = torch.as_tensor(np.asarray(x, dtype=np.float64), device=device)
        return accelerator.reduce(t, reduction="sum").cpu().numpy()

    def reduce_max(x: list[float]) -> list[float]:
        if world == 1:
            return x
        t = torch.tensor(x, dtype=torch.float64, device=device)
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
        return t.cpu().tolist()

    try:
        beat(phase="loading tokenizer and data", step=0, force=True)
        say(f"run {run.id}: {world} process(es), device {device}, "
            f"{'bf16' if bf16 else 'fp32'}, {'DeepSpeed ZeRO-' + str(cfg.launch.deepspeed_stage) if is_ds else 'no DeepSpeed'}")
        set_seed(cfg.loop.seed)

        # 2. tokenizer + the mixture's token shards (tokenised once, by the main process) ------------
        tok, pad_id = M.load_tokenizer(cfg.model.path, trust_remote_code=cfg.model.trust_remote_code)
        build = Path(cfg.data.mixture)
        tasks = build_tasks(build)
        unknown = sorted(set(cfg.loss.task_weights) - set(tasks))
        if unknown:
            raise InputError(f"task_weights names tasks not in the mixture: {', '.join(unknown)} "
                             f"(tasks: {', '.join(tasks)})", field="loss.task_weights")
        with accelerator.main_process_first():
            shards = tokenize_build(build, tok, template=cfg.model.template)
        T = len(tasks)
        static_alpha = np.array([cfg.loss.task_weights.get(t, 1.0) for t in tasks], dtype=np.float64)

        # 3. model, optimizer, packing probe ---------------------------------------------------------
        beat(phase="loading model", force=True)
        lm = M.load_for_training(cfg, device=device, bf16=bf16 and (cfg.peft.method != "none" or is_ds))
        n_train, n_total = M.trainable_parameters(lm)
        say(f"model {cfg.model.path}: {n_total / 1e6:.1f}M parameters, {n_train / 1e6:.3f}M trainable "
            f"({cfg.peft.method})")
        model = M.masked_lm(lm)
        decay = [p for n, p in model.named_parameters() if p.requires_grad and p.ndim >= 2]
        no_decay = [p for n, p in model.named_parameters() if p.requires_grad and p.ndim < 2]
        groups = [{"params": decay, "weight_decay": cfg.optim.weight_decay},
                  {"params": no_decay, "weight_decay": 0.0}]
        groups = [g for g in groups if g["params"]]
        opt_kw = dict(lr=cfg.optim.lr, betas=tuple(cfg.optim.betas), eps=cfg.optim.eps)
        if is_ds and cfg.launch.offload_optimizer:
            from deepspeed.ops.adam import DeepSpeedCPUAdam

            raw_opt = DeepSpeedCPUAdam(groups, adamw_mode=True, **opt_kw)
        else:
            raw_opt = torch.optim.AdamW(groups, fused=on_gpu or None, **opt_kw)
        model, optimizer = accelerator.prepare(model, raw_opt)
        inner = accelerator.unwrap_model(model)
        if cfg.peft.method != "none" and not is_ds:
            trainable = {n for n, p in inner.named_parameters() if p.requires_grad}

            def only_trainable(_models: Any, weights: list, _out: str) -> None:
                for i, w in enumerate(weights):
                    weights[i] = {k: v for k, v in w.items() if k.removeprefix("module.") in trainable}

            accelerator.register_save_state_pre_hook(only_trainable)
        packed = cfg.data.packing
        if packed:
            with accelerator.autocast():
                vocab = min(len(tok), int(getattr(M.base_model_of(inner.lm).config, "vocab_size", len(tok))))
                ok, diff = M.isolation_probe(inner, vocab_size=vocab, device=device, half=bf16)
            if ok is None:
                say("WARNING: the packing isolation probe gave non-finite outputs (broken weights?); "
                    "packing stays on")
            elif not ok:
                packed = False
                say(f"WARNING: this model does not isolate packed samples through position_ids "
                    f"(output drift {diff:.3g}); packing is off, one sample per row")

        # 4. data plan and schedule ------------------------------------------------------------------
        plan = build_plan(shards, tasks, seq_length=cfg.data.seq_length, packing=packed, overlong=cfg.data.overlong,
                          pad_id=pad_id, seed=cfg.loop.seed, valid_max_samples=cfg.data.valid_max_samples)
        plan.report["packing_active"] = packed
        GB = MB * GA * world
        spe = plan.steps_per_epoch(GB)
        total = cfg.loop.max_steps or cfg.loop.epochs * spe
        if main:
            atomic_write_json(run.path / "data.json", plan.report)
            for t, r in plan.report["tasks"].items():
                tr = r.get("train", {})
                say(f"task {t}: {tr.get('kept')} / {tr.get('samples')} train samples in {tr.get('rows')} rows "
                    f"(fill {tr.get('fill')}), truncated {tr.get('truncated')}, dropped "
                    f"{tr.get('dropped_overlong', 0) + tr.get('dropped_no_trained', 0) + tr.get('dropped_truncated_to_no_trained', 0)}, "
                    f"valid rows {r.get('valid', {}).get('rows', 0)}")
            say(f"{len(plan.train_packs)} train rows, global batch {GB} rows, {spe} steps/epoch, {total} steps")
        scheduler = make_scheduler(raw_opt, lr=cfg.optim.lr, min_lr=cfg.optim.min_lr, warmup=cfg.optim.warmup_steps,
                                   total=total, kind=cfg.optim.scheduler)
        accelerator.register_for_checkpointing(scheduler)
        coba = CoBa(T, warmup_steps=cfg.loss.coba_warmup_steps, history_length=cfg.loss.coba_history_length,
                    tau=cfg.loss.coba_tau, update_interval=cfg.loss.coba_update_interval,
                    sample_valid_num=cfg.loss.coba_sample_valid_num) if T_mode == "coba" else None

        # 5. resume -------------------------------------------------------------------------------------
        step, best, bad_evals = 0, math.inf, 0
        ck = ckpts.latest_checkpoint(run) if resume else None
        if resume:
            if ck is not None:
                kw = {"load_module_strict": False} if is_ds else {"strict": cfg.peft.method == "none"}
                accelerator.load_state(str(Path(ck["path"]) / "state"), **kw)
                apply_lr(raw_opt, scheduler)
                st = ckpts.read_trainer_state(ck["path"])
                step, bad_evals = int(st["step"]), int(st.get("bad_evals", 0))
                best = float(st["best"]) if st.get("best") is not None else math.inf
                if coba is not None and st.get("coba"):
                    coba.load_state_dict(st["coba"])
                say(f"resumed from {ck['name']} (step {step})")
            else:
                say("no complete checkpoint to resume from: starting from step 0")
            if main:
                cut = truncate_metrics(run, step)
                if cut:
                    say(f"dropped {cut} metric record(s) logged after step {step}; they are recomputed")
        writer = MetricsWriter(run.metrics_path) if main else None
        exporters = Exporters(cfg, run) if main else None
        hooks = build_hooks(cfg, HookContext(run, cfg, tasks, plan, device)) if main else []
        metric_key = "valid_loss_weighted" if cfg.loop.best_metric == "weighted" else "valid_loss"

        def log_metrics(at: int, metrics: dict[str, Any]) -> None:
            if main:
                writer.log(at, metrics)
                exporters.log(at, metrics)

        # -- validation: token-mean cross-entropy per task over the whole valid split ----------
        def evaluate() -> dict[str, Any]:
            model.eval()
            acc = np.zeros((2, T))
            with torch.no_grad(), accelerator.autocast():
                for mb in plan.valid_batches(rank=rank, world=world, micro=MB):
                    acc += _batch_sums(inner, _to_device(mb, device), T)
            model.train()
            acc = reduce_sum(acc)
            out: dict[str, Any] = {}
            for t, name in enumerate(tasks):
                out[f"valid_loss/{name}"] = float(acc[0, t] / acc[1, t]) if acc[1, t] > 0 else None
            vals = [(out[f"valid_loss/{n}"], static_alpha[i]) for i, n in enumerate(tasks)
                    if out[f"valid_loss/{n}"] is not None]
            if vals:
                out["valid_loss"] = float(np.mean([v for v, _ in vals]))
                wsum = sum(w for _, w in vals)
                out["valid_loss_weighted"] = float(sum(v * w for v, w in vals) / wsum) if wsum > 0 else None
            return out

        def coba_sample() -> list[float | None]:
            model.eval()
            acc = np.zeros((2, T))
            with torch.no_grad(), accelerator.autocast():
                for _ in range(coba.sample_valid_num):
                    mb = plan.valid_sample(coba.updates, rank=rank, world=world, micro=MB)
                    acc += _batch_sums(inner, _to_device(mb, device), T)
                    coba.updates += 1
            model.train()
            acc = reduce_sum(acc)
            return [float(acc[0, t] / acc[1, t]) if acc[1, t] > 0 else None for t in range(T)]

        def save(kinds: list[str], valid: dict[str, Any] | None) -> None:
            ck = run.checkpoint_dir(step)
            beat(phase=f"saving checkpoint step {step}", force=True)
            accelerator.wait_for_everyone()
            if main:
                (ck / "checkpoint.json").unlink(missing_ok=True)
            accelerator.save_state(str(ck / "state"), **({"exclude_frozen_parameters": True} if is_ds else {}))
            sd = accelerator.get_state_dict(model)
            if main:
                sd = {k.removeprefix("lm."): v for k, v in sd.items()} if sd is not None else None
                where = "model" if cfg.peft.method == "none" else "adapter"
                M.save_pretrained_model(inner.lm, sd, ck / where, tok)
                meta = {"step": step, "kind": "+".join(kinds), "epoch": round(step / spe, 4), "weights": where,
                        "base_model": cfg.model.path, "peft": cfg.peft.method, "template": cfg.model.template,
                        **{k: v for k, v in (valid or {}).items() if v is not None}}
                state = {"step": step, "best": best if math.isfinite(best) else None, "bad_evals": bad_evals,
                         "total_steps": total, "coba": coba.state_dict() if coba else None}
                ckpts.write_meta(ck, meta, state)
                removed = ckpts.apply_retention(run, keep_last=cfg.loop.keep_last, keep_best=cfg.loop.keep_best,
                                                metric_key=metric_key)
                say(f"saved {ck.name} ({'+'.join(kinds)})" + (f"; removed {', '.join(removed)}" if removed else ""))
            accelerator.wait_for_everyone()

        # 6. the steps -----------------------------------------------------------------------------
        model.train()
        if step == 0:
            v0: dict[str, Any] = {}
            if cfg.loop.eval_every or coba is not None:
                beat(phase="validating", total_steps=total, force=True)
                v0 = evaluate()
                if coba is not None:
                    coba.set_baseline([v0[f"valid_loss/{t}"] for t in tasks])
            if any(h.at_start for h in hooks):
                beat(phase="validating (generate + execute)", total_steps=total, force=True)
                model.eval()
                with accelerator.autocast():
                    v0.update(run_hooks(hooks, inner.lm, tok, 0, log=say, at_start=True))
                model.train()
            if v0:
                log_metrics(0, v0)
        beat(phase="training", total_steps=total, force=True)
        win = _Window(T, T_mode)
        t_start, step_start = time.time(), step
        nonfinite_run, end_state, end_message = 0, RunState.COMPLETED, ""
        last_saved = ck["step"] if resume and ck is not None else -1
        while step < total:
            # control: signals on any rank, control files on the main one; every rank agrees
            if main:
                pend = control.pending(run)
                requests.stop |= "stop" in pend
                requests.save |= "save" in pend
            stop_req, save_req = (bool(x) for x in reduce_max([float(requests.stop), float(requests.save)]))
            if stop_req:
                beat(RunState.STOPPING, phase="stopping: saving", force=True)
                end_state, end_message = RunState.STOPPED, f"stopped on request at step {step}"
                break

            # the step's rows, and every task's token / sample totals over all ranks
            mbs = plan.micro_batches(step, rank=rank, world=world, grad_accum=GA, micro=MB)
            counts = reduce_sum(local_counts(mbs, T))
            alpha = static_alpha * (coba.weights(step) if coba is not None else 1.0)
            totals = StepTotals(tokens=counts[0], samples=counts[1], alpha=alpha)
            batches = [_to_device(mb, device) for mb in mbs]
            focal = None
            if T_mode == "focal_task" and GA > 1:  # coefficients of the whole step first
                with torch.no_grad(), accelerator.autocast():
                    sq = sum(_batch_sums(inner, b, T, with_q=True) for b in batches)  # already on the device
                sq = reduce_sum(sq)
                focal = FocalCoefficients.from_sums(sq[0], sq[2], totals, cfg.loss.focal_gamma)

            # forward / backward of each micro-batch; values stay on the device (one sync a step)
            poisoned = False
            part_total = torch.zeros((), dtype=torch.float64, device=device)
            dev_stats = torch.zeros((4, T), dtype=torch.float64, device=device)  # S_t, N_t, Q_t, focal factor
            for mb, b in zip(mbs, batches):
                with accelerator.accumulate(model):
                    token_loss = model(b["input_ids"], b["position_ids"], b["sel"], b["targets"])
                    sums = token_sums(token_loss, b["token_sample"], b["sample_task"], T)
                    if T_mode == "focal_task" and focal is None:  # one micro-batch: same forward
                        loc = np.stack([sums["S_t"].detach().double().cpu().numpy(),
                                        sums["Q_t"].detach().double().cpu().numpy()])
                        g = reduce_sum(loc)
                        focal = FocalCoefficients.from_sums(g[0], g[1], totals, cfg.loss.focal_gamma)
                    if cfg.loss.scope == "micro_batch":   # MFTCoder: each micro-batch balanced on its own
                        part = micro_batch_part(T_mode, sums, b["sample_task"], mb, alpha, n_micro_batches=GA * world)
                    else:
                        part = objective_part(T_mode, sums, b["sample_task"], totals, gamma=cfg.loss.focal_gamma,
                                              focal=focal)
                    if is_ds:  # DeepSpeed updates inside backward(): a non-finite part must not reach it
                        poisoned |= reduce_max([0.0 if bool(torch.isfinite(part.detach())) else 1.0])[0] > 0
                        if poisoned:  # an exact zero gradient from this micro-batch instead of NaN
                            part = sum((p * 0.0).sum() for p in model.parameters() if p.requires_grad)
                    accelerator.backward(part * (GA * world))
                    part_total += part.detach().double()
                dev_stats += _stats_of(sums, b, cfg.loss.focal_gamma, T)
            if is_ds:
                gn = model.get_global_grad_norm() if hasattr(model, "get_global_grad_norm") else None
                part_sum, stats = float(part_total), dev_stats.cpu().numpy()
                grad_norm = float(gn) if gn is not None and not poisoned else float("nan")
                skipped = poisoned
            else:
                params = [p for p in model.parameters() if p.requires_grad]
                gn = accelerator.clip_grad_norm_(params, cfg.optim.max_grad_norm or float("inf"))
                packed_vals = torch.cat([part_total.reshape(1), torch.as_tensor(gn, dtype=torch.float64,
                                         device=device).reshape(1), dev_stats.reshape(-1)]).cpu().numpy()
                part_sum, grad_norm, stats = float(packed_vals[0]), float(packed_vals[1]), packed_vals[2:].reshape(4, T)
                bad = not (math.isfinite(part_sum) and math.isfinite(grad_norm))
                skipped = reduce_max([float(bad)])[0] > 0  # every rank skips together
                if skipped:
                    grad_norm = float("nan")
                else:
                    optimizer.step()
                optimizer.zero_grad(set_to_none=True)
            if not skipped:
                scheduler.step()
            lr_now = raw_opt.param_groups[0]["lr"]  # logged as "lr": the rate after this step
            step += 1
            value = focal.value / world if (T_mode == "focal_task" and focal is not None) else part_sum
            if skipped:
                value = 0.0
            weights = None if T_mode == "focal_sample" else \
                effective_weights(T_mode, totals, focal.factor if focal is not None else None)
            win.add(value, stats, weights, grad_norm, sum(mb.n_tokens for mb in mbs), skipped, lr_now)
            if skipped:
                nonfinite_run += 1
                say(f"step {step}: non-finite loss or gradient, update skipped ({nonfinite_run} in a row)")
                if nonfinite_run >= cfg.loop.max_nonfinite_steps:
                    end_state = RunState.FAILED
                    end_message = (f"{nonfinite_run} non-finite steps in a row at step {step}; stopped "
                                   f"(last checkpoint: step {last_saved if last_saved >= 0 else 'none'})")
                    log_metrics(step, win.flush(reduce_sum, tasks, static_alpha))
                    break
            else:
                nonfinite_run = 0

            # one metrics record per step: training window, validation, hooks ------------------
            rec: dict[str, Any] = {}
            elapsed = time.time() - t_start
            eta = (total - step) * elapsed / max(1, step - step_start)
            if step % cfg.loop.log_every == 0 or step == total:
                rec.update(win.flush(reduce_sum, tasks, static_alpha))
                rec.update(eta_s=round(eta, 1), epoch=round(step / spe, 4),
                           gpu_mem_gb=round(torch.cuda.max_memory_allocated() / 2**30, 3) if on_gpu else None)
                if on_gpu:
                    torch.cuda.reset_peak_memory_stats()
                beat(loss=rec.get("loss"), tokens_per_s=rec.get("tokens_per_s"))
                say(f"step {step}/{total} loss {_f(rec.get('loss'))} lr {rec['lr']:.3g} "
                    f"grad_norm {_f(rec.get('grad_norm'))} tok/s {rec.get('tokens_per_s', 0):.0f}")
            beat(step=step, eta_s=round(eta, 1), epoch=round(step / spe, 4), phase="training")
            kinds: list[str] = []
            valid = None
            hooked: dict[str, Any] = {}
            if cfg.loop.eval_every and step % cfg.loop.eval_every == 0:
                beat(phase="validating", force=True)
                valid = evaluate()
                metric = valid.get(metric_key)
                if metric is not None:
                    if metric < best - max(1e-12, 1e-6 * abs(best if math.isfinite(best) else 0.0)):
                        best, bad_evals = metric, 0
                        if cfg.loop.keep_best:
                            kinds.append("best")
                    else:
                        bad_evals += 1
                rec.update(valid)
                rec["best_" + metric_key] = best if math.isfinite(best) else None
                beat(best_valid_loss=best if math.isfinite(best) else None, phase="training")
            if coba is not None and coba.due(step):
                coba.record(coba_sample())
            if hooks and any(h.due(step) for h in hooks):
                beat(phase="validating (generate + execute)", force=True)
                model.eval()
                with accelerator.autocast():
                    got = run_hooks(hooks, inner.lm, tok, step, log=say)
                model.train()
                rec.update(got)
                # pass@1 and the like travel with a checkpoint saved at this step
                hooked = {k: v for k, v in got.items() if not k.startswith("hook_error/")}
                if "pass@1" in got:
                    say(f"step {step}: pass@1 {got['pass@1']:.3f} "
                        + " ".join(f"{k.split('/', 1)[1]} {v:.3f}" for k, v in got.items() if k.startswith("pass@1/"))
                        + (f" ({got['validate_s']:.1f} s)" if "validate_s" in got else ""))
            if rec:
                log_metrics(step, rec)

            # save: periodic, best, requested, early stop ----------------------------------------
            if cfg.loop.save_every and step % cfg.loop.save_every == 0:
                kinds.append("periodic")
            if save_req:
                kinds.append("requested")
                requests.save = False
                if main:
                    control.consume(run, "save")
            early = bool(cfg.loop.early_stopping_patience and valid is not None
                         and bad_evals >= cfg.loop.early_stopping_patience)
            if early:
                end_message = (f"early stopping at step {step}: no improvement of {metric_key} in "
                               f"{bad_evals} evaluations (best {best:.4f})")
                kinds.append("final")
            if kinds:
                save(kinds, {**(valid or {}), **hooked})
                last_saved = step
            if early:
                say(end_message)
                break

        # 7. the end ------------------------------------------------------------------------------
        if end_state != RunState.FAILED and last_saved != step:
            save(["stop"] if end_state == RunState.STOPPED else ["final"], None)
            last_saved = step
        if main and end_state == RunState.STOPPED:
            control.consume(run, "stop")
        if end_state == RunState.COMPLETED and not end_message:
            end_message = f"completed {step} steps"
        beat(end_state, force=True, step=step, phase="done", message=end_message, eta_s=0 if end_state ==
             RunState.COMPLETED else None)
        say(end_message)
        if exporters is not None:
            exporters.close()
        if writer is not None:
            writer.close()
        accelerator.wait_for_everyone()
        return end_state
    except BaseException as e:
        msg = _failure_message(e)
        if main:
            run.write_status(RunState.FAILED, **{**status, "message": msg, "phase": "failed"})
        say(f"FAILED: {msg}")
        raise
    finally:
        requests.restore()
        try:
            accelerator.end_training()
        except Exception:
            pass


def _failure_message(e: BaseException) -> str:
    name = type(e).__name__
    if "OutOfMemory" in name:
        return (f"out of GPU memory ({e}). Lower [loop] micro_batch_size or [data] seq_length, keep "
                "gradient_checkpointing on, or use QLoRA / DeepSpeed offload")
    if isinstance(e, KeyboardInterrupt):
        return "interrupted"
    if isinstance(e, WorkbenchError):
        return str(e)
    return f"{name}: {e}"


# -- small helpers used by the loop ------------------------------------------------------------------

def _to_device(mb: Any, device: Any) -> dict[str, Any]:
    import torch

    sel = np.flatnonzero(mb.loss_mask.reshape(-1))
    return {
        "input_ids": torch.from_numpy(mb.input_ids).to(device),
        "position_ids": torch.from_numpy(mb.position_ids).to(device),
        "sel": torch.from_numpy(sel).to(device),
        "targets": torch.from_numpy(mb.targets.reshape(-1)[sel]).to(device),
        "token_sample": torch.from_numpy(mb.token_sample.reshape(-1)[sel]).to(device),
        "sample_task": torch.from_numpy(mb.sample_task).to(device),
    }


def _batch_sums(model: Any, b: dict[str, Any], n_tasks: int, *, with_q: bool = False) -> np.ndarray:
    """[2 or 3, T] of a micro-batch already on the device (_to_device): per-task summed CE, trained
    targets (and summed target probability)."""
    tl = model(b["input_ids"], b["position_ids"], b["sel"], b["targets"])
    s = token_sums(tl, b["token_sample"], b["sample_task"], n_tasks)
    rows = [s["S_t"], s["N_t"]] + ([s["Q_t"]] if with_q else [])
    return np.stack([r.detach().double().cpu().numpy() for r in rows])


def _stats_of(sums: dict[str, Any], b: dict[str, Any], gamma: float, n_tasks: int) -> Any:
    """[4, T] on the device: summed CE, trained targets, summed target probability, and the sum of
    (1 - P_b)^gamma over each task's samples (the focal_sample weight)."""
    import torch

    N_b = sums["N_b"].detach().clamp_min(1.0)
    fac_b = (1.0 - sums["Q_b"].detach() / N_b).clamp_min(0.0) ** gamma
    fac_t = torch.zeros(n_tasks, dtype=fac_b.dtype, device=fac_b.device).index_add(0, b["sample_task"], fac_b)
    return torch.stack([x.detach().double() for x in (sums["S_t"], sums["N_t"], sums["Q_t"], fac_t)])


class _Window:
    """Sums over the steps since the last log line (local; reduced across ranks at flush)."""

    def __init__(self, n_tasks: int, mode: str):
        self.n, self.mode = n_tasks, mode
        self.reset()

    def reset(self) -> None:
        self.value = 0.0
        self.stats = np.zeros((4, self.n))
        self.weights = np.zeros(self.n)
        self.grad_norms: list[float] = []
        self.tokens = 0
        self.steps = 0
        self.skipped = 0
        self.lr = 0.0
        self.t0 = time.time()

    def add(self, value: float, stats: np.ndarray, weights: np.ndarray | None, grad_norm: float, tokens: int,
            skipped: bool, lr: float) -> None:
        if not skipped:  # a skipped step's numbers are not finite: they would poison the window
            self.value += value
            self.stats += stats
            if weights is not None:
                self.weights += weights
        if math.isfinite(grad_norm):
            self.grad_norms.append(grad_norm)
        self.tokens += tokens
        self.steps += 1
        self.skipped += int(skipped)
        self.lr = lr

    def flush(self, reduce_sum: Callable[[np.ndarray], np.ndarray], tasks: list[str],
              alpha: np.ndarray) -> dict[str, Any]:
        head = np.array([self.value, float(self.tokens)])
        packed = reduce_sum(np.concatenate([head, self.stats.reshape(-1)]))
        value, tokens = packed[0], packed[1]
        stats = packed[2:].reshape(4, self.n)
        dt = max(1e-9, time.time() - self.t0)
        good = self.steps - self.skipped
        if self.mode == "focal_sample":  # alpha_t * sum over the task's samples of (1 - P_b)^gamma
            w = alpha * stats[3]
            weights = w / w.sum() if w.sum() > 0 else w
        else:
            weights = self.weights / max(1, good)
        rec: dict[str, Any] = {"loss": float(value / good) if good > 0 else None}
        for t, name in enumerate(tasks):
            rec[f"loss/{name}"] = float(stats[0, t] / stats[1, t]) if stats[1, t] > 0 else None
        for t, name in enumerate(tasks):
            rec[f"weight/{name}"] = round(float(weights[t]), 6)
        rec["lr"] = float(self.lr)
        rec["grad_norm"] = float(np.mean(self.grad_norms)) if self.grad_norms else None
        rec["tokens_per_s"] = round(float(tokens / dt), 1)
        rec["nonfinite_steps"] = self.skipped
        self.reset()
        return rec


def _f(v: Any) -> str:
    return f"{v:.4f}" if isinstance(v, (int, float)) and math.isfinite(v) else "nan"


def main(argv: list[str] | None = None) -> int:
    """Entry point of one rank (see engine/train/run.py)."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m engine.train.run", description="Train one run directory.")
    ap.add_argument("run_dir")
    ap.add_argument("--resume", action="store_true", help="continue from the newest complete checkpoint")
    args = ap.parse_args(argv)
    threads = os.environ.get("OMP_NUM_THREADS")
    if threads:
        import torch

        torch.set_num_threads(max(1, int(threads)))
    try:
        state = train(args.run_dir, resume=args.resume)
    except WorkbenchError as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        return 2
    return 0 if state in (RunState.COMPLETED, RunState.STOPPED) else 1
