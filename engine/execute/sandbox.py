"""The sandbox around untrusted programs, from the workbench's side.

Layers, each used when this machine allows it (`detect()` says which; `layers()` lists them for
`workbench eval doctor`):

* bubblewrap: an empty root with an allowlist mapped into it read-only -- the system folders
  (/usr and the /bin, /lib... links), the few /etc entries toolchains read, the toolchains
  wherever they live (pyenv, rustup, a JDK), the project venv, the node modules, the toolchain
  cache -- and nothing else of the machine: no home, workspace, checkout, data or result cache,
  whatever path they live under. Writable: one size-capped tmpfs at /tmp holding the program's
  folder, /tmp itself and /dev/shm (a link into it), emptied after every program. A new network
  namespace (no network), new PID/IPC/UTS namespaces, a new session. Without bubblewrap, as root:
  `unshare` (network, PID, IPC and mount namespaces; a capped tmpfs for the programs' folders).
* a throw-away uid per program when the workbench runs as root: programs cannot write the
  user's files or read the 0700 build folders, RLIMIT_NPROC applies, and after each program
  every process of that uid is killed and every SysV object it made is removed;
* rlimits on CPU time, address space, file size, open files, processes and POSIX message
  queues; a process group per program, stdin from /dev/null, captured and capped output, a
  clean environment; wall-clock budgets (engine/execute/supervisor.py); for compile steps, a
  memory limit on the resident memory of all the compiler's processes.

`Supervisor` starts one supervisor process inside that sandbox and runs jobs through it.
"""

from __future__ import annotations

import functools
import glob
import hashlib
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
from typing import Any, Self

SUPERVISOR = Path(__file__).with_name("supervisor.py")
BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# What of the machine every bubblewrap sandbox sees (read-only), besides the toolchains.
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# /etc entries the toolchains read: the dynamic linker's cache, Debian's alternatives links
# (/usr/bin/java points through them), the JDK's configuration (its conf/ and lib/security
# link into /etc/java-NN-openjdk), the time zone. Nothing with users, hosts or credentials.
ETC_ENTRIES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "localtime", "timezone", "java-*")
# Stand-ins for the /etc files a program may look up (its user, localhost): no real accounts.
ETC_STANDINS = {
    "passwd": "root:x:0:0:root:/nonexistent:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:"
    "/usr/sbin/nologin\n",
    "group": "root:x:0:\nnogroup:x:65534:\n",
    "hosts": "127.0.0.1 localhost sandbox\n::1 localhost ip6-localhost\n",
    "nsswitch.conf": "passwd: files\ngroup: files\nhosts: files\n",
}
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
# Inside bubblewrap: the capped tmpfs, the supervisor's folder for program folders, /dev/shm.
SANDBOX_TMP = "/tmp"
SANDBOX_JOBS = "/tmp/.wb-jobs"
SANDBOX_SHM = "/tmp/.wb-shm"
UID_BLOCK = 0x10000  # a supervisor's throw-away uids: base + 1 .. base + 0xffff, one per program


class SandboxError(RuntimeError):
    """The supervisor could not be started or stopped answering (an infrastructure problem)."""


@dataclass(frozen=True)
class SandboxInfo:
    mode: str  # bwrap | unshare | none
    uid_switch: bool  # programs run as throw-away uids
    network_isolated: bool
    pid_isolated: bool
    fs_readonly: bool  # nothing but the program's folder (and /tmp) is writable
    fs_allowlist: bool = False  # programs see only the allowlisted folders
    ipc_private: bool = False  # a private IPC namespace per supervisor
    scratch_capped: bool = False
    notes: tuple[str, ...] = ()

    def describe(self) -> str:
        parts = [self.mode]
        parts.append("network: none" if self.network_isolated else "network: NOT isolated")
        parts.append("pid namespace" if self.pid_isolated else "no pid namespace")
        parts.append(
            "file system: allowlist, read-only"
            if self.fs_allowlist
            else "read-only file system"
            if self.fs_readonly
            else "file system writable where the uid may write"
        )
        parts.append("ipc namespace" if self.ipc_private else "no ipc namespace")
        parts.append("throw-away uid per program" if self.uid_switch else "runs as the current user")
        parts.append("scratch capped" if self.scratch_capped else "scratch NOT capped")
        return ", ".join(parts)


@dataclass(frozen=True)
class Layer:
    """One protection and whether it is in force here (`workbench eval doctor` lists them)."""

    name: str
    in_force: bool
    detail: str


def layers(
    info: SandboxInfo, *, scratch_mb: int, build_memory_mb: int, build_timeout: float, build_dirs_hidden: bool
) -> list[Layer]:
    """Every layer of the sandbox, in force or not, with what it does or why it is missing."""
    bw, us = info.mode == "bwrap", info.mode == "unshare"
    why_not = "no bubblewrap" if not bw else ""
    out = [
        Layer(
            "file-system view",
            info.fs_allowlist,
            "an empty root with only the system folders, the toolchains, the toolchain cache (read-only) and "
            "the program's own folder"
            if info.fs_allowlist
            else f"{why_not}: programs see the whole machine; they can read every world-readable file (home, "
            "checkouts, data)" + (" but write only where a throw-away uid may" if info.uid_switch else ""),
        ),
        Layer(
            "network",
            info.network_isolated,
            "a new network namespace: no interface but loopback"
            if info.network_isolated
            else "no network namespace (needs bubblewrap or root): programs can reach the network",
        ),
        Layer(
            "pid",
            info.pid_isolated,
            "a new PID namespace: programs can neither see nor signal the workbench"
            if info.pid_isolated
            else "no PID namespace: programs can see and signal your processes",
        ),
        Layer(
            "ipc",
            info.ipc_private or info.uid_switch,
            ("a private IPC namespace per supervisor; " if info.ipc_private else "no IPC namespace; ")
            + (
                "every SysV object (shm, sem, msg) a program made is removed before the next program runs; "
                "POSIX message queues disabled (RLIMIT_MSGQUEUE 0)"
                if info.uid_switch or info.ipc_private
                else "SysV objects cannot be told apart from yours (no throw-away uid): they are not removed"
            ),
        ),
        Layer(
            "uid",
            info.uid_switch,
            "a throw-away uid per program: it cannot write your files, RLIMIT_NPROC applies, every process "
            "it leaves is killed"
            if info.uid_switch
            else "not root: programs run as you, can write wherever you can and RLIMIT_NPROC counts all your processes",
        ),
        Layer(
            "rlimits",
            True,
            "CPU time, address space (per language), file size, open files, core dumps off, "
            "message queues" + (", processes" if info.uid_switch else ""),
        ),
        Layer(
            "scratch cap",
            info.scratch_capped,
            f"{scratch_mb} MiB tmpfs per program for its folder, /tmp and /dev/shm, emptied after it"
            if bw and info.scratch_capped
            else "a tmpfs per program for its folder, /tmp and /dev/shm, emptied after it, but not capped (this "
            "bubblewrap has no --size)"
            if bw
            else f"{scratch_mb} MiB tmpfs for the program's folder; /tmp and /dev/shm are the machine's (not "
            "capped, not emptied)"
            if us
            else "no mount namespace: only the file-size limit applies; /tmp and /dev/shm are shared",
        ),
        Layer(
            "build limits",
            True,
            f"compile steps: {build_memory_mb} MiB of resident memory over all the compiler's processes "
            f"(checked every 50 ms), {build_timeout:.0f} s + 2 s per program",
        ),
        Layer(
            "build folders",
            build_dirs_hidden and info.uid_switch,
            "0700 and owned by the workbench: a program gets its own artefacts copied into its folder and "
            "cannot read anyone else's"
            if build_dirs_hidden and info.uid_switch
            else "readable by programs (the language runners still run programs from their build folders)"
            if not build_dirs_hidden
            else "no throw-away uid: programs run as the owner of the build folders",
        ),
    ]
    return out


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _try(argv: list[str]) -> bool:
    try:
        return (
            subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                check=False,
                stderr=subprocess.DEVNULL,
                timeout=20,
            ).returncode
            == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        return False


@functools.cache
def detect(prefer: str = "auto") -> SandboxInfo:
    """What isolation this machine offers. `prefer`: auto | bwrap | unshare | none."""
    notes: list[str] = []
    root = _is_root()
    bwrap = shutil.which("bwrap")
    if prefer in ("auto", "bwrap") and bwrap:

        def probe(size: list[str]) -> bool:
            return _try(
                [
                    bwrap,
                    *_system_view(),
                    "--perms",
                    "1777",
                    *size,
                    "--tmpfs",
                    SANDBOX_TMP,
                    *_dev_view(),
                    "--proc",
                    "/proc",
                    "--unshare-net",
                    "--unshare-pid",
                    "--unshare-ipc",
                    "--die-with-parent",
                    "--new-session",
                    "--remount-ro",
                    "/",
                    "true",
                ]
            )

        if probe(["--size", str(1 << 20)]):
            return SandboxInfo("bwrap", root, True, True, True, True, True, True, tuple(notes))
        if probe([]):
            notes.append("this bubblewrap has no --size (it needs 0.6 or later): the programs' scratch is not capped")
            return SandboxInfo("bwrap", root, True, True, True, True, True, False, tuple(notes))
        notes.append(
            "bwrap is installed but cannot build the sandbox here (needs root or user namespaces, bubblewrap >= 0.5)"
        )
    elif prefer in ("auto", "bwrap"):
        notes.append(
            "bubblewrap (bwrap) is not installed: `apt-get install bubblewrap` for a file system "
            "that shows programs nothing of yours"
        )
    unshare = shutil.which("unshare")
    # without a remapped file system a throw-away uid must reach the interpreter on its own
    blocked = sorted({d for p in (sys.executable, os.path.realpath(sys.executable)) for d in _chain_traversable(p)})
    uid_ok = root and not blocked
    if root and blocked:
        notes.append(
            f"programs run as root: a throw-away uid cannot pass {', '.join(blocked)} to reach the "
            "interpreter (make it o+x, or install bubblewrap)"
        )
    if prefer in ("auto", "bwrap", "unshare") and unshare and root and _try([unshare, *UNSHARE_FLAGS, "true"]):
        notes.append(
            "without bubblewrap programs see the machine's file system: a throw-away uid stops "
            "writes and 0700 folders, not reads of world-readable files"
        )
        return SandboxInfo("unshare", uid_ok, True, True, False, False, True, True, tuple(notes))
    if not root:
        notes.append(
            "not root: programs run as the current user, so they can write wherever you can "
            "and RLIMIT_NPROC counts all your processes"
        )
    notes.append("no network namespace: programs can reach the network")
    return SandboxInfo("none", uid_ok, False, False, False, notes=tuple(notes))


UNSHARE_FLAGS = ("--net", "--pid", "--ipc", "--mount", "--fork", "--kill-child", "--mount-proc")


# ----------------------------------------------------------------------------------------------
# the bubblewrap view


def _system_view() -> list[str]:
    """bwrap arguments mapping the system folders and the allowlisted /etc entries."""
    argv: list[str] = []
    for d in SYSTEM_DIRS:
        if os.path.islink(d):
            argv += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            argv += ["--ro-bind", d, d]
    for pattern in ETC_ENTRIES:
        for p in sorted(glob.glob(os.path.join("/etc", pattern))):
            argv += ["--ro-bind", p, p]
    return argv


def _dev_view() -> list[str]:
    """A minimal /dev (read-only) whose shm is a link into the capped /tmp."""
    argv = ["--tmpfs", "/dev"]
    for name in DEVICES:
        if os.path.exists(f"/dev/{name}"):
            argv += ["--dev-bind", f"/dev/{name}", f"/dev/{name}"]
    for name, target in (
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("shm", SANDBOX_SHM),
    ):
        argv += ["--symlink", target, f"/dev/{name}"]
    return argv + ["--remount-ro", "/dev"]


def _publish(path: Path, data: bytes) -> None:
    """Write a world-readable file atomically (the throw-away uids read it), once."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    tmp.write_bytes(data)
    os.chmod(tmp, 0o644)
    tmp.replace(path)


def _sandbox_cache() -> Path:
    from engine.execute.toolchains import toolchain_cache_dir

    return toolchain_cache_dir() / "sandbox"


@functools.cache
def supervisor_script() -> str:
    """A copy of supervisor.py in the toolchain cache, so that no sandbox needs the checkout."""
    data = SUPERVISOR.read_bytes()
    path = _sandbox_cache() / f"supervisor-{hashlib.sha256(data).hexdigest()[:16]}.py"
    _publish(path, data)
    return str(path)


@functools.cache
def _etc_standins() -> dict[str, str]:
    """/etc path -> the stand-in file mapped over it."""
    out = {}
    for name, text in ETC_STANDINS.items():
        data = text.encode()
        path = _sandbox_cache() / "etc" / f"{name}-{hashlib.sha256(data).hexdigest()[:8]}"
        _publish(path, data)
        out[f"/etc/{name}"] = str(path)
    return out


def python_dirs() -> tuple[str, ...]:
    """The interpreter that runs the supervisor (and Python programs): its installation and the
    venv (exactly the venv folder, not the checkout that may hold it)."""
    prefixes = {sys.prefix, sys.base_prefix, os.path.dirname(os.path.dirname(os.path.realpath(sys.executable)))}
    out = set(prefixes)
    for p in sys.path:  # site-packages and the like, not the folder of whatever script runs us
        if p and os.path.isdir(p) and any(p.startswith(x + "/") for x in prefixes):
            out.add(p)
    return tuple(sorted(out))


def protected_paths(extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Folders no sandbox may show even when they sit inside a mapped folder: the checkout, the
    executor's caches, the home folder, the working directory, the benchmark mirror, and the
    caller's (the problem sets' folders)."""
    from engine.execute.toolchains import PROJECT_ROOT, exec_cache_dir

    try:
        cwd = os.getcwd()
    except OSError:  # (it was removed under us)
        cwd = ""
    checkout = str(PROJECT_ROOT) if (PROJECT_ROOT / "pyproject.toml").is_file() else ""  # (not site-packages)
    cands = [
        checkout,
        str(exec_cache_dir()),
        os.path.expanduser("~"),
        cwd,
        os.environ.get("WORKBENCH_BENCHMARKS", ""),
        *extra,
    ]
    system = ("/",) + SYSTEM_DIRS + ("/etc", "/proc", "/dev", "/tmp")
    out = set()
    for p in cands:
        for q in {p, os.path.realpath(p)} if p else ():
            q = os.path.abspath(q)
            if q not in system and not any(s.startswith(q + "/") for s in system):
                out.add(q)
    return tuple(sorted(out))


def _within(p: str, root: str) -> bool:
    return p == root or p.startswith(root.rstrip("/") + "/")


@dataclass
class _Mounts:
    """bwrap mount operations, emitted parents first so that a later mount lands inside an
    earlier one (a folder mapped inside a covered one reappears on top of the cover)."""

    ops: list[tuple[str, str, list[str]]] = field(default_factory=list)  # (target, kind, argv)

    def add(self, kind: str, target: str, argv: list[str]) -> None:
        self.ops.append((os.path.normpath(target), kind, argv))

    def _cover(self, path: str, *, strict: bool) -> tuple[str, str] | None:
        """The deepest operation whose target holds `path` (the mount `path` is seen through)."""
        hits = [(t, k) for t, k, _ in self.ops if _within(path, t) and not (strict and t == path)]
        return max(hits, key=lambda h: len(h[0]), default=None)

    def argv(self) -> list[str]:
        ordered = [op for _, op in sorted(enumerate(self.ops), key=lambda it: (it[1][0].count("/"), it[0]))]
        targets = {t for t, _, _ in self.ops}
        out: list[str] = []
        made: set[str] = set()
        for target, kind, argv in ordered:
            if kind == "ro":
                cover = self._cover(target, strict=True)
                if cover is not None and cover[1] == "ro":
                    continue  # already visible, read-only, through a folder mapped higher up
            out += self._parents(target, targets, made) + argv
        return out

    def _parents(self, target: str, targets: set[str], made: set[str]) -> list[str]:
        """Folders between the nearest mount and `target` that the sandbox lacks: bwrap would
        make them 0700, which a throw-away uid cannot pass; 0711 lets it pass, not list."""
        chain = []
        cur = os.path.dirname(target)
        while cur not in ("/", ""):
            chain.append(cur)
            cur = os.path.dirname(cur)
        out: list[str] = []
        for d in reversed(chain):
            if d in made or d in targets:
                continue
            cover = self._cover(d, strict=False)
            if cover is not None and cover[1] in ("ro", "rw"):
                continue  # a host folder mapped here already has it
            made.add(d)
            out += ["--perms", "0711", "--dir", d]
        return out


def bwrap_view(*, ro: tuple[str, ...], rw: tuple[str, ...], scratch_mb: int, hide: tuple[str, ...] = ()) -> list[str]:
    """The mount part of a bwrap command line: the system folders, the interpreter, the toolchain
    cache and `ro` read-only, `rw` writable, a capped tmpfs at /tmp, a minimal /dev.
    Protected folders (`protected_paths`) stay out: an `ro` folder that holds one is left out,
    and one inside a system folder is covered with an empty tmpfs."""
    m = _Mounts()
    for d in SYSTEM_DIRS:
        if os.path.islink(d):
            m.add("link", d, ["--symlink", os.readlink(d), d])
        elif os.path.isdir(d):
            m.add("ro", d, ["--ro-bind", d, d])
    for pattern in ETC_ENTRIES:
        for p in sorted(glob.glob(os.path.join("/etc", pattern))):
            m.add("ro", p, ["--ro-bind", p, p])
    for dest, src in _etc_standins().items():
        m.add("file", dest, ["--ro-bind", src, dest])
    size = ["--size", str(scratch_mb << 20)] if scratch_mb else []  # (0: this bubblewrap cannot cap it)
    m.add("tmpfs", SANDBOX_TMP, ["--perms", "1777", *size, "--tmpfs", SANDBOX_TMP])
    m.add("tmpfs", "/dev", _dev_view())
    m.add("proc", "/proc", ["--proc", "/proc"])
    protected = protected_paths(hide)
    needed = python_dirs() + (str(_sandbox_cache().parent),)
    wanted = [p for p in ro if not any(_within(q, p) for q in protected)]  # (a toolchain "root" at ~)
    for p in dict.fromkeys(needed + tuple(wanted)):
        if os.path.exists(p) and not any(_within(p, w) for w in rw):
            m.add("ro", p, ["--ro-bind", p, p])
    for p in dict.fromkeys(rw):
        if os.path.exists(p) and not any(_within(p, w) and p != w for w in rw):
            m.add("rw", p, ["--bind", p, p])
    for q in protected:
        # (not /usr/share or /usr/local themselves: toolchains live there)
        if os.path.isdir(q) and q.count("/") >= 3 and any(_within(q, d) for d in SYSTEM_DIRS if not os.path.islink(d)):
            m.add("tmpfs", q, ["--perms", "0711", "--tmpfs", q])
    return m.argv()


def command_prefix(
    info: SandboxInfo,
    *,
    scratch: str,
    rw: tuple[str, ...] = (),
    ro: tuple[str, ...] = (),
    scratch_mb: int = 256,
    hide: tuple[str, ...] = (),
) -> list[str]:
    """argv prefix that starts a command inside the sandbox (`scratch`: the host folder for the
    programs' folders, used when there is no bubblewrap)."""
    if info.mode == "bwrap":
        argv = [
            shutil.which("bwrap") or "bwrap",
            *bwrap_view(ro=ro, rw=rw, scratch_mb=scratch_mb, hide=hide),
            "--unshare-net",
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-uts",
            "--hostname",
            "sandbox",
            "--die-with-parent",
            "--new-session",
            "--remount-ro",
            "/",
            "--chdir",
            SANDBOX_TMP,
        ]
        if _is_root():
            argv += ["--cap-drop", "ALL"]
            for cap in ("CAP_SETUID", "CAP_SETGID", "CAP_KILL", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER"):
                argv += ["--cap-add", cap]
        return argv + ["--"]
    if info.mode == "unshare":
        # a private mount namespace: the programs' folder becomes a capped tmpfs
        mount = f'mount -t tmpfs -o size={scratch_mb}m,mode=0755 wb-scratch "$0" && exec "$@"'
        return [shutil.which("unshare") or "unshare", *UNSHARE_FLAGS, "--", "/bin/sh", "-c", mount, scratch]
    return []


def clean_env(extra: dict[str, str] | None = None, *, home: str = "/nonexistent") -> dict[str, str]:
    """The environment programs get: nothing from the parent but a PATH, a locale and thread caps."""
    env = {
        "PATH": BASE_PATH,
        "HOME": home,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    if extra:
        env.update(extra)
    return env


def new_uid() -> int:
    """The base of a supervisor's block of throw-away uids (one per program): unique, so that
    `kill(-1)` as one of them touches nothing else."""
    return (0x10 + secrets.randbelow(0x3FF0)) * UID_BLOCK


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
    as_root: bool = False  # compile steps keep the workbench's uid (toolchains under /root)
    scratch_mb: int = 256  # the programs' writable space (bubblewrap, unshare)
    hide: tuple[str, ...] = ()  # more folders no program may see (the problem sets')
    proc: subprocess.Popen | None = field(default=None, repr=False)
    uid: int | None = None
    _sel: selectors.BaseSelector | None = field(default=None, repr=False)
    _buf: bytes = b""

    def _config(self) -> dict[str, Any]:
        bw = self.info.mode == "bwrap"
        return {
            "uid": self.uid,
            "scratch": SANDBOX_JOBS if bw else self.scratch,
            "server": self.server,
            "tmp": {"root": SANDBOX_TMP, "shm": SANDBOX_SHM} if bw else None,
            "ipc_private": self.info.ipc_private,
            "pid_private": self.info.pid_isolated,
            "python": {"preimport": self.python_preimport, "env": self.python_env or {}}
            if self.python_preimport is not None
            else None,
        }

    def start(self) -> Self:
        os.chmod(self.scratch, 0o755)
        self.uid = new_uid() if (self.info.uid_switch and not self.as_root) else None
        argv = command_prefix(
            self.info,
            scratch=self.scratch,
            rw=self.rw,
            ro=self.ro,
            scratch_mb=self.scratch_mb if self.info.scratch_capped else 0,
            hide=self.hide,
        ) + [sys.executable, "-I", supervisor_script()]
        env = clean_env(self.python_env)
        try:
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                cwd=self.scratch,
                start_new_session=True,
            )
        except OSError as e:
            raise SandboxError(f"cannot start the sandbox supervisor: {e}") from None
        assert self.proc.stdin and self.proc.stdout
        os.set_blocking(self.proc.stdout.fileno(), False)
        self._sel = selectors.DefaultSelector()
        self._sel.register(self.proc.stdout, selectors.EVENT_READ)
        self._send(self._config())
        ready = self._recv(60.0)
        if not ready.get("ready"):
            raise SandboxError(f"sandbox supervisor did not start: {ready}")
        return self

    def _send(self, obj: dict) -> None:
        assert self.proc and self.proc.stdin
        try:
            # ASCII JSON: any text (lone surrogates included) crosses the pipe unchanged
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

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


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
