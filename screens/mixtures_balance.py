"""The balance view: bars of token share per task and per language, a stacked language bar per
task, and the warnings inline. Renders an `engine.mixture.balance.Balance`; computes nothing."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.text import Text
from textual.widgets import Static

from engine.mixture.balance import bar, human_count

# xterm-256 colours (readable without truecolor), one per language; "none" is grey.
LANG_COLORS = {
    "python": "#5f87d7",
    "javascript": "#d7af00",
    "js": "#d7af00",
    "java": "#d75f5f",
    "go": "#5fafaf",
    "cpp": "#af87d7",
    "rust": "#d7875f",
    "none": "#6c6c6c",
}
EXTRA_COLORS = ["#87af5f", "#d787af", "#87afd7", "#afaf87"]
BAR_WIDTH = 22


def lang_color(lang: str, order: list[str]) -> str:
    if lang in LANG_COLORS:
        return LANG_COLORS[lang]
    extra = [x for x in order if x not in LANG_COLORS]
    return EXTRA_COLORS[extra.index(lang) % len(EXTRA_COLORS)] if lang in extra else EXTRA_COLORS[0]


def _row(label: str, share: float, tail: str, color: str, width: int = BAR_WIDTH) -> Text:
    t = Text()
    t.append(f"{label[:16]:16} ", style="bold" if color else "")
    t.append(bar(share, width), style=color)
    t.append(f" {100 * share:5.1f}% ", style="bold")
    t.append(tail, style="dim")
    return t


def render_balance(b: Any, *, selected_task: str | None = None) -> Group:
    parts: list[Any] = []
    tot = b.totals
    head = Text()
    head.append(f"train {tot['train_rows']:,} rows · {human_count(tot['train_tokens'])} tokens", style="bold")
    head.append(f"   valid {tot['valid_rows']:,} rows   seq {b.seq_length}   id {b.id}", style="dim")
    if b.estimated:
        head.append("   tokens estimated", style="yellow")
    parts += [head, Text("")]
    parts.append(Text("Tokens per task", style="bold underline"))
    for t in b.tasks:
        line = _row(
            t["task"],
            t["share_tokens"],
            f"{t['train_rows']:,} rows · {human_count(t['train_tokens'])} tok · valid {t['valid_rows']}",
            "#0087af" if t["task"] != selected_task else "#d7875f",
        )
        if t["task"] == selected_task:
            line.stylize("reverse", 0, 16)
        parts.append(line)
    parts += [Text(""), Text("Tokens per language", style="bold underline")]
    order = list(b.languages)
    for lang, v in b.languages.items():
        parts.append(
            _row(lang, v["share"], f"{v['rows']:,} rows · {human_count(v['tokens'])} tok", lang_color(lang, order))
        )
    parts += [Text(""), Text("Languages within each task", style="bold underline")]
    for t in b.tasks:
        line = Text(f"{t['task'][:16]:16} ", style="bold")
        used = 0
        langs = list(t["languages"].items())
        for i, (lang, v) in enumerate(langs):
            cells = int(round(v["share"] * BAR_WIDTH)) if i < len(langs) - 1 else BAR_WIDTH - used
            cells = max(0, min(cells, BAR_WIDTH - used))
            line.append("█" * cells, style=lang_color(lang, order))
            used += cells
        line.append(" " * (BAR_WIDTH - used))
        top = ", ".join(f"{k} {100 * v['share']:.0f}%" for k, v in langs[:3])
        line.append(f"  {top}", style="dim")
        parts.append(line)
    legend = Text("   ")
    for lang in order:
        legend.append("■ ", style=lang_color(lang, order))
        legend.append(f"{lang}  ", style="dim")
    parts.append(legend)
    return Group(*parts)


def render_warnings(b: Any) -> Text:
    if not b.warnings:
        return Text("no warnings", style="green")
    t = Text()
    for i, w in enumerate(b.warnings):
        if i:
            t.append("\n")
        t.append("▲ ", style="bold #d7af00")
        t.append(w.message)
    return t


class BalanceView(Static):
    """Shows the balance (or why there is none)."""

    DEFAULT_CSS = """
    BalanceView { height: auto; padding: 0 1; }
    """

    def show(self, balance: Any, *, selected_task: str | None = None) -> None:
        self.balance = balance
        self.update(render_balance(balance, selected_task=selected_task))

    def show_message(self, text: str, style: str = "dim") -> None:
        self.balance = None
        self.update(Text(text, style=style))
