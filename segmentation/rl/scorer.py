"""Proposed boundaries -> transcription by the fixed current generator -> reward, for a batch.

The one place both the gymnasium environment (one utterance per step) and the batched training
loop get their rewards from, so the two agree by construction. Segment embeddings are pooled from
the projected frames with :meth:`FrameProjection.embed` (the starting segmenter's own pooling), the
generator runs once on the padded batch, and each output is Viterbi-decoded
(:func:`unsup_asr.decode.viterbi.decode_one`). No labels are involved.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from gan.data import pad_features
from gan.phone_model import PhoneModel
from segmentation.base import pool_segments
from segmentation.rl.config import RewardConfig
from segmentation.rl.reward import RewardTerms, SentenceLM, reward_terms, utterance_perplexity
from unsup_asr.decode.viterbi import decode_one


class RewardScorer:
    """Rewards of segmentations of a fixed set of utterances under a fixed generator and phone LM.

    Args:
        projected: per utterance, the projected frames ``(T_i, D')`` float32 (see
            :meth:`segmentation.rl.projection.FrameProjection.project`).
        pooling: how a segment's frames become its embedding (``mean`` or ``sample``).
        generator: the current generator (used in eval mode, never trained here).
        lm: the phone LM of the unpaired text (selection order).
        prev_hyps: per utterance, the previous iteration's transcription (phones, no silence).
        cfg: reward coefficients.
    """

    def __init__(
        self,
        projected: Sequence[np.ndarray],
        pooling: str,
        generator: PhoneModel,
        lm: SentenceLM,
        prev_hyps: Sequence[Sequence[str]],
        cfg: RewardConfig,
    ) -> None:
        if len(projected) != len(prev_hyps):
            raise ValueError(f"{len(projected)} utterances but {len(prev_hyps)} previous transcriptions")
        cfg.validate()
        self.projected = list(projected)
        self.pooling = pooling
        self.generator = generator.eval()
        self.lm = lm
        self.prev_hyps = [list(h) for h in prev_hyps]
        self.prev_ppl = utterance_perplexity(self.prev_hyps, lm)
        self.cfg = cfg

    def __len__(self) -> int:
        return len(self.projected)

    def embeddings(self, indices: Sequence[int], boundaries: np.ndarray) -> list[np.ndarray]:
        """Segment embeddings ``(S_b, D')`` of utterances ``indices`` for ``boundaries (B, >= T_b)`` bool."""
        out = []
        for b, i in enumerate(indices):
            frames = self.projected[i]
            if boundaries.shape[1] < len(frames):
                raise ValueError(f"boundaries cover {boundaries.shape[1]} frames but utterance {i} has {len(frames)}")
            out.append(pool_segments(frames, boundaries[b, : len(frames)], self.pooling))
        return out

    @torch.no_grad()
    def transcribe(self, indices: Sequence[int], boundaries: np.ndarray) -> list[list[str]]:
        """Viterbi transcriptions of utterances ``indices`` segmented by ``boundaries (B, >= T_b)`` bool."""
        embs = self.embeddings(indices, boundaries)
        device = next(self.generator.parameters()).device
        x, pad = pad_features(embs, device)
        log_probs = self.generator(x, pad).float().cpu().numpy()
        return [decode_one(log_probs[b, : len(e)], self.generator.vocab) for b, e in enumerate(embs)]

    def score(self, indices: Sequence[int], boundaries: np.ndarray | torch.Tensor) -> RewardTerms:
        """Reward terms of segmenting utterances ``indices`` (repeats allowed) at ``boundaries (B, T)`` bool."""
        bounds = boundaries.detach().cpu().numpy() if isinstance(boundaries, torch.Tensor) else np.asarray(boundaries)
        if bounds.ndim != 2 or bounds.shape[0] != len(indices):
            raise ValueError(f"boundaries must have shape (B={len(indices)}, T), got {bounds.shape}")
        hyps = self.transcribe(indices, bounds.astype(bool))
        prev = [self.prev_hyps[i] for i in indices]
        return reward_terms(hyps, prev, self.prev_ppl[list(indices)], self.lm, self.cfg)
