"""A theme that reads well in 256 colours: every colour is an exact xterm-256 palette entry, so
terminals without truecolor (common over SSH, where COLORTERM is not forwarded) lose nothing."""

from textual.theme import Theme

WORKBENCH_THEME = Theme(
    name="workbench-256",
    primary="#0087af",  # xterm 31
    secondary="#5f87af",  # xterm 67
    accent="#d7875f",  # xterm 173
    foreground="#d0d0d0",  # xterm 252
    background="#1c1c1c",  # xterm 234
    surface="#262626",  # xterm 235
    panel="#303030",  # xterm 236
    success="#87af5f",  # xterm 107
    warning="#d7af00",  # xterm 178
    error="#d75f5f",  # xterm 167
    dark=True,
    variables={
        "text-muted": "#8a8a8a",  # xterm 245
        "footer-key-foreground": "#d7875f",
        "block-cursor-background": "#005f87",  # xterm 24
        "block-cursor-foreground": "#eeeeee",
        "input-selection-background": "#005f87 60%",
    },
)
