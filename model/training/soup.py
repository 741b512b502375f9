"""Average the weights of checkpoints fine-tuned from one parent: `python -m model.training.soup`.

A "model soup" (Wortsman et al. 2022): runs that continued from the same weights stay in one
basin, and their mean often beats each of them. Session 10 measured it on the decoder stage:
two runs from step 4,250 (real dev WER 81.1% and 81.2%) averaged with their parent scored
80.2%. Each source is read in float32 and the mean is written in the Mistral format the server
loads; sources must share params.json and tekken.json, or the mean means nothing.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from ..checkpoint import (
    PARAMS_FILE,
    TOKENIZER_FILE,
    WEIGHTS_FILE,
    load_network,
    save_checkpoint,
    weight_files,
)
from ..dtypes import DTYPES


def mean_state_dict(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Element-wise float32 mean of state dicts with the same keys (snapshots or checkpoints)."""
    return {k: sum(s[k].float() for s in states) / len(states) for k in states[0]}


def _same_files(sources: list[Path], name: str) -> None:
    first = (sources[0] / name).read_bytes()
    for other in sources[1:]:
        if (other / name).read_bytes() != first:
            raise ValueError(f"{other / name} differs from {sources[0] / name}: only checkpoints "
                             "of one architecture and tokenizer can be averaged")


def _training_step(source: Path) -> int | None:
    progress = source / "training.json"
    return json.loads(progress.read_text()).get("step") if progress.exists() else None


def average_checkpoints(sources: list[Path], out: Path, dtype: torch.dtype | None = None
                        ) -> Path:
    """Write the element-wise mean of `sources`' weights to `out` (which may be one of them:
    everything is read before anything is written). `training.json` records the sources;
    its step is the latest of theirs, so training continues from the soup like from an export."""
    if len(sources) < 2:
        raise ValueError("a soup needs at least two checkpoints")
    for source in sources:
        if not weight_files(source):
            raise FileNotFoundError(f"{source} is not a checkpoint directory (no {WEIGHTS_FILE})")
    _same_files(sources, PARAMS_FILE)
    _same_files(sources, TOKENIZER_FILE)
    nets = [load_network(s) for s in sources]
    net = nets[0]
    net.load_state_dict(mean_state_dict([n.state_dict() for n in nets]))
    steps = [_training_step(s) for s in sources]
    # All tokenizers are identical (checked above), so copying the first over `out`'s is safe.
    save_checkpoint(net, out, sources[0] / TOKENIZER_FILE, dtype)
    known = [s for s in steps if s is not None]
    (out / "training.json").write_text(json.dumps(
        {"step": max(known) if known else 0,
         "soup": [{"source": str(s), "step": st} for s, st in zip(sources, steps, strict=True)]},
        indent=2) + "\n")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m model.training.soup",
        description="Average the weights of checkpoints that continued from the same parent "
                    "(a model soup) into one checkpoint the server loads.")
    p.add_argument("sources", nargs="+", type=Path, help="checkpoint directories (2 or more)")
    p.add_argument("--out", type=Path, required=True,
                   help="directory to write (may be one of the sources, e.g. model/default)")
    p.add_argument("--dtype", choices=("bfloat16", "float32"),
                   help="storage dtype (default: float32; bfloat16 halves the file)")
    args = p.parse_args(argv)
    try:
        out = average_checkpoints(args.sources, args.out, DTYPES.get(args.dtype))
    except (FileNotFoundError, ValueError) as e:
        p.error(str(e))
    print(f"wrote the mean of {len(args.sources)} checkpoints to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
