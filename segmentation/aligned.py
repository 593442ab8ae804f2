"""Boundaries from a frame-level phone model's alignment (``segmenter=aligned``): boundary refinement.

A frame model (self-training's frame student, :class:`gan.selftrain.students.FrameStudent`) scores
every frame; its best path (with the phone LM of the unpaired text when ``lm`` is set, as
self-training decodes pseudo-labels; else the Viterbi path with ``switch_penalty`` per change of
phone) labels each frame, and a segment starts wherever the label changes (Chen et al. 2019's
GAN/HMM loop; the same loop the RL segmenter runs with its reward). Segment embeddings are the
mean of the per-utterance normalised frames, optionally PCA-projected (fitted on training frames).
No transcript is used. ``uasr refine`` (:mod:`unsup_asr.stages.refine`) runs the loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gan.phone_model import load_phone_model, predict_log_probs
from segmentation.base import SEGMENTERS, Segmentation, Segmenter, batch_segmentation, pool_segments
from segmentation.peaks import PeaksConfig, PeaksSegmenter, normalise
from unsup_asr.decode.viterbi import smooth_path


@dataclass(kw_only=True)
class AlignedConfig:
    """Configuration of the alignment segmenter."""

    name: str = "aligned"
    """Registry name."""
    model: str = ""
    """Frame-level phone model (``model.pt`` of a self-training frame round, or its ``best.pt``)."""
    lm: str = ""
    """Phone LM (KenLM ``lm.phn.o<N>.bin`` of prepare_text) for the alignment; ``""``: Viterbi path."""
    lm_weight: float = 2.0
    """LM weight of the alignment (as ``self_train.frame_lm_weight``)."""
    switch_penalty: float = 4.0
    """Cost of a change of phone on the Viterbi path (without ``lm``)."""
    min_frames: int = 1
    """Segments shorter than this many frames are merged into the previous one."""
    pca_dim: int = 0
    """Embedding size by PCA of the normalised frames; 0 = no PCA."""

    def validate(self) -> None:
        if not self.model:
            raise ValueError("segmenter=aligned needs segmenter.model=PATH of a frame-level phone model")
        if self.lm_weight < 0 or self.switch_penalty < 0 or self.min_frames < 1 or self.pca_dim < 0:
            raise ValueError("aligned: lm_weight >= 0, switch_penalty >= 0, min_frames >= 1, pca_dim >= 0")


@SEGMENTERS.register("aligned", config=AlignedConfig)
class AlignedSegmenter(Segmenter):
    """Segments = runs of equal labels on the frame model's best path (module docstring)."""

    def __init__(self, cfg: AlignedConfig) -> None:
        cfg.validate()
        self.cfg = cfg
        self.model = load_phone_model(Path(cfg.model))
        if self.model.unit != "frame":
            raise ValueError(f"segmenter.model {cfg.model} is a {self.model.unit}-level model; the aligned segmenter "
                             "needs a frame-level one (a self-training frame round)")
        self.pca = PeaksSegmenter(PeaksConfig(pca_dim=cfg.pca_dim))
        self.out_dim = cfg.pca_dim
        self._decoder: Any = None
        if cfg.lm:
            from unsup_asr.decode.lexicon_lm import PhoneLMDecoder, PhoneLMDecoderConfig

            self._decoder = PhoneLMDecoder(cfg.lm, self.model.vocab,
                                           PhoneLMDecoderConfig(lm_weight=cfg.lm_weight, beam_size=20, progress=False))

    def fit(self, feats: Sequence[np.ndarray]) -> None:
        self.pca.fit(feats)

    def labels(self, feats: list[np.ndarray]) -> list[np.ndarray]:
        """The best path's label per frame ``(T_i,)`` of each utterance ``(T_i, D)``."""
        log_probs = predict_log_probs(self.model, feats)
        if self._decoder is not None:
            paths: list[np.ndarray] = self._decoder.decode_paths(log_probs, progress=False)
            return paths
        return [smooth_path(lp, self.cfg.switch_penalty) for lp in log_probs]

    def boundaries(self, labels: np.ndarray) -> np.ndarray:
        bounds = np.ones(len(labels), dtype=bool)
        bounds[1:] = labels[1:] != labels[:-1]
        if self.cfg.min_frames > 1:
            from segmentation.kmeans_join import merge_short_runs

            bounds = merge_short_runs(bounds, self.cfg.min_frames)
        return bounds

    def __call__(self, feats: torch.Tensor, lens: torch.Tensor) -> Segmentation:
        arr = feats.detach().cpu().float().numpy()
        utts = [arr[b, : int(n)] for b, n in enumerate(lens.tolist())]
        per_utt = []
        for x, lab in zip(utts, self.labels(utts), strict=True):
            bounds = self.boundaries(lab)
            emb = normalise(x)
            if self.cfg.pca_dim:
                emb = self._project(emb)
            per_utt.append((bounds, pool_segments(emb, bounds)))
        self.out_dim = per_utt[0][1].shape[1]
        return batch_segmentation(per_utt, feats.shape[1])

    def _project(self, normed: np.ndarray) -> np.ndarray:
        if self.pca.mean is None or self.pca.proj is None:
            raise RuntimeError("aligned segmenter with pca_dim > 0 is not fitted: call fit() or load() first")
        return np.asarray((normed - self.pca.mean) @ self.pca.proj, dtype=np.float32)

    def save(self, path: Path) -> None:
        self.pca.save(path)

    def load(self, path: Path) -> None:
        self.pca.load(path)
