"""Scoring (jiwer through the Whisper normaliser) and report writing, without a model."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

from eval.report import SystemRun, markdown, write_report
from eval.runners import RunStats, Transcript
from eval.scoring import running_wer, score_corpus, score_utterance, worst_utterances


def test_utterance_counts_after_normalisation() -> None:
    s = score_utterance("u1", "Mr. Smith's colour: twenty-five!", "mister smith is color 25")
    assert s.ref_norm == "mister smith is color 25"
    assert (s.wer, s.errors, s.cer) == (0.0, 0, 0.0)
    s = score_utterance("u2", "the cat sat on the mat", "the cat sat on a mat today")
    assert (s.substitutions, s.deletions, s.insertions) == (1, 0, 1)
    assert s.wer == pytest.approx(2 / 6)
    s = score_utterance("u3", "a b c d", "")
    assert (s.deletions, s.wer, s.cer) == (4, 1.0, 1.0)


def test_corpus_wer_is_total_errors_over_total_words() -> None:
    scores = [
        score_utterance("a", "a b c d e f g h i j k", "x"),
        score_utterance("b", "hello world", "hello world"),
    ]
    c = score_corpus(scores)
    assert c.ref_words == 13
    assert c.wer == pytest.approx(11 / 13)
    assert c.mean_utterance_wer == pytest.approx((1.0 + 0.0) / 2)
    assert c.substitutions + c.deletions + c.insertions == 11
    assert running_wer(scores) == pytest.approx(c.wer)
    assert 0 < c.cer < 1
    assert worst_utterances(scores, 1)[0].id == "a"
    assert math.isnan(score_corpus([]).wer)


def _run(system: str, delay: int | None, hyps: dict[str, str], refs: dict[str, str]) -> SystemRun:
    run = SystemRun(system, delay, kind="streaming" if delay else "offline")
    for uid, hyp in hyps.items():
        run.transcripts.append(Transcript(uid, hyp, 2.0, [("x", 0.1, 0.5)], [0.3, 0.5]))
        run.scores.append(score_utterance(uid, refs[uid], hyp))
    run.stats = RunStats(audio_s=2.0 * len(hyps), wall_s=1.0, utterances=len(hyps),
                         latencies_s=[0.3, 0.5] * len(hyps))
    return run


def test_report_files_have_the_documented_structure(tmp_path: Path) -> None:
    refs = {"a": "the quick brown fox", "b": "jumps over the lazy dog"}
    runs = [
        _run("streamscribe", 240, {"a": "the quick brown box", "b": "jumps over a lazy dog"},
             refs),
        _run("streamscribe", 480, {"a": "the quick brown fox", "b": "jumps over the lazy dog"},
             refs),
        _run("pocketsphinx", None, {"a": "a quick brown", "b": "jumps over the lazy dog"}, refs),
    ]
    meta = {"dataset": "toy", "utterances": 2, "audio_s": 4.0, "mode": "in-process",
            "model": "test"}
    notes = write_report(tmp_path / "out", runs, meta)
    doc = json.loads((tmp_path / "out" / "report.json").read_text())
    results = doc["results"]
    assert [(r["system"], r["delay_ms"]) for r in results] == [
        ("streamscribe", 240), ("streamscribe", 480), ("pocketsphinx", None)]
    for r in results:
        assert {"system", "delay_ms", "wer", "cer", "utterances", "rtf"} <= set(r)
        assert r["utterances"] == 2 and r["rtf"] == pytest.approx(0.25)
    assert results[0]["wer"] == pytest.approx(2 / 9)
    assert results[1]["wer"] == 0.0
    assert results[0]["emission_latency"]["p50_s"] == pytest.approx(0.4)
    rows = doc["utterances"]
    assert len(rows) == 6
    assert {"system", "delay_ms", "id", "reference", "hypothesis", "wer", "cer"} <= set(rows[0])
    md = (tmp_path / "out" / "report.md").read_text()
    assert "| streamscribe | 240 | 22.2% |" in md
    assert "| pocketsphinx | offline |" in md
    assert "Worst utterances: streamscribe @ 240 ms" in md
    png = tmp_path / "out" / "wer_vs_delay.png"
    if importlib.util.find_spec("matplotlib") is not None:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert notes == []
    else:  # pragma: no cover - matplotlib is an optional extra
        assert not png.exists() and "matplotlib" in notes[0]


def test_missing_matplotlib_skips_plot_with_a_note(tmp_path: Path, monkeypatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name: str, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("no matplotlib")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    refs = {"a": "hello"}
    notes = write_report(tmp_path, [_run("s", 480, {"a": "hello"}, refs)], {"dataset": "x"})
    assert not (tmp_path / "wer_vs_delay.png").exists()
    assert any("matplotlib" in n for n in notes)
    assert "matplotlib" in (tmp_path / "report.md").read_text()


def test_interrupted_report_says_so() -> None:
    md = markdown([], {"dataset": "x", "interrupted": True})
    assert "Interrupted" in md
