"""Turn corpus sentences into the spoken form the model writes (see README.md, "Text form").

The target keeps case and punctuation but has numbers, symbols and common abbreviations
written out as words BEFORE synthesis, so what the TTS says equals the target text.
Number words come from `num2words` (maintained, PyPI) rather than our own tables.
"""

from __future__ import annotations

import re
import unicodedata

from num2words import num2words

# Title-like abbreviations that only ever precede a name (safe to expand).
_ABBREVIATIONS: dict[str, str] = {
    "Mr.": "Mister", "Mrs.": "Missus", "Ms.": "Miz", "Dr.": "Doctor", "Prof.": "Professor",
    "Jr.": "Junior", "Sr.": "Senior", "Gov.": "Governor", "Sen.": "Senator",
    "Rep.": "Representative", "Gen.": "General", "Col.": "Colonel", "Lt.": "Lieutenant",
    "Capt.": "Captain", "Sgt.": "Sergeant", "Rev.": "Reverend", "Mt.": "Mount",
    "Ft.": "Fort", "vs.": "versus", "etc.": "et cetera", "Inc.": "Incorporated",
    "Corp.": "Corporation", "Co.": "Company", "Jan.": "January", "Feb.": "February",
    "Aug.": "August", "Sept.": "September", "Oct.": "October", "Nov.": "November",
    "Dec.": "December", "approx.": "approximately", "Ave.": "Avenue", "Dept.": "Department",
}
_SYMBOLS = {"&": " and ", "%": " percent", "+": " plus ", "=": " equals ", "@": " at "}

_MONEY = re.compile(r"\$(\d[\d,]*)(?:\.(\d\d))?(\s*(?:million|billion|thousand))?")
_ORDINAL = re.compile(r"\b(\d+)(st|nd|rd|th)\b")
_DECIMAL = re.compile(r"\b(\d+)\.(\d+)\b")
_NUMBER = re.compile(r"\b\d[\d,]*\b")
_DETACHED_PUNCT = re.compile(r"\s+([.,;:!?%])")
# Quote marks are not spoken; a single quote survives only inside a word (don't, Atlanta's).
_QUOTES = re.compile(r"[\"`“”‘’]|''|(?<![A-Za-z0-9])'|'(?![A-Za-z])")
# The movie-review corpus splits contractions: "it' s", "can' t".
_SPLIT_CONTRACTION = re.compile(r"(\w)' (s|t|re|ve|ll|d|m)\b")


def _int_words(digits: str) -> str:
    return num2words(int(digits.replace(",", ""))).replace(",", "")


def _number_words(match: re.Match[str]) -> str:
    digits = match.group()
    value = int(digits.replace(",", ""))
    # Four-digit numbers without a thousands comma read as years ("1961" -> nineteen sixty-one).
    if "," not in digits and len(digits) == 4 and 1100 <= value <= 2099 and value % 1000 >= 10:
        return num2words(value, to="year").replace(",", "")
    return _int_words(digits)


def _money_words(match: re.Match[str]) -> str:
    dollars = _int_words(match.group(1))
    scale = (match.group(3) or "").strip()
    if scale:  # "$5 million" -> "five million dollars"
        return f"{dollars} {scale} dollars"
    unit = "dollar" if dollars == "one" else "dollars"
    cents = match.group(2)
    if cents and int(cents):
        return f"{dollars} {unit} and {_int_words(cents)} cents"
    return f"{dollars} {unit}"


def clean_punctuation(text: str) -> str:
    """ASCII only, no quotes, punctuation attached to words, single spaces."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = text.replace("--", ", ")
    text = _SPLIT_CONTRACTION.sub(r"\1'\2", text)
    text = _QUOTES.sub(" ", text)
    text = re.sub(r"[()\[\]{}*_#|<>~^\\/]", " ", text)
    text = _DETACHED_PUNCT.sub(r"\1", text)
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"^[,.;:!?\s]+", "", text)
    text = re.sub(r"([,;:])(?=[.!?]$)", "", text)
    return text


def expand_for_speech(text: str) -> str:
    """Write numbers, money, ordinals, symbols and title abbreviations as words."""
    for abbreviation, expansion in _ABBREVIATIONS.items():
        text = re.sub(rf"(?<![\w.]){re.escape(abbreviation)}", expansion, text)
    text = _MONEY.sub(_money_words, text)
    text = _ORDINAL.sub(lambda m: num2words(int(m.group(1)), to="ordinal"), text)
    text = _DECIMAL.sub(lambda m: f"{_int_words(m.group(1))} point "
                        + " ".join(num2words(int(d)) for d in m.group(2)), text)
    text = _NUMBER.sub(_number_words, text)
    for symbol, words in _SYMBOLS.items():
        text = text.replace(symbol, words)
    return re.sub(r"\s+", " ", text).strip()


def to_target_text(sentence: str) -> str:
    """Corpus sentence -> the cased, punctuated, spoken-form text the model writes."""
    text = expand_for_speech(clean_punctuation(sentence))
    text = re.sub(r"\bi\b", "I", text)  # lower-cased corpora (movie reviews)
    if text and text[0].islower():
        text = text[0].upper() + text[1:]
    return clean_punctuation(text)
