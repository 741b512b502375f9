"""Delayed-streams training targets: each word's tokens placed at the 80 ms step where the
word starts; the prompt length carries the delay (see model/words.py for the timing)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..constants import STEP_SECONDS, STREAMING_PAD_ID, delay_steps, prompt_length
from ..offline import prompt_ids
from ..tokenizer import TextTokenizer

TimedWord = tuple[str, float, float]


def word_tokens(tokenizer: TextTokenizer, words: Sequence[str]) -> list[list[int]]:
    """Tokens of each word, a space before every word but the first, so that the stream
    decodes to exactly ' '.join(words)."""
    return [tokenizer.encode(w if i == 0 else " " + w) for i, w in enumerate(words)]


def place_tokens(pieces: Sequence[Sequence[int]], starts_s: Sequence[float],
                 n_steps: int) -> list[int]:
    """One target per output step: a word's tokens from the step of its start onwards, pushed
    later when the previous word still occupies the step; STREAMING_PAD elsewhere."""
    targets = [STREAMING_PAD_ID] * n_steps
    step = 0
    for tokens, start in zip(pieces, starts_s, strict=True):
        step = max(step, int(start / STEP_SECONDS + 1e-6))
        if step + len(tokens) > n_steps:
            raise ValueError(f"words run {step + len(tokens) - n_steps} steps past the audio")
        targets[step : step + len(tokens)] = tokens
        step += len(tokens)
    return targets


@dataclass
class AlignedSequence:
    input_ids: list[int]  # fed at positions 0..N-1
    labels: list[int]  # label at position p = token emitted there (-100 where not trained)
    n_delay: int


def aligned_sequence(tokenizer: TextTokenizer, words: Sequence[TimedWord], n_positions: int,
                     delay_ms: int) -> AlignedSequence:
    """Input ids and labels for a padded signal of `n_positions` 80 ms positions."""
    n_delay = delay_steps(delay_ms)
    prompt = prompt_ids(n_delay)
    n_out = n_positions - prompt_length(n_delay)  # outputs at positions L-1 .. N-2
    pieces = word_tokens(tokenizer, [w for w, _, _ in words])
    targets = place_tokens(pieces, [s for _, s, _ in words], n_out)
    input_ids = prompt + targets[: n_positions - len(prompt)]
    labels = [-100] * (len(prompt) - 1) + targets + [-100]
    return AlignedSequence(input_ids, labels[:n_positions], n_delay)
