"""`streamscribe train`: train or fine-tune a model from a JSON recipe, resumably."""

from __future__ import annotations

import argparse
import ctypes
import logging
from pathlib import Path

from .config import TrainConfig


def keep_freed_memory_returnable() -> None:
    """Batches differ in shape every step; glibc raises its mmap threshold after large frees,
    so later large tensors come from the heap and are never given back (measured: RSS grew to
    10 GB within 200 steps). A fixed threshold keeps the run at about 3.6 GB."""
    try:
        ctypes.CDLL("libc.so.6").mallopt(-3, 65536)  # M_MMAP_THRESHOLD = 64 KiB
    except (OSError, AttributeError):
        pass  # not glibc: nothing to tune


def malloc_in_use() -> str:
    """"jemalloc" when the `streamscribe` command preloaded it (see streamscribe_cli)."""
    maps = Path("/proc/self/maps")
    return "jemalloc" if maps.exists() and "libjemalloc" in maps.read_text() else "system"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="streamscribe train",
        description="Train a streaming ASR model on synthetic (and real) speech. Runs resume "
                    "from RUN_DIR/state.pt; the averaged checkpoint is written to "
                    "RUN_DIR/export/ in the Mistral format `streamscribe serve --model` loads. "
                    "Ctrl-C (or SIGTERM) finishes the step in flight, saves and exports; press "
                    "it twice to stop at once.")
    parser.add_argument("--config", required=True, help="training recipe (JSON), e.g. "
                        "recipes/small-whisper.json")
    parser.add_argument("--run-dir", required=True, help="where state, logs, snapshots and "
                        "the export go (resumed if it holds a state.pt)")
    parser.add_argument("--max-steps", type=int, help="stop after this many more steps")
    parser.add_argument("--max-minutes", type=float, help="stop after this much wall time")
    parser.add_argument("--export-only", action="store_true",
                        help="only average the last snapshots into RUN_DIR/export/")
    parser.add_argument("--export-to", metavar="DIR",
                        help="write the averaged checkpoint here instead of RUN_DIR/export/ "
                             "(e.g. model/default to ship it as the embedded model)")
    parser.add_argument("--export-dtype", choices=("float32", "bfloat16"), default="float32",
                        help="storage dtype of the exported weights (bfloat16 halves the "
                             "file; the server loads either into any --dtype)")
    parser.add_argument("--export-encoder-window", type=int, metavar="FRAMES",
                        help="encoder attention window written to the export's params.json "
                             "(default: the recipe's; the shipped default is served at 250)")
    parser.add_argument("--save-portable", metavar="DIR",
                        help="also write the current weights and step to DIR in files under "
                             "45 MB (commit them; a recipe's resume_portable continues from "
                             "them on a fresh machine)")
    ns = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    allocator = malloc_in_use()
    if allocator == "system":
        keep_freed_memory_returnable()
    logging.getLogger(__name__).info("memory allocator: %s", allocator)
    from .trainer import Trainer

    trainer = Trainer(TrainConfig.load(ns.config), Path(ns.run_dir))
    if not ns.export_only:
        trainer.fit(ns.max_steps, ns.max_minutes)
    import torch

    dtype = torch.bfloat16 if ns.export_dtype == "bfloat16" else None
    out = Path(ns.export_to) if ns.export_to else None
    print(f"exported {trainer.export(out, dtype, ns.export_encoder_window)}")
    if ns.save_portable:
        print(f"portable weights in {trainer.save_portable(Path(ns.save_portable))}")
    return 0
