"""The library's own small SSL model: log-mel front end + pre-LN transformer, HuBERT-style head.

Architecture (defaults of :class:`~unsup_asr.ssl.config.SslModelConfig`, 3.3 M parameters)::

    waveform (16 kHz)
      -> 80 log-mel filters, 25 ms windows every 10 ms, per-utterance mean/variance normalisation,
         two frames stacked -> (T, 160) at 20 ms              [the MFCC module's ``logmel`` kind]
      -> LayerNorm -> Linear(160, 256) -> [training: masked frames replaced by a learned vector]
      -> + GELU(Conv1d(k=31, groups=16))      (relative position, as wav2vec 2.0)   = layer 0
      -> 4 pre-LN transformer blocks (4 heads, FFN 1024, GELU)          block k output = layer k
      -> final LayerNorm (part of layer 4 only, like pre-LN wav2vec 2.0 / transformers)
      -> [pre-training only: Linear(256, K) over the K k-means targets]

A log-mel front end instead of wav2vec 2.0's 7-layer waveform CNN keeps pre-training within a
2-core CPU budget (the waveform CNN alone would cost about as much as the transformer) and starts
from features that already separate phones about as well as MFCC do.

**Layer numbering** (the library's convention, :mod:`unsup_asr.features.featurizer`): layer 0 is
the input of block 1, layer k the output of block k, layer ``num_layers`` the final-normalised
output of the last block. Blocks above the highest requested layer are not run.

Checkpoints (:func:`save_checkpoint`) are dicts with ``family == "unsup_asr.ssl"``, the model
config, the weights and training information, loadable with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from unsup_asr.features.mfcc import MfccConfig, MfccFeaturizer
from unsup_asr.io import atomic_write
from unsup_asr.ssl.config import SslModelConfig

FAMILY = "unsup_asr.ssl"
"""``family`` field of every checkpoint written by :func:`save_checkpoint`."""
CHECKPOINT_VERSION = 1


def frontend(cfg: SslModelConfig) -> MfccFeaturizer:
    """The fixed (not learned) front end: stacked, normalised log-mel frames at 20 ms."""
    return MfccFeaturizer(MfccConfig(kind="logmel", num_mel_bins=cfg.num_mel_bins, stack=2, cmvn=True))


def padding_mask(lens: torch.Tensor, max_len: int) -> torch.Tensor:
    """``(B, T)`` bool, True at padded frames (beyond ``lens (B,)``)."""
    return torch.arange(max_len, device=lens.device)[None, :] >= lens[:, None]


class SslModel(nn.Module):
    """Log-mel frames in, hidden states of the requested layers out (see the module docstring)."""

    def __init__(self, cfg: SslModelConfig, num_targets: int = 0) -> None:
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        in_dim = 2 * cfg.num_mel_bins
        self.input_norm = nn.LayerNorm(in_dim)
        self.proj = nn.Linear(in_dim, cfg.dim)
        self.dropout = nn.Dropout(cfg.dropout)
        self.mask_emb = nn.Parameter(torch.empty(cfg.dim).uniform_(-0.5, 0.5))
        self.pos_conv = nn.Conv1d(cfg.dim, cfg.dim, cfg.pos_conv_kernel, padding=cfg.pos_conv_kernel // 2,
                                  groups=cfg.pos_conv_groups)
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(cfg.dim, cfg.num_heads, cfg.ffn_dim, cfg.dropout, activation="gelu",
                                       batch_first=True, norm_first=True)
            for _ in range(cfg.num_layers)
        )
        self.final_norm = nn.LayerNorm(cfg.dim)
        self.head = nn.Linear(cfg.dim, num_targets) if num_targets else None

    @property
    def num_layers(self) -> int:
        return self.cfg.num_layers

    def forward(
        self, x: torch.Tensor, lens: torch.Tensor, layers: Sequence[int], mask: torch.Tensor | None = None
    ) -> dict[int, torch.Tensor]:
        """Hidden states of ``layers``.

        Args:
            x: ``(B, T, 2 * num_mel_bins)`` front-end frames (zero-padded).
            lens: ``(B,)`` valid frames per utterance.
            layers: indices in 0..num_layers (0 = input of block 1, k = output of block k).
            mask: optional ``(B, T)`` bool; True frames are replaced by the mask embedding
                (pre-training only).

        Returns:
            ``{layer: (B, T, dim)}``; frames beyond ``lens`` are meaningless.
        """
        pad = padding_mask(lens, x.shape[1])
        h = self.proj(self.input_norm(x))
        if mask is not None:
            h = torch.where(mask[..., None], self.mask_emb.to(h.dtype), h)
        h = self.dropout(h).masked_fill(pad[..., None], 0.0)
        h = h + nn.functional.gelu(self.pos_conv(h.transpose(1, 2))).transpose(1, 2)
        wanted = set(layers)
        out: dict[int, torch.Tensor] = {0: h} if 0 in wanted else {}
        top = max(wanted)
        for k, block in enumerate(self.blocks[:top], start=1):
            h = block(h, src_key_padding_mask=pad)
            if k in wanted:
                out[k] = self.final_norm(h) if k == self.num_layers else h
        return out

    def logits(self, x: torch.Tensor, lens: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """``(B, T, K)`` target logits from the top layer (pre-training)."""
        if self.head is None:
            raise RuntimeError("this SslModel has no prediction head (built with num_targets=0)")
        logits: torch.Tensor = self.head(self.forward(x, lens, [self.num_layers], mask)[self.num_layers])
        return logits


def save_checkpoint(path: Path, model: SslModel, info: dict[str, Any]) -> None:
    """Write an inference checkpoint (no prediction head) atomically."""
    weights = {k: v.detach().cpu() for k, v in model.state_dict().items() if not k.startswith("head.")}
    blob = {"family": FAMILY, "version": CHECKPOINT_VERSION, "config": asdict(model.cfg), "model": weights,
            "info": info}
    atomic_write(Path(path), lambda tmp: torch.save(blob, tmp))


def load_checkpoint(path: str | Path) -> tuple[SslModel, dict[str, Any]]:
    """The model (eval mode, on CPU) and its training information; clear errors for a missing
    file or a checkpoint of another family."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"SSL checkpoint {path} does not exist; train one with `uasr ssl-pretrain` "
                                "or set features.path")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise ValueError(f"{path} is not an unsup-asr SSL checkpoint (torch.load failed: {e})") from e
    if not isinstance(blob, dict) or blob.get("family") != FAMILY:
        family = blob.get("family") if isinstance(blob, dict) else type(blob).__name__
        raise ValueError(f"{path} is not an unsup-asr SSL checkpoint (family {family!r}, expected {FAMILY!r}); "
                         "for fairseq2 wav2vec 2.0 use features=w2v2, for transformers folders features=hf")
    model = SslModel(SslModelConfig(**blob["config"]))
    model.load_state_dict(blob["model"])
    model.eval()
    return model, dict(blob.get("info", {}))
