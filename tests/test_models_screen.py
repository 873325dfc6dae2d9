"""The Models screen (6): lists [models] with family and state, imports a Qwen-1 checkpoint through
`workbench model import` in a subprocess (torch stays out of the app), and says "needs import"
for an original Qwen-1 registered as is."""

from __future__ import annotations

import subprocess
import sys

from engine.workspace import ModelEntry, Workspace
from tests.conftest import ROOT
from tests.test_models_support import tiny_qwen1, write_qwen1_folder
from workbench.app import WorkbenchApp


def test_models_screen_lists_and_imports(tmp_path_factory, tmp_path) -> None:
    import asyncio

    from textual.widgets import DataTable, Input

    src = tiny_qwen1(tmp_path_factory)
    ws = Workspace.init(tmp_path / "ws")
    ws.config.models["raw"] = ModelEntry(path=str(write_qwen1_folder(tmp_path / "Qwen-72B")), trust_remote_code=True)
    ws.save()

    async def drive() -> None:
        app = WorkbenchApp(ws, build_demo=False)
        async with app.run_test(size=(140, 40)) as pilot:
            await pilot.press("6")
            assert app.current_mode == "models"
            table = app.screen.query_one("#models-table", DataTable)
            assert table.row_count == 1
            assert "needs import" in str(app.screen.query_one("#models-info").render())
            await pilot.press("i")
            await pilot.pause()
            app.screen.query_one("#value", Input).value = f"{src} qwen1_8b"
            await pilot.press("enter")
            await pilot.pause()
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert table.row_count == 2
            names = [str(table.get_row_at(i)[0]).strip(" *") for i in range(2)]
            assert names == ["raw", "qwen1_8b"]
            assert [str(c) for c in table.get_row_at(1)[1:3]] == ["Qwen-1", "ready"]

    asyncio.run(drive())
    ws.reload()
    assert ws.config.models["qwen1_8b"].path == "models/qwen1_8b"
    assert (ws.root / "models" / "qwen1_8b" / "model.safetensors.index.json").is_file()


def test_models_screen_does_not_import_torch() -> None:
    code = "import workbench.app, screens.models\nimport sys\nprint('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(ROOT), timeout=120,
                         check=False)
    assert out.returncode == 0, out.stderr
    assert not {"torch", "transformers", "tokenizers", "safetensors"} & set(out.stdout.split())
