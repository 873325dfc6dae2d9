"""The new-validation form: what to score (a workspace model, a run checkpoint, or a path), the
task set, the prompt format, the backend and a few generation limits. It returns the
`workbench eval run` arguments; the screen runs them in a worker."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Select, Static

from screens.forms import FormScreen

CUSTOM = "__path__"


class NewValidationForm(FormScreen[dict | None]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="validation.form.cancel", tooltip="Close without starting"),
        Binding("ctrl+s", "submit", "Start", id="validation.form.submit", tooltip="Start the validation"),
    ]
    DEFAULT_CSS = """
    NewValidationForm { align: center middle; }
    NewValidationForm > Vertical { width: 96; height: auto; max-height: 95%; border: thick $primary;
                                   background: $surface; padding: 1 2; }
    NewValidationForm Select, NewValidationForm Input { margin: 0 0 1 0; }
    NewValidationForm #form-error { color: $error; height: auto; }
    NewValidationForm Horizontal { height: auto; }
    NewValidationForm .half { width: 1fr; }
    """

    def __init__(
        self,
        checkpoints: list[tuple[str, str]],
        tasksets: list[str],
        formats: list[str],
        default_taskset: str | None = None,
    ) -> None:
        super().__init__()
        self.checkpoints = checkpoints
        self.tasksets = tasksets
        self.formats = formats
        self.default_taskset = default_taskset

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("[b]Score a checkpoint[/b]  (runs `workbench eval run`; results in validations/)")
            yield Label("Checkpoint")
            opts = [(label, spec) for label, spec in self.checkpoints] + [("a path (below)", CUSTOM)]
            yield Select(opts, value=opts[0][1], allow_blank=False, id="checkpoint")
            yield Input(placeholder="model / adapter / checkpoint folder (when 'a path' is chosen)", id="path")
            with Horizontal():
                with Vertical(classes="half"):
                    yield Label("Task set")
                    ts = (
                        self.default_taskset
                        if self.default_taskset in self.tasksets
                        else (self.tasksets[0] if self.tasksets else None)
                    )
                    yield Select([(t, t) for t in self.tasksets], value=ts if ts else Select.BLANK, id="tasks")
                with Vertical(classes="half"):
                    yield Label("Prompt format")
                    yield Select([(f, f) for f in self.formats], value=self.formats[0], allow_blank=False, id="format")
            with Horizontal():
                with Vertical(classes="half"):
                    yield Label("Backend")
                    yield Select(
                        [("transformers (hf)", "hf"), ("vLLM", "vllm")], value="hf", allow_blank=False, id="backend"
                    )
                with Vertical(classes="half"):
                    yield Label("Max new tokens (empty: the format's)")
                    yield Input(placeholder="e.g. 512", id="max-new-tokens")
            with Horizontal():
                with Vertical(classes="half"):
                    yield Label("Problems per task (empty: all)")
                    yield Input(placeholder="e.g. 20", id="limit")
                with Vertical(classes="half"):
                    yield Label("Samples per problem")
                    yield Input(value="1", id="n")
            yield Static("", id="form-error")
            with Horizontal():
                yield Button("Start", id="ok", variant="primary")
                yield Button("Cancel", id="cancel")

    def _int(self, wid: str, lo: int = 1) -> int | None:
        raw = self.query_one(f"#{wid}", Input).value.strip()
        if not raw:
            return None
        try:
            v = int(raw)
        except ValueError:
            raise ValueError(f"{wid.replace('-', ' ')}: a whole number, got {raw!r}") from None
        if v < lo:
            raise ValueError(f"{wid.replace('-', ' ')}: at least {lo}")
        return v

    def action_submit(self) -> None:
        err = self.query_one("#form-error", Static)
        ck = self.query_one("#checkpoint", Select).value
        if ck == CUSTOM:
            ck = self.query_one("#path", Input).value.strip()
            if not ck:
                err.update("checkpoint: type a model, adapter or checkpoint folder")
                return
        tasks = self.query_one("#tasks", Select).value
        if tasks is Select.BLANK or not tasks:
            err.update("task set: choose one (add more as [tasksets.NAME] in workspace.toml)")
            return
        try:
            max_new, limit, n = self._int("max-new-tokens"), self._int("limit"), self._int("n") or 1
        except ValueError as e:
            err.update(str(e))
            return
        out: dict[str, Any] = {
            "model": str(ck),
            "tasks": str(tasks),
            "format": str(self.query_one("#format", Select).value),
            "backend": str(self.query_one("#backend", Select).value),
            "n": n,
        }
        if max_new:
            out["max_new_tokens"] = max_new
        if limit:
            out["limit"] = limit
        self.dismiss(out)


def eval_run_argv(ws_root: str, choice: dict[str, Any]) -> list[str]:
    """The `workbench eval run` command line for a form result (progress as JSON lines);
    `full` scores every problem of the contest tasks instead of `tasks`."""
    from screens.cli_jobs import workbench_argv

    which = ["--full"] if choice.get("full") else ["--tasks", choice["tasks"]]
    argv = workbench_argv(
        ws_root,
        "eval",
        "run",
        "--model",
        choice["model"],
        *which,
        "--format",
        choice["format"],
        "--backend",
        choice["backend"],
        "--n",
        str(choice.get("n", 1)),
        "--progress-jsonl",
    )
    if choice.get("adapter"):
        argv += ["--adapter", choice["adapter"]]
    if choice.get("max_new_tokens"):
        argv += ["--max-new-tokens", str(choice["max_new_tokens"])]
    if choice.get("limit"):
        argv += ["--limit", str(choice["limit"])]
    return argv
