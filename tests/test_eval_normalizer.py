"""The Whisper English normaliser: behaviour, and equality with transformers' copy."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from eval.normalizer import EnglishTextNormalizer, normalize

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # numbers and currency
        ("twenty five", "25"),
        ("two thousand and nine", "2009"),
        ("one hundred and twenty three thousand", "123000"),
        ("It cost twenty dollars and fifty cents", "it cost $20.50"),
        ("ten thousand dollars", "$10000"),
        ("1,000,000 people", "1000000 people"),
        ("the 1st of May, 3rd place", "the 1st of may 3rd place"),
        ("fifty percent of sixty", "50% of 60"),
        ("nineteen ninety nine", "1999"),
        # contractions
        ("I won't go", "i will not go"),
        ("They're here, we've seen it", "they are here we have seen it"),
        ("can't, let's, y'all", "can not let us you all"),
        ("she's been gone, he'd done it", "she has been gone he had done it"),
        ("gonna wanna gotta", "going to want to got to"),
        # titles
        ("Mr. Smith and Dr. Jones", "mister smith and doctor jones"),
        # British spellings
        ("The colour of the theatre centre", "the color of the theater center"),
        ("we organised a programme", "we organized a program"),
        ("travelling neighbours apologise", "traveling neighbors apologize"),
        # punctuation, case, fillers, brackets, diacritics
        ("Hello, world! How's it going?", "hello world how is it going"),
        ('He said "yes" - then left', "he said yes then left"),
        ("um hmm okay [laughter] (inaudible) fine", "okay fine"),
        ("Café naïve façade", "cafe naive facade"),
        ("HE HOPED THERE WOULD BE STEW", "he hoped there would be stew"),
        ("", ""),
    ],
)
def test_whisper_english_rules(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_both_sides_agree_on_style_differences() -> None:
    ref = "MISTER QUILTER IS THE APOSTLE OF THE MIDDLE CLASSES"
    hyp = "Mr. Quilter is the apostle of the middle classes."
    assert normalize(ref) == normalize(hyp)
    assert normalize("Twenty-five colours.") == normalize("25 colors")


# ---------------------------------------------------------------- against transformers

_TOKENS = [
    "one", "two", "three", "ten", "eleven", "twenty", "thirty", "forty", "ninety", "hundred",
    "thousand", "million", "billion", "and", "a", "half", "quarter", "point", "oh", "zero",
    "first", "second", "third", "twentieth", "hundredth", "dollars", "dollar", "cents",
    "pounds", "euros", "percent", "per", "cent", "$5", "£3.50", "€12", "50%", "1,234",
    "3.14", "1st", "2nd", "22nd", "1990s", "'90s", "1/2", "-3", "+4", "#1", "Mr.", "Mrs.",
    "Dr", "St.", "Jr.", "won't", "can't", "isn't", "they're", "we've", "I'm", "she'd",
    "he'll", "it's", "ain't", "gonna", "y'all", "ma'am", "colour", "honour", "theatre",
    "organise", "analyse", "travelled", "grey", "cheque", "programme", "defence", "um",
    "uh", "hmm", "mhm", "(noise)", "[laughs]", "<unk>", "Hello,", "world!", "What?", "—",
    "...", "\"quoted\"", "don't.", "e.g.", "U.S.A.", "naïve", "Zoë", "Ærøskøbing", "œuvre",
    "straße", "Łódź", "sixes", "twenties", "fifths", "nineteen", "eighty", "four", "o'clock",
    "5:30", "p.m.", "A.M.", "km", "3rd.", "double", "triple", "seven", "nought",
]


def _random_strings(n: int, seed: int = 1234) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        words = [rng.choice(_TOKENS) for _ in range(rng.randint(1, 12))]
        words = [w.upper() if rng.random() < 0.1 else w for w in words]
        sep = rng.choice([" ", " ", " ", ", ", "-", "  "])
        out.append(sep.join(words))
    return out


def _corpus_strings() -> list[str]:
    out: list[str] = []
    manifest = SHARED / "eval-real" / "manifest.jsonl"
    if manifest.exists():
        out += [json.loads(line)["text"] for line in manifest.read_text().splitlines() if line]
    text_dir = SHARED / "text"
    if text_dir.is_dir():
        for f in sorted(text_dir.rglob("*.txt"))[:8]:
            with open(f, encoding="utf-8", errors="replace") as fh:
                for i, line in enumerate(fh):
                    if i % 97 == 0:
                        out.append(line.strip())
                    if i > 97 * 150:
                        break
    return out


def test_same_as_transformers_english_normalizer() -> None:
    """Our port must equal transformers' EnglishTextNormalizer given the same spelling map."""
    tr = pytest.importorskip("transformers.models.whisper.english_normalizer")
    ours = EnglishTextNormalizer()
    theirs = tr.EnglishTextNormalizer(ours.standardize_spellings.mapping)
    strings = _random_strings(3000) + _corpus_strings()
    assert len(strings) >= 3000
    mismatches = [(s, ours(s), theirs(s)) for s in strings if ours(s) != theirs(s)]
    assert not mismatches, mismatches[:5]
