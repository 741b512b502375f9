"""Voxtral Realtime model: front-end, encoder, decoder, tokenizer, checkpoints."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from .asr_model import AsrModel, TranscriptionResult
from .checkpoint import resolve_checkpoint
from .words import Word

__all__ = ["AsrModel", "TranscriptionResult", "Word", "load_model", "default_model_dir"]

log = logging.getLogger(__name__)

# The embedded default model ships inside the package.
DEFAULT_MODEL_DIR = Path(__file__).parent / "default"
# Used only while no trained default exists: an untrained model, so the server still runs.
PLACEHOLDER_DIR = Path.home() / ".cache" / "streamscribe" / "placeholder-model"


def default_model_dir() -> Path:
    if (DEFAULT_MODEL_DIR / "params.json").exists():
        return DEFAULT_MODEL_DIR
    if not (PLACEHOLDER_DIR / "params.json").exists():
        from .testing import make_tiny_checkpoint

        make_tiny_checkpoint(PLACEHOLDER_DIR)
    log.warning("no trained default model is shipped in %s yet: using an UNTRAINED "
                "placeholder (%s) whose transcripts are noise", DEFAULT_MODEL_DIR, PLACEHOLDER_DIR)
    return PLACEHOLDER_DIR


def load_model(path_or_repo_id: str | Path | None = None, device: str | torch.device = "cpu",
               dtype: torch.dtype = torch.float32) -> AsrModel:
    """Load a checkpoint directory (params.json, consolidated.safetensors, tekken.json), a
    Hugging Face repo id, or, with None, the embedded default model."""
    directory = default_model_dir() if path_or_repo_id is None \
        else resolve_checkpoint(path_or_repo_id)
    return AsrModel.from_directory(directory, device, dtype)
