"""Python: a fork-server. The supervisor imports the reference prelude (numpy included) once and
forks a child per program, so a program costs a fork instead of an interpreter start. The
program reaches the child as a file staged into its own folder (`main.py`), never through the
supervisor: the warm process every program is forked from never holds any sample's code."""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path
from typing import Any

from engine.execute.core import P_RUN, Context, Unit, chunks, run_env, run_jobs
from engine.problems.assemble import PYTHON_PRELUDE

# Imported once in the supervisor: the reference prelude plus what solutions commonly use.
PREIMPORT = [
    "math",
    "re",
    "sys",
    "copy",
    "datetime",
    "itertools",
    "collections",
    "heapq",
    "statistics",
    "functools",
    "hashlib",
    "numpy",
    "string",
    "typing",
    "bisect",
    "random",
    "fractions",
    "decimal",
    "operator",
    "json",
    "time",
    "array",
    "queue",
    "string",
    "unicodedata",
    "cmath",
    "traceback",
    "dataclasses",
    "enum",
    "abc",
    "textwrap",
    "struct",
    "base64",
    "ast",
]


def _numpy_ok() -> bool:
    import importlib.util

    return importlib.util.find_spec("numpy") is not None


def source(u: Unit, drop_numpy: bool) -> str:
    code = u.program.code
    if drop_numpy and code.startswith(PYTHON_PRELUDE[0]):
        # the prelude's numpy lines are the harness's, not the model's: without numpy, drop them
        code = "\n".join(ln for ln in code.split("\n") if ln not in ("import numpy", "import numpy as np"))
    return code + "\n" + u.plan.test


def fork_server(units: list[Unit]) -> dict[str, Any]:
    """The supervisor settings of a fork-server for these programs (numpy pre-imported only
    when one of them may use it)."""
    need_numpy = any("numpy" in u.program.code or "np." in u.program.code for u in units)
    return {
        "python_preimport": [m for m in PREIMPORT if need_numpy or m != "numpy"],
        "python_env": {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"},
    }


def start(ctx: Context, units: list[Unit]) -> None:
    drop_numpy = not _numpy_ok()

    def run(part: list[Unit]) -> None:
        d = ctx.new_dir("py-")
        files = {}
        for i, u in enumerate(part):
            files[u.key] = os.path.join(d, f"{i}.py")
            Path(files[u.key]).write_text(source(u, drop_numpy), encoding="utf-8", errors="surrogatepass")

        def job(u: Unit) -> dict[str, Any]:
            return {
                "id": u.key,
                "mode": "python",
                "filename": "main.py",
                "stage": {"main.py": files[u.key]},
                "cases": u.plan.n,
                "limits": ctx.limits.run(relative=True),
                "env": run_env(),
            }

        run_jobs(ctx, part, job, kw)

    kw = fork_server(units)
    # a supervisor start costs an interpreter plus the prelude (numpy): few, large chunks
    for part in chunks(units, ctx.workers, min_size=24, per_worker=1):
        ctx.submit(P_RUN, partial(run, part))
