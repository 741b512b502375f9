"""Augmented copies of the aligned real speech: `python -m model.data.real_augment`.

The decoder stage trains on cached encoder frames, so every pass over the 2.9 h of real
speech (train-real with Whisper word timings, `model.data.real_align`) sees exactly the
same frames; after about 30 passes the decoder memorises them (session 6: training loss
halved while the real dev WER rose). Each copy here is the whole train split played at one
fixed speed (Kaldi-style speed perturbation: tempo and pitch move together, word timings
scale with it) and then put through the synthetic builder's random degradations (reverb,
noise, babble, codecs, gain, silence). Held-out speakers are never read: only `train/`.

Copy c of source shard i is written as shard c * n_source + i, atomically, so the job
resumes and its output is a deterministic function of (seed, copy, shard).
"""

from __future__ import annotations

import argparse
import logging
import zlib
from pathlib import Path

import numpy as np
from tqdm import tqdm

from model.data.augment import tempo
from model.data.augment.clip import Clip
from model.data.augment.policy import AugmentPolicy
from model.data.example import Example
from model.data.processes import map_jobs
from model.data.shards import ShardWriter, finished_shards, read_shard, shard_dir

log = logging.getLogger(__name__)

# Kaldi's three-way speed perturbation uses 0.9 / 1.0 / 1.1; the unchanged copy is the source.
COPY_SPEEDS = (0.9, 1.1, 0.95, 1.05)
# Real recordings are already real microphones: degrade fewer of them than synthetic speech.
CLEAN_FRACTION = 0.4


def copy_speed(copy: int) -> float:
    return COPY_SPEEDS[copy % len(COPY_SPEEDS)]


def augment_example(example: Example, copy: int, policy: AugmentPolicy,
                    rng: np.random.Generator) -> Example:
    clip = tempo.speed(Clip(example.audio, list(example.words or []), dict(example.meta)),
                       copy_speed(copy))
    clip = policy(clip, rng)
    text = " ".join(w.word for w in clip.words)
    meta = {**clip.meta, "source_id": example.id, "copy": copy}
    return Example(f"{example.id}-aug{copy}", clip.audio, text, clip.words, meta)


def augment_shard(job: tuple[Path, Path, int, int, int]) -> float:
    """Write one augmented copy of one source shard; its seconds (0 if it existed)."""
    source, out, copy, index, seed = job
    final = shard_dir(out, "train", index)
    if final.exists():
        return 0.0
    rng = np.random.default_rng([seed, copy, zlib.crc32(source.name.encode())])
    policy = AugmentPolicy(out / "rir_bank.npz", clean_fraction=CLEAN_FRACTION,
                           speed_probability=0.0)
    writer = ShardWriter(final)
    for example in read_shard(source):
        if not example.words:  # nothing to align the copy's targets to
            continue
        writer.add(augment_example(example, copy, policy, rng))
    writer.close()
    return writer.seconds


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        prog="python -m model.data.real_augment",
        description="Write speed-perturbed, degraded copies of aligned real speech (train split "
                    "only) as a new shard root that training recipes list beside the others.")
    p.add_argument("--source", type=Path, default=Path("data/real-aligned"),
                   help="aligned real speech (model.data.real_align output; default: %(default)s)")
    p.add_argument("--out", type=Path, default=Path("data/real-aug"),
                   help="shard root to write (train/ only; default: %(default)s)")
    p.add_argument("--copies", type=int, default=2,
                   help=f"copies of the whole train split; speeds in order {COPY_SPEEDS} "
                        "(default: %(default)s)")
    p.add_argument("--workers", type=int, default=1, help="processes (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    sources = finished_shards(args.source, "train")
    if not sources:
        raise SystemExit(f"no finished train shards under {args.source}: run model.data.real_align")
    if not (args.out / "rir_bank.npz").exists():  # build once, before the workers start
        args.out.mkdir(parents=True, exist_ok=True)
        AugmentPolicy(args.out / "rir_bank.npz")
    jobs = [(src, args.out, copy, copy * len(sources) + i, args.seed)
            for copy in range(args.copies) for i, src in enumerate(sources)]
    total = 0.0
    with tqdm(total=len(jobs), desc="real copies", unit="shard") as bar:
        for seconds in map_jobs(augment_shard, jobs, args.workers, ordered=False):
            total += seconds
            bar.update(1)
            bar.set_postfix(audio_h=f"{total / 3600:.2f}")
    log.info("wrote %.2f h of augmented real speech under %s", total / 3600, args.out)


if __name__ == "__main__":
    main()
