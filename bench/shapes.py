"""Model shapes the GPU benchmarks build with random weights (nothing is downloaded)."""

# Qwen-1.8B: 24 layers, hidden 2048, 16 attention heads (no grouped KV), 151,936-token vocabulary.
QWEN_1_8B = dict(
    hidden_size=2048,
    intermediate_size=5504,
    num_hidden_layers=24,
    num_attention_heads=16,
    num_key_value_heads=16,
    vocab_size=151936,
    max_position_embeddings=32768,
    rope_theta=1_000_000.0,
    tie_word_embeddings=False,
)
