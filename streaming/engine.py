"""One batched model step for many sessions.

The engine owns every session's caches, as slots of preallocated tensors:
- encoder K/V rings of `sliding_window + 3` frames (a step writes 4 frames before its
  queries attend, and the first of them must still see `sliding_window` keys),
- decoder K/V rings of `sliding_window` positions,
- the conv stem's carried frames (2 mel frames for conv1, 1 conv1 frame for conv2).
Each cache slot also records the absolute position it holds, so the sliding-window mask is
`0 <= query_pos - key_pos < window` and memory per session is fixed however long it runs.
Sessions at different positions and with different delays share one step: positions,
RoPE angles and the Ada RMS-Norm scale are per row.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from model.asr_model import AsrModel
from model.constants import ENCODER_FRAMES_PER_STEP, N_LEFT_PAD_STEPS
from model.frontend import log_mel_frames
from model.layers import rope_cos_sin, sliding_window_mask

from .events import Event

SHARED_LEFT_PAD_STEPS = N_LEFT_PAD_STEPS - 1

if TYPE_CHECKING:
    from .session import Session


class _Ring:
    """Per-layer K/V rings for `slots` sessions, plus the absolute position in each cell."""

    def __init__(self, n_layers: int, slots: int, kv_heads: int, size: int, head_dim: int,
                 dtype: torch.dtype, device: torch.device) -> None:
        shape = (slots, kv_heads, size, head_dim)
        self.k = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(n_layers)]
        self.v = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(n_layers)]
        self.pos = torch.full((slots, size), -1, dtype=torch.long, device=device)
        self.size = size

    def grow(self, slots: int) -> None:
        def pad(t: torch.Tensor, fill: float) -> torch.Tensor:
            extra = t.new_full((slots - t.shape[0], *t.shape[1:]), fill)
            return torch.cat([t, extra])
        self.k = [pad(t, 0.0) for t in self.k]
        self.v = [pad(t, 0.0) for t in self.v]
        self.pos = pad(self.pos, -1)

    def reset(self, slot: int) -> None:
        self.pos[slot] = -1

    def write(self, layer: int, rows: torch.Tensor, positions: torch.Tensor,
              k: torch.Tensor, v: torch.Tensor) -> None:
        """k/v (B, KV, T, hd) for absolute positions (B, T) of sessions in `rows`."""
        cells = positions % self.size
        r = rows[:, None]
        self.k[layer][r, :, cells] = k.transpose(1, 2)
        self.v[layer][r, :, cells] = v.transpose(1, 2)
        if layer == 0:
            self.pos[r, cells] = positions

    def read(self, layer: int, rows: torch.Tensor, contiguous: slice | None
             ) -> tuple[torch.Tensor, torch.Tensor]:
        # A contiguous run of slots is a view: no copy of the caches on the hot path.
        if contiguous is not None:
            return self.k[layer][contiguous], self.v[layer][contiguous]
        return self.k[layer][rows], self.v[layer][rows]


class BatchedEngine:
    def __init__(self, model: AsrModel, initial_slots: int = 4) -> None:
        self.model = model
        self.net = model.network
        a = self.net.args
        dtype, device = model.dtype, model.device
        self._lock = threading.Lock()  # one step at a time; slots change only under it
        self._slots = initial_slots
        self._free = list(range(initial_slots))
        self.enc = _Ring(a.encoder.n_layers, initial_slots, a.encoder.n_kv_heads,
                         a.encoder.sliding_window + ENCODER_FRAMES_PER_STEP - 1,
                         a.encoder.head_dim, dtype, device)
        self.dec = _Ring(a.n_layers, initial_slots, a.n_kv_heads, a.sliding_window,
                         a.head_dim, dtype, device)
        n_mels = a.encoder.audio_encoding_args.num_mel_bins
        self.mel_carry = torch.zeros(initial_slots, n_mels, 2, dtype=dtype, device=device)
        self.conv_carry = torch.zeros(initial_slots, a.encoder.dim, 1, dtype=dtype,
                                      device=device)
        self._ffn_scales: dict[int, torch.Tensor] = {}
        # Every session starts with the same steps of zero audio, so their cache state is
        # captured once per delay and copied into new slots: a session's first words then do
        # not wait behind the left padding. (The 32nd step already reads 40 samples of real
        # audio through the STFT look-ahead, so 31 steps are shared.)
        self._left_pad_state: dict[int, dict[str, list[torch.Tensor]]] = {}

    # ---- slots ----

    @property
    def active_sessions(self) -> int:
        return self._slots - len(self._free)

    def _acquire(self, session: Session) -> None:
        if not self._free:
            new = self._slots * 2
            self.enc.grow(new)
            self.dec.grow(new)
            self.mel_carry = torch.cat([self.mel_carry, torch.zeros_like(self.mel_carry)])
            self.conv_carry = torch.cat([self.conv_carry, torch.zeros_like(self.conv_carry)])
            self._free = list(range(self._slots, new))
            self._slots = new
        self._free.sort()
        slot = self._free.pop(0)
        self.enc.reset(slot)
        self.dec.reset(slot)
        self.mel_carry[slot] = 0
        self.conv_carry[slot] = 0
        session.slot = slot

    def _slot_tensors(self) -> dict[str, list[torch.Tensor]]:
        return {"enc_k": self.enc.k, "enc_v": self.enc.v, "enc_pos": [self.enc.pos],
                "dec_k": self.dec.k, "dec_v": self.dec.v, "dec_pos": [self.dec.pos],
                "carry": [self.mel_carry, self.conv_carry]}

    def _capture_left_pad(self, session: Session) -> None:
        self._left_pad_state[session.n_delay] = {
            name: [t[session.slot].clone() for t in tensors]
            for name, tensors in self._slot_tensors().items()}

    def _restore_left_pad(self, session: Session) -> bool:
        state = self._left_pad_state.get(session.n_delay)
        if state is None or session.position != 0:
            return False
        for name, tensors in self._slot_tensors().items():
            for t, saved in zip(tensors, state[name], strict=True):
                t[session.slot] = saved
        session.skip_left_pad(SHARED_LEFT_PAD_STEPS)
        return True

    def release(self, session: Session) -> None:
        with self._lock:
            if session.slot is not None:
                self._free.append(session.slot)
                session.slot = None

    def _ffn_scale(self, n_delay: int) -> torch.Tensor:
        """(n_layers, dim) Ada RMS-Norm scales for a delay, computed once."""
        if n_delay not in self._ffn_scales:
            with torch.inference_mode():
                t_cond = self.net.t_cond(n_delay)
                self._ffn_scales[n_delay] = torch.cat(
                    [layer.ffn_scale(t_cond) for layer in self.net.layers])
        return self._ffn_scales[n_delay]

    # ---- the step ----

    def step(self, sessions: list[Session]) -> dict[Session, list[Event]]:
        """Advance every given session (each must have steps_ready() > 0) by one position."""
        sessions = [s for s in sessions if s.steps_ready() > 0]
        if not sessions:
            return {}
        with self._lock, torch.inference_mode():
            for s in sessions:
                if s.slot is None:
                    self._acquire(s)
                    self._restore_left_pad(s)
            # A restored session has skipped ahead and may now wait for its first real audio.
            sessions = [s for s in sessions if s.steps_ready() > 0]
            if not sessions:
                return {}
            tokens = self._step_tensors(sessions)
            events = {s: s.accept(t) for s, t in zip(sessions, tokens, strict=True)}
            for s in sessions:
                if s.position == SHARED_LEFT_PAD_STEPS and s.n_delay not in self._left_pad_state:
                    self._capture_left_pad(s)
        return events

    def _step_tensors(self, sessions: list[Session]) -> list[int]:
        net, a = self.net, self.net.args
        device, dtype = self.model.device, self.model.dtype
        slots = [s.slot for s in sessions]
        rows = torch.tensor(slots, device=device)
        first = min(slots)
        contiguous = slice(first, first + len(slots)) \
            if sorted(slots) == list(range(first, first + len(slots))) else None
        if contiguous is not None and slots != sorted(slots):
            contiguous = None  # rows must be in session order for a view
        step_pos = torch.tensor([s.position for s in sessions], device=device)

        # Front-end and conv stem, with the carried frames of the previous step.
        windows = torch.from_numpy(np.stack([s.next_window() for s in sessions])).to(device)
        mel = log_mel_frames(windows, net.n_mels).to(dtype)  # (B, n_mels, 8)
        conv1, conv2 = net.encoder.conv_layers
        x = F.gelu(conv1.conv(torch.cat([self.mel_carry[rows], mel], dim=2)))
        self.mel_carry[rows] = mel[:, :, -2:]
        y = F.gelu(conv2.conv(torch.cat([self.conv_carry[rows], x], dim=2)))
        self.conv_carry[rows] = x[:, :, -1:]
        h = y.transpose(1, 2)  # (B, 4, enc_dim)

        # Encoder: 4 new frames per session attend to their window of cached frames.
        e = a.encoder
        enc_pos = step_pos[:, None] * ENCODER_FRAMES_PER_STEP + torch.arange(
            ENCODER_FRAMES_PER_STEP, device=device)
        cos, sin = rope_cos_sin(enc_pos, e.head_dim, e.rope_theta)
        for i, layer in enumerate(net.encoder.transformer.layers):
            q, k, v = layer.attention.project(layer.attention_norm(h), cos, sin)
            self.enc.write(i, rows, enc_pos, k, v)
            keys, values = self.enc.read(i, rows, contiguous)
            mask = sliding_window_mask(enc_pos, self.enc.pos[rows], e.sliding_window)
            h = h + layer.attention.attend(q, keys, values, mask[:, None])
            h = h + layer.feed_forward(layer.ffn_norm(h))
        h = net.encoder.transformer.norm(h)
        audio = net.adapter(h.reshape(len(sessions), 1, -1))  # (B, 1, dim)

        # Decoder: one position per session; input = audio + previous token's embedding.
        prev = torch.tensor([s.next_input_token() for s in sessions], device=device)
        x = audio + net.tok_embeddings(prev)[:, None]
        dec_pos = step_pos[:, None]
        cos, sin = rope_cos_sin(dec_pos, a.head_dim, a.rope_theta)
        scales = torch.stack([self._ffn_scale(s.n_delay) for s in sessions])  # (B, L, dim)
        for i, layer in enumerate(net.layers):
            q, k, v = layer.attention.project(layer.attention_norm(x), cos, sin)
            self.dec.write(i, rows, dec_pos, k, v)
            keys, values = self.dec.read(i, rows, contiguous)
            mask = sliding_window_mask(dec_pos, self.dec.pos[rows], a.sliding_window)
            x = x + layer.attention.attend(q, keys, values, mask[:, None])
            x = x + layer.feed_forward(layer.ffn_norm(x) * scales[:, i : i + 1])
        return net.logits(x[:, 0]).argmax(-1).tolist()
