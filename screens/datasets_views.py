"""What the Datasets screen draws: stats (token-length histogram, language bars, drops per
filter), a conversation rendered with the chat template with the trained tokens highlighted,
and plain records (dropped rows, rows without a tokenizer). Pure functions → rich Text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text

BAR = 32
LANG_STYLE = {
    "python": "#5f87d7",
    "javascript": "#d7d75f",
    "java": "#d78700",
    "go": "#5fd7d7",
    "cpp": "#af87d7",
    "rust": "#d75f5f",
    "none": "#808080",
}
TRAINED = "bold #000000 on #87d787"
TRAINED_ALT = "bold #000000 on #5faf5f"
PROMPT = "#a8a8a8"
PROMPT_ALT = "#a8a8a8 on #303030"


def shown_path(path: Any, root: Path | None = None) -> str:
    """A file as the user reads it: relative to the workspace when inside it, else as given."""
    if root is not None:
        try:
            return str(Path(path).relative_to(root))
        except ValueError:
            pass
    return str(path)


def kv(label: str, value: str, width: int, *, style: str = "") -> str:
    """`label     value` as markup; a long value wraps at spaces, hyphens or slashes and its
    continuation lines stay under the value, never back at the label."""
    import textwrap

    from rich.markup import escape

    pad = 10
    value = value.replace("/", "/\u200b")  # a break opportunity after each slash
    lines = textwrap.wrap(value, max(16, width - pad), break_on_hyphens=True) or [""]
    body = ("\n" + " " * pad).join(escape(x.replace("\u200b", "")) for x in lines)
    if style:
        body = f"[{style}]{body}[/{style}]"
    return f"{label:<{pad}}{body}"


def _bar(frac: float, width: int = BAR) -> str:
    n = int(round(max(0.0, min(1.0, frac)) * width))
    return "█" * n + "░" * (width - n)


def stats_text(
    st: dict[str, Any],
    *,
    dropped: dict[str, int] | None = None,
    read: int | None = None,
    quarantined: int | None = None,
    note: str | None = None,
) -> Text:
    t = Text()
    t.append(f"rows {st.get('rows', 0)}", style="bold")
    if read is not None:
        t.append(f"   read {read}   quarantined {quarantined or 0}", style="dim")
    t.append("\n\n")
    tok = st.get("tokens") or {}
    if tok.get("count"):
        t.append("tokens  ", style="bold")
        t.append(f"p50 {tok['p50']}  p90 {tok['p90']}  p99 {tok['p99']}  max {tok['max']}  mean {tok['mean']}\n")
        seq = tok.get("seq_length")
        if seq:
            over = tok.get("over_seq_length", 0)
            t.append(f"seq_length {seq}: {over} rows over\n", style="bold red" if over else "dim")
        hist = tok["histogram"]
        top = max(hist["counts"]) or 1
        for lo, hi, c in zip(hist["edges"], hist["edges"][1:], hist["counts"]):
            past = bool(seq and lo > seq)
            t.append(f"{lo:>6}-{hi - 1:<6}", style="dim")
            t.append(_bar(c / top), style="red" if past else "#5f87d7")
            t.append(f" {c}\n")
    else:
        t.append(f"tokens  {tok.get('note', 'unknown')}\n", style="dim")
    share = st.get("language_share") or {}
    if share:
        t.append("\nlanguages\n", style="bold")
        for lang, frac in share.items():
            t.append(f"  {lang:<11}")
            t.append(_bar(frac, 24), style=LANG_STYLE.get(lang, "white"))
            t.append(f" {frac:6.1%}  {st['languages'][lang]}\n")
    turns = st.get("turns") or {}
    if turns:
        t.append("\nanswers per sample  ", style="bold")
        t.append("  ".join(f"{k}: {v}" for k, v in turns.items()) + f"   (mean {st.get('turns_mean')})\n")
    if dropped is not None:
        t.append("\ndrops per filter\n", style="bold")
        shown = {k: v for k, v in dropped.items() if v}
        if not shown:
            t.append("  none\n", style="dim")
        top = max(shown.values(), default=1)
        for k, v in shown.items():
            t.append(f"  {k:<16}")
            t.append(_bar(v / top, 20), style="#d78700")
            t.append(f" {v}\n")
    if note:
        t.append(f"\nnote: {note}\n", style="dim")
    return t


def preview_text(
    rec: dict[str, Any], pv: dict[str, Any] | None, *, boundaries: bool = False, root: Path | None = None
) -> Text:
    """A record: header, then its rendered text with trained tokens highlighted (or the plain
    turns when there is no preview)."""
    t = Text()
    langs = ", ".join(rec.get("languages") or []) or "-"
    t.append(f"{rec['id']}", style="bold")
    t.append(f"   languages: {langs}", style="dim")
    if rec.get("file"):
        t.append(f"   {shown_path(rec['file'], root)}:{rec.get('line')}", style="dim")
    t.append("\n")
    if pv is None:
        t.append(plain_rounds(rec["chat_rounds"]))
        return t
    t.append(f"{pv['n_tokens']} tokens, {pv['n_trained']} trained ", style="dim")
    t.append(" trained ", style=TRAINED)
    t.append(" ")
    t.append(" not trained ", style=PROMPT_ALT)
    t.append("\n\n")
    if boundaries:
        for i, (text, trained) in enumerate(pv["tokens"]):
            alt = i % 2 == 1
            t.append(text, style=(TRAINED_ALT if alt else TRAINED) if trained else (PROMPT_ALT if alt else PROMPT))
    else:
        for seg in pv["segments"]:
            t.append(seg["text"], style=TRAINED if seg["trained"] else PROMPT)
    return t


def plain_rounds(rounds: list[dict[str, str]]) -> Text:
    t = Text()
    for r in rounds:
        t.append(f"[{r['role']}] ", style="bold " + {"bot": "green", "human": "cyan"}.get(r["role"], "magenta"))
        t.append(r["content"] + "\n")
    return t


def dropped_text(row: dict[str, Any], index: int, total: int, root: Path | None = None) -> Text:
    t = Text()
    t.append(f"{index + 1}/{total}  ", style="dim")
    if "chat_rounds" not in row:  # a quarantined (unreadable) row
        file = shown_path(row["file"], root)
        where = f"{file}:{row['line']}" if row.get("line") is not None else f"{file} row {row.get('index')}"
        t.append(where + "\n", style="bold")
        if row.get("field"):
            t.append(f"field '{row['field']}': ", style="yellow")
        t.append(row["reason"] + "\n", style="yellow")
        if row.get("raw"):
            t.append("\n" + row["raw"] + "\n", style="dim")
        return t
    t.append(f"{row['id']}", style="bold")
    if row.get("file"):
        t.append(f"   {shown_path(row['file'], root)}:{row.get('line')}", style="dim")
    t.append("\n" + row["detail"] + "\n\n", style="yellow")
    t.append(plain_rounds(row["chat_rounds"]))
    return t
