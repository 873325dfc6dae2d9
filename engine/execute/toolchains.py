"""Toolchains of the six languages: where they are, their versions (part of every result-cache
key), and the executor's cache folders.

The cache root is $WORKBENCH_EXEC_CACHE, else `.cache/exec` in a source checkout (where
scripts/system-deps.sh also puts js-md5), else the user cache dir (XDG). It holds three things
that the sandbox treats differently:

    toolchain/       built only from the toolchains and the harness (Rust rlibs, the Java runtime
                     classes, JS helper scripts, the supervisor script): read-only in every sandbox
    build/           compiler caches that may hold objects built from samples (GOCACHE): read-write
                     in compile steps only, never visible to programs
    results.sqlite   the result cache: never visible inside any sandbox
"""

from __future__ import annotations

import functools
import glob
import hashlib
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from engine.problems.model import LANGUAGES

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CARGO_REGISTRY = Path("/usr/share/cargo/registry")
GOCODE = Path("/usr/share/gocode")


def exec_cache_dir() -> Path:
    env = os.environ.get("WORKBENCH_EXEC_CACHE")
    if env:
        d = Path(os.path.expanduser(env))
    elif (PROJECT_ROOT / "pyproject.toml").is_file() and os.access(PROJECT_ROOT, os.W_OK):
        d = PROJECT_ROOT / ".cache" / "exec"
    else:
        from platformdirs import user_cache_dir

        d = Path(user_cache_dir("workbench", appauthor=False)) / "exec"
    d.mkdir(parents=True, exist_ok=True)
    return d


def toolchain_cache_dir() -> Path:
    """Sample-free artefacts, mapped read-only into every sandbox (`Context.cache`)."""
    d = exec_cache_dir() / "toolchain"
    d.mkdir(exist_ok=True)
    return d


def build_cache_dir() -> Path:
    """Compiler caches that may hold sample-derived objects (`Context.build_cache`)."""
    d = exec_cache_dir() / "build"
    d.mkdir(exist_ok=True)
    return d


def results_cache_path() -> Path:
    """The result cache (engine.execute.cache): outside both folders above, so never in a sandbox."""
    return exec_cache_dir() / "results.sqlite"


def _out(argv: list[str]) -> str:
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, check=False)
        return (p.stdout + p.stderr).strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


@dataclass(frozen=True)
class Tool:
    language: str
    commands: dict[str, str]  # role -> absolute path
    version: str
    missing: tuple[str, ...] = ()  # what is needed and not found (tools, headers, crates, packages)
    notes: tuple[str, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)
    # True when what is missing only breaks the programs that use it (js-md5): the rest still run
    partial: bool = False

    @property
    def ok(self) -> bool:
        return not self.missing

    @property
    def runnable(self) -> bool:
        return self.ok or self.partial

    @property
    def fingerprint(self) -> str:
        """What of the toolchain can change a verdict (part of the result-cache key)."""
        ident = f"{self.language}|{self.version}|{sorted(self.commands.items())}|{sorted(self.extra.items())}"
        return hashlib.sha256(ident.encode()).hexdigest()[:16]


def _which(*names: str) -> str | None:
    for n in names:
        p = shutil.which(n)
        if p:
            return p
    return None


def node_path_candidates() -> list[Path]:
    env = os.environ.get("WORKBENCH_NODE_PATH")
    cands = [Path(p) for p in env.split(os.pathsep)] if env else []
    cands += [
        PROJECT_ROOT / ".cache" / "node" / "node_modules",
        exec_cache_dir() / "node" / "node_modules",
        Path("/usr/lib/node_modules"),
        Path("/usr/local/lib/node_modules"),
        Path("/usr/share/nodejs"),
    ]
    return cands


def find_js_md5() -> Path | None:
    for d in node_path_candidates():
        if (d / "js-md5").is_dir():
            return d
    return None


def crate_dir(name: str) -> Path | None:
    """Newest Debian-packaged source of a crate (librust-<name>-dev)."""
    found = sorted(
        glob.glob(str(CARGO_REGISTRY / f"{name}-[0-9]*")),
        key=lambda p: [int(x) if x.isdigit() else 0 for x in re.split(r"[.-]", Path(p).name[len(name) + 1 :])],
    )
    return Path(found[-1]) if found else None


@functools.cache
def probe(language: str) -> Tool:
    """Find one language's toolchain (cached for the process)."""
    if language == "python":
        missing: list[str] = []
        notes: list[str] = []
        import importlib.util

        extra: dict[str, str] = {}
        if importlib.util.find_spec("numpy") is None:  # the reference prelude imports it
            notes.append("numpy is not installed: programs that use it fail as infra_error")
        else:
            from importlib.metadata import PackageNotFoundError
            from importlib.metadata import version as dist_version

            try:
                extra["numpy"] = dist_version("numpy")
            except PackageNotFoundError:
                extra["numpy"] = "unknown"
        return Tool(
            "python", {"python": sys.executable}, sys.version.split()[0], tuple(missing), tuple(notes), extra=extra
        )
    if language == "javascript":
        node = _which("node", "nodejs")
        if not node:
            return Tool(language, {}, "", ("node",))
        md5 = find_js_md5()
        return Tool(
            language,
            {"node": node},
            _out([node, "--version"]),
            () if md5 else ("npm package js-md5",),
            extra={"node_path": str(md5) if md5 else ""},
            partial=True,
        )
    if language == "java":
        javac, java = _which("javac"), _which("java")
        if not (javac and java):
            return Tool(language, {}, "", tuple(n for n, p in (("javac", javac), ("java", java)) if not p))
        return Tool(language, {"javac": javac, "java": java}, _out([javac, "-version"]))
    if language == "cpp":
        gpp = _which("g++")
        if not gpp:
            return Tool(language, {}, "", ("g++",))
        miss: list[str] = []
        if not Path("/usr/include/boost/any.hpp").exists():
            miss.append("boost headers (libboost-dev)")
        if not Path("/usr/include/openssl/md5.h").exists():
            miss.append("OpenSSL headers (libssl-dev)")
        version = _out([gpp, "--version"])
        return Tool(language, {"g++": gpp}, version.splitlines()[0] if version else "", tuple(miss))
    if language == "go":
        go = _which("go")
        if not go:
            return Tool(language, {}, "", ("go (golang-go)",))
        miss = (
            []
            if (GOCODE / "src/github.com/stretchr/testify/assert").is_dir()
            else ["testify (golang-github-stretchr-testify-dev)"]
        )
        return Tool(language, {"go": go}, _out([go, "version"]), tuple(miss))
    if language == "rust":
        rustc = _which("rustc")
        if not rustc:
            return Tool(language, {}, "", ("rustc",))
        miss = [f"crate {c} (librust-{c}-dev)" for c in ("regex", "regex-syntax", "md5") if crate_dir(c) is None]
        sysroot = _out([rustc, "--print", "sysroot"]).splitlines()
        return Tool(
            language,
            {"rustc": rustc},
            _out([rustc, "--version"]),
            tuple(miss),
            extra={"sysroot": sysroot[-1] if sysroot else ""},
        )
    raise ValueError(language)


def probe_all(languages: tuple[str, ...] | list[str] = LANGUAGES) -> dict[str, Tool]:
    """Probe several toolchains at once (each asks its compiler for a version: a process each)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=len(languages) or 1) as pool:
        return dict(zip(languages, pool.map(probe, languages)))


def toolchain_dirs(tool: Tool) -> tuple[str, ...]:
    """Folders a toolchain lives in (mapped into the sandbox when they sit under a hidden root)."""
    out = set()
    if tool.language == "rust":
        # the toolchain itself (its rustc is called directly), not ~/.cargo with its credentials
        if tool.extra.get("sysroot"):
            out.add(tool.extra["sysroot"])
    else:
        for p in tool.commands.values():
            real = os.path.realpath(p)
            out.add(os.path.dirname(os.path.dirname(real)))
            out.add(os.path.dirname(p))
    if tool.extra.get("node_path"):
        out.add(tool.extra["node_path"])
    return tuple(sorted(d for d in out if d and d != "/" and os.path.isdir(d)))
