"""Text selection: spoken-form normalisation, filters and evaluation-text exclusion."""

from __future__ import annotations

from model.data.eval_exclusion import EvalExcluder
from model.data.shared_paths import EVAL_MANIFEST
from model.data.text_normalize import to_target_text
from model.data.text_sources import is_usable
from model.data.words import split_words


def test_numbers_and_abbreviations_are_spoken_form() -> None:
    text = to_target_text('Dr. Jones paid $5 in 1961 for " 2 " books , 10% off.')
    assert text == (
        "Doctor Jones paid five dollars in nineteen sixty-one for two books, ten percent off."
    )


def test_filters() -> None:
    assert is_usable("He went home early.")
    assert not is_usable("Hi there")  # too short
    assert not is_usable("The NATO summit began.")  # acronyms are read differently
    assert not is_usable(" ".join(["word"] * 41))


def test_word_spans() -> None:
    spans = split_words("Hello,  big world.")
    assert [(s.text, s.start, s.end) for s in spans] == [
        ("Hello,", 0, 6), ("big", 8, 11), ("world.", 12, 18)]


def test_eval_texts_and_near_copies_are_excluded() -> None:
    excluder = EvalExcluder(["HE HOPED THERE WOULD BE STEW FOR DINNER TURNIPS AND CARROTS",
                             "Printing, in the only sense with which we are at present concerned"])
    assert excluder.is_excluded("He hoped there would be stew for dinner, turnips and carrots.")
    assert excluder.is_excluded("He hoped there would be stew for dinner tonight.")  # 5-gram
    assert excluder.is_excluded("printing in the only sense with which we are concerned")
    assert not excluder.is_excluded("She hoped for a quiet dinner at home.")


def test_real_eval_manifest_is_excluded_from_training_text() -> None:
    excluder = EvalExcluder.from_manifest()
    import json

    with open(EVAL_MANIFEST) as f:
        texts = [json.loads(line)["text"] for line in f]
    assert all(excluder.is_excluded(to_target_text(t)) for t in texts)
