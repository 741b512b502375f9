"""Training sentences: read the shared corpora, normalise, filter, keep eval texts out,
and split off held-out texts (by a hash, so the split never changes between runs)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

from model.data.eval_exclusion import EvalExcluder, match_key
from model.data.shared_paths import TEXT_DIR
from model.data.text_normalize import to_target_text

MIN_WORDS, MAX_WORDS = 3, 40
MIN_LETTER_FRACTION = 0.85  # letters / non-space characters
HELDOUT_PERCENT = 1  # texts whose hash falls in the first 1% are never trained on

_ALLOWED = re.compile(r"^[A-Za-z][A-Za-z' .,;:!?-]*$")
_ACRONYM = re.compile(r"\b[A-Z]{2,}\b|[A-Z]\.[A-Z]")  # engines spell these differently


def is_usable(text: str) -> bool:
    """A spoken-form sentence every engine reads the same way."""
    words = text.split()
    if not MIN_WORDS <= len(words) <= MAX_WORDS or not _ALLOWED.match(text):
        return False
    if _ACRONYM.search(text) or "--" in text or re.search(r"[.,;:!?]{2,}", text):
        return False
    if any(not any(c.isalpha() for c in w) for w in words):  # a lone "-" or "."
        return False
    chars = [c for c in text if not c.isspace()]
    return sum(c.isalpha() for c in chars) / len(chars) >= MIN_LETTER_FRACTION


def is_heldout(text: str) -> bool:
    digest = hashlib.sha1(match_key(text).encode()).digest()
    return digest[0] * 100 // 256 < HELDOUT_PERCENT


def iter_raw_sentences(text_dir: Path = TEXT_DIR) -> Iterator[tuple[str, str]]:
    """(corpus name, raw sentence) for every line of every corpus file."""
    for path in sorted(text_dir.glob("*.txt")):
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.strip():
                    yield path.stem, line.strip()


def load_sentences(
    split: str = "train", text_dir: Path = TEXT_DIR, excluder: EvalExcluder | None = None
) -> list[tuple[str, str]]:
    """(corpus, target text) pairs of one split ("train" or "heldout"), deduplicated."""
    excluder = excluder or EvalExcluder.from_manifest()
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    for corpus, raw in iter_raw_sentences(text_dir):
        text = to_target_text(raw)
        if not is_usable(text):
            continue
        key = match_key(text)
        if key in seen or is_heldout(text) != (split == "heldout"):
            continue
        seen.add(key)
        if not excluder.is_excluded(text):
            out.append((corpus, text))
    return out


def cached_sentences(split: str, cache_dir: Path) -> list[tuple[str, str]]:
    """`load_sentences` through a TSV cache (the full pass takes a few minutes)."""
    path = cache_dir / f"sentences-{split}.tsv"
    if not path.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            for corpus, text in load_sentences(split):
                f.write(f"{corpus}\t{text}\n")
        tmp.rename(path)
    with open(path, encoding="utf-8") as f:
        return [tuple(line.rstrip("\n").split("\t", 1)) for line in f]  # type: ignore[misc]
