"""Training run settings, read from a JSON recipe (recipes/*.json) and saved with the run."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..constants import ALLOWED_DELAYS_MS


@dataclass
class TrainConfig:
    preset: str = "small"  # model size, see model/presets.py
    # Deeper than the preset: continuing from a shallower checkpoint (resume_portable) grows
    # it with identity blocks (model/training/grow.py).
    decoder_layers: int | None = None
    encoder_layers: int | None = None
    tokenizer: str = "recipes/tokenizer/tekken.json"
    synthetic_roots: list[str] = field(default_factory=lambda: ["data/synth"])
    dev_root: str | None = "data/synth"  # its `heldout` split scores WER during training
    init_from: str | None = None  # a checkpoint directory to start from (fine-tuning)
    # "whisper:tiny.en" or a CTranslate2 Whisper model.bin: the encoder starts from Whisper's
    # weights (needs an encoder of the same shape, e.g. the `small-whisper` preset).
    encoder_init: str | None = None
    encoder_lr_scale: float = 1.0  # a pretrained encoder usually wants a gentler rate
    # Weights + step from `streamscribe train --save-portable` (small enough for git): a run
    # continues from them when its run directory has no state.pt (e.g. on a fresh machine).
    resume_portable: str | None = None
    rewarmup_steps: int = 50  # the optimiser restarts empty after a portable resume
    batch_seconds: float = 120.0  # audio per optimiser step
    max_example_seconds: float = 30.0
    lr: float = 1e-3
    min_lr_ratio: float = 0.05
    warmup_steps: int = 300
    total_steps: int = 20000
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    # Most targets are STREAMING_PAD; weighting them down makes the model start writing words
    # sooner instead of settling on "always pad".
    pad_loss_weight: float = 1.0
    # Auxiliary CTC on the audio embeddings (blank = STREAMING_PAD, through the tied output
    # embedding, so no extra weights): a dense, alignment-free signal that teaches the encoder
    # to carry token identity before the decoder has learned to read it. Not exported.
    ctc_weight: float = 0.0
    # Whisper tiny.en's encoder as a teacher for ours (model/training/distill.py): weight of
    # the per-frame 1 - cosine loss, and the student's look-ahead in 20 ms frames.
    distill_weight: float = 0.0
    distill_shift_frames: int = 10
    # A directory of cached encoder frames (model/training/feature_cache.py): the encoder is
    # frozen at its loaded weights and only the adapter and decoder train, several times
    # faster per second of audio. Built on first use; bound to the encoder's weights.
    feature_cache: str | None = None
    # Train only the encoder and the adapter, on `distill_weight` and `ctc_weight` (the
    # decoder and the tied embedding that scores CTC stay frozen, so the decoder still reads
    # the adapter's output space): the stage that improves the acoustic encoder at the
    # encoder's cost alone, without the decoder's forward and backward.
    encoder_only: bool = False
    # Share of each batch's seconds made of text-only examples (model/training/text_only.py):
    # sentences from `text_only_sentences` (a corpus<TAB>text file, e.g. the synthetic data's
    # data/synth/text/sentences-train.tsv) with zero audio, so the decoder's language model
    # learns from far more text than the speech holds. Needs feature_cache.
    text_only_fraction: float = 0.0
    text_only_sentences: str | None = None
    # SpecAugment on cached encoder frames (model/training/frame_mask.py; needs
    # feature_cache): the share of time steps zeroed in short spans, and how many channel
    # bands (up to a tenth of the width each) are zeroed per example.
    frame_mask_ratio: float = 0.0
    frame_channel_masks: int = 0
    # Residual dropout on the decoder blocks' attention and feed-forward outputs while
    # training (model/training/dropout.py); 0 leaves the network exactly as served.
    dropout: float = 0.0
    # Consecutive examples of a shard are joined into examples of up to this many seconds
    # (fewer pad positions per second of speech; long-form speech, as a live stream is).
    pack_seconds: float = 0.0
    # The encoder's attention window in frames (50 per second) instead of the preset's: a
    # shorter window is cheaper per step for long streams (benchmarks/step_bench.py). It is
    # what the export's params.json says, so what the server runs.
    encoder_window: int | None = None
    delays_ms: list[int] = field(default_factory=lambda: list(ALLOWED_DELAYS_MS))
    save_every: int = 100  # resumable state + weight snapshot
    eval_every: int = 500
    eval_utterances: int = 40
    keep_snapshots: int = 5
    average_last: int = 3  # snapshots averaged into the exported checkpoint
    reload_data_every: int = 200  # pick up shards the data builder finished meanwhile
    seed: int = 0
    threads: int = 2
    bf16: bool = False  # autocast matmuls to bfloat16 (fast on AMX CPUs)

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        values = json.loads(Path(path).read_text())
        unknown = set(values) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"{path}: unknown settings {sorted(unknown)}")
        cfg = cls(**values)
        if cfg.feature_cache and cfg.distill_weight:
            raise ValueError(f"{path}: distill_weight trains the encoder, which feature_cache "
                             "freezes; set one of them")
        if cfg.encoder_only and (cfg.feature_cache or not (cfg.distill_weight or cfg.ctc_weight)):
            raise ValueError(f"{path}: encoder_only trains the encoder on distill_weight and "
                             "ctc_weight; it needs one of them and no feature_cache")
        if cfg.text_only_fraction and not (cfg.feature_cache and cfg.text_only_sentences):
            raise ValueError(f"{path}: text_only_fraction needs feature_cache (text-only "
                             "examples are zero encoder frames) and text_only_sentences")
        if (cfg.frame_mask_ratio or cfg.frame_channel_masks) and not cfg.feature_cache:
            raise ValueError(f"{path}: frame_mask_ratio and frame_channel_masks mask cached "
                             "encoder frames; they need feature_cache")
        if not 0.0 <= cfg.frame_mask_ratio < 1.0:
            raise ValueError(f"{path}: frame_mask_ratio is a share of frames, in [0, 1)")
        if cfg.encoder_window is not None and cfg.encoder_window < 1:
            raise ValueError(f"{path}: encoder_window must be a positive number of frames")
        for name in ("decoder_layers", "encoder_layers"):
            if getattr(cfg, name) is not None and getattr(cfg, name) < 1:
                raise ValueError(f"{path}: {name} must be a positive number of blocks")
        if cfg.init_from and (cfg.decoder_layers or cfg.encoder_layers):
            raise ValueError(f"{path}: decoder_layers / encoder_layers grow a checkpoint that "
                             "resume_portable continues; init_from loads one as it was saved")
        if not 0.0 <= cfg.dropout < 1.0:
            raise ValueError(f"{path}: dropout must be in [0, 1)")
        if not 0 <= cfg.text_only_fraction < 1:
            raise ValueError(f"{path}: text_only_fraction must be in [0, 1)")
        return cfg

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=2) + "\n")
