"""How much a set of encoder frames says about the words: the same small CTC probe trained
on our causal encoder's frames and on Whisper tiny.en's own (bidirectional) frames.

The probe (two 5-wide convolutions over 80 ms steps of 4 stacked frames, then the
vocabulary, STREAMING_PAD as the blank) is identical for both, trained on the same batches
for the same steps; the printed numbers are CTC nats per token on training and held-out
speech. A large gap means the causal encoder, not the decoder reading it, limits accuracy.
Not a test: it trains, and numbers depend on the data and the steps (results so far:
recipes/README.md). Run it with the cores free (about 3 min per 100 probe steps alone), and
with enough shards: on 3 per root (418 utterances) the probe memorises its training set and
the held-out numbers only rise.

    python benchmarks/frame_probe.py --model model/default --steps 600 --threads 2
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from model.checkpoint import load_network
from model.constants import DEFAULT_DELAY_MS, STREAMING_PAD_ID, delay_steps
from model.data.shards import finished_shards, read_shard
from model.frontend import log_mel
from model.offline import pad_audio
from model.tokenizer import TextTokenizer
from model.training.distill import WhisperTeacher
from model.training.targets import word_tokens


def frames_and_targets(net, teacher: WhisperTeacher, tokenizer: TextTokenizer, examples
                       ) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """(student frames, teacher frames, token targets) per example, the signal padded as
    at inference for the default delay."""
    out, n_delay = [], delay_steps(DEFAULT_DELAY_MS)
    with torch.inference_mode():
        for ex in examples:
            mel = log_mel(torch.from_numpy(pad_audio(ex.audio, n_delay))[None], net.n_mels)
            student = net.encode_frames(mel)[0]
            whisper = teacher.frames(mel)[0]
            tokens = [t for piece in word_tokens(tokenizer, [w for w, _, _ in ex.words])
                      for t in piece]
            out.append((student.clone(), whisper.clone(), torch.tensor(tokens)))
    return out


class Probe(nn.Module):
    def __init__(self, dim: int, vocab: int, width: int = 512) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(4 * dim, width, 5, padding=2)
        self.conv2 = nn.Conv1d(width, width, 5, padding=2)
        self.out = nn.Linear(width, vocab)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:  # (B, T, dim) -> (B, T/4, V)
        b, t, d = frames.shape
        x = frames[:, : t // 4 * 4].reshape(b, t // 4, 4 * d).transpose(1, 2)
        x = F.gelu(self.conv2(F.gelu(self.conv1(x)))).transpose(1, 2)
        return self.out(x)


def ctc(probe: Probe, items: list, which: int) -> torch.Tensor:
    frames = nn.utils.rnn.pad_sequence([it[which] for it in items], batch_first=True)
    log_probs = probe(frames).log_softmax(-1).transpose(0, 1)
    lengths = torch.tensor([len(it[which]) // 4 for it in items])
    targets = torch.cat([it[2] for it in items])
    return F.ctc_loss(log_probs, targets, lengths, torch.tensor([len(it[2]) for it in items]),
                      blank=STREAMING_PAD_ID, zero_infinity=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="model/default", help="checkpoint whose encoder "
                        "is probed")
    parser.add_argument("--train", nargs="+", default=["data/real-aligned", "data/synth"],
                        help="data roots whose train split trains the probe")
    parser.add_argument("--heldout", default="data/real-aligned",
                        help="data root whose heldout split scores it")
    parser.add_argument("--shards", type=int, default=3, help="train shards per root")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    ns = parser.parse_args()
    torch.set_num_threads(ns.threads)
    net = load_network(ns.model).float().eval()
    teacher = WhisperTeacher()
    tokenizer = TextTokenizer(Path(ns.model) / "tekken.json")
    train_ex = [e for root in ns.train for s in finished_shards(Path(root), "train")[: ns.shards]
                for e in read_shard(s)]
    held_ex = [e for s in finished_shards(Path(ns.heldout), "heldout") for e in read_shard(s)]
    train = frames_and_targets(net, teacher, tokenizer, train_ex)
    held = frames_and_targets(net, teacher, tokenizer, held_ex[:80])
    print(f"{len(train)} training, {len(held)} held-out utterances")
    for which, name in ((1, "whisper tiny.en (bidirectional)"), (0, f"causal {ns.model}")):
        torch.manual_seed(0)
        rng = random.Random(0)
        probe = Probe(train[0][which].shape[1], tokenizer.vocab_size)
        opt = torch.optim.AdamW(probe.parameters(), lr=1e-3)
        losses = []
        for step in range(1, ns.steps + 1):
            loss = ctc(probe, rng.sample(train, ns.batch), which)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            if step % 100 == 0 or step == ns.steps:
                with torch.no_grad():
                    held_loss = np.mean([ctc(probe, held[i : i + 16], which).item()
                                         for i in range(0, len(held), 16)])
                print(f"{name}: step {step}: train CTC {np.mean(losses[-50:]):.3f}, "
                      f"held-out CTC {held_loss:.3f} nats/token", flush=True)


if __name__ == "__main__":
    main()
