"""Run configs (typed, located errors), presets, the generated accelerate / DeepSpeed launch
(parsed by accelerate's own launcher), per-machine commands, mixture resolution, the
environment check on a CPU machine, and the CLI's validation paths."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.errors import InputError
from engine.train.config import load_train_config
from engine.train.launch import deepspeed_config, plan_launch, prepare_run, resolve_config
from engine.train.presets import load_preset, preset_names
from tests.conftest import run_cli
from tests.train_support import toy_build


def test_presets_all_validate() -> None:
    names = preset_names()
    assert {"qwen1_8b-lora", "qwen1_8b-qlora", "qwen72b-qlora-zero2-multinode", "tiny-cpu-demo"} <= set(names)
    for n in names:
        cfg = load_preset(n)
        assert cfg.name and cfg.description
    seed = load_preset("qwen1_8b-lora")  # the contest recipe
    assert (seed.peft.lora_rank, seed.peft.lora_alpha, seed.loss.mode, seed.launch.deepspeed_stage) == (96, 32, "case3", 2)


def test_config_errors_name_file_line_field(tmp_path: Path) -> None:
    p = tmp_path / "run.toml"
    p.write_text('name = "x"\n[model]\npath = "m"\n[data]\nmixture = "b"\n[optim]\nlr = 1e-4\nlearning_rate = 3\n')
    with pytest.raises(InputError) as e:
        load_train_config(p)
    assert e.value.line == 8 and e.value.field == "optim.learning_rate" and "unknown key" in str(e.value)
    p.write_text('name = "x"\n[model]\npath = "m"\n[data]\nmixture = "b"\n[optim]\nlr = 1e-4\nmin_lr = 1e-3\n')
    with pytest.raises(InputError, match="min_lr"):
        load_train_config(p)
    p.write_text('name = "x"\n[model]\npath = "m"\n[data]\nmixture = "b"\nseq_length = "long"\n')
    with pytest.raises(InputError) as e:
        load_train_config(p)
    assert e.value.field == "data.seq_length" and e.value.line == 6
    p.write_text('name = "x"\n[model]\npath = "m"\n[data]\nmixture = "b"\n[peft]\nmethod = "qlora"\n'
                 '[launch]\ndeepspeed_stage = 3\n')
    with pytest.raises(InputError, match="qlora with deepspeed_stage = 3"):
        load_train_config(p)
    p.write_text('name = "x"\n[model]\npath = "m"\n[data]\nmixture = "b"\n[launch]\noffload_params = true\n')
    with pytest.raises(InputError, match="offload_params needs deepspeed_stage = 3"):
        load_train_config(p)


def test_multinode_deepspeed_launch_parses_with_accelerate(tmp_path: Path) -> None:
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser

    cfg = load_preset("qwen72b-qlora-zero2-multinode")
    plan = plan_launch(cfg, tmp_path / "run")
    assert plan.kind == "accelerate" and plan.argv[1:3] == ["-m", "accelerate.commands.launch"]
    args = _validate_launch_command(launch_command_parser().parse_args(plan.argv[3:]))[0]
    assert args.use_deepspeed and args.num_processes == 16 and args.num_machines == 2
    assert (args.machine_rank, args.main_process_ip, args.main_process_port) == (0, "10.0.0.1", 29500)
    assert args.module and args.training_script == "engine.train.run"
    assert args.training_script_args == [str(tmp_path / "run")]
    ds = json.loads(Path(args.deepspeed_config_file).read_text())
    assert ds == deepspeed_config(cfg)
    assert ds["zero_optimization"]["stage"] == 2 and ds["zero_optimization"]["offload_optimizer"]["device"] == "cpu"
    assert ds["train_batch_size"] == 1 * 8 * 16 and ds["gradient_accumulation_steps"] == 8
    assert ds["bf16"]["enabled"] and ds["gradient_clipping"] == 1.0
    # one command per machine, each with its rank
    assert set(plan.node_commands) == {0, 1}
    assert "--machine_rank 1" in plan.node_commands[1] and (tmp_path / "run/launch/node-1.sh").exists()


def test_single_gpu_and_cpu_plans(tmp_path: Path) -> None:
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser

    q = plan_launch(load_preset("qwen1_8b-qlora"), tmp_path / "q")
    args = _validate_launch_command(launch_command_parser().parse_args(q.argv[3:]))[0]
    assert not args.use_deepspeed and args.num_processes == 1 and "deepspeed" not in q.files
    cpu = plan_launch(load_preset("tiny-cpu-demo"), tmp_path / "c", resume=True)
    assert cpu.kind == "cpu" and cpu.argv[1:] == ["-m", "engine.train.run", str(tmp_path / "c"), "--resume"]
    assert not (tmp_path / "c").exists()  # a CPU plan writes nothing


def test_named_mixture_and_model_resolve_in_workspace(workspace, tmp_path: Path, tiny_model_dir: Path) -> None:
    build = toy_build(workspace.root / "mixtures" / "toy" / "builds")
    cfg = load_preset("tiny-cpu-demo")
    (workspace.root / "models").mkdir(exist_ok=True)
    (workspace.root / "models" / "tiny").symlink_to(tiny_model_dir)
    resolved = resolve_config(cfg, workspace.root)
    assert resolved.data.mixture == str(build.resolve())
    assert resolved.model.path == str(tiny_model_dir.resolve())
    run = prepare_run(workspace.root, cfg)
    assert json.loads(run.config_json.read_text())["data"]["mixture"] == str(build.resolve())
    assert json.loads(run.mixture_json.read_text())["tasks"].keys() == {"python", "javascript"}
    assert (run.path / "config.toml").exists() and run.read_info()["tasks"] == ["python", "javascript"]
    bad = cfg.model_copy(update={"data": cfg.data.model_copy(update={"mixture": "nope"})})
    with pytest.raises(InputError) as e:
        resolve_config(bad, workspace.root)
    assert e.value.field == "data.mixture" and "nope" in str(e.value)


def test_environment_check_on_this_machine(workspace) -> None:
    from engine.train.envcheck import check_environment, failures
    from engine.train.gpu import gpu_snapshot

    snap = gpu_snapshot()
    bad = {c.name: c.message for c in failures(check_environment(load_preset("qwen1_8b-qlora"),
                                                                 workspace_root=workspace.root))}
    assert "mixture" in bad
    if not snap.available:  # the CPU machines this project tests on
        assert "no GPU" in snap.summary() and snap.reason
        assert "qlora" in bad and "needs a CUDA GPU" in bad["qlora"]
        assert "launch" in bad and "num_gpus = 0" in bad["launch"]


def test_cli_launch_rejects_bad_config_and_dry_runs(workspace, tmp_path: Path, tiny_model_dir: Path) -> None:
    p = tmp_path / "bad.toml"
    p.write_text('name = "x"\n[model]\npath = "m"\n[data]\nmixture = "b"\nseq_len = 5\n')
    out = run_cli("-w", str(workspace.root), "train", "launch", str(p))
    assert out.returncode == 1 and "bad.toml:6" in out.stderr and "data.seq_len" in out.stderr
    build = toy_build(tmp_path)
    good = tmp_path / "good.toml"
    good.write_text(f'name = "ok"\n[model]\npath = "{tiny_model_dir}"\n[data]\nmixture = "{build}"\n'
                    '[launch]\nnum_gpus = 0\n')
    out = run_cli("-w", str(workspace.root), "train", "launch", str(good), "--dry-run", "--no-check", "--json",
                  "--set", "optim.lr=1e-4")
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    assert res["dry_run"] and "engine.train.run" in res["command"] and res["config"]["optim"]["lr"] == 1e-4
    assert not any(workspace.runs_dir.iterdir())  # nothing created


def test_cli_status_save_stop_presets_gpus(workspace) -> None:
    import os

    from engine.runs import MetricsWriter, RunState, create_run
    from engine.runs import control

    run = create_run(workspace.runs_dir, name="live")
    run.update_info(pid=os.getpid())  # alive: this test process
    with MetricsWriter(run.metrics_path) as w:
        w.log(3, {"loss": 1.25, "loss/a": 1.0})
        w.log(4, {"valid_loss": 1.5, "valid_loss/a": 1.5})
    run.write_status(RunState.RUNNING, step=4, total_steps=10, eta_s=12)
    ws = str(workspace.root)
    st = json.loads(run_cli("-w", ws, "train", "status", "live", "--json").stdout)
    assert st["state"] == "running" and st["step"] == 4 and st["loss"] == 1.25
    assert st["last_valid"]["valid_loss/a"] == 1.5
    assert run_cli("-w", ws, "train", "save", "live").returncode == 0
    out = run_cli("-w", ws, "train", "stop", "live", "--json")
    assert out.returncode == 0 and json.loads(out.stdout)["state"] == "running"
    assert control.pending(run) == {"save", "stop"}
    run.write_status(RunState.COMPLETED, step=10, total_steps=10)
    out = run_cli("-w", ws, "train", "save", "live")
    assert out.returncode == 1 and "not running" in out.stderr
    names = {p["name"] for p in json.loads(run_cli("train", "presets", "--json").stdout)}
    assert "tiny-cpu-demo" in names
    gpus = json.loads(run_cli("train", "gpus", "--json").stdout)
    assert isinstance(gpus["available"], bool) and (gpus["available"] or gpus["reason"])


def test_export_needs_its_package(workspace) -> None:
    import importlib.util

    from engine.train.envcheck import check_environment

    cfg = load_preset("tiny-cpu-demo")
    cfg = cfg.model_copy(update={"export": cfg.export.model_copy(update={"tensorboard": True})})
    got = {c.name: c for c in check_environment(cfg, workspace_root=workspace.root)}
    have = importlib.util.find_spec("tensorboard") is not None
    assert got["tensorboard"].status == ("ok" if have else "fail")
    if not have:
        assert "pip install tensorboard" in got["tensorboard"].message


def test_mixture_name_is_materialised_through_the_mixture_engine(workspace) -> None:
    """`[data] mixture = "<name>"` with a spec in mixtures/: engine.mixture materialises it
    (reusing the same build on the next launch) and the trainer gets that folder."""
    from engine.data.store import write_processed
    from engine.demo.curriculum import train_records

    for lang in ("python", "javascript"):
        recs = [{**r, "languages": [lang], "n_tokens": 40} for r in train_records(lang)[:60]]
        write_processed(workspace.datasets_dir / f"toy_{lang}", recs, {"source": "test"})
    (workspace.mixtures_dir / "toy.toml").write_text(
        'seed = 1\nvalid_fraction = 0.1\n[tasks.py]\nsources = [{ dataset = "toy_python" }]\n'
        '[tasks.js]\nsources = [{ dataset = "toy_javascript", weight = 2 }]\n')
    cfg = load_preset("tiny-cpu-demo")
    build = Path(resolve_config(cfg, workspace.root).data.mixture)
    assert build.parent.parent == workspace.mixtures_dir / "toy" and (build / "mixture.json").exists()
    manifest = json.loads((build / "mixture.json").read_text())
    assert set(manifest["tasks"]) == {"py", "js"}
    assert (build / "js" / "train.jsonl").exists() and (build / "py" / "valid.jsonl").exists()
    assert Path(resolve_config(cfg, workspace.root).data.mixture) == build  # reused, not rebuilt
