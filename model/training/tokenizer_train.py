"""Train a small byte-level BPE vocabulary and write it as a Mistral Tekken `tekken.json`.

    python -m model.training.tokenizer_train --out data/tokenizer/tekken.json --n-vocab 2048

Training uses the `tokenizers` package (Hugging Face, Rust BPE trainer) with Tekken's own
tiktoken-style split pattern, then converts merges into Tekken ranks: ranks 0-255 are the
bytes, rank 256 + k is the k-th merge. Text token id = 1000 + rank (ids 0-999 are special).
The file loads with `mistral_common.tokens.tokenizers.tekken.Tekkenizer.from_file`.

Vocabulary size (see model/data/README.md): 2048 ranks (256 bytes + 1792 merges). The
decoder emits one token per 80 ms step and [STREAMING_WORD] takes a step of its own, so
tokens per word bound how fast speech may be; 2048 ranks give about 1.2 tokens per word on
our texts, and each rank is still seen thousands of times in a few hours of training text.
"""

from __future__ import annotations

import argparse
import base64
import json
from collections.abc import Iterable
from pathlib import Path

# Tekken's pre-tokenisation pattern (mistral-common data/tekken_240911.json).
TEKKEN_PATTERN = (
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|"
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|"
    r"\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
NUM_SPECIAL = 1000
# Specials with fixed ids (the rest are "<SPECIAL_i>" fillers). Names follow mistral-common's
# SpecialTokens; only 0-2, 32 and 33 are used by streamscribe.
NAMED_SPECIALS = {
    0: "<unk>", 1: "<s>", 2: "</s>", 3: "[INST]", 4: "[/INST]", 5: "[AVAILABLE_TOOLS]",
    6: "[/AVAILABLE_TOOLS]", 7: "[TOOL_RESULTS]", 8: "[/TOOL_RESULTS]", 9: "[TOOL_CALLS]",
    10: "[IMG]", 11: "<pad>", 12: "[IMG_BREAK]", 13: "[IMG_END]", 14: "[PREFIX]",
    15: "[MIDDLE]", 16: "[SUFFIX]", 17: "[SYSTEM_PROMPT]", 18: "[/SYSTEM_PROMPT]",
    19: "[TOOL_CONTENT]", 24: "[AUDIO]", 25: "[BEGIN_AUDIO]", 32: "[STREAMING_PAD]",
    33: "[STREAMING_WORD]", 34: "[TRANSCRIBE]",
}
# The audio block mistral-common 1.13 parses (AudioConfig + AudioSpectrogramConfig). Its
# AudioSpectrogramConfig has no `global_log_mel_max` field (it would fail to load), so the
# fixed mel ceiling 1.5 lives in params.json only.
AUDIO_CONFIG = {
    "sampling_rate": 16000,
    "frame_rate": 12.5,
    "audio_encoding_config": {"num_mel_bins": 128, "hop_length": 160, "window_size": 400},
    "transcription_delay_ms": 480,
    "streaming_n_left_pad_tokens": 32,
    # required by mistral-common for streaming; values of the published Voxtral Realtime file
    "streaming_look_ahead_ms": 2.5,
    "streaming_look_back_ms": 52.5,
    "transcription_format": "streaming",
}


def _byte_decoder() -> dict[str, int]:
    """Inverse of GPT-2's bytes->printable-unicode map used by ByteLevel BPE."""
    from tokenizers.pre_tokenizers import ByteLevel

    alphabet = ByteLevel.alphabet()
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
                 *range(ord("®"), ord("ÿ") + 1)]
    table = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    assert set(table.values()) == set(alphabet)
    return {c: b for b, c in table.items()}


def train_ranks(texts: Iterable[str], n_vocab: int) -> list[bytes]:
    """Token bytes in rank order: the 256 single bytes, then merges in training order."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(TEKKEN_PATTERN), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=n_vocab, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[], show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    decode = _byte_decoder()
    merges = json.loads(tokenizer.to_str())["model"]["merges"]
    ranks = [bytes([b]) for b in range(256)]
    seen = set(ranks)
    for merge in merges:
        left, right = merge if isinstance(merge, list) else merge.split(" ")
        token = bytes(decode[c] for c in left + right)
        if token not in seen:
            seen.add(token)
            ranks.append(token)
    return ranks[:n_vocab]


def tekken_json(ranks: list[bytes]) -> dict:
    vocab = []
    for rank, token in enumerate(ranks):
        try:
            token_str: str | None = token.decode("utf-8")
        except UnicodeDecodeError:
            token_str = None
        vocab.append({"rank": rank, "token_bytes": base64.b64encode(token).decode(),
                      "token_str": token_str})
    specials = [
        {"rank": i, "token_str": NAMED_SPECIALS.get(i, f"<SPECIAL_{i}>"), "is_control": True}
        for i in range(NUM_SPECIAL)
    ]
    return {
        "config": {
            "pattern": TEKKEN_PATTERN, "num_vocab_tokens": len(ranks),
            "default_vocab_size": len(ranks) + NUM_SPECIAL,
            "default_num_special_tokens": NUM_SPECIAL, "version": "v13",
        },
        "vocab": vocab,
        "special_tokens": specials,
        "audio": AUDIO_CONFIG,
    }


def train_tekken(texts: Iterable[str], n_vocab: int, out_path: Path | str) -> Path:
    """Train `n_vocab` ranks (bytes + merges) on `texts`; write and return `out_path`."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    data = tekken_json(train_ranks(texts, n_vocab))
    out_path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    return out_path


def main(argv: list[str] | None = None) -> None:
    from model.data.text_sources import cached_sentences

    p = argparse.ArgumentParser(description="Train the Tekken BPE on the training texts.")
    p.add_argument("--out", type=Path, default=Path("data/tokenizer/tekken.json"))
    p.add_argument("--n-vocab", type=int, default=2048, help="ranks: 256 bytes + merges")
    p.add_argument("--text-cache", type=Path, default=Path("data/synth/text"))
    args = p.parse_args(argv)
    texts = [text for _, text in cached_sentences("train", args.text_cache)]
    print(train_tekken(texts, args.n_vocab, args.out))


if __name__ == "__main__":
    main()
