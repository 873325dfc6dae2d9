"""The run-directory contract: metrics reader (partial and corrupt lines, truncation), status
heartbeat, LOST detection, control requests, and detached processes that outlive their parent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.runs import MetricsReader, MetricsWriter, RunState, TextTail, create_run, list_runs, open_run, run_summary
from engine.runs import control
from engine.runs.launch import spawn_detached


def test_reader_buffers_partial_last_line_and_counts_corrupt(tmp_path: Path) -> None:
    p = tmp_path / "metrics.jsonl"
    r = MetricsReader(p)
    assert r.read_new() == []  # no file yet
    with open(p, "w") as f:
        f.write('{"step": 1, "loss": 2.5}\n{"step": 2, "lo')
    assert [x["step"] for x in r.read_new()] == [1]
    with open(p, "a") as f:
        f.write('ss": 2.4}\nnot json\n[1,2]\n{"no_step": 1}\n{"step": 3, "loss": NaN}\n')
    new = r.read_new()
    assert [x["step"] for x in new] == [2, 3]
    assert new[0]["loss"] == 2.4
    assert r.corrupt == 3
    assert r.series("loss") == ([1, 2], [2.5, 2.4])  # the NaN of step 3 is not plotted


def test_reader_restarts_after_truncation(tmp_path: Path) -> None:
    p = tmp_path / "metrics.jsonl"
    w = MetricsWriter(p)
    for s in range(5):
        w.log(s, {"loss": 1.0 / (s + 1)})
    r = MetricsReader(p)
    assert len(r.read_new()) == 5
    w.close()
    p.write_text('{"step": 0, "loss": 9}\n')
    assert [x["loss"] for x in r.read_new()] == [9]
    assert r.resets == 1 and len(r.records) == 1


def test_writer_makes_nonfinite_null(tmp_path: Path) -> None:
    p = tmp_path / "m.jsonl"
    with MetricsWriter(p) as w:
        w.log(1, {"loss": float("nan"), "lr": 1e-3})
    rec = json.loads(p.read_text())
    assert rec["loss"] is None and rec["lr"] == 1e-3 and rec["step"] == 1


def test_large_file_incremental_offsets(tmp_path: Path) -> None:
    p = tmp_path / "m.jsonl"
    with MetricsWriter(p) as w:
        for s in range(5000):
            w.log(s, {"loss": 1.0, "loss/python": 0.5, "pad": "x" * 20})
    r = MetricsReader(p)
    assert len(r.read_new()) == 5000 and r.read_new() == []
    assert r.offset == p.stat().st_size


def test_text_tail_starts_near_end(tmp_path: Path) -> None:
    p = tmp_path / "stdout.log"
    p.write_text("".join(f"line {i}\n" for i in range(100_000)))
    t = TextTail(p, keep=10, start_near_end=4096)
    lines = t.read_new()
    assert lines[-1] == "line 99999" and all(ln.startswith("line ") for ln in lines)
    with open(p, "a") as f:
        f.write("progress 10%\rprogress 50%\rdone\npartial")
    assert t.read_new() == ["done"]


def test_create_list_summarize_and_states(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    run = create_run(runs, name="my run", config={"lr": 1e-4}, mixture={"tasks": ["a"]})
    assert run.exists() and json.loads(run.config_json.read_text()) == {"lr": 1e-4}
    assert run.state() == RunState.PENDING
    with MetricsWriter(run.metrics_path) as w:
        w.log(10, {"loss": 1.5, "eta_s": 30})
    run.update_info(pid=os.getpid())
    run.write_status(RunState.RUNNING, step=10, total_steps=100)
    s = run_summary(run)
    assert (s.state, s.step, s.total_steps, s.loss) == (RunState.RUNNING, 10, 100, 1.5)
    assert open_run(runs, run.id[-8:]).path == run.path
    assert [r.id for r in list_runs(runs)] == [run.id]
    # a "running" run whose process is gone is LOST
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    run.update_info(pid=dead.pid, proc_start=None)
    assert run.state() == RunState.LOST


def test_control_requests(tmp_path: Path) -> None:
    run = create_run(tmp_path, name="c")
    assert control.pending(run) == set()
    control.request(run, "save")
    control.request(run, "stop")
    assert control.pending(run) == {"save", "stop"}
    assert control.consume(run, "save") and not control.consume(run, "save")
    with pytest.raises(ValueError):
        control.request(run, "explode")


CHILD = r"""
import os, sys, time, signal
from engine.runs import RunDir, RunState, MetricsWriter
from engine.runs import control
run = RunDir(os.environ["WORKBENCH_RUN_DIR"])
stop = {"flag": False}
signal.signal(signal.SIGTERM, lambda *a: stop.__setitem__("flag", True))
w = MetricsWriter(run.metrics_path)
step = 0
while not stop["flag"] and step < 600:
    step += 1
    w.log(step, {"loss": 1.0 / step})
    run.write_status(RunState.RUNNING, step=step, total_steps=600)
    if "stop" in control.pending(run):
        control.consume(run, "stop")
        break
    time.sleep(0.05)
run.write_status(RunState.STOPPED, step=step, total_steps=600)
print("bye", flush=True)
"""


def test_detached_run_survives_parent_and_stops_on_request(tmp_path: Path) -> None:
    from tests.conftest import ROOT

    runs = tmp_path / "runs"
    run = create_run(runs, name="detached")
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    # The launcher is itself a short-lived process: it spawns the run and exits at once.
    launcher = (
        "import sys; sys.path.insert(0, %r)\n"
        "from engine.runs import RunDir\nfrom engine.runs.launch import spawn_detached\n"
        "print(spawn_detached(RunDir(%r), [sys.executable, %r], cwd=%r))\n"
    ) % (str(ROOT), str(run.path), str(script), str(ROOT))
    out = subprocess.run([sys.executable, "-c", launcher], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    pid = int(out.stdout.strip())
    info = run.read_info()
    assert info["pid"] == pid and info["pgid"] == pid and os.getpgid(pid) == pid
    assert os.getsid(pid) == pid  # its own session: no SIGHUP from our terminal
    deadline = time.time() + 20
    while time.time() < deadline and run_summary(run).step < 5:
        time.sleep(0.1)
    assert run.state() == RunState.RUNNING and run_summary(run).step >= 5  # alive after the launcher exited
    control.request(run, "stop")
    deadline = time.time() + 20
    while time.time() < deadline and run.state() == RunState.RUNNING:
        time.sleep(0.1)
    assert run.state() == RunState.STOPPED
    assert "bye" in run.stdout_log.read_text()
    # reap if it is our grandchild-turned-orphan (it is not our child; just make sure it is gone)
    time.sleep(0.2)
    with pytest.raises(ProcessLookupError):
        for _ in range(50):
            os.kill(pid, 0)
            time.sleep(0.1)


def test_kill_hard_stops_group(tmp_path: Path) -> None:
    run = create_run(tmp_path, name="k")
    pid = spawn_detached(run, [sys.executable, "-c", "import time\nwhile True: time.sleep(1)"])
    time.sleep(0.3)
    run.write_status(RunState.RUNNING, step=0)
    assert run.state() == RunState.RUNNING
    assert control.kill(run, grace_s=5) == RunState.LOST
    with pytest.raises(ProcessLookupError):
        for _ in range(50):
            os.kill(pid, 0)
            time.sleep(0.1)
