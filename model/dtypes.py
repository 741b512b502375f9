"""Which floating-point type to compute in, on the hardware at hand.

bfloat16 halves the weights and caches a step reads, but only pays where the CPU has
bfloat16 dot products (AVX-512 BF16 or AMX: Zen 4, Sapphire Rapids and later). Without
them PyTorch emulates it: measured 1 vs 42 GFLOP/s in float32 on an AVX2 EPYC core.
"""

from __future__ import annotations

import torch

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
DTYPE_CHOICES = ("auto", *DTYPES)


def native_bfloat16() -> bool:
    """The CPU multiplies bfloat16 natively (not through float32 emulation)."""
    return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


def resolve_dtype(name: str, device: str | torch.device = "cpu") -> torch.dtype:
    """`auto`: bfloat16 on a GPU that supports it or a CPU with native bfloat16, else float32."""
    if name != "auto":
        if name not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPE_CHOICES)}")
        return DTYPES[name]
    device = torch.device(device)
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if device.type == "cpu" and native_bfloat16() else torch.float32
