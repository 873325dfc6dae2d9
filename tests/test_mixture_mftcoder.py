"""MFTCoder interop: import the contest's config + task folders, export the layout and config,
and the round trip keeps every key the contest used."""

from __future__ import annotations

import gzip
import json
import tomllib
from pathlib import Path

import pytest

from engine.errors import InputError
from engine.mixture import store
from engine.mixture.mftcoder import export_mftcoder, import_mftcoder
from engine.workspace import Workspace
from tests.conftest import shared_data
from tests.test_mixture_support import tiny_tokenizer

# codefuse-ai/MFTCoder, branch codeqwen_competition: mft_peft_hf/src/pefts/configs/qwen_train_config_1_8B.json
CONTEST_CONFIG = """{
    "load_raw_dataset": true,
    "data_paths": "[/path/to/dataset1,/path/to/dataset2]",
    "output_dir": "/path/to/store/fine-tuned/model",
    "tb_dir": "/path/to/store/tensorboard/log",
    "pretrained_model_path": "/path/to/Qwen-1_8B/model",
    "vocab_file": "/path/to/Qwen-1_8B/model",
    "low_cpu_mem_usage": true,
    "data_split": "95,5,0",
    "padding_mode": "padding",
    "tokenize_mode": "sft",
    "weighted_loss_mode": "case3",
    "model_type": "qwen",
    "peft_type": "lora",
    "quantization": "16bit",
    "lora_rank": 96,
    "lora_alpha": 32,
    "lora_dropout": 0.05,
    "per_device_train_batch_size": 8,
    "per_device_eval_batch_size": 8,
    "tokenizer_type": "AutoTokenizer",
    "learning_rate": 5e-5,
    "min_lr": 1e-6,
    "weight_decay": 0.1,
    "gradient_accumulation_steps": 1,
    "lr_scheduler_type": "cosine",
    "num_warmup_steps": 300,
    "num_train_epochs": 10,
    "seed": 1234,
    "seq_length": 4096,
    "resume_from_checkpoint": null,
    "log_interval": 100,
    "checkpointing_steps": 1000,
    "evalation_steps": 1000,
    "max_train_steps": null,
    "epoch_checkpointing": true,
    "shuffle_before_split": true,
    "use_random_sampler": true,
    "early_stopping": true,
    "early_stopping_stall_num": 2,
    "weight_by_num_documents": true,
    "make_vocab_size_divisible_by": 128,
    "model_parallel_size": 1,
    "use_slow_tokenizer": false,
    "use_xformers": true,
    "trust_remote_code": true,
    "use_dynamic_padding": true,
    "world_size": 8
}"""

AGREED_RUN_KEYS = {
    "model": {"path", "trust_remote_code", "template"},
    "data": {"mixture", "seq_length", "packing", "overlong"},
    "peft": {"method", "lora_rank", "lora_alpha", "lora_dropout", "target_modules"},
    "optim": {"lr", "min_lr", "weight_decay", "warmup_steps", "betas", "max_grad_norm", "scheduler"},
    "loop": {"epochs", "max_steps", "micro_batch_size", "grad_accum", "log_every", "eval_every", "save_every",
             "keep_last", "keep_best", "early_stopping_patience", "seed", "bf16", "gradient_checkpointing"},
    "loss": {"mode", "task_weights"},
    "launch": {"num_gpus", "num_machines", "machine_rank", "main_process_ip", "main_process_port",
               "deepspeed_stage", "offload_optimizer", "offload_params"},
}


def make_contest(root: Path, **overrides) -> Path:
    """The contest config over two task folders: chat_rounds + prompt/answer files, a few bad lines."""
    alpaca = json.loads(shared_data("instruct", "code_alpaca_2k.json").read_text())
    code = root / "data" / "code_instruct"
    code.mkdir(parents=True)
    with open(code / "part-0.jsonl", "w") as f:
        for i, r in enumerate(alpaca[:400]):
            f.write(json.dumps({"id": f"ca{i}", "data_name": "code", "chat_rounds": [
                {"role": "system", "content": "You are a coding assistant."},
                {"role": "human", "content": r["instruction"] + ("\n" + r["input"] if r["input"] else "")},
                {"role": "bot", "content": r["output"]}]}) + "\n")
        f.write('{"chat_rounds": [{"role": "human", "content": "hi"}\n')                       # line 401: bad JSON
        f.write(json.dumps({"chat_rounds": [{"role": "narrator", "content": "x"}]}) + "\n")     # line 402: bad role
    with open(code / "part-1.jsonl", "wb") as f:
        for r in alpaca[400:600]:
            f.write((json.dumps({"prompt": r["instruction"], "answer": r["output"]}) + "\n").encode())
        f.write(b'{"prompt": "caf\xe9", "answer": "x"}\n')                                        # line 201: not UTF-8
    lc = root / "data" / "leetcode"
    lc.mkdir()
    with gzip.open(shared_data("leetcode", "LeetCodeDataset-v0.2.0-test.jsonl.gz"), "rt") as src, \
            open(lc / "train.jsonl", "w") as f:
        for line in src:
            r = json.loads(line)
            f.write(json.dumps({"system": "Answer in Python.", "prompt": r["query"], "answer": r["response"]}) + "\n")
    cfg = json.loads(CONTEST_CONFIG)
    cfg["data_paths"] = f"[{code},{lc}]"
    cfg.update(overrides)
    path = root / "qwen_train_config_1_8B.json"
    path.write_text(json.dumps(cfg, indent=4))
    return path


def train_config_model():
    try:
        from engine.train.config import TrainConfig  # type: ignore[import-not-found]
    except ImportError:
        return None
    return TrainConfig


def check_run_config(path: Path) -> dict:
    """The generated run config follows the agreed schema (validated by TrainConfig when it exists)."""
    data = tomllib.loads(path.read_text())
    model = train_config_model()
    if model is not None:
        from engine.config import load_model

        load_model(model, path)
    for section, keys in AGREED_RUN_KEYS.items():
        assert keys <= set(data[section]), (section, keys - set(data[section]))
        if model is None:
            assert set(data[section]) == keys, (section, set(data[section]) - keys)
    return data


def test_import_contest_config(workspace: Workspace, tmp_path: Path, tiny_model_dir: Path) -> None:
    cfg = make_contest(tmp_path)
    res = import_mftcoder(workspace, cfg, name="contest", tokenizer=tiny_tokenizer(tiny_model_dir))
    assert res["flavor"] == "competition" and res["tokens_counted"]
    assert {t: d["rows"] for t, d in res["tasks"].items()} == {"code_instruct": 600, "leetcode": 200}
    problems = "\n".join(res["problems"])
    assert res["problems_total"] == 3
    assert "part-0.jsonl:401: invalid JSON" in problems
    assert "part-0.jsonl:402: field 'chat_rounds[0].role': unknown role 'narrator'" in problems
    assert "part-1.jsonl:201: not valid UTF-8" in problems
    spec = store.open_spec(workspace, "contest")
    assert spec.seed == 1234 and spec.valid_fraction == pytest.approx(0.05) and spec.seq_length == 4096
    assert list(spec.tasks) == ["code_instruct", "leetcode"]
    run = check_run_config(Path(res["run_config"]))
    assert res["run_config"] == str(workspace.root / "configs" / "contest.toml")
    assert run["model"]["path"] == "/path/to/Qwen-1_8B/model" and run["model"]["trust_remote_code"] is True
    assert run["data"] == {"mixture": "contest", "seq_length": 4096, "packing": False, "overlong": "drop"}
    assert (run["peft"]["method"], run["peft"]["lora_rank"], run["peft"]["lora_alpha"], run["peft"]["lora_dropout"]) \
        == ("lora", 96, 32, 0.05)
    assert (run["optim"]["lr"], run["optim"]["min_lr"], run["optim"]["weight_decay"], run["optim"]["warmup_steps"],
            run["optim"]["scheduler"]) == (5e-5, 1e-6, 0.1, 300, "cosine")
    lp = run["loop"]
    assert (lp["epochs"], lp["max_steps"], lp["micro_batch_size"], lp["grad_accum"], lp["log_every"],
            lp["eval_every"], lp["save_every"], lp["early_stopping_patience"], lp["seed"]) == \
        (10, 0, 8, 1, 100, 1000, 1000, 2, 1234)
    assert run["loss"]["mode"] == "case3" and run["launch"]["num_gpus"] == 8
    # the data: canonical records with languages and real token counts
    b = store.balance_for(workspace, spec, "contest")
    assert not b.estimated and b.task("leetcode")["languages"].get("python", {}).get("share", 0) > 0.9
    rows = list(__import__("engine.data.store", fromlist=["iter_processed"]).iter_processed(
        workspace.datasets_dir / "contest_code_instruct"))
    assert rows[0]["chat_rounds"][0]["role"] == "system" and rows[0]["id"] == "ca0" and rows[0]["n_tokens"] > 0


def test_round_trip_keeps_every_contest_key(workspace: Workspace, tmp_path: Path, tiny_model_dir: Path) -> None:
    cfg_path = make_contest(tmp_path)
    contest = json.loads(cfg_path.read_text())
    res = import_mftcoder(workspace, cfg_path, name="contest", tokenizer=tiny_tokenizer(tiny_model_dir))
    out = tmp_path / "export"
    exp = export_mftcoder(workspace, "contest", out)
    config = json.loads((out / "train_config.json").read_text())
    assert list(config) == list(contest)  # every key, in the contest's order
    for key, value in contest.items():
        if key == "data_paths":
            assert config[key] == f"[{out}/code_instruct,{out}/leetcode]"
        else:
            assert config[key] == value and type(config[key]) is type(value), key
    # the layout: one folder per task holding only train.jsonl in chat_rounds (train + valid rows)
    for task, n in (("code_instruct", 600), ("leetcode", 200)):
        assert [p.name for p in (out / task).iterdir()] == ["train.jsonl"]
        lines = [json.loads(x) for x in (out / task / "train.jsonl").read_text().splitlines()]
        assert len(lines) == n == exp["tasks"][task]
        assert all({r["role"] for r in x["chat_rounds"]} <= {"system", "human", "bot"} for x in lines)
    assert "--zero_stage 2" in (out / "launch.sh").read_text() and "--num_processes 8" in (out / "launch.sh").read_text()

    # without the import's memory (a fresh workspace, only the run config): the mapping alone keeps them
    ws2 = Workspace.init(tmp_path / "ws2")
    res2 = import_mftcoder(ws2, out / "train_config.json", name="again", count=False)
    run1, run2 = (tomllib.loads(Path(r["run_config"]).read_text()) for r in (res, res2))
    for r in (run1, run2):
        r.pop("name"), r["data"].pop("mixture")
    assert run1 == run2
    assert {t: d["rows"] for t, d in res2["tasks"].items()} == {"code_instruct": 600, "leetcode": 200}
    (ws2.mixtures_dir / "again" / "mftcoder.json").unlink()
    out2 = tmp_path / "export2"
    export_mftcoder(ws2, "again", out2, run_config=res2["run_config"])
    config2 = json.loads((out2 / "train_config.json").read_text())
    assert set(config2) == set(contest)
    differ = {k for k in contest if config2[k] != contest[k]}
    assert differ == {"data_paths", "output_dir", "tb_dir"}  # paths of the new export, nothing else

    # an edit of the run config reaches the export; the rest stays as imported
    run_cfg = Path(res["run_config"])
    run_cfg.write_text(run_cfg.read_text().replace("lr = 5e-05", "lr = 0.0001").replace("packing = false",
                                                                                           "packing = true"))
    check_run_config(run_cfg)
    config3 = json.loads(Path(export_mftcoder(workspace, "contest", out, run_config=run_cfg)["config"]).read_text())
    assert config3["learning_rate"] == 1e-4 and config3["padding_mode"] == "pack"
    assert {k for k in contest if config3[k] != config[k]} == {"learning_rate", "padding_mode"}


def test_export_main_flavor_and_weights(workspace: Workspace, tmp_path: Path) -> None:
    cfg = make_contest(tmp_path, data_weights="[2,0.5]")
    res = import_mftcoder(workspace, cfg, name="weighted", count=False)
    assert any("data_weights" in n for n in res["notes"])
    spec = store.open_spec(workspace, "weighted")
    assert [t.sources[0].effective_weight for t in spec.tasks.values()] == [2.0, 0.5]
    run_cfg = Path(res["run_config"])
    text = run_cfg.read_text()
    assert "[loss.task_weights]" in text
    run_cfg.write_text(text.replace('mode = "case3"', 'mode = "coba"')
                       .replace("[loss.task_weights]", "[loss.task_weights]\nleetcode = 3.0"))
    out = tmp_path / "main-export"
    exp = export_mftcoder(workspace, "weighted", out, run_config=run_cfg, flavor="main")
    config = json.loads((out / "train_config.json").read_text())
    assert "evaluation_steps" in config and "evalation_steps" not in config
    assert config["task_weights"] == "[1,3]" and config["weighted_loss_mode"] == "coba"
    assert config["coba_warmup_steps"] == 100 and config["peft_type"] == "lora"
    assert config["data_weights"] == "[1,1]"  # the rows are already sampled
    # the weights are in the data: code_instruct's 570 training rows twice, half of leetcode's 190 (+ valid rows)
    assert exp["tasks"] == {"code_instruct": 2 * 570 + 30, "leetcode": 95 + 10}


@pytest.mark.parametrize("change, field, words", [
    ({"data_paths": "[/definitely/not/here]"}, "data_paths", "task folder not found"),
    ({"data_split": "ninety,5,0"}, "data_split", "three numbers"),
    ({"lora_rank": "big"}, "lora_rank", "valid integer"),
    ({"weighted_loss_mode": "case9"}, "weighted_loss_mode", "not one of"),
    ({"padding_mode": "zip"}, "padding_mode", "Input should be"),
    # caught by the run config's own model (TrainConfig), reported against the MFTCoder key
    ({"lr_scheduler_type": "polynomial"}, "lr_scheduler_type", "Input should be"),
    ({"min_lr": 1e-3}, "min_lr", "larger than lr"),
])
def test_import_errors_are_located_and_write_nothing(workspace: Workspace, tmp_path: Path, change: dict,
                                                      field: str, words: str) -> None:
    if field in ("lr_scheduler_type", "min_lr") and train_config_model() is None:
        pytest.skip("needs engine.train.config.TrainConfig")
    cfg = make_contest(tmp_path, **change)
    with pytest.raises(InputError) as ei:
        import_mftcoder(workspace, cfg, name="bad", count=False)
    e = ei.value
    assert e.file == str(cfg) and e.field == field and words in e.reason
    lines = cfg.read_text().splitlines()
    assert e.line is not None and f'"{field}"' in lines[e.line - 1]
    assert not list(workspace.datasets_dir.iterdir()) and not store.names(workspace)


def test_import_refuses_to_overwrite(workspace: Workspace, tmp_path: Path) -> None:
    cfg = make_contest(tmp_path)
    import_mftcoder(workspace, cfg, name="once", count=False)
    with pytest.raises(Exception, match="--force"):
        import_mftcoder(workspace, cfg, name="once", count=False)
    import_mftcoder(workspace, cfg, name="once", count=False, force=True)
