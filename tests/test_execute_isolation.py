"""Cross-sample attacks: no sample's verdict may depend on another sample in the same run.

Per language, a fixed set of victims (a right and a wrong answer to two problems; the right
answer to problem A carries a secret string) is run twice: with a family of attackers in the
same run (the same batches where the admission rules let them in) and without them. The
victims' verdicts must be identical in both runs and be the true ones. The attackers are the
issue's: C++ static constructors that forge results, a destructor that aborts, a greedy
`static vector<long long> memo(1LL << 32)`, a huge function-local static array, Rust
`#[used] #[link_section = ".init_array"]` and a huge `static`, Go `init() { panic() }`, a 2 GiB
package variable and `TestMain`, Node's host `process` reached through a constructor chain and
builtins' prototypes polluted, a Java static initialiser that replaces the report stream by
reflection, plus, in every language, a wrong sample that tries to copy a right neighbour of the
same task (it looks for the neighbour's secret in every folder it can read, its own binary
included, and answers right only if it finds it) and a sample that exits before its tests end.

Below: the admission rules on their own, and the batch binaries of C++ and Rust checked with
`nm`/`strings` to hold no symbol or literal of another program.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, cast

import pytest

from engine.execute import Limits, Sample, execute
from engine.problems import problem_from_row

SECRET = "VICTIM_" + secrets.token_hex(6)
# the attackers' search: the shell joins the two halves, so no attacker's text holds the secret
PATTERN = SECRET.replace("_", '""_', 1)
LIMITS = Limits(timeout=15.0, max_timeouts=1)


def _roots() -> str:
    """Every folder a copying attacker tries: its own folder and those above it (the supervisor's
    and the scratch folder), the temp folders, the scratch base and the executor's cache."""
    from engine.execute.api import _scratch_base
    from engine.execute.toolchains import exec_cache_dir

    roots = ["$PWD", "$PWD/..", "$PWD/../..", "/tmp", "/dev/shm", "/var/tmp", str(exec_cache_dir()),
             _scratch_base() or tempfile.gettempdir()]
    return " ".join(dict.fromkeys(roots))


SEARCH = f"timeout 20 grep -rlsaF {PATTERN} {_roots()} 2>/dev/null | head -1"


def _c_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


# language -> problem rows (A: f(x) = x + 1, B: g(x) = 2x), victims and attackers:
#   victims    name -> (task, code, expected verdict)
#   attackers  name -> (task, code, kind, expected verdict or None when only its neighbours matter)
CPP_HEAD = "#include<stdio.h>\n#include<stdlib.h>\n#include<vector>\nusing namespace std;\n"
CPP_TEST = "#undef NDEBUG\n#include<assert.h>\nint main(){{\n    assert ({0}(1) == {1});\n    assert ({0}(3) == {2});\n}}\n"
FORGE = "B 0\\nE 0 pass\\nB 1\\nE 1 pass\\nD 0\\n"
CPP: dict[str, Any] = {
    "rows": [{"task_id": "CPP/910", "prompt": CPP_HEAD + "int f(int x){\n", "declaration": "", "entry_point": "f",
              "test": CPP_TEST.format("f", 2, 4)},
             {"task_id": "CPP/911", "prompt": CPP_HEAD + "int g(int x){\n", "declaration": "", "entry_point": "g",
              "test": CPP_TEST.format("g", 2, 6)}],
    "victims": {"a_right": ("CPP/910", f'    if (x == -424242) puts("{SECRET}");\n    return x + 1;\n}}\n', "passed"),
                "a_wrong": ("CPP/910", "    return x;\n}\n", "failed"),
                "b_right": ("CPP/911", "    return 2 * x;\n}\n", "passed"),
                "b_wrong": ("CPP/911", "    return x + 1;\n}\n", "failed")},
    "attackers": {
        "static_ctor_forges": ("CPP/910", ("    return x;\n}\nstruct Forge { Forge() { FILE* o = fdopen(3, \"w\"); "
                               f"fputs(\"{FORGE}\", o); fflush(o); }} }} forge_all;\n"), "completion", None),
        "constructor_attribute": ("CPP/911", ("    return x;\n}\n__attribute__((constructor)) static void forge() "
                                  f"{{ FILE* o = fdopen(3, \"w\"); fputs(\"{FORGE}\", o); fflush(o); }}\n"), "completion", None),
        "destructor_aborts": ("CPP/910", "    return x + 1;\n}\nstruct Boom { ~Boom() { abort(); } } boom;\n",
                              "completion", "runtime_error"),
        "greedy_static_vector": ("CPP/911", "    return 2 * x;\n}\nstatic vector<long long> memo(1LL << 32);\n",
                                 "completion", None),
        "huge_local_static": ("CPP/910", "    static char big[1L << 31];\n    big[x] = 1;\n    return x + big[x];\n}\n",
                              "completion", None),
        "copies_a_neighbour": ("CPP/910", (f"    FILE* p = popen({_c_string(SEARCH)}, \"r\");\n    char b[512] = {{0}};\n"
                               "    if (p) { if (!fgets(b, sizeof b, p)) b[0] = 0; pclose(p); }\n"
                               "    return b[0] ? x + 1 : x;\n}\n"), "completion", "failed"),
        "exits_before_the_tests": ("CPP/911", "    exit(0);\n}\n", "completion", "runtime_error"),
    },
}

RUST_TEST = ("\n#[cfg(test)]\nmod tests {{\n    use super::*;\n    #[test]\n    fn t() {{\n        assert_eq!({0}(1), {1});\n"
             "        assert_eq!({0}(3), {2});\n    }}\n}}\n")
RUST_FORGE = ("use std::io::Write;\nuse std::os::unix::io::FromRawFd;\n"
              "extern \"C\" fn forge() { let mut f = unsafe { std::fs::File::from_raw_fd(3) }; "
              f"let _ = f.write_all(b\"{FORGE}\"); std::mem::forget(f); }}\n")
RUST: dict[str, Any] = {
    "rows": [{"task_id": "Rust/910", "prompt": "fn main(){}\nfn f(x: i32) -> i32 {\n", "entry_point": "f",
              "declaration": "\nfn f(x: i32) -> i32 {\n", "test": RUST_TEST.format("f", 2, 4)},
             {"task_id": "Rust/911", "prompt": "fn main(){}\nfn g(x: i32) -> i32 {\n", "entry_point": "g",
              "declaration": "\nfn g(x: i32) -> i32 {\n", "test": RUST_TEST.format("g", 2, 6)}],
    "victims": {"a_right": ("Rust/910", f'    if x == -424242 {{ println!("{SECRET}"); }}\n    x + 1\n}}\n', "passed"),
                "a_wrong": ("Rust/910", "    x\n}\n", "failed"),
                "b_right": ("Rust/911", "    2 * x\n}\n", "passed"),
                "b_wrong": ("Rust/911", "    x + 1\n}\n", "failed")},
    "attackers": {
        "init_array_forges": ("Rust/910", "    x\n}\n" + RUST_FORGE + "#[used]\n#[link_section = \".init_array\"]\n"
                              "static INIT: extern \"C\" fn() = forge;\n", "completion", None),
        "huge_static": ("Rust/911", "    BIG[0] as i32 + 2 * x\n}\nstatic BIG: [u8; 1 << 26] = [0; 1 << 26];\n",
                        "completion", None),
        "copies_a_neighbour": ("Rust/910", ("    let out = std::process::Command::new(\"sh\").arg(\"-c\")"
                               f".arg({_c_string(SEARCH)}).output().map(|o| o.stdout).unwrap_or_default();\n"
                               "    if out.is_empty() { x } else { x + 1 }\n}\n"), "completion", "failed"),
        "exits_before_the_tests": ("Rust/911", "    std::process::exit(0)\n}\n", "completion", "runtime_error"),
    },
}

GO_SETUP = 'package main\n\nimport (\n    "testing"\n    "github.com/stretchr/testify/assert"\n)\n'
GO_TEST = ("func Test{0}(t *testing.T) {{\n    assert := assert.New(t)\n    assert.Equal({1}, {0}(1))\n"
           "    assert.Equal({2}, {0}(3))\n}}\n")
GO: dict[str, Any] = {
    "rows": [{"task_id": "Go/910", "prompt": "\nfunc F(x int) int {\n", "declaration": "", "entry_point": "F",
              "test_setup": GO_SETUP, "test": GO_TEST.format("F", 2, 4)},
             {"task_id": "Go/911", "prompt": "\nfunc G(x int) int {\n", "declaration": "", "entry_point": "G",
              "test_setup": GO_SETUP, "test": GO_TEST.format("G", 2, 6)}],
    "victims": {"a_right": ("Go/910", f'    if x == -424242 {{\n        println("{SECRET}")\n    }}\n    return x + 1\n}}\n',
                            "passed"),
                "a_wrong": ("Go/910", "    return x\n}\n", "failed"),
                "b_right": ("Go/911", "    return 2 * x\n}\n", "passed"),
                "b_wrong": ("Go/911", "    return x + 1\n}\n", "failed")},
    "attackers": {
        "init_panics": ("Go/910", "    return x + 1\n}\nfunc init() { panic(\"boom\") }\n", "completion", "runtime_error"),
        "init_forges": ("Go/911", ('import "os"\n\nfunc G(x int) int { return x }\n\nfunc init() { '
                        f'os.NewFile(3, "wb").WriteString("{FORGE}") }}\n'), "solution", None),
        "huge_package_var": ("Go/910", "    big[x] = 1\n    return x + int(big[x])\n}\nvar big [1 << 31]byte\n",
                             "completion", None),
        "test_main_exits": ("Go/911", ('import "os"\n\nfunc G(x int) int { return x }\n\n'
                            "func TestMain(m *testing.M) { os.Exit(0) }\n"), "solution", "runtime_error"),
        "copies_a_neighbour": ("Go/910", (f'import "os/exec"\n\nfunc F(x int) int {{\n    out, _ := exec.Command("sh", "-c", '
                               f"{_c_string(SEARCH)}).Output()\n    if len(out) > 0 {{\n        return x + 1\n    }}\n"
                               "    return x\n}\n"), "solution", "failed"),
        "exits_before_the_tests": ("Go/911", 'import "os"\n\nfunc G(x int) int { os.Exit(0); return 0 }\n', "solution",
                                   None),
    },
}

JAVA_PROMPT = "import java.util.*;\nimport java.lang.*;\n\nclass Solution {{\n    public int {0}(int x) {{\n"
JAVA_TEST = ("public class Main {{\n    public static void main(String[] args) {{\n        Solution s = new Solution();\n"
             "        List<Boolean> correct = Arrays.asList(\n                s.{0}(1) == {1},\n                s.{0}(3) == {2}\n"
             "        );\n        if (correct.contains(false)) {{\n            throw new AssertionError();\n        }}\n    }}\n}}\n")
JAVA_REPORT_HIJACK = (
    "        return x;\n    }\n    static {\n        try {\n"
    "            java.lang.reflect.Field f = Class.forName(\"wbrt.WB\").getDeclaredField(\"out\");\n"
    "            f.setAccessible(true);\n"
    "            f.set(null, new java.io.FileOutputStream(\"/proc/self/fd/3\") {\n"
    "                public void write(byte[] b) throws java.io.IOException {\n"
    "                    super.write(new String(b).replace(\" fail\", \" pass\").replace(\" error\", \" pass\").getBytes());\n"
    "                }\n            });\n        } catch (Throwable t) { }\n    }\n}")
JAVA: dict[str, Any] = {
    "rows": [{"task_id": "Java/910", "prompt": JAVA_PROMPT.format("f"), "declaration": "", "entry_point": "f",
              "test": JAVA_TEST.format("f", 2, 4)},
             {"task_id": "Java/911", "prompt": JAVA_PROMPT.format("g"), "declaration": "", "entry_point": "g",
              "test": JAVA_TEST.format("g", 2, 6)}],
    "victims": {"a_right": ("Java/910", (f'        if (x == -424242) System.out.println("{SECRET}");\n        return x + 1;\n'
                                        "    }\n}"), "passed"),
                "a_wrong": ("Java/910", "        return x;\n    }\n}", "failed"),
                "b_right": ("Java/911", "        return 2 * x;\n    }\n}", "passed"),
                "b_wrong": ("Java/911", "        return x + 1;\n    }\n}", "failed")},
    "attackers": {
        "static_init_rewrites_the_report": ("Java/910", JAVA_REPORT_HIJACK, "completion", None),
        "loads_a_neighbour_class": ("Java/911", ("        for (String c : new String[] {\"p0.Solution\", \"Solution\", \"p1.Solution\"}) {\n"
                                    "            try { Object o = Class.forName(c).getDeclaredConstructor().newInstance();\n"
                                    "                  return (Integer) o.getClass().getMethod(\"g\", int.class).invoke(o, x); }\n"
                                    "            catch (Throwable t) { }\n        }\n        return x;\n    }\n}"),
                                    "completion", None),
        "copies_a_neighbour": ("Java/910", ("        try {\n            Process p = new ProcessBuilder(\"sh\", \"-c\", "
                               f"{_c_string(SEARCH)}).start();\n"
                               "            byte[] out = p.getInputStream().readAllBytes();\n            p.waitFor();\n"
                               "            return out.length > 0 ? x + 1 : x;\n        } catch (Exception e) { return x; }\n"
                               "    }\n}"), "completion", "failed"),
        "exits_before_the_tests": ("Java/911", "        System.exit(0);\n        return 0;\n    }\n}", "completion",
                                   "runtime_error"),
    },
}

JS_TEST = "const t = () => {{\n  console.assert({0}(1) === {1})\n  console.assert({0}(3) === {2})\n}}\nt()\n"
JS: dict[str, Any] = {
    "rows": [{"task_id": "JavaScript/910", "prompt": "const f = (x) => {\n", "declaration": "", "entry_point": "f",
              "test": JS_TEST.format("f", 2, 4)},
             {"task_id": "JavaScript/911", "prompt": "const g = (x) => {\n", "declaration": "", "entry_point": "g",
              "test": JS_TEST.format("g", 2, 6)}],
    "victims": {"a_right": ("JavaScript/910", f'  if (x === -424242) console.log("{SECRET}")\n  return x + 1\n}}\n', "passed"),
                "a_wrong": ("JavaScript/910", "  return x\n}\n", "failed"),
                "b_right": ("JavaScript/911", "  return 2 * x\n}\n", "passed"),
                "b_wrong": ("JavaScript/911", "  return x + 1\n}\n", "failed")},
    "attackers": {
        "host_process_rewrites_results": (
            "JavaScript/910", ("  return x\n}\nconst host = (function () {}).constructor('return process')();\n"
            "const fs = host.mainModule ? host.mainModule.require('fs') : require('fs');\n"
            "const w = fs.writeSync;\n"
            "fs.writeSync = (fd, s, ...r) => w(fd, typeof s === 'string' ? s.replace(/ fail/g, ' pass') : s, ...r);\n"
            "host.on('exit', () => { try { w(3, 'B 0\\nE 0 pass\\nB 1\\nE 1 pass\\nD 0\\n'); } catch (e) {} });\n"),
            "completion", None),
        "pollutes_builtins": ("JavaScript/911", ("  return x\n}\nObject.prototype.valueOf = function () { return 6 };\n"
                              "Number.prototype.valueOf = function () { return 6 };\n"
                              "Array.prototype.includes = () => true;\nconsole.assert = () => {};\n"), "completion", None),
        "copies_a_neighbour": ("JavaScript/910", ("  const out = require('child_process').execSync("
                               f"{_c_string(SEARCH)}, {{encoding: 'utf8'}})\n  return out ? x + 1 : x\n}}\n"),
                               "completion", "failed"),
        "exits_before_the_tests": ("JavaScript/911", "  process.exit(0)\n}\n", "completion", None),
    },
}

PY_TEST = "def check(candidate):\n    assert candidate(1) == {0}\n    assert candidate(3) == {1}\n\ncheck({2})\n"
PYTHON: dict[str, Any] = {
    "rows": [{"task_id": "Python/910", "prompt": "def f(x):\n", "declaration": "def f(x):\n", "entry_point": "f",
              "test": PY_TEST.format(2, 4, "f")},
             {"task_id": "Python/911", "prompt": "def g(x):\n", "declaration": "def g(x):\n", "entry_point": "g",
              "test": PY_TEST.format(2, 6, "g")}],
    "victims": {"a_right": ("Python/910", f'    if x == -424242:\n        print("{SECRET}")\n    return x + 1\n', "passed"),
                "a_wrong": ("Python/910", "    return x\n", "failed"),
                "b_right": ("Python/911", "    return 2 * x\n", "passed"),
                "b_wrong": ("Python/911", "    return x + 1\n", "failed")},
    "attackers": {
        "patches_the_fork_server": ("Python/910", ("    return x\nimport builtins, math, sys\nbuiltins.len = lambda o: 0\n"
                                    "math.sqrt = lambda v: 0\nsys.modules['collections'] = None\n"), "completion", None),
        "copies_a_neighbour": ("Python/910", ("    import subprocess\n    out = subprocess.run(['sh', '-c', "
                               f"{_c_string(SEARCH)}], capture_output=True).stdout\n    return x + 1 if out else x\n"),
                               "completion", "failed"),
    },
}

FAMILIES: dict[str, dict[str, Any]] = {"cpp": CPP, "rust": RUST, "go": GO, "java": JAVA, "javascript": JS, "python": PYTHON}


def _samples(with_attackers: bool) -> list[Sample]:
    out = []
    for fam in FAMILIES.values():
        for i, (task, code, _) in enumerate(fam["victims"].values()):
            out.append(Sample(task, code, "completion", index=i))
        if with_attackers:
            for j, (task, code, kind, _) in enumerate(fam["attackers"].values()):
                out.append(Sample(task, code, kind, index=100 + j))
    return out


@pytest.fixture(scope="module")
def runs():
    problems = [problem_from_row(row) for fam in FAMILIES.values() for row in fam["rows"]]
    with_ = execute(problems, _samples(True), workers=2, limits=LIMITS, cache=False)
    without = execute(problems, _samples(False), workers=2, limits=LIMITS, cache=False)
    return {name: {(r["task_id"], r["sample"]): r for r in rep.results} for name, rep in
            (("with", with_), ("without", without))}


@pytest.mark.parametrize("lang", list(FAMILIES))
def test_neighbours_keep_their_verdicts_whatever_runs_beside_them(runs, lang: str) -> None:
    fam = FAMILIES[lang]
    for i, (name, (task, _, expected)) in enumerate(fam["victims"].items()):
        a, b = runs["with"][(task, i)], runs["without"][(task, i)]
        assert (a["verdict"], a["tests_passed"]) == (b["verdict"], b["tests_passed"]), (lang, name, a["detail"])
        assert a["verdict"] == expected, (lang, name, a["detail"])


@pytest.mark.parametrize("lang", list(FAMILIES))
def test_attackers_get_only_their_own_verdict(runs, lang: str) -> None:
    """A copier finds no neighbour's artefact (so it stays wrong); a program that exits before
    its tests have run is not passed."""
    fam = FAMILIES[lang]
    for j, (name, (task, _, _, expected)) in enumerate(fam["attackers"].items()):
        r = runs["with"][(task, 100 + j)]
        if name == "exits_before_the_tests":
            assert r["verdict"] != "passed", (lang, name, r["detail"])
        elif expected is not None:
            assert r["verdict"] == expected, (lang, name, r["detail"])
        assert r["verdict"] != "infra_error", (lang, name, r["detail"])


# -- the admission rules -------------------------------------------------------------------------

CPP_T = "#undef NDEBUG\n#include<assert.h>\nint main(){ assert(f(1)==2); }\n"
CPP_ADMIT = {
    "int f(int x){ return x+1; }": True,
    "const int N = 10; constexpr double E = 1e-9; int f(int x){ return x+N; }": True,
    "struct S { int a; static int g(); }; int f(int x){ S s; return x+1; }": True,
    "template<class T> T mx(T a, T b){ return a>b?a:b; } int f(int x){ return mx(x,x)+1; }": True,
    "namespace A { int g(){return 1;} } int f(int x){ return x+A::g(); }": True,
    "struct B { B(){ } }; B b; int f(int x){ return x+1; }": False,                 # constructor at load
    "static vector<long long> memo(1LL<<32); int f(int x){ return x+1; }": False,
    "int f(int x){ static int a[1<<28]; return x+1; }": False,                      # local static
    "__attribute__((constructor)) void c(){} int f(int x){ return x+1; }": False,
    "[[gnu::constructor]] void c(){} int f(int x){ return x+1; }": False,
    'extern "C" int puts(const char*); int f(int x){ return x+1; }': False,
    "#define X 1\nint f(int x){ return x+X; }": False,
    'int f(int x){ asm("nop"); return x+1; }': False,
    "int f(int x){ thread_local int t = 0; return x+t; }": False,
    "struct S { static int k; }; int S::k = 3; int f(int x){ return x+1; }": False,
    'const string s = "x"; int f(int x){ return x+1; }': False,                    # destructor at exit
    "int g(); const int N = g(); int f(int x){ return x+1; }": False,              # code at load
    "int (*fp)(int) = 0; int f(int x){ return x+1; }": False,
    "int __wb_h(){ return 0; } int f(int x){ return x+1; }": False,                # the harness's names
    "int f(int x){ return x+__LINE__; }": False,                                   # differs in a batch
    '#include "x.h"\nint f(int x){ return x+1; }': False,
    "#include </etc/passwd>\nint f(int x){ return x+1; }": False,
    "namespace std { int q(); } int f(int x){ return x+1; }": False,
    "template<class T> T pi = T(3); int f(int x){ return x+1; }": False,
    "int g();\n#include<map>\nint f(int x){ return x+1; }": False,                 # an include past the preamble
    "int f(int x){ return x+1; ": False,                                            # does not parse
}


@pytest.mark.parametrize("code,admitted", list(CPP_ADMIT.items()))
def test_cpp_admission(code: str, admitted: bool) -> None:
    from engine.execute.instrument import cpp_rename_main
    from engine.execute.langs.admit import cpp_parts

    test = cpp_rename_main(CPP_T)
    assert test is not None
    assert (cpp_parts("#include<vector>\nusing namespace std;\n" + code, test) is not None) == admitted


RUST_T = "#[cfg(test)]\nmod tests {\n    use super::*;\n    #[test]\n    fn t() { assert_eq!(f(1), 2); }\n}\n"
RUST_ADMIT = {
    "fn f(x: i32) -> i32 { x + 1 }": True,
    "#[derive(Debug, Clone)] struct S { a: i32 } fn f(x: i32) -> i32 { let s: &'static str = \"a\"; "
    "println!(\"{}\", s); if x != 0 && !false { vec![1]; } x + 1 }": True,
    "static X: i32 = 1; fn f(x: i32) -> i32 { x + 1 }": False,
    "#[used] #[link_section = \".init_array\"] static I: extern \"C\" fn() = g; extern \"C\" fn g() {} "
    "fn f(x: i32) -> i32 { x + 1 }": False,
    "fn f(x: i32) -> i32 { static Y: [u8; 16] = [0; 16]; x + 1 }": False,
    "fn f(x: i32) -> i32 { println!(\"{}\", { #[used] static W: u8 = 1; W }); x + 1 }": False,  # inside a macro
    "thread_local!(static T: i32 = 1); fn f(x: i32) -> i32 { x + 1 }": False,
    "extern \"C\" { fn abort(); } fn f(x: i32) -> i32 { x + 1 }": False,
    "#[no_mangle] pub fn g() {} fn f(x: i32) -> i32 { x + 1 }": False,
    "#[cfg_attr(all(), no_mangle)] pub fn g() {} fn f(x: i32) -> i32 { x + 1 }": False,
    "fn f(x: i32) -> i32 { let s = include_str!(\"/etc/passwd\"); x + 1 }": False,
    "macro_rules! m { () => {} } fn f(x: i32) -> i32 { x + 1 }": False,
    "std::arch::global_asm!(\"nop\"); fn f(x: i32) -> i32 { x + 1 }": False,
    "#[test] fn z() {} fn f(x: i32) -> i32 { x + 1 }": False,               # its own tests: libtest, alone
    "mod other; fn f(x: i32) -> i32 { x + 1 }": False,
    "#![allow(unused)] fn f(x: i32) -> i32 { x + 1 }": False,
}


@pytest.mark.parametrize("code,admitted", list(RUST_ADMIT.items()))
def test_rust_admission(code: str, admitted: bool) -> None:
    from engine.execute.langs.admit import rust_admissible

    assert rust_admissible(code, RUST_T) == admitted


# -- what a batch binary holds -------------------------------------------------------------------

def _needs(*tools: str) -> None:
    for t in tools:
        if shutil.which(t) is None:
            pytest.skip(f"{t} is not installed")


def _foreign(binary: Path, own: int, n: int, tag: str, secrets_: list[str]) -> list[str]:
    """Symbols of other programs' namespaces/modules, and their literals, found in `binary`."""
    names = subprocess.run(["nm", "-C", str(binary)], capture_output=True, text=True, check=True).stdout
    data = binary.read_bytes()
    hits = [f"symbol of program {j}" for j in range(n) if j != own and f"__wb_{tag}_{j}::" in names]
    return hits + [f"literal of program {j}" for j, s in enumerate(secrets_) if j != own and s.encode() in data]


def test_cpp_batch_binaries_hold_only_their_own_program(tmp_path: Path) -> None:
    """gc-sections with lld keeps nothing of a neighbour: no symbol, no string, no constant."""
    _needs("g++", "nm")
    from engine.execute.instrument import cpp_rename_main
    from engine.execute.langs import cpp
    from engine.execute.langs.admit import cpp_parts

    linker = cpp.lld_flags()
    if linker is None:
        pytest.skip("no lld: C++ programs build alone")
        return
    marks = [f"LITERAL_{i}_" + secrets.token_hex(4) for i in range(3)]
    test = cpp_rename_main(CPP_T)
    assert test is not None
    parts = [cpp_parts("#include<stdio.h>\nusing namespace std;\n" +
                       f'int f(int x){{ if (x == -{i + 7}) puts("{m}"); double d = {i}.{i + 1}{i + 2}71828; '
                       f"return x + 1 + (int) (d * 0); }}", test) for i, m in enumerate(marks)]
    assert all(parts)
    src, _ = cpp.batch_source([p for p in parts if p], "t1")
    (tmp_path / "batch.cpp").write_text(src)
    (tmp_path / "build.sh").write_text(cpp.link_script("g++", 3, "t1", [False] * 3, linker[0]))
    subprocess.run(["sh", "build.sh"], cwd=tmp_path, check=True, timeout=300)
    for i in range(3):
        binary = tmp_path / "bin" / str(i)
        assert binary.exists(), (tmp_path / "bin" / f"{i}.log").read_text()
        assert _foreign(binary, i, 3, "t1", marks) == []
        assert marks[i].encode() in binary.read_bytes()          # (the check can see a literal)
        run = subprocess.run([str(binary)], capture_output=True, timeout=30, check=False)
        assert run.returncode == 0


def test_rust_batch_binaries_hold_only_their_own_program(tmp_path: Path) -> None:
    _needs("cc", "nm")
    from engine.execute.core import Unit
    from engine.execute.langs import instrument, rust
    from engine.execute.toolchains import probe

    tool = probe("rust")
    if not tool.ok:
        pytest.skip(f"rust toolchain incomplete: {tool.missing}")
    marks = [f"LITERAL_{i}_" + secrets.token_hex(4) for i in range(3)]
    units = []
    for i, m in enumerate(marks):
        row = {"task_id": f"Rust/92{i}", "prompt": "fn main(){}\nfn f(x: i32) -> i32 {\n", "entry_point": "f",
               "declaration": "\nfn f(x: i32) -> i32 {\n", "test": RUST_TEST.format("f", 2, 4)}
        p = problem_from_row(row)
        from engine.problems import assemble

        prog = assemble(p, f'    if x == -{i + 7} {{ println!("{m}"); }}\n    x + 1\n}}\n')
        units.append(Unit(p.task_id, p, prog, instrument("rust", prog.test)))
    assert all(rust.admissible(u) for u in units)
    src, _ = rust.batch_source(units, "t2")
    (tmp_path / "batch.rs").write_text(src)
    rustc = str(Path(tool.extra.get("sysroot", ""), "bin", "rustc")) if tool.extra.get("sysroot") else tool.commands["rustc"]
    env_deps = rust.deps_dir(cast(Any, _RustCtx(tool)))   # the crates, built once per toolchain
    libs = Path(env_deps, "native-libs.txt").read_text().split()
    subprocess.run([rustc, "--crate-type", "staticlib", "--crate-name", "wbbatch", "--cfg", "test", *rust.RUSTFLAGS,
                    *rust.extern_flags(env_deps), "-o", "libbatch.a", "batch.rs"], cwd=tmp_path, check=True, timeout=600)
    for i in range(3):
        entry = f"__wb_main_t2_{i}"
        subprocess.run(["cc", *rust._linker_flags(tool.extra.get("sysroot", "")), *rust.LINK_FLAGS, "-o", f"p{i}",
                        f"-Wl,-u,{entry}", f"-Wl,--defsym=main={entry}", "libbatch.a", *libs],
                       cwd=tmp_path, check=True, timeout=300)
        binary = tmp_path / f"p{i}"
        names = subprocess.run(["nm", str(binary)], capture_output=True, text=True, check=True).stdout
        assert [j for j in range(3) if j != i and f"__wb_t2_{j}" in names] == []
        assert [j for j in range(3) if j != i and marks[j].encode() in binary.read_bytes()] == []
        assert f"__wb_t2_{i}" in names


class _RustCtx:
    """What rust.deps_dir reads of a Context."""

    def __init__(self, tool: object) -> None:
        from engine.execute import toolchains

        self.tool = tool
        self.cache = getattr(toolchains, "toolchain_cache_dir", toolchains.exec_cache_dir)()
