"""Result cache: classified results keyed by (executor version, program, tests, toolchain, limits,
sandbox), so an identical program is executed once, across runs. SQLite, safe for several
processes. It lives outside every folder a sandbox maps (engine.execute.toolchains), and keeps
no verdict that says more about the machine than about the program (`UNCACHED`)."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from engine.execute.samples import json_text

# A timeout depends on the machine's load, an infra_error on its setup: run them again next time.
UNCACHED = ("infra_error", "timeout")


class ResultCache:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._conn() as c:
            c.execute("CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, value TEXT NOT NULL, created REAL)")

    def _conn(self) -> sqlite3.Connection:
        c = getattr(self._local, "conn", None)
        if c is None:
            c = sqlite3.connect(str(self.path), timeout=30, isolation_level=None)
            c.execute("PRAGMA journal_mode=WAL")
            c.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = c
        return c

    def get_many(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        c = self._conn()
        for i in range(0, len(keys), 500):
            part = keys[i : i + 500]
            q = "SELECT key, value FROM results WHERE key IN ({})".format(",".join("?" * len(part)))
            for k, v in c.execute(q, part):
                try:
                    value = json.loads(v)
                except json.JSONDecodeError:
                    continue
                if isinstance(value, dict) and value.get("verdict") not in UNCACHED:
                    out[k] = value
        return out

    def put(self, key: str, value: dict[str, Any]) -> None:
        if value.get("verdict") in UNCACHED:
            return
        try:
            self._conn().execute(
                "INSERT OR REPLACE INTO results VALUES (?, ?, ?)", (key, json_text(value), time.time())
            )
        except sqlite3.Error:
            pass  # a cache write failing must not fail the evaluation

    def clear(self) -> int:
        cur = self._conn().execute("DELETE FROM results")
        return cur.rowcount
