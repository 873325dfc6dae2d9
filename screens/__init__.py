"""Textual screens and widgets. Thin: they call the engine and never do heavy work on the event
loop (background work runs in workers that post messages)."""
