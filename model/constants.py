"""Facts of the Voxtral Realtime streaming schedule, defined once (reference-model.md)."""

from __future__ import annotations

SAMPLE_RATE = 16_000
HOP_LENGTH = 160  # mel frames at 100 Hz
SAMPLES_PER_STEP = 1280  # one decoder position / text token = 80 ms
STEP_SECONDS = SAMPLES_PER_STEP / SAMPLE_RATE
MEL_FRAMES_PER_STEP = SAMPLES_PER_STEP // HOP_LENGTH  # 8
ENCODER_FRAMES_PER_STEP = MEL_FRAMES_PER_STEP // 2  # conv stem stride 2 -> 4 frames at 50 Hz

N_LEFT_PAD_STEPS = 32  # zero audio before the real audio
N_RIGHT_PAD_EXTRA_STEPS = 10  # after the delay steps (+1) at end of audio

# Special token ids (Tekken: ids below 1000 are special, text id = 1000 + rank).
BOS_ID = 1
EOS_ID = 2
STREAMING_PAD_ID = 32  # no new text at this step
STREAMING_WORD_ID = 33  # a word starts
N_SPECIAL_TOKENS = 1000

ALLOWED_DELAYS_MS: tuple[int, ...] = tuple(range(80, 1201, 80)) + (2400,)
DEFAULT_DELAY_MS = 480


def delay_steps(delay_ms: int) -> int:
    """Number of 80 ms positions for a delay; raises ValueError for a delay the model family
    was not trained for."""
    if delay_ms not in ALLOWED_DELAYS_MS:
        allowed = ", ".join(str(d) for d in ALLOWED_DELAYS_MS)
        raise ValueError(f"delay {delay_ms} ms is not allowed; choose one of: {allowed}")
    return delay_ms // 80


def prompt_length(n_delay: int) -> int:
    """BOS + one STREAMING_PAD for every left-pad step and every delay step."""
    return 1 + N_LEFT_PAD_STEPS + n_delay


def right_pad_steps(n_delay: int) -> int:
    return n_delay + 1 + N_RIGHT_PAD_EXTRA_STEPS
