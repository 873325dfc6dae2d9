"""workbench engine: all domain logic (data, mixtures, runs, validation).

The engine never imports Textual (enforced by tests/test_hygiene.py) and keeps torch /
transformers imports inside the functions that need them, so the CLI and the app start fast.
"""

__version__ = "0.1.0"
