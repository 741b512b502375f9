"""Collect scored runs and write ``report.md``, ``report.json`` and ``wer_vs_delay.png``."""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval.runners import RunStats, Transcript
from eval.scoring import UtteranceScore, score_corpus, worst_utterances


@dataclass
class SystemRun:
    """One system at one delay (``delay_ms`` is None for offline peers)."""

    system: str
    delay_ms: int | None
    kind: str = "streaming"
    scores: list[UtteranceScore] = field(default_factory=list)
    transcripts: list[Transcript] = field(default_factory=list)
    stats: RunStats = field(default_factory=RunStats)

    def result(self) -> dict[str, Any]:
        """The ``results`` row: ``{system, delay_ms, wer, cer, utterances, rtf, ...}``."""
        c = score_corpus(self.scores)
        return {
            "system": self.system,
            "delay_ms": self.delay_ms,
            "wer": _num(c.wer),
            "cer": _num(c.cer),
            "utterances": c.utterances,
            "rtf": _num(self.stats.rtf),
            "kind": self.kind,
            "mean_utterance_wer": _num(c.mean_utterance_wer),
            "ref_words": c.ref_words,
            "substitutions": c.substitutions,
            "deletions": c.deletions,
            "insertions": c.insertions,
            "audio_s": round(self.stats.audio_s, 3),
            "emission_latency": self.stats.latency_summary(),
            "interrupted": self.stats.interrupted,
        }

    def rows(self) -> list[dict[str, Any]]:
        """Per-utterance rows of this run."""
        by_id = {t.id: t for t in self.transcripts}
        out = []
        for s in self.scores:
            t = by_id.get(s.id)
            lat = t.latencies_s if t else []
            out.append({
                "system": self.system,
                "delay_ms": self.delay_ms,
                **s.to_dict(),
                "audio_s": round(t.audio_s, 3) if t else None,
                "mean_emission_latency_s": round(sum(lat) / len(lat), 4) if lat else None,
            })
        return out


def _num(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), 6)


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _lat(summary: dict[str, float | None]) -> str:
    if summary.get("p50_s") is None:
        return "n/a"
    return f"{summary['p50_s'] * 1000:.0f} / {summary['p90_s'] * 1000:.0f}"


def markdown(runs: list[SystemRun], meta: dict[str, Any], worst_n: int = 5) -> str:
    """The Markdown report: one table row per run, then the worst utterances of each."""
    lines = [f"# streamscribe eval: {meta.get('dataset', '')}", ""]
    total = meta.get("utterances", 0)
    scored = meta.get("utterances_scored", total)
    count = f"{total} utterances" if scored >= total else f"{scored} of {total} utterances scored"
    lines.append(
        f"{count}, {meta.get('audio_s', 0.0) / 60:.1f} min of "
        f"audio; mode: {meta.get('mode', '')}; model: {meta.get('model', '')}; "
        "scored with the Whisper English normaliser on both sides."
    )
    if meta.get("interrupted"):
        lines += ["", "**Interrupted (Ctrl-C): partial results.**"]
    lines += [
        "",
        "| system | delay (ms) | WER | CER | mean utt WER | sub / del / ins | RTF "
        "| word latency p50 / p90 (ms) | utterances |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        d = r.result()
        delay = "offline" if d["delay_ms"] is None else str(d["delay_ms"])
        rtf = "n/a" if d["rtf"] is None else f"{d['rtf']:.3f}"
        lines.append(
            f"| {d['system']} | {delay} | {_pct(d['wer'])} | {_pct(d['cer'])} "
            f"| {_pct(d['mean_utterance_wer'])} "
            f"| {d['substitutions']} / {d['deletions']} / {d['insertions']} | {rtf} "
            f"| {_lat(d['emission_latency'])} | {d['utterances']} |"
        )
    lines += [
        "",
        "WER = (S + D + I) / reference words over the whole set (jiwer); RTF = compute "
        "seconds / audio seconds; word latency = when a word was emitted minus its end in "
        "the audio (in-process: on the model's 80 ms step clock; live: wall clock, only "
        "with --realtime).",
    ]
    for r in runs:
        worst = [s for s in worst_utterances(r.scores, worst_n) if s.errors > 0]
        if not worst:
            continue
        delay = "" if r.delay_ms is None else f" @ {r.delay_ms} ms"
        lines += ["", f"### Worst utterances: {r.system}{delay}", ""]
        lines += ["| id | WER | reference (normalised) | hypothesis (normalised) |",
                  "|---|---:|---|---|"]
        for s in worst:
            ref = s.ref_norm.replace("|", "\\|")
            hyp = s.hyp_norm.replace("|", "\\|")
            lines.append(f"| {s.id} | {_pct(s.wer)} | {ref} | {hyp} |")
    if meta.get("notes"):
        lines += ["", "Notes:", ""] + [f"- {n}" for n in meta["notes"]]
    return "\n".join(lines) + "\n"


def plot(runs: list[SystemRun], path: Path) -> str | None:
    """WER against delay (peers as horizontal lines). Returns a note if it was skipped."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return ("matplotlib is not installed: skipped wer_vs_delay.png "
                "(pip install 'streamscribe[plot]')")
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    streaming: dict[str, list[tuple[int, float]]] = {}
    offline: list[tuple[str, float]] = []
    for r in runs:
        d = r.result()
        if d["wer"] is None:
            continue
        if r.delay_ms is None:
            offline.append((r.system, 100 * d["wer"]))
        else:
            streaming.setdefault(r.system, []).append((r.delay_ms, 100 * d["wer"]))
    for name, pts in streaming.items():
        pts.sort()
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=name)
        for x, y in pts:
            ax.annotate(f"{y:.1f}", (x, y), textcoords="offset points", xytext=(0, 6),
                        ha="center", fontsize=8)
    styles = ["--", ":", "-."]
    for i, (name, wer) in enumerate(offline):
        ax.axhline(wer, linestyle=styles[i % len(styles)], color=f"C{i + len(streaming)}",
                   label=f"{name} ({wer:.1f}%)")
    ax.set_xlabel("streaming delay (ms)")
    ax.set_ylabel("WER (%)")
    ax.set_title("WER vs delay")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    if streaming or offline:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return None


def write_report(out_dir: str | Path, runs: list[SystemRun], meta: dict[str, Any]) -> list[str]:
    """Write the three files into ``out_dir``; returns notes (e.g. a skipped plot)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    notes = list(meta.get("notes", []))
    note = plot(runs, out / "wer_vs_delay.png")
    if note:
        notes.append(note)
    meta = {**meta, "notes": notes, "written": time.strftime("%Y-%m-%dT%H:%M:%S")}
    (out / "report.md").write_text(markdown(runs, meta), encoding="utf-8")
    doc = {
        "meta": meta,
        "results": [r.result() for r in runs],
        "utterances": [row for r in runs for row in r.rows()],
    }
    (out / "report.json").write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n",
                                     encoding="utf-8")
    return notes
