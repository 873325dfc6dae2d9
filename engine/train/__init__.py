"""Training runs: the MFT trainer (one loop, on accelerate / DeepSpeed) and what surrounds it.

    config.py      TrainConfig: the typed run config (TOML), shared with the mixture importer
    data.py        token shards -> packed / padded micro-batches (tasks never mixed, samples isolated)
    losses.py      MFT objectives (case1-4, static weights, CoBa, focal), reduced over a whole step
    coba.py        CoBa convergence balancer state
    schedule.py    warmup + cosine/linear/constant with a real min_lr floor
    model.py       model / tokenizer / LoRA / QLoRA loading and the masked-loss wrapper
    checkpoints.py full-state checkpoints, retention (best + last N)
    hooks.py       periodic in-training evaluation hooks (model, tokenizer, step) -> metrics
    trainer.py     the trainer's parts (setup, resume, step, record, evaluate, save, finish) over a TrainState
    window.py      per-step sums between log lines, micro-batch tensors
    loop.py        the training loop, top to bottom (the recipe over trainer.py)
    run.py         `python -m engine.train.run RUN_DIR [--resume]`: the process entry point
    launch.py      start_run (CLI, demo, launch form), run preparation, accelerate / DeepSpeed configs,
                   detached launch, resume
    envcheck.py    pre-launch environment check;  gpu.py: GPU panel data (nvidia-ml-py)
    merge.py       LoRA merge into a standard Hugging Face model folder
    export.py      optional TensorBoard / W&B copies of the metrics
    presets.py     presets shipped in configs/

Heavy imports (torch, transformers, peft, accelerate) stay inside functions.
"""
