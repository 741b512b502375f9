"""Tekken tokenizer (tekken.json), through mistral-common.

mistral-common is Mistral's own reference reader of tekken.json (special tokens, the 1000-id
special block, the audio section), so the published checkpoint and ours load the same way
with no tokenizer code of our own. We add only what streaming needs: per-token bytes (a
token may hold part of a UTF-8 character) and a writer for our own small vocabularies.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mistral_common.tokens.tokenizers.base import SpecialTokenPolicy
from mistral_common.tokens.tokenizers.tekken import Tekkenizer

from .constants import (
    BOS_ID,
    EOS_ID,
    N_LEFT_PAD_STEPS,
    N_SPECIAL_TOKENS,
    SAMPLE_RATE,
    STREAMING_PAD_ID,
    STREAMING_WORD_ID,
)

# Tekken's pre-tokenisation pattern (as in Mistral's published tekken.json).
TEKKEN_PATTERN = (
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|"
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|"
    r"\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)


class TextTokenizer:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.tekken = Tekkenizer.from_file(self.path)
        if self.tekken.num_special_tokens != N_SPECIAL_TOKENS:
            raise ValueError(f"{path}: expected {N_SPECIAL_TOKENS} special tokens, "
                             f"found {self.tekken.num_special_tokens}")
        self._bytes = [self.tekken.id_to_byte_piece(i, SpecialTokenPolicy.IGNORE)
                       if i >= N_SPECIAL_TOKENS else b"" for i in range(self.vocab_size)]

    @property
    def vocab_size(self) -> int:
        return self.tekken.n_words

    def encode(self, text: str) -> list[int]:
        return self.tekken.encode(text, bos=False, eos=False)

    def decode(self, ids: Sequence[int]) -> str:
        """Text of the ids >= 1000; special tokens (pads, word markers, EOS) are dropped."""
        return b"".join(self.token_bytes(i) for i in ids).decode("utf-8", errors="replace")

    def token_bytes(self, token_id: int) -> bytes:
        return self._bytes[token_id] if 0 <= token_id < len(self._bytes) else b""


# Specials with fixed ids, named as in mistral-common's SpecialTokens; streamscribe uses only
# BOS, EOS, STREAMING_PAD and STREAMING_WORD, the rest keep the published numbering.
NAMED_SPECIALS = {
    0: "<unk>", BOS_ID: "<s>", EOS_ID: "</s>", 3: "[INST]", 4: "[/INST]",
    5: "[AVAILABLE_TOOLS]", 6: "[/AVAILABLE_TOOLS]", 7: "[TOOL_RESULTS]", 8: "[/TOOL_RESULTS]",
    9: "[TOOL_CALLS]", 10: "[IMG]", 11: "<pad>", 12: "[IMG_BREAK]", 13: "[IMG_END]",
    14: "[PREFIX]", 15: "[MIDDLE]", 16: "[SUFFIX]", 17: "[SYSTEM_PROMPT]",
    18: "[/SYSTEM_PROMPT]", 19: "[TOOL_CONTENT]", 24: "[AUDIO]", 25: "[BEGIN_AUDIO]",
    STREAMING_PAD_ID: "[STREAMING_PAD]", STREAMING_WORD_ID: "[STREAMING_WORD]",
    34: "[TRANSCRIBE]",
}


def special_tokens() -> list[dict[str, Any]]:
    return [{"rank": i, "token_str": NAMED_SPECIALS.get(i, f"<SPECIAL_{i}>"), "is_control": True}
            for i in range(N_SPECIAL_TOKENS)]


def audio_block(delay_ms: int = 480) -> dict[str, Any]:
    return {
        "sampling_rate": SAMPLE_RATE,
        "frame_rate": 12.5,
        "audio_encoding_config": {"num_mel_bins": 128, "hop_length": 160, "window_size": 400},
        "transcription_delay_ms": delay_ms,
        # 2.5 ms = the 40 samples a mel frame reads past its hop (see frontend.FRAME_LOOKAHEAD).
        "streaming_look_ahead_ms": 2.5,
        "streaming_look_back_ms": 52.5,
        "streaming_n_left_pad_tokens": N_LEFT_PAD_STEPS,
        "transcription_format": "streaming",
    }


def _printable(token: bytes) -> str | None:
    try:
        return token.decode("utf-8")
    except UnicodeDecodeError:
        return None  # part of a multi-byte character


def write_tekken(path: str | Path, vocab: Sequence[bytes], delay_ms: int = 480) -> None:
    """Write a tekken.json whose text ranks are the given byte strings, in merge order
    (rank r becomes token id 1000 + r). The first 256 entries must be the single bytes."""
    if len(vocab) < 256 or any(vocab[i] != bytes([i]) for i in range(256)):
        raise ValueError("a Tekken vocabulary starts with the 256 single bytes in order")
    entries = [{"rank": r, "token_bytes": base64.b64encode(b).decode("ascii"),
                "token_str": _printable(b)} for r, b in enumerate(vocab)]
    data = {
        "config": {"pattern": TEKKEN_PATTERN, "num_vocab_tokens": len(vocab),
                   "default_vocab_size": N_SPECIAL_TOKENS + len(vocab),
                   "default_num_special_tokens": N_SPECIAL_TOKENS, "version": "v13"},
        "vocab": entries,
        "special_tokens": special_tokens(),
        "audio": audio_block(delay_ms),
    }
    Path(path).write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
