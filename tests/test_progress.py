"""The `--progress-jsonl` protocol (engine/progress.py): what the CLI writes, the app reads back."""

from __future__ import annotations

import io
import json
import sys

from engine.progress import (
    DoneEvent,
    ErrorEvent,
    JsonlWriter,
    ProgressEvent,
    Unreadable,
    WarningEvent,
    parse,
    serialize,
)
from screens.cli_jobs import run_progress_command


def _written(write) -> list[str]:
    out = io.StringIO()
    w = JsonlWriter({"generate": "generating"}, out=out, clock=lambda: 0.0)
    write(w)
    return out.getvalue().splitlines()


def test_every_event_survives_writer_to_reader() -> None:
    lines = _written(
        lambda w: (
            w("generate", 3, 10, {"tokens_per_s": 12.5, "id": "v1", "skip": [1]}),
            w.warning("a note"),
            w.error("model.bin: truncated"),
            w.done({"id": "v1", "pass_at_1": 0.25, "contest": {"label": "subset"}}),
        )
    )
    got = [parse(line) for line in lines]
    assert got == [
        ProgressEvent("generate", 3, 10, "generating", {"tokens_per_s": 12.5, "id": "v1"}),
        WarningEvent("a note"),
        ErrorEvent("model.bin: truncated"),
        DoneEvent({"id": "v1", "pass_at_1": 0.25, "contest": {"label": "subset"}}),
    ]
    # the label is the emitter's: the reader needs no table of its own
    assert got[0].text() == "generating 3/10  12 tok/s"
    for ev in got:  # and serialising what was read gives the same line
        assert parse(serialize(ev)) == ev


def test_the_writer_throttles_within_a_phase_but_never_drops_its_end() -> None:
    now = [0.0]
    out = io.StringIO()
    w = JsonlWriter(out=out, clock=lambda: now[0])
    for i in range(100):
        w("execute", i, 100)
    w("execute", 100, 100)
    w("score", 0, 1)
    phases = [(e.phase, e.done) for e in map(parse, out.getvalue().splitlines())]
    assert phases == [("execute", 0), ("execute", 100), ("score", 0)]


def test_unknown_and_garbled_lines_are_reported_not_raised() -> None:
    cases = {
        "Loading checkpoint shards: 50%": "not JSON",
        '{"event": "progress", "phase": "generate", "do': "not JSON",
        "[1, 2]": "not a JSON object",
        '{"event": "heartbeat"}': "unknown event 'heartbeat'",
        '{"phase": "x"}': 'no "event" key',
        '{"event": "progress", "phase": "generate", "done": "3", "total": 10}': "done and total (integers)",
        '{"event": "error"}': "needs a message",
    }
    for line, why in cases.items():
        got = parse(line)
        assert isinstance(got, Unreadable) and why in got.reason and got.line == line, (line, got)


def test_the_reader_streams_events_and_keeps_unreadable_lines() -> None:
    """A real child process: a stray print among the events is reported in the result, the
    progress events reach the callback in order, and the done event is the result."""
    code = (
        "from engine.progress import JsonlWriter; w = JsonlWriter({'write': 'writing'}); "
        "w('write', 0, 2); print('stray output', flush=True); w('write', 2, 2); w.done({'ok': True})"
    )
    seen: list = []
    res = run_progress_command([sys.executable, "-c", code], on_event=seen.append)
    assert res.rc == 0 and res.done == {"ok": True}
    assert [(e.phase, e.done, e.label) for e in seen if isinstance(e, ProgressEvent)] == [
        ("write", 0, "writing"),
        ("write", 2, "writing"),
    ]
    assert [u.line for u in res.unreadable] == ["stray output"]
    assert any(isinstance(e, Unreadable) for e in seen)


def test_a_failing_command_says_why() -> None:
    code = "import sys; from engine.progress import JsonlWriter; JsonlWriter().error('data.jsonl:3: bad'); sys.exit(1)"
    res = run_progress_command([sys.executable, "-c", code])
    assert res.rc == 1 and not res.done and res.failure("x") == "data.jsonl:3: bad"
    res = run_progress_command([sys.executable, "-c", "import sys; sys.stderr.write('boom\\n'); sys.exit(3)"])
    assert res.failure("x") == "boom"


def test_a_json_command_result() -> None:
    res = run_progress_command(
        [sys.executable, "-c", f"print({json.dumps(json.dumps({'run': 'r1'}))})"], json_result=True
    )
    assert res.done == {"run": "r1"}
