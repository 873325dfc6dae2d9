"""The live monitor of one run: a stats line, per-task train / validation loss charts (tasks
toggled in a list beside them), learning rate, throughput and task weights, and the log tail.
It is fed incrementally (new metric records, new log lines) by the Runs screen's poller.
On a short or narrow terminal the stats take three lines, most telling first, and the charts
drop their axis label: the plot keeps the rows."""

from __future__ import annotations

import math
import time
from typing import Any

from rich.markup import escape as esc
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.events import Resize
from textual.widgets import RichLog, SelectionList, Static, TabbedContent, TabPane
from textual_plotext import PlotextPlot

from engine.runs.registry import fmt_eta
from screens.layout import is_narrow, is_short

MAX_POINTS = 1500  # per series drawn; longer series are thinned (every k-th point, last kept)

CHARTS = [
    # (tab id, title, metric key pattern; "{task}" is replaced by each selected task)
    ("loss", "Train loss", ["loss/{task}", "loss"]),
    ("valid", "Valid loss", ["valid_loss/{task}", "valid_loss"]),
    ("pass", "pass@1", ["pass@1/{task}", "pass@1"]),
    ("lr", "Learning rate", ["lr"]),
    ("tput", "Tokens/s", ["tokens_per_s"]),
    ("weights", "Task weights", ["weight/{task}"]),
    ("mem", "GPU memory GB", ["gpu_mem_gb"]),
]
# tab labels short enough for all seven tabs to fit 80 columns (the chart carries the full title)
TAB_LABELS = {
    "loss": "loss",
    "valid": "valid",
    "pass": "pass@1",
    "lr": "lr",
    "tput": "tok/s",
    "weights": "weights",
    "mem": "GPU mem",
}


def _num(v: Any, fmt: str = ".4f") -> str:
    return format(v, fmt) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else "-"


def thin(xs: list[int], ys: list[float], limit: int = MAX_POINTS) -> tuple[list[int], list[float]]:
    if len(xs) <= limit:
        return xs, ys
    k = math.ceil(len(xs) / limit)
    idx = list(range(0, len(xs), k))
    if idx[-1] != len(xs) - 1:
        idx.append(len(xs) - 1)
    return [xs[i] for i in idx], [ys[i] for i in idx]


class RunMonitor(Vertical):
    DEFAULT_CSS = """
    RunMonitor { height: 1fr; }
    RunMonitor #monitor-stats { height: auto; padding: 0 1; }
    RunMonitor #monitor-body { height: 1fr; }
    RunMonitor TabbedContent { width: 1fr; height: 1fr; }
    RunMonitor TabPane { padding: 0; }
    RunMonitor #task-toggles { width: 22; height: 1fr; border: none; }
    RunMonitor #run-log { height: 9; border-top: solid $panel; }
    """

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.records: list[dict[str, Any]] = []
        self.tasks: list[str] = []
        self.run_id: str | None = None
        self._dirty = True
        self._compact: bool | None = None
        self._stats: tuple[Any, dict[str, Any], dict[str, Any] | None] | None = None

    def compose(self) -> ComposeResult:
        yield Static("[dim]no run selected[/dim]", id="monitor-stats")
        with Horizontal(id="monitor-body"):
            with TabbedContent(id="monitor-tabs"):
                for tab, _title, _ in CHARTS:
                    with TabPane(TAB_LABELS[tab], id=f"tab-{tab}"):
                        yield PlotextPlot(id=f"plot-{tab}")
            yield SelectionList[str](id="task-toggles")
        yield RichLog(id="run-log", max_lines=400, wrap=False, markup=False)

    def on_mount(self) -> None:
        self.query_one("#task-toggles", SelectionList).border_title = "tasks (space)"

    def on_resize(self, event: Resize) -> None:
        compact = is_short(self) or is_narrow(self)
        if compact != self._compact:  # re-lay the text and the charts for the new size
            self._compact = compact
            self._dirty = True
            self.redraw()
            if self._stats is not None:
                self.show_stats(*self._stats)

    # -- feeding ----------------------------------------------------------------------------
    def reset(self, run_id: str | None, tasks: list[str]) -> None:
        self.run_id = run_id
        self.records = []
        self.tasks = list(tasks)
        toggles = self.query_one("#task-toggles", SelectionList)
        toggles.clear_options()
        for t in self.tasks:
            toggles.add_option((t, t, True))
        self.query_one("#run-log", RichLog).clear()
        self._dirty = True
        self.redraw()

    def add(self, records: list[dict[str, Any]], lines: list[str], *, reset: bool = False) -> None:
        if reset:
            self.records = []
        if records or reset:
            self.records.extend(records)
            self._learn_tasks(records)
            self._dirty = True
            self.redraw()
        if lines:
            log = self.query_one("#run-log", RichLog)
            for line in lines:
                log.write(line)

    def _learn_tasks(self, records: list[dict[str, Any]]) -> None:
        """Tasks appear in the metric keys even when run.json does not list them."""
        new = []
        for r in records:
            for k in r:
                if k.startswith(("loss/", "valid_loss/")):
                    t = k.split("/", 1)[1]
                    if t not in self.tasks and t not in new:
                        new.append(t)
        if new:
            toggles = self.query_one("#task-toggles", SelectionList)
            for t in new:
                self.tasks.append(t)
                toggles.add_option((t, t, True))

    def on_selection_list_selected_changed(self, event: SelectionList.SelectedChanged) -> None:
        self._dirty = True
        self.redraw()

    # -- drawing ----------------------------------------------------------------------------
    def selected_tasks(self) -> list[str]:
        return list(self.query_one("#task-toggles", SelectionList).selected)

    def series(self, key: str) -> tuple[list[int], list[float]]:
        from engine.runs.metrics import series

        return series(self.records, key)

    def chart_keys(self, tab: str) -> list[tuple[str, str]]:
        """(label, metric key) drawn on a chart: per selected task, plus the aggregate."""
        patterns = next(p for t, _, p in CHARTS if t == tab)
        out = []
        for pat in patterns:
            if "{task}" in pat:
                out += [(t, pat.format(task=t)) for t in self.selected_tasks()]
            else:
                out.append(("all" if tab in ("loss", "valid", "pass") else pat, pat))
        return out

    def redraw(self) -> None:
        if not self._dirty or not self.is_mounted:
            return
        self._dirty = False
        for tab, title, _ in CHARTS:
            plot = self.query_one(f"#plot-{tab}", PlotextPlot)
            plt = plot.plt
            plt.clear_data()
            drawn = 0
            for label, key in self.chart_keys(tab):
                xs, ys = thin(*self.series(key))
                if xs:
                    # compact: no legend over the few rows there are (the task list names the lines)
                    plt.plot(xs, ys, label=None if self._compact else label, marker="braille")
                    drawn += 1
            plt.title(title if drawn else f"{title}: no data yet")
            plt.xlabel("" if self._compact else "step")
            plot.refresh()

    def last_value(self, key: str) -> Any:
        """The newest value of a key (records of a step may hold only validation or hook keys)."""
        for r in reversed(self.records):
            v = r.get(key)
            if v is not None:
                return v
        return None

    def show_stats(self, summary: Any, status: dict[str, Any], data: dict[str, Any] | None = None) -> None:
        self._stats = (summary, status, data)
        last = {
            k: self.last_value(k) for k in ("lr", "tokens_per_s", "gpu_mem_gb", "grad_norm", "pass@1", "validate_s")
        }
        beat = status.get("updated")
        clock = getattr(self.app, "clock", time.time)  # injectable: snapshots freeze it
        age = f"{max(0.0, clock() - beat):.0f}s ago" if isinstance(beat, (int, float)) else "-"
        if self._compact:
            self.query_one("#monitor-stats", Static).update(
                "\n".join(self._compact_lines(summary, status, data, last, age))
            )
            return
        total = summary.total_steps or "?"
        parts = [
            f"[b]{esc(summary.name)}[/b]  [b]{summary.state.value}[/b]  step {summary.step}/{total}   "
            f"ETA {fmt_eta(summary.eta_s)}   heartbeat {age}",
            f"loss {_num(summary.loss)}   lr {_num(last['lr'], '.3g')}   grad norm {_num(last['grad_norm'], '.3g')}   "
            f"tok/s {_num(last['tokens_per_s'], ',.0f')}   "
            f"GPU mem {_num(last['gpu_mem_gb'], '.1f') + ' GB' if last['gpu_mem_gb'] is not None else '-'}",
        ]
        if last["pass@1"] is not None:
            per = "  ".join(
                f"{esc(t)} {_num(self.last_value(f'pass@1/{t}'), '.0%')}"
                for t in self.tasks
                if self.last_value(f"pass@1/{t}") is not None
            )
            parts.append(
                f"pass@1 {_num(last['pass@1'], '.1%')}"
                + (f"  ({per})" if per else "")
                + (f"   cost {_num(last['validate_s'], '.1f')} s/eval" if last["validate_s"] is not None else "")
            )
        best = status.get("best_valid_loss")
        phase = status.get("phase")
        tail = "   ".join(
            x
            for x in (
                f"phase {esc(str(phase))}" if phase else "",
                f"best valid {_num(best)}" if best is not None else "",
                esc(summary.message or ""),
            )
            if x
        )
        if data:  # what the length policy did to the data: never silent
            dropped = sum(
                int(data.get(k, 0) or 0)
                for k in ("dropped_overlong", "dropped_no_trained", "dropped_truncated_to_no_trained")
            )
            fill = (data.get("fill") or {}).get("train")
            tail = "   ".join(
                x
                for x in (
                    tail,
                    f"data: fill {_num(fill, '.1%')}, truncated "
                    f"{data.get('truncated', 0)}, dropped {dropped}"
                    + ("" if data.get("packing_active", True) else ", packing off"),
                )
                if x
            )
        if tail:
            parts.append(tail)
        self.query_one("#monitor-stats", Static).update("\n".join(parts))

    def _compact_lines(
        self, summary: Any, status: dict[str, Any], data: dict[str, Any] | None, last: dict[str, Any], age: str
    ) -> list[str]:
        """Three lines (each cut at the edge, not wrapped): where the run is, how it learns,
        what else it says."""
        total = summary.total_steps or "?"
        mem = f"   mem {_num(last['gpu_mem_gb'], '.1f')} GB" if last["gpu_mem_gb"] is not None else ""
        p1 = f"   pass@1 {_num(last['pass@1'], '.1%')}" if last["pass@1"] is not None else ""
        lines = [
            f"[b]{esc(summary.name)}[/b] [b]{summary.state.value}[/b]  step {summary.step}/{total}  "
            f"ETA {fmt_eta(summary.eta_s)}  beat {age}",
            f"loss {_num(summary.loss)}{p1}   lr {_num(last['lr'], '.3g')}   "
            f"tok/s {_num(last['tokens_per_s'], ',.0f')}{mem}   grad {_num(last['grad_norm'], '.3g')}",
        ]
        best, phase = status.get("best_valid_loss"), status.get("phase")
        extra = [
            f"phase {esc(str(phase))}" if phase else "",
            f"best valid {_num(best)}" if best is not None else "",
            esc(summary.message or ""),
        ]
        if data:
            dropped = sum(
                int(data.get(k, 0) or 0)
                for k in ("dropped_overlong", "dropped_no_trained", "dropped_truncated_to_no_trained")
            )
            extra.append(
                f"data: fill {_num((data.get('fill') or {}).get('train'), '.0%')}, "
                f"truncated {data.get('truncated', 0)}, dropped {dropped}"
            )
        if any(extra):
            lines.append("[dim]" + " · ".join(x for x in extra if x) + "[/dim]")
        return lines

    def clear_stats(self, text: str) -> None:
        self._stats = None
        self.query_one("#monitor-stats", Static).update(text)
