"""A loaded model: network + tokenizer + the offline transcription entry point."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .audio_format import to_float32
from .checkpoint import TOKENIZER_FILE, load_network
from .config import ModelArgs
from .constants import DEFAULT_DELAY_MS, SAMPLE_RATE
from .tokenizer import TextTokenizer
from .voxtral import VoxtralRealtime
from .words import Word, WordAssembler


@dataclass
class TranscriptionResult:
    text: str
    tokens: list[int]
    words: list[Word] = field(default_factory=list)


class AsrModel:
    sample_rate = SAMPLE_RATE

    def __init__(self, network: VoxtralRealtime, tokenizer: TextTokenizer,
                 path: Path | None = None) -> None:
        self.network = network
        self.tokenizer = tokenizer
        self.path = path
        if tokenizer.vocab_size > network.args.vocab_size:
            raise ValueError(f"tokenizer has {tokenizer.vocab_size} ids but the model only "
                             f"{network.args.vocab_size}")

    @classmethod
    def from_directory(cls, directory: Path, device: str | torch.device = "cpu",
                       dtype: torch.dtype = torch.float32) -> AsrModel:
        return cls(load_network(directory, device, dtype),
                   TextTokenizer(directory / TOKENIZER_FILE), directory)

    @property
    def args(self) -> ModelArgs:
        return self.network.args

    @property
    def device(self) -> torch.device:
        return self.network.tok_embeddings.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.network.tok_embeddings.weight.dtype

    def words_from_tokens(self, tokens: list[int]) -> tuple[str, list[Word]]:
        assembler = WordAssembler(self.tokenizer)
        for i, t in enumerate(tokens):
            assembler.push(t, i)
        assembler.flush()
        return assembler.text, assembler.words

    def transcribe(self, audio: np.ndarray, delay_ms: int = DEFAULT_DELAY_MS
                   ) -> TranscriptionResult:
        """Offline greedy transcription of 16 kHz mono float audio."""
        from .offline import greedy_tokens

        tokens = greedy_tokens(self.network, to_float32(audio), delay_ms)
        text, words = self.words_from_tokens(tokens)
        return TranscriptionResult(text, tokens, words)
