"""Residual dropout is a training-time change only: served (eval-mode) logits are exactly
those of the network without it, training-mode ones are not, and removing it undoes it."""

from __future__ import annotations

import pytest
import torch

from model.testing import random_network, tiny_args
from model.training.dropout import add_residual_dropout


def logits(net: torch.nn.Module) -> torch.Tensor:
    torch.manual_seed(0)
    mel = torch.randn(1, net.n_mels, 160)
    ids = torch.randint(0, net.args.vocab_size, (1, 10))
    with torch.no_grad():
        return net(mel, ids, 6)


def test_dropout_acts_in_training_only_and_is_removable() -> None:
    net = random_network(tiny_args())
    plain = logits(net)
    handles = add_residual_dropout(net, 0.5)
    assert len(handles) == 2 * len(net.layers)
    assert torch.equal(logits(net.eval()), plain)
    net.train()
    torch.manual_seed(1)
    first = net(torch.zeros(1, net.n_mels, 160), torch.zeros(1, 10, dtype=torch.long), 6)
    torch.manual_seed(2)
    second = net(torch.zeros(1, net.n_mels, 160), torch.zeros(1, 10, dtype=torch.long), 6)
    assert not torch.allclose(first, second)
    for handle in handles:
        handle.remove()
    assert torch.equal(logits(net), logits(net.eval()))


def test_zero_dropout_adds_nothing_and_bad_rates_are_refused() -> None:
    net = random_network(tiny_args())
    assert add_residual_dropout(net, 0.0) == []
    with pytest.raises(ValueError, match="dropout"):
        add_residual_dropout(net, 1.0)
