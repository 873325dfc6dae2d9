"""One runner per language: how its programs are instrumented, built in batches and run."""

from __future__ import annotations

from collections.abc import Callable

from engine.execute.core import Context, Unit


def runner_for(language: str) -> Callable[[Context, list[Unit]], None]:
    """`start(ctx, units)`: submit the tasks that build and run these units."""
    if language == "python":
        from engine.execute.langs.python import start
    elif language == "javascript":
        from engine.execute.langs.javascript import start
    elif language == "java":
        from engine.execute.langs.java import start
    elif language == "cpp":
        from engine.execute.langs.cpp import start
    elif language == "go":
        from engine.execute.langs.go import start
    elif language == "rust":
        from engine.execute.langs.rust import start
    else:
        raise ValueError(language)
    return start


def instrument(language: str, test: str):
    from engine.execute import instrument as ins

    return {
        "python": ins.python_cases,
        "javascript": ins.javascript_cases,
        "java": ins.java_cases,
        "cpp": ins.cpp_cases,
        "go": ins.go_cases,
        "rust": ins.rust_cases,
    }[language](test)
