"""WER/CER scoring with jiwer, both sides through the Whisper English normaliser."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import jiwer

from eval.normalizer import normalize


@dataclass
class UtteranceScore:
    """One utterance: raw and normalised texts plus its own error counts."""

    id: str
    reference: str
    hypothesis: str
    ref_norm: str
    hyp_norm: str
    ref_words: int
    substitutions: int
    deletions: int
    insertions: int
    wer: float
    cer: float

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class CorpusScore:
    """Corpus totals: ``wer`` is total errors / total reference words (the usual number)."""

    utterances: int
    ref_words: int
    substitutions: int
    deletions: int
    insertions: int
    hits: int
    wer: float
    cer: float
    mean_utterance_wer: float

    def to_dict(self) -> dict:
        return asdict(self)


def score_utterance(
    uid: str, reference: str, hypothesis: str, norm: Callable[[str], str] = normalize
) -> UtteranceScore:
    """Normalise both sides and count word and character errors for one utterance."""
    ref_n, hyp_n = norm(reference), norm(hypothesis)
    w = jiwer.process_words(ref_n, hyp_n)
    ref_words = len(ref_n.split())
    if ref_n:
        cer = float(jiwer.cer(ref_n, hyp_n))
    else:
        cer = 0.0 if not hyp_n else 1.0
    return UtteranceScore(
        id=uid,
        reference=reference,
        hypothesis=hypothesis,
        ref_norm=ref_n,
        hyp_norm=hyp_n,
        ref_words=ref_words,
        substitutions=w.substitutions,
        deletions=w.deletions,
        insertions=w.insertions,
        wer=float(w.wer),
        cer=cer,
    )


def score_corpus(utts: Sequence[UtteranceScore]) -> CorpusScore:
    """Corpus WER and CER (jiwer over all utterances at once) and mean per-utterance WER."""
    if not utts:
        nan = float("nan")
        return CorpusScore(0, 0, 0, 0, 0, 0, nan, nan, nan)
    refs = [u.ref_norm for u in utts]
    hyps = [u.hyp_norm for u in utts]
    w = jiwer.process_words(refs, hyps)
    if any(refs):
        c = jiwer.process_characters(refs, hyps)
        cer = float(c.cer)
    else:
        cer = float("nan")
    return CorpusScore(
        utterances=len(utts),
        ref_words=sum(u.ref_words for u in utts),
        substitutions=w.substitutions,
        deletions=w.deletions,
        insertions=w.insertions,
        hits=w.hits,
        wer=float(w.wer) if any(refs) else float("nan"),
        cer=cer,
        mean_utterance_wer=sum(u.wer for u in utts) / len(utts),
    )


def running_wer(utts: Sequence[UtteranceScore]) -> float:
    """Cheap corpus WER from per-utterance counts (what the progress bar shows)."""
    words = sum(u.ref_words for u in utts)
    return sum(u.errors for u in utts) / words if words else float("nan")


def worst_utterances(utts: Sequence[UtteranceScore], n: int = 10) -> list[UtteranceScore]:
    """The ``n`` utterances with the most word errors (ties: higher WER first)."""
    return sorted(utts, key=lambda u: (u.errors, u.wer), reverse=True)[:n]
