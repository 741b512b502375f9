"""Residual dropout in the decoder's blocks, for training only.

The decoder stage sees the same cached frames of the same 16 h of speech on every pass, and
after a few hundred steps it memorises them (sessions 6 and 8: training loss fell while the
real dev WER rose). Dropout on each block's attention and feed-forward output (the
transformer's usual place for it) makes every pass a slightly different network.

It is added as forward hooks rather than model code: inference never runs it (a hook is a
no-op unless its module is in training mode) and checkpoints carry no trace of it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.hooks import RemovableHandle

from ..voxtral import VoxtralRealtime


def add_residual_dropout(net: VoxtralRealtime, p: float) -> list[RemovableHandle]:
    """Drop a share `p` of every decoder block's attention and feed-forward output while
    `net` is in training mode; returns the hooks' handles (`.remove()` undoes it)."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {p}")
    if p == 0.0:
        return []

    def drop(module: nn.Module, _inputs: tuple, output: torch.Tensor) -> torch.Tensor:
        return F.dropout(output, p, module.training)

    # wo is the last step of attention (its `attend` is a method, not a module call).
    return [module.register_forward_hook(drop)
            for layer in net.layers for module in (layer.attention.wo, layer.feed_forward)]
