"""Map an engine's timed phone sequence back onto the words of the text.

Engines glue or re-split words (piper says "of the" as one group; flite splits "sixty-one").
We phonemise each text word on its own, align the concatenation with the timed phones
(difflib: longest matching blocks), and give each word the span of the phones it matched.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence


def align_words_to_phones(
    word_phones: Sequence[Sequence[str]], timed: Sequence[tuple[str, float, float]]
) -> list[tuple[float, float]]:
    """(start_s, end_s) per word. `timed` holds (phone, start_s, end_s) of speech phones only."""
    flat: list[str] = []
    owner: list[int] = []
    for i, phones in enumerate(word_phones):
        flat += list(phones)
        owner += [i] * len(phones)
    spoken = [p for p, _, _ in timed]
    matcher = difflib.SequenceMatcher(None, flat, spoken, autojunk=False)
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for a, b, size in matcher.get_matching_blocks():
        for k in range(size):
            w = owner[a + k]
            first.setdefault(w, b + k)
            last[w] = b + k
    # Words without matched phones: take the gap between their neighbours' phones.
    spans: list[tuple[float, float]] = []
    n_words = len(word_phones)
    for w in range(n_words):
        if w in first:
            spans.append((timed[first[w]][1], timed[last[w]][2]))
            continue
        prev_end = max((last[v] for v in range(w) if v in last), default=-1)
        next_start = min((first[v] for v in range(w + 1, n_words) if v in first),
                         default=len(timed))
        lo = prev_end + 1 if prev_end + 1 < len(timed) else len(timed) - 1
        hi = max(lo, next_start - 1)
        spans.append((timed[lo][1], timed[hi][2]))
    return monotonic(spans)


def monotonic(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Force start <= end and no word starting before the previous one ended."""
    out: list[tuple[float, float]] = []
    prev_end = 0.0
    for start, end in spans:
        start = max(start, prev_end)
        end = max(end, start)
        out.append((start, end))
        prev_end = end
    return out
