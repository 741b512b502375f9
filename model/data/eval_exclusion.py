"""Keep every evaluation sentence (and near-copies of it) out of the training text.

Matching happens on a normalised spoken form (numbers expanded, lower case, letters only), so
"Dr. Smith paid $5" and "DOCTOR SMITH PAID FIVE DOLLARS" collide. Near-duplicates: a candidate
is dropped when it shares any word n-gram (n=5) with an evaluation text, or when the two
normalised strings are mostly the same (difflib ratio >= 0.8, for short texts).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable
from pathlib import Path

from model.data.shared_paths import EVAL_MANIFEST
from model.data.text_normalize import expand_for_speech

NGRAM = 5
SHORT_RATIO = 0.8


def match_key(text: str) -> str:
    """Lower-case letters and single spaces of the spoken form."""
    spoken = expand_for_speech(text).lower().replace("-", " ")
    return re.sub(r"\s+", " ", re.sub(r"[^a-z' ]", " ", spoken)).strip()


def _ngrams(words: list[str], n: int = NGRAM) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


class EvalExcluder:
    """`excluder.is_excluded(sentence)` is True for an evaluation text or a near-copy."""

    def __init__(self, eval_texts: Iterable[str]) -> None:
        self.keys = {match_key(t) for t in eval_texts}
        self.ngrams: set[tuple[str, ...]] = set()
        for key in self.keys:
            self.ngrams |= _ngrams(key.split())
        self.short_keys = [k for k in self.keys if len(k.split()) < NGRAM + 3]

    @classmethod
    def from_manifest(cls, path: Path = EVAL_MANIFEST) -> EvalExcluder:
        with open(path, encoding="utf-8") as f:
            return cls(json.loads(line)["text"] for line in f if line.strip())

    def is_excluded(self, sentence: str) -> bool:
        key = match_key(sentence)
        if key in self.keys or any(k and k in key for k in self.short_keys):
            return True
        words = key.split()
        if _ngrams(words) & self.ngrams:
            return True
        if len(words) < NGRAM + 3:
            return any(
                difflib.SequenceMatcher(None, key, k).quick_ratio() >= SHORT_RATIO
                and difflib.SequenceMatcher(None, key, k).ratio() >= SHORT_RATIO
                for k in self.short_keys
            )
        return False
