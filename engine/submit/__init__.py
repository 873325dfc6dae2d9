"""The contest submission: build it from a checkpoint or validation, and verify any folder
or zip before it is sent.

    layout   names and counts the contest wanted (generations_<task>_<model>.json, one per contest task)
    check    check_submission(folder_or_zip) -> CheckReport (every problem found, every defect)
    build    build_submission(ws, ...) -> BuildResult (reuse or generate, merge LoRA, zip, check)

Torch is imported only when generating or merging.
"""

from engine.submit.build import BuildResult, build_submission, greedy_settings, write_zip
from engine.submit.check import CheckReport, TaskCheck, check_submission
from engine.submit.layout import expected_problems, file_name, folder_name

__all__ = [
    "BuildResult",
    "CheckReport",
    "TaskCheck",
    "build_submission",
    "check_submission",
    "expected_problems",
    "file_name",
    "folder_name",
    "greedy_settings",
    "write_zip",
]
