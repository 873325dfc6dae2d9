"""The GPU panel: every GPU of the machine (utilisation, memory, temperature, the processes
holding it), so free memory is visible before launching. A clear "no GPU" state on CPU."""

from __future__ import annotations

from typing import Any

from rich.markup import escape as esc
from textual.widgets import Static


def _bar(frac: float, width: int = 10) -> str:
    frac = max(0.0, min(1.0, frac))
    full = int(round(frac * width))
    return "█" * full + "░" * (width - full)


def gpu_text(snap: Any) -> str:
    if snap is None:
        return "[dim]GPUs: reading…[/dim]"
    if not snap.available:
        return f"[b]GPU[/b]  [yellow]no GPU[/yellow] [dim]{esc(snap.reason)}[/dim]"
    lines = [f"[b]GPU[/b]  [dim]driver {esc(str(snap.driver))}[/dim]"]
    for g in snap.gpus:
        used, total = g.mem_used_mib / 1024, g.mem_total_mib / 1024
        util = f"{g.util_pct:3.0f}%" if g.util_pct is not None else "  ?%"
        temp = f"{g.temp_c:.0f}°C" if g.temp_c is not None else "?°C"
        lines.append(
            f"{g.index} {esc(g.name[:18]):18} {util} {temp} {_bar(used / total if total else 0)} "
            f"{used:.1f}/{total:.0f}G free {g.mem_free_mib / 1024:.1f}G"
        )
        for p in g.processes[:3]:
            lines.append(f"   [dim]pid {p.pid} {esc(p.name[:30])} {(p.used_mib or 0) / 1024:.1f}G[/dim]")
    return "\n".join(lines)


class GpuPanel(Static):
    DEFAULT_CSS = """
    GpuPanel { height: auto; max-height: 12; padding: 0 1; border-top: solid $panel; }
    """

    def show(self, snap: Any) -> None:
        self.snapshot = snap
        self.update(gpu_text(snap))
