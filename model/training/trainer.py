"""The training loop: resumable, logged, multi-delay, with checkpoint averaging.

A run directory holds `config.json`, `state.pt` (model + optimiser + step + RNG: resume
from it), `snapshots/step-N.safetensors` (weights only, the last few), `log.jsonl` (loss,
learning rate, speed, dev WER) and `export/` (the averaged checkpoint in the Mistral
format the server loads).
"""

from __future__ import annotations

import copy
import json
import logging
import math
import random
import time
from pathlib import Path

import jiwer
import torch
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from ..checkpoint import (
    MAX_WEIGHTS_FILE_BYTES,
    build_network,
    load_network,
    save_checkpoint,
    split_by_size,
)
from ..constants import STREAMING_PAD_ID
from ..data.shards import finished_shards, read_shard
from ..dtypes import native_bfloat16
from ..offline import greedy_tokens
from ..presets import preset_args
from ..tokenizer import TextTokenizer
from ..voxtral import VoxtralRealtime
from .batches import draw_delay, make_batch, make_cached_batch
from .config import TrainConfig
from .dataset import ExamplePool
from .distill import WhisperTeacher, distill_loss
from .dropout import add_residual_dropout
from .feature_cache import CachedPool, FeatureCache
from .frame_mask import mask_frames
from .grow import describe_growth, grow_state_dict
from .soup import mean_state_dict
from .stopping import StopOnSignal
from .text_only import TextOnlyPool
from .whisper_init import init_encoder_from_whisper

log = logging.getLogger(__name__)


def init_network(cfg: TrainConfig, tokenizer: TextTokenizer) -> VoxtralRealtime:
    if cfg.init_from:
        net = load_network(cfg.init_from).train()
    else:
        net = random_network(cfg, tokenizer)
        if cfg.encoder_init:
            init_encoder_from_whisper(net, cfg.encoder_init)
    if cfg.encoder_window:  # read at every forward, so it can change after building
        net.args.encoder.sliding_window = cfg.encoder_window
    add_residual_dropout(net, cfg.dropout)
    return net


def random_network(cfg: TrainConfig, tokenizer: TextTokenizer) -> VoxtralRealtime:
    args = preset_args(cfg.preset, tokenizer.vocab_size, cfg.decoder_layers, cfg.encoder_layers)
    net = build_network(args)
    gen = torch.Generator().manual_seed(cfg.seed)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith("norm.weight"):
                p.fill_(1.0)
            elif p.ndim >= 2:
                # Small init (GPT-style); output layers scaled down with depth.
                std = 0.02 / math.sqrt(2 * args.n_layers) if name.endswith(("wo.weight",
                                                                               "w2.weight")) \
                    else 0.02
                p.normal_(0.0, std, generator=gen)
            else:
                p.zero_()
    return net.train()


def param_groups(net: VoxtralRealtime, cfg: TrainConfig) -> list[dict]:
    """Weight decay on matrices only; the encoder's rate scaled by `encoder_lr_scale`."""
    groups: dict[tuple[bool, bool], list[torch.nn.Parameter]] = {}
    for name, p in net.named_parameters():
        if not p.requires_grad:
            continue  # frozen (the encoder when training on cached frames)
        key = ("whisper_encoder." in name, p.ndim >= 2)
        groups.setdefault(key, []).append(p)
    return [{"params": params, "weight_decay": cfg.weight_decay if matrix else 0.0,
             "lr_scale": cfg.encoder_lr_scale if encoder else 1.0}
            for (encoder, matrix), params in sorted(groups.items())]


def learning_rate(cfg: TrainConfig, step: int) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.total_steps - cfg.warmup_steps))
    cosine = 0.5 * (1 + math.cos(math.pi * progress))
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * cosine)


def weighted_loss(logits: torch.Tensor, labels: torch.Tensor, pad_weight: float) -> torch.Tensor:
    """Cross-entropy over trained positions, STREAMING_PAD targets weighted by `pad_weight`."""
    labels = labels.flatten()
    per_token = torch.nn.functional.cross_entropy(logits.float().flatten(0, 1), labels,
                                                  ignore_index=-100, reduction="none")
    weights = (labels != -100).float()
    weights = torch.where(labels == STREAMING_PAD_ID, weights * pad_weight, weights)
    return (per_token * weights).sum() / weights.sum().clamp(min=1e-6)


def ctc_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """CTC of each sequence's word tokens (its non-pad labels, in order) over all its trained
    positions, STREAMING_PAD as the blank."""
    log_probs = torch.log_softmax(logits.float(), dim=-1).transpose(0, 1)  # (T, B, V)
    valid = labels != -100
    words = valid & (labels != STREAMING_PAD_ID)
    targets = labels[words]
    # Every frame up to the last trained position: the prompt's frames (left pad, then the
    # first audio) come first and the words' audio runs to the end, so count from frame 0.
    positions = torch.arange(labels.shape[1], device=labels.device)
    input_lengths = torch.where(valid, positions + 1, 0).amax(dim=1)
    return torch.nn.functional.ctc_loss(log_probs, targets, input_lengths, words.sum(1),
                                        blank=STREAMING_PAD_ID, reduction="mean",
                                        zero_infinity=True)


def simple_normalise(text: str) -> str:
    """Lower case, letters, digits and apostrophes only: enough to watch WER move during
    training (the eval harness applies the Whisper normaliser for reported numbers)."""
    kept = "".join(c if c.isalnum() or c == "'" else " " for c in text.lower())
    return " ".join(kept.split())


class Trainer:
    def __init__(self, cfg: TrainConfig, run_dir: str | Path) -> None:
        self.cfg = cfg
        self.run = Path(run_dir)
        self.run.mkdir(parents=True, exist_ok=True)
        (self.run / "snapshots").mkdir(exist_ok=True)
        if cfg.bf16 and not native_bfloat16():
            log.warning("bf16 asked for, but this CPU (%s) has no native bfloat16 matmul: "
                        "training in float32", torch.backends.cpu.get_cpu_capability())
            cfg.bf16 = False
        cfg.save(self.run / "config.json")  # as run
        torch.set_num_threads(cfg.threads)
        self.tokenizer = TextTokenizer(cfg.tokenizer)
        self.net = init_network(cfg, self.tokenizer)
        if cfg.feature_cache:
            self.net.encoder.requires_grad_(False)  # before the optimiser sees it
        if cfg.encoder_only:
            self.net.requires_grad_(False)
            self.net.encoder.requires_grad_(True)
            self.net.adapter.requires_grad_(True)
        self.opt = torch.optim.AdamW(param_groups(self.net, cfg), lr=cfg.lr,
                                     betas=(0.9, 0.98), eps=1e-8)
        self.step = 0
        self._rewarmup_until = 0
        self.rng = random.Random(cfg.seed)
        self.mask_generator = torch.Generator().manual_seed(cfg.seed)
        self.teacher = WhisperTeacher(cfg.encoder_init or "whisper:tiny.en") \
            if cfg.distill_weight else None
        self._resume()
        self.pool: ExamplePool | CachedPool
        if cfg.feature_cache:
            # The encoder's weights are final now (loaded above): the cache is bound to them.
            self.pool = CachedPool(FeatureCache(cfg.feature_cache, self.net, cfg.pack_seconds),
                                   cfg.synthetic_roots, cfg.max_example_seconds)
        else:
            self.pool = ExamplePool(cfg.synthetic_roots, cfg.max_example_seconds,
                                    pack_seconds=cfg.pack_seconds)
        self.text_pool = TextOnlyPool(cfg.text_only_sentences, self.net.args.encoder.dim,
                                      cfg.pack_seconds or 20.0) \
            if cfg.text_only_fraction else None

    # ---- persistence ----

    def _resume(self) -> None:
        state_file = self.run / "state.pt"
        if not state_file.exists():
            if self.cfg.resume_portable and Path(self.cfg.resume_portable).exists():
                self.load_portable(Path(self.cfg.resume_portable))
            return
        state = torch.load(state_file, weights_only=False)
        self.net.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])
        self.step = state["step"]
        self.rng.setstate(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        log.info("resumed %s at step %d", self.run, self.step)

    def save(self) -> None:
        state = {"model": self.net.state_dict(), "optimizer": self.opt.state_dict(),
                 "step": self.step, "rng": self.rng.getstate(),
                 "torch_rng": torch.get_rng_state()}
        tmp = self.run / "state.pt.tmp"
        torch.save(state, tmp)
        tmp.replace(self.run / "state.pt")  # atomic: a kill mid-save keeps the last state
        snap = self.run / "snapshots" / f"step-{self.step:07d}.safetensors"
        save_file({k: v.detach().contiguous() for k, v in self.net.state_dict().items()}, snap)
        for old in sorted((self.run / "snapshots").glob("step-*.safetensors"))[
                : -self.cfg.keep_snapshots]:
            old.unlink()

    def save_portable(self, out: Path, max_part_bytes: int = MAX_WEIGHTS_FILE_BYTES) -> Path:
        """fp32 weights split into files under `max_part_bytes` (the repository's file size
        limit) plus the step: what a later session needs to continue this run."""
        out.mkdir(parents=True, exist_ok=True)
        for old in out.glob("weights-*.safetensors"):
            old.unlink()
        state = {k: v.detach().contiguous() for k, v in self.net.state_dict().items()}
        for i, part in enumerate(split_by_size(state, max_part_bytes)):
            save_file(part, out / f"weights-{i:02d}.safetensors")
        (out / "progress.json").write_text(json.dumps(
            {"step": self.step, "preset": self.cfg.preset, "tokenizer": self.cfg.tokenizer},
            indent=2) + "\n")
        return out

    def load_portable(self, directory: Path) -> None:
        """Continue from `save_portable`'s files, or from an exported checkpoint (e.g. the
        shipped default, bf16: the optimiser restarts anyway, so one copy in the repository
        serves both the server and the next session's training)."""
        if (directory / "training.json").exists():
            state = load_network(directory).state_dict()
            progress = directory / "training.json"
        else:
            state = {}
            for part in sorted(directory.glob("weights-*.safetensors")):
                state |= load_file(part)
            progress = directory / "progress.json"
        if growth := describe_growth(state, self.net):
            log.info("growing %s: %s (new blocks start as identities)", directory, growth)
            state = grow_state_dict(state, self.net)
        self.net.load_state_dict(state)
        self.step = json.loads(progress.read_text())["step"]
        self._rewarmup_until = self.step + self.cfg.rewarmup_steps
        log.info("continued from portable weights %s at step %d", directory, self.step)

    def export(self, out: Path | None = None, dtype: torch.dtype | None = None,
               encoder_window: int | None = None) -> Path:
        """Average the last snapshots' weights (a cheap, reliable gain over the last one)
        and write a checkpoint the server loads; `encoder_window` sets the attention window
        it is served with (params.json), which may be shorter than the one it trained with."""
        snaps = sorted((self.run / "snapshots").glob("step-*.safetensors"))[
            -self.cfg.average_last:]
        if not snaps:
            self.save()
            snaps = sorted((self.run / "snapshots").glob("step-*.safetensors"))[-1:]
        states = [load_file(s) for s in snaps]
        averaged = mean_state_dict(states)
        args = copy.deepcopy(self.net.args)
        if encoder_window:
            args.encoder.sliding_window = encoder_window
        net = build_network(args)
        net.load_state_dict(averaged)
        out = out or self.run / "export"
        save_checkpoint(net.eval(), out, self.cfg.tokenizer, dtype)
        (out / "training.json").write_text(json.dumps(
            {"step": self.step, "averaged": [s.name for s in snaps]}, indent=2) + "\n")
        return out

    def _log(self, record: dict) -> None:
        with open(self.run / "log.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

    # ---- training ----

    def train_step(self) -> dict:
        for _ in range(100):
            text_seconds = self.cfg.batch_seconds * self.cfg.text_only_fraction
            examples = self.pool.draw(self.rng, self.cfg.batch_seconds - text_seconds)
            if self.text_pool is not None:
                examples += self.text_pool.draw(self.rng, text_seconds)
            delays = [draw_delay(self.rng, self.cfg.delays_ms) for _ in examples]
            try:
                batch = make_cached_batch(examples, self.tokenizer, delays) \
                    if self.cfg.feature_cache else \
                    make_batch(examples, self.tokenizer, delays, self.net.n_mels)
                break
            except ValueError:
                continue
        else:
            raise RuntimeError("100 draws in a row had no example that fits its token "
                               "schedule: is the tokenizer's vocabulary far too small?")
        lr = learning_rate(self.cfg, self.step)
        if self.step < self._rewarmup_until:  # fresh optimiser moments: ramp up again
            lr *= 1 - (self._rewarmup_until - self.step) / (self.cfg.rewarmup_steps + 1)
        for group in self.opt.param_groups:
            group["lr"] = lr * group["lr_scale"]
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.cfg.bf16):
            frames = batch.frames.float() if batch.frames is not None else \
                self.net.encode_frames(batch.mel)
            if batch.frames is not None and (self.cfg.frame_mask_ratio
                                             or self.cfg.frame_channel_masks):
                frames = mask_frames(frames, self.cfg.frame_mask_ratio,
                                     self.cfg.frame_channel_masks, self.mask_generator)
            audio = self.net.adapt(frames)[:, : batch.input_ids.shape[1]]
            logits = None if self.cfg.encoder_only else \
                self.net.text_logits(audio, batch.input_ids, batch.n_delay)
            ctc_logits = self.net.logits(audio) if self.cfg.ctc_weight else None
        loss = torch.zeros(()) if logits is None else \
            weighted_loss(logits, batch.labels, self.cfg.pad_loss_weight)
        ctc = None
        if ctc_logits is not None:
            heard = ~batch.text_only if batch.text_only is not None else \
                torch.ones(len(batch.labels), dtype=torch.bool)
            if heard.any():  # text-only rows have no audio to align
                ctc = ctc_loss(ctc_logits[heard], batch.labels[heard])
        if ctc is not None:
            loss = loss + self.cfg.ctc_weight * ctc
        distill = None
        if self.teacher is not None:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.cfg.bf16):
                target = self.teacher.frames(batch.mel)
            distill = distill_loss(frames, target, self.cfg.distill_shift_frames,
                                   batch.speech_frames)
            loss = loss + self.cfg.distill_weight * distill
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.cfg.grad_clip)
        self.opt.step()
        self.step += 1
        extra = {"ctc": round(ctc.item(), 4)} if ctc is not None else {}
        if distill is not None:
            extra["distill"] = round(distill.item(), 4)
        if self.text_pool is not None and logits is not None:
            heard = ~batch.text_only  # the speech rows' loss, comparable with runs without text
            extra["speech_loss"] = round(weighted_loss(
                logits[heard].detach(), batch.labels[heard], self.cfg.pad_loss_weight).item(), 4)
            extra["text_s"] = round(sum(e.duration_s for e in examples if e.text_only), 1)
        return {"step": self.step, "loss": round(loss.item(), 4), "lr": lr, **extra,
                "grad_norm": round(float(grad_norm), 3), "examples": len(examples),
                "audio_s": round(sum(e.duration_s for e in examples), 1)}

    def _dev_examples(self) -> list:
        """The first `eval_utterances` of the dev root's held-out split (none without one)."""
        if not self.cfg.dev_root:
            return []
        shards = finished_shards(Path(self.cfg.dev_root), "heldout")
        return [e for s in shards for e in read_shard(s)][: self.cfg.eval_utterances]

    def dev_wer(self, delay_ms: int = 480) -> float | None:
        examples = self._dev_examples()
        if not examples:
            return None
        self.net.eval()
        refs, hyps = [], []
        for ex in examples:
            tokens = greedy_tokens(self.net, ex.audio, delay_ms)
            refs.append(simple_normalise(ex.text) or "-")
            hyps.append(simple_normalise(self.tokenizer.decode(tokens)))
        self.net.train()
        return float(jiwer.wer(refs, hyps))

    @torch.no_grad()
    def dev_encoder_losses(self, delay_ms: int = 480, batch_size: int = 8) -> dict[str, float]:
        """The encoder's held-out numbers on the dev split: CTC through the adapter (nats per
        token) and, with a teacher, the distance to Whisper's frames over speech (1 - cosine)."""
        examples = self._dev_examples()
        if not examples:
            return {}
        self.net.eval()
        sums = {"dev_ctc": 0.0} | ({"dev_distill": 0.0} if self.teacher else {})
        for i in range(0, len(examples), batch_size):
            chunk = examples[i : i + batch_size]
            batch = make_batch(chunk, self.tokenizer, [delay_ms] * len(chunk), self.net.n_mels)
            frames = self.net.encode_frames(batch.mel)
            audio = self.net.adapt(frames)[:, : batch.input_ids.shape[1]]
            sums["dev_ctc"] += ctc_loss(self.net.logits(audio), batch.labels).item() * len(chunk)
            if self.teacher:
                sums["dev_distill"] += distill_loss(
                    frames, self.teacher.frames(batch.mel), self.cfg.distill_shift_frames,
                    batch.speech_frames).item() * len(chunk)
        self.net.train()
        return {name: round(total / len(examples), 4) for name, total in sums.items()}

    def fit(self, max_steps: int | None = None, max_minutes: float | None = None) -> None:
        added = self.pool.reload()
        log.info("%d examples, %.2f h of audio", added, self.pool.hours)
        end = min(self.cfg.total_steps, self.step + max_steps) if max_steps else \
            self.cfg.total_steps
        if self.cfg.encoder_only and self.cfg.dev_root:
            # Where the encoder starts: the numbers its stage is meant to move.
            self._log({"step": self.step, "start": True, **self.dev_encoder_losses()})
        started = time.monotonic()
        bar = tqdm(total=end, initial=self.step, desc="train", unit="step", dynamic_ncols=True)
        with StopOnSignal() as stop:
            while self.step < end and not stop.requested:
                t0 = time.monotonic()
                record = self.train_step()
                record["seconds"] = round(time.monotonic() - t0, 2)
                bar.update(1)
                bar.set_postfix(loss=record["loss"], lr=f"{record['lr']:.2e}")
                if self.step % self.cfg.eval_every == 0:
                    record["dev_wer_480"] = self.dev_wer()
                    bar.write(f"step {self.step}: dev WER at 480 ms {record['dev_wer_480']}")
                    if self.cfg.encoder_only:
                        record |= self.dev_encoder_losses()
                        bar.write(f"step {self.step}: {record}")
                self._log(record)
                if self.step % self.cfg.save_every == 0:
                    self.save()
                if self.step % self.cfg.reload_data_every == 0:
                    self.pool.reload()
                if max_minutes and time.monotonic() - started > 60 * max_minutes:
                    break
        bar.close()
        self.save()
        if stop.requested:
            log.info("stopped by %s at step %d; saved, a rerun resumes here", stop.requested,
                     self.step)
