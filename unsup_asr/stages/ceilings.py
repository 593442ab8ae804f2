"""Supervised *diagnostic ceilings* (they use transcripts; never used for training or selection).

* ``same_segments``: a generator trained with labels on the segments the segmenter produced (each
  segment labelled with the majority gold phone of its frames) — what these segments allow at best.
* ``gold_segments``: a generator trained with labels on features mean-pooled within the *gold*
  phone segments — what the features allow with perfect segmentation.

Both are decoded with Viterbi on the test split and scored with PER, like the unsupervised model.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gan.config import GanConfig, GeneratorConfig
from gan.generator import predict_log_probs
from gan.supervised import train_supervised
from segmentation.base import pool_segments
from unsup_asr.data.manifest import Utterance
from unsup_asr.data.timemap import TimeMap
from unsup_asr.decode.viterbi import decode_one
from unsup_asr.metrics.edit import per

SIL = "<SIL>"
CEILING_GENERATOR = GanConfig(generator=GeneratorConfig(num_clusters=0))
"""Architecture and batching of both ceilings: a linear map of the layer-normalised segment
embeddings (the same for every learner, so ceilings compare across runs)."""


def frame_labels(utt: Utterance, num_frames: int, shift_s: float, index: dict[str, int]) -> np.ndarray:
    """Gold phone id of each frame ``(T,)`` (frame centre inside a phone segment; else silence).

    Frames are those of the featurized audio; with VAD regions (``utt.speech``) each frame centre is
    mapped to original time (:class:`~unsup_asr.data.timemap.TimeMap`), where the alignment lives."""
    if utt.alignment is None:
        raise ValueError(f"utterance {utt.id} has no phone alignment; ceilings need gold alignments")
    labels = np.full(num_frames, index[SIL], dtype=np.int64)
    centres = TimeMap.of(utt).to_original((np.arange(num_frames) + 0.5) * shift_s)
    for start, end, phone in utt.alignment:
        labels[(centres >= start) & (centres < end)] = index.get(phone, index[SIL])
    return labels


def segment_labels(labels: np.ndarray, boundaries: np.ndarray) -> np.ndarray:
    """Majority frame label per segment ``(S,)``."""
    starts = np.flatnonzero(boundaries)
    ends = np.append(starts[1:], labels.shape[0])
    return np.asarray([np.bincount(labels[s:e]).argmax() for s, e in zip(starts, ends, strict=True)], dtype=np.int64)


def gold_boundaries(labels: np.ndarray) -> np.ndarray:
    """Segment starts where the gold frame label changes ``(T,)`` bool."""
    b = np.ones(labels.shape[0], dtype=bool)
    b[1:] = labels[1:] != labels[:-1]
    return b


def supervised_per(
    cfg: GanConfig,
    vocab: list[str],
    train_feats: Sequence[np.ndarray],
    train_labels: Sequence[np.ndarray],
    test_feats: Sequence[np.ndarray],
    test_refs: Sequence[Sequence[str]],
    *,
    num_updates: int,
    seed: int,
    lr: float | None = None,
) -> float:
    """Train a generator with labels and return its Viterbi PER (a fraction) on the test set."""
    gen = train_supervised(
        cfg, list(train_feats), list(train_labels), vocab, num_updates=num_updates, seed=seed, lr=lr
    )
    hyps = [decode_one(lp, vocab) for lp in predict_log_probs(gen, list(test_feats))]
    return per(test_refs, hyps).rate


def pool_gold(feats: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Mean-pool ``feats (T, D)`` within gold segments -> ``(S, D)``."""
    return pool_segments(feats, gold_boundaries(labels))
