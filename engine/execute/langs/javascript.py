"""JavaScript: one warm Node process runs program after program, each in a fresh `vm` context
(its own globals and builtins); programs that need more of Node (process, timers, promises,
other modules, anything reaching for constructors) run one per `node` process instead.

`console.assert` never fails a Node process, so the reference harness passes 153 of 164 buggy
HumanEval-X solutions when it judges by exit code; here a failed `console.assert` fails its
test case (and, outside any case, the program).
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from pathlib import Path

from engine.execute.core import P_RUN, Context, Unit, chunks, run_env, run_jobs

# Shared by both modes: the case reporter. `emit` writes a marker line to fd 3.
_WB_FACTORY = r"""
function __wbMake(emit, start, errWrite) {
  let last = -1, ended = true; const rep = Object.create(null);
  const one = (s) => String(s).replace(/\s+/g, ' ').slice(0, 300);
  const begin = (i) => { if (i !== last || ended) { emit('B ' + i); last = i; ended = false; } };
  const end = (i, st, d) => {
    const p = rep[i];
    if (p === undefined || (p === 'pass' && st !== 'pass')) { rep[i] = st; ended = true; emit('E ' + i + ' ' + st + (d ? ' ' + one(d) : '')); }
  };
  const isAssert = (e) => e && (e.code === 'ERR_ASSERTION' || e.name === 'AssertionError');
  const kind = (e) => isAssert(e) ? 'fail' : (e instanceof RangeError && /memory|allocation/i.test(String(e && e.message))) ? 'oom' : 'error';
  return {
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
    fail(m) { emit('F ' + one(m)); },
    done(rc) { emit('D ' + rc); },
  };
}
"""

# vm mode: a persistent server reading {"code", "start"} lines.
VM_SERVER = _WB_FACTORY + r"""
const vm = require('vm'), fs = require('fs'), util = require('util'), readline = require('readline');
const emit = (s) => { try { fs.writeSync(3, s + '\n'); } catch (e) {} };
const out = (s) => { try { fs.writeSync(1, s); } catch (e) {} };
const err = (s) => { try { fs.writeSync(2, s); } catch (e) {} };
const allowed = { 'assert': 'assert', 'node:assert': 'assert', 'util': 'util', 'node:util': 'util', 'js-md5': 'js-md5' };
const rl = readline.createInterface({ input: process.stdin, terminal: false });
rl.on('line', (line) => {
  let req; try { req = JSON.parse(line); } catch (e) { return; }
  const wb = __wbMake(emit, req.start | 0, err);
  const fmt = (...a) => util.format(...a) + '\n';
  const con = {
    log: (...a) => out(fmt(...a)), info: (...a) => out(fmt(...a)), debug: (...a) => out(fmt(...a)),
    error: (...a) => err(fmt(...a)), warn: (...a) => err(fmt(...a)), trace: (...a) => err(fmt(...a)),
    table: (...a) => out(fmt(...a)), dir: (...a) => out(fmt(...a)),
    assert: (c, ...m) => { if (!c) { const t = m.length ? util.format(...m) : ''; err('Assertion failed' + (t ? ': ' + t : '') + '\n'); wb.fail('console.assert failed' + (t ? ': ' + t : '')); } },
  };
  const mod = { exports: {} };
  const req_ = (name) => {
    const key = allowed[name];
    if (!key) { const e = new Error("Cannot find module '" + name + "'"); e.code = 'MODULE_NOT_FOUND'; throw e; }
    return require(key);
  };
  const ctx = vm.createContext({ console: con, __wb: wb });
  let rc = 0, fn;
  try {
    fn = vm.runInContext('(function (exports, require, module, __filename, __dirname) {' + req.code + '\n})', ctx, { filename: 'main.js' });
  } catch (e) {
    err((e && e.stack) ? e.stack + '\n' : String(e) + '\n');
    emit('C ' + String(e).replace(/\s+/g, ' ').slice(0, 300));
    wb.done(1);
    return;
  }
  try {
    fn.call(mod.exports, mod.exports, req_, mod, '/main.js', '/');
  } catch (e) {
    err((e && e.stack) ? e.stack + '\n' : String(e) + '\n');
    rc = 1;
  }
  wb.done(rc);
});
"""

# process mode: prepended to nothing (the model's code stays first), inserted before the tests.
PROC_HELPER = _WB_FACTORY + r"""
const __wb = (() => {
  const fs = require('fs');
  const emit = (s) => { try { fs.writeSync(3, s + '\n'); } catch (e) {} };
  const w = __wbMake(emit, parseInt(process.env.WB_START || '0', 10), (s) => { try { fs.writeSync(2, s); } catch (e) {} });
  const ca = console.assert.bind(console);
  console.assert = (c, ...m) => { if (!c) w.fail('console.assert failed' + (m.length ? ': ' + m.join(' ') : '')); ca(c, ...m); };
  process.on('exit', (code) => w.done(code));
  return w;
})();
"""

# What keeps a program out of the shared vm server (it needs real Node, or it reaches for the host).
RISKY_WORDS = re.compile(
    r"\b(process|global|globalThis|setTimeout|setInterval|setImmediate|clearTimeout|clearInterval|"
    r"queueMicrotask|Promise|async|await|Worker|SharedArrayBuffer|Atomics|Buffer|__dirname|__filename|"
    r"module|exports|import|constructor|__proto__|Reflect|Proxy|WebAssembly|performance|fetch|eval|Function|"
    r"callee|species|__defineGetter__|__lookupGetter__)\b")
RISKY_REQUIRE = re.compile(r"require\s*\(\s*(?!['\"](?:node:)?(?:assert|util)['\"]\s*\)|['\"]js-md5['\"]\s*\))")


def _script(ctx: Context, name: str, text: str) -> str:
    d = ctx.cache / "js"
    d.mkdir(parents=True, exist_ok=True)
    p = d / f"{name}-{hashlib.sha256(text.encode()).hexdigest()[:12]}.js"
    if not p.exists():
        # Not fsutil.atomic_write_text: its mkstemp file is 0600, and the sandbox's throw-away uid
        # must read this script. A per-writer temp name keeps concurrent evaluations apart.
        tmp = p.with_name(f".{p.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(text)
        tmp.replace(p)
    return str(p)


def vm_safe(u: Unit) -> bool:
    from engine.execute.instrument import mask

    return not any(RISKY_WORDS.search(mask(t, "javascript")) or RISKY_REQUIRE.search(t)
                   for t in (u.program.code, u.program.test))


def start(ctx: Context, units: list[Unit]) -> None:
    node = ctx.tool.commands["node"]
    node_path = ctx.tool.extra.get("node_path", "")
    env = run_env({"NODE_PATH": node_path} if node_path else None)
    mem = ctx.limits.memory_mb
    node_argv = [node, f"--max-old-space-size={mem}", "--stack-size=4000"]
    lim_server = ctx.limits.run(memory_extra_mb=2048, cpu=False, nproc=ctx.limits.nproc + 64)
    server_script = _script(ctx, "vm-server", VM_SERVER)
    vm_units = [u for u in units if vm_safe(u)]
    proc_units = [u for u in units if not vm_safe(u)]

    def vm_job(u: Unit) -> dict:
        return {"id": u.key, "mode": "server", "cases": u.plan.n, "limits": ctx.limits.run(memory_extra_mb=2048),
                "request": {"code": u.program.code + "\n" + u.plan.test}}

    def proc_job(u: Unit) -> dict:
        src = u.program.code + "\n" + PROC_HELPER + "\n" + u.plan.test
        return {"id": u.key, "mode": "exec", "argv": node_argv + ["main.js"], "files": {"main.js": src},
                "cases": u.plan.n, "limits": ctx.limits.run(memory_extra_mb=2048), "env": env}

    server = {"argv": node_argv + [server_script], "env": env, "limits": lim_server}
    ro = (str(Path(server_script).parent),) + ((node_path,) if node_path else ())
    for part in chunks(vm_units, ctx.workers, min_size=24, per_worker=1):
        ctx.submit(P_RUN, lambda part=part: run_jobs(ctx, part, vm_job, {"server": server, "ro": ro}))
    for part in chunks(proc_units, ctx.workers, min_size=8):
        ctx.submit(P_RUN, lambda part=part: run_jobs(ctx, part, proc_job, {"ro": ro}))

