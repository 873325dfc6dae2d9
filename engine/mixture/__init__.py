"""Mixtures: tasks composed from processed datasets, with per-source sampling weights or token
budgets, a deterministic split, a balance view, materialised builds and MFTCoder interop.

    spec.py          the spec file (mixtures/<name>.toml) and edit helpers
    sources.py       per-row facts of a processed dataset (split keys, tokens, languages)
    plan.py          the split and the draw (numpy; world-size independent)
    balance.py       rows/tokens per task, language, task x language; warnings
    store.py         mixtures in a workspace: files, plan, balance, builds
    materialize.py   build folders + token cache (docs/mixture-layout.md)
    manifest.py      mixture.json, the build manifest: the one reader
    resolve.py       [data] mixture -> built / spec only / missing, and the build a run trains on
    mftcoder*.py     MFTCoder layout/config export and import

Docs: docs/mixtures.md. Heavy imports (pyarrow, transformers) stay inside functions.
"""

from engine.mixture.spec import MixtureSpec, SourceSpec, TaskSpec, load_spec, mixture_id, save_spec

__all__ = ["MixtureSpec", "SourceSpec", "TaskSpec", "load_spec", "save_spec", "mixture_id"]
