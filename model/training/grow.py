"""Deepen a trained network without changing what it computes (LLaMA Pro's block expansion).

Every old block keeps its weights; each added block is a copy of the old block before it
with its output projections (attention `wo`, feed-forward `w2`) zeroed, so it adds exactly
zero to the residual stream until training moves them. The grown model starts where the
smaller one stopped, and the copied attention and norms give the new blocks useful
gradients from the first step (an all-zero block would get none through `wo`'s input side).
"""

from __future__ import annotations

import re

import torch

from ..voxtral import VoxtralRealtime

DECODER_BLOCKS = "layers."
ENCODER_BLOCKS = "mm_streams_embeddings.embedding_module.whisper_encoder.transformer.layers."
# The parameters through which a block writes to the residual stream.
OUTPUT_PROJECTIONS = ("attention.wo.", "feed_forward.w2.")


def block_plan(old: int, new: int) -> list[tuple[int, bool]]:
    """For each of `new` blocks: the old block it starts from and whether it is an added
    (identity) copy. The added copies are spread evenly, each right after its source."""
    if new < old:
        raise ValueError(f"cannot shrink {old} blocks to {new}")
    extra = new - old
    plan: list[tuple[int, bool]] = []
    for i in range(old):
        plan.append((i, False))
        copies = (i + 1) * extra // old - i * extra // old
        plan.extend((i, True) for _ in range(copies))
    return plan


def count_blocks(state: dict[str, torch.Tensor], prefix: str) -> int:
    pattern = re.compile(re.escape(prefix) + r"(\d+)\.")
    found = {int(m.group(1)) for key in state if (m := pattern.match(key))}
    return max(found) + 1 if found else 0


def grow_blocks(state: dict[str, torch.Tensor], prefix: str, new: int) -> dict[str, torch.Tensor]:
    """`state` with the blocks under `prefix` expanded to `new` (a no-op when equal)."""
    old = count_blocks(state, prefix)
    if old == new:
        return state
    grown = {k: v for k, v in state.items() if not k.startswith(prefix)}
    for index, (source, added) in enumerate(block_plan(old, new)):
        source_prefix = f"{prefix}{source}."
        for key, tensor in state.items():
            if not key.startswith(source_prefix):
                continue
            rest = key[len(source_prefix):]
            zero = added and rest.startswith(OUTPUT_PROJECTIONS)
            grown[f"{prefix}{index}.{rest}"] = torch.zeros_like(tensor) if zero \
                else tensor.clone()
    return grown


def block_stacks(net: VoxtralRealtime) -> list[tuple[str, str, int]]:
    """(name, key prefix, depth in `net`) of each stack of blocks that can grow."""
    return [("decoder", DECODER_BLOCKS, net.args.n_layers),
            ("encoder", ENCODER_BLOCKS, net.args.encoder.n_layers)]


def grow_state_dict(state: dict[str, torch.Tensor],
                    net: VoxtralRealtime) -> dict[str, torch.Tensor]:
    """`state` (from a shallower model of the same widths) made to fit `net`'s depth."""
    for _, prefix, depth in block_stacks(net):
        state = grow_blocks(state, prefix, depth)
    return state


def describe_growth(state: dict[str, torch.Tensor], net: VoxtralRealtime) -> str | None:
    """'decoder 6 -> 12 blocks' style summary, or None when the depths already match."""
    changes = [f"{name} {count_blocks(state, prefix)} -> {depth} blocks"
               for name, prefix, depth in block_stacks(net)
               if count_blocks(state, prefix) != depth]
    return ", ".join(changes) or None
