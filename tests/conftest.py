"""Shared test setup. Torch runs single-threaded in tests: the models are tiny (thread
hand-offs cost more than they save) and pytest-xdist already uses both cores."""

from __future__ import annotations

import torch

torch.set_num_threads(1)
