"""What `--dtype auto` picks. (Streaming equals offline token for token only in float32:
in bfloat16 the streaming step and the offline forward round differently shaped matmuls
differently, and near-ties flip; measured on a tiny random model here. That is why float32
stays the default.)"""

from __future__ import annotations

import pytest
import torch

from model.dtypes import native_bfloat16, resolve_dtype


def test_resolve_dtype() -> None:
    assert resolve_dtype("float32") == torch.float32
    assert resolve_dtype("bfloat16") == torch.bfloat16
    expected = torch.bfloat16 if native_bfloat16() else torch.float32
    assert resolve_dtype("auto") == expected
    with pytest.raises(ValueError, match="dtype must be one of"):
        resolve_dtype("int8")
