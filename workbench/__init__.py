"""workbench: the Textual app, the headless CLI and the wiring between them and the engine."""

from engine import __version__

__all__ = ["__version__"]
