"""The BPE trainer writes a tekken.json that mistral-common loads and round-trips."""

from __future__ import annotations

from pathlib import Path

from mistral_common.tokens.tokenizers.tekken import Tekkenizer

from model.training.tokenizer_train import train_tekken

TEXTS = [
    "Doctor Smith read the book of the kings in nineteen sixty-one.",
    "She said, \"It's fine!\" and walked away; nobody followed her.",
    "The quick brown fox jumps over the lazy dog?",
] * 50


def test_tekken_round_trip(tmp_path: Path) -> None:
    path = train_tekken(TEXTS, 300, tmp_path / "tekken.json")
    tok = Tekkenizer.from_file(path)
    assert tok.num_special_tokens == 1000
    assert (tok.bos_id, tok.eos_id) == (1, 2)
    assert tok.get_special_token("[STREAMING_PAD]") == 32
    assert tok.get_special_token("[STREAMING_WORD]") == 33
    assert tok.n_words == 1000 + 300
    assert tok.audio is not None and tok.audio.transcription_delay_ms == 480
    for text in set(TEXTS) | {"Unseen words: zygote, café."}:
        ids = tok.encode(text, bos=False, eos=False)
        assert all(i >= 1000 for i in ids)
        assert tok.decode(ids) == text
    ids = tok.encode(TEXTS[0], bos=False, eos=False)
    assert len(ids) < 0.7 * len(TEXTS[0])  # merges were learned
