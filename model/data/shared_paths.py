"""Where the project's shared data lives: `shared/` beside the repository (as laid out for
developers and CI). STREAMSCRIBE_SHARED overrides it."""

from __future__ import annotations

import os
from pathlib import Path

SHARED = Path(os.environ.get("STREAMSCRIBE_SHARED",
                             Path(__file__).resolve().parents[3] / "shared"))
TEXT_DIR = SHARED / "data" / "text"
EVAL_MANIFEST = SHARED / "data" / "eval-real" / "manifest.jsonl"
TRAIN_REAL = SHARED / "data" / "train-real"
