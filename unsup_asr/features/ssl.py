"""Featurizer of the library's own SSL model (``features=ssl features.path=CHECKPOINT``).

Reads a checkpoint written by ``uasr ssl-pretrain`` (:mod:`unsup_asr.ssl.pretrain`, default
``out/exp/ssl/model.pt``). Layer ``k`` follows the library's numbering (0 = input of block 1,
k = output of block k, the last layer after the final LayerNorm); blocks above the highest
requested layer are not run. Frames are 20 ms, as for every featurizer. A padded batch gives each
utterance the features it gets alone (padding is masked in attention and zeroed before the
positional convolution; the front end runs per utterance).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from unsup_asr.features.featurizer import FEATURIZERS, Featurizer
from unsup_asr.io import file_sha1


@dataclass(kw_only=True)
class SslFeaturesConfig:
    """Configuration of the own-SSL featurizer."""

    name: str = "ssl"
    """Registry name of the featurizer."""
    path: str = ""
    """Checkpoint written by ``uasr ssl-pretrain`` (``<out>/exp/ssl/model.pt``)."""
    device: str = "auto"
    """``auto`` (CUDA when available), ``cpu`` or ``cuda`` (or ``cuda:N``)."""

    def validate(self) -> None:
        if not self.path:
            raise ValueError("features.path is empty: point it to a checkpoint of `uasr ssl-pretrain` "
                             "(e.g. features.path=<out>/exp/ssl/model.pt)")
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise ValueError(f"features.device={self.device!r} must be 'auto', 'cpu', 'cuda' or 'cuda:N'")


@FEATURIZERS.register("ssl", config=SslFeaturesConfig)
class SslFeaturizer(Featurizer):
    """Hidden states of the own SSL model for the requested layers, from one forward pass."""

    def __init__(self, cfg: SslFeaturesConfig) -> None:
        from unsup_asr.ssl.model import frontend, load_checkpoint

        cfg.validate()
        self.cfg = cfg
        self.path = Path(cfg.path)
        self.model, self.info = load_checkpoint(self.path)
        self.device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if cfg.device == "auto"
                                   else cfg.device)
        self.model.to(self.device).requires_grad_(False)
        self.front = frontend(self.model.cfg)
        self.num_layers = self.model.num_layers
        self.dim = self.model.cfg.dim
        self.frame_shift_s = self.front.frame_shift_s
        self._sha1 = file_sha1(self.path)

    def cache_config(self) -> dict[str, Any]:
        return {"featurizer": "ssl", "checkpoint_sha1": self._sha1, "front_end": self.front.cache_config()}

    @torch.inference_mode()
    def __call__(
        self, wavs: torch.Tensor, wav_lens: torch.Tensor, layers: Sequence[int]
    ) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
        layers = self.check_layers(layers)
        x, lens = self.front(wavs, wav_lens, [0])[0]  # per utterance; raises for too-short audio
        hidden = self.model(x.to(self.device), lens.to(self.device), layers)
        return {k: (h.float().cpu().masked_fill((torch.arange(h.shape[1])[None] >= lens[:, None])[..., None], 0.0),
                     lens) for k, h in hidden.items()}
