"""`q` on a fresh demo workspace quits at once: the demo assets build in a detached process
that the app does not wait for; it finishes on its own, and a build cut short is never taken
as built (its marker file is written last)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from engine.demo.assets import demo_assets_ready
from engine.workspace import Workspace
from workbench.app import WorkbenchApp


async def test_q_quits_while_the_demo_build_keeps_going(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "demo", name="demo", demo=True)
    app = WorkbenchApp(ws)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        build = app.demo_build
        assert build is not None and build.poll() is None  # building in the background
        await pilot.press("q")
    assert app.return_code == 0 or app.return_code is None
    # the app is gone, the build is not: nothing waited for it
    assert build.poll() is None
    assert not demo_assets_ready(ws.root)  # not built yet: no marker
    deadline = time.monotonic() + 600
    while build.poll() is None and time.monotonic() < deadline:
        time.sleep(0.5)
    assert build.returncode == 0, (ws.root / ".demo-build.log").read_text()[-2000:]
    assert demo_assets_ready(ws.root)  # the next start finds it built


def test_a_build_cut_short_is_not_taken_as_built(tmp_path: Path) -> None:
    """A killed build leaves no marker, even where an earlier build's marker was: the marker
    goes first and is written last."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    ws = Workspace.init(tmp_path / "demo", name="demo", demo=True)
    marker = ws.root / "models" / "tiny" / "workbench-assets.json"
    marker.parent.mkdir(parents=True)
    from engine.demo.assets import assets_key

    marker.write_text(json.dumps({"key": assets_key()}))  # an earlier build's marker
    (ws.root / "models" / "tiny" / "config.json").write_text("{}")
    proc = subprocess.Popen(
        [sys.executable, "-m", "workbench", "--workspace", str(ws.root), "demo", "build", "--force"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while marker.exists() and time.monotonic() < deadline:  # the rebuild removes it before writing anything
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    assert not marker.exists() and not demo_assets_ready(ws.root)
