"""The job component: every long action of the app runs through one `JobPanel`.

A panel shows a label, a progress bar and, when the job failed, the reason; it runs one job at
a time in a thread worker, either a `workbench … --progress-jsonl` subprocess (`run_command`;
torch / transformers work, cancellable with x) or an engine call that only reads and writes
files (`run_call`). It reports through typed messages, handled with `@on(JobPanel.Finished,
"#panel-id")`: `Progress` for each event, `Finished` once at the end (also after a cancel).
A failure (an exception, a command without its "done" event) goes to the app's one error
dialog (`WorkbenchApp.report_worker_error`). Which work goes where: docs/app.md.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import ProgressBar, Static
from textual.worker import Worker, WorkerState

from engine.errors import WorkbenchError
from engine.progress import ProgressEvent, Unreadable

Report = Callable[..., None]  # report(phase, done, total, info=None): what an engine call gets


class JobPanel(Vertical):
    """Label + progress bar of the screen's long actions (one at a time)."""

    DEFAULT_CSS = """
    JobPanel { height: auto; }
    JobPanel > .job-label { height: auto; }
    """

    class Progress(Message):
        """A progress event of the running job (already shown on the panel)."""

        def __init__(self, panel: JobPanel, job: str, event: ProgressEvent) -> None:
            super().__init__()
            self.set_sender(panel)  # built in the worker thread, which has no active pump: `@on(…, "#id")` needs one
            self.panel, self.job, self.event = panel, job, event

        @property
        def control(self) -> JobPanel:
            return self.panel

    class Finished(Message):
        """The job ended: `result` is the command's `CommandResult` or the call's return value;
        `cancelled` when x stopped it. Not sent after a failure (that is the error dialog)."""

        def __init__(self, panel: JobPanel, job: str, result: Any, cancelled: bool) -> None:
            super().__init__()
            self.set_sender(panel)
            self.panel, self.job, self.result, self.cancelled = panel, job, result, cancelled

        @property
        def control(self) -> JobPanel:
            return self.panel

    class Failed(Message):
        """The job raised (the error dialog shows it); the screen may clean up."""

        def __init__(self, panel: JobPanel, job: str, message: str) -> None:
            super().__init__()
            self.set_sender(panel)
            self.panel, self.job, self.message = panel, job, message

        @property
        def control(self) -> JobPanel:
            return self.panel

    def __init__(
        self, *, id: str, label_classes: str = "", hide_label_when_idle: bool = False, label_style: str = ""
    ) -> None:
        super().__init__(id=id)
        self._label_classes = f"job-label {label_classes}".strip()
        self._hide_idle = hide_label_when_idle
        self._label_style = label_style  # how the running title is drawn (e.g. "bold")
        self.title: str | None = None  # the running job's title; None when idle
        self.kind = ""
        self._proc: subprocess.Popen | None = None
        self._cancelled = False
        self._said_unreadable = False
        self.phases: list[str] = []

    def compose(self) -> ComposeResult:
        label = Static("", id=f"{self.id}-label", classes=self._label_classes)
        label.display = not self._hide_idle
        yield label
        bar = ProgressBar(id=f"{self.id}-progress", show_eta=False)
        bar.display = False
        yield bar

    # -- state ---------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.title is not None

    @property
    def cancellable(self) -> bool:
        return self._proc is not None

    def show(self, text: str | Text) -> None:
        """Set the label (a screen's own wording of a result or a phase)."""
        label = self.query_one(f"#{self.id}-label", Static)
        label.display = bool(text) or not self._hide_idle
        label.update(text)

    def _bar(self, total: int | None, done: int) -> None:
        bar = self.query_one(f"#{self.id}-progress", ProgressBar)
        bar.display = True
        bar.update(total=None if total is None else max(1, total), progress=done)

    def _begin(self, title: str, kind: str) -> bool:
        if self.busy:
            self.notify(f"busy: {self.title}", severity="warning")
            return False
        self.title, self.kind, self._cancelled = title, kind, False
        self.phases = []  # the phases this job has shown, in order
        self.show(Text(title, style=self._label_style))
        self._bar(None, 0)
        return True

    def _end(self) -> None:
        self.title, self._proc = None, None
        self.query_one(f"#{self.id}-progress", ProgressBar).display = False

    # -- running -------------------------------------------------------------------------------
    def run_command(
        self,
        title: str,
        argv: list[str],
        *,
        kind: str = "",
        name: str = "",
        json_result: bool = False,
        errors_in_place: bool = False,
    ) -> bool:
        """Run a `--progress-jsonl` command (or, `json_result`, a `--json` one: no progress, one
        result); False (and a warning) when a job is running. `name` names the worker (the error
        dialog's title: "NAME failed"). `errors_in_place`: a command that reported an error event
        (bad input, one line) finishes with it in `result.error` for the screen to show, no dialog."""
        return self._start(title, kind, name, lambda: self._command(argv, kind, json_result, errors_in_place))

    def run_call(
        self,
        title: str,
        fn: Callable[[Report], Any],
        *,
        kind: str = "",
        name: str = "",
        phases: Mapping[str, str] | None = None,
    ) -> bool:
        """Run `fn(report)` (an engine function over files, no torch) in a thread."""
        return self._start(title, kind, name, lambda: self._call(fn, kind, phases or {}))

    def _start(self, title: str, kind: str, name: str, work: Callable[[], None]) -> bool:
        if not self._begin(title, kind):
            return False
        self.run_worker(work, thread=True, exclusive=True, group="job", name=name or title, exit_on_error=False)
        return True

    def cancel(self) -> bool:
        """Stop a running command (SIGTERM to its process group); False when there is none."""
        proc = self._proc
        if proc is None:
            return False
        self._cancelled = True
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass
        return True

    # (thread) --------------------------------------------------------------------------------
    def _command(self, argv: list[str], kind: str, json_result: bool, errors_in_place: bool) -> None:
        from screens.cli_jobs import run_progress_command

        def on_event(ev: Any) -> None:
            if isinstance(ev, ProgressEvent):
                self.post_message(self.Progress(self, kind, ev))
            elif isinstance(ev, Unreadable):  # said once, not fatal: the command's result decides
                if not self._said_unreadable:  # (app.notify posts a Notify message: thread-safe)
                    self._said_unreadable = True
                    self.app.notify(
                        f"unexpected output line ({ev.reason}): {ev.line[:120]}",
                        severity="warning",
                        timeout=8,
                        markup=False,
                    )

        self._said_unreadable = False
        res = run_progress_command(
            argv, on_event=on_event, on_start=lambda p: setattr(self, "_proc", p), json_result=json_result
        )
        self._proc = None
        cancelled = self._cancelled or res.rc == -signal.SIGTERM
        if not res.done and not cancelled and not (errors_in_place and res.error):  # no result: it failed
            if res.error:  # it said why in one line (bad input): shown as that line, no traceback
                raise WorkbenchError(res.error)
            raise RuntimeError(res.failure(" ".join(argv[2:]) if len(argv) > 2 else " ".join(argv)))
        self.post_message(self.Finished(self, kind, res, cancelled))

    def _call(self, fn: Callable[[Report], Any], kind: str, phases: Mapping[str, str]) -> None:
        last_phase, last_t = [""], [0.0]

        def report(phase: str, done: int, total: int | None, info: Mapping[str, Any] | None = None) -> None:
            if phase == "done":  # the engine's end-of-work marker: the Finished message says it
                return
            now = time.monotonic()
            if phase == last_phase[0] and total and done < total and now - last_t[0] < 0.1:
                return
            last_phase[0], last_t[0] = phase, now
            flat = {k: v for k, v in (info or {}).items() if isinstance(v, (int, float, str))}
            self.post_message(
                self.Progress(
                    self, kind, ProgressEvent(phase, int(done), int(total or 0), phases.get(phase, phase), flat)
                )
            )

        result = fn(report)
        self.post_message(self.Finished(self, kind, result, False))

    # (UI thread) -----------------------------------------------------------------------------
    def on_job_panel_progress(self, message: JobPanel.Progress) -> None:
        ev = message.event
        if self.title is None:
            return
        if not self.phases or self.phases[-1] != ev.phase:
            self.phases.append(ev.phase)
        self.show(Text(f"{self.title} — {ev.text()}", style=self._label_style))
        self._bar(ev.total or None, ev.done)

    def on_job_panel_finished(self, message: JobPanel.Finished) -> None:
        self._end()
        if message.cancelled:
            self.show("cancelled")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            err = event.worker.error
            self._end()
            self.show(Text(f"failed: {str(err).splitlines()[0] if str(err) else repr(err)}", style="red"))
            self.post_message(self.Failed(self, self.kind, str(err)))
            self.app.report_worker_error(event.worker)  # type: ignore[attr-defined]  # the App is WorkbenchApp (screens never import it)
