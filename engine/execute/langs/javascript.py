"""JavaScript: one `node` process per program (a `vm` context is no boundary: host functions
stay reachable from it), so a program shares nothing with another but the read-only toolchain.

`console.assert` never fails a Node process, so the reference harness passes 153 of 164 buggy
HumanEval-X solutions when it judges by exit code; here a failed `console.assert` fails its
test case (and, outside any case, the program). "done" is reported after the test code has run
to its end, so a program that exits (`process.exit(0)`) before that is not passed.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from engine.execute.core import P_RUN, Context, Unit, chunks, run_env, run_jobs

# Inserted between the model's code (which stays first, as the reference runs it) and the tests.
HELPER = r"""
const __wb = (() => {
  const fs = require('fs');
  const emit = (s) => { try { fs.writeSync(3, s + '\n'); } catch (e) {} };
  const errWrite = (s) => { try { fs.writeSync(2, s); } catch (e) {} };
  const start = parseInt(process.env.WB_START || '0', 10);
  let last = -1, ended = true; const rep = Object.create(null);
  const one = (s) => String(s).replace(/\s+/g, ' ').slice(0, 300);
  const begin = (i) => { if (i !== last || ended) { emit('B ' + i); last = i; ended = false; } };
  const end = (i, st, d) => {
    const p = rep[i];
    if (p === undefined || (p === 'pass' && st !== 'pass')) { rep[i] = st; ended = true; emit('E ' + i + ' ' + st + (d ? ' ' + one(d) : '')); }
  };
  const isAssert = (e) => e && (e.code === 'ERR_ASSERTION' || e.name === 'AssertionError');
  const kind = (e) => isAssert(e) ? 'fail' : (e instanceof RangeError && /memory|allocation/i.test(String(e && e.message))) ? 'oom' : 'error';
  const w = {
    ca(i, thunk, ...msg) {
      if (i < start) return;
      begin(i);
      let v;
      try { v = thunk(); } catch (e) { end(i, kind(e), (e && e.stack) ? String(e).split('\n')[0] : e); return; }
      if (v) { end(i, 'pass'); return; }
      const m = msg.length ? msg.map(String).join(' ') : '';
      errWrite('Assertion failed' + (m ? ': ' + m : '') + '\n');
      end(i, 'fail', 'console.assert failed' + (m ? ': ' + m : ''));
    },
    st(i, fn) {
      if (i < start) return;
      begin(i);
      try { fn(); end(i, 'pass'); } catch (e) { end(i, kind(e), String(e).split('\n')[0]); }
    },
    done() { emit('D 0'); },
  };
  const ca = console.assert.bind(console);
  console.assert = (c, ...m) => { if (!c) emit('F ' + one('console.assert failed' + (m.length ? ': ' + m.join(' ') : ''))); ca(c, ...m); };
  return w;
})();
"""


# Loaded before the program (`node -r`): stdout and stderr made blocking, so what a program prints
# reaches the supervisor as it prints it (Node queues writes to a pipe in memory while a loop
# never yields, which turns a flood of output into a hang instead of an output-limit verdict).
PRELOAD = """for (const s of [process.stdout, process.stderr]) {
  const h = s && s._handle;
  if (h && typeof h.setBlocking === 'function') h.setBlocking(true);
}
"""


def program(u: Unit) -> str:
    """The script a program runs: its code, the harness, the tests, then "done"."""
    return u.program.code + "\n" + HELPER + "\n" + u.plan.test + "\n;__wb.done();\n"


def node_command(ctx: Context, script: str = "main.js") -> tuple[list[str], dict[str, str], tuple[str, ...]]:
    """How a program runs under node: argv (heap limit, stack, the blocking-output preload
    `wb_preload.js` beside the script), its environment, and the folders its supervisor maps."""
    node = ctx.tool.commands["node"]
    node_path = ctx.tool.extra.get("node_path", "")
    env = run_env({"NODE_PATH": node_path} if node_path else None)
    argv = [node, f"--max-old-space-size={ctx.limits.memory_mb}", "--stack-size=4000", "-r", "./wb_preload.js", script]
    return argv, env, ((node_path,) if node_path else ())


def start(ctx: Context, units: list[Unit]) -> None:
    argv, env, ro = node_command(ctx)

    def job(u: Unit) -> dict[str, Any]:
        return {
            "id": u.key,
            "mode": "exec",
            "argv": argv,
            "files": {"main.js": program(u), "wb_preload.js": PRELOAD},
            "cases": u.plan.n,
            "limits": ctx.limits.run(memory_extra_mb=2048),
            "env": env,
        }

    for part in chunks(units, ctx.workers, min_size=8):
        ctx.submit(P_RUN, partial(run_jobs, ctx, part, job, {"ro": ro}))
