"""Mistral "consolidated" checkpoints: params.json + consolidated.safetensors + tekken.json.

Weights larger than a file limit are split into consolidated-00001-of-0000N.safetensors parts
(the names Mistral uses for its large checkpoints); a directory holds one form or the other.

The same loader reads the published 4B checkpoint and our small ones: tensor names equal
module paths, and wq/wk stay in Mistral's interleaved-RoPE layout because our RoPE is
interleaved too, so no permutation is needed (transformers permutes; we do not).
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from .config import ModelArgs
from .voxtral import VoxtralRealtime

PARAMS_FILE = "params.json"
WEIGHTS_FILE = "consolidated.safetensors"
WEIGHTS_GLOB = "consolidated*.safetensors"  # the single file or its parts
TOKENIZER_FILE = "tekken.json"
CHECKPOINT_FILES = (PARAMS_FILE, WEIGHTS_GLOB, TOKENIZER_FILE)
# Every file we commit stays under the repository's 50 MB limit.
MAX_WEIGHTS_FILE_BYTES = 45 * 2**20

log = logging.getLogger(__name__)


def read_args(directory: str | Path) -> ModelArgs:
    return ModelArgs.from_params(json.loads((Path(directory) / PARAMS_FILE).read_text()))


def build_network(args: ModelArgs, device: str | torch.device = "cpu",
                  dtype: torch.dtype = torch.float32) -> VoxtralRealtime:
    """An un-initialised network; on device "meta" it allocates nothing (used for the 4B
    shape check and as the target of an assign-load)."""
    with torch.device(device):
        net = VoxtralRealtime(args)
    return net.to(dtype)


def weight_files(directory: str | Path) -> list[Path]:
    """consolidated.safetensors, or all of its numbered parts; [] when there are none."""
    directory = Path(directory)
    if (directory / WEIGHTS_FILE).exists():
        return [directory / WEIGHTS_FILE]
    parts = sorted(directory.glob("consolidated-*-of-*.safetensors"))
    expected = int(parts[0].stem.rsplit("-of-", 1)[1]) if parts else 0
    if len(parts) != expected:
        raise FileNotFoundError(f"{directory}: {len(parts)} weight parts of {expected} are "
                                "present")
    return parts


def load_network(directory: str | Path, device: str | torch.device = "cpu",
                 dtype: torch.dtype = torch.float32) -> VoxtralRealtime:
    directory = Path(directory)
    files = weight_files(directory)
    missing = ([PARAMS_FILE] if not (directory / PARAMS_FILE).exists() else []) + \
        ([WEIGHTS_FILE] if not files else [])
    if missing:
        raise FileNotFoundError(f"{directory} is not a checkpoint directory: missing "
                                + ", ".join(missing))
    args = read_args(directory)
    net = build_network(args, "meta", dtype)
    state: dict[str, torch.Tensor] = {}
    for file in files:
        state |= {k: v.to(dtype) for k, v in load_file(file, device=str(device)).items()}
    try:
        net.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as e:
        raise ValueError(f"{directory}: {' + '.join(f.name for f in files)} does not match "
                         f"its params.json: {e}") from e
    return net.eval()


def split_by_size(state: dict[str, torch.Tensor], max_bytes: int
                  ) -> list[dict[str, torch.Tensor]]:
    """`state` cut, in order, into groups of tensors of at most `max_bytes` each (a tensor
    larger than that gets a group of its own)."""
    parts: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for name, tensor in state.items():
        nbytes = tensor.numel() * tensor.element_size()
        if parts[-1] and size + nbytes > max_bytes:
            parts.append({})
            size = 0
        parts[-1][name] = tensor
        size += nbytes
    return parts


def save_weights(state: dict[str, torch.Tensor], directory: Path,
                 max_file_bytes: int = MAX_WEIGHTS_FILE_BYTES) -> list[Path]:
    """One consolidated.safetensors, or numbered parts when it would exceed `max_file_bytes`;
    weight files of an earlier save in `directory` are removed first."""
    parts = split_by_size(state, max_file_bytes)
    for old in directory.glob(WEIGHTS_GLOB):
        old.unlink()
    names = [WEIGHTS_FILE] if len(parts) == 1 else \
        [f"consolidated-{i:05d}-of-{len(parts):05d}.safetensors" for i in range(1, len(parts) + 1)]
    for name, part in zip(names, parts, strict=True):
        save_file(part, directory / name, metadata={"format": "pt"})
    return [directory / name for name in names]


def save_checkpoint(net: VoxtralRealtime, directory: str | Path, tokenizer_file: str | Path,
                    dtype: torch.dtype | None = None,
                    max_file_bytes: int = MAX_WEIGHTS_FILE_BYTES) -> Path:
    """Write params.json, the weights (split above `max_file_bytes`) and tekken.json; tensors
    are stored contiguous, in `dtype` if given."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / PARAMS_FILE).write_text(json.dumps(net.args.to_params(), indent=2) + "\n")
    state = {k: (v.to(dtype) if dtype is not None else v).detach().contiguous().cpu()
             for k, v in net.state_dict().items()}
    save_weights(state, directory, max_file_bytes)
    if Path(tokenizer_file).resolve() != (directory / TOKENIZER_FILE).resolve():
        shutil.copyfile(tokenizer_file, directory / TOKENIZER_FILE)
    _match_audio_block(directory / TOKENIZER_FILE,
                       net.args.encoder.audio_encoding_args.num_mel_bins)
    return directory


def _match_audio_block(tekken: Path, n_mels: int) -> None:
    """tekken.json repeats the mel size for mistral-common's audio encoder; keep it equal to
    params.json (an 80-mel Whisper-initialised encoder shares a tokenizer file with 128-mel
    models)."""
    data = json.loads(tekken.read_text())
    audio = data.get("audio", {}).get("audio_encoding_config")
    if audio is not None and audio.get("num_mel_bins") != n_mels:
        audio["num_mel_bins"] = n_mels
        tekken.write_text(json.dumps(data, ensure_ascii=False) + "\n")


def resolve_checkpoint(path_or_repo_id: str | Path) -> Path:
    """A local checkpoint directory, or a Hugging Face repo id fetched with huggingface_hub
    (only the three files the model needs)."""
    local = Path(path_or_repo_id).expanduser()
    if local.exists():
        return local
    repo_id = str(path_or_repo_id)
    if repo_id.count("/") != 1 or repo_id.startswith((".", "/")):
        raise FileNotFoundError(f"no checkpoint directory at {local}")
    try:
        from huggingface_hub import snapshot_download
        return Path(snapshot_download(repo_id, allow_patterns=list(CHECKPOINT_FILES)))
    except Exception as e:  # offline, unknown repo, gated repo: one clear message
        raise FileNotFoundError(
            f"{repo_id!r} is not a local directory and could not be fetched from the Hugging "
            f"Face Hub ({type(e).__name__}: {e}). Offline? Download the repo's "
            f"{', '.join(CHECKPOINT_FILES)} elsewhere and pass that directory.") from e
