"""From a run config to a detached training process.

    start_run     the one way a run starts (CLI, demo, launch form preview): environment check,
                  prepare_run, plan_launch, launch; with dry_run the resolved config and the
                  command only, nothing written or built
    prepare_run   validate + resolve (model folder, mixture build) -> runs/<id>/ with config.json
                  (the resolved config the trainer reads), config.toml (as given), mixture.json
    plan_launch   the exact command: plain `python -m engine.train.run RUN_DIR` on CPU
                  ([launch] num_gpus = 0); `accelerate launch` with a generated accelerate config
                  and DeepSpeed JSON (ZeRO-1/2/3, optional CPU offload) on 1..N GPUs; one
                  command per machine for several machines (launch/node-<rank>.sh)
    launch        spawn it detached (own session / process group, output to stdout.log)

Nothing here imports torch: the app's launch form can preview commands instantly.
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import WorkbenchError
from engine.fsutil import atomic_write_json, atomic_write_text
from engine.mixture.manifest import manifest_path, read_manifest, task_names
from engine.mixture.resolve import MixtureStatus, materialized, resolve_mixture
from engine.runs import RunDir, RunState, create_run
from engine.train.config import TrainConfig, check_task_weights, load_run_config

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TRAIN_MODULE = "engine.train.run"


def resolve_model_path(path: str, workspace_root: Path | None) -> str:
    """A local model folder as an absolute path; anything else is left as a hub id."""
    p = Path(os.path.expanduser(path))
    for cand in [p] if p.is_absolute() else ([workspace_root / p] if workspace_root else []) + [p]:
        if cand.exists():
            return str(cand.resolve())
    return path


def resolve_config(cfg: TrainConfig, workspace_root: Path | None, *, materialize: bool = True) -> TrainConfig:
    """The config with the model folder and the mixture build made absolute (what a detached
    process on any cwd, or another machine with the same paths, can use). With
    materialize=False (previews) nothing is built: a mixture spec without a build keeps its name."""
    data = cfg.model_dump(mode="json")
    data["model"]["path"] = resolve_model_path(cfg.model.path, workspace_root)
    ref = resolve_mixture(cfg.data.mixture, workspace_root)
    if materialize:
        data["data"]["mixture"] = str(materialized(ref, workspace_root))
    elif ref.status == MixtureStatus.BUILT:
        data["data"]["mixture"] = str(ref.require_build())
    elif ref.status == MixtureStatus.MISSING:
        raise ref.error()
    return TrainConfig.model_validate(data)


def prepare_run(
    workspace_root: Path | None,
    cfg: TrainConfig,
    *,
    runs_dir: Path | None = None,
    source_text: str | None = None,
    source_path: str | Path | None = None,
    kind: str = "train",
) -> RunDir:
    resolved = resolve_config(cfg, workspace_root)
    build = Path(resolved.data.mixture)
    manifest = read_manifest(build)
    names = task_names(manifest, file=manifest_path(build))
    check_task_weights(cfg, names, file=source_path)
    runs_dir = runs_dir or ((workspace_root / "runs") if workspace_root else None)
    if runs_dir is None:
        raise WorkbenchError("no runs folder: give a workspace")
    run = create_run(
        runs_dir,
        name=cfg.name,
        kind=kind,
        config=resolved.model_dump(mode="json"),
        mixture={**manifest, "build": str(build)},
    )
    atomic_write_text(run.path / "config.toml", source_text if source_text is not None else cfg.to_toml())
    run.update_info(
        workspace=str(workspace_root) if workspace_root else None,
        source_config=str(source_path) if source_path else None,
        tasks=names,
        model=resolved.model.path,
        mixture=str(build),
    )
    return run


@dataclass
class RunStart:
    """What start_run did: the resolved config, the command, the environment checks and, unless
    it was a dry run or a check failed, the run directory and the detached process."""

    config: TrainConfig
    plan: LaunchPlan
    checks: list[Any] = field(default_factory=list)  # engine.train.envcheck.Check
    run: RunDir | None = None
    pid: int | None = None

    @property
    def failed(self) -> list[Any]:
        from engine.train.envcheck import failures

        return failures(self.checks)


def start_run(
    cfg: TrainConfig,
    *,
    workspace_root: Path | None,
    runs_dir: Path | None = None,
    source_text: str | None = None,
    source_path: str | Path | None = None,
    kind: str = "train",
    check: bool = True,
    dry_run: bool = False,
    module: str = TRAIN_MODULE,
    env: dict[str, str] | None = None,
) -> RunStart:
    """Check the environment, create the run directory and start `module` on it detached.
    A failed check starts nothing (RunStart.failed says why); dry_run writes and builds nothing."""
    checks: list[Any] = []
    if check:
        from engine.train.envcheck import check_environment

        checks = check_environment(cfg, workspace_root=workspace_root)
    if dry_run:
        resolved = resolve_config(cfg, workspace_root, materialize=False)
        where = (runs_dir or Path(workspace_root or ".") / "runs") / "<run-id>"
        return RunStart(resolved, plan_launch(resolved, where, write=False, module=module), checks)
    started = RunStart(cfg, plan_launch(cfg, Path("<run-id>"), write=False, module=module), checks)
    if started.failed:
        return started
    run = prepare_run(
        workspace_root, cfg, runs_dir=runs_dir, source_text=source_text, source_path=source_path, kind=kind
    )
    started.run, started.config = run, load_run_config(run)
    started.plan = plan_launch(started.config, run.path, module=module)
    started.plan.env.update(env or {})
    started.pid = launch(run, started.plan, total_steps=started.config.loop.max_steps or None)
    return started


# -- accelerate / DeepSpeed configs -------------------------------------------------------------------


def deepspeed_config(cfg: TrainConfig) -> dict[str, Any]:
    """DeepSpeed JSON for the run: one source of truth for micro-batch, accumulation, clipping
    and precision (the same numbers the loop uses)."""
    stage = cfg.launch.deepspeed_stage
    zero: dict[str, Any] = {
        "stage": stage,
        "overlap_comm": True,
        "contiguous_gradients": True,
        "reduce_bucket_size": 500_000_000,
    }
    if stage <= 2:
        zero["allgather_bucket_size"] = 500_000_000
        zero["reduce_scatter"] = True
    if cfg.launch.offload_optimizer:
        zero["offload_optimizer"] = {"device": "cpu", "pin_memory": True}
    if stage == 3:
        zero["offload_param"] = {"device": "cpu" if cfg.launch.offload_params else "none", "pin_memory": True}
        zero["stage3_gather_16bit_weights_on_model_save"] = True
        zero["stage3_param_persistence_threshold"] = 100_000
        zero["stage3_prefetch_bucket_size"] = 50_000_000
    world = cfg.launch.world_size
    ds: dict[str, Any] = {
        "train_micro_batch_size_per_gpu": cfg.loop.micro_batch_size,
        "gradient_accumulation_steps": cfg.loop.grad_accum,
        "train_batch_size": cfg.loop.micro_batch_size * cfg.loop.grad_accum * world,
        "gradient_clipping": cfg.optim.max_grad_norm,
        "bf16": {"enabled": bool(cfg.loop.bf16)},
        "zero_optimization": zero,
        "zero_allow_untested_optimizer": True,
        "steps_per_print": 10**12,
        "wall_clock_breakdown": False,
    }
    return ds


def accelerate_config(cfg: TrainConfig, ds_path: Path | None) -> dict[str, Any]:
    L = cfg.launch
    out: dict[str, Any] = {
        "compute_environment": "LOCAL_MACHINE",
        "debug": False,
        "distributed_type": "DEEPSPEED" if ds_path else ("MULTI_GPU" if L.world_size > 1 else "NO"),
        "downcast_bf16": "no",
        "machine_rank": L.machine_rank,
        "main_training_function": "main",
        "mixed_precision": "bf16" if cfg.loop.bf16 else "no",
        "num_machines": L.num_machines,
        "num_processes": L.world_size,
        "rdzv_backend": "static",
        "same_network": True,
        "tpu_env": [],
        "tpu_use_cluster": False,
        "tpu_use_sudo": False,
        "use_cpu": False,
        "gpu_ids": "all",
    }
    if ds_path:
        out["deepspeed_config"] = {
            "deepspeed_config_file": str(ds_path),
            "deepspeed_multinode_launcher": "standard",
            "zero3_init_flag": False,
        }
    if L.num_machines > 1:
        out["main_process_ip"] = L.main_process_ip
        out["main_process_port"] = L.main_process_port
    return out


@dataclass
class LaunchPlan:
    argv: list[str]
    env: dict[str, str]
    kind: str  # "cpu" | "accelerate"
    files: dict[str, str] = field(default_factory=dict)  # written config files
    node_commands: dict[int, str] = field(default_factory=dict)  # machine rank -> shell command

    @property
    def command(self) -> str:
        return format_command(self.argv)


def format_command(argv: list[str]) -> str:
    return shlex.join(str(a) for a in argv)


def plan_launch(
    cfg: TrainConfig,
    run_path: Path | str,
    *,
    resume: bool = False,
    write: bool = True,
    python: str | None = None,
    module: str = TRAIN_MODULE,
) -> LaunchPlan:
    """The command that trains `run_path` (runs `module` on it). With write=False nothing is
    written (previews)."""
    run_path = Path(run_path)
    py = python or sys.executable
    tail = [str(run_path)] + (["--resume"] if resume else [])
    env = {"PYTHONPATH": _pythonpath(), "TOKENIZERS_PARALLELISM": "false"}
    if cfg.launch.num_gpus == 0:
        return LaunchPlan(argv=[py, "-m", module, *tail], env=env, kind="cpu")
    launch_dir = run_path / "launch"
    ds_path = launch_dir / "deepspeed.json" if cfg.uses_deepspeed else None
    acc_path = launch_dir / "accelerate.yaml"
    files = {}
    if write:
        import yaml

        launch_dir.mkdir(parents=True, exist_ok=True)
        if ds_path:
            atomic_write_json(ds_path, deepspeed_config(cfg))
            files["deepspeed"] = str(ds_path)
        atomic_write_text(acc_path, yaml.safe_dump(accelerate_config(cfg, ds_path), sort_keys=True))
        files["accelerate"] = str(acc_path)
    base = [py, "-m", "accelerate.commands.launch", "--config_file", str(acc_path)]
    argv = base + ["--machine_rank", str(cfg.launch.machine_rank), "-m", module, *tail]
    env["OMP_NUM_THREADS"] = os.environ.get("OMP_NUM_THREADS", "4")
    nodes: dict[int, str] = {}
    if cfg.launch.num_machines > 1:
        for m in range(cfg.launch.num_machines):
            cmd = base + ["--machine_rank", str(m), "-m", module, *tail]
            nodes[m] = (
                f"cd {shlex.quote(str(PROJECT_ROOT))} && "
                + " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
                + " "
                + format_command(cmd)
            )
            if write:
                script = launch_dir / f"node-{m}.sh"
                atomic_write_text(
                    script,
                    f"#!/bin/sh\n# machine rank {m} of {cfg.launch.num_machines}; the run folder and the model "
                    f"must be at the same paths on every machine\n{nodes[m]}\n",
                )
                script.chmod(0o755)
                files[f"node-{m}"] = str(script)
    return LaunchPlan(argv=argv, env=env, kind="accelerate", files=files, node_commands=nodes)


def _pythonpath() -> str:
    cur = os.environ.get("PYTHONPATH", "")
    return str(PROJECT_ROOT) + (os.pathsep + cur if cur else "")


# -- launching ------------------------------------------------------------------------------------------


def launch(run: RunDir, plan: LaunchPlan, *, total_steps: int | None = None) -> int:
    """Start the plan detached; the run keeps going when the caller (CLI, app) exits."""
    from engine.runs import control
    from engine.runs.launch import spawn_detached

    for stale in control.REQUESTS:  # a request left by a killed process must not stop the new one
        control.consume(run, stale)
    run.update_info(launch_kind=plan.kind, launch_files=plan.files, node_commands=plan.node_commands)
    before = run.read_status()
    run.write_status(
        RunState.RUNNING,
        step=before.get("step", 0),
        total_steps=before.get("total_steps") or total_steps,
        phase="starting",
    )
    return spawn_detached(run, plan.argv, env=plan.env, cwd=PROJECT_ROOT)


def resume_plan(run: RunDir) -> LaunchPlan:
    state = run.state()
    if state in (RunState.RUNNING, RunState.STOPPING):
        raise WorkbenchError(f"run {run.id} is still {state.value} (pid {run.read_info().get('pid')}); stop it first")
    if state == RunState.COMPLETED:
        raise WorkbenchError(f"run {run.id} already completed")
    return plan_launch(load_run_config(run), run.path, resume=True)
