"""Java: one `javac` for many programs, one JVM per program.

javac runs no program code at compile time (annotation processing is off), so programs that
declare no package of their own (`admit.java_admissible`) are compiled together, each in a
package whose name is drawn per batch (the many `Main` and `Solution` classes do not clash, and
no program can name another's). Each program then runs in a JVM of its own whose class path
holds only its own package's classes and the harness (`wbrt`), both copied into its folder:
`wbrt.Runner` calls its `Main.main` and reports "done" only when it returns. Programs of a batch
that fails to compile (after the programs javac blames are taken out) and programs with a
package of their own are compiled and run alone (`javac Main.java; java Main`).

The JVM starts in ~50 ms: the JDK's default class-data archive covers the JDK classes, and the
harness and programs are compiled with `-XDstringConcat=inline` (plain StringBuilder code rather
than an invokedynamic bootstrap in every JVM). An AppCDS archive of the harness gained nothing
measurable on top.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import subprocess
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from engine.execute.core import (
    P_SINGLE,
    BatchPlan,
    Context,
    Unit,
    build_env,
    build_log,
    build_ok,
    compile_step,
    drive_batches,
    run_env,
    run_jobs,
    run_single,
)
from engine.execute.instrument import mask
from engine.execute.langs.admit import java_admissible
from engine.execute.verdicts import Outcome
from engine.fsutil import file_lock

WB_JAVA = r"""
package wbrt;

import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;

public final class WB {
    /** A test case: a boolean expression that may throw anything, checked exceptions included. */
    public interface Check { boolean get() throws Throwable; }

    static int start = 0;
    static int last = -1;
    static boolean ended = true;
    static final HashMap<Integer, String> rep = new HashMap<>();
    static FileOutputStream out;

    static synchronized void emit(String s) {
        try {
            if (out == null) out = new FileOutputStream("/proc/self/fd/3");
            String line = s.replace('\n', ' ').replace('\r', ' ');
            if (line.length() > 400) line = line.substring(0, 400);
            out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
        } catch (IOException e) { }
    }

    static synchronized void reset(int s) { start = s; last = -1; ended = true; rep.clear(); }

    static void end(int i, String st, String d) {
        String p = rep.get(i);
        if (p == null || (p.equals("pass") && !st.equals("pass"))) {
            rep.put(i, st);
            ended = true;
            emit("E " + i + " " + st + (d.isEmpty() ? "" : " " + d));
        }
    }

    public static boolean c(int i, Check f) {
        if (i < start) return true;
        if (i != last || ended) { emit("B " + i); last = i; ended = false; }
        try {
            boolean ok = f.get();
            end(i, ok ? "pass" : "fail", ok ? "" : "false");
            return ok;
        } catch (OutOfMemoryError e) {
            end(i, "oom", e.toString());
            return false;
        } catch (AssertionError e) {
            end(i, "fail", e.toString());
            return false;
        } catch (Throwable e) {
            end(i, "error", e.toString());
            return false;
        }
    }

    static void done(int rc) { emit("D " + rc); }
}
"""

RUNNER_JAVA = r"""
package wbrt;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;

/** Runs one program's `Main.main` and reports "done" when it returns; then, as `java Main`
 *  does, the JVM ends when the program's other threads have ended (exit status 0), or at
 *  once with status 1 when main threw. */
public final class Runner {
    public static void main(String[] a) throws Exception {
        String s = System.getenv("WB_START");
        WB.reset(s == null ? 0 : Integer.parseInt(s));
        int rc = 0;
        try {
            Method m = Class.forName(a[0]).getMethod("main", String[].class);
            m.invoke(null, (Object) new String[0]);
        } catch (InvocationTargetException e) {
            (e.getCause() != null ? e.getCause() : e).printStackTrace();
            rc = 1;
        } catch (Throwable t) {
            t.printStackTrace();
            rc = 1;
        } finally {
            System.out.flush();
            System.err.flush();
        }
        WB.done(rc);
        if (rc != 0) System.exit(rc);
    }
}
"""

# javac warms up slowly: its own JIT stops at C1; inline string concatenation saves every JVM
# the invokedynamic bootstrap of StringConcatFactory
JAVAC_J = ["-J-XX:TieredStopAtLevel=1", "-J-XX:+UseSerialGC", "-J-Xshare:auto", "-J-XX:-UsePerfData"]
JAVAC_FLAGS = ["-encoding", "UTF-8", "-nowarn", "-Xlint:none", "-proc:none", "-XDstringConcat=inline"]


# MultiPL-E's Java prompts import org.javatuples (Pair, Triplet, ...), as its eval_java runs them:
# Debian's libjavatuples-java (scripts/system-deps.sh). Under /usr, so the sandbox shows it read-only.
JAVATUPLES_JAR = "/usr/share/java/javatuples.jar"


def library_path() -> list[str]:
    """Jars every program compiles and runs against (those that are installed)."""
    return [JAVATUPLES_JAR] if os.path.isfile(JAVATUPLES_JAR) else []


def javac_argv(javac: str, files: list[str], *, classpath: str = "", out: str = "classes") -> list[str]:
    """One javac for `files` (annotation processing off: no program code runs at compile time)."""
    return [javac, *JAVAC_J, *JAVAC_FLAGS, *(["-cp", classpath] if classpath else []), "-d", out, *files]


def jvm_flags(memory_mb: int) -> list[str]:
    return [
        "-XX:+UseSerialGC",
        "-XX:TieredStopAtLevel=1",
        "-XX:-UsePerfData",
        "-Xshare:auto",
        f"-Xmx{memory_mb}m",
        "-Xss8m",
        "-XX:ReservedCodeCacheSize=96m",
        "-XX:CompressedClassSpaceSize=128m",
        "-XX:MaxMetaspaceSize=384m",
        "-XX:ErrorFile=/dev/null",
        "-Djava.awt.headless=true",
        "-Dfile.encoding=UTF-8",
    ]


def runtime_dir(ctx: Context) -> str:
    """The compiled harness (`<dir>/wbrt/*.class`), built once per javac version."""
    tag = hashlib.sha256((WB_JAVA + RUNNER_JAVA + " ".join(JAVAC_FLAGS) + ctx.tool.version).encode()).hexdigest()[:12]
    d = ctx.cache / "java" / f"rt-{tag}"
    if (d / "classes" / "wbrt" / "Runner.class").exists():
        return str(d / "classes")
    with file_lock(ctx.cache / "java" / ".lock"):
        if not (d / "classes" / "wbrt" / "Runner.class").exists():
            src = d / "src" / "wbrt"
            src.mkdir(parents=True, exist_ok=True)
            (src / "WB.java").write_text(WB_JAVA)
            (src / "Runner.java").write_text(RUNNER_JAVA)
            p = subprocess.run(
                [
                    ctx.tool.commands["javac"],
                    *JAVAC_J,
                    *JAVAC_FLAGS,
                    "-d",
                    str(d / "classes"),
                    str(src / "WB.java"),
                    str(src / "Runner.java"),
                ],
                capture_output=True,
                text=True,
                check=False,
                timeout=300,
            )
            if p.returncode != 0:
                raise RuntimeError("cannot build the Java runtime helper:\n" + p.stderr[-2000:])
            os.chmod(d, 0o755)
    return str(d / "classes")


@dataclass
class Batch:
    dir: str
    units: list[Unit]
    packages: list[str]


def _main_class(text: str) -> str:
    m = re.search(r"^\s*package\s+([\w.]+)\s*;", mask(text, "java"), re.MULTILINE)
    return (m.group(1) + ".Main") if m else "Main"


def start(ctx: Context, units: list[Unit]) -> None:
    javac, java = ctx.tool.commands["javac"], ctx.tool.commands["java"]
    try:
        rt = runtime_dir(ctx)
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        for u in units:
            ctx.emit(u, Outcome("infra_error", str(e), n_cases=u.plan.n))
        return
    lim_run = ctx.limits.run(memory_extra_mb=2048, nproc=ctx.limits.nproc + 256)
    libs = library_path()
    argv0 = [java, *jvm_flags(ctx.limits.memory_mb), "-cp", ":".join(["classes", *libs]), "wbrt.Runner"]
    cp = ":".join([rt, *libs])

    def job(u: Unit, classes: dict[str, str], main: str, cases: int) -> dict[str, Any]:
        """Run `main` with the class path `classes/`: the harness and the program's own classes."""
        stage = {"classes/wbrt": os.path.join(rt, "wbrt"), **{f"classes/{k}": v for k, v in classes.items()}}
        return {
            "id": u.key,
            "mode": "exec",
            "cases": cases,
            "limits": lim_run,
            "env": run_env(),
            "argv": [*argv0, main],
            "stage": stage,
        }

    def build_batch(group: list[Unit]) -> tuple[bool, str, Batch]:
        d = ctx.new_dir("java-")
        tag = secrets.token_hex(8)
        pkgs = [f"p{tag}_{i}" for i in range(len(group))]
        files = []
        for pkg, u in zip(pkgs, group):
            src = Path(d, "src", pkg)
            src.mkdir(parents=True)
            (src / "Main.java").write_text(
                f"package {pkg};\n" + u.program.code + "\n" + u.plan.test, encoding="utf-8", errors="surrogatepass"
            )
            files.append(f"src/{pkg}/Main.java")
        res = compile_step(
            ctx, d, javac_argv(javac, files, classpath=cp), build_env(ctx, d), n_programs=len(group), ro=(rt,)
        )
        return build_ok(res), build_log(res), Batch(d, list(group), pkgs)

    def blame(log: str, group: list[Unit], b: Batch) -> set[int]:
        index = {p: i for i, p in enumerate(b.packages)}
        return {index[m.group(1)] for m in re.finditer(r"src/(p\w+)/Main\.java:\d+", log) if m.group(1) in index}

    def run_batch(part: list[Unit], b: Batch) -> None:
        pkg = {u.key: p for u, p in zip(b.units, b.packages)}
        run_jobs(
            ctx,
            part,
            lambda u: job(u, {pkg[u.key]: os.path.join(b.dir, "classes", pkg[u.key])}, f"{pkg[u.key]}.Main", u.plan.n),
            {},
        )

    def single(u: Unit) -> None:
        def write(d: str, instrumented: bool) -> tuple[int, int]:
            Path(d, "Main.java").write_text(
                u.program.code + "\n" + (u.plan.test if instrumented else u.program.test),
                encoding="utf-8",
                errors="surrogatepass",
            )
            return 1, u.program.code.count("\n") + 1

        def single_job(d: str, instrumented: bool) -> dict[str, Any]:
            out = Path(d, "classes")
            classes = {p.name: str(p) for p in out.iterdir()} if out.is_dir() else {}
            return job(u, classes, _main_class(u.program.code + "\n" + u.program.test), u.plan.n if instrumented else 0)

        run_single(
            ctx,
            u,
            prefix="java1-",
            filename="Main.java",
            write=write,
            job=single_job,
            compile_=lambda d: compile_step(
                ctx, d, javac_argv(javac, ["Main.java"], classpath=cp), build_env(ctx, d), ro=(rt,)
            ),
        )

    plan = BatchPlan("java", build_batch, blame, run_batch, single, max_batch=200)
    batched = [u for u in units if java_admissible(u.program.code + "\n" + u.plan.test)]
    keys = {u.key for u in batched}
    # one javac for the lot: javac warms up slowly, so two half batches cost more CPU than one
    drive_batches(ctx, plan, [batched] if batched else [])
    for u in units:
        if u.key not in keys:
            ctx.submit(P_SINGLE, partial(single, u))
