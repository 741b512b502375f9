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
import json
from collections.abc import Iterable
from pathlib import Path

from model.tokenizer import TEKKEN_PATTERN, write_tekken


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


def train_tekken(texts: Iterable[str], n_vocab: int, out_path: Path | str) -> Path:
    """Train `n_vocab` ranks (bytes + merges) on `texts`; write and return `out_path`."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    write_tekken(out_path, train_ranks(texts, n_vocab))
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
