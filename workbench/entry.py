"""The `workbench` console entry point. Opening the app (no subcommand) takes a fast path that
does not build the CLI (typer/click cost ~0.1 s before the first frame); anything else goes to
the full CLI in workbench/cli.py."""

from __future__ import annotations

import sys


def _app_only_argv(argv: list[str]) -> tuple[bool, str | None]:
    """(True, workspace or None) when argv only opens the app; (False, None) otherwise."""
    ws: str | None = None
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("--workspace", "-w") and i + 1 < len(argv):
            ws, i = argv[i + 1], i + 2
        elif a.startswith("--workspace="):
            ws, i = a.split("=", 1)[1], i + 1
        else:
            return False, None
    return True, ws


def main() -> None:
    app_only, ws = _app_only_argv(sys.argv[1:])
    if not app_only:
        from workbench.cli import main as cli_main

        cli_main()
        return
    from engine.errors import USER_ERRORS
    from engine.workspace import open_workspace

    try:
        workspace = open_workspace(ws or None)
    except USER_ERRORS as e:  # the same one-line report as the CLI's `guarded`
        print("error: " + str(e).strip("'\""), file=sys.stderr)
        raise SystemExit(1) from None
    from workbench.app import WorkbenchApp

    WorkbenchApp(workspace).run()


if __name__ == "__main__":
    main()
