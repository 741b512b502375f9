"""Averaging checkpoints (model soup): the written weights are the element-wise mean, the
result loads and transcribes, and checkpoints of different shapes are refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from model import load_model
from model.checkpoint import load_network
from model.testing import make_tiny_checkpoint
from model.training.soup import average_checkpoints, main


def test_soup_is_the_mean_and_serves(tmp_path: Path) -> None:
    a = make_tiny_checkpoint(tmp_path / "a", seed=1)
    b = make_tiny_checkpoint(tmp_path / "b", seed=2)
    (a / "training.json").write_text(json.dumps({"step": 10}))
    (b / "training.json").write_text(json.dumps({"step": 30}))
    out = average_checkpoints([a, b], tmp_path / "soup")
    net_a, net_b, soup = (load_network(d).state_dict() for d in (a, b, out))
    for name, value in soup.items():
        torch.testing.assert_close(value, (net_a[name] + net_b[name]) / 2)
    assert json.loads((out / "training.json").read_text())["step"] == 30
    assert isinstance(load_model(out).transcribe(np.zeros(16000, np.float32), delay_ms=480).text,
                      str)


def test_soup_may_overwrite_one_of_its_sources(tmp_path: Path) -> None:
    a = make_tiny_checkpoint(tmp_path / "a", seed=1)
    b = make_tiny_checkpoint(tmp_path / "b", seed=2)
    expected = {k: (v + load_network(b).state_dict()[k]) / 2
                for k, v in load_network(a).state_dict().items()}
    average_checkpoints([a, b], a, torch.bfloat16)
    for name, value in load_network(a).state_dict().items():
        torch.testing.assert_close(value, expected[name].to(torch.bfloat16).float())


def test_soup_refuses_other_architectures(tmp_path: Path, capsys: pytest.CaptureFixture
                                          ) -> None:
    a = make_tiny_checkpoint(tmp_path / "a", seed=1)
    b = make_tiny_checkpoint(tmp_path / "b", seed=2, n_layers=3)
    with pytest.raises(ValueError, match="params.json"):
        average_checkpoints([a, b], tmp_path / "soup")
    with pytest.raises(SystemExit):
        main([str(a), str(b), "--out", str(tmp_path / "soup")])
    assert "differs" in capsys.readouterr().err
