"""One transcription stream: audio in (any chunk size), events out.

A session only buffers audio and keeps its own bookkeeping; model compute happens in
`BatchedEngine.step`, which advances many sessions by one 80 ms position at once. The
session's KV caches live in the engine (one slot per session) so that a batched step reads
them without copying.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from model.asr_model import AsrModel
from model.constants import (
    DEFAULT_DELAY_MS,
    EOS_ID,
    N_LEFT_PAD_STEPS,
    SAMPLE_RATE,
    SAMPLES_PER_STEP,
    delay_steps,
    prompt_length,
    right_pad_steps,
)
from model.frontend import FRAME_LOOKAHEAD, STFT_PAD
from model.offline import prompt_ids
from model.words import Word, WordAssembler

from .audio_input import SampleQueue, to_float32
from .events import Event, Finished, TextDelta, WordFinal

if TYPE_CHECKING:
    from .engine import BatchedEngine

# Samples one step reads: its 1280 plus the STFT's reach before (200) and after (40).
STEP_WINDOW = SAMPLES_PER_STEP + STFT_PAD + FRAME_LOOKAHEAD


class Session:
    def __init__(self, model: AsrModel, delay_ms: int = DEFAULT_DELAY_MS,
                 engine: BatchedEngine | None = None) -> None:
        from .engine import BatchedEngine  # the engine module imports this one

        self.model = model
        self.delay_ms = delay_ms
        self.n_delay = delay_steps(delay_ms)
        self.engine = engine if engine is not None else BatchedEngine(model)
        self.prompt = prompt_ids(self.n_delay)
        self.position = 0  # next decoder position to compute (0 = BOS)
        self.tokens: list[int] = []
        self.done = False  # EOS emitted or every position decoded
        self.ended = False  # end of audio pushed
        self.closed = False
        self.received_samples = 0
        self._last_position: int | None = None  # set at end of audio
        # Padded-signal coordinates: the left pad is 32 steps of zeros, and the centred STFT
        # reflects 200 zero samples before it, so the queue starts at -STFT_PAD.
        left = np.zeros(STFT_PAD + N_LEFT_PAD_STEPS * SAMPLES_PER_STEP, dtype=np.float32)
        self._audio = SampleQueue(-STFT_PAD, left)
        self._words = WordAssembler(model.tokenizer)
        self._final_events: list[Event] = []
        self.slot: int | None = None  # engine cache slot, assigned on first step

    # ---- audio in (cheap, no model compute) ----

    def push_audio(self, chunk: bytes | np.ndarray) -> None:
        """Buffer 16 kHz audio: PCM16 LE bytes or a 1-D float32 / int16 array."""
        if self.ended:
            raise RuntimeError("audio pushed after end of audio")
        samples = to_float32(chunk)
        self._audio.append(samples)
        self.received_samples += len(samples)

    def push_end(self) -> None:
        """End of audio: zeros to a whole step, then the right pad that flushes the delay."""
        if self.ended:
            return
        self.ended = True
        partial = self.received_samples % SAMPLES_PER_STEP
        fill = (SAMPLES_PER_STEP - partial) % SAMPLES_PER_STEP
        pad = fill + right_pad_steps(self.n_delay) * SAMPLES_PER_STEP
        self._audio.append(np.zeros(pad, dtype=np.float32))
        n_positions = self._audio.end // SAMPLES_PER_STEP
        self._last_position = n_positions - 2  # the reference never feeds the last position
        if self.position > self._last_position:
            self.done = True

    def buffered_seconds(self) -> float:
        """Audio received but not yet consumed by the model."""
        consumed = self.position * SAMPLES_PER_STEP - N_LEFT_PAD_STEPS * SAMPLES_PER_STEP
        return max(0, self.received_samples - max(0, consumed)) / SAMPLE_RATE

    def steps_ready(self) -> int:
        if self.done or self.closed:
            return 0
        available = (self._audio.end - FRAME_LOOKAHEAD) // SAMPLES_PER_STEP - self.position
        if self._last_position is not None:
            available = min(available, self._last_position + 1 - self.position)
        return max(0, available)

    # ---- what the engine reads and writes ----

    def next_window(self) -> np.ndarray:
        start = self.position * SAMPLES_PER_STEP - STFT_PAD
        return self._audio.window(start, STEP_WINDOW)

    def next_input_token(self) -> int:
        if self.position < len(self.prompt):
            return self.prompt[self.position]
        return self.tokens[-1]

    def skip_left_pad(self, steps: int) -> None:
        """The engine restored the cache state of the first `steps` (all-zero) steps."""
        assert self.position == 0 and steps < N_LEFT_PAD_STEPS
        self.position = steps
        self._audio.drop_before(self.position * SAMPLES_PER_STEP - STFT_PAD)

    def accept(self, token: int) -> list[Event]:
        """Record the model's output at the current position and advance."""
        events: list[Event] = []
        position = self.position
        self.position += 1
        self._audio.drop_before(self.position * SAMPLES_PER_STEP - STFT_PAD)
        if position >= len(self.prompt) - 1:
            index = len(self.tokens)
            self.tokens.append(token)
            text, words = self._words.push(token, index)
            if text:
                events.append(TextDelta(text, round(index * SAMPLES_PER_STEP / SAMPLE_RATE, 3)))
            events += [WordFinal(*w) for w in words]
            if token == EOS_ID:
                self.done = True
        if self._last_position is not None and self.position > self._last_position:
            self.done = True
        if self.done:
            events += self._finish_events()
        return events

    def _finish_events(self) -> list[Event]:
        tail, words = self._words.flush()
        last_index_s = round(max(0, len(self.tokens) - 1) * SAMPLES_PER_STEP / SAMPLE_RATE, 3)
        events: list[Event] = [TextDelta(tail, last_index_s)] if tail else []
        events += [WordFinal(*w) for w in words]
        return events + [Finished(self._words.text, list(self._words.words))]

    # ---- convenience: drive the engine for this session alone ----

    def feed(self, chunk: bytes | np.ndarray) -> list[Event]:
        self.push_audio(chunk)
        return self._run()

    def finish(self) -> list[Event]:
        """End of audio: decode the right padding and flush every remaining word. `Finished`
        is emitted exactly once, when the session becomes done (here, or earlier at EOS)."""
        self.push_end()
        return self._run()

    def _run(self) -> list[Event]:
        events: list[Event] = []
        while self.steps_ready() > 0:
            events += self.engine.step([self]).get(self, [])
        return events

    def close(self) -> None:
        """Free the engine slot; the session can no longer step."""
        if not self.closed:
            self.closed = True
            self.engine.release(self)

    @property
    def text(self) -> str:
        return self._words.text

    @property
    def words(self) -> list[Word]:
        return list(self._words.words)

    @property
    def prompt_length(self) -> int:
        return prompt_length(self.n_delay)

