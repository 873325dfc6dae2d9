"""Java: one `javac` for a whole batch (each program in its own package `pN`, so the many
`Main` and `Solution` classes do not clash), then one warm JVM per worker runs program after
program (`wbrt.Runner` calls `pN.Main.main`). A program that exits the JVM, hangs or leaves
threads behind gets a fresh JVM. Programs that do not fit a package, and programs of a batch
that fails to compile, are compiled and run on their own (`javac Main.java; java Main`)."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from pathlib import Path

from engine.execute.core import (BatchPlan, Context, P_SINGLE, Unit, build_env, build_log, build_ok,
                                 compile_step, drive_batches, run_env, run_jobs, run_single)
from engine.execute.instrument import mask
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

    public static synchronized void reset(int s) { start = s; last = -1; ended = true; rep.clear(); }

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

    public static void done(int rc) { emit("D " + rc); }
}
"""

RUNNER_JAVA = r"""
package wbrt;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

public final class Runner {
    static final Pattern CLS = Pattern.compile("\"cls\"\\s*:\\s*\"([\\w.$]+)\"");
    static final Pattern START = Pattern.compile("\"start\"\\s*:\\s*(\\d+)");

    static int run(String cls, int start) {
        WB.reset(start);
        try {
            Class<?> c = Class.forName(cls);
            Method m = c.getMethod("main", String[].class);
            m.invoke(null, (Object) new String[0]);
            return 0;
        } catch (InvocationTargetException e) {
            Throwable t = e.getCause() != null ? e.getCause() : e;
            t.printStackTrace();
            return 1;
        } catch (Throwable t) {
            t.printStackTrace();
            return 1;
        } finally {
            System.out.flush();
            System.err.flush();
        }
    }

    static int live() {
        int n = 0;
        for (Thread t : Thread.getAllStackTraces().keySet()) if (t.isAlive() && !t.isDaemon()) n++;
        return n;
    }

    public static void main(String[] a) throws Exception {
        if (a.length >= 2 && a[0].equals("--once")) {
            String s = System.getenv("WB_START");
            int rc = run(a[1], s == null ? 0 : Integer.parseInt(s));
            WB.done(rc);
            System.exit(rc);
        }
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        int base = live();
        String line;
        while ((line = in.readLine()) != null) {
            Matcher mc = CLS.matcher(line), ms = START.matcher(line);
            if (!mc.find()) continue;
            int start = ms.find() ? Integer.parseInt(ms.group(1)) : 0;
            int rc = run(mc.group(1), start);
            WB.done(rc);
            if (live() > base) System.exit(0);  // it left threads running: the next program gets a fresh JVM
        }
    }
}
"""

JAVAC_J = ["-J-XX:TieredStopAtLevel=1", "-J-XX:+UseSerialGC", "-J-Xshare:auto", "-J-XX:-UsePerfData"]
JAVAC_FLAGS = ["-encoding", "UTF-8", "-nowarn", "-Xlint:none", "-proc:none"]


def jvm_flags(memory_mb: int) -> list[str]:
    return ["-XX:+UseSerialGC", "-XX:-UsePerfData", "-Xshare:auto", f"-Xmx{memory_mb}m", "-Xss8m",
            "-XX:ReservedCodeCacheSize=96m", "-XX:CompressedClassSpaceSize=128m", "-XX:MaxMetaspaceSize=384m",
            "-XX:ErrorFile=/dev/null", "-Djava.awt.headless=true", "-Dfile.encoding=UTF-8"]


def runtime_dir(ctx: Context) -> str:
    """wbrt.WB and wbrt.Runner, compiled once per javac version."""
    tag = hashlib.sha256((WB_JAVA + RUNNER_JAVA + ctx.tool.version).encode()).hexdigest()[:12]
    d = ctx.cache / "java" / f"rt-{tag}"
    if (d / "classes" / "wbrt" / "Runner.class").exists():
        return str(d / "classes")
    with file_lock(ctx.cache / "java" / ".lock"):
        if not (d / "classes" / "wbrt" / "Runner.class").exists():
            src = d / "src" / "wbrt"
            src.mkdir(parents=True, exist_ok=True)
            (src / "WB.java").write_text(WB_JAVA)
            (src / "Runner.java").write_text(RUNNER_JAVA)
            p = subprocess.run([ctx.tool.commands["javac"], *JAVAC_J, *JAVAC_FLAGS, "-d", str(d / "classes"),
                                str(src / "WB.java"), str(src / "Runner.java")], capture_output=True, text=True,
                               timeout=300)
            if p.returncode != 0:
                raise RuntimeError("cannot build the Java runtime helper:\n" + p.stderr[-2000:])
            os.chmod(d, 0o755)
    return str(d / "classes")


def batchable(u: Unit) -> bool:
    m = mask(u.program.code + "\n" + u.plan.test, "java")
    return (not re.search(r"^\s*package\s", m, re.M) and re.search(r"\bclass\s+Main\b", m) is not None
            and m.count("{") == m.count("}"))


def start(ctx: Context, units: list[Unit]) -> None:
    javac, java = ctx.tool.commands["javac"], ctx.tool.commands["java"]
    try:
        rt = runtime_dir(ctx)
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        for u in units:
            ctx.emit(u, Outcome("infra_error", str(e), n_cases=u.plan.n))
        return
    mem = ctx.limits.memory_mb
    lim_run = ctx.limits.run(memory_extra_mb=2048, nproc=ctx.limits.nproc + 256)
    env = run_env()

    def build_batch(group: list[Unit]) -> tuple[bool, str, dict]:
        d = ctx.new_dir("java-")
        files = []
        for i, u in enumerate(group):
            pkg = Path(d) / "src" / f"p{i}"
            pkg.mkdir(parents=True)
            (pkg / "Main.java").write_text(f"package p{i};\n" + u.program.code + "\n" + u.plan.test)
            files.append(f"src/p{i}/Main.java")
        res = compile_step(ctx, d, [javac, *JAVAC_J, *JAVAC_FLAGS, "-cp", rt, "-d", "classes", *files],
                           build_env(ctx, d), n_programs=len(group), ro=(rt,))
        return build_ok(res), build_log(res), {"dir": d, "group": list(group)}

    def blame(log: str, group: list[Unit], art: dict) -> set[int]:
        return {int(m.group(1)) for m in re.finditer(r"src/p(\d+)/Main\.java:\d+", log) if int(m.group(1)) < len(group)}

    def run_batch(part: list[Unit], art: dict) -> None:
        index = {u.key: i for i, u in enumerate(art["group"])}
        cp = os.path.join(art["dir"], "classes") + os.pathsep + rt
        server = {"argv": [java, *jvm_flags(mem), "-cp", cp, "wbrt.Runner"], "env": env, "limits": {**lim_run, "cpu": None}}

        def job(u: Unit) -> dict:
            return {"id": u.key, "mode": "server", "cases": u.plan.n, "limits": lim_run,
                    "request": {"cls": f"p{index[u.key]}.Main"}}
        run_jobs(ctx, part, job, {"server": server, "ro": (rt,)},
                 outcome=lambda u, r: Outcome(run=r, n_cases=u.plan.n, labels=u.plan.labels))

    def single(u: Unit) -> None:
        def write(d: str, instrumented: bool) -> tuple[int, int]:
            Path(d, "Main.java").write_text(u.program.code + "\n" + (u.plan.test if instrumented else u.program.test))
            return 1, u.program.code.count("\n") + 1

        def job(d: str, instrumented: bool) -> dict:
            cls = _main_class(u.program.code + "\n" + u.program.test)
            return {"id": u.key, "mode": "exec", "cases": u.plan.n if instrumented else 0, "limits": lim_run,
                    "env": env, "argv": [java, *jvm_flags(mem), "-cp", d + os.pathsep + rt, "wbrt.Runner", "--once", cls]}

        run_single(ctx, u, prefix="java1-", filename="Main.java", write=write, job=job, sup_kwargs={"ro": (rt,)},
                   compile_=lambda d: compile_step(ctx, d, [javac, *JAVAC_J, *JAVAC_FLAGS, "-cp", rt, "-d", ".",
                                                            "Main.java"], build_env(ctx, d), ro=(rt,)))

    plan = BatchPlan("java", build_batch, blame, run_batch, single, max_batch=200)
    batch_units = [u for u in units if batchable(u)]
    # one javac for the lot: javac warms up slowly, so two half batches cost more CPU than one
    groups = [batch_units] if batch_units else []
    drive_batches(ctx, plan, groups)
    for u in units:
        if not batchable(u):
            ctx.submit(P_SINGLE, lambda u=u: single(u))


def _main_class(text: str) -> str:
    m = re.search(r"^\s*package\s+([\w.]+)\s*;", mask(text, "java"), re.M)
    return (m.group(1) + ".Main") if m else "Main"
