"""The trainer's parts, each callable on its own: `Trainer.setup` builds everything a run needs
(config, accelerator, tokenizer, shards, model, optimizer, data plan, schedule); `resume`,
`step`, `record`, `evaluate`, `save` and `finish` act on an explicit `TrainState`. The loop that
strings them together is `engine.train.loop.train`.

Every rank builds a Trainer; the main process alone writes the run directory (metrics.jsonl,
status.json heartbeats, data.json, checkpoints and their retention).
"""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import WorkbenchError
from engine.runs import MetricsWriter, RunDir, RunState, control
from engine.train import checkpoints as ckpts
from engine.train.config import TrainConfig, load_run_config
from engine.train.losses import (
    FocalCoefficients,
    StepTotals,
    effective_weights,
    local_counts,
    micro_batch_part,
    objective_part,
    token_sums,
)
from engine.train.window import Window, batch_sums, stats_of, to_device

HEARTBEAT_S = 1.0
Echo = Callable[[str], None]


class Killed(BaseException):
    """`train stop --kill`: leave now, start no save (see engine.runs.control.kill)."""


@dataclass
class TrainState:
    """Everything that changes while training; a checkpoint's trainer_state.json holds what resume needs."""

    step: int = 0
    best: float = math.inf
    bad_evals: int = 0
    last_saved: int = -1  # step of the newest checkpoint of this run (-1: none)
    nonfinite_run: int = 0  # non-finite steps in a row
    end_state: RunState = RunState.COMPLETED
    end_message: str = ""

    def saved_state(self, total: int, coba: Any) -> dict[str, Any]:
        return {
            "step": self.step,
            "best": self.best if math.isfinite(self.best) else None,
            "bad_evals": self.bad_evals,
            "total_steps": total,
            "coba": coba.state_dict() if coba else None,
        }

    @classmethod
    def from_saved(cls, saved: dict[str, Any]) -> TrainState:
        step = int(saved["step"])
        best = float(saved["best"]) if saved.get("best") is not None else math.inf
        return cls(step=step, best=best, bad_evals=int(saved.get("bad_evals", 0)), last_saved=step)


@dataclass
class StepResult:
    value: float  # the step's objective (0.0 when skipped)
    skipped: bool  # non-finite loss or gradient: no update
    lr: float


class Heartbeat:
    """status.json of the main process, at most once a second unless forced."""

    def __init__(self, run: RunDir, main: bool) -> None:
        self.run, self.main, self.last = run, main, 0.0
        self.status: dict[str, Any] = {"total_steps": None, "phase": "starting", "started": time.time()}

    def __call__(self, state: RunState = RunState.RUNNING, force: bool = False, **fields: Any) -> None:
        self.status.update(fields)
        if self.main and (force or time.time() - self.last >= HEARTBEAT_S):
            self.run.write_status(state, **self.status)
            self.last = time.time()


class Collectives:
    """Sums and maxima across ranks; no device round trip with one process."""

    def __init__(self, accelerator: Any) -> None:
        self.accelerator, self.world, self.device = accelerator, accelerator.num_processes, accelerator.device

    def sum(self, x: Any) -> np.ndarray:
        if self.world == 1:  # no round trip through the device (a sync on a GPU)
            return np.array(x, dtype=np.float64)
        import torch

        t = torch.as_tensor(np.asarray(x, dtype=np.float64), device=self.device)
        return self.accelerator.reduce(t, reduction="sum").cpu().numpy()

    def max(self, x: list[float]) -> list[float]:
        if self.world == 1:
            return x
        import torch

        t = torch.tensor(x, dtype=torch.float64, device=self.device)
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
        return t.cpu().tolist()


def _quiet_libraries() -> None:
    import warnings

    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # stdout.log is read by people and the app: no tqdm bars
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")


def _fresh_accelerator(cfg: TrainConfig) -> tuple[Any, bool, bool]:
    """(accelerator, on_gpu, bf16) with a fresh accelerate state (train() may run twice in one process)."""
    import torch
    from accelerate import Accelerator

    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        from accelerate.state import AcceleratorState, GradientState

        AcceleratorState._reset_state(reset_partial_state=True)
        GradientState._reset_state()
    on_gpu = torch.cuda.is_available() and cfg.launch.num_gpus > 0
    bf16 = bool(cfg.loop.bf16 and on_gpu and torch.cuda.is_bf16_supported())
    acc = Accelerator(
        cpu=not on_gpu, mixed_precision="bf16" if bf16 else "no", gradient_accumulation_steps=cfg.loop.grad_accum
    )
    return acc, on_gpu, bf16


@dataclass
class Trainer:
    """One rank's training setup. Built by `Trainer.setup`; holds no loop counters (TrainState does)."""

    run: RunDir
    cfg: TrainConfig
    accelerator: Any
    on_gpu: bool
    bf16: bool
    is_ds: bool
    say: Echo
    beat: Heartbeat
    comm: Collectives
    tok: Any = None
    tasks: list[str] = field(default_factory=list)
    static_alpha: np.ndarray = field(default_factory=lambda: np.zeros(0))
    model: Any = None  # the prepared (wrapped) masked LM
    inner: Any = None  # unwrapped masked LM (model.lm is the Hugging Face model)
    optimizer: Any = None  # the prepared optimizer
    raw_opt: Any = None
    scheduler: Any = None
    plan: Any = None  # engine.train.data.DataPlan
    total: int = 0
    steps_per_epoch: int = 1
    coba: Any = None
    hooks: list[Any] = field(default_factory=list)
    writer: MetricsWriter | None = None
    exporters: Any = None
    window: Window | None = None
    saving: Path | None = None  # the checkpoint folder being written (removed if the save is cut off)

    # -- setup -------------------------------------------------------------------------------------
    @classmethod
    def open(cls, run_dir: str | Path, *, echo: Echo) -> Trainer:
        """The run's config and a fresh accelerator; nothing heavy is loaded yet (see setup)."""
        from accelerate.utils import DistributedType

        _quiet_libraries()
        run = RunDir(run_dir)
        cfg = load_run_config(run)
        acc, on_gpu, bf16 = _fresh_accelerator(cfg)
        main = acc.is_main_process
        return cls(
            run=run,
            cfg=cfg,
            accelerator=acc,
            on_gpu=on_gpu,
            bf16=bf16,
            is_ds=acc.distributed_type == DistributedType.DEEPSPEED,
            say=echo if main else (lambda _m: None),
            beat=Heartbeat(run, main),
            comm=Collectives(acc),
        )

    def setup(self) -> Trainer:
        """Tokenizer and shards, model and optimizer, data plan and schedule, metrics and hooks."""
        from accelerate.utils import set_seed

        cfg, acc = self.cfg, self.accelerator
        self.beat(phase="loading tokenizer and data", step=0, force=True)
        self.say(
            f"run {self.run.id}: {acc.num_processes} process(es), device {acc.device}, "
            f"{'bf16' if self.bf16 else 'fp32'}, "
            f"{'DeepSpeed ZeRO-' + str(cfg.launch.deepspeed_stage) if self.is_ds else 'no DeepSpeed'}"
        )
        set_seed(cfg.loop.seed)
        shards, pad_id = self._load_data()
        self.beat(phase="loading model", force=True)
        self._load_model()
        self._plan_data(shards, pad_id, self._packing_works())
        self._open_outputs()
        return self

    @property
    def main(self) -> bool:
        return bool(self.accelerator.is_main_process)

    @property
    def metric_key(self) -> str:
        return "valid_loss_weighted" if self.cfg.loop.best_metric == "weighted" else "valid_loss"

    def _load_data(self) -> tuple[dict[str, Any], int]:
        """Tokenizer, task list and token shards (tokenised once, by the main process)."""
        from engine.mixture.manifest import build_tasks
        from engine.tokens import tokenize_build
        from engine.train.config import check_task_weights
        from engine.train.model import load_tokenizer

        cfg = self.cfg
        self.tok, pad_id = load_tokenizer(cfg.model.path, trust_remote_code=cfg.model.trust_remote_code)
        build = Path(cfg.data.mixture)
        self.tasks = build_tasks(build)
        check_task_weights(cfg, self.tasks)
        with self.accelerator.main_process_first():
            shards = tokenize_build(build, self.tok, template=cfg.model.template)
        self.static_alpha = np.array([cfg.loss.task_weights.get(t, 1.0) for t in self.tasks], dtype=np.float64)
        return shards, pad_id

    def _load_model(self) -> None:
        import torch

        from engine.train import model as M

        cfg, acc = self.cfg, self.accelerator
        lm = M.load_for_training(cfg, device=acc.device, bf16=self.bf16 and (cfg.peft.method != "none" or self.is_ds))
        n_train, n_total = M.trainable_parameters(lm)
        self.say(
            f"model {cfg.model.path}: {n_total / 1e6:.1f}M parameters, {n_train / 1e6:.3f}M trainable "
            f"({cfg.peft.method})"
        )
        model = M.masked_lm(lm)
        decay = [p for n, p in model.named_parameters() if p.requires_grad and p.ndim >= 2]
        no_decay = [p for n, p in model.named_parameters() if p.requires_grad and p.ndim < 2]
        groups = [
            g
            for g in (
                {"params": decay, "weight_decay": cfg.optim.weight_decay},
                {"params": no_decay, "weight_decay": 0.0},
            )
            if g["params"]
        ]
        opt_kw: dict[str, Any] = dict(lr=cfg.optim.lr, betas=tuple(cfg.optim.betas), eps=cfg.optim.eps)
        if self.is_ds and cfg.launch.offload_optimizer:
            from deepspeed.ops.adam import DeepSpeedCPUAdam

            self.raw_opt = DeepSpeedCPUAdam(groups, adamw_mode=True, **opt_kw)
        else:
            self.raw_opt = torch.optim.AdamW(groups, fused=self.on_gpu or None, **opt_kw)
        self.model, self.optimizer = acc.prepare(model, self.raw_opt)
        self.inner = acc.unwrap_model(self.model)
        if cfg.peft.method != "none" and not self.is_ds:
            trainable = {n for n, p in self.inner.named_parameters() if p.requires_grad}

            def only_trainable(_models: Any, weights: list[Any], _out: str) -> None:
                for i, w in enumerate(weights):
                    weights[i] = {k: v for k, v in w.items() if k.removeprefix("module.") in trainable}

            acc.register_save_state_pre_hook(only_trainable)

    def _packing_works(self) -> bool:
        """[data] packing, unless this model does not isolate packed samples through position_ids."""
        from engine.train import model as M

        if not self.cfg.data.packing:
            return False
        with self.accelerator.autocast():
            cfg_vocab = getattr(M.base_model_of(self.inner.lm).config, "vocab_size", len(self.tok))
            ok, diff = M.isolation_probe(
                self.inner,
                vocab_size=min(len(self.tok), int(cfg_vocab)),
                device=self.accelerator.device,
                half=self.bf16,
            )
        if ok is None:
            self.say("WARNING: the packing isolation probe gave non-finite outputs (broken weights?); packing stays on")
        elif not ok:
            self.say(
                f"WARNING: this model does not isolate packed samples through position_ids "
                f"(output drift {diff:.3g}); packing is off, one sample per row"
            )
            return False
        return True

    def _plan_data(self, shards: dict[str, Any], pad_id: int, packed: bool) -> None:
        from engine.train.coba import CoBa
        from engine.train.data import build_plan
        from engine.train.schedule import make_scheduler

        cfg, world = self.cfg, self.comm.world
        self.plan = build_plan(
            shards,
            self.tasks,
            seq_length=cfg.data.seq_length,
            packing=packed,
            overlong=cfg.data.overlong,
            pad_id=pad_id,
            seed=cfg.loop.seed,
            valid_max_samples=cfg.data.valid_max_samples,
        )
        self.plan.report["packing_active"] = packed
        gb = cfg.loop.micro_batch_size * cfg.loop.grad_accum * world
        self.steps_per_epoch = self.plan.steps_per_epoch(gb)
        self.total = cfg.loop.max_steps or cfg.loop.epochs * self.steps_per_epoch
        if self.main:
            self.run.write_data_report(self.plan.report)
            self._say_data_report(gb)
        self.scheduler = make_scheduler(
            self.raw_opt,
            lr=cfg.optim.lr,
            min_lr=cfg.optim.min_lr,
            warmup=cfg.optim.warmup_steps,
            total=self.total,
            kind=cfg.optim.scheduler,
        )
        self.accelerator.register_for_checkpointing(self.scheduler)
        L = cfg.loss
        if L.mode == "coba":
            self.coba = CoBa(
                len(self.tasks),
                warmup_steps=L.coba_warmup_steps,
                history_length=L.coba_history_length,
                tau=L.coba_tau,
                update_interval=L.coba_update_interval,
                sample_valid_num=L.coba_sample_valid_num,
            )

    def _say_data_report(self, global_batch: int) -> None:
        for t, r in self.plan.report["tasks"].items():
            tr = r.get("train", {})
            dropped = (
                tr.get("dropped_overlong", 0)
                + tr.get("dropped_no_trained", 0)
                + tr.get("dropped_truncated_to_no_trained", 0)
            )
            self.say(
                f"task {t}: {tr.get('kept')} / {tr.get('samples')} train samples in {tr.get('rows')} rows "
                f"(fill {tr.get('fill')}), truncated {tr.get('truncated')}, dropped {dropped}, "
                f"valid rows {r.get('valid', {}).get('rows', 0)}"
            )
        self.say(
            f"{len(self.plan.train_packs)} train rows, global batch {global_batch} rows, "
            f"{self.steps_per_epoch} steps/epoch, {self.total} steps"
        )

    def _open_outputs(self) -> None:
        from engine.train.export import Exporters
        from engine.train.hooks import HookContext, build_hooks

        self.window = Window(len(self.tasks), self.cfg.loss.mode)
        if self.main:
            self.exporters = Exporters(self.cfg, self.run)
            self.hooks = build_hooks(
                self.cfg, HookContext(self.run, self.cfg, self.tasks, self.plan, self.accelerator.device)
            )

    # -- resume ------------------------------------------------------------------------------------
    def resume(self) -> TrainState:
        """Full state of the newest complete checkpoint (weights, optimizer, scheduler, RNG, data
        position, best metric, CoBa); metrics logged after it are dropped (they are recomputed)."""
        from engine.train.schedule import apply_lr

        ck = ckpts.latest_checkpoint(self.run)
        state = TrainState()
        if ck is not None:
            kw = {"load_module_strict": False} if self.is_ds else {"strict": self.cfg.peft.method == "none"}
            self.accelerator.load_state(str(Path(ck["path"]) / "state"), **kw)
            apply_lr(self.raw_opt, self.scheduler)
            saved = ckpts.read_trainer_state(ck["path"])
            state = TrainState.from_saved(saved)
            if self.coba is not None and saved.get("coba"):
                self.coba.load_state_dict(saved["coba"])
            self.say(f"resumed from {ck['name']} (step {state.step})")
        else:
            self.say("no complete checkpoint to resume from: starting from step 0")
        if self.main:
            cut = truncate_metrics(self.run, state.step)
            if cut:
                self.say(f"dropped {cut} metric record(s) logged after step {state.step}; they are recomputed")
        return state

    # -- control requests --------------------------------------------------------------------------
    def poll_requests(self, requests: Any) -> tuple[bool, bool]:
        """(stop, save), agreed by every rank: signals on any rank, control files on the main one."""
        if self.main:
            pend = control.pending(self.run)
            if control.KILL in pend:
                requests.killed = True
                raise Killed()
            requests.stop |= "stop" in pend
            requests.save |= "save" in pend
        stop, save = (bool(x) for x in self.comm.max([float(requests.stop), float(requests.save)]))
        return stop, save

    # -- one optimizer step ------------------------------------------------------------------------
    def step(self, state: TrainState) -> StepResult:
        """Forward/backward of this rank's micro-batches of step `state.step`, the non-finite guard,
        clipping and the update; `state.step` advances and the window sums the step."""
        cfg, T, GA, MB = self.cfg, len(self.tasks), self.cfg.loop.grad_accum, self.cfg.loop.micro_batch_size
        mode, world = cfg.loss.mode, self.comm.world
        mbs = self.plan.micro_batches(
            state.step, rank=self.accelerator.process_index, world=world, grad_accum=GA, micro=MB
        )
        counts = self.comm.sum(local_counts(mbs, T))
        alpha = self.static_alpha * (self.coba.weights(state.step) if self.coba is not None else 1.0)
        totals = StepTotals(tokens=counts[0], samples=counts[1], alpha=alpha)
        batches = [to_device(mb, self.accelerator.device) for mb in mbs]
        focal = self._focal_of_step(batches, totals) if mode == "focal_task" and GA > 1 else None
        part_total, dev_stats, poisoned, focal = self._backward(mbs, batches, totals, alpha, focal)
        part_sum, grad_norm, stats, skipped = self._update(part_total, dev_stats, poisoned)
        if not skipped:
            self.scheduler.step()
        lr_now = self.raw_opt.param_groups[0]["lr"]  # logged as "lr": the rate after this step
        state.step += 1
        value = focal.value / world if (mode == "focal_task" and focal is not None) else part_sum
        if skipped:
            value = 0.0
        weights = (
            None
            if mode == "focal_sample"
            else effective_weights(mode, totals, focal.factor if focal is not None else None)
        )
        assert self.window is not None
        self.window.add(value, stats, weights, grad_norm, sum(mb.n_tokens for mb in mbs), skipped, lr_now)
        state.nonfinite_run = state.nonfinite_run + 1 if skipped else 0
        return StepResult(value=value, skipped=skipped, lr=lr_now)

    def _focal_of_step(self, batches: list[dict[str, Any]], totals: StepTotals) -> FocalCoefficients:
        """focal_task over several micro-batches: the coefficients of the whole step first."""
        import torch

        with torch.no_grad(), self.accelerator.autocast():
            sq = sum(batch_sums(self.inner, b, len(self.tasks), with_q=True) for b in batches)
        sq = self.comm.sum(sq)
        return FocalCoefficients.from_sums(sq[0], sq[2], totals, self.cfg.loss.focal_gamma)

    def _backward(
        self,
        mbs: list[Any],
        batches: list[dict[str, Any]],
        totals: StepTotals,
        alpha: np.ndarray,
        focal: FocalCoefficients | None,
    ) -> tuple[Any, Any, bool, FocalCoefficients | None]:
        """Each micro-batch's part of the objective, backpropagated; sums stay on the device."""
        import torch

        cfg, T, acc = self.cfg, len(self.tasks), self.accelerator
        mode, scale = cfg.loss.mode, cfg.loop.grad_accum * self.comm.world
        poisoned = False
        part_total = torch.zeros((), dtype=torch.float64, device=acc.device)
        dev_stats = torch.zeros((4, T), dtype=torch.float64, device=acc.device)  # S_t, N_t, Q_t, focal factor
        for mb, b in zip(mbs, batches):
            with acc.accumulate(self.model):
                token_loss = self.model(b["input_ids"], b["position_ids"], b["sel"], b["targets"])
                sums = token_sums(token_loss, b["token_sample"], b["sample_task"], T)
                if mode == "focal_task" and focal is None:  # one micro-batch: same forward
                    loc = np.stack(
                        [sums["S_t"].detach().double().cpu().numpy(), sums["Q_t"].detach().double().cpu().numpy()]
                    )
                    g = self.comm.sum(loc)
                    focal = FocalCoefficients.from_sums(g[0], g[1], totals, cfg.loss.focal_gamma)
                if cfg.loss.scope == "micro_batch":  # MFTCoder: each micro-batch balanced on its own
                    part = micro_batch_part(mode, sums, b["sample_task"], mb, alpha, n_micro_batches=scale)
                else:
                    part = objective_part(mode, sums, b["sample_task"], totals, gamma=cfg.loss.focal_gamma, focal=focal)
                if self.is_ds:  # DeepSpeed updates inside backward(): a non-finite part must not reach it
                    poisoned |= self.comm.max([0.0 if bool(torch.isfinite(part.detach())) else 1.0])[0] > 0
                    if poisoned:  # an exact zero gradient from this micro-batch instead of NaN
                        part = sum((p * 0.0).sum() for p in self.model.parameters() if p.requires_grad)
                acc.backward(part * scale)
                part_total += part.detach().double()
            dev_stats += stats_of(sums, b, cfg.loss.focal_gamma, T)
        return part_total, dev_stats, poisoned, focal

    def _update(self, part_total: Any, dev_stats: Any, poisoned: bool) -> tuple[float, float, np.ndarray, bool]:
        """Clip and step unless the loss or the gradient is not finite on some rank (all skip together).
        Returns (objective, grad norm, [4, T] stats, skipped)."""
        import torch

        T = len(self.tasks)
        if self.is_ds:
            gn = self.model.get_global_grad_norm() if hasattr(self.model, "get_global_grad_norm") else None
            grad_norm = float(gn) if gn is not None and not poisoned else float("nan")
            return float(part_total), grad_norm, dev_stats.cpu().numpy(), poisoned
        params = [p for p in self.model.parameters() if p.requires_grad]
        gn = self.accelerator.clip_grad_norm_(params, self.cfg.optim.max_grad_norm or float("inf"))
        packed = (
            torch.cat(
                [
                    part_total.reshape(1),
                    torch.as_tensor(gn, dtype=torch.float64, device=self.accelerator.device).reshape(1),
                    dev_stats.reshape(-1),
                ]
            )
            .cpu()
            .numpy()
        )
        part_sum, grad_norm, stats = float(packed[0]), float(packed[1]), packed[2:].reshape(4, T)
        bad = not (math.isfinite(part_sum) and math.isfinite(grad_norm))
        skipped = self.comm.max([float(bad)])[0] > 0  # every rank skips together
        if skipped:
            grad_norm = float("nan")
        else:
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return part_sum, grad_norm, stats, skipped

    # -- after a step: metrics, validation, hooks --------------------------------------------------
    def record(
        self, state: TrainState, elapsed: float, steps_done: int
    ) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any], list[str]]:
        """The step's metrics record (training window when due, validation, CoBa, hooks), logged.
        Returns (record, validation or None, hook metrics a checkpoint keeps, checkpoint kinds due)."""
        cfg, step = self.cfg, state.step
        rec: dict[str, Any] = {}
        eta = (self.total - step) * elapsed / max(1, steps_done)
        epoch = round(step / self.steps_per_epoch, 4)
        if step % cfg.loop.log_every == 0 or step == self.total:
            rec.update(self.flush_window())
            rec.update(eta_s=round(eta, 1), epoch=epoch, gpu_mem_gb=self._gpu_mem_gb())
            self.beat(loss=rec.get("loss"), tokens_per_s=rec.get("tokens_per_s"))
            self.say(
                f"step {step}/{self.total} loss {_f(rec.get('loss'))} lr {rec['lr']:.3g} "
                f"grad_norm {_f(rec.get('grad_norm'))} tok/s {rec.get('tokens_per_s', 0):.0f}"
            )
        self.beat(step=step, eta_s=round(eta, 1), epoch=epoch, phase="training")
        kinds: list[str] = []
        valid = None
        if cfg.loop.eval_every and step % cfg.loop.eval_every == 0:
            valid = self.validate(state, kinds)
            rec.update(valid)
            rec["best_" + self.metric_key] = state.best if math.isfinite(state.best) else None
        if self.coba is not None and self.coba.due(step):
            self.coba.record(self.coba_sample())
        hooked: dict[str, Any] = {}
        if self.hooks and any(h.due(step) for h in self.hooks):
            got = self.run_hooks(step)
            rec.update(got)
            # pass@1 and the like travel with a checkpoint saved at this step
            hooked = {k: v for k, v in got.items() if not k.startswith("hook_error/")}
        if rec:
            self.log_metrics(step, rec)
        return rec, valid, hooked, kinds

    def flush_window(self) -> dict[str, Any]:
        assert self.window is not None
        return self.window.flush(self.comm.sum, self.tasks, self.static_alpha)

    def _gpu_mem_gb(self) -> float | None:
        if not self.on_gpu:
            return None
        import torch

        got = round(torch.cuda.max_memory_allocated() / 2**30, 3)
        torch.cuda.reset_peak_memory_stats()
        return got

    def log_metrics(self, step: int, metrics: dict[str, Any]) -> None:
        if self.writer is not None:
            self.writer.log(step, metrics)
            self.exporters.log(step, metrics)

    def validate(self, state: TrainState, kinds: list[str]) -> dict[str, Any]:
        """evaluate(), then the best metric and the early-stopping count; 'best' joins `kinds`
        when this is a new best and [loop] keep_best asks for it."""
        self.beat(phase="validating", force=True)
        valid = self.evaluate()
        metric = valid.get(self.metric_key)
        if metric is not None:
            best = state.best
            if metric < best - max(1e-12, 1e-6 * abs(best if math.isfinite(best) else 0.0)):
                state.best, state.bad_evals = metric, 0
                if self.cfg.loop.keep_best:
                    kinds.append("best")
            else:
                state.bad_evals += 1
        self.beat(best_valid_loss=state.best if math.isfinite(state.best) else None, phase="training")
        return valid

    def evaluate(self) -> dict[str, Any]:
        """Token-mean cross-entropy per task over the whole valid split (all ranks), with the mean
        over tasks and the task-weighted mean."""
        import torch

        T, acc = len(self.tasks), self.accelerator
        self.model.eval()
        sums = np.zeros((2, T))
        with torch.no_grad(), acc.autocast():
            for mb in self.plan.valid_batches(
                rank=acc.process_index, world=self.comm.world, micro=self.cfg.loop.micro_batch_size
            ):
                sums += batch_sums(self.inner, to_device(mb, acc.device), T)
        self.model.train()
        sums = self.comm.sum(sums)
        out: dict[str, Any] = {}
        for t, name in enumerate(self.tasks):
            out[f"valid_loss/{name}"] = float(sums[0, t] / sums[1, t]) if sums[1, t] > 0 else None
        vals = [
            (out[f"valid_loss/{n}"], self.static_alpha[i])
            for i, n in enumerate(self.tasks)
            if out[f"valid_loss/{n}"] is not None
        ]
        if vals:
            out["valid_loss"] = float(np.mean([v for v, _ in vals]))
            wsum = sum(w for _, w in vals)
            out["valid_loss_weighted"] = float(sum(v * w for v, w in vals) / wsum) if wsum > 0 else None
        return out

    def coba_sample(self) -> list[float | None]:
        """CoBa's per-task validation loss on its next few valid micro-batches."""
        import torch

        T, acc, coba = len(self.tasks), self.accelerator, self.coba
        self.model.eval()
        sums = np.zeros((2, T))
        with torch.no_grad(), acc.autocast():
            for _ in range(coba.sample_valid_num):
                mb = self.plan.valid_sample(
                    coba.updates, rank=acc.process_index, world=self.comm.world, micro=self.cfg.loop.micro_batch_size
                )
                sums += batch_sums(self.inner, to_device(mb, acc.device), T)
                coba.updates += 1
        self.model.train()
        sums = self.comm.sum(sums)
        return [float(sums[0, t] / sums[1, t]) if sums[1, t] > 0 else None for t in range(T)]

    def run_hooks(self, step: int, *, at_start: bool = False) -> dict[str, Any]:
        from engine.train.hooks import run_hooks

        self.beat(phase="validating (generate + execute)", force=True)
        self.model.eval()
        with self.accelerator.autocast():
            got = run_hooks(self.hooks, self.inner.lm, self.tok, step, log=self.say, at_start=at_start)
        self.model.train()
        if "pass@1" in got and not at_start:
            self.say(
                f"step {step}: pass@1 {got['pass@1']:.3f} "
                + " ".join(f"{k.split('/', 1)[1]} {v:.3f}" for k, v in got.items() if k.startswith("pass@1/"))
                + (f" ({got['validate_s']:.1f} s)" if "validate_s" in got else "")
            )
        return got

    def begin(self, state: TrainState) -> None:
        """Metrics open for appending (after resume cut them back); train mode; a fresh run's
        step 0 first: validation (and CoBa's baseline), at-start hooks."""
        if self.main:
            self.writer = MetricsWriter(self.run.metrics_path)
        self.model.train()
        if state.step == 0:
            self.validate_at_start()
        self.beat(phase="training", total_steps=self.total, force=True)

    def validate_at_start(self) -> None:
        v0: dict[str, Any] = {}
        if self.cfg.loop.eval_every or self.coba is not None:
            self.beat(phase="validating", total_steps=self.total, force=True)
            v0 = self.evaluate()
            if self.coba is not None:
                self.coba.set_baseline([v0[f"valid_loss/{t}"] for t in self.tasks])
        if any(h.at_start for h in self.hooks):
            self.beat(total_steps=self.total)
            v0.update(self.run_hooks(0, at_start=True))
        if v0:
            self.log_metrics(0, v0)

    # -- checkpoints -------------------------------------------------------------------------------
    def save(self, state: TrainState, kinds: list[str], metrics: dict[str, Any] | None) -> Path:
        """A full-state checkpoint of `state.step` (checkpoint.json last), then retention."""
        from engine.train import model as M

        cfg, acc, step = self.cfg, self.accelerator, state.step
        ck = self.run.checkpoint_dir(step)
        self.beat(phase=f"saving checkpoint step {step}", force=True)
        acc.wait_for_everyone()
        self.saving = ck
        if self.main:
            (ck / "checkpoint.json").unlink(missing_ok=True)
        acc.save_state(str(ck / "state"), **({"exclude_frozen_parameters": True} if self.is_ds else {}))
        sd = acc.get_state_dict(self.model)
        if self.main:
            sd = {k.removeprefix("lm."): v for k, v in sd.items()} if sd is not None else None
            where = "model" if cfg.peft.method == "none" else "adapter"
            M.save_pretrained_model(self.inner.lm, sd, ck / where, self.tok)
            meta = {
                "step": step,
                "kind": "+".join(kinds),
                "epoch": round(step / self.steps_per_epoch, 4),
                "weights": where,
                "base_model": cfg.model.path,
                "peft": cfg.peft.method,
                "template": cfg.model.template,
                **{k: v for k, v in (metrics or {}).items() if v is not None},
            }
            ckpts.write_meta(ck, meta, state.saved_state(self.total, self.coba))
        self.saving = None  # complete from here on (checkpoint.json is written)
        state.last_saved = step
        if self.main:
            removed = ckpts.apply_retention(
                self.run, keep_last=cfg.loop.keep_last, keep_best=cfg.loop.keep_best, metric_key=self.metric_key
            )
            self.say(f"saved {ck.name} ({'+'.join(kinds)})" + (f"; removed {', '.join(removed)}" if removed else ""))
        acc.wait_for_everyone()
        return ck

    def due_saves(
        self, state: TrainState, kinds: list[str], save_requested: bool, validated: bool, requests: Any
    ) -> bool:
        """Add the periodic / requested / early-stop kinds due at this step; True on early stopping."""
        cfg = self.cfg
        if cfg.loop.save_every and state.step % cfg.loop.save_every == 0:
            kinds.append("periodic")
        if save_requested:
            kinds.append("requested")
            requests.save = False
            if self.main:
                control.consume(self.run, "save")
        early = bool(
            cfg.loop.early_stopping_patience and validated and state.bad_evals >= cfg.loop.early_stopping_patience
        )
        if early:
            state.end_message = (
                f"early stopping at step {state.step}: no improvement of {self.metric_key} in "
                f"{state.bad_evals} evaluations (best {state.best:.4f})"
            )
            kinds.append("final")
        return early

    # -- the end -----------------------------------------------------------------------------------
    def stop_requested(self, state: TrainState) -> None:
        self.beat(RunState.STOPPING, phase="stopping: saving", force=True)
        state.end_state, state.end_message = RunState.STOPPED, f"stopped on request at step {state.step}"

    def nonfinite_stop(self, state: TrainState) -> bool:
        """True (and the run fails) after [loop] max_nonfinite_steps skipped steps in a row."""
        if not state.nonfinite_run:
            return False
        self.say(f"step {state.step}: non-finite loss or gradient, update skipped ({state.nonfinite_run} in a row)")
        if state.nonfinite_run < self.cfg.loop.max_nonfinite_steps:
            return False
        state.end_state = RunState.FAILED
        last = state.last_saved if state.last_saved >= 0 else "none"
        state.end_message = (
            f"{state.nonfinite_run} non-finite steps in a row at step {state.step}; stopped "
            f"(last checkpoint: step {last})"
        )
        self.log_metrics(state.step, self.flush_window())
        return True

    def finish(self, state: TrainState) -> RunState:
        """The closing checkpoint (unless the run failed or just saved), the terminal status."""
        if state.end_state != RunState.FAILED and state.last_saved != state.step:
            self.save(state, ["stop"] if state.end_state == RunState.STOPPED else ["final"], None)
        if self.main and state.end_state == RunState.STOPPED:
            control.consume(self.run, "stop")
        if state.end_state == RunState.COMPLETED and not state.end_message:
            state.end_message = f"completed {state.step} steps"
        self.beat(
            state.end_state,
            force=True,
            step=state.step,
            phase="done",
            message=state.end_message,
            eta_s=0 if state.end_state == RunState.COMPLETED else None,
        )
        self.say(state.end_message)
        self.close()
        self.accelerator.wait_for_everyone()
        return state.end_state

    def killed(self, state: TrainState | None) -> RunState:
        """`--kill`: no save is started; a save cut off by it is removed (it was never valid)."""
        if self.saving is not None and self.main and not (self.saving / "checkpoint.json").exists():
            shutil.rmtree(self.saving, ignore_errors=True)
        self.saving = None
        step = state.step if state is not None else 0
        last = state.last_saved if state is not None and state.last_saved >= 0 else None
        msg = f"killed at step {step}: nothing saved; " + (
            f"resume continues from step {last}" if last is not None else "no checkpoint to resume from"
        )
        if self.main:
            control.consume(self.run, control.KILL)
        self.beat(RunState.STOPPED, force=True, step=step, phase="done", message=msg, eta_s=None)
        self.say(msg)
        self.close()
        return RunState.STOPPED

    def fail(self, e: BaseException) -> None:
        msg = failure_message(e)
        if self.main:
            self.run.write_status(RunState.FAILED, **{**self.beat.status, "message": msg, "phase": "failed"})
        self.say(f"FAILED: {msg}")

    def end(self) -> None:
        try:
            self.accelerator.end_training()
        except Exception:  # noqa: BLE001 - tearing down after the run ended (or failed): nothing left to report
            pass

    def close(self) -> None:
        if self.exporters is not None:
            self.exporters.close()
            self.exporters = None
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def truncate_metrics(run: RunDir, keep_through_step: int) -> int:
    """Drop metrics.jsonl records after the step a resume restarts from (they will be logged
    again), so every step appears once. Returns how many were dropped."""
    import json

    from engine.fsutil import atomic_write_text

    p = run.metrics_path
    if not p.exists():
        return 0
    kept, dropped = [], 0
    for line in p.read_text(encoding="utf-8").splitlines():
        try:
            step = json.loads(line).get("step")
        except json.JSONDecodeError:
            dropped += 1
            continue
        if isinstance(step, int) and step <= keep_through_step:
            kept.append(line)
        else:
            dropped += 1
    atomic_write_text(p, "".join(x + "\n" for x in kept))
    return dropped


def failure_message(e: BaseException) -> str:
    name = type(e).__name__
    if "OutOfMemory" in name:
        return (
            f"out of GPU memory ({e}). Lower [loop] micro_batch_size or [data] seq_length, keep "
            "gradient_checkpointing on, or use QLoRA / DeepSpeed offload"
        )
    if isinstance(e, KeyboardInterrupt):
        return "interrupted"
    if isinstance(e, WorkbenchError):
        return str(e)
    return f"{name}: {e}"


def _f(v: Any) -> str:
    return f"{v:.4f}" if isinstance(v, (int, float)) and math.isfinite(v) else "nan"
