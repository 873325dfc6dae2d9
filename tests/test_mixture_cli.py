"""`workbench mix ...` through the real entry point (subprocesses; none of them imports torch)."""

from __future__ import annotations

import json
from pathlib import Path


from engine.mixture import store
from engine.mixture.materialize import materialize
from engine.workspace import Workspace
from tests.conftest import run_cli
from tests.test_mixture_support import link_datasets



def mix(ws: Workspace, *args: str, env: dict | None = None):
    return run_cli("--workspace", str(ws.root), "mix", *args, env=env)


def test_new_show_balance_set(ws: Workspace) -> None:
    out = mix(ws, "new", "cli", "-t", "code=code_alpaca,evol_alpaca", "-d", "leetcode", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["spec"]["tasks"]["code"]["sources"] == [{"dataset": "code_alpaca"},
                                                                          {"dataset": "evol_alpaca"}]
    show = json.loads(mix(ws, "show", "cli", "--json").stdout)
    assert show["id"] and not show["missing"] and show["inputs"]["leetcode"]["rows"] == 1890
    bal = json.loads(mix(ws, "balance", "cli", "--json").stdout)
    here = store.balance_for(ws, store.open_spec(ws, "cli"), "cli").to_dict()
    assert bal == json.loads(json.dumps(here)) and bal["id"] == show["id"]
    text = mix(ws, "balance", "cli").stdout
    assert "TASKS" in text and "LANGUAGES" in text and "TASK x LANGUAGE" in text and "█" in text
    lc_before = next(t for t in bal["tasks"] if t["task"] == "leetcode")["share_tokens"]
    after = json.loads(mix(ws, "set", "cli", "leetcode", "--weight", "0.5", "--json").stdout)
    lc_after = next(t for t in after["tasks"] if t["task"] == "leetcode")["share_tokens"]
    assert lc_after < lc_before and store.open_spec(ws, "cli").tasks["leetcode"].sources[0].weight == 0.5
    out = mix(ws, "set", "cli", "code", "--tokens", "300k")
    assert out.returncode == 1 and "--source" in out.stderr  # two sources: say which
    out = mix(ws, "set", "cli", "code", "--source", "evol_alpaca", "--tokens", "300k", "--json")
    assert out.returncode == 0 and store.open_spec(ws, "cli").tasks["code"].sources[1].tokens == 300_000
    # errors: one line, exit 1, no traceback, nothing changed
    before = (ws.mixtures_dir / "cli.toml").read_text()
    for args, words in ((("set", "cli", "nope", "--weight", "1"), "no task 'nope'"),
                        (("set", "cli", "leetcode", "--weight", "2000"), "less than or equal to 1000"),
                        (("add", "cli", "bad name", "leetcode"), "task name 'bad name'"),
                        (("show", "absent"), "workbench mix new absent"),
                        (("new", "cli"), "--force"),
                        (("add", "cli", "code", "not_processed"), "not a processed dataset")):
        out = mix(ws, *args)
        assert out.returncode == 1 and words in out.stderr and "Traceback" not in out.stderr, (args, out.stderr)
    assert (ws.mixtures_dir / "cli.toml").read_text() == before
    assert mix(ws, "add", "cli", "extra", "evol_alpaca", "--weight", "0.1").returncode == 0
    assert mix(ws, "remove", "cli", "extra").returncode == 0
    assert json.loads(mix(ws, "list", "--json").stdout)[0]["tasks"] == ["leetcode", "code"]  # -d tasks, then -t


def test_materialize_under_another_world_size_gives_the_same_build(ws: Workspace, tmp_path: Path,
                                                                    processed: Path) -> None:
    mix(ws, "new", "w", "-d", "code_alpaca", "-d", "leetcode")
    mix(ws, "set", "w", "code_alpaca", "--weight", "0.7")
    out = mix(ws, "materialize", "w", "--no-tokenize", "--json",
              env={"WORLD_SIZE": "8", "RANK": "5", "LOCAL_RANK": "5"})
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    other = Workspace.init(tmp_path / "single")
    link_datasets(other, processed)
    store.write_spec(other, "w", store.open_spec(ws, "w"))
    here = materialize(other, "w", tokenize_cache=False)
    assert here.id == res["id"]
    for task in ("code_alpaca", "leetcode"):
        for split in ("train", "valid"):
            assert (here.build_dir / task / f"{split}.jsonl").read_bytes() == \
                (Path(res["build_dir"]) / task / f"{split}.jsonl").read_bytes()
    again = json.loads(mix(ws, "materialize", "w", "--no-tokenize", "--json").stdout)
    assert again["cached"] and again["id"] == res["id"]
    # --progress-jsonl (what the Mixtures screen reads): progress events, then the result as a "done" event
    events = [json.loads(x) for x in mix(ws, "materialize", "w", "--no-tokenize", "--progress-jsonl",
                                         env={"WORLD_SIZE": "1"}).stdout.splitlines()]
    assert events[-1]["event"] == "done" and events[-1]["id"] == res["id"]
    assert all(e["event"] == "progress" and {"phase", "done", "total"} <= set(e) for e in events[:-1])


def test_export_and_import_mftcoder(ws: Workspace, tmp_path: Path) -> None:
    mix(ws, "new", "ex", "-d", "evol_alpaca", "-d", "leetcode")
    out_dir = tmp_path / "mft"
    out = mix(ws, "export-mftcoder", "ex", str(out_dir), "--data-root", "/data/ex", "--json")
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    cfg = json.loads((out_dir / "train_config.json").read_text())
    assert cfg["data_paths"] == "[/data/ex/evol_alpaca,/data/ex/leetcode]" and cfg["data_split"] == "95,5,0"
    assert cfg["evalation_steps"] and cfg["padding_mode"] == "pack" and res["notes"]
    other = Workspace.init(tmp_path / "other")
    out = run_cli("--workspace", str(other.root), "mix", "import-mftcoder", str(out_dir / "train_config.json"),
                  "--name", "back", "--data-paths", f"[{out_dir}/evol_alpaca,{out_dir}/leetcode]",
                  "--no-count-tokens", "--progress-jsonl")
    assert out.returncode == 0, out.stderr
    imp = json.loads(out.stdout.splitlines()[-1])   # the "done" event the Mixtures screen reads
    assert imp["event"] == "done"
    assert {t: d["rows"] for t, d in imp["tasks"].items()} == res["tasks"] == {"evol_alpaca": 2017, "leetcode": 1890}
    assert (other.root / "configs" / "back.toml").exists()
    # an export target that is not ours is never overwritten
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    out = mix(ws, "export-mftcoder", "ex", str(foreign))
    assert out.returncode == 1 and "not a workbench export" in out.stderr and (foreign / "keep.txt").exists()
