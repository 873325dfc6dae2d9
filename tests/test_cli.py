"""The headless CLI: init, info, demo build, runs list/show/tail, all through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path

from engine.runs import MetricsWriter, RunState, create_run
from tests.conftest import run_cli


def test_init_info_and_errors(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    out = run_cli("init", str(ws), "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["workspace"] == str(ws)
    info = json.loads(run_cli("--workspace", str(ws), "info", "--json").stdout)
    assert info["name"] == "ws" and "magicoder_evol_instruct_110k" in info["datasets"]
    # env var selects the workspace too
    info = json.loads(run_cli("info", "--json", env={"WORKBENCH_WORKSPACE": str(ws)}).stdout)
    assert info["workspace"] == str(ws)
    # a broken workspace.toml: one clear line naming file, line and field; no traceback
    cfg = ws / "workspace.toml"
    cfg.write_text(cfg.read_text().replace("\n[defaults]\n", "\n[defaults]\nbogus = 1\n"))
    out = run_cli("--workspace", str(ws), "info")
    assert out.returncode == 1
    assert "workspace.toml:" in out.stderr and "defaults.bogus" in out.stderr and "Traceback" not in out.stderr
    out = run_cli("--workspace", str(tmp_path / "nope"), "info")
    assert out.returncode == 1 and "workbench init" in out.stderr


def test_runs_commands(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    run_cli("init", str(ws))
    run = create_run(ws / "runs", name="cli-run")
    with MetricsWriter(run.metrics_path) as w:
        for s in range(1, 4):
            w.log(s, {"loss": 3.0 / s})
    run.write_status(RunState.COMPLETED, step=3, total_steps=3)
    out = run_cli("--workspace", str(ws), "runs", "list", "--json")
    rows = json.loads(out.stdout)
    assert rows[0]["id"] == run.id and rows[0]["state"] == "completed" and rows[0]["loss"] == 1.0
    show = json.loads(run_cli("--workspace", str(ws), "runs", "show", "cli-run", "--json").stdout)
    assert show["last_metrics"]["step"] == 3 and "loss" in show["metric_keys"]
    tail = run_cli("--workspace", str(ws), "runs", "tail", run.id).stdout.splitlines()
    assert [json.loads(x)["step"] for x in tail] == [1, 2, 3]
    out = run_cli("--workspace", str(ws), "runs", "show", "does-not-exist")
    assert out.returncode == 1 and "no run" in out.stderr


def test_demo_build_into_demo_workspace(tmp_path: Path) -> None:
    """With no workspace configured, the demo workspace is created under XDG and built."""
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg"), "WORKBENCH_WORKSPACE": ""}
    out = run_cli("demo", "build", "--json", env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    demo = tmp_path / "xdg" / "workbench" / "demo"
    assert info["cached"] is False and (demo / "models" / "tiny" / "model.safetensors").exists()
    assert (demo / "data" / "toy" / "heldout.jsonl").exists()
    again = json.loads(run_cli("demo", "build", "--json", env=env).stdout)
    assert again["cached"] is True
