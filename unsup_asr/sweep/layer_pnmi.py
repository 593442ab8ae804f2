"""Layer diagnostic without GAN training: phone purity and PNMI of k-means clusters of a layer.

k-means is fitted on frames of the (unlabelled) training split; the frames of an evaluation split
that has gold phone alignments are assigned to clusters and scored against their gold frame labels
(:mod:`unsup_asr.metrics.pnmi`; silence frames left out). Labels are used only to *score*, never
to fit or to select anything: an analysis of a representation, not part of unsupervised training.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from unsup_asr.data.manifest import read_manifest
from unsup_asr.features.cache import FeatureSet
from unsup_asr.kmeans import assign, fit_kmeans, sample_frames
from unsup_asr.metrics.pnmi import score_clusters
from unsup_asr.stages.ceilings import frame_labels


def has_alignments(manifest: Path) -> bool:
    """True if every utterance of ``manifest`` has a gold phone alignment."""
    utts = read_manifest(manifest)
    return bool(utts) and all(u.alignment for u in utts)


def layer_quality(folder: Path, train: str, split: str, manifest: Path, clusters: int = 100,
                  max_frames: int = 100_000, seed: int = 0) -> dict[str, float]:
    """k-means (``clusters``) on at most ``max_frames`` frames of split ``train`` of the feature
    cache ``folder``; phone purity, cluster purity and PNMI of ``split``'s frames (whose manifest
    ``manifest`` must carry gold alignments) against their gold phones."""
    fit = FeatureSet(folder, train)
    sample = sample_frames([fit[i] for i in range(len(fit))], max_frames, np.random.default_rng(seed))
    centroids = fit_kmeans(sample, clusters, seed=seed)
    fs = FeatureSet(folder, split)
    utts = {u.id: u for u in read_manifest(manifest)}
    if not all(utts[u].alignment for u in fs.ids):
        raise ValueError(f"split {split!r} has utterances without gold phone alignments: pick one that has them")
    phones = sorted({p for u in utts.values() for _, _, p in u.alignment or []} | {"sil"})
    index = {p: i for i, p in enumerate(phones)}
    index["<SIL>"] = index["sil"]  # frame_labels fills unaligned frames with <SIL>
    labels, assigned = [], []
    for i, uid in enumerate(fs.ids):
        x = fs[i].astype(np.float32)
        assigned.append(assign(x, centroids))
        labels.append(frame_labels(utts[uid], len(x), fs.frame_shift_s, index))
    q = score_clusters(assigned, labels, clusters, len(phones), ignore_phone=index["sil"])
    return dataclasses.asdict(q)
