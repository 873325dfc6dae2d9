"""`python -m engine.train.run RUN_DIR [--resume]`: one training process (one rank).

Started by `workbench train launch` (plain Python on CPU, `accelerate launch` on GPUs, or
`torchrun`); everything it needs is in RUN_DIR (config.json, the mixture build it names).
"""

from __future__ import annotations

import sys

from engine.train.loop import main

if __name__ == "__main__":
    sys.exit(main())
