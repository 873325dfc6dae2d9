"""The submission builder for real, with the tiny model: a LoRA run checkpoint is merged, the
merged model generates greedily on a reduced task list (a trial build), the files are
written, zipped and checked; generating with the adapter unmerged gives the same programs;
`--merged-model` gives a plain model folder with the same outputs as base + adapter."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from engine.fsutil import atomic_write_json
from engine.runs import RunState, create_run
from engine.submit import build_submission, check_submission
from engine.workspace import ModelEntry, Workspace
from tests.conftest import SHARED_DATA


def make_lora_run(ws: Workspace, base: Path, step: int = 10) -> object:
    """A run checkpoint as the trainer writes it: adapter/ (peft, non-zero LoRA B so the merge
    changes the weights) + tokenizer, checkpoint.json, config.json."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    run = create_run(ws.runs_dir, name="tiny-lora", config={"model": {"path": str(base)}})
    d = run.checkpoint_dir(step)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(str(base)),
                           LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"))
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "lora_B" in n:
                p.copy_(torch.randn(p.shape, generator=g) * 0.05)
    model.save_pretrained(str(d / "adapter"))
    AutoTokenizer.from_pretrained(str(base)).save_pretrained(str(d / "adapter"))
    atomic_write_json(d / "checkpoint.json", {"step": step, "kind": "final", "weights": "adapter",
                                              "base_model": str(base), "peft": "lora", "valid_loss": 2.5,
                                              "time": time.time()})
    run.write_status(RunState.COMPLETED, step=step, total_steps=step)
    return run


@pytest.fixture
def lora_ws(tmp_path: Path, tiny_model_dir: Path, demo_root: Path, torch_single_thread):
    ws = Workspace.init(tmp_path / "ws", name="submit")
    ws.config.models["tiny"] = ModelEntry(path=str(tiny_model_dir))
    ws.save()
    return ws, make_lora_run(ws, tiny_model_dir), demo_root / "data" / "toy" / "heldout" / "python.jsonl"


def test_build_with_the_tiny_model(lora_ws, tmp_path: Path) -> None:
    from engine.compare import mark_checkpoint
    from engine.validate.store import ValidationDir

    ws, run, toy = lora_ws
    hep = (SHARED_DATA / "humanevalpack" / "python.jsonl").is_file()
    tasks = [str(toy)] + (["humanevalsynthesize-python"] if hep else [])
    mark_checkpoint(ws, f"{run.id}@10")
    phases: list[str] = []
    res = build_submission(ws, tasks=tasks, limit=3, model_name="tiny-lora", data_dir=SHARED_DATA if hep else None,
                           settings=_settings(), progress=lambda ph, d, t, i: phases.append(ph))
    # the LoRA checkpoint was merged (the contest generated with one merged model) ...
    merged = run.path / "merged" / "step-0000010"
    assert res.merged == merged and (merged / "workbench-merge.json").is_file()
    assert {"resolve", "merge", "load", "generate", "execute", "write", "zip", "check"} <= set(phases)
    # ... the generation is a validation of that checkpoint (Compare and Validation show it)
    v = ValidationDir(ws.validations_dir / res.validation)
    meta = v.meta()
    assert meta["checkpoint"]["run"] == run.id and meta["checkpoint"]["step"] == 10
    assert meta["checkpoint"]["model"] == str(merged) and meta["checkpoint"]["adapter"] is None
    assert meta["settings"]["n"] == 1 and meta["settings"]["do_sample"] is False
    assert meta["format"]["name"] == "contest" and not res.reused
    # the files: one per task, three problems each, one string per problem; zipped and checked
    names = ["python"] + (["humanevalsynthesize-python"] if hep else [])
    assert res.tasks == names and res.trial and not res.contest_ready
    if hep:   # a trial's predicted score is a labelled subset, and its batching is a noted departure
        assert res.predicted["contest"]["scope"] == "subset (3 of 2468 problems)"
        assert res.predicted["contest_score"] is None
    assert any(n.startswith("differs from the contest's generation: batched (8 prompts") for n in res.notes)
    assert sorted(p.name for p in res.folder.iterdir()) == sorted(f"generations_{t}_tiny-lora.json" for t in names)
    for t in names:
        data = json.loads((res.folder / f"generations_{t}_tiny-lora.json").read_text())
        assert len(data) == 3 and all(isinstance(x, list) and len(x) == 1 and isinstance(x[0], str) for x in data)
        assert data == json.loads((v.bigcode_dir / f"generations_{t}.json").read_text())
    assert res.check.ok and [t.found for t in res.check.tasks] == [3] * len(names)
    assert check_submission(res.zip, tasks=names, expected={t: [{"task_id": p.task_id, "entry_point": ""}
                                                                for p in res.check.tasks[i].problems]
                                                            for i, t in enumerate(names)}).ok
    if hep:   # a HumanEvalPack program is the prompt plus the model's continuation, as bigcode saves it
        first = json.loads((res.folder / "generations_humanevalsynthesize-python_tiny-lora.json").read_text())[0][0]
        assert first.startswith("from typing import List\n\n\ndef has_close_elements(")
    # generating with the adapter applied unmerged gives the same greedy programs
    res2 = build_submission(ws, tasks=tasks, limit=3, model_name="tiny-lora-unmerged", merge=False, fresh=True,
                            data_dir=SHARED_DATA if hep else None, settings=_settings())
    assert ValidationDir(ws.validations_dir / res2.validation).meta()["checkpoint"]["adapter"]
    assert any("without merging" in n for n in res2.notes)
    for t in names:
        assert json.loads((res2.folder / f"generations_{t}_tiny-lora-unmerged.json").read_text()) == \
            json.loads((res.folder / f"generations_{t}_tiny-lora.json").read_text())
    raw1 = [g["raw"] for g in v.generations()]
    raw2 = [g["raw"] for g in ValidationDir(ws.validations_dir / res2.validation).generations()]
    # the same greedy text (the random tiny model may repeat one string for every prompt: the
    # logits-level equality of merged vs adapter is asserted in test_merged_model_folder)
    assert raw1 == raw2 and all(raw1)


def _settings():
    from engine.validate.generate import GenSettings

    return GenSettings(max_new_tokens=24, batch_size=8)


def test_merged_model_folder(lora_ws, tmp_path: Path, tiny_model_dir: Path) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    ws, run, _ = lora_ws
    res = build_submission(ws, checkpoint=f"{run.id}@10", merged_model=True, out=tmp_path / "sub", model_name="m")
    dest = tmp_path / "sub" / "m"
    assert res.merged == dest and res.kind == "merged-model" and res.contest_ready
    assert (dest / "config.json").is_file() and (dest / "model.safetensors").is_file()
    assert json.loads((tmp_path / "sub" / "build.json").read_text())["merged"] == str(dest)
    ids = torch.tensor([[1, 5, 9, 42, 7]])
    merged = AutoModelForCausalLM.from_pretrained(str(dest)).eval()
    peft = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(str(tiny_model_dir)),
                                     str(run.checkpoint_dir(10) / "adapter")).eval()
    base = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir)).eval()
    with torch.no_grad():
        a, b, c = merged(ids).logits, peft(ids).logits, base(ids).logits
    assert torch.allclose(a, b, atol=1e-4) and not torch.allclose(a, c, atol=1e-3)
    from engine.errors import WorkbenchError

    with pytest.raises(WorkbenchError, match="exists"):
        build_submission(ws, checkpoint=f"{run.id}@10", merged_model=True, out=tmp_path / "sub", model_name="m")
    with pytest.raises(WorkbenchError, match="already a full model folder"):
        build_submission(ws, checkpoint=str(tiny_model_dir), merged_model=True, out=tmp_path / "x")
