"""The submission: `check` on hand-made good and broken folders and zips, and `build` from a
complete greedy validation (no generation: the fixture's validations carry bigcode files).
The real-model build is in tests/test_submit_model.py."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine.compare import mark_checkpoint
from engine.errors import WorkbenchError
from engine.submit import build_submission, check_submission, write_zip
from engine.submit.layout import default_problem_ids
from engine.validate.tasks import CONTEST_TASKS
from tests.conftest import shared_data
from tests.test_compare_fixtures import ckpt_info, compare_ws, contest_problems, passes, write_validation  # noqa: F401


def make_folder(root: Path, model: str = "team-qwen", *, program=None, tasks=CONTEST_TASKS) -> Path:
    """A correct submission folder: 13 files, every problem, one program each."""
    d = root / f"generations_{model}"
    d.mkdir(parents=True)
    for t in tasks:
        ids = default_problem_ids(t)
        prog = program or (lambda t, i: f"def f():\n    return {i!r}\n")
        (d / f"generations_{t}_{model}.json").write_text(json.dumps([[prog(t, i)] for i in ids]))
    return d


def _errors(rep) -> str:
    return "\n".join(rep.all_errors())


def test_good_folder_and_zip(tmp_path: Path) -> None:
    d = make_folder(tmp_path)
    rep = check_submission(d)
    assert rep.ok and rep.complete and rep.model == "team-qwen" and rep.kind == "folder"
    assert [t.task for t in rep.tasks] == CONTEST_TASKS
    assert sum(t.found for t in rep.tasks) == 2468
    mbpp = rep.tasks[-1]
    assert (mbpp.expected, mbpp.found) == (500, 500)
    # every problem found is reported, with its id
    assert mbpp.problems[0].task_id == "11" and mbpp.problems[-1].task_id == "510"
    assert rep.tasks[4].problems[163].task_id == "CPP/163" and rep.tasks[4].problems[163].chars > 0
    z = write_zip(d, tmp_path / "generations_team-qwen.zip")
    rz = check_submission(z)
    assert rz.ok and rz.kind == "zip" and rz.files[0] == "generations_team-qwen/" and len(rz.files) == 14
    # the zip is byte-for-byte reproducible
    z2 = write_zip(d, tmp_path / "again.zip")
    assert z.read_bytes() == z2.read_bytes()
    # a parent folder holding exactly one submission folder is checked through it
    assert check_submission(tmp_path).ok


@pytest.mark.parametrize("breakage, expected", [
    ("missing file", "generations_mbpp_team-qwen.json: missing"),
    ("wrong name", "not one of the expected tasks' files"),
    ("other model", "model name 'other' differs from the folder's 'team-qwen'"),
    ("invalid json", "invalid JSON at line 1, column"),
    ("missing problem", "163 problems, expected 164: missing Rust/163"),
    ("too many", "165 problems, expected 164: 1 too many"),
    ("non-string", "1 programs are not strings: #5 (Python/5): int"),
    ("not a list", "1 entries are not a list of programs"),
    ("inner length", "2 problems do not hold exactly one program (the contest is greedy: n = 1): #0 (Go/0): 2 "
                     "programs, #7 (Go/7): 0 programs"),
    ("top level", "the top level is a JSON dict"),
    ("extra file", "unexpected file 'notes.txt'"),
    ("subfolder", "unexpected folder 'old/'"),
])
def test_broken_folders(tmp_path: Path, breakage: str, expected: str) -> None:
    d = make_folder(tmp_path)
    f = lambda t: d / f"generations_{t}_team-qwen.json"  # noqa: E731
    if breakage == "missing file":
        f("mbpp").unlink()
    elif breakage == "wrong name":
        f("mbpp").rename(d / "generations_mbpp-test_team-qwen.json")
    elif breakage == "other model":
        f("mbpp").rename(d / "generations_mbpp_other.json")
    elif breakage == "invalid json":
        f("mbpp").write_text('[["ok"], ["unterminated]')
    elif breakage == "missing problem":
        data = json.loads(f("humanevalfixtests-rust").read_text())
        f("humanevalfixtests-rust").write_text(json.dumps(data[:-1]))
    elif breakage == "too many":
        data = json.loads(f("humanevalsynthesize-js").read_text())
        f("humanevalsynthesize-js").write_text(json.dumps(data + [["x"]]))
    elif breakage == "non-string":
        data = json.loads(f("humanevalsynthesize-python").read_text())
        data[5] = [42]
        f("humanevalsynthesize-python").write_text(json.dumps(data))
    elif breakage == "not a list":
        data = json.loads(f("humanevalsynthesize-java").read_text())
        data[3] = "def f(): pass"
        f("humanevalsynthesize-java").write_text(json.dumps(data))
    elif breakage == "inner length":
        data = json.loads(f("humanevalfixtests-go").read_text())
        data[0], data[7] = ["a", "b"], []
        f("humanevalfixtests-go").write_text(json.dumps(data))
    elif breakage == "top level":
        f("mbpp").write_text(json.dumps({"11": ["x"]}))
    elif breakage == "extra file":
        (d / "notes.txt").write_text("hi")
    elif breakage == "subfolder":
        (d / "old").mkdir()
    rep = check_submission(d)
    assert not rep.ok
    assert expected in _errors(rep), _errors(rep)
    # the same defect is found inside a zip
    rz = check_submission(write_zip(d, tmp_path / "s.zip")) if breakage != "subfolder" else rep
    assert not rz.ok and expected in _errors(rz)


def test_file_count_and_name_errors(tmp_path: Path) -> None:
    d = make_folder(tmp_path)
    (d / f"generations_{CONTEST_TASKS[0]}_team-qwen.json").unlink()
    (d / f"generations_{CONTEST_TASKS[1]}_team-qwen.json").unlink()
    rep = check_submission(d)
    assert "11 files, expected exactly 13 (one per task)" in rep.errors
    assert [t.task for t in rep.tasks if not t.present] == CONTEST_TASKS[:2]
    # a folder not named generations_<model> (it is zipped as is)
    other = tmp_path / "x" / "my-submission"
    other.parent.mkdir()
    make_folder(other.parent, "m").rename(other)
    rep = check_submission(other)
    assert not rep.ok and "the contest's folder is named generations_<model>" in _errors(rep)
    assert all(t.present for t in rep.tasks)       # the files themselves are still checked
    with pytest.raises(WorkbenchError, match="no such folder or zip"):
        check_submission(tmp_path / "nope")
    (tmp_path / "fake.zip").write_text("not a zip")
    with pytest.raises(WorkbenchError, match="not a zip file"):
        check_submission(tmp_path / "fake.zip")


def test_broken_zips(tmp_path: Path) -> None:
    d = make_folder(tmp_path / "src")
    files = sorted(d.iterdir())

    def zipped(name: str, entries: list[tuple[str, bytes]]) -> Path:
        p = tmp_path / name
        with zipfile.ZipFile(p, "w") as zf:
            for n, data in entries:
                zf.writestr(n, data)
        return p

    flat = zipped("flat.zip", [(f.name, f.read_bytes()) for f in files])    # files without their folder
    rep = check_submission(flat)
    assert not rep.ok and "is not inside a folder" in _errors(rep)
    junk = zipped("junk.zip", [(f"{d.name}/{f.name}", f.read_bytes()) for f in files]
                  + [("__MACOSX/._x", b""), (f"{d.name}/.DS_Store", b"")])
    rep = check_submission(junk)
    assert "unexpected folder '__MACOSX/'" in _errors(rep) and "unexpected file '.DS_Store'" in _errors(rep)
    deep = zipped("deep.zip", [(f"out/{d.name}/{f.name}", f.read_bytes()) for f in files])
    assert "nested too deep" in _errors(check_submission(deep))
    two = zipped("two.zip", [(f"{d.name}/{f.name}", f.read_bytes()) for f in files]
                 + [("generations_b/x.json", b"[]")])
    assert "several submission folders" in _errors(check_submission(two))
    bad_utf8 = zipped("utf.zip", [(f"{d.name}/{f.name}", b"\xff\xfe[]" if "mbpp" in f.name else f.read_bytes())
                                  for f in files])
    assert "not UTF-8" in _errors(check_submission(bad_utf8))


def test_against_benchmark_files(tmp_path: Path) -> None:
    """With the benchmark files, ids come from them and a program that never mentions its
    problem's function (a shuffled file) is flagged."""
    from engine.validate.tasks import load_task

    data = shared_data()
    eps = {t: [p.entry_point for p in load_task(t, data_dir=data).problems] for t in CONTEST_TASKS}
    d = make_folder(tmp_path, program=lambda t, i: "")
    for t in CONTEST_TASKS:
        progs = [[f"def {ep}(x):\n    return x\n"] for ep in eps[t]]
        if t == "mbpp":
            progs = progs[1:] + progs[:1]          # shifted by one problem
        (d / f"generations_{t}_team-qwen.json").write_text(json.dumps(progs))
    rep = check_submission(d, data_dir=data)
    assert rep.ok        # warnings only: a model may write anything
    mbpp = rep.tasks[-1]
    assert mbpp.problems[0].task_id == "11" and mbpp.problems[0].mentions_entry_point is False
    assert any("is the problem order right?" in w for w in mbpp.warnings)
    assert not rep.tasks[0].warnings and rep.tasks[0].problems[0].mentions_entry_point is True
    empty = json.loads((d / "generations_humanevalsynthesize-go_team-qwen.json").read_text())
    empty[3] = ["  \n"]
    (d / "generations_humanevalsynthesize-go_team-qwen.json").write_text(json.dumps(empty))
    rep = check_submission(d, data_dir=data)
    assert any("1 empty programs (they score 0): #3 (Go/3)" in w for w in rep.all_warnings())


# -- build from validations ---------------------------------------------------------------------------

def test_build_reuses_the_marked_validation(compare_ws, tmp_path: Path) -> None:
    ws, run_a, v200 = compare_ws["ws"], compare_ws["run_a"], compare_ws["v200"]
    with pytest.raises(WorkbenchError, match="no checkpoint is marked"):
        build_submission(ws)
    mark_checkpoint(ws, f"{run_a.id}@200", validation=v200.id)
    res = build_submission(ws)
    assert res.reused and res.validation == v200.id and res.contest_ready and not res.trial
    assert res.model_name == "lora-a-step200"
    assert res.out_dir == ws.root / "submissions" / "lora-a-step200"
    assert res.zip.name == "generations_lora-a-step200.zip" and res.folder.name == "generations_lora-a-step200"
    assert res.check.ok and res.check.complete and res.check.kind == "zip"
    assert sorted(p.name for p in res.folder.iterdir()) == sorted(f"generations_{t}_lora-a-step200.json"
                                                                  for t in CONTEST_TASKS)
    # the files are the validation's bigcode files, renamed
    for t in ("mbpp", "humanevalfixtests-rust"):
        assert json.loads((res.folder / f"generations_{t}_lora-a-step200.json").read_text()) == \
            json.loads((v200.bigcode_dir / f"generations_{t}.json").read_text())
    rec = json.loads((res.out_dir / "build.json").read_text())
    assert rec["validation"] == v200.id and rec["contest_ready"] and rec["checkpoint"]["step"] == 200
    assert rec["predicted"]["contest_score"] == pytest.approx(v200.summary()["contest_score"])
    # the result passes the standalone check too
    assert check_submission(res.zip).ok
    # building again needs --force; then it replaces
    with pytest.raises(WorkbenchError, match="exists; .*--force"):
        build_submission(ws)
    again = build_submission(ws, force=True, model_name="lora-a-step200")
    assert again.zip.read_bytes() == res.zip.read_bytes()


def test_build_picks_a_usable_validation_and_refuses_the_rest(compare_ws, tmp_path: Path) -> None:
    from engine.validate.generate import GenSettings

    ws, run_a, base = compare_ws["ws"], compare_ws["run_a"], compare_ws["base"]
    # marked on the partial (quick) validation: the complete one of the same checkpoint is used
    mark_checkpoint(ws, f"{run_a.id}@200", validation=compare_ws["vq"].id)
    res = build_submission(ws, out=tmp_path / "o1", model_name="m1")
    assert res.validation == compare_ws["v200"].id and res.reused
    # --from-validation: refused with the reasons when not a complete greedy contest run
    with pytest.raises(WorkbenchError, match=r"cannot be submitted: it did not score humanevalsynthesize-js.*"):
        build_submission(ws, from_validation=compare_ws["vq"].id, out=tmp_path / "o2")
    sampled = write_validation(ws, label="sampled", checkpoint=ckpt_info(run_a, 100, base), problems=contest_problems(),
                               solved=passes(0.3, 5), settings=GenSettings(n=1, do_sample=True).model_dump())
    with pytest.raises(WorkbenchError, match="not greedy .*do_sample true"):
        build_submission(ws, from_validation=sampled.id, out=tmp_path / "o3")
    sub = write_validation(ws, label="subset", checkpoint=ckpt_info(run_a, 100, base),
                           problems=contest_problems(per_task=3),
                           totals={t: len(default_problem_ids(t)) for t in CONTEST_TASKS}, solved=passes(0.3, 6))
    with pytest.raises(WorkbenchError, match=r"scored a subset of humanevalsynthesize-python \(3 of 164\)"):
        build_submission(ws, from_validation=sub.id, out=tmp_path / "o4")
    with pytest.raises(WorkbenchError, match="prompt format is 'contest', not 'chat'"):
        build_submission(ws, from_validation=compare_ws["v100"].id, fmt="chat", out=tmp_path / "o5")
    # greedy is enforced for new generations too (refused before anything loads)
    with pytest.raises(WorkbenchError, match="greedy: n = 1"):
        build_submission(ws, checkpoint=f"{run_a.id}@100", settings=GenSettings(n=4), out=tmp_path / "o6")
    with pytest.raises(WorkbenchError, match="model name 'a b'"):
        build_submission(ws, from_validation=compare_ws["v100"].id, model_name="a b")
    # a trial build from a validation: restricted tasks, flagged, its own check restricted too
    trial = build_submission(ws, from_validation=compare_ws["v100"].id, tasks=["mbpp", "humanevalsynthesize-go"],
                             out=tmp_path / "o7", model_name="t")
    assert trial.trial and not trial.contest_ready and trial.check.ok and not trial.check.complete
    assert not check_submission(trial.zip).ok        # the standalone check demands all 13


def test_build_checks_problem_order(compare_ws, tmp_path: Path) -> None:
    ws, run_a, base = compare_ws["ws"], compare_ws["run_a"], compare_ws["base"]
    probs = contest_problems()
    probs["mbpp"] = probs["mbpp"][1:] + probs["mbpp"][:1]          # a validation in another order
    v = write_validation(ws, label="shuffled", checkpoint=ckpt_info(run_a, 100, base), problems=probs,
                         solved=passes(0.3, 7))
    with pytest.raises(WorkbenchError, match="task mbpp: its problems differ from the benchmark's .*first difference "
                                             "at #0"):
        build_submission(ws, from_validation=v.id, out=tmp_path / "o")


def _cli(ws, *args):
    from workbench.cli import app
    from workbench.context import STATE

    STATE._ws = None
    try:
        return CliRunner().invoke(app, ["--workspace", str(ws.root), "submit", *args])
    finally:
        STATE._ws = None


def test_cli_build_and_check(compare_ws, tmp_path: Path) -> None:
    ws = compare_ws["ws"]
    out = _cli(ws, "build", "--from-validation", compare_ws["v100"].id, "--model-name", "cli-model",
               "--out", str(tmp_path / "s"), "--json")
    assert out.exit_code == 0, out.output
    res = json.loads(out.stdout)
    assert res["contest_ready"] and res["check"]["ok"] and res["zip"].endswith("generations_cli-model.zip")
    out = _cli(ws, "check", res["zip"])
    assert out.exit_code == 0 and "OK: 13 files, 2468 problems, one program each" in out.stdout
    out = _cli(ws, "check", res["folder"], "--json")
    rep = json.loads(out.stdout)
    assert rep["ok"] and len(rep["tasks"]) == 13 and len(rep["tasks"][12]["problems"]) == 500
    out = _cli(ws, "check", res["folder"], "--problems")
    assert "#499  510" in out.stdout
    Path(res["folder"], "generations_mbpp_cli-model.json").write_text("[[")
    out = _cli(ws, "check", res["folder"])
    assert out.exit_code == 1 and "invalid JSON" in out.stdout and "NOT OK" in out.stdout
    out = _cli(ws, "build", "--from-validation", compare_ws["vq"].id, "--out", str(tmp_path / "t"))
    assert out.exit_code == 1 and "cannot be submitted" in out.output
    out = _cli(ws, "build", "--from-validation", compare_ws["v200"].id, "--out", str(tmp_path / "p"),
               "--progress-jsonl")
    events = [json.loads(x) for x in out.stdout.splitlines()]
    assert {e["phase"] for e in events if e["event"] == "progress"} >= {"resolve", "write", "zip", "check"}
    assert events[-1]["event"] == "done" and events[-1]["contest_ready"] and events[-1]["reused"]


def test_restricted_check_of_tasks_without_known_counts(tmp_path: Path) -> None:
    """An API caller checking a trial build of its own problem files: counts it cannot know are
    said to be unchecked, everything else is still checked."""
    d = tmp_path / "generations_m"
    d.mkdir()
    (d / "generations_toy_m.json").write_text(json.dumps([["a"], ["b"]]))
    (d / "generations_mbpp_m.json").write_text(json.dumps([["x"]] * 500))
    rep = check_submission(d, tasks=["toy", "mbpp"])
    assert rep.ok and not rep.complete and rep.tasks[0].expected is None and rep.tasks[0].found == 2
    assert "cannot tell how many problems task 'toy' has" in rep.warnings[0]
    rep = check_submission(d, tasks=["toy", "mbpp"], expected={"toy": [{"task_id": "t1"}, {"task_id": "t2"},
                                                                        {"task_id": "t3"}], "mbpp": []})
    assert "2 problems, expected 3: missing t3" in _errors(rep)
