"""The sandbox around untrusted programs, from the workbench's side.

Layers, each used when this machine allows it (`detect()` says which; `workbench eval doctor`
prints it):

* bubblewrap: a read-only view of the file system with /root, /home and /tmp hidden (only the
  toolchain folders under them are mapped back, read-only), a writable scratch folder, a new
  network namespace (no network), new PID/IPC/UTS namespaces (programs cannot see or signal the
  workbench), a new session. Without bubblewrap, as root: `unshare --net --pid --fork`.
* a throw-away uid per supervisor when the workbench runs as root (programs cannot write the
  user's files; RLIMIT_NPROC applies; every process of that uid is killed after each program);
* rlimits on CPU time, address space, file size, open files and processes; a process group
  per program, stdin from /dev/null, captured and capped output, a clean environment;
* wall-clock budgets per test case and per sample (engine/execute/supervisor.py).

`Supervisor` starts one supervisor process inside that sandbox and runs jobs through it.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import selectors
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SUPERVISOR = Path(__file__).with_name("supervisor.py")
HIDDEN_ROOTS = ("/root", "/home", "/tmp", "/var/tmp", "/run/user", "/mnt", "/media", "/dev/shm")
BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class SandboxError(RuntimeError):
    """The supervisor could not be started or stopped answering (an infrastructure problem)."""


@dataclass(frozen=True)
class SandboxInfo:
    mode: str                   # bwrap | unshare | none
    uid_switch: bool            # programs run as a throw-away uid
    network_isolated: bool
    pid_isolated: bool
    fs_readonly: bool           # everything but the program's folder is read-only
    notes: tuple[str, ...] = ()

    def describe(self) -> str:
        parts = [self.mode]
        parts.append("network: none" if self.network_isolated else "network: NOT isolated")
        parts.append("pid namespace" if self.pid_isolated else "no pid namespace")
        parts.append("read-only file system" if self.fs_readonly else "file system writable where the uid may write")
        parts.append("throw-away uid" if self.uid_switch else "runs as the current user")
        return ", ".join(parts)


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _try(argv: list[str]) -> bool:
    try:
        return subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@functools.lru_cache(maxsize=None)
def detect(prefer: str = "auto") -> SandboxInfo:
    """What isolation this machine offers. `prefer`: auto | bwrap | unshare | none."""
    notes: list[str] = []
    root = _is_root()
    bwrap = shutil.which("bwrap")
    if prefer in ("auto", "bwrap") and bwrap:
        probe = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-net",
                 "--unshare-pid", "--unshare-ipc", "--die-with-parent", "--new-session", "true"]
        if _try(probe):
            return SandboxInfo("bwrap", root, True, True, True, tuple(notes))
        notes.append("bwrap is installed but cannot create namespaces here (needs root or user namespaces)")
    elif prefer in ("auto", "bwrap"):
        notes.append("bubblewrap (bwrap) is not installed: `apt-get install bubblewrap` for a read-only file "
                     "system and no network")
    unshare = shutil.which("unshare")
    if prefer in ("auto", "bwrap", "unshare") and unshare and root:
        if _try([unshare, "--net", "--pid", "--fork", "--kill-child", "--mount-proc", "true"]):
            notes.append("without bubblewrap the file system is protected only by the throw-away uid "
                         "(world-writable folders such as /tmp stay writable)")
            return SandboxInfo("unshare", True, True, True, False, tuple(notes))
    if not root:
        notes.append("not root: programs run as the current user, so they can write wherever you can "
                     "and RLIMIT_NPROC counts all your processes")
    notes.append("no network namespace: programs can reach the network")
    return SandboxInfo("none", root, False, False, False, tuple(notes))


def _needed_paths(extra: tuple[str, ...]) -> list[str]:
    """Folders programs and compilers must see even when they live under a hidden root."""
    prefixes = {sys.prefix, sys.base_prefix, os.path.dirname(os.path.dirname(os.path.realpath(sys.executable))),
                str(SUPERVISOR.parent.parent.parent)}
    paths = set(prefixes)
    for p in sys.path:  # site-packages and the like, not the folder of whatever script runs us
        if p and os.path.isdir(p) and any(p.startswith(x + "/") for x in prefixes):
            paths.add(p)
    paths.update(extra)
    out = []
    for p in sorted(paths):
        real = os.path.realpath(p)
        for q in {p, real}:
            if q and os.path.exists(q) and any(q.startswith(h + "/") for h in HIDDEN_ROOTS):
                out.append(q)
    # drop paths nested in others (one bind covers them)
    out = sorted(set(out))
    keep: list[str] = []
    for p in out:
        if not any(p.startswith(k + "/") for k in keep):
            keep.append(p)
    return keep


def _chain_traversable(path: str) -> list[str]:
    """Ancestors of `path` that others may not traverse (what blocks a throw-away uid)."""
    blocked = []
    cur = os.path.dirname(os.path.abspath(path))
    while cur and cur != "/":
        try:
            if not os.stat(cur).st_mode & 0o001:
                blocked.append(cur)
        except OSError:
            pass
        cur = os.path.dirname(cur)
    return blocked


def command_prefix(info: SandboxInfo, *, scratch: str, rw: tuple[str, ...] = (), ro: tuple[str, ...] = ()) -> list[str]:
    """argv prefix that starts a command inside the sandbox."""
    if info.mode == "bwrap":
        argv = [shutil.which("bwrap") or "bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
        needed = _needed_paths(ro + rw + (scratch,))
        for h in HIDDEN_ROOTS:
            if os.path.isdir(h) and not os.path.islink(h):
                argv += ["--tmpfs", h]
        made: set[str] = set()

        def parents(p: str) -> list[str]:
            # folders between a hidden root (a fresh tmpfs) and a bind target: bwrap would make
            # them 0700, which a throw-away uid cannot cross
            out = []
            for h in HIDDEN_ROOTS:
                if p.startswith(h + "/"):
                    cur = os.path.dirname(p)
                    while cur != h and cur not in made:
                        out.append(cur)
                        cur = os.path.dirname(cur)
            made.update(out)
            return [x for d in reversed(out) for x in ("--perms", "0755", "--dir", d)]

        for p in needed:
            if p in rw or p == scratch or any(p.startswith(x + "/") for x in (scratch,) + rw):
                continue
            argv += parents(p) + ["--ro-bind", p, p]
        for p in (scratch,) + rw:
            argv += parents(p) + ["--bind", p, p]
        argv += ["--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--hostname", "sandbox",
                 "--die-with-parent", "--new-session", "--chdir", scratch]
        if _is_root():
            argv += ["--cap-drop", "ALL"]
            for cap in ("CAP_SETUID", "CAP_SETGID", "CAP_KILL", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER"):
                argv += ["--cap-add", cap]
        return argv + ["--"]
    if info.mode == "unshare":
        return [shutil.which("unshare") or "unshare", "--net", "--pid", "--fork", "--kill-child", "--mount-proc", "--"]
    return []


def clean_env(extra: dict[str, str] | None = None, *, home: str = "/nonexistent") -> dict[str, str]:
    """The environment programs get: nothing from the parent but a PATH, a locale and thread caps."""
    env = {"PATH": BASE_PATH, "HOME": home, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
           "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1",
           "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    if extra:
        env.update(extra)
    return env


def new_uid() -> int:
    """A throw-away uid for one supervisor: unique, so `kill(-1)` as that uid touches nothing else."""
    return 0x100000 + secrets.randbelow(0x3FF00000)


@dataclass
class Supervisor:
    """One supervisor process inside the sandbox; `run(job)` returns its result dict."""

    scratch: str
    info: SandboxInfo
    python_preimport: list[str] | None = None
    python_env: dict[str, str] | None = None
    server: dict[str, Any] | None = None
    rw: tuple[str, ...] = ()
    ro: tuple[str, ...] = ()
    as_root: bool = False            # compile steps keep the workbench's uid (toolchains under /root)
    proc: subprocess.Popen | None = field(default=None, repr=False)
    uid: int | None = None
    _sel: selectors.BaseSelector | None = field(default=None, repr=False)
    _buf: bytes = b""

    def start(self) -> "Supervisor":
        os.chmod(self.scratch, 0o755)
        self.uid = new_uid() if (self.info.uid_switch and not self.as_root) else None
        if self.uid is not None and self.info.mode != "bwrap":
            # no remapped file system: the uid must be able to reach the interpreter on its own
            if any(_chain_traversable(p) for p in (sys.executable, os.path.realpath(sys.executable))):
                self.uid = None
        cfg = {"uid": self.uid, "scratch": self.scratch, "server": self.server,
               "python": {"preimport": self.python_preimport, "env": self.python_env or {}}
               if self.python_preimport is not None else None}
        argv = command_prefix(self.info, scratch=self.scratch, rw=self.rw, ro=self.ro) + \
            [sys.executable, "-I", str(SUPERVISOR)]
        env = clean_env(self.python_env)
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         env=env, cwd=self.scratch, start_new_session=True)
        except OSError as e:
            raise SandboxError(f"cannot start the sandbox supervisor: {e}") from None
        assert self.proc.stdin and self.proc.stdout
        os.set_blocking(self.proc.stdout.fileno(), False)
        self._sel = selectors.DefaultSelector()
        self._sel.register(self.proc.stdout, selectors.EVENT_READ)
        self._send(cfg)
        ready = self._recv(60.0)
        if not ready.get("ready"):
            raise SandboxError(f"sandbox supervisor did not start: {ready}")
        return self

    def _send(self, obj: dict) -> None:
        assert self.proc and self.proc.stdin
        try:
            self.proc.stdin.write((json.dumps(obj) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as e:
            raise SandboxError(f"sandbox supervisor is gone ({e}){self._stderr()}") from None

    def _stderr(self) -> str:
        if self.proc and self.proc.poll() is not None and self.proc.stderr:
            try:
                return ": " + self.proc.stderr.read().decode(errors="replace")[-500:]
            except OSError:
                return ""
        return ""

    def _recv(self, timeout: float) -> dict:
        assert self.proc and self.proc.stdout and self._sel
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise SandboxError("sandbox supervisor stopped answering")
            if not self._sel.select(min(left, 1.0)):
                if self.proc.poll() is not None:
                    raise SandboxError(f"sandbox supervisor exited ({self.proc.returncode}){self._stderr()}")
                continue
            data = self.proc.stdout.read()
            if not data:
                if self.proc.poll() is not None or data == b"":
                    self.proc.wait(timeout=5)
                    raise SandboxError(f"sandbox supervisor exited ({self.proc.returncode}){self._stderr()}")
                continue
            self._buf += data
        line, _, self._buf = self._buf.partition(b"\n")
        return json.loads(line)

    def run(self, job: dict) -> dict:
        if self.proc is None:
            self.start()
        self._send(job)
        lim = job.get("limits", {})
        res = self._recv(float(lim.get("total", 60)) + 60.0)
        if "error" in res:
            raise SandboxError("sandbox supervisor failed on a job:\n" + res["error"])
        return res

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, 9)
            except (ProcessLookupError, PermissionError):
                self.proc.kill()
            self.proc.wait(timeout=10)

    def close(self) -> None:
        if self.proc is None:
            return
        try:
            if self.proc.stdin:
                self.proc.stdin.close()
            self.proc.wait(timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            self.kill()
        finally:
            for f in (self.proc.stdout, self.proc.stderr):
                if f:
                    f.close()
            if self._sel:
                self._sel.close()
            self.proc = None

    def __enter__(self) -> "Supervisor":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()
