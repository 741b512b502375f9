"""A tiny end-to-end training job: real TTS speech with word timings -> aligned targets ->
a few optimiser steps (loss falls) -> resumable state -> an exported checkpoint that loads
and transcribes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from model import load_model
from model.constants import STEP_SECONDS, STREAMING_PAD_ID, delay_steps, prompt_length
from model.data.example import Example
from model.data.shards import ShardWriter, shard_dir
from model.data.tts.registry import available_voices, synthesize
from model.tokenizer import TextTokenizer
from model.training.config import TrainConfig
from model.training.targets import aligned_sequence, word_tokens
from model.training.trainer import Trainer

REPO = Path(__file__).resolve().parents[1]
TOKENIZER = REPO / "recipes" / "tokenizer" / "tekken.json"
SENTENCES = ["The cat sat on the mat.", "Open the window please.",
             "We walked home in the rain.", "She reads a book every night.",
             "Turn left at the next corner.", "The train leaves at noon."]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    voices = [v for v in available_voices() if v.startswith(("flite/", "espeak"))]
    if not voices:
        pytest.skip("no flite or espeak-ng installed (scripts/setup.sh --dev installs them)")
    root = tmp_path_factory.mktemp("synth")
    rng = np.random.default_rng(0)
    for split, index in (("train", 0), ("heldout", 0)):
        writer = ShardWriter(shard_dir(root, split, index))
        for i, text in enumerate(SENTENCES if split == "train" else SENTENCES[:2]):
            audio, words = synthesize(text, voices[0], rng)
            writer.add(Example(f"{split}-{i}", audio, text, words, {"voice": voices[0]}))
        writer.close()
    return root


def quick_config(data_root: Path, **overrides: object) -> TrainConfig:
    """A few-second tiny run at one delay, for tests of how runs continue and start."""
    fields = dict(preset="tiny", tokenizer=str(TOKENIZER), synthetic_roots=[str(data_root)],
                  dev_root=None, batch_seconds=8, warmup_steps=1, total_steps=20,
                  save_every=100, threads=1, delays_ms=[480])
    return TrainConfig(**(fields | overrides))  # type: ignore[arg-type]


def train_command(config: Path, run_dir: Path, *extra: str) -> list[str]:
    """`streamscribe train` as a user runs it (a fresh process, re-executed under jemalloc)."""
    return [sys.executable, "-m", "streamscribe_cli", "train", "--config", str(config),
            "--run-dir", str(run_dir), *extra]


def test_word_tokens_land_at_word_start(data_root: Path) -> None:
    tokenizer = TextTokenizer(TOKENIZER)
    index = [json.loads(line) for line in
             (data_root / "train" / "shard-00000" / "index.jsonl").read_text().splitlines()]
    record = index[0]
    words = [tuple(w) for w in record["words"]]
    n_positions = 120
    for delay_ms in (80, 480, 2400):
        seq = aligned_sequence(tokenizer, words, n_positions, delay_ms)
        first_output = prompt_length(delay_steps(delay_ms)) - 1
        pieces = word_tokens(tokenizer, [w for w, _, _ in words])
        cursor = 0
        for (text, start, _), tokens in zip(words, pieces, strict=True):
            step = max(cursor, int(start / STEP_SECONDS + 1e-6))
            # Emitted at output index `step`: the model has then heard start + delay.
            assert seq.labels[first_output + step] == tokens[0], text
            assert seq.input_ids[first_output + step + 1] == tokens[0]
            cursor = step + len(tokens)
        assert seq.labels[first_output - 1] == -100
        trained = [t for t in seq.labels if t != -100]
        assert tokenizer.decode(trained) == " ".join(w for w, _, _ in words)
        assert trained.count(STREAMING_PAD_ID) > 0


def test_tiny_training_job_learns_resumes_and_exports(data_root: Path, tmp_path: Path) -> None:
    cfg = TrainConfig(preset="tiny", tokenizer=str(TOKENIZER), synthetic_roots=[str(data_root)],
                      dev_root=str(data_root), batch_seconds=12, lr=3e-3, warmup_steps=2,
                      total_steps=60, save_every=10, eval_every=1000, eval_utterances=2,
                      keep_snapshots=3, average_last=2, threads=1, delays_ms=[80, 480, 960])
    run = tmp_path / "run"
    trainer = Trainer(cfg, run)
    trainer.fit(max_steps=30)
    losses = [json.loads(line)["loss"] for line in (run / "log.jsonl").read_text().splitlines()]
    assert len(losses) == 30
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:3]), losses

    resumed = Trainer(cfg, run)  # picks up state.pt
    assert resumed.step == 30
    resumed.fit(max_steps=5)
    assert resumed.step == 35
    assert resumed.dev_wer() is not None

    export = resumed.export()
    model = load_model(export)
    audio = next(iter(sorted((data_root / "heldout" / "shard-00000").glob("*.flac"))))
    samples, _ = sf.read(audio, dtype="float32")
    result = model.transcribe(samples, delay_ms=480)
    assert len(result.tokens) == -(-len(samples) // 1280) + 10


def test_portable_weights_continue_a_run_on_a_fresh_machine(data_root: Path,
                                                            tmp_path: Path) -> None:
    cfg = quick_config(data_root)
    first = Trainer(cfg, tmp_path / "a")
    first.fit(max_steps=3)
    portable = first.save_portable(tmp_path / "portable", max_part_bytes=100_000)
    assert len(list(portable.glob("weights-*.safetensors"))) > 1  # split under the limit
    cfg.resume_portable = str(portable)
    second = Trainer(cfg, tmp_path / "b")  # no state.pt there
    assert second.step == 3
    for (name, a), b in zip(first.net.state_dict().items(), second.net.state_dict().values(),
                            strict=True):
        assert bool((a == b).all()), name
    second.fit(max_steps=2)
    assert second.step == 5


def test_a_run_continues_from_an_exported_bf16_checkpoint(data_root: Path,
                                                          tmp_path: Path) -> None:
    import torch

    cfg = quick_config(data_root, average_last=1)
    first = Trainer(cfg, tmp_path / "a")
    first.fit(max_steps=3)  # saves at the end: the export is step 3's weights
    shipped = first.export(tmp_path / "shipped", dtype=torch.bfloat16)
    cfg.resume_portable = str(shipped)
    second = Trainer(cfg, tmp_path / "b")
    assert second.step == 3
    for (name, a), b in zip(first.net.state_dict().items(), second.net.state_dict().values(),
                            strict=True):
        assert b.dtype == torch.float32, name
        assert torch.equal(a.to(torch.bfloat16).float(), b), name
    second.fit(max_steps=2)
    assert second.step == 5


def test_added_blocks_are_spread_evenly_after_their_sources() -> None:
    from model.training.grow import block_plan

    assert block_plan(2, 2) == [(0, False), (1, False)]
    assert block_plan(3, 6) == [(0, False), (0, True), (1, False), (1, True), (2, False),
                                (2, True)]
    assert block_plan(6, 8) == [(0, False), (1, False), (2, False), (2, True), (3, False),
                                (4, False), (5, False), (5, True)]
    with pytest.raises(ValueError, match="shrink"):
        block_plan(4, 3)


def test_a_run_grows_a_shallower_checkpoint_without_changing_its_output(
        data_root: Path, tmp_path: Path) -> None:
    import torch

    cfg = quick_config(data_root)
    first = Trainer(cfg, tmp_path / "a")
    first.fit(max_steps=3)
    portable = first.save_portable(tmp_path / "portable")
    deeper = quick_config(data_root, resume_portable=str(portable), decoder_layers=4,
                          encoder_layers=3)
    second = Trainer(deeper, tmp_path / "b")
    assert second.step == 3
    assert (second.net.args.n_layers, second.net.args.encoder.n_layers) == (4, 3)
    mel = torch.randn(1, second.net.n_mels, 160)
    ids = torch.randint(0, 200, (1, 20))
    with torch.no_grad():
        before = first.net.eval()(mel, ids, 6.0)
        after = second.net.eval()(mel, ids, 6.0)
    assert torch.equal(before, after)  # the added blocks add exact zeros
    second.net.train()
    second.fit(max_steps=2)
    grown = load_model(second.export(tmp_path / "grown"))
    assert grown.network.args.n_layers == 4
    assert json.loads((tmp_path / "grown" / "params.json").read_text())["n_layers"] == 4


def test_growing_is_refused_where_it_would_be_ignored(tmp_path: Path) -> None:
    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps({"init_from": "model/default", "decoder_layers": 12}))
    with pytest.raises(ValueError, match="resume_portable"):
        TrainConfig.load(recipe)
    recipe.write_text(json.dumps({"decoder_layers": 0}))
    with pytest.raises(ValueError, match="positive number of blocks"):
        TrainConfig.load(recipe)


def test_ctc_loss_prefers_the_spoken_tokens_in_order() -> None:
    import torch

    from model.training.trainer import ctc_loss

    vocab, pad = 40, STREAMING_PAD_ID
    labels = torch.full((2, 12), pad)
    labels[0, [2, 5]] = torch.tensor([20, 21])
    labels[1, [1, 3, 8]] = torch.tensor([22, 23, 24])
    labels[1, 10:] = -100  # untrained tail: outside the CTC input length
    right = torch.full((2, 12, vocab), -5.0)
    right[..., pad] = 5.0
    for b, (pos, tok) in enumerate(((2, 20), (5, 21), (1, 22), (3, 23), (8, 24))):
        row = 0 if b < 2 else 1
        right[row, pos, pad], right[row, pos, tok] = -5.0, 5.0
    wrong_order = right.clone()
    wrong_order[0, [2, 5]] = right[0, [5, 2]]
    good, bad = ctc_loss(right, labels), ctc_loss(wrong_order, labels)
    assert good < 0.1 < bad
    # Untrained prompt positions come first (labels -100); the frames run from 0 to the last
    # trained position, so a token emitted in the very last frame still counts.
    late = right.clone()
    late[0, 5] = right[0, 0]  # a blank where the second token was...
    late[0, 11] = right[0, 5]  # ...which is now emitted in the last frame
    prompted = labels.clone()
    prompted[:, :1] = -100
    assert ctc_loss(late, prompted) < 0.1


def test_training_with_auxiliary_ctc_learns(data_root: Path, tmp_path: Path) -> None:
    cfg = TrainConfig(preset="tiny", tokenizer=str(TOKENIZER), synthetic_roots=[str(data_root)],
                      dev_root=None, batch_seconds=12, lr=3e-3, warmup_steps=2, total_steps=40,
                      save_every=100, threads=1, delays_ms=[480], ctc_weight=0.3)
    trainer = Trainer(cfg, tmp_path / "run")
    trainer.fit(max_steps=20)
    rows = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert all("ctc" in r for r in rows)
    assert np.mean([r["ctc"] for r in rows[-4:]]) < 0.8 * np.mean([r["ctc"] for r in rows[:3]])


def test_cached_encoder_frames_equal_running_the_encoder(data_root: Path,
                                                         tmp_path: Path) -> None:
    import torch

    from model.constants import ENCODER_FRAMES_PER_STEP
    from model.training.feature_cache import FeatureCache, example_frames, load_cached
    from model.training.trainer import random_network

    cfg = TrainConfig(preset="tiny", tokenizer=str(TOKENIZER))
    net = random_network(cfg, TextTokenizer(TOKENIZER)).eval()
    cache = FeatureCache(tmp_path / "cache", net)
    files = cache.build([str(data_root)], "train", max_seconds=30)
    examples = load_cached(files)
    assert len(examples) == len(SENTENCES)
    audio, _ = sf.read(data_root / "train" / "shard-00000" / "train-0.flac", dtype="float32")
    cached = next(e for e in examples if e.id == "train-0")
    for n_delay in (1, 6, 30):
        # The causal encoder: a shorter right pad's frames are a prefix of the longest's.
        direct = example_frames(net, audio, n_delay)
        sliced = cached.frames_for(n_delay).float()
        assert sliced.shape == direct.shape
        assert sliced.shape[0] % ENCODER_FRAMES_PER_STEP == 0
        # bfloat16 storage: 8 bits of mantissa, ~0.4% relative per value.
        torch.testing.assert_close(sliced, direct, rtol=0.02, atol=0.02)
    assert cache.build([str(data_root)], "train", max_seconds=30) == files  # nothing redone
    net.args.encoder.sliding_window -= 1
    with pytest.raises(ValueError, match="other settings"):
        FeatureCache(tmp_path / "cache", net)
    net.args.encoder.sliding_window += 1
    with torch.no_grad():
        next(net.encoder.parameters()).add_(1.0)
    with pytest.raises(ValueError, match="another encoder"):
        FeatureCache(tmp_path / "cache", net)


@pytest.mark.parametrize("masks", [{}, {"frame_mask_ratio": 0.1, "frame_channel_masks": 2,
                                       "dropout": 0.1}],
                         ids=["plain", "masks-and-dropout"])
def test_decoder_training_on_cached_frames_learns_and_keeps_the_encoder(
        data_root: Path, tmp_path: Path, masks: dict) -> None:
    import torch

    cfg = TrainConfig(preset="tiny", tokenizer=str(TOKENIZER), synthetic_roots=[str(data_root)],
                      dev_root=None, batch_seconds=12, lr=3e-3, warmup_steps=2, total_steps=40,
                      save_every=10, threads=1, delays_ms=[80, 480, 2400], ctc_weight=0.3,
                      feature_cache=str(tmp_path / "cache"), **masks)
    trainer = Trainer(cfg, tmp_path / "run")
    encoder_before = {k: v.clone() for k, v in trainer.net.encoder.state_dict().items()}
    trainer.fit(max_steps=25)
    losses = [json.loads(line)["loss"] for line in
              (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:3]), losses
    for name, value in trainer.net.encoder.state_dict().items():
        assert torch.equal(value, encoder_before[name]), name
    resumed = Trainer(cfg, tmp_path / "run")  # same encoder: the cache is accepted
    assert resumed.step == 25
    resumed.fit(max_steps=2)
    assert load_model(resumed.export()).transcribe(
        np.zeros(16000, dtype=np.float32), delay_ms=480).tokens


def test_encoder_only_training_learns_ctc_and_keeps_the_decoder(data_root: Path,
                                                                tmp_path: Path) -> None:
    import torch

    cfg = quick_config(data_root, lr=3e-3, warmup_steps=2, total_steps=40, ctc_weight=1.0,
                       encoder_only=True, batch_seconds=12, dev_root=str(data_root),
                       eval_every=10, eval_utterances=2)
    trainer = Trainer(cfg, tmp_path / "run")
    with torch.no_grad():
        # A trained decoder's embedding (norm ~1.7 in the shipped default), not the random
        # init's ~0.1: the frozen final norm caps CTC's logits at |embedding| * sqrt(dim).
        trainer.net.tok_embeddings.weight.mul_(20)
    before = {k: v.clone() for k, v in trainer.net.state_dict().items()}
    trainer.fit(max_steps=20)
    rows = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    start, rows = rows[0], rows[1:]
    assert start["start"] and start["step"] == 0
    dev = [start["dev_ctc"]] + [r["dev_ctc"] for r in rows if "dev_ctc" in r]
    assert len(dev) == 3 and dev[-1] < dev[0]  # held-out CTC: at the start, steps 10 and 20
    assert np.mean([r["ctc"] for r in rows[-4:]]) < 0.8 * np.mean([r["ctc"] for r in rows[:3]])
    trained = ("mm_streams_embeddings.embedding_module.whisper_encoder.",
               "mm_streams_embeddings.embedding_module.audio_language_projection.")
    after = trainer.net.state_dict()
    assert any(not torch.equal(after[k], before[k]) for k in after if k.startswith(trained))
    for name in after:
        if not name.startswith(trained):  # the decoder and the tied embedding CTC reads
            assert torch.equal(after[name], before[name]), name


def test_encoder_only_needs_an_encoder_loss(tmp_path: Path) -> None:
    recipe = tmp_path / "recipe.json"
    recipe.write_text(json.dumps({"encoder_only": True}))
    with pytest.raises(ValueError, match="encoder_only"):
        TrainConfig.load(recipe)


def test_packing_joins_consecutive_examples_and_shifts_their_word_times(data_root: Path) -> None:
    import random

    from model.data.shards import read_shard
    from model.training.dataset import packed

    examples = list(read_shard(data_root / "train" / "shard-00000"))
    joined = list(packed(examples, 12.0, random.Random(0)))
    assert 1 < len(joined) < len(examples)
    assert " ".join(e.text for e in joined) == " ".join(e.text for e in examples)
    assert all(e.duration_s <= 12.0 or "+" not in e.id for e in joined)
    first = next(e for e in joined if "+" in e.id)
    parts = [next(x for x in examples if x.id == i) for i in first.id.split("+")]
    assert [w.word for w in first.words] == first.text.split()
    second_start = first.words[len(parts[0].words)].start_s
    # The second utterance's words move by the first's length plus a 0.15-1.2 s pause.
    shift = second_start - parts[1].words[0].start_s
    assert parts[0].duration_s + 0.15 - 1e-3 <= shift <= parts[0].duration_s + 1.2 + 1e-3
    starts = [w.start_s for w in first.words]
    assert starts == sorted(starts)
    from model.training.dataset import ExamplePool

    pool = ExamplePool([str(data_root)], 30.0, pack_seconds=12.0)
    pool.reload()
    assert [e.text for e in pool.examples] == [e.text for e in joined]  # same seed per shard


def test_batches_mark_the_encoder_frames_of_real_audio(data_root: Path) -> None:
    import torch

    from model.constants import N_LEFT_PAD_STEPS
    from model.data.shards import read_shard
    from model.training.batches import make_batch
    from model.training.distill import distill_loss

    examples = list(read_shard(data_root / "train" / "shard-00000"))[:2]
    batch = make_batch(examples, TextTokenizer(TOKENIZER), [480, 2400], n_mels=80)
    first = N_LEFT_PAD_STEPS * 4
    for row, ex in zip(batch.speech_frames, examples, strict=True):
        marked = row.nonzero().flatten()
        assert marked[0] == first
        assert len(marked) == -(-len(ex.audio) // 320)  # 20 ms frames, the last one partial
        assert bool(row[first : first + len(marked)].all())
    # Distillation over speech frames only: differences in the padding do not count.
    teacher = torch.randn(2, batch.speech_frames.shape[1], 8)
    student = torch.roll(teacher, 3, dims=1)  # student frame t + 3 == teacher frame t
    student[:, 3 : 3 + first] = -teacher[:, :first]  # ...except over the left pad
    assert distill_loss(student, teacher, 3, batch.speech_frames) < 1e-5
    assert distill_loss(student, teacher, 3) > 0.1


def test_train_command_runs_under_jemalloc(data_root: Path, tmp_path: Path) -> None:
    """`streamscribe train` re-executes itself with jemalloc preloaded (1.6x faster steps
    here than glibc's malloc, which faults large tensors in again every step)."""
    from streamscribe_cli import JEMALLOC_PATHS

    if not any(Path(p).exists() for p in JEMALLOC_PATHS):
        pytest.skip("libjemalloc2 not installed (scripts/setup.sh --dev installs it)")
    config = tmp_path / "tiny.json"
    quick_config(data_root, total_steps=2).save(config)
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "MALLOC_CONF")}
    run = subprocess.run(
        train_command(config, tmp_path / "run", "--max-steps", "1"),
        cwd=REPO, env={**env, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
        timeout=300)
    assert run.returncode == 0, run.stderr
    assert "memory allocator: jemalloc" in run.stderr
    assert (tmp_path / "run" / "export" / "params.json").exists()


def sentence_file(tmp_path: Path) -> Path:
    path = tmp_path / "sentences.tsv"
    path.write_text("".join(f"brown\t{s}\n" for s in SENTENCES[2:]))
    return path


def test_text_only_examples_are_silent_frames_with_word_timed_targets(tmp_path: Path) -> None:
    import random

    import torch

    from model.checkpoint import build_network
    from model.testing import tiny_args
    from model.training.batches import make_cached_batch
    from model.training.text_only import TextOnlyPool

    args = tiny_args()
    pool = TextOnlyPool(sentence_file(tmp_path), args.encoder.dim, example_seconds=6)
    examples = pool.draw(random.Random(0), 10)
    assert sum(e.duration_s for e in examples) >= 10
    tokenizer = TextTokenizer(TOKENIZER)
    for ex in examples:
        assert ex.text_only and not ex.frames.any() and ex.frames.shape[1] == args.encoder.dim
        assert ex.text == " ".join(w.word for w in ex.words)
        assert all(s in SENTENCES[2:] for s in _sentences_of(ex.text))
        starts = [w.start_s for w in ex.words]
        assert starts == sorted(starts) and ex.words[-1].end_s <= ex.duration_s
        sequence = aligned_sequence(tokenizer, ex.words, len(ex.frames_for(6)) // 4, 480)
        first_output = prompt_length(6) - 1
        pieces = word_tokens(tokenizer, [w.word for w in ex.words])
        cursor = 0
        for word, tokens in zip(ex.words, pieces, strict=True):
            step = max(cursor, int(word.start_s / STEP_SECONDS + 1e-6))
            assert sequence.labels[first_output + step] == tokens[0], word
            cursor = step + len(tokens)
    batch = make_cached_batch(examples, tokenizer, [480] * len(examples))
    assert batch.text_only.all()
    # The adapter has no biases: silent frames give exactly no audio embedding.
    net = build_network(args, "cpu", torch.float32)
    assert not net.adapt(batch.frames.float()).any()


def _sentences_of(text: str) -> list[str]:
    out, rest = [], text
    while rest:
        match = next((s for s in SENTENCES[2:] if rest.startswith(s)), None)
        if match is None:
            return [rest]
        out.append(match)
        rest = rest[len(match):].lstrip()
    return out


def test_decoder_training_mixes_in_text_only_examples(data_root: Path, tmp_path: Path) -> None:
    cfg = TrainConfig(preset="tiny", tokenizer=str(TOKENIZER), synthetic_roots=[str(data_root)],
                      dev_root=None, batch_seconds=16, lr=3e-3, warmup_steps=2, total_steps=40,
                      save_every=100, threads=1, delays_ms=[480], ctc_weight=0.3,
                      feature_cache=str(tmp_path / "cache"), text_only_fraction=0.5,
                      text_only_sentences=str(sentence_file(tmp_path)), pack_seconds=6)
    trainer = Trainer(cfg, tmp_path / "run")
    trainer.fit(max_steps=20)
    rows = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert all(r["text_s"] >= 8 and r["audio_s"] > r["text_s"] for r in rows)
    assert all(np.isfinite(r["ctc"]) for r in rows)  # over the speech rows only
    for key in ("loss", "speech_loss"):
        assert np.mean([r[key] for r in rows[-4:]]) < 0.7 * np.mean([r[key] for r in rows[:3]])


def test_text_only_needs_cached_frames_and_sentences(tmp_path: Path) -> None:
    recipe = tmp_path / "recipe.json"
    recipe.write_text(json.dumps({"text_only_fraction": 0.3, "text_only_sentences": "x.tsv"}))
    with pytest.raises(ValueError, match="text_only_fraction"):
        TrainConfig.load(recipe)


def test_frame_masks_need_cached_frames(tmp_path: Path) -> None:
    recipe = tmp_path / "recipe.json"
    recipe.write_text(json.dumps({"frame_mask_ratio": 0.1}))
    with pytest.raises(ValueError, match="frame_mask_ratio"):
        TrainConfig.load(recipe)


def test_the_encoder_window_setting_is_what_the_export_serves(data_root: Path,
                                                              tmp_path: Path) -> None:
    cfg = quick_config(data_root, encoder_window=5)
    trainer = Trainer(cfg, tmp_path / "run")
    trainer.fit(max_steps=1)
    served = load_model(trainer.export())
    assert served.network.args.encoder.sliding_window == 5
    assert json.loads((tmp_path / "run" / "export" / "params.json").read_text())[
        "multimodal"]["whisper_model_args"]["encoder_args"]["sliding_window"] == 5
    recipe = tmp_path / "recipe.json"
    recipe.write_text(json.dumps({"encoder_window": 0}))
    with pytest.raises(ValueError, match="encoder_window"):
        TrainConfig.load(recipe)


def test_ctrl_c_finishes_the_step_saves_and_a_rerun_resumes(data_root: Path,
                                                           tmp_path: Path) -> None:
    """SIGINT (Ctrl-C) mid-run ends `streamscribe train` with status 0 and every completed
    step saved, although the next periodic save (save_every 100) is far away."""
    config = tmp_path / "tiny.json"
    quick_config(data_root, total_steps=100_000).save(config)
    run_dir = tmp_path / "run"
    err_path = tmp_path / "stderr.txt"  # a file, not a pipe: nothing reads until the end
    with err_path.open("w") as err:
        proc = subprocess.Popen(train_command(config, run_dir), cwd=REPO,
                                env={**os.environ, "PYTHONPATH": str(REPO)}, stderr=err)
        log = run_dir / "log.jsonl"
        deadline = time.monotonic() + 240
        while not (log.exists() and len(log.read_text().splitlines()) >= 3):
            assert proc.poll() is None and time.monotonic() < deadline, "no training steps"
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=240)
    stderr = err_path.read_text()
    assert proc.returncode == 0, stderr
    assert "stopped by SIGINT" in stderr
    steps = len(log.read_text().splitlines())
    assert Trainer(quick_config(data_root, total_steps=100_000), run_dir).step == steps
