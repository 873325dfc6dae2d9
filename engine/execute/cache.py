"""Result cache: classified results keyed by (program, tests, limits, toolchain), so an identical
program is executed once, across runs. SQLite, safe for several processes."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any


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
            part = keys[i:i + 500]
            q = "SELECT key, value FROM results WHERE key IN (%s)" % ",".join("?" * len(part))
            for k, v in c.execute(q, part):
                try:
                    out[k] = json.loads(v)
                except json.JSONDecodeError:
                    continue
        return out

    def put(self, key: str, value: dict[str, Any]) -> None:
        try:
            self._conn().execute("INSERT OR REPLACE INTO results VALUES (?, ?, ?)",
                                 (key, json.dumps(value, ensure_ascii=False), time.time()))
        except sqlite3.Error:
            pass  # a cache write failing must not fail the evaluation

    def clear(self) -> int:
        cur = self._conn().execute("DELETE FROM results")
        return cur.rowcount
