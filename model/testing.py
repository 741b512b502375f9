"""Small random checkpoints for tests, benchmarks and the untrained placeholder.

A large tied-embedding std makes "repeat the previous token" a fixed point; measured on
3 s of speech, embeddings at std 0.1 and other matrices at 0.3 give varied tokens at every
delay (0.05 everywhere gave one repeated token)."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import torch

from .checkpoint import TOKENIZER_FILE, build_network, save_checkpoint
from .config import EncoderArgs, ModelArgs
from .constants import N_SPECIAL_TOKENS
from .tokenizer import write_tekken
from .voxtral import VoxtralRealtime


def tiny_args(**overrides: Any) -> ModelArgs:
    """Odd sizes, GQA ratio 2, windows short enough that a few seconds of audio exercises
    them. `encoder_*` keys override the encoder."""
    enc = {"dim": 48, "n_layers": 2, "head_dim": 12, "hidden_dim": 72, "n_heads": 4,
           "n_kv_heads": 4, "sliding_window": 40}
    enc.update({k.removeprefix("encoder_"): v for k, v in overrides.items()
                if k.startswith("encoder_")})
    dec = {"dim": 40, "n_layers": 2, "head_dim": 10, "hidden_dim": 56, "n_heads": 4,
           "n_kv_heads": 2, "sliding_window": 30, "vocab_size": N_SPECIAL_TOKENS + 256}
    dec.update({k: v for k, v in overrides.items() if not k.startswith("encoder_")})
    return ModelArgs(**dec, encoder=EncoderArgs(**enc))


def random_network(args: ModelArgs, seed: int = 0, std: float = 0.3,
                   embedding_std: float = 0.1) -> VoxtralRealtime:
    net = build_network(args)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=gen))
            elif "tok_embeddings" in name:
                p.copy_(embedding_std * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(std * torch.randn(p.shape, generator=gen))
    return net.eval()


def byte_vocab() -> list[bytes]:
    return [bytes([i]) for i in range(256)]


def write_random_checkpoint(directory: str | Path, args: ModelArgs, seed: int = 0,
                            std: float = 0.3, embedding_std: float = 0.1) -> Path:
    """Write a random model of `args`' shape (params.json, consolidated.safetensors,
    byte-level tekken.json)."""
    net = random_network(args, seed, std, embedding_std)
    with tempfile.TemporaryDirectory() as tmp:
        tekken = Path(tmp) / TOKENIZER_FILE
        write_tekken(tekken, byte_vocab())
        return save_checkpoint(net, directory, tekken)


def make_tiny_checkpoint(directory: str | Path, seed: int = 0, **overrides: Any) -> Path:
    """The tiny test model with random weights, written as a checkpoint."""
    return write_random_checkpoint(directory, tiny_args(**overrides), seed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write a small random checkpoint.")
    parser.add_argument("--out", required=True, help="checkpoint directory to write")
    parser.add_argument("--seed", type=int, default=0)
    ns = parser.parse_args(argv)
    print(make_tiny_checkpoint(ns.out, ns.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
