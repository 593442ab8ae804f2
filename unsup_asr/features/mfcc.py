"""MFCC and log-mel featurizers (layer-less baselines), via torchaudio's Kaldi-compatible code.

Frames are computed every 10 ms with a 25 ms window, then two consecutive frames are stacked so the
output shift is 20 ms, like wav2vec 2.0. Features are normalised per utterance (mean and variance).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torchaudio

from unsup_asr.features.featurizer import FEATURIZERS, Featurizer
from unsup_asr.features.frames import SAMPLE_RATE


@dataclass(kw_only=True)
class MfccConfig:
    """Configuration of the MFCC / log-mel featurizer."""

    name: str = "mfcc"
    """Registry name of the featurizer."""
    kind: str = "mfcc"
    """``mfcc``: cepstra with deltas and delta-deltas; ``logmel``: log mel filterbank energies."""
    num_ceps: int = 13
    """Number of cepstral coefficients (mfcc only)."""
    num_mel_bins: int = 40
    """Number of mel filters."""
    deltas: bool = True
    """Append first and second time derivatives (mfcc only)."""
    stack: int = 2
    """Number of consecutive 10 ms frames stacked into one output frame (2 -> 20 ms)."""
    cmvn: bool = True
    """Per-utterance mean and variance normalisation."""

    def validate(self) -> None:
        if self.kind not in ("mfcc", "logmel"):
            raise ValueError(f"features.kind must be 'mfcc' or 'logmel', got {self.kind!r}")
        if self.stack < 1:
            raise ValueError("features.stack must be >= 1")
        if self.num_ceps < 1 or self.num_mel_bins < self.num_ceps:
            raise ValueError("need 1 <= features.num_ceps <= features.num_mel_bins")


@FEATURIZERS.register("mfcc", config=MfccConfig)
class MfccFeaturizer(Featurizer):
    """MFCC (+Δ+ΔΔ) or log-mel frames, stacked to a 20 ms shift. ``num_layers == 0``."""

    def __init__(self, cfg: MfccConfig) -> None:
        cfg.validate()
        self.cfg = cfg
        base = cfg.num_ceps * (3 if cfg.deltas else 1) if cfg.kind == "mfcc" else cfg.num_mel_bins
        self.num_layers = 0
        self.dim = base * cfg.stack
        self.frame_shift_s = 0.01 * cfg.stack

    def cache_config(self) -> dict[str, Any]:
        return {"featurizer": "mfcc", **asdict(self.cfg), "torchaudio": torchaudio.__version__}

    def _one(self, wav: torch.Tensor) -> torch.Tensor:
        """``(N,)`` samples -> ``(T, D)`` features at ``frame_shift_s``."""
        cfg = self.cfg
        x = wav.unsqueeze(0) * 32768.0  # Kaldi's scale
        kw: dict[str, Any] = dict(sample_frequency=SAMPLE_RATE, num_mel_bins=cfg.num_mel_bins, dither=0.0)
        if cfg.kind == "mfcc":
            f = torchaudio.compliance.kaldi.mfcc(x, num_ceps=cfg.num_ceps, **kw)
            if cfg.deltas:
                d1 = torchaudio.functional.compute_deltas(f.T).T
                d2 = torchaudio.functional.compute_deltas(d1.T).T
                f = torch.cat([f, d1, d2], dim=1)
        else:
            f = torchaudio.compliance.kaldi.fbank(x, **kw)
        if cfg.cmvn:
            f = (f - f.mean(0, keepdim=True)) / (f.std(0, keepdim=True) + 1e-5)
        t = f.shape[0] // cfg.stack
        out: torch.Tensor = f[: t * cfg.stack].reshape(t, cfg.stack * f.shape[1])
        return out

    def __call__(
        self, wavs: torch.Tensor, wav_lens: torch.Tensor, layers: Sequence[int]
    ) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
        self.check_layers(layers)
        min_samples = int(0.025 * SAMPLE_RATE) + int(0.01 * SAMPLE_RATE) * (self.cfg.stack - 1)
        outs = []
        for wav, n in zip(wavs, wav_lens.tolist(), strict=True):
            if n < min_samples:
                raise ValueError(f"audio of {n} samples is shorter than the {min_samples}-sample minimum")
            outs.append(self._one(wav[:n].float()))
        lens = torch.tensor([o.shape[0] for o in outs], dtype=torch.long)
        feats = torch.zeros(len(outs), int(lens.max()), self.dim)
        for i, o in enumerate(outs):
            feats[i, : o.shape[0]] = o
        return {0: (feats, lens)}
