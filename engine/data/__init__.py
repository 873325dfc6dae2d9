"""Datasets: catalog, loading, format conversion, stats, filters, dedup, decontamination.

catalog.py     catalog entries, their state (cheap, offline), add/remove
source_check.py  what `data add` refuses: a local source whose first rows give no record
readers.py     local files row by row (JSON, JSONL, CSV/TSV, Parquet, .gz, globs)
sources.py     catalog entry → canonical records (local, hub mirror, hub), bad rows
formats.py     row layouts (alpaca, evol, sharegpt, messages, ...) → chat_rounds
code.py        fenced code blocks, full-width → ASCII in code
langs.py       contest language of code (fences, then content)
syntax.py      parse checks (ast; tree-sitter grammars)
quality.py     empty / truncated / refusal answers
shingles.py    vectorised word tokens and n-gram hashes
dedup.py       exact and near-duplicate (MinHash + LSH + exact Jaccard) clustering
benchmarks.py  validation benchmark text (HumanEvalPack, MBPP, LeetCode): data_dir or hub copies
decontam.py    n-gram overlap with the benchmarks
tokenizer.py   the workspace tokenizer and token lengths
stats.py       rows, token lengths, languages, turns
pipeline.py    the processing pipeline into datasets/<name>/
notices.py     the report's plain-words warnings (a skipped or partial decontamination)
summary.py     peek at an entry, cached entry stats
preview.py     rendered conversation with the loss mask per token
export.py      processed dataset → JSONL (chat_rounds, messages, sharegpt) or Parquet
store.py       the processed-dataset contract (read by the mixtures)
"""
