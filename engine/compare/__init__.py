"""Compare checkpoints and choose the one to submit.

    matrix     runs x checkpoints x validations -> rows of pass@1 per task, predicted contest
               score (every contest task, else which are missing), valid loss, in-training pass@1
    pairwise   two validations problem by problem: gains, losses, bootstrap interval; flips and
               side_by_side (pass@1 per task) for eval compare / eval ab
    bootstrap  the seeded paired bootstrap of a pass@1 difference
    mark       submission.json: the checkpoint marked to submit

No torch here: the Compare screen reads these in the app process.
"""

from engine.compare.bootstrap import Interval, paired_bootstrap
from engine.compare.mark import SubmissionMark, clear_mark, mark_checkpoint, read_mark
from engine.compare.matrix import CompareRow, Matrix, collect, find_row, sort_rows
from engine.compare.pairwise import Change, Comparison, compare_validations, flips, side_by_side

__all__ = [
    "Change",
    "CompareRow",
    "Comparison",
    "Interval",
    "Matrix",
    "SubmissionMark",
    "clear_mark",
    "collect",
    "compare_validations",
    "find_row",
    "flips",
    "mark_checkpoint",
    "paired_bootstrap",
    "read_mark",
    "side_by_side",
    "sort_rows",
]
