"""Models: import, architecture detection, conversion, families.

    importer.py         `workbench model import`: resolve a source, convert or register it in [models]
    detect.py           what a folder is (Qwen-1 / native / remote code / adapter), family, targets
    families.py         Qwen families, LoRA targets per architecture, chat template (ChatML fallback)
    qwen1_convert.py    Qwen-1 weights + config -> native Qwen2 (streamed, shard by shard)
    qwen1_tokenizer.py  qwen.tiktoken -> tokenizer.json with identical ids
    lora_convert.py     MFTCoder LoRA adapters on Qwen-1 -> adapters of the imported model
    remote.py           remote-code models that cannot run here, in one line
    safetensors_io.py   safetensors read/written as bytes (no torch)
    checkpoint_files.py a model folder's config and weight files

Nothing here imports torch at module level; conversions of safetensors checkpoints never do.
"""
