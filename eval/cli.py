"""``streamscribe eval``: word error rate of a streaming model (and peers) on a dataset."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from eval.datasets import FORMATS, DatasetError, Utterance, load_dataset
from eval.report import SystemRun, markdown, write_report
from eval.runners import LiveError, RunStats, Transcript, run_inprocess, run_live
from eval.scoring import running_wer, score_utterance

DESCRIPTION = """\
Word error rate of a streamscribe model on a speech dataset, at one or more streaming
delays, optionally side by side with offline peers (Whisper via faster-whisper, PocketSphinx).

Transcripts come either from the in-process streaming engine (the same BatchedEngine +
Session path the server uses, many utterances batched at once) or, with --url, from a live
server over its realtime WebSocket protocol. Both sides of every pair are normalised with
the Whisper English text normaliser (the Open ASR Leaderboard convention) before jiwer counts
substitutions, deletions and insertions.

Dataset formats (detected from PATH, or forced with --format):
  librispeech  folder tree of *.trans.txt + flac          jsonl  manifest.jsonl (audio/text)
  commonvoice  TSV with path/sentence, audio in clips/    or NeMo (audio_filepath/text)
  fleurs       FLEURS TSV (no header), audio in audio/SPLIT/
  folder       audio files with same-name .txt transcripts
  shards       a split of our training data: shard-NNNNN/index.jsonl (data/real-aligned/heldout)
  hf           hf:NAME[:CONFIG]:SPLIT or a save_to_disk folder (needs `datasets`)
"""

EPILOG = """\
examples:
  streamscribe eval --dataset ../shared/data/eval-real --delays 240,480,960 \\
      --compare whisper:tiny.en --compare pocketsphinx --out eval-report
  streamscribe eval --dataset LibriSpeech/test-clean --limit 200 --shuffle --seed 1
  streamscribe eval --dataset cv/en/test.tsv --url ws://127.0.0.1:8000/v1/realtime --realtime

Ctrl-C stops early: what was scored so far is still reported and written.
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="streamscribe eval",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    g = p.add_argument_group("dataset")
    g.add_argument("--dataset", "-d", required=True, metavar="PATH",
                   help="dataset folder/file, or hf:NAME[:CONFIG]:SPLIT")
    g.add_argument("--format", choices=FORMATS, help="force the dataset format")
    g.add_argument("--limit", type=int, metavar="N", help="evaluate only N utterances")
    g.add_argument("--shuffle", action="store_true", help="shuffle before --limit")
    g.add_argument("--seed", type=int, default=0, help="seed for --shuffle (default 0)")

    g = p.add_argument_group("system under test")
    g.add_argument("--model", metavar="PATH",
                   help="checkpoint folder or repo id (default: the embedded model)")
    g.add_argument("--delays", default="480", metavar="MS[,MS...]",
                   help="streaming delays in ms, comma-separated (default 480); one WER each")
    g.add_argument("--dtype", default="float32", choices=("auto", "float32", "bfloat16"),
                   help="in-process compute dtype; auto: bfloat16 where the CPU has it "
                   "natively (default float32, what the numerics are checked in)")
    g.add_argument("--batch-size", type=int, default=16, metavar="N",
                   help="in-process: utterances decoded together (default 16)")
    g.add_argument("--no-model", action="store_true",
                   help="score only the --compare peers, not streamscribe")

    g = p.add_argument_group("live server (instead of in-process)")
    g.add_argument("--url", metavar="WS_URL",
                   help="e.g. ws://127.0.0.1:8000/v1/realtime: transcribe through a server")
    g.add_argument("--realtime", action="store_true",
                   help="send audio at real-time pace (measures wall-clock word latency)")
    g.add_argument("--concurrency", type=int, default=8, metavar="N",
                   help="parallel server sessions (default 8)")
    g.add_argument("--server-model", metavar="NAME", help="model name sent in session.update")
    g.add_argument("--api-key", metavar="KEY", help="bearer token for the server, if it needs one")

    g = p.add_argument_group("peers and output")
    g.add_argument("--compare", action="append", default=[], metavar="PEER",
                   help="whisper:DIR | whisper:tiny.en | pocketsphinx (repeatable or "
                        "comma-separated); optional extras")
    g.add_argument("--whisper-beam", type=int, default=5, metavar="N",
                   help="beam size for whisper peers (default 5, faster-whisper's; 1 = greedy)")
    g.add_argument("--out", metavar="DIR",
                   help="write report.md, report.json and wer_vs_delay.png here")
    g.add_argument("--worst", type=int, default=5, metavar="N",
                   help="worst utterances listed per system (default 5)")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def parse_delays(text: str) -> list[int]:
    """``"240,480"`` -> ``[240, 480]``, each checked against the model family's allowed set."""
    try:
        delays = [int(x) for x in text.replace(" ", "").split(",") if x]
    except ValueError as e:
        raise ValueError(f"--delays must be integers in ms, got {text!r}") from e
    try:
        from model.constants import delay_steps
    except ImportError:  # pragma: no cover
        return delays
    for d in delays:
        delay_steps(d)  # raises ValueError naming the allowed delays
    return delays


class _Progress:
    """tqdm bar over one run, with the running WER in its postfix."""

    def __init__(self, desc: str, total: int, enabled: bool) -> None:
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=desc, unit="utt", file=sys.stderr,
                            dynamic_ncols=True)

    def update(self, run: SystemRun) -> None:
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(f"WER {100 * running_wer(run.scores):.1f}%")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _collector(run: SystemRun, refs: dict[str, str], progress: _Progress) -> Any:
    def on_result(tr: Transcript) -> None:
        run.transcripts.append(tr)
        run.scores.append(score_utterance(tr.id, refs[tr.id], tr.text))
        progress.update(run)

    return on_result


def _order(run: SystemRun, utts: list[Utterance]) -> None:
    """Put rows back in dataset order (batched/concurrent runs finish out of order)."""
    pos = {u.id: i for i, u in enumerate(utts)}
    run.scores.sort(key=lambda s: pos.get(s.id, 0))
    run.transcripts.sort(key=lambda t: pos.get(t.id, 0))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        utts = load_dataset(args.dataset, args.format, args.limit, args.shuffle, args.seed)
        delays = parse_delays(args.delays)
    except (DatasetError, ValueError) as e:
        print(f"streamscribe eval: {e}", file=sys.stderr)
        return 2
    refs = {u.id: u.text for u in utts}
    if len(refs) != len(utts):
        print("streamscribe eval: utterance ids are not unique in this dataset", file=sys.stderr)
        return 2
    peers_specs = [s for spec in args.compare for s in spec.split(",") if s]
    progress_on = not args.no_progress
    if args.no_model:
        mode = "peers only"
    elif args.url:
        mode = "live server, " + ("real-time pace" if args.realtime else "as fast as accepted")
    else:
        mode = f"in-process, batch {args.batch_size}"
    meta: dict[str, Any] = {
        "dataset": str(args.dataset),
        "format": args.format,
        "utterances": len(utts),
        "mode": mode,
        "model": "n/a" if args.no_model else (args.server_model or args.url or args.model
                                              or "embedded default"),
        "delays_ms": delays,
        "normalizer": "whisper-english",
        "command": "streamscribe eval " + " ".join(argv if argv is not None else sys.argv[1:]),
        "notes": [],
    }
    runs: list[SystemRun] = []
    interrupted = False
    status = 0
    started = time.perf_counter()
    try:
        if not args.no_model:
            model = None
            if not args.url:
                from model import load_model
                from model.dtypes import resolve_dtype

                model = load_model(args.model, dtype=resolve_dtype(args.dtype))
            system = "streamscribe" if not args.url else "streamscribe (live)"
            for delay in delays:
                run = SystemRun(system, delay)
                runs.append(run)
                bar = _Progress(f"{system} {delay} ms", len(utts), progress_on)
                on_result = _collector(run, refs, bar)
                try:
                    if args.url:
                        run.stats = run_live(args.url, utts, delay, args.server_model,
                                             args.realtime, args.concurrency, on_result,
                                             args.api_key)
                    else:
                        run.stats = run_inprocess(model, utts, delay, args.batch_size,
                                                  on_result)
                finally:
                    bar.close()
                _order(run, utts)
                if run.stats.interrupted:
                    raise KeyboardInterrupt
        for spec in peers_specs:
            from eval.peers import PeerError, make_peer, run_peer

            try:
                peer = make_peer(spec, args.whisper_beam)
            except PeerError as e:
                print(f"streamscribe eval: skipping {spec}: {e}", file=sys.stderr)
                meta["notes"].append(f"skipped {spec}: {e}")
                continue
            run = SystemRun(peer.name, None, kind=peer.kind)
            runs.append(run)
            bar = _Progress(peer.name, len(utts), progress_on)
            try:
                run.stats = run_peer(peer, utts, _collector(run, refs, bar))
            finally:
                bar.close()
            if run.stats.interrupted:
                raise KeyboardInterrupt
    except KeyboardInterrupt:
        interrupted = True
        status = 130
        print("\nstreamscribe eval: interrupted, reporting what was scored", file=sys.stderr)
        for run in runs:
            if run.stats.utterances != len(run.transcripts):
                run.stats = _stats_from(run.transcripts, run.stats)
    except (LiveError, OSError) as e:
        print(f"streamscribe eval: {e}", file=sys.stderr)
        if not any(r.scores for r in runs):
            return 1
        meta["notes"].append(f"stopped early: {e}")
        interrupted = True
        status = 1
        for run in runs:
            if run.stats.utterances != len(run.transcripts):
                run.stats = _stats_from(run.transcripts, run.stats)
    runs = [r for r in runs if r.scores]
    meta["interrupted"] = interrupted
    meta["audio_s"] = max((sum(t.audio_s for t in r.transcripts) for r in runs), default=0.0)
    meta["utterances_scored"] = max((len(r.scores) for r in runs), default=0)
    meta["elapsed_s"] = round(time.perf_counter() - started, 2)
    if args.out:
        notes = write_report(args.out, runs, meta)
        meta["notes"] = notes
    print(markdown(runs, meta, worst_n=0 if not args.out else args.worst), end="")
    if args.out:
        print(f"\nwrote {Path(args.out) / 'report.md'}, report.json"
              + ("" if any("matplotlib" in n for n in meta["notes"]) else ", wer_vs_delay.png"))
    return status  # 130: stopped by Ctrl-C, 1: server failure (the report is still written)


def _stats_from(transcripts: list[Transcript], old: RunStats) -> RunStats:
    st = RunStats(wall_s=old.wall_s, interrupted=True)
    for t in transcripts:
        st.audio_s += t.audio_s
        st.utterances += 1
        st.latencies_s.extend(t.latencies_s)
    return st
