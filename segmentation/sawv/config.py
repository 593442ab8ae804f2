"""Configuration of the Segmental Audio Word2Vec (``sawv``) segmenter."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(kw_only=True)
class SawvConfig:
    """Model size, segment-rate control and training budget of the ``sawv`` segmenter."""

    name: str = "sawv"
    """Registry name."""
    hidden_dim: int = 128
    """Width of the boundary encoder (conv channels), the frame encoder and the decoder MLPs."""
    embedding_dim: int = 32
    """Segment embedding size E (the autoencoder's bottleneck; what the GAN receives)."""
    conv_layers: int = 3
    """Conv1d layers of the boundary encoder (each masked to the utterance's valid frames)."""
    kernel_size: int = 5
    """Odd Conv1d kernel size of the boundary encoder (receptive field ``conv_layers * (k - 1) + 1`` frames)."""
    trajectory: bool = True
    """Segments encode trajectories: the embedding pools the first moment of the codes over relative
    position and the decoder sees each frame's relative position. False: a segment is reconstructed
    as a constant from the mean of its codes (a piecewise-constant model of the utterance)."""
    target_rate: float = 12.5
    """Target segments per second of the *sampled* training segmentations (about one per phone); the
    segment penalty λ is adapted by dual ascent to reach it. 0 = keep λ fixed at ``segment_penalty``."""
    segment_penalty: float = 1.0
    """λ: cost of one segment, in units of per-frame reconstruction error (mean squared error of the
    standardised features). The initial value when ``target_rate > 0``, the fixed value otherwise."""
    warmup_updates: int = 100
    """Updates that train only the autoencoder, on random segmentations at the initial boundary
    probability, before the policy learns; λ is then calibrated so that the target rate of decisions
    has a reconstruction gain above λ (with ``target_rate > 0``; 0 = neither warm-up nor calibration)."""
    penalty_lr: float = 0.05
    """Dual-ascent step on log λ per update: ``log λ += penalty_lr * (rate - target) / target``."""
    frame_shift_s: float = 0.02
    """Frame shift of the input features in seconds (every featurizer of this project emits 20 ms)."""
    max_segment_frames: int = 32
    """Runs longer than this are cut every ``max_segment_frames`` frames (training and inference alike);
    bounds the cost of the counterfactual scoring, which grows with the square of segment length."""
    concat_mean_features: bool = False
    """Append the mean of the segment's standardised input frames (D values) to each embedding."""
    epochs: int = 30
    """Passes over the training utterances (training also stops after ``max_seconds``)."""
    batch_size: int = 32
    """Utterances per update (batches are built from length-sorted buckets)."""
    lr: float = 2e-3
    """Adam learning rate."""
    seed: int = 0
    """Seed of initialisation, batching and boundary sampling."""
    max_seconds: float = 300.0
    """Wall-clock budget of ``fit`` in seconds (checked after every update; 0 = no limit)."""
    device: str = "auto"
    """Torch device for training and inference; ``"auto"`` picks ``cuda`` when available, else ``cpu``."""

    def validate(self) -> None:
        """Raise ValueError naming the offending field."""
        positive_ints = {
            "hidden_dim": self.hidden_dim,
            "embedding_dim": self.embedding_dim,
            "conv_layers": self.conv_layers,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
        }
        for key, value in positive_ints.items():
            if value < 1:
                raise ValueError(f"segmenter.{key} must be >= 1, got {value}")
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise ValueError(f"segmenter.kernel_size must be a positive odd number, got {self.kernel_size}")
        if self.max_segment_frames < 2:
            raise ValueError(f"segmenter.max_segment_frames must be >= 2, got {self.max_segment_frames}")
        if not math.isfinite(self.frame_shift_s) or self.frame_shift_s <= 0:
            raise ValueError(f"segmenter.frame_shift_s must be > 0 seconds, got {self.frame_shift_s}")
        if not 0.0 <= self.target_rate < 1.0 / self.frame_shift_s:
            raise ValueError(
                f"segmenter.target_rate must be in [0, {1.0 / self.frame_shift_s:g}) segments per second "
                f"(below one per frame), got {self.target_rate}"
            )
        if not self.segment_penalty > 0 or not math.isfinite(self.segment_penalty):
            raise ValueError(f"segmenter.segment_penalty must be a finite number > 0, got {self.segment_penalty}")
        if self.warmup_updates < 0:
            raise ValueError(f"segmenter.warmup_updates must be >= 0, got {self.warmup_updates}")
        if self.penalty_lr < 0:
            raise ValueError(f"segmenter.penalty_lr must be >= 0, got {self.penalty_lr}")
        if not self.lr > 0:
            raise ValueError(f"segmenter.lr must be > 0, got {self.lr}")
        if self.max_seconds < 0:
            raise ValueError(f"segmenter.max_seconds must be >= 0 (0 = no limit), got {self.max_seconds}")
        if self.device != "auto":
            try:
                torch.device(self.device)
            except RuntimeError as err:
                raise ValueError(
                    f"segmenter.device {self.device!r} is not a torch device: use auto, cpu or cuda"
                ) from err

    @property
    def target_per_frame(self) -> float:
        """``target_rate`` as segments per frame (0 when the penalty is fixed)."""
        return self.target_rate * self.frame_shift_s

    def resolved_device(self) -> torch.device:
        """The torch device to use (``auto`` -> cuda if available, else cpu)."""
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)
