"""Hostile programs: fork bombs, memory bombs, infinite loops, floods of output, writes and
deletes outside their folder, network calls, signals to the parent and escapes from the process
group. Every verdict must be contained; afterwards no process is left, no file outside the
sandbox has changed, and the workbench (and a bystander process) are alive."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from engine.execute import Limits, Sample, execute, sandbox
from engine.execute.sandbox import detect
from engine.problems import problem_from_row
from tests.conftest import ROOT

TOKEN = "wbhostile" + secrets.token_hex(4)
STRAY_SLEEP = f"{4000 + secrets.randbelow(999)}.5"   # a unique `sleep` argument to find strays by


def _py(tid: str, body: str) -> tuple[dict, str]:
    return ({"task_id": tid, "language": "python", "test_list": ["assert f(1) == 2", "assert f(2) == 3"]},
            "import os, sys, socket, signal, shutil, subprocess\n" + body)


def _hep(tid: str, prompt: str, test: str, code: str, **kw: str) -> tuple[dict, str]:
    return ({"task_id": tid, "prompt": prompt, "declaration": kw.pop("declaration", ""), "entry_point": "f",
             "test": test, **kw}, code)


CPP_TEST = "#undef NDEBUG\n#include<assert.h>\nint main(){\n    assert (f(1) == 2);\n}\n"
JS_TEST = "const t = () => {\n  console.assert(f(1) === 2)\n}\nt()\n"
JAVA_PROMPT = "import java.util.*;\nimport java.lang.*;\n\nclass Solution {\n    public int f(int x) {\n"
JAVA_TEST = ("public class Main {\n    public static void main(String[] args) {\n        Solution s = new Solution();\n"
             "        List<Boolean> correct = Arrays.asList(\n                s.f(1) == 2,\n                s.f(2) == 3\n"
             "        );\n        if (correct.contains(false)) {\n            throw new AssertionError();\n        }\n    }\n}\n")
GO_SETUP = 'package main\n\nimport (\n    "testing"\n    "github.com/stretchr/testify/assert"\n)\n'
GO_TEST = "func TestF(t *testing.T) {\n    assert := assert.New(t)\n    assert.Equal(2, F(1))\n    assert.Equal(3, F(2))\n}\n"
RUST_TEST = "\n#[cfg(test)]\nmod tests {\n    use super::*;\n    #[test]\n    fn t() {\n        assert_eq!(f(1), 2);\n    }\n}\n"


@pytest.fixture(scope="module")
def arena(tmp_path_factory: pytest.TempPathFactory):
    if not detect().pid_isolated:
        pytest.skip("no PID namespace here (no bubblewrap, not root): a program's kill(-1) would take the test "
                    "runner down; `workbench eval doctor` reports the weaker sandbox")
    base = tmp_path_factory.mktemp("arena")
    keep = base / "keep"
    keep.mkdir()
    (keep / "precious.txt").write_text("precious")
    before = set(_ours(set(), set()))   # helpers earlier tests left (e.g. multiprocessing's resource tracker)
    victim = subprocess.Popen(["sleep", "600"])
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.2)
    port = server.getsockname()[1]
    accepted: list[object] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                accepted.append(server.accept())
            except OSError:
                continue
    threading.Thread(target=serve, daemon=True).start()

    outside = [str(keep / "new.txt"), str(ROOT / f"{TOKEN}.txt"), f"/tmp/{TOKEN}", f"/var/tmp/{TOKEN}",
               f"/dev/shm/{TOKEN}", os.path.expanduser(f"~/{TOKEN}")]
    me = os.getpid()
    attacks = {
        "fork_bomb": _py("fork_bomb", "def f(x):\n    while True:\n        try:\n            os.fork()\n"
                                       "        except OSError:\n            pass\n"),
        "memory_bomb": _py("memory_bomb", "def f(x):\n    a = []\n    while True:\n        a.append(bytearray(10**8))\n"),
        "infinite_loop": _py("infinite_loop", "def f(x):\n    while True:\n        pass\n"),
        "output_flood": _py("output_flood", "def f(x):\n    while True:\n        sys.stdout.write('x' * 65536)\n"),
        "write_outside": _py("write_outside", f"def f(x):\n    for p in {outside!r}:\n        try:\n"
                                                "            open(p, 'w').write('pwned')\n        except Exception:\n"
                                                "            pass\n    return x + 1\n"),
        "delete_outside": _py("delete_outside", f"def f(x):\n    for p in [{str(keep / 'precious.txt')!r}]:\n"
                                                 "        try:\n            os.remove(p)\n        except Exception:\n"
                                                 f"            pass\n    shutil.rmtree({str(keep)!r}, ignore_errors=True)\n"
                                                 f"    shutil.rmtree({str(ROOT / 'engine')!r}, ignore_errors=True)\n"
                                                 "    return x + 1\n"),
        "network": _py("network", f"def f(x):\n    socket.create_connection(('127.0.0.1', {port}), timeout=2).send(b'hi')\n"
                                  "    return x + 1\n"),
        "signals": _py("signals", f"def f(x):\n    for pid in (os.getppid(), {victim.pid}, {me}, 1):\n        try:\n"
                                  "            os.kill(pid, signal.SIGKILL)\n        except Exception:\n            pass\n"
                                  "    try:\n        os.kill(-1, signal.SIGKILL)\n    except Exception:\n        pass\n"
                                  "    return x + 1\n"),
        "escape_session": _py("escape_session", f"def f(x):\n    subprocess.Popen(['sleep', '{STRAY_SLEEP}'], "
                                                "start_new_session=True, stdout=subprocess.DEVNULL, "
                                                "stderr=subprocess.DEVNULL)\n    if os.fork() == 0:\n        os.setsid()\n"
                                                f"        os.execvp('sleep', ['sleep', '{STRAY_SLEEP}'])\n    return x + 1\n"),
        # a flood of fd 3 (the case-report pipe) with no newline: the supervisor keeps none of it
        "marker_flood": _py("marker_flood", "def f(x):\n    for _ in range(256):\n        os.write(3, b'B' * (1 << 20))\n"
                                            "    return x + 1\n"),
        "cpp_fork_bomb": _hep("CPP/901", "#include<unistd.h>\nint f(int x){\n", CPP_TEST,
                              "    while (1) fork();\n    return x + 1;\n}\n"),
        "cpp_memory_bomb": _hep("CPP/902", "#include<vector>\nint f(int x){\n", CPP_TEST,
                                "    std::vector<long*> v;\n    while (1) { long* p = new long[1 << 20]; p[0] = 1; v.push_back(p); }\n"
                                "    return x + 1;\n}\n"),
        "js_escape_exit": _hep("JavaScript/901", "const f = (x) => {\n", JS_TEST,
                               "  this.constructor.constructor('return process')().kill(process.ppid, 'SIGKILL');\n"
                               "  return x + 1\n}\n"),
        "js_flood": _hep("JavaScript/902", "const f = (x) => {\n", JS_TEST,
                         "  for (;;) console.log('y'.repeat(100000));\n}\n"),
        "java_exit_and_loop": _hep("Java/901", JAVA_PROMPT, JAVA_TEST,
                                   "        if (x == 1) System.exit(0);\n        while (true) { }\n    }\n}"),
        "go_kill_parent": _hep("Go/901", 'import (\n    "os"\n    "syscall"\n)\nfunc F(x int) int {\n', GO_TEST,
                               "    syscall.Kill(os.Getppid(), syscall.SIGKILL)\n    syscall.Kill(-1, syscall.SIGKILL)\n"
                               "    return x + 1\n}\n", test_setup=GO_SETUP),
        "rust_stack_overflow": _hep("Rust/901", "fn main(){}\nfn f(x: i32) -> i32 {\n", RUST_TEST,
                                    "    if x > -1 { f(x + 1) + 1 } else { 0 }\n}\n",
                                    declaration="\nfn f(x: i32) -> i32 {\n"),
    }
    probs = [problem_from_row(row) for row, _ in attacks.values()]
    samples = [Sample(p.task_id, code) for p, (_, code) in zip(probs, attacks.values())]
    uids: set[int] = set()
    real_new_uid = sandbox.new_uid

    def recording_new_uid() -> int:
        uid = real_new_uid()
        uids.add(uid)
        return uid
    t0 = time.monotonic()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sandbox, "new_uid", recording_new_uid)
        report = execute(probs, samples, workers=2, cache=False,
                         limits=Limits(timeout=2.0, max_timeouts=1, nproc=64, memory_mb=512))
    took = time.monotonic() - t0
    stop.set()
    yield {"report": {n: r for n, r in zip(attacks, report.results)}, "keep": keep, "victim": victim,
           "uids": uids, "before": before,
           "accepted": accepted, "outside": outside, "took": took}
    victim.kill()
    server.close()


def test_every_attack_gets_a_contained_verdict(arena) -> None:
    v = {name: r["verdict"] for name, r in arena["report"].items()}
    assert v["fork_bomb"] in ("timeout", "runtime_error")
    assert v["memory_bomb"] == "oom"
    assert v["infinite_loop"] == "timeout"
    assert v["output_flood"] == "output_limit"
    assert v["marker_flood"] in ("passed", "failed", "runtime_error")
    assert v["network"] == "runtime_error"
    assert v["cpp_fork_bomb"] in ("timeout", "runtime_error")
    assert v["cpp_memory_bomb"] == "oom"
    assert v["js_flood"] == "output_limit"
    assert v["java_exit_and_loop"] in ("runtime_error", "timeout")
    assert v["rust_stack_overflow"] == "runtime_error"
    assert "infra_error" not in v.values(), v
    assert arena["took"] < 120


def test_no_file_outside_the_sandbox_changed(arena) -> None:
    assert (arena["keep"] / "precious.txt").read_text() == "precious"
    assert sorted(p.name for p in arena["keep"].iterdir()) == ["precious.txt"]
    assert (ROOT / "engine" / "execute" / "api.py").exists()
    info = detect()
    for path in arena["outside"]:
        if not info.fs_readonly and path.startswith(("/tmp/", "/var/tmp/", "/dev/shm/")):
            continue  # world-writable folders are only protected by bubblewrap (the doctor says so)
        assert not os.path.exists(path), path


def test_no_network_connection_got_through(arena) -> None:
    if not detect().network_isolated:
        pytest.skip("no network namespace on this machine")
    assert arena["accepted"] == []


def test_the_parent_and_bystanders_are_alive(arena) -> None:
    assert arena["victim"].poll() is None
    os.kill(os.getpid(), 0)
    assert arena["report"]["signals"]["verdict"] == "passed"  # its kills went nowhere, its test passed


def _ours(uids: set[int], exclude: set[int]) -> dict[int, str]:
    """Processes left by this run: children of this test process (supervisors, bubblewrap), any
    process of a throw-away uid this run used (each supervisor's block: one uid per program),
    and the escaped `sleep`s."""
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) in exclude:
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            uid = os.stat(f"/proc/{pid}").st_uid
            ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if STRAY_SLEEP in cmd or any(b <= uid < b + sandbox.UID_BLOCK for b in uids) or ppid == os.getpid():
            out[int(pid)] = f"uid {uid}: {cmd}"
    return out


def test_no_process_is_left_behind(arena) -> None:
    time.sleep(0.2)
    assert arena["uids"] or not detect().uid_switch
    assert _ours(arena["uids"], {arena["victim"].pid} | arena["before"]) == {}
