"""Demo assets built locally (nothing downloaded): a toy curriculum, a tiny Qwen2 model with a
byte-level BPE tokenizer trained on the fly, and the demo workspace that uses them."""
